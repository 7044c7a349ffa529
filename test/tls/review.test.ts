// Regression tests for the TLS security review: each one failed before its fix.

import { describe, expect, test } from "bun:test";
import { generateKey } from "../../src/x509/keys.ts";
import { createCertificate } from "../../src/x509/create.ts";
import { SessionCache, TlsServerConnection, parsePriorities, type TlsServerConfig } from "../../src/tls/index.ts";
import { ContentType, ExtensionType, HRR_RANDOM, HandshakeType, decodeServerHello, handshakeMessage } from "../../src/tls/codec.ts";
import { HandshakeJoiner, RecordDeframer } from "../../src/tls/deframer.ts";
import { AlertDescription } from "../../src/tls/errors.ts";
import { TestClient13, plainRecord } from "./client13.ts";
import { TestClient12 } from "./client12.ts";

const key = generateKey("ecdsa-p256").key;
function config(over: Partial<TlsServerConfig> = {}, prio = "NORMAL"): TlsServerConfig {
  const p = parsePriorities(prio);
  if (!p.ok) throw new Error(p.error);
  // The test clients do not check the server certificate, so any DER-ish blob will do.
  return { credentials: [{ chain: [Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01)], key }], policy: p.policy, clientAuth: "none", ...over };
}

const clientKey = generateKey("ecdsa-p256").key;
const t0 = new Date();
const clientCert = createCertificate({
  subject: { CN: "alice" },
  subjectKey: clientKey,
  issuer: "self",
  notBefore: new Date(t0.getTime() - 60_000),
  notAfter: new Date(t0.getTime() + 3_600_000),
  isCa: false,
  keyUsage: ["digitalSignature"],
  extKeyUsage: ["clientAuth"],
}).der;

const PSK_MODES = { type: ExtensionType.psk_key_exchange_modes, data: Uint8Array.of(1, 1) };

describe("resumption re-checks the client certificate chain", () => {
  /** A full TLS 1.3 handshake with a client certificate; returns the ticket it got. */
  function ticketWithClientCert(cache: SessionCache) {
    const c = new TestClient13(
      new TlsServerConnection(config({ sessionCache: cache, clientAuth: "require", verifyClientChain: () => ({ ok: true }) })),
      { extraExtensions: [PSK_MODES] },
    );
    c.server.receive(c.clientHello());
    c.pump();
    c.server.receive(c.authenticatedFinished([clientCert], clientKey, "ecdsa_secp256r1_sha256"));
    c.pump();
    expect(c.server.state).toBe("established");
    expect(c.tickets.length).toBe(1);
    return c.tickets[0]!;
  }

  test("TLS 1.3: a ticket whose client chain the verifier now rejects gets a full handshake, not the old identity", () => {
    const cache = new SessionCache(60, 10);
    const t = ticketWithClientCert(cache);
    const seen: Uint8Array[][] = [];
    const r = new TestClient13(
      new TlsServerConnection(
        config({ sessionCache: cache, clientAuth: "request", verifyClientChain: (chain) => (seen.push(chain), { ok: false, alert: "certificate_revoked" }) }),
      ),
      { resume: t },
    );
    r.server.receive(r.clientHello());
    r.pump();
    expect(seen).toEqual([[clientCert]]);
    // not resumed: the server asks for a certificate and sends its own
    expect(r.received.handshake).toContain(HandshakeType.certificate_request);
    expect(r.received.handshake).toContain(HandshakeType.certificate);
    // the client answers without a certificate: no identity comes back from the ticket
    const empty = handshakeMessage(HandshakeType.certificate, Uint8Array.of(0, 0, 0, 0));
    r.transcript.update(empty);
    r.server.receive(r.handshakeSealed(empty));
    r.server.receive(r.finished());
    expect(r.server.state).toBe("established");
    expect(r.server.info?.resumed).toBe(false);
    expect(r.server.info?.peerCertificates).toEqual([]);
  });

  test("TLS 1.3: a ticket whose client chain still verifies resumes with that chain", () => {
    const cache = new SessionCache(60, 10);
    const t = ticketWithClientCert(cache);
    const seen: Uint8Array[][] = [];
    const r = new TestClient13(
      new TlsServerConnection(config({ sessionCache: cache, clientAuth: "require", verifyClientChain: (chain) => (seen.push(chain), { ok: true }) })),
      { resume: t },
    );
    r.server.receive(r.clientHello());
    r.pump();
    r.server.receive(r.finished());
    expect(r.server.state).toBe("established");
    expect(r.server.info?.resumed).toBe(true);
    expect(r.server.info?.peerCertificates).toEqual([clientCert]);
    expect(seen).toEqual([[clientCert]]);
  });

  /** A TLS 1.2 session with a client certificate, put in the cache as a full handshake would. */
  function cachedSession12(cache: SessionCache): Uint8Array {
    const id = new Uint8Array(32).fill(7);
    cache.put(
      id,
      {
        masterSecret: new Uint8Array(48).fill(1),
        cipherSuite: 0xc02b,
        extendedMasterSecret: false,
        sni: null,
        peerCertificates: [clientCert],
        version: "TLS1.2",
        group: "x25519",
      },
      Date.now(),
    );
    return id;
  }
  function serverHelloFor(server: TlsServerConnection, sessionId: Uint8Array) {
    const c = new TestClient13(server, { versions: [0x0303], suites: [0xc02b], sessionId });
    server.receive(c.clientHello());
    const d = new RecordDeframer();
    d.push(server.takeOutgoing()!);
    const msgs = new HandshakeJoiner().push(d.next()!.fragment);
    return { sessionId: decodeServerHello(msgs[0]!.body).sessionId, types: msgs.map((m) => m.type) };
  }

  test("TLS 1.2: a session ID whose client chain the verifier now rejects gets a full handshake and is forgotten", () => {
    const cache = new SessionCache(60, 10);
    const id = cachedSession12(cache);
    const seen: Uint8Array[][] = [];
    const server = new TlsServerConnection(
      config({ sessionCache: cache, clientAuth: "request", verifyClientChain: (chain) => (seen.push(chain), { ok: false, alert: "certificate_revoked" }) }),
    );
    const sh = serverHelloFor(server, id);
    expect(seen).toEqual([[clientCert]]);
    expect(sh.sessionId).not.toEqual(id);
    expect(sh.types).toContain(HandshakeType.certificate_request);
    expect(cache.get(id, Date.now())).toBeNull();
  });

  test("TLS 1.2: a session ID whose client chain still verifies is resumed", () => {
    const cache = new SessionCache(60, 10);
    const id = cachedSession12(cache);
    const seen: Uint8Array[][] = [];
    const server = new TlsServerConnection(config({ sessionCache: cache, clientAuth: "require", verifyClientChain: (chain) => (seen.push(chain), { ok: true }) }));
    const sh = serverHelloFor(server, id);
    expect(seen).toEqual([[clientCert]]);
    expect(sh.sessionId).toEqual(id);
    expect(sh.types).toEqual([HandshakeType.server_hello]);
  });
});

describe("TLS 1.2 resumption and the extended master secret (RFC 7627 §5.3)", () => {
  function cached(cache: SessionCache, ems: boolean): Uint8Array {
    const id = new Uint8Array(32).fill(9);
    cache.put(id, { masterSecret: new Uint8Array(48).fill(2), cipherSuite: 0xc02b, extendedMasterSecret: ems, sni: null, peerCertificates: [], version: "TLS1.2" }, Date.now());
    return id;
  }
  const EMS = { type: ExtensionType.extended_master_secret, data: new Uint8Array(0) };

  test("refuses to resume an EMS session for a ClientHello without EMS (handshake_failure)", () => {
    const cache = new SessionCache(60, 10);
    const id = cached(cache, true);
    const server = new TlsServerConnection(config({ sessionCache: cache }));
    server.receive(new TestClient13(server, { versions: [0x0303], suites: [0xc02b], sessionId: id }).clientHello());
    expect(server.state).toBe("closed");
    expect(server.error?.code).toBe("ems-resumption-mismatch");
    expect(server.error?.alert).toBe("handshake_failure");
  });

  test("runs a full handshake, not a resumption, when a non-EMS session is offered with EMS", () => {
    const cache = new SessionCache(60, 10);
    const id = cached(cache, false);
    const server = new TlsServerConnection(config({ sessionCache: cache }));
    const c = new TestClient13(server, { versions: [0x0303], suites: [0xc02b], sessionId: id, extraExtensions: [EMS] });
    server.receive(c.clientHello());
    const d = new RecordDeframer();
    d.push(server.takeOutgoing()!);
    const msgs = new HandshakeJoiner().push(d.next()!.fragment);
    const sh = decodeServerHello(msgs[0]!.body);
    expect(sh.sessionId).not.toEqual(id);
    expect(sh.extensions.some((e) => e.type === ExtensionType.extended_master_secret)).toBe(true);
    expect(msgs[1]!.type).toBe(HandshakeType.certificate);
  });
});

describe("record layer limits", () => {
  test("TLS 1.3: padding cannot stretch the inner plaintext past 2^14 + 1 (record_overflow)", () => {
    const aead = createAead("aes-128-gcm", new Uint8Array(16).fill(3));
    const iv = new Uint8Array(12).fill(9);
    const sender = new Tls13Protection(aead, iv);
    const receiver = new Tls13Protection(aead, iv);
    // inner plaintext: one byte of data, its content type (23), then zero padding to 2^14 + 2 bytes;
    // seal() appends the "type" we pass (0) as one more padding byte
    const inner = new Uint8Array(16384 + 1);
    inner[0] = 0x41;
    inner[1] = ContentType.application_data;
    const out = new OutputBuffer();
    const { buf, offset } = out.reserve(sender.maxRecordSize(inner.length));
    out.commit(sender.seal(0, inner, buf, offset));
    const rec = out.take()!;
    expect(rec.length - 5).toBeLessThanOrEqual(16384 + 256);
    expect(() => receiver.open(rec[0]!, 0x0303, rec.slice(5))).toThrow(expect.objectContaining({ code: "record-overflow" }));
  });

  test("TLS 1.2: an empty protected handshake record is unexpected_message, not a free no-op", () => {
    const c = new TestClient12(new TlsServerConnection(config()), [0xc02b]);
    c.server.receive(c.clientHello());
    c.pump();
    c.server.receive(c.finish());
    c.pump();
    expect(c.server.state).toBe("established");
    c.server.receive(c.seal(ContentType.handshake, new Uint8Array(0)));
    c.pump();
    expect(c.received.alerts).toEqual([AlertDescription.unexpected_message]);
    expect(c.server.state).toBe("closed");
  });

  test("joins a 64 KiB handshake message sent one byte per record, and holds no buffer afterwards", () => {
    const j = new HandshakeJoiner();
    const msg = new Uint8Array(4 + 65536);
    msg[0] = HandshakeType.certificate;
    msg[1] = 1; // length 0x010000
    for (let i = 4; i < msg.length; i++) msg[i] = i & 0xff;
    const got = [];
    for (let i = 0; i < msg.length; i++) {
      got.push(...j.push(msg.subarray(i, i + 1)));
      if (i < msg.length - 1) expect(j.hasPartial).toBe(true);
    }
    expect(got.length).toBe(1);
    expect(got[0]!.raw).toEqual(msg);
    expect(j.hasPartial).toBe(false);
    // two messages and the start of a third in one push, then the rest
    const two = Uint8Array.of(20, 0, 0, 1, 7, 20, 0, 0, 2, 8, 9, 20, 0);
    expect(j.push(two).map((m) => [...m.body])).toEqual([[7], [8, 9]]);
    expect(j.push(Uint8Array.of(0, 0)).map((m) => [...m.body])).toEqual([[]]);
    expect(j.hasPartial).toBe(false);
  });

  test("a plaintext ClientHello in one-byte records still completes the handshake", () => {
    const c = new TestClient13(new TlsServerConnection(config()));
    const hello = c.clientHello().subarray(5);
    for (let i = 0; i < hello.length; i++) c.server.receive(plainRecord(ContentType.handshake, hello.subarray(i, i + 1)));
    c.pump();
    c.server.receive(c.finished());
    expect(c.server.error).toBeNull();
    expect(c.server.state).toBe("established");
  });
});

import { createAead } from "../../src/crypto/index.ts";
import { OutputBuffer, Tls13Protection } from "../../src/tls/record.ts";

describe("bounded work and key lifetimes", () => {
  function established(over: Partial<TlsServerConfig> = {}): TestClient13 {
    const c = new TestClient13(new TlsServerConnection(config(over)));
    c.server.receive(c.clientHello());
    c.pump();
    c.server.receive(c.finished());
    c.pump();
    expect(c.server.state).toBe("established");
    return c;
  }

  test("TLS 1.3: updates its own write key after 2^24 records (RFC 8446 §5.5)", () => {
    const c = established();
    // 2^24 real records take too long for a unit test: move both ends of the server→client
    // direction to the last record before the limit
    const serverWrite = (c.server as unknown as { writeProt: { seq: number } }).writeProt;
    const clientRead = c.read as unknown as { seq: number };
    expect(serverWrite.seq).toBe(clientRead.seq);
    serverWrite.seq = clientRead.seq = KEY_UPDATE_AFTER_RECORDS - 1;
    c.server.write(Uint8Array.of(1));
    c.pump();
    expect(c.received.handshake.at(-1)).toBe(HandshakeType.key_update);
    c.server.write(Uint8Array.of(2));
    c.pump();
    expect(c.received.appData).toEqual([Uint8Array.of(1), Uint8Array.of(2)]);
    expect(c.received.alerts).toEqual([]);
  });

  test("TLS 1.3: a flood of update_requested KeyUpdates is answered a bounded number of times, then ends the connection", () => {
    const c = established();
    let answered = 0;
    for (let i = 0; i < 100 && c.server.state === "established"; i++) {
      c.server.receive(c.seal(ContentType.handshake, handshakeMessage(HandshakeType.key_update, Uint8Array.of(1))));
      c.clientApp = nextTrafficSecret("sha256", c.clientApp!);
      c.write = c.prot(c.clientApp);
      c.pump();
      answered = c.received.handshake.filter((t) => t === HandshakeType.key_update).length;
    }
    expect(c.server.state).toBe("closed");
    expect(c.server.error?.code).toBe("unexpected-message");
    expect(answered).toBeLessThanOrEqual(32);
  });

  test("TLS 1.3: an endless run of change_cipher_spec records after a HelloRetryRequest ends with unexpected_message", () => {
    const c = new TestClient13(new TlsServerConnection(config({}, "NORMAL:-GROUP-ALL:+GROUP-SECP256R1")));
    c.server.receive(c.clientHello());
    // our client's x25519 share is not acceptable: the answer is a HelloRetryRequest
    const d = new RecordDeframer();
    d.push(c.server.takeOutgoing()!);
    expect(decodeServerHello(new HandshakeJoiner().push(d.next()!.fragment)[0]!.body).random).toEqual(HRR_RANDOM);
    expect(c.server.state).toBe("handshaking");
    for (let i = 0; i < 40 && c.server.state === "handshaking"; i++) c.server.receive(plainRecord(ContentType.change_cipher_spec, Uint8Array.of(1)));
    expect(c.server.state).toBe("closed");
    expect(c.server.error?.code).toBe("unexpected-message");
    // the alert goes out in the clear, after the HelloRetryRequest
    d.push(c.server.takeOutgoing()!);
    const alert = d.next()!;
    expect([alert.type, ...alert.fragment]).toEqual([ContentType.alert, 2, AlertDescription.unexpected_message]);
  });
});

import { KEY_UPDATE_AFTER_RECORDS } from "../../src/tls/server.ts";

describe("TLS 1.3 handshake messages across records", () => {
  test("accepts a client Finished split across two encrypted records", () => {
    const c = new TestClient13(new TlsServerConnection(config()));
    c.server.receive(c.clientHello());
    c.pump();
    const vd = finishedVerifyData("sha256", c.clientHsSecret!, c.transcript.clone().digest());
    const msg = handshakeMessage(HandshakeType.finished, vd);
    c.server.receive(concatBytes(c.handshakeSealed(msg.subarray(0, 10)), c.handshakeSealed(msg.subarray(10))));
    expect(c.server.error).toBeNull();
    expect(c.server.state).toBe("established");
  });

  test("rejects an encrypted alert between two parts of a handshake message (RFC 8446 §5.1)", () => {
    const c = new TestClient13(new TlsServerConnection(config()));
    c.server.receive(c.clientHello());
    c.pump();
    const vd = finishedVerifyData("sha256", c.clientHsSecret!, c.transcript.clone().digest());
    const msg = handshakeMessage(HandshakeType.finished, vd);
    c.server.receive(concatBytes(c.handshakeSealed(msg.subarray(0, 10)), c.handshakeSealed(Uint8Array.of(1, 90), ContentType.alert)));
    expect(c.server.state).toBe("closed");
    expect(c.server.error?.code).toBe("unexpected-message");
  });
});

import { finishedVerifyData, nextTrafficSecret } from "../../src/tls/keyschedule.ts";
import { concatBytes } from "../../src/wire/writer.ts";
