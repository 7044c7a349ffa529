import { test, expect, describe } from "bun:test";
import { createKeyService, isHandshakeSignInput } from "../../src/privsep/key-service.ts";
import { RemoteError, type Message } from "../../src/privsep/channel.ts";
import {
  decodeKeyInfo,
  decodePremaster,
  decodeSignature,
  encodeDecryptRequest,
  encodeKeyIndex,
  encodeSignRequest,
  MsgType,
} from "../../src/privsep/messages.ts";
import { ecPrivateKey, randomEcScalar, rsaPrivateKeyFromDer, generateRsaPkcs8 } from "../../src/crypto/keys.ts";
import { Writer } from "../../src/wire/writer.ts";

const enc = new TextEncoder();
const rsa = rsaPrivateKeyFromDer(generateRsaPkcs8(2048), "pkcs8");
const ec = ecPrivateKey("p256", randomEcScalar("p256"));
const service = createKeyService([ec, rsa]);
const msg = (type: number, body: Uint8Array, fd: number | null = null): Message => ({ type, body, fd });

function tls13Input(hashLen: number): Uint8Array {
  const m = new Uint8Array(64 + 33 + 1 + hashLen).fill(0x20);
  m.set(enc.encode("TLS 1.3, server CertificateVerify"), 64);
  m[97] = 0;
  return m;
}

function tls12Input(pointLen: number): Uint8Array {
  return new Writer().bytes(new Uint8Array(64).fill(7)).u8(3).u16(29).vec8(new Uint8Array(pointLen).fill(9)).finish();
}

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof RemoteError) return e.code;
    throw e;
  }
  return "answered";
}

describe("sign input guard", () => {
  test("accepts TLS 1.3 CertificateVerify contents with SHA-256/384/512 hashes", () => {
    for (const n of [32, 48, 64]) expect(isHandshakeSignInput(tls13Input(n))).toBe(true);
  });
  test("accepts a TLS 1.2 ECDHE ServerKeyExchange input", () => {
    expect(isHandshakeSignInput(tls12Input(32))).toBe(true);
    expect(isHandshakeSignInput(tls12Input(65))).toBe(true);
  });
  test("refuses the client context string, a wrong hash length, trailing bytes and arbitrary data", () => {
    const client = tls13Input(32);
    client.set(enc.encode("TLS 1.3, client CertificateVerify"), 64);
    expect(isHandshakeSignInput(client)).toBe(false);
    expect(isHandshakeSignInput(tls13Input(20))).toBe(false);
    const trailing = new Uint8Array(tls12Input(32).length + 1);
    trailing.set(tls12Input(32));
    expect(isHandshakeSignInput(trailing)).toBe(false);
    expect(isHandshakeSignInput(enc.encode("a certificate to sign"))).toBe(false);
  });
});

describe("key service", () => {
  test("describes a key with its public key and schemes", () => {
    const info = decodeKeyInfo(service.handle(msg(MsgType.KeyInfo, encodeKeyIndex(1))).body);
    expect(info.type).toBe("rsa");
    expect(info.canDecrypt).toBe(true);
    expect(info.spki).toEqual(rsa.publicKey.spki);
    expect(info.schemes).toEqual([...rsa.schemes]);
  });

  test("signs a handshake input with a valid signature", () => {
    const m = tls13Input(32);
    const sig = decodeSignature(service.handle(msg(MsgType.Sign, encodeSignRequest({ index: 1, scheme: "rsa_pss_rsae_sha256", message: m }))).body);
    expect(rsa.publicKey.verify("rsa_pss_rsae_sha256", m, sig)).toBe(true);
  });

  test("refuses unknown keys, schemes the key lacks, non-handshake data, descriptors and malformed bodies", () => {
    const m = tls13Input(32);
    expect(refusal(() => service.handle(msg(MsgType.Sign, encodeSignRequest({ index: 5, scheme: "rsa_pss_rsae_sha256", message: m }))))).toBe("no-such-key");
    expect(refusal(() => service.handle(msg(MsgType.Sign, encodeSignRequest({ index: 0, scheme: "rsa_pss_rsae_sha256", message: m }))))).toBe("bad-scheme");
    expect(refusal(() => service.handle(msg(MsgType.Sign, encodeSignRequest({ index: 1, scheme: "rsa_pss_rsae_sha256", message: enc.encode("x") }))))).toBe("refused");
    expect(refusal(() => service.handle(msg(MsgType.KeyInfo, encodeKeyIndex(0), 0)))).toBe("bad-request");
    expect(refusal(() => service.handle(msg(MsgType.KeyInfo, new Uint8Array([0, 0, 0]))))).toBe("bad-request");
    expect(refusal(() => service.handle(msg(MsgType.Sign, new Uint8Array([0, 0, 3, 0x66, 0x6f, 0x6f]))))).toBe("bad-request");
    expect(refusal(() => service.handle(msg(77, new Uint8Array(0))))).toBe("unsupported");
    expect(refusal(() => service.handle(msg(MsgType.DecryptPremaster, encodeDecryptRequest({ index: 0, ciphertext: new Uint8Array(256) }))))).toBe("bad-key");
  });

  test("decrypts a valid premaster", () => {
    const pre = new Uint8Array(48).fill(0x42);
    pre[0] = 3;
    pre[1] = 3;
    const ct = rsa.publicKey.encryptPkcs1!(pre);
    const got = decodePremaster(service.handle(msg(MsgType.DecryptPremaster, encodeDecryptRequest({ index: 1, ciphertext: ct }))).body);
    expect(got).toEqual(pre);
  });

  test("answers a bad ciphertext with 48 bytes that are the same every time (no padding oracle)", () => {
    const bad = new Uint8Array(256).fill(0x55);
    const ask = () => decodePremaster(service.handle(msg(MsgType.DecryptPremaster, encodeDecryptRequest({ index: 1, ciphertext: bad }))).body);
    const a = ask();
    expect(a.length).toBe(48);
    expect(ask()).toEqual(a);
    const wrongLength = rsa.publicKey.encryptPkcs1!(new Uint8Array(20).fill(1));
    const b = decodePremaster(service.handle(msg(MsgType.DecryptPremaster, encodeDecryptRequest({ index: 1, ciphertext: wrongLength }))).body);
    expect(b.length).toBe(48);
    expect(b).not.toEqual(a);
  });
});

describe("RemotePrivateKey over a channel", () => {
  test("signAsync and decryptAsync reach the key service and give the key's results", async () => {
    const { Channel } = await import("../../src/privsep/channel.ts");
    const { socketPair } = await import("../../src/privsep/libc.ts");
    const { RemotePrivateKey } = await import("../../src/privsep/remote-key.ts");
    const [d0, d1] = socketPair("stream");
    const main = await Channel.open({ dataFd: d0, fdSocket: null, onRequest: service.handle });
    const worker = await Channel.open({ dataFd: d1, fdSocket: null });
    const key = await RemotePrivateKey.fetchAsync(1, { sync: null, async: worker });
    expect(key.type).toBe("rsa");
    expect(key.publicKey.spki).toEqual(rsa.publicKey.spki);
    const m = tls12Input(32);
    const sig = await key.signAsync("rsa_pkcs1_sha256", m);
    expect(rsa.publicKey.verify("rsa_pkcs1_sha256", m, sig)).toBe(true);
    const pre = new Uint8Array(48).fill(3);
    expect(await key.decryptAsync(rsa.publicKey.encryptPkcs1!(pre))).toEqual(pre);
    await expect(key.signAsync("rsa_pkcs1_sha256", enc.encode("x"))).rejects.toThrow("refused");
    // the synchronous methods need the blocking transport, which this key was not given
    expect(() => key.sign("rsa_pkcs1_sha256", m)).toThrow("synchronous");
    main.close();
    worker.close();
  });
});
