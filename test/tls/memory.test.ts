import { describe, expect, test } from "bun:test";
import { generateKey } from "../../src/x509/keys.ts";
import { TlsServerConnection, parsePriorities, type TlsServerConfig } from "../../src/tls/index.ts";
import { ContentType, ExtensionType, HandshakeType, HRR_RANDOM, handshakeMessage } from "../../src/tls/codec.ts";
import { AlertDescription } from "../../src/tls/errors.ts";
import { TestClient13, plainRecord } from "./client13.ts";
import { Writer } from "../../src/wire/writer.ts";

const key = generateKey("ecdsa-p256").key;
function config(over: Partial<TlsServerConfig> = {}, prio = "NORMAL"): TlsServerConfig {
  const p = parsePriorities(prio);
  if (!p.ok) throw new Error(p.error);
  // The test client does not check the certificate, so any non-empty DER-ish blob will do.
  return { credentials: [{ chain: [Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01)], key }], policy: p.policy, clientAuth: "none", ...over };
}

function handshake(c: TestClient13): void {
  c.server.receive(c.clientHello());
  c.pump();
  c.server.receive(c.finished());
  c.pump();
}

/** Feeds `bytes` and returns the alerts the server sent in response, asserting nothing else was sent. */
function onlyAlert(c: TestClient13, bytes: Uint8Array): number[] {
  const before = c.received.handshake.length;
  c.server.receive(bytes);
  c.pump();
  expect(c.received.handshake.length).toBe(before);
  expect(c.received.appData.length).toBe(0);
  expect(c.server.state).toBe("closed");
  return c.received.alerts.map((a) => a.description);
}

describe("TLS 1.3 in memory", () => {
  test("completes a handshake and carries application data both ways", () => {
    const c = new TestClient13(new TlsServerConnection(config()));
    handshake(c);
    expect(c.received.handshake).toEqual([
      HandshakeType.server_hello,
      HandshakeType.encrypted_extensions,
      HandshakeType.certificate,
      HandshakeType.certificate_verify,
      HandshakeType.finished,
    ]);
    expect(c.server.state).toBe("established");
    expect(c.server.info?.cipherSuite).toBe("TLS_AES_128_GCM_SHA256");
    expect(c.server.info?.group).toBe("x25519");
    c.server.receive(c.seal(ContentType.application_data, new TextEncoder().encode("ping")));
    expect(new TextDecoder().decode(c.server.readApplicationData()!)).toBe("ping");
    c.server.write(new TextEncoder().encode("pong"));
    c.pump();
    expect(new TextDecoder().decode(c.received.appData[0]!)).toBe("pong");
  });

  test("accepts bytes in one-byte chunks", () => {
    const c = new TestClient13(new TlsServerConnection(config()));
    for (const b of c.clientHello()) c.server.receive(Uint8Array.of(b));
    c.pump();
    for (const b of c.finished()) c.server.receive(Uint8Array.of(b));
    expect(c.server.state).toBe("established");
  });

  test("derives the same exporter value as the client", () => {
    const c = new TestClient13(new TlsServerConnection(config()));
    c.server.receive(c.clientHello());
    c.pump();
    const exporter = c.master!.exporter(c.transcript.clone().digest());
    c.server.receive(c.finished());
    const a = c.server.exportKeyingMaterial("EXPORTER-openconnect-psk", null, 32);
    expect(a).toEqual(exporter.export("EXPORTER-openconnect-psk", null, 32));
    expect(a).not.toEqual(c.server.exportKeyingMaterial("EXPORTER-other", null, 32));
  });

  test("answers a flipped bit in the client Finished record with bad_record_mac and nothing else", () => {
    const c = new TestClient13(new TlsServerConnection(config()));
    c.server.receive(c.clientHello());
    c.pump();
    const fin = c.finished();
    fin[fin.length - 3]! ^= 0x01;
    expect(onlyAlert(c, fin)).toEqual([AlertDescription.bad_record_mac]);
    expect(c.server.error?.code).toBe("bad-record-mac");
  });

  test("answers a wrong Finished verify_data with decrypt_error", () => {
    const c = new TestClient13(new TlsServerConnection(config()));
    c.server.receive(c.clientHello());
    c.pump();
    expect(onlyAlert(c, c.finished((vd) => (vd[0]! ^= 1)))).toEqual([AlertDescription.decrypt_error]);
    expect(c.server.error?.code).toBe("incorrect-finished");
  });

  test("rejects a Finished with a trailing byte with decode_error", () => {
    const c = new TestClient13(new TlsServerConnection(config()));
    c.server.receive(c.clientHello());
    c.pump();
    const vd = new Uint8Array(33);
    expect(onlyAlert(c, c.handshakeSealed(handshakeMessage(HandshakeType.finished, vd)))).toEqual([AlertDescription.decode_error]);
  });

  test("rejects a KeyUpdate with a trailing byte with decode_error", () => {
    const c = new TestClient13(new TlsServerConnection(config()));
    handshake(c);
    const ku = handshakeMessage(HandshakeType.key_update, Uint8Array.of(0, 0));
    expect(onlyAlert(c, c.seal(ContentType.handshake, ku))).toEqual([AlertDescription.decode_error]);
  });

  test("rejects a ClientHello with trailing bytes with decode_error", () => {
    const c = new TestClient13(new TlsServerConnection(config()), { trailing: Uint8Array.of(0) });
    expect(onlyAlert(c, c.clientHello())).toEqual([AlertDescription.decode_error]);
  });

  test("rejects a record longer than 2^14+2048 with record_overflow before it arrives completely", () => {
    const c = new TestClient13(new TlsServerConnection(config()));
    expect(onlyAlert(c, Uint8Array.of(22, 3, 3, 0x48, 0x01))).toEqual([AlertDescription.record_overflow]);
  });

  test("rejects a plaintext handshake record longer than 2^14 with record_overflow", () => {
    const c = new TestClient13(new TlsServerConnection(config()));
    const rec = new Uint8Array(5 + 16385);
    rec.set([22, 3, 3, 0x40, 0x01]);
    expect(onlyAlert(c, rec)).toEqual([AlertDescription.record_overflow]);
  });

  test("rejects a protected record shorter than the AEAD tag with bad_record_mac", () => {
    const c = new TestClient13(new TlsServerConnection(config()));
    c.server.receive(c.clientHello());
    c.pump();
    expect(onlyAlert(c, Uint8Array.of(23, 3, 3, 0, 4, 1, 2, 3, 4))).toEqual([AlertDescription.bad_record_mac]);
  });

  test("rejects application data before the handshake with unexpected_message", () => {
    const c = new TestClient13(new TlsServerConnection(config()));
    expect(onlyAlert(c, Uint8Array.of(23, 3, 3, 0, 1, 0))).toEqual([AlertDescription.unexpected_message]);
  });

  test("rejects a Finished sent in place of the ClientHello with unexpected_message", () => {
    const c = new TestClient13(new TlsServerConnection(config()));
    const fin = handshakeMessage(HandshakeType.finished, new Uint8Array(32));
    expect(onlyAlert(c, plainRecord(ContentType.handshake, fin))).toEqual([AlertDescription.unexpected_message]);
  });

  test("rejects an alert record interleaved with a partial handshake message", () => {
    const c = new TestClient13(new TlsServerConnection(config()));
    const ch = c.clientHello();
    const partial = ch.subarray(5, 20);
    const rec = plainRecord(ContentType.handshake, partial);
    expect(onlyAlert(c, new Uint8Array([...rec, 21, 3, 3, 0, 2, 1, 0]))).toEqual([AlertDescription.unexpected_message]);
  });

  test("rejects a ClientHello after the handshake with unexpected_message", () => {
    const c = new TestClient13(new TlsServerConnection(config()));
    handshake(c);
    const again = new TestClient13(c.server).clientHello().subarray(5);
    expect(onlyAlert(c, c.seal(ContentType.handshake, again))).toEqual([AlertDescription.unexpected_message]);
  });

  test("answers a ClientHello without key_share with missing_extension", () => {
    const c = new TestClient13(new TlsServerConnection(config()));
    const ch = c.clientHello();
    // rename the key_share extension (0x0033) to an unknown one
    const idx = Buffer.from(ch).indexOf(Buffer.from([0x00, 0x33, 0x00, 0x26]));
    ch[idx + 1] = 0x99;
    expect(onlyAlert(c, ch)).toEqual([AlertDescription.missing_extension]);
  });

  test("answers a client that offers only TLS 1.1 with protocol_version", () => {
    const c = new TestClient13(new TlsServerConnection(config()), { versions: [0x0302] });
    expect(onlyAlert(c, c.clientHello())).toEqual([AlertDescription.protocol_version]);
  });

  test("answers a client with no common cipher suite with handshake_failure", () => {
    const c = new TestClient13(new TlsServerConnection(config()), { suites: [0x1303] });
    expect(onlyAlert(c, c.clientHello())).toEqual([AlertDescription.handshake_failure]);
  });

  test("sends a HelloRetryRequest when the client's share is for a group we do not allow", () => {
    const c = new TestClient13(new TlsServerConnection(config({}, "NORMAL:-GROUP-ALL:+GROUP-X25519")), {
      shareGroup: "secp256r1",
      groups: [0x0017, 0x001d],
    });
    c.server.receive(c.clientHello());
    const out = c.server.takeOutgoing()!;
    expect(out[0]).toBe(ContentType.handshake);
    expect(out[5]).toBe(HandshakeType.server_hello);
    expect(out.subarray(11, 43)).toEqual(HRR_RANDOM);
    expect(c.server.state).toBe("handshaking");
  });

  test("sends the compatibility CCS after ServerHello only when the client sent a session id", () => {
    const a = new TestClient13(new TlsServerConnection(config()));
    handshake(a);
    expect(a.received.ccs).toBe(0);
    const b = new TestClient13(new TlsServerConnection(config()), { sessionId: new Uint8Array(32).fill(7) });
    handshake(b);
    expect(b.received.ccs).toBe(1);
    expect(b.server.state).toBe("established");
  });

  test("ignores the client's compatibility CCS during the handshake", () => {
    const c = new TestClient13(new TlsServerConnection(config()), { sessionId: new Uint8Array(32).fill(1) });
    c.server.receive(c.clientHello());
    c.pump();
    c.server.receive(Uint8Array.of(20, 3, 3, 0, 1, 1));
    c.server.receive(c.finished());
    expect(c.server.state).toBe("established");
  });

  test("updates its read keys on a client KeyUpdate and answers update_requested with its own", () => {
    const c = new TestClient13(new TlsServerConnection(config()));
    handshake(c);
    c.server.receive(c.seal(ContentType.handshake, handshakeMessage(HandshakeType.key_update, Uint8Array.of(1))));
    c.clientApp = (await_next(c.clientApp!));
    c.write = c.prot(c.clientApp);
    c.pump();
    expect(c.received.handshake.at(-1)).toBe(HandshakeType.key_update);
    c.server.receive(c.seal(ContentType.application_data, Uint8Array.of(42)));
    expect(c.server.readApplicationData()).toEqual(Uint8Array.of(42));
    c.server.write(Uint8Array.of(43));
    c.pump();
    expect(c.received.appData.at(-1)).toEqual(Uint8Array.of(43));
  });

  test("rotates its write keys on a server-initiated KeyUpdate", () => {
    const c = new TestClient13(new TlsServerConnection(config()));
    handshake(c);
    c.server.keyUpdate(false);
    c.server.write(Uint8Array.of(5));
    c.pump();
    expect(c.received.handshake.at(-1)).toBe(HandshakeType.key_update);
    expect(c.received.appData.at(-1)).toEqual(Uint8Array.of(5));
  });

  test("tolerates a few empty records but ends an endless run of them with unexpected_message", () => {
    const c = new TestClient13(new TlsServerConnection(config()));
    handshake(c);
    for (let i = 0; i < 10; i++) c.server.receive(c.seal(ContentType.application_data, new Uint8Array(0)));
    c.server.receive(c.seal(ContentType.application_data, Uint8Array.of(1)));
    expect(c.server.readApplicationData()).toEqual(Uint8Array.of(1));
    const flood = [];
    for (let i = 0; i < 40; i++) flood.push(...c.seal(ContentType.application_data, new Uint8Array(0)));
    expect(onlyAlert(c, Uint8Array.from(flood))).toEqual([AlertDescription.unexpected_message]);
  });

  test("fatalAlert sends a fatal access_denied and closes, as ocserv does after a failed login", () => {
    const c = new TestClient13(new TlsServerConnection(config()));
    handshake(c);
    c.server.fatalAlert("access_denied");
    c.pump();
    expect(c.received.alerts).toEqual([{ level: 2, description: AlertDescription.access_denied }]);
    expect(c.server.state).toBe("closed");
    expect(c.server.error?.code).toBe("access-denied");
    expect(() => c.server.write(Uint8Array.of(1))).toThrow();
  });

  test("answers close_notify with close_notify", () => {
    const c = new TestClient13(new TlsServerConnection(config()));
    handshake(c);
    c.server.receive(c.seal(ContentType.alert, Uint8Array.of(1, 0)));
    c.pump();
    expect(c.received.alerts).toEqual([{ level: 1, description: 0 }]);
    expect(c.server.state).toBe("closed");
    expect(c.server.error).toBeNull();
    // the DTLS PSK can still be derived after the TLS channel closed
    expect(c.server.exportKeyingMaterial("EXPORTER-openconnect-psk", null, 32).length).toBe(32);
  });

  test("treats a fatal alert from the client as the end, sending nothing back", () => {
    for (const plain of [true, false]) {
      const c = new TestClient13(new TlsServerConnection(config()));
      c.server.receive(c.clientHello());
      c.pump();
      const alert = Uint8Array.of(2, AlertDescription.bad_certificate);
      c.server.receive(plain ? plainRecord(ContentType.alert, alert) : c.handshakeSealed(alert, ContentType.alert));
      expect(c.server.takeOutgoing()).toBeNull();
      expect(c.server.state).toBe("closed");
      expect(c.server.error?.code).toBe("peer-alert");
    }
  });

  test("honours the client's record_size_limit when writing", () => {
    const limit = new Writer(2).u16(1000).finish();
    const c = new TestClient13(new TlsServerConnection(config()), { extraExtensions: [{ type: ExtensionType.record_size_limit, data: limit }] });
    handshake(c);
    c.server.write(new Uint8Array(5000));
    c.pump();
    expect(c.received.appData.length).toBe(6);
    expect(Math.max(...c.received.appData.map((d) => d.length))).toBeLessThanOrEqual(999);
    expect(c.received.appData.reduce((n, d) => n + d.length, 0)).toBe(5000);
  });

  test("refuses client certificate requirement when the client sends an empty Certificate", () => {
    const c = new TestClient13(new TlsServerConnection(config({ clientAuth: "require" })));
    c.server.receive(c.clientHello());
    c.pump();
    expect(c.received.handshake).toContain(HandshakeType.certificate_request);
    const empty = handshakeMessage(HandshakeType.certificate, Uint8Array.of(0, 0, 0, 0));
    expect(onlyAlert(c, c.handshakeSealed(empty))).toEqual([AlertDescription.certificate_required]);
  });
});

import { nextTrafficSecret } from "../../src/tls/keyschedule.ts";
function await_next(s: Uint8Array): Uint8Array {
  return nextTrafficSecret("sha256", s);
}

function serverNameExt(name: string) {
  const n = new TextEncoder().encode(name);
  return { type: ExtensionType.server_name, data: new Writer(64).lengthPrefixed(2, (w) => w.u8(0).vec16(n)).finish() };
}

describe("virtual hosts and TLS 1.2 in memory", () => {
  test("applies the selectBySni overrides for the client's server name", () => {
    const seen: (string | null)[] = [];
    const cfg = config({
      selectBySni: (sni) => {
        seen.push(sni);
        return sni === "secure.example" ? { clientAuth: "require" } : null;
      },
    });
    const a = new TestClient13(new TlsServerConnection(cfg), { extraExtensions: [serverNameExt("secure.example")] });
    a.server.receive(a.clientHello());
    a.pump();
    expect(a.received.handshake).toContain(HandshakeType.certificate_request);
    const b = new TestClient13(new TlsServerConnection(cfg), { extraExtensions: [serverNameExt("www.example")] });
    handshake(b);
    expect(b.received.handshake).not.toContain(HandshakeType.certificate_request);
    expect(b.server.info?.sni).toBe("www.example");
    expect(seen).toEqual(["secure.example", "www.example"]);
  });

  test("sets the RFC 8446 downgrade sentinel when it answers a TLS 1.2-only client while TLS 1.3 is enabled", () => {
    const c = new TestClient13(new TlsServerConnection(config()), { versions: [0x0303], suites: [0xc02b] });
    c.server.receive(c.clientHello());
    const out = c.server.takeOutgoing()!;
    expect(out[5]).toBe(HandshakeType.server_hello);
    expect(Buffer.from(out.subarray(11 + 24, 11 + 32)).toString("latin1")).toBe("DOWNGRD\x01");
    const d = new TestClient13(new TlsServerConnection(config({}, "NORMAL:-VERS-TLS1.3")), { versions: [0x0303], suites: [0xc02b] });
    d.server.receive(d.clientHello());
    expect(Buffer.from(d.server.takeOutgoing()!.subarray(11 + 24, 11 + 32)).toString("latin1")).not.toBe("DOWNGRD\x01");
  });

  test("answers a non-empty renegotiation_info on an initial TLS 1.2 handshake with handshake_failure", () => {
    const c = new TestClient13(new TlsServerConnection(config()), {
      versions: [0x0303],
      suites: [0xc02b],
      extraExtensions: [{ type: ExtensionType.renegotiation_info, data: Uint8Array.of(1, 0) }],
    });
    expect(onlyAlert(c, c.clientHello())).toEqual([AlertDescription.handshake_failure]);
    expect(c.server.error?.code).toBe("insecure-renegotiation");
  });

  test("answers TLS_FALLBACK_SCSV in a TLS 1.2 ClientHello with inappropriate_fallback when TLS 1.3 is enabled", () => {
    const c = new TestClient13(new TlsServerConnection(config()), { versions: [0x0303], suites: [0xc02b, 0x5600] });
    expect(onlyAlert(c, c.clientHello())).toEqual([AlertDescription.inappropriate_fallback]);
    const d = new TestClient13(new TlsServerConnection(config({}, "NORMAL:-VERS-TLS1.3")), { versions: [0x0303], suites: [0xc02b, 0x5600] });
    d.server.receive(d.clientHello());
    expect(d.server.error).toBeNull();
  });

  test("answers a TLS 1.2 client whose only suite needs an RSA key with handshake_failure when we hold ECDSA", () => {
    const c = new TestClient13(new TlsServerConnection(config()), { versions: [0x0303], suites: [0x009c] });
    expect(onlyAlert(c, c.clientHello())).toEqual([AlertDescription.handshake_failure]);
    expect(c.server.error?.code).toBe("no-common-cipher-suite");
  });

  test("answers a TLS 1.2 Finished sent before ChangeCipherSpec with unexpected_message", () => {
    const c = new TestClient13(new TlsServerConnection(config()), { versions: [0x0303], suites: [0xc02b] });
    c.server.receive(c.clientHello());
    c.server.takeOutgoing();
    const cke = handshakeMessage(HandshakeType.client_key_exchange, new Writer(70).vec8(generateKeyShare("x25519").publicKey).finish());
    c.server.receive(plainRecord(ContentType.handshake, cke));
    expect(c.server.state).toBe("handshaking");
    expect(onlyAlert(c, plainRecord(ContentType.handshake, handshakeMessage(HandshakeType.finished, new Uint8Array(12))))).toEqual([
      AlertDescription.unexpected_message,
    ]);
  });
});

import { generateKeyShare } from "../../src/crypto/index.ts";

describe("TLS 1.3 client authentication in memory", () => {
  const clientKey = generateKey("ecdsa-p256").key;
  const now = new Date();
  const clientCert = createCertificate({
    subject: { CN: "alice" },
    subjectKey: clientKey,
    issuer: "self",
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + 3_600_000),
    isCa: false,
    keyUsage: ["digitalSignature"],
    extKeyUsage: ["clientAuth"],
  }).der;

  function requested(over: Partial<TlsServerConfig> = {}): TestClient13 {
    const c = new TestClient13(new TlsServerConnection(config({ clientAuth: "require", ...over })));
    c.server.receive(c.clientHello());
    c.pump();
    expect(c.received.handshake).toContain(HandshakeType.certificate_request);
    return c;
  }

  test("accepts a certificate whose CertificateVerify checks out and reports the chain", () => {
    const chains: Uint8Array[][] = [];
    const c = requested({ verifyClientChain: (chain) => (chains.push(chain), { ok: true }) });
    c.server.receive(c.authenticatedFinished([clientCert], clientKey, "ecdsa_secp256r1_sha256"));
    expect(c.server.error).toBeNull();
    expect(c.server.state).toBe("established");
    expect(c.server.info?.peerCertificates).toEqual([clientCert]);
    expect(chains).toEqual([[clientCert]]);
  });

  test("answers a CertificateVerify with a bad signature with decrypt_error", () => {
    const c = requested();
    expect(onlyAlert(c, c.authenticatedFinished([clientCert], clientKey, "ecdsa_secp256r1_sha256", true))).toEqual([AlertDescription.decrypt_error]);
    expect(c.server.error?.code).toBe("bad-certificate-verify");
  });

  test("answers a CertificateVerify in a scheme we did not offer with illegal_parameter", () => {
    const c = requested();
    // ecdsa_sha1 is never allowed for TLS 1.3 CertificateVerify
    expect(onlyAlert(c, c.authenticatedFinished([clientCert], clientKey, "ecdsa_sha1"))).toEqual([AlertDescription.illegal_parameter]);
  });

  test("sends the verifier's alert when it rejects the chain", () => {
    const c = requested({ verifyClientChain: () => ({ ok: false, alert: "certificate_expired" }) });
    expect(onlyAlert(c, c.authenticatedFinished([clientCert], clientKey, "ecdsa_secp256r1_sha256"))).toEqual([AlertDescription.certificate_expired]);
  });

  test("answers a certificate that does not parse with bad_certificate", () => {
    const c = requested();
    expect(onlyAlert(c, c.authenticatedFinished([Uint8Array.of(0x30, 0x00)], clientKey, "ecdsa_secp256r1_sha256"))).toEqual([AlertDescription.bad_certificate]);
  });
});

import { createCertificate } from "../../src/x509/create.ts";

describe("TLS 1.2 in memory", () => {
  for (const [suite, name] of [
    [0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"],
    [0xc009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"],
  ] as const) {
    test(`completes ${name} and carries application data both ways`, () => {
      const c = new TestClient12(new TlsServerConnection(config()), [suite]);
      c.server.receive(c.clientHello());
      c.pump();
      expect(c.received.handshake).toEqual([
        HandshakeType.server_hello,
        HandshakeType.certificate,
        HandshakeType.server_key_exchange,
        HandshakeType.server_hello_done,
      ]);
      c.server.receive(c.finish());
      c.pump();
      expect(c.server.error).toBeNull();
      expect(c.server.state).toBe("established");
      expect(c.server.info?.cipherSuite).toBe(name);
      expect(c.received.handshake.at(-1)).toBe(HandshakeType.finished);
      c.server.receive(c.seal(ContentType.application_data, Uint8Array.of(1, 2, 3)));
      expect(c.server.readApplicationData()).toEqual(Uint8Array.of(1, 2, 3));
      c.server.write(Uint8Array.of(4, 5));
      c.pump();
      expect(c.received.appData).toEqual([Uint8Array.of(4, 5)]);
    });

    test(`answers a wrong client Finished with decrypt_error (${name})`, () => {
      const c = new TestClient12(new TlsServerConnection(config()), [suite]);
      c.server.receive(c.clientHello());
      c.pump();
      c.server.receive(c.finish((vd) => (vd[3]! ^= 0x10)));
      c.pump();
      expect(c.received.alerts).toEqual([AlertDescription.decrypt_error]);
      expect(c.server.error?.code).toBe("incorrect-finished");
    });

    test(`answers a flipped bit in the encrypted Finished with bad_record_mac (${name})`, () => {
      const c = new TestClient12(new TlsServerConnection(config()), [suite]);
      c.server.receive(c.clientHello());
      c.pump();
      const flight = c.finish();
      flight[flight.length - 1]! ^= 1;
      c.server.receive(flight);
      c.pump();
      expect(c.received.alerts).toEqual([AlertDescription.bad_record_mac]);
    });
  }

  test("refuses a renegotiating ClientHello after the handshake with no_renegotiation", () => {
    const c = new TestClient12(new TlsServerConnection(config()));
    c.server.receive(c.clientHello());
    c.pump();
    c.server.receive(c.finish());
    c.pump();
    const again = new TestClient12(c.server).clientHello().subarray(5);
    c.server.receive(c.seal(ContentType.handshake, again));
    c.pump();
    expect(c.received.alerts).toEqual([AlertDescription.no_renegotiation]);
    expect(c.server.state).toBe("closed");
  });
});

import { TestClient12 } from "./client12.ts";

describe("TLS 1.3 tickets in memory", () => {
  function firstConnection(cache: SessionCache, over: Partial<TlsServerConfig> = {}) {
    const c = new TestClient13(new TlsServerConnection(config({ sessionCache: cache, ...over })), {
      extraExtensions: [{ type: ExtensionType.psk_key_exchange_modes, data: Uint8Array.of(1, 1) }],
    });
    handshake(c);
    expect(c.tickets.length).toBe(1);
    return c.tickets[0]!;
  }

  test("issues a ticket that resumes once, without certificates, and not twice", () => {
    const cache = new SessionCache(60, 10);
    const t = firstConnection(cache);
    const r = new TestClient13(new TlsServerConnection(config({ sessionCache: cache })), { resume: t });
    handshake(r);
    expect(r.server.state).toBe("established");
    expect(r.server.info?.resumed).toBe(true);
    expect(r.received.handshake).not.toContain(HandshakeType.certificate);
    // the same ticket again: a full handshake
    const again = new TestClient13(new TlsServerConnection(config({ sessionCache: cache })), { resume: t });
    again.server.receive(again.clientHello());
    again.pump();
    expect(again.received.handshake).toContain(HandshakeType.certificate);
  });

  test("answers a wrong binder with decrypt_error", () => {
    const cache = new SessionCache(60, 10);
    const t = firstConnection(cache);
    const r = new TestClient13(new TlsServerConnection(config({ sessionCache: cache })), { resume: { ...t, tamperBinder: true } });
    expect(onlyAlert(r, r.clientHello())).toEqual([AlertDescription.decrypt_error]);
    expect(r.server.error?.code).toBe("incorrect-binder");
  });

  test("does not let a ticket without a client certificate bypass clientAuth require", () => {
    const cache = new SessionCache(60, 10);
    const t = firstConnection(cache);
    const r = new TestClient13(new TlsServerConnection(config({ sessionCache: cache, clientAuth: "require" })), { resume: t });
    r.server.receive(r.clientHello());
    r.pump();
    expect(r.received.handshake).toContain(HandshakeType.certificate_request);
  });

  test("never accepts a TLS 1.3 ticket as a TLS 1.2 session ID", () => {
    const cache = new SessionCache(60, 10);
    const t = firstConnection(cache);
    const c = new TestClient13(new TlsServerConnection(config({ sessionCache: cache })), { versions: [0x0303], suites: [0xc02b], sessionId: t.ticket });
    c.server.receive(c.clientHello());
    const d = new RecordDeframer();
    d.push(c.server.takeOutgoing()!);
    const msgs = new HandshakeJoiner().push(d.next()!.fragment);
    // a full handshake: a fresh session ID and our Certificate, not an abbreviated one
    expect(decodeServerHello(msgs[0]!.body).sessionId).not.toEqual(t.ticket);
    expect(msgs[1]!.type).toBe(HandshakeType.certificate);
  });

  test("issues no ticket with %NO_TICKETS or without a cache", () => {
    const a = new TestClient13(new TlsServerConnection(config({ sessionCache: new SessionCache(60, 10) }, "NORMAL:%NO_TICKETS")), {
      extraExtensions: [{ type: ExtensionType.psk_key_exchange_modes, data: Uint8Array.of(1, 1) }],
    });
    handshake(a);
    expect(a.tickets.length).toBe(0);
    const b = new TestClient13(new TlsServerConnection(config()), {
      extraExtensions: [{ type: ExtensionType.psk_key_exchange_modes, data: Uint8Array.of(1, 1) }],
    });
    handshake(b);
    expect(b.tickets.length).toBe(0);
  });
});

import { SessionCache } from "../../src/tls/index.ts";
import { HandshakeJoiner, RecordDeframer } from "../../src/tls/deframer.ts";
import { decodeServerHello } from "../../src/tls/codec.ts";
