// RFC 8448 §3 "Simple 1-RTT Handshake": key schedule values, the server's ServerHello and Certificate
// byte for byte (with the trace's randomness, x25519 key and RSA key injected), its encrypted flight
// opened with the trace's handshake keys, and application-data records sealed byte for byte.

import { describe, expect, test } from "bun:test";
import { createPrivateKey } from "node:crypto";
import { x25519 } from "@noble/curves/ed25519.js";
import { createAead, createHash, hash, rsaPrivateKeyFromDer } from "../../src/crypto/index.ts";
import type { KeyShare } from "../../src/crypto/types.ts";
import { fromHex, toHex } from "../../src/wire/writer.ts";
import { EarlySecret, finishedVerifyData, trafficKeys, HandshakeSecret } from "../../src/tls/keyschedule.ts";
import { HandshakeJoiner, RecordDeframer } from "../../src/tls/deframer.ts";
import { OutputBuffer, Tls13Protection } from "../../src/tls/record.ts";
import { ContentType, HandshakeType, decodeCertificateVerify, handshakeMessage } from "../../src/tls/codec.ts";
import { TlsServerConnection, parsePriorities } from "../../src/tls/index.ts";
import { parseCertificate } from "../../src/x509/certificate.ts";

const h = fromHex;
const CH = h("010000c00303cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7000006130113031302010000910000000b0009000006736572766572ff01000100000a00140012001d0017001800190100010101020103010400230000003300260024001d002099381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e529aaf2c002b0003020304000d0020001e040305030603020308040805080604010501060102010402050206020202002d00020101001c00024001");
const SH = h("020000560303a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e2692800130100002e00330024001d0020c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f002b00020304");
const EE = h("080000240022000a00140012001d00170018001901000101010201030104001c0002400100000000");
const CERT = h("0b0001b9000001b50001b0308201ac30820115a003020102020102300d06092a864886f70d01010b0500300e310c300a06035504031303727361301e170d3136303733303031323335395a170d3236303733303031323335395a300e310c300a0603550403130372736130819f300d06092a864886f70d010101050003818d0030818902818100b4bb498f8279303d980836399b36c6988c0c68de55e1bdb826d3901a2461eafd2de49a91d015abbc9a95137ace6c1af19eaa6af98c7ced43120998e187a80ee0ccb0524b1b018c3e0b63264d449a6d38e22a5fda430846748030530ef0461c8ca9d9efbfae8ea6d1d03e2bd193eff0ab9a8002c47428a6d35a8d88d79f7f1e3f0203010001a31a301830090603551d1304023000300b0603551d0f0404030205a0300d06092a864886f70d01010b05000381810085aad2a0e5b9276b908c65f73a7267170618a54c5f8a7b337d2df7a594365417f2eae8f8a58c8f8172f9319cf36b7fd6c55b80f21a03015156726096fd335e5e67f2dbf102702e608ccae6bec1fc63a42a99be5c3eb7107c3c54e9b9eb2bd5203b1c3b84e0a8b2f759409ba3eac9d91d402dcc0cc8f8961229ac9187b42b4de10000");
const CV = h("0f000084080400805a747c5d88fa9bd2e55ab085a61015b7211f824cd484145ab3ff52f1fda8477b0b7abc90db78e2d33a5c141a078653fa6bef780c5ea248eeaaa785c4f394cab6d30bbe8d4859ee511f602957b15411ac027671459e46445c9ea58c181e818e95b8c3fb0bf3278409d3be152a3da5043e063dda65cdf5aea20d53dfacd42f74f3");
const SFIN = h("140000209b9b141d906337fbd2cbdce71df4deda4ab42c309572cb7fffee5454b78f0718");
const CLIENT_PRIV = h("49af42ba7f7994852d713ef2784bcbcaa7911de26adc5642cb634540e7ea5005");
const SERVER_PRIV = h("b1580eeadf6dd589b8ef4f2d5652578cc810e9980191ec8d058308cea216a21e");
const SERVER_PUB = h("c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f");
const SERVER_RANDOM = h("a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e26928");

// RFC 8448 §2: the server's RSA key (n, e, d, p); q and the CRT values follow from them.
const N = "b4bb498f8279303d980836399b36c6988c0c68de55e1bdb826d3901a2461eafd2de49a91d015abbc9a95137ace6c1af19eaa6af98c7ced43120998e187a80ee0ccb0524b1b018c3e0b63264d449a6d38e22a5fda430846748030530ef0461c8ca9d9efbfae8ea6d1d03e2bd193eff0ab9a8002c47428a6d35a8d88d79f7f1e3f";
const D = "04dea705d43a6ea7209dd8072111a83c81e322a59278b33480641eaf7c0a6985b8e31c44f6de62e1b4c2309f6126e77b7c41e923314bbfa3881305dc1217f16c819ce538e922f369828d0e57195d8c8488460207b2faa726bcf708bbd7db7f679f893492fc2a622e08970aac441ce4e0c3088df25ae679233df8a3bda2ff9941";
const P = "e435fb7cc83737756dacea96ab7f59a2cc1069db7deb190e17e33a532b273f30a327aa0aaabc58cd67466af9845fadc675fe094af92c4bd1f2c1bc33dd2e0515";

function rfcRsaKey() {
  const n = BigInt("0x" + N), d = BigInt("0x" + D), p = BigInt("0x" + P);
  const q = n / p;
  expect(p * q).toBe(n);
  const modInv = (a: bigint, m: bigint): bigint => {
    let [r0, r1, s0, s1] = [a % m, m, 1n, 0n];
    while (r1 !== 0n) {
      const t = r0 / r1;
      [r0, r1] = [r1, r0 - t * r1];
      [s0, s1] = [s1, s0 - t * s1];
    }
    return ((s0 % m) + m) % m;
  };
  const b64 = (v: bigint): string => {
    let hex = v.toString(16);
    if (hex.length % 2) hex = "0" + hex;
    return Buffer.from(hex, "hex").toString("base64url");
  };
  const jwk = { kty: "RSA", n: b64(n), e: "AQAB", d: b64(d), p: b64(p), q: b64(q), dp: b64(d % (p - 1n)), dq: b64(d % (q - 1n)), qi: b64(modInv(q, p)) };
  const der = createPrivateKey({ key: jwk, format: "jwk" }).export({ type: "pkcs8", format: "der" });
  return rsaPrivateKeyFromDer(new Uint8Array(der), "pkcs8");
}

function fixedShare(priv: Uint8Array): KeyShare {
  return { group: "x25519", publicKey: x25519.getPublicKey(priv), computeSecret: (peer) => x25519.getSharedSecret(priv, peer) };
}

describe("RFC 8448 simple 1-RTT handshake", () => {
  test("reproduces the key schedule of the trace", () => {
    const early = EarlySecret.withoutPsk("sha256");
    expect(toHex(early.value)).toBe("33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a");
    const shared = fixedShare(SERVER_PRIV).computeSecret(fixedShare(CLIENT_PRIV).publicKey);
    expect(toHex(shared)).toBe("8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d");
    const hs: HandshakeSecret = early.intoHandshake(shared);
    expect(toHex(hs.value)).toBe("1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac");
    const t = createHash("sha256").update(CH).update(SH);
    const helloHash = t.clone().digest();
    const cHs = hs.clientTrafficSecret(helloHash);
    const sHs = hs.serverTrafficSecret(helloHash);
    expect(toHex(cHs)).toBe("b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21");
    expect(toHex(sHs)).toBe("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38");
    const master = hs.intoMaster();
    expect(toHex(master.value)).toBe("18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919");
    const sk = trafficKeys("sha256", sHs, 16);
    expect(toHex(sk.key)).toBe("3fce516009c21727d0f2e4e86ee403bc");
    expect(toHex(sk.iv)).toBe("5d313eb2671276ee13000b30");
    const ck = trafficKeys("sha256", cHs, 16);
    expect(toHex(ck.key)).toBe("dbfaa693d1762c5b666af5d950258d01");
    expect(toHex(ck.iv)).toBe("5bd3c71b836e0b76bb73265f");
    t.update(EE).update(CERT).update(CV);
    expect(toHex(finishedVerifyData("sha256", sHs, t.clone().digest()))).toBe(toHex(SFIN.subarray(4)));
    t.update(SFIN);
    const fh = t.clone().digest();
    expect(toHex(master.clientTrafficSecret(fh))).toBe("9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5");
    expect(toHex(master.serverTrafficSecret(fh))).toBe("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643");
    expect(toHex(master.exporter(fh).value)).toBe("fe22f881176eda18eb8f44529e6792c50c9a3f89452f68d8ae311b4309d3cf50");
    const ak = trafficKeys("sha256", master.serverTrafficSecret(fh), 16);
    expect(toHex(ak.key)).toBe("9f02283b6c9c07efc26bb9f2ac92e356");
    expect(toHex(ak.iv)).toBe("cf782b88dd83549aadf1e984");
  });

  test("seals the trace's server application data and alert records byte for byte", () => {
    const ak = trafficKeys("sha256", h("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643"), 16);
    const prot = new Tls13Protection(createAead("aes-128-gcm", ak.key), ak.iv);
    const out = new OutputBuffer();
    const seal = (type: number, pt: Uint8Array): Uint8Array => {
      const { buf, offset } = out.reserve(prot.maxRecordSize(pt.length));
      out.commit(prot.seal(type, pt, buf, offset));
      return out.take()!;
    };
    seal(ContentType.handshake, new Uint8Array(205)); // the NewSessionTicket record takes sequence 0
    const data = Uint8Array.from({ length: 50 }, (_, i) => i);
    expect(toHex(seal(ContentType.application_data, data))).toBe(
      "1703030043" +
        "2e937e11ef4ac740e538ad36005fc4a46932fc3225d05f82aa1b36e30efaf97d90e6dffc602dcb501a59a8fcc49c4bf2e5f0a21c0047c2abf332540dd032e167c2955d",
    );
    expect(toHex(seal(ContentType.alert, Uint8Array.of(1, 0)))).toBe("1703030013b58fd67166ebf599d24720cfbe7efa7a8864a9");
  });

  test("produces the trace's ServerHello and Certificate and completes with the trace's keys", () => {
    const key = rfcRsaKey();
    const certDer = CERT.subarray(4 + 1 + 3 + 3, 4 + 1 + 3 + 3 + 0x1b0);
    const p = parsePriorities("NORMAL");
    if (!p.ok) throw new Error(p.error);
    const server = new TlsServerConnection({
      credentials: [{ chain: [certDer], key }],
      policy: p.policy,
      clientAuth: "none",
      random: (n) => (n === 32 ? SERVER_RANDOM.slice() : new Uint8Array(n)),
      generateKeyShare: () => fixedShare(SERVER_PRIV),
    });
    const chRecord = new Uint8Array([22, 3, 1, CH.length >> 8, CH.length & 0xff, ...CH]);
    server.receive(chRecord);
    const out = server.takeOutgoing()!;
    const d = new RecordDeframer();
    d.push(out);
    const first = d.next()!;
    expect(first.type).toBe(ContentType.handshake);
    expect(toHex(first.fragment)).toBe(toHex(SH));
    expect(fixedShare(SERVER_PRIV).publicKey).toEqual(SERVER_PUB);

    // the rest is protected with the trace's server handshake keys
    const sk = trafficKeys("sha256", h("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38"), 16);
    const open = new Tls13Protection(createAead("aes-128-gcm", sk.key), sk.iv);
    const joiner = new HandshakeJoiner();
    const msgs = [];
    for (let r = d.next(); r !== null; r = d.next()) msgs.push(...joiner.push(open.open(r.type, r.version, r.fragment).plaintext));
    expect(msgs.map((m) => m.type)).toEqual([
      HandshakeType.encrypted_extensions,
      HandshakeType.certificate,
      HandshakeType.certificate_verify,
      HandshakeType.finished,
    ]);
    expect(toHex(msgs[1]!.raw)).toBe(toHex(CERT));
    const t = createHash("sha256").update(CH).update(SH).update(msgs[0]!.raw).update(msgs[1]!.raw);
    const cv = decodeCertificateVerify(msgs[2]!.body);
    expect(cv.scheme).toBe(0x0804);
    const signed = new Uint8Array([...new Uint8Array(64).fill(0x20), ...new TextEncoder().encode("TLS 1.3, server CertificateVerify\0"), ...t.clone().digest()]);
    expect(parseCertificate(certDer).publicKey.verify("rsa_pss_rsae_sha256", signed, cv.signature)).toBe(true);
    t.update(msgs[2]!.raw);
    const sHs = h("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38");
    expect(msgs[3]!.body).toEqual(finishedVerifyData("sha256", sHs, t.clone().digest()));
    t.update(msgs[3]!.raw);

    // client Finished with the trace's client handshake secret
    const cHs = h("b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21");
    const ck = trafficKeys("sha256", cHs, 16);
    const seal = new Tls13Protection(createAead("aes-128-gcm", ck.key), ck.iv);
    const fin = handshakeMessage(HandshakeType.finished, finishedVerifyData("sha256", cHs, t.clone().digest()));
    const ob = new OutputBuffer();
    const { buf, offset } = ob.reserve(seal.maxRecordSize(fin.length));
    ob.commit(seal.seal(ContentType.handshake, fin, buf, offset));
    server.receive(ob.take()!);
    expect(server.error).toBeNull();
    expect(server.state).toBe("established");
    expect(server.info?.cipherSuite).toBe("TLS_AES_128_GCM_SHA256");
    expect(server.info?.sni).toBe("server");
    expect(hash("sha256", new Uint8Array(0)).length).toBe(32);
  });
});
