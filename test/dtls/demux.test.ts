import { test, expect, describe } from "bun:test";
import { randomBytes } from "../../src/crypto/index.ts";
import { PacketType } from "../../src/dtls/index.ts";
import { TestClient, DTLS1_2 } from "./client.ts";
import { establishedPsk as established, events, makePair } from "./harness.ts";


describe("record tampering", () => {
  test("drops a replayed record silently", () => {
    const p = established();
    const d = p.client.send(PacketType.DATA, Uint8Array.of(1, 2, 3));
    expect(p.ep.handleDatagram(d, p.addr, p.port).deliver).toHaveLength(1);
    const again = p.ep.handleDatagram(d, p.addr, p.port);
    expect(again.deliver).toHaveLength(0);
    expect(again.sendTo).toHaveLength(0);
    expect(p.ep.stats.rejected).toBe(1);
  });

  test("drops a record whose ciphertext was modified, and still accepts the genuine one afterwards", () => {
    const p = established();
    const d = p.client.send(PacketType.DATA, Uint8Array.of(1, 2, 3));
    const bad = d.slice();
    bad[bad.length - 1]! ^= 1;
    expect(p.ep.handleDatagram(bad, p.addr, p.port).deliver).toHaveLength(0);
    // the forged copy did not consume the sequence number
    expect(p.ep.handleDatagram(d, p.addr, p.port).deliver).toHaveLength(1);
  });

  test("drops a record whose header (part of the AAD) was modified", () => {
    const p = established();
    const d = p.client.send(PacketType.DATA, Uint8Array.of(1, 2, 3)).slice();
    d[10]! ^= 0x40; // sequence number
    expect(p.ep.handleDatagram(d, p.addr, p.port).deliver).toHaveLength(0);
  });

  test("drops a record that fell behind the replay window", () => {
    const p = established();
    const old = p.client.send(PacketType.DATA, Uint8Array.of(9));
    let last = old;
    for (let i = 0; i < 2100; i++) last = p.client.send(PacketType.DATA, Uint8Array.of(1));
    expect(p.ep.handleDatagram(last, p.addr, p.port).deliver).toHaveLength(1);
    expect(p.ep.handleDatagram(old, p.addr, p.port).deliver).toHaveLength(0);
  });

  test("processes every record of a datagram that carries several", () => {
    const p = established();
    const a = p.client.send(PacketType.DATA, Uint8Array.of(1));
    const b = p.client.send(PacketType.DATA, Uint8Array.of(2));
    const both = new Uint8Array(a.length + b.length);
    both.set(a);
    both.set(b, a.length);
    expect(p.ep.handleDatagram(both, p.addr, p.port).deliver.map((x) => x.payload[0])).toEqual([1, 2]);
  });
});

describe("demultiplexing", () => {
  test("a flood of garbage and unknown IDs costs no session anything", () => {
    const p = established();
    const before = p.ep.stats.dropped;
    for (let i = 0; i < 5000; i++) {
      const len = i % 80;
      const d = randomBytes(len);
      if (i % 3 === 0 && len >= 13) {
        d[0] = 23;
        d[1] = 0xfe;
        d[2] = 0xfd;
      }
      const r = p.ep.handleDatagram(d, `198.51.100.${i % 250}`, 1000 + i);
      expect(r.sendTo.length + r.deliver.length + r.events.length).toBe(0);
    }
    // ClientHellos with IDs nobody registered
    for (let i = 0; i < 200; i++) {
      const c = new TestClient({ kind: "psk", version: DTLS1_2, sessionId: randomBytes(32), psk: randomBytes(32), suites: [0x00a9] });
      const r = p.ep.handleDatagram(c.hello()[0]!, "203.0.113.9", 5000 + i);
      expect(r.sendTo).toHaveLength(0);
    }
    expect(p.ep.stats.dropped - before).toBe(5200);
    expect(p.handle.established).toBe(true);
    expect(p.ep.nextDeadline()).toBeNull();
    const r = p.ep.handleDatagram(p.client.send(PacketType.DATA, Uint8Array.of(5)), p.addr, p.port);
    expect(r.deliver).toHaveLength(1);
  });

  test("drops a ClientHello with an all-zero client random (GnuTLS 3.6.3–3.6.12 workaround)", () => {
    const key = randomBytes(32);
    const sid = randomBytes(32);
    const p = makePair({ kind: "psk", key, allowedSuites: null }, { kind: "psk", version: DTLS1_2, sessionId: sid, psk: key, suites: [0x00a9] });
    p.client.random.fill(0);
    const r = p.ep.handleDatagram(p.client.hello()[0]!, p.addr, p.port);
    expect(r.sendTo).toHaveLength(0);
    expect(p.ep.stats.dropped).toBe(1);
  });

  test("moves a session to a new port only when a record from it authenticates (NAT rebinding)", () => {
    const p = established();
    // garbage from the same IP and a new port does not move the session
    const junk = p.client.send(PacketType.DATA, Uint8Array.of(1)).slice();
    junk[junk.length - 2]! ^= 0xff;
    expect(p.ep.handleDatagram(junk, p.addr, 41000).events).toHaveLength(0);
    expect(p.handle.peer).toEqual({ addr: p.addr, port: p.port });
    // a genuine record from yet another port within 3 s of that attempt is ignored (ocserv's 3-second rule)
    p.clock.t += 1000;
    expect(p.ep.handleDatagram(p.client.send(PacketType.DATA, Uint8Array.of(2)), p.addr, 42000).deliver).toHaveLength(0);
    p.clock.t += 3000;
    const r = p.ep.handleDatagram(p.client.send(PacketType.DATA, Uint8Array.of(3)), p.addr, 42000);
    expect(r.deliver.map((x) => x.payload[0])).toEqual([3]);
    expect(r.events.map((e) => e.event)).toEqual([{ kind: "peer-moved", peer: { addr: p.addr, port: 42000 } }]);
    expect(p.ep.send(p.handle, PacketType.DATA, Uint8Array.of(1))!.port).toBe(42000);
    // the old port no longer reaches the session
    expect(p.ep.handleDatagram(p.client.send(PacketType.DATA, Uint8Array.of(4)), p.addr, p.port).deliver).toHaveLength(0);
  });

  test("a record from an unknown IP never reaches a session", () => {
    const p = established();
    const r = p.ep.handleDatagram(p.client.send(PacketType.DATA, Uint8Array.of(1)), "192.0.2.99", p.port);
    expect(r.deliver).toHaveLength(0);
    expect(p.handle.peer?.addr).toBe(p.addr);
  });

  test("a new ClientHello builds the next session while the current one keeps carrying data, then they swap", () => {
    const p = established();
    const oldClient = p.client;
    const key = (p.handle as unknown as { mode: { key: Uint8Array } }).mode.key;
    const next = new TestClient({ kind: "psk", version: DTLS1_2, sessionId: p.handle.sessionId, psk: key, suites: [0x00a8] });
    p.clock.t += 5000;
    const r1 = p.ep.handleDatagram(next.hello()[0]!, p.addr, 40001);
    expect(r1.sendTo).toHaveLength(1);
    // the old keys still work meanwhile
    expect(p.ep.handleDatagram(oldClient.send(PacketType.DATA, Uint8Array.of(7)), p.addr, p.port).deliver).toHaveLength(1);
    let toServer = next.receive(r1.sendTo[0]!.bytes).send;
    const evs: string[] = [];
    for (const d of toServer) {
      const r = p.ep.handleDatagram(d, p.addr, 40001);
      evs.push(...r.events.map((e) => e.event.kind));
      for (const s of r.sendTo) next.receive(s.bytes);
    }
    toServer = [];
    expect(evs).toEqual(["established"]);
    expect(next.established).toBe(true);
    expect(p.ep.describe(p.handle)?.suite).toBe("TLS_PSK_WITH_AES_128_GCM_SHA256");
    expect(p.handle.peer).toEqual({ addr: p.addr, port: 40001 });
    expect(p.ep.handleDatagram(next.send(PacketType.DATA, Uint8Array.of(8)), p.addr, 40001).deliver).toHaveLength(1);
  });

  test("unregistering sends close_notify and forgets the session", () => {
    const p = established();
    const bye = p.ep.unregister(p.handle);
    expect(bye).toHaveLength(1);
    const alerts = p.client.receive(bye[0]!.bytes).alerts;
    expect(alerts.map((a) => [...a])).toEqual([[1, 0]]);
    expect(p.ep.size).toBe(0);
    expect(p.ep.handleDatagram(p.client.send(PacketType.DATA, Uint8Array.of(1)), p.addr, p.port).deliver).toHaveLength(0);
    expect(p.ep.send(p.handle, PacketType.DATA, Uint8Array.of(1))).toBeNull();
  });

  test("refuses to register the same session ID twice", () => {
    const p = established();
    expect(() => p.ep.register({ sessionId: p.handle.sessionId, mode: { kind: "psk", key: randomBytes(32), allowedSuites: null }, owner: "x", dataMtu: 1400 })).toThrow();
  });
});

describe("data framing (protocol.md §4.4)", () => {
  test("answers a DPD-REQ with the same bytes typed DPD-RESP", () => {
    const p = established();
    const r = p.ep.handleDatagram(p.client.send(PacketType.DPD_REQ, Uint8Array.of(0xaa, 0xbb)), p.addr, p.port);
    expect(r.sendTo).toHaveLength(1);
    const got = p.client.receive(r.sendTo[0]!.bytes).data;
    expect(got).toEqual([{ type: PacketType.DPD_RESP, payload: Uint8Array.of(0xaa, 0xbb) }]);
    expect(r.events.map((e) => e.event)).toEqual([{ kind: "dpd", bytes: 2, probe: false }]);
    expect(p.handle.lastReceivedAt).toBe(p.clock.t);
  });

  test("answers an MTU probe larger than the data MTU with a 1-byte DPD-RESP", () => {
    const p = established();
    p.handle.dataMtu = 100;
    const r = p.ep.handleDatagram(p.client.send(PacketType.DPD_REQ, new Uint8Array(101)), p.addr, p.port);
    const got = p.client.receive(r.sendTo[0]!.bytes).data;
    expect(got).toEqual([{ type: PacketType.DPD_RESP, payload: new Uint8Array(0) }]);
    expect(r.events.map((e) => e.event)).toEqual([{ kind: "dpd", bytes: 101, probe: true }]);
  });

  test("reports DISCONNECT with its reason byte and ignores keepalives and empty DATA", () => {
    const p = established();
    const bye = p.ep.handleDatagram(p.client.send(PacketType.DISCONNECT, Uint8Array.of(0xb0)), p.addr, p.port);
    expect(bye.events.map((e) => e.event)).toEqual([{ kind: "disconnect", reason: 0xb0 }]);
    const ka = p.ep.handleDatagram(p.client.send(PacketType.KEEPALIVE, new Uint8Array(0)), p.addr, p.port);
    expect(ka.sendTo.length + ka.deliver.length + ka.events.length).toBe(0);
    const empty = p.ep.handleDatagram(p.client.send(PacketType.DATA, new Uint8Array(0)), p.addr, p.port);
    expect(empty.deliver).toHaveLength(0);
  });

  test("delivers COMPRESSED packets with their type for the caller to decompress", () => {
    const p = established();
    const r = p.ep.handleDatagram(p.client.send(PacketType.COMPRESSED, Uint8Array.of(1, 2)), p.addr, p.port);
    expect(r.deliver.map((d) => d.type)).toEqual([PacketType.COMPRESSED]);
  });

  test("a close_notify from the client ends DTLS for the session but keeps it registered", () => {
    const p = established();
    const r = p.ep.handleDatagram(p.client.sendAlert(1, 0), p.addr, p.port);
    expect(events({ ...p, results: [r] })).toEqual(["closed"]);
    expect(p.handle.established).toBe(false);
    expect(p.ep.send(p.handle, PacketType.DATA, Uint8Array.of(1))).toBeNull();
    expect(p.ep.size).toBe(1);
  });
});

describe("renegotiation", () => {
  test("answers a ClientHello inside the established session with a no_renegotiation warning", () => {
    const p = established();
    // an encrypted epoch-1 handshake record holding a ClientHello header and some body
    const body = new Uint8Array(40);
    const hs = Uint8Array.from([1, 0, 0, 40, 0, 5, 0, 0, 0, 0, 0, 40, ...body]);
    const rec = (p.client as unknown as { sealed(t: number, b: Uint8Array): Uint8Array }).sealed(22, hs);
    const r = p.ep.handleDatagram(rec, p.addr, p.port);
    expect(r.sendTo).toHaveLength(1);
    expect(p.client.receive(r.sendTo[0]!.bytes).alerts.map((a) => [...a])).toEqual([[1, 100]]);
    expect(p.handle.established).toBe(true);
  });
});
