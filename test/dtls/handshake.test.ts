import { test, expect, describe } from "bun:test";
import { randomBytes } from "../../src/crypto/index.ts";
import { resumedSuite } from "../../src/dtls/suites.ts";
import { PacketType } from "../../src/dtls/index.ts";
import { DTLS0_9, DTLS1_0, DTLS1_2 } from "./client.ts";
import { makePair, events } from "./harness.ts";

const PSK_ALL = [0x00a9, 0x00a8, 0x008d, 0x008c];

function pskPair(opts: { version?: number; suites?: number[]; ems?: boolean; allowed?: number[] | null; clientKey?: Uint8Array; appIdExtension?: boolean; fragment?: number; maxDatagram?: number } = {}) {
  const key = randomBytes(32);
  const sessionId = randomBytes(32);
  return makePair(
    { kind: "psk", key, allowedSuites: opts.allowed ?? null },
    {
      kind: "psk",
      version: (opts.version ?? DTLS1_2) as typeof DTLS1_2,
      sessionId,
      psk: opts.clientKey ?? key,
      suites: opts.suites ?? PSK_ALL,
      ...(opts.ems !== undefined ? { ems: opts.ems } : {}),
      ...(opts.appIdExtension ? { appIdExtension: true } : {}),
      ...(opts.fragment ? { fragment: opts.fragment } : {}),
    },
    opts.maxDatagram ? { maxDatagram: opts.maxDatagram } : {},
  );
}

describe("PSK-NEGOTIATE handshake", () => {
  test("completes a DTLS 1.2 handshake with AES-256-GCM and carries data both ways", () => {
    const p = pskPair();
    p.pump(p.client.hello());
    expect(p.client.established).toBe(true);
    expect(p.handle.established).toBe(true);
    expect(p.ep.describe(p.handle)).toEqual({ version: "DTLS1.2", suite: "TLS_PSK_WITH_AES_256_GCM_SHA384", description: "(DTLS1.2)-(PSK)-(AES-256-GCM)" });
    expect(events(p)).toEqual(["established"]);

    const ip = Uint8Array.of(0x45, 0, 0, 20, 1, 2, 3, 4);
    const r = p.ep.handleDatagram(p.client.send(PacketType.DATA, ip), p.addr, p.port);
    expect(r.deliver).toHaveLength(1);
    expect(r.deliver[0]!.owner).toBe("s1");
    expect(r.deliver[0]!.type).toBe(PacketType.DATA);
    expect([...r.deliver[0]!.payload]).toEqual([...ip]);

    const out = p.ep.send(p.handle, PacketType.DATA, ip)!;
    expect(out.addr).toBe(p.addr);
    expect(out.port).toBe(p.port);
    const got = p.client.receive(out.bytes).data;
    expect(got).toHaveLength(1);
    expect([...got[0]!.payload]).toEqual([...ip]);
  });

  test("uses the extended master secret when the client offers it", () => {
    const p = pskPair({ ems: true });
    p.pump(p.client.hello());
    expect(p.client.established).toBe(true);
    expect(p.handle.established).toBe(true);
  });

  test("picks AES-128-GCM when the client offers only that", () => {
    const p = pskPair({ suites: [0x00a8] });
    p.pump(p.client.hello());
    expect(p.ep.describe(p.handle)?.suite).toBe("TLS_PSK_WITH_AES_128_GCM_SHA256");
  });

  test("falls back to a PSK CBC suite when the client offers only CBC", () => {
    const p = pskPair({ suites: [0x008c] });
    p.pump(p.client.hello());
    expect(p.handle.established).toBe(true);
    expect(p.ep.describe(p.handle)?.suite).toBe("TLS_PSK_WITH_AES_128_CBC_SHA");
    const r = p.ep.handleDatagram(p.client.send(PacketType.DATA, Uint8Array.of(9, 9, 9)), p.addr, p.port);
    expect([...r.deliver[0]!.payload]).toEqual([9, 9, 9]);
  });

  test("speaks DTLS 1.0 with a CBC suite when the client insists on 1.0", () => {
    const p = pskPair({ version: DTLS1_0 });
    p.pump(p.client.hello());
    expect(p.ep.describe(p.handle)).toEqual({ version: "DTLS1.0", suite: "TLS_PSK_WITH_AES_256_CBC_SHA", description: "(DTLS1.0)-(PSK)-(AES-256-CBC)-(SHA1)" });
    const out = p.ep.send(p.handle, PacketType.DATA, Uint8Array.of(1, 2))!;
    expect([...p.client.receive(out.bytes).data[0]!.payload]).toEqual([1, 2]);
  });

  test("honours match-tls-dtls-ciphers by allowing only the pinned suite", () => {
    const p = pskPair({ allowed: [0x00a8] });
    p.pump(p.client.hello());
    expect(p.ep.describe(p.handle)?.suite).toBe("TLS_PSK_WITH_AES_128_GCM_SHA256");
    const q = pskPair({ allowed: [0x00a8], suites: [0x00a9] });
    q.pump(q.client.hello());
    expect(q.handle.established).toBe(false);
    expect(events(q)).toEqual(["handshake-failed"]);
  });

  test("drops a client Finished sealed with a wrong PSK and fails the handshake when the timer runs out", () => {
    const p = pskPair({ clientKey: randomBytes(32) });
    p.pump(p.client.hello());
    expect(p.handle.established).toBe(false);
    // RFC 6347 §4.1.2.7: a record that does not authenticate is dropped, no alert
    expect(events(p)).toEqual([]);
    let failed = false;
    for (let i = 0; i < 40 && !failed; i++) {
      p.clock.t += 61_000;
      failed = p.ep.onTimer().events.some((e) => e.event.kind === "handshake-failed");
    }
    expect(failed).toBe(true);
    expect(p.handle.established).toBe(false);
  });

  test("sends a fatal handshake_failure alert when no PSK suite is in common", () => {
    const p = pskPair({ suites: [0x009c] });
    p.pump(p.client.hello());
    expect(events(p)).toEqual(["handshake-failed"]);
    const d = p.results[0]!.sendTo[0]!.bytes;
    expect([d[0], d[13], d[14]]).toEqual([21, 2, 40]); // alert record, fatal, handshake_failure
  });

  test("routes a ClientHello by the App-ID extension when the session_id is something else", () => {
    const key = randomBytes(32);
    const appId = randomBytes(32);
    const p = makePair({ kind: "psk", key, allowedSuites: null }, { kind: "psk", version: DTLS1_2, sessionId: appId, psk: key, suites: PSK_ALL, appIdExtension: true });
    p.pump(p.client.hello());
    expect(p.handle.established).toBe(true);
  });
});

describe("legacy resumption handshake", () => {
  test("resumes with the X-DTLS-Master-Secret over DTLS 1.2 AES-256-GCM", () => {
    const master = randomBytes(48);
    const sessionId = randomBytes(32);
    const suite = resumedSuite(0x009d)!;
    const p = makePair({ kind: "legacy", masterSecret: master, suite, version: DTLS1_2 }, { kind: "legacy", version: DTLS1_2, sessionId, master, suites: [0x009d, 0x009c] });
    p.pump(p.client.hello());
    expect(p.client.established).toBe(true);
    expect(p.handle.established).toBe(true);
    expect(p.ep.describe(p.handle)).toEqual({ version: "DTLS1.2", suite: "TLS_RSA_WITH_AES_256_GCM_SHA384", description: "(DTLS1.2)-(RSA)-(AES-256-GCM)" });
    const r = p.ep.handleDatagram(p.client.send(PacketType.DATA, Uint8Array.of(7)), p.addr, p.port);
    expect([...r.deliver[0]!.payload]).toEqual([7]);
  });

  test("resumes over DTLS 0.9 (0x0100) with AES256-SHA and its 3-byte ChangeCipherSpec", () => {
    const master = randomBytes(48);
    const sessionId = randomBytes(32);
    const suite = resumedSuite(0x0035)!;
    const p = makePair({ kind: "legacy", masterSecret: master, suite, version: DTLS0_9 }, { kind: "legacy", version: DTLS0_9, sessionId, master, suites: [0x0035, 0x002f] });
    const hello = p.client.hello();
    const first = p.ep.handleDatagram(hello[0]!, p.addr, p.port);
    // ServerHello, then a CCS record of 3 bytes, then the encrypted Finished; all with version 1.0
    const d = first.sendTo[0]!.bytes;
    expect(d[1]).toBe(0x01);
    expect(d[2]).toBe(0x00);
    const shLen = (d[11]! << 8) | d[12]!;
    const ccs = 13 + shLen;
    expect(d[ccs]).toBe(20);
    expect((d[ccs + 11]! << 8) | d[ccs + 12]!).toBe(3);
    for (const s of first.sendTo) for (const back of p.client.receive(s.bytes).send) p.ep.handleDatagram(back, p.addr, p.port);
    expect(p.client.established).toBe(true);
    expect(p.handle.established).toBe(true);
    expect(p.ep.describe(p.handle)).toEqual({ version: "DTLS0.9", suite: "TLS_RSA_WITH_AES_256_CBC_SHA", description: "(DTLS0.9)-(RSA)-(AES-256-CBC)-(SHA1)" });
    const out = p.ep.send(p.handle, PacketType.DATA, Uint8Array.of(4, 5, 6))!;
    expect([...p.client.receive(out.bytes).data[0]!.payload]).toEqual([4, 5, 6]);
  });

  test("refuses a legacy client that does not offer the selected suite", () => {
    const master = randomBytes(48);
    const p = makePair({ kind: "legacy", masterSecret: master, suite: resumedSuite(0x009d)!, version: DTLS1_2 }, { kind: "legacy", version: DTLS1_2, sessionId: randomBytes(32), master, suites: [0x009c] });
    p.pump(p.client.hello());
    expect(events(p)).toEqual(["handshake-failed"]);
  });

  test("a client with a different master secret never gets DTLS", () => {
    const p = makePair({ kind: "legacy", masterSecret: randomBytes(48), suite: resumedSuite(0x009c)!, version: DTLS1_2 }, { kind: "legacy", version: DTLS1_2, sessionId: randomBytes(32), master: randomBytes(48), suites: [0x009c] });
    p.pump(p.client.hello());
    // each side drops the other's Finished: it does not authenticate under the wrong keys
    expect(p.client.established).toBe(false);
    expect(p.handle.established).toBe(false);
  });
});

describe("fragmentation and retransmission", () => {
  test("reassembles a ClientHello whose later fragments arrive in reverse order", () => {
    const p = pskPair({ fragment: 68, suites: [...PSK_ALL, ...Array.from({ length: 30 }, (_, i) => 0x1300 + i)] });
    const frags = p.client.hello();
    expect(frags.length).toBeGreaterThan(2);
    // the first fragment carries the session ID that routes the rest (protocol.md §4.1)
    p.pump([frags[0]!, ...frags.slice(1).reverse()]);
    expect(p.handle.established).toBe(true);
  });

  test("fragments its own flight to the datagram size and the client reassembles it", () => {
    const p = pskPair({ maxDatagram: 60 });
    p.pump(p.client.hello());
    const firstFlight = p.results[0]!.sendTo;
    expect(firstFlight.length).toBeGreaterThan(1);
    for (const d of firstFlight) expect(d.bytes.length).toBeLessThanOrEqual(60);
    expect(p.handle.established).toBe(true);
    expect(p.client.established).toBe(true);
  });

  test("retransmits its flight on the timer, doubling from 400 ms, when the client's reply never comes", () => {
    const p = pskPair();
    const r0 = p.ep.handleDatagram(p.client.hello()[0]!, p.addr, p.port);
    expect(r0.sendTo).toHaveLength(1);
    const t0 = p.clock.t;
    expect(p.ep.nextDeadline()).toBe(t0 + 400);
    p.clock.t = t0 + 399;
    expect(p.ep.onTimer().sendTo).toHaveLength(0);
    p.clock.t = t0 + 400;
    const r1 = p.ep.onTimer();
    expect(r1.sendTo).toHaveLength(1);
    expect(p.ep.nextDeadline()).toBe(t0 + 400 + 800);
    // the retransmitted flight still completes the handshake
    p.pump(p.client.receive(r1.sendTo[0]!.bytes).send);
    expect(p.handle.established).toBe(true);
  });

  test("gives up after 60 seconds without an answer", () => {
    const p = pskPair();
    p.ep.handleDatagram(p.client.hello()[0]!, p.addr, p.port);
    let failed = false;
    for (let i = 0; i < 40 && !failed; i++) {
      const dl = p.ep.nextDeadline();
      if (dl === null) break;
      p.clock.t = dl;
      failed = p.ep.onTimer().events.some((e) => e.event.kind === "handshake-failed");
    }
    expect(failed).toBe(true);
    expect(p.ep.nextDeadline()).toBeNull();
  });

  test("answers a retransmitted client Finished flight by resending CCS and Finished", () => {
    const p = pskPair();
    // drop the server's last flight (its second datagram) once
    p.pump(p.client.hello(), { dropServer: (i) => i === 1 });
    expect(p.handle.established).toBe(true);
    expect(p.client.established).toBe(false);
    const again = p.ep.handleDatagram(p.client.lastFlight[0]!, p.addr, p.port);
    expect(again.sendTo).toHaveLength(1);
    p.client.receive(again.sendTo[0]!.bytes);
    expect(p.client.established).toBe(true);
  });

  test("answers a retransmitted ClientHello by resending the first flight", () => {
    const p = pskPair();
    const hello = p.client.hello();
    p.ep.handleDatagram(hello[0]!, p.addr, p.port);
    const again = p.ep.handleDatagram(hello[0]!, p.addr, p.port);
    expect(again.sendTo).toHaveLength(1);
    p.pump(p.client.receive(again.sendTo[0]!.bytes).send);
    expect(p.handle.established).toBe(true);
  });
});
