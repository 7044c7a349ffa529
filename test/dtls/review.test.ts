// Regression tests for the DTLS security review: unauthenticated (epoch-0) records that a spoofer can
// send from the client's address must not end or corrupt a handshake or an established session.

import { describe, expect, test } from "bun:test";
import { randomBytes } from "../../src/crypto/index.ts";
import { PacketType } from "../../src/dtls/index.ts";
import { DTLS_HEADER, writeHeader } from "../../src/dtls/record.ts";
import { ContentType, HandshakeType } from "../../src/tls/codec.ts";
import { DTLS1_0, DTLS1_2 } from "./client.ts";
import { events, makePair } from "./harness.ts";

function pskPair() {
  const key = randomBytes(32);
  return makePair(
    { kind: "psk", key, allowedSuites: null },
    { kind: "psk", version: DTLS1_2, sessionId: randomBytes(32), psk: key, suites: [0x00a9, 0x00a8, 0x008d, 0x008c] },
  );
}

function plain(type: number, payload: Uint8Array, seq = 77): Uint8Array {
  const out = new Uint8Array(DTLS_HEADER + payload.length);
  writeHeader(out, 0, type, DTLS1_0, 0, seq, payload.length);
  out.set(payload, DTLS_HEADER);
  return out;
}

/** One handshake fragment: type, length, message_seq, offset 0, the whole body. */
function fragment(type: number, seq: number, body: Uint8Array): Uint8Array {
  const h = Uint8Array.of(type, 0, 0, body.length, seq >>> 8, seq & 0xff, 0, 0, 0, 0, 0, body.length);
  const out = new Uint8Array(h.length + body.length);
  out.set(h);
  out.set(body, h.length);
  return out;
}

describe("DTLS records a spoofer can send", () => {
  test("ignores an unprotected fatal alert once the handshake is done, and keeps carrying data", () => {
    const p = pskPair();
    p.pump(p.client.hello());
    expect(p.handle.established).toBe(true);
    const r = p.ep.handleDatagram(plain(ContentType.alert, Uint8Array.of(2, 40)), p.addr, p.port);
    expect(r.events).toEqual([]);
    expect(p.handle.established).toBe(true);
    const d = p.ep.handleDatagram(p.client.send(PacketType.DATA, Uint8Array.of(1, 2, 3)), p.addr, p.port);
    expect(d.deliver.map((x) => [...x.payload])).toEqual([[1, 2, 3]]);
  });

  test("does not let an unprotected fragment take the message_seq of the client's Finished", () => {
    const p = pskPair();
    const hello = p.client.hello();
    const first = p.ep.handleDatagram(hello[0]!, p.addr, p.port);
    const reply = first.sendTo.flatMap((s) => p.client.receive(s.bytes).send);
    // ClientHello is message 0, ClientKeyExchange 1, Finished 2: a forged plaintext "Finished" first
    const forged = p.ep.handleDatagram(plain(ContentType.handshake, fragment(HandshakeType.finished, 2, new Uint8Array(12))), p.addr, p.port);
    expect(forged.events).toEqual([]);
    p.pump(reply);
    expect(events(p)).toEqual(["established"]);
    expect(p.handle.established).toBe(true);
    expect(p.client.established).toBe(true);
  });

  test("does not accept an unprotected Finished where the encrypted one is due", () => {
    const p = pskPair();
    const hello = p.client.hello();
    const first = p.ep.handleDatagram(hello[0]!, p.addr, p.port);
    const reply = first.sendTo.flatMap((s) => p.client.receive(s.bytes).send);
    // the client's flight is one datagram: CKE (plain), CCS (plain), Finished (epoch 1); send the first two
    const d = reply[0]!;
    let off = 0;
    const records: Uint8Array[] = [];
    while (off < d.length) {
      const len = (d[off + 11]! << 8) | d[off + 12]!;
      records.push(d.subarray(off, off + DTLS_HEADER + len));
      off += DTLS_HEADER + len;
    }
    expect(records.map((r) => [r[0], r[4]])).toEqual([[ContentType.handshake, 0], [ContentType.change_cipher_spec, 0], [ContentType.handshake, 1]]);
    p.ep.handleDatagram(records[0]!.slice(), p.addr, p.port);
    p.ep.handleDatagram(records[1]!.slice(), p.addr, p.port);
    // whatever verify_data a spoofer puts in a plaintext Finished, it is not even looked at
    const r = p.ep.handleDatagram(plain(ContentType.handshake, fragment(HandshakeType.finished, 2, new Uint8Array(12))), p.addr, p.port);
    expect(r.events).toEqual([]);
    expect(p.handle.established).toBe(false);
    // the genuine encrypted Finished still completes the handshake
    const ok = p.ep.handleDatagram(records[2]!.slice(), p.addr, p.port);
    expect(ok.events.map((e) => e.event.kind)).toEqual(["established"]);
  });
});

describe("malformed unprotected handshake records", () => {
  test("drops a plaintext fragment that runs past its message instead of failing the handshake", () => {
    const p = pskPair();
    const hello = p.client.hello();
    const first = p.ep.handleDatagram(hello[0]!, p.addr, p.port);
    const reply = first.sendTo.flatMap((s) => p.client.receive(s.bytes).send);
    // a ClientKeyExchange fragment claiming offset 10 + 8 bytes of a 12-byte message
    const bad = Uint8Array.of(HandshakeType.client_key_exchange, 0, 0, 12, 0, 1, 0, 0, 10, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8);
    const r = p.ep.handleDatagram(plain(ContentType.handshake, bad), p.addr, p.port);
    expect(r.events).toEqual([]);
    expect(r.sendTo).toEqual([]);
    p.pump(reply);
    expect(events(p)).toEqual(["established"]);
    expect(p.client.established).toBe(true);
  });
});

describe("ClientHellos behind another record", () => {
  test("a ClientHello for another session ID, after a junk record in the same datagram, starts nothing", () => {
    const p = pskPair();
    p.pump(p.client.hello());
    expect(p.handle.established).toBe(true);
    const junk = new Uint8Array(DTLS_HEADER + 40);
    writeHeader(junk, 0, ContentType.application_data, DTLS1_2, 1, 999, 40);
    const stranger = new TestClient({ kind: "psk", version: DTLS1_2, sessionId: randomBytes(32), psk: randomBytes(32), suites: [0x00a9] });
    const r = p.ep.handleDatagram(concatBytes(junk, stranger.hello()[0]!), p.addr, p.port);
    expect(r.sendTo).toEqual([]);
    // no handshake was started, so none can time out and take DTLS down with it
    p.clock.t += 120_000;
    expect(p.ep.nextDeadline()).toBeNull();
    expect(p.ep.onTimer().events).toEqual([]);
    expect(p.handle.established).toBe(true);
  });

  test("a ClientHello without any session ID from the client's address starts nothing", () => {
    const p = pskPair();
    p.pump(p.client.hello());
    const anonymous = new TestClient({ kind: "psk", version: DTLS1_2, sessionId: new Uint8Array(0), psk: randomBytes(32), suites: [0x00a9] });
    const r = p.ep.handleDatagram(anonymous.hello()[0]!, p.addr, p.port);
    expect(r.sendTo).toEqual([]);
    expect(p.ep.nextDeadline()).toBeNull();
  });

  test("a ClientHello with the session's own ID behind another record is still served", () => {
    const p = pskPair();
    const junk = new Uint8Array(DTLS_HEADER + 40);
    writeHeader(junk, 0, ContentType.application_data, DTLS1_2, 1, 999, 40);
    // the first handshake's address is not known yet: route by address needs an established peer
    p.pump(p.client.hello());
    const again = new TestClient({ kind: "psk", version: DTLS1_2, sessionId: p.handle.sessionId, psk: randomBytes(32), suites: [0x00a9] });
    const r = p.ep.handleDatagram(concatBytes(junk, again.hello()[0]!), p.addr, p.port);
    expect(r.sendTo.length).toBeGreaterThan(0);
  });
});

import { concatBytes } from "../../src/wire/writer.ts";
import { TestClient } from "./client.ts";

describe("retransmission limits", () => {
  test("answers a replayed final client flight a bounded number of times", () => {
    const p = pskPair();
    // lose the server's last flight once, so the client's flight is what a replayer would resend
    p.pump(p.client.hello(), { dropServer: (i) => i === 1 });
    expect(p.handle.established).toBe(true);
    const flight = p.client.lastFlight[0]!;
    let answers = 0;
    for (let i = 0; i < 50; i++) answers += p.ep.handleDatagram(flight.slice(), p.addr, p.port).sendTo.length;
    expect(answers).toBeGreaterThan(0);
    expect(answers).toBeLessThanOrEqual(MAX_RESENDS_ON_RETRANSMISSION);
    expect(p.handle.established).toBe(true);
  });
});

import { MAX_RESENDS_ON_RETRANSMISSION } from "../../src/dtls/handshake.ts";

describe("replay window (RFC 6479)", () => {
  test("agrees with a set-based model on random sequences, with jumps, and at the 48-bit edge", () => {
    let seed = 12345;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const MAX_SEQ = 2 ** 48 - 1;
    for (let trial = 0; trial < 60; trial++) {
      const w = new ReplayWindow();
      const seen = new Set<number>();
      let hi = -1;
      for (let i = 0; i < 1500; i++) {
        const r = rnd();
        let s =
          hi < 0
            ? trial % 3 === 0
              ? MAX_SEQ - 3000
              : 0
            : r < 0.5
              ? hi + 1 + Math.floor(rnd() * 3)
              : r < 0.9
                ? hi - Math.floor(rnd() * (REPLAY_WINDOW_SIZE + 64))
                : hi + Math.floor(rnd() * 5000);
        s = Math.min(MAX_SEQ, Math.max(0, s));
        // new, and either ahead of the highest or less than a window behind it
        const fresh = !seen.has(s) && (s > hi || hi - s < REPLAY_WINDOW_SIZE);
        expect(w.check(s)).toBe(fresh);
        if (fresh) {
          w.update(s);
          seen.add(s);
          hi = Math.max(hi, s);
        }
      }
    }
  });
});

import { REPLAY_WINDOW_SIZE, ReplayWindow } from "../../src/dtls/replay.ts";
