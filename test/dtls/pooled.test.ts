// The allocation-free DTLS packet path: sealing into the caller's (pooled) buffer and handling
// datagrams into one reused outbox must behave exactly like send() and the fresh-outbox form.
import { test, expect, describe } from "bun:test";
import { randomBytes } from "../../src/crypto/index.ts";
import { PacketType, type DtlsResult } from "../../src/dtls/index.ts";
import { DTLS1_2 } from "./client.ts";
import { establishedPsk as established, makePair } from "./harness.ts";


describe("sealing into a pooled buffer", () => {
  test("one buffer reused for several packets gives records the client opens in order", () => {
    const p = established();
    const buf = new Uint8Array(2048);
    const got: number[] = [];
    for (let i = 1; i <= 3; i++) {
      const payload = new Uint8Array(100 * i).fill(i);
      const need = p.ep.sealedLength(p.handle, payload.length);
      const n = p.ep.sealInto(p.handle, PacketType.DATA, payload, buf);
      expect(n).toBe(need);
      const r = p.client.receive(buf.slice(0, n));
      expect(r.data).toHaveLength(1);
      expect(r.data[0]!.type).toBe(PacketType.DATA);
      expect(r.data[0]!.payload).toEqual(payload);
      got.push(r.data[0]!.payload[0]!);
    }
    expect(got).toEqual([1, 2, 3]);
  });

  test("interleaves with send(): both draw on the same sequence numbers", () => {
    const p = established();
    const buf = new Uint8Array(2048);
    const a = p.ep.send(p.handle, PacketType.DATA, Uint8Array.of(1))!.bytes;
    const n = p.ep.sealInto(p.handle, PacketType.DATA, Uint8Array.of(2), buf);
    const c = p.ep.send(p.handle, PacketType.DATA, Uint8Array.of(3))!.bytes;
    // A repeated sequence number would be dropped by the client's replay window.
    for (const [d, want] of [[a, 1], [buf.slice(0, n), 2], [c, 3]] as const) expect(p.client.receive(d).data[0]!.payload).toEqual(Uint8Array.of(want));
  });

  test("refuses a buffer that is too short, and consumes no sequence number doing so", () => {
    const p = established();
    const payload = new Uint8Array(500);
    const need = p.ep.sealedLength(p.handle, payload.length);
    expect(p.ep.sealInto(p.handle, PacketType.DATA, payload, new Uint8Array(need - 1))).toBe(-1);
    const ok = p.ep.send(p.handle, PacketType.DATA, payload)!.bytes;
    expect(p.client.receive(ok).data).toHaveLength(1);
  });

  test("is refused before DTLS is established and after the session is gone", () => {
    const key = randomBytes(32);
    const p = makePair({ kind: "psk", key, allowedSuites: null }, { kind: "psk", version: DTLS1_2, sessionId: randomBytes(32), psk: key, suites: [0x00a9] });
    expect(p.ep.sealedLength(p.handle, 10)).toBe(-1);
    expect(p.ep.sealInto(p.handle, PacketType.DATA, new Uint8Array(10), new Uint8Array(2048))).toBe(-1);
    p.pump(p.client.hello());
    p.ep.unregister(p.handle);
    expect(p.ep.sealInto(p.handle, PacketType.DATA, new Uint8Array(10), new Uint8Array(2048))).toBe(-1);
  });
});

describe("handling datagrams into a reused outbox", () => {
  test("appends deliveries to the caller's outbox and returns it", () => {
    const p = established();
    const rx: DtlsResult<string> = { sendTo: [], deliver: [], events: [] };
    const d1 = p.client.send(PacketType.DATA, Uint8Array.of(1, 2, 3));
    const d2 = p.client.send(PacketType.DATA, Uint8Array.of(4, 5));
    expect(p.ep.handleDatagram(d1, p.addr, p.port, rx)).toBe(rx);
    expect(p.ep.handleDatagram(d2, p.addr, p.port, rx)).toBe(rx);
    expect(rx.deliver.map((x) => [...x.payload])).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    expect(rx.deliver.every((x) => x.owner === "s1")).toBe(true);
  });

  test("a DPD request's answer lands in the caller's outbox", () => {
    const p = established();
    const rx: DtlsResult<string> = { sendTo: [], deliver: [], events: [] };
    p.ep.handleDatagram(p.client.send(PacketType.DPD_REQ, new Uint8Array(20)), p.addr, p.port, rx);
    expect(rx.sendTo).toHaveLength(1);
    expect(rx.events.map((e) => e.event.kind)).toEqual(["dpd"]);
    expect(p.client.receive(rx.sendTo[0]!.bytes).data[0]!.type).toBe(PacketType.DPD_RESP);
  });

  test("a datagram from an unknown address leaves the caller's outbox untouched", () => {
    const p = established();
    const rx: DtlsResult<string> = { sendTo: [], deliver: [], events: [] };
    const r = p.ep.handleDatagram(p.client.send(PacketType.DATA, Uint8Array.of(1)), "198.51.100.9", 1234, rx);
    expect(r.deliver).toHaveLength(0);
    expect(rx.deliver).toHaveLength(0);
  });
});
