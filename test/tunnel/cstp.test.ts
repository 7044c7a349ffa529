import { describe, expect, test } from "bun:test";
import { CstpDeframer, CstpError, controlPacket, writeCstpHeader, type CstpSink } from "../../src/server/tunnel/cstp.ts";

function frame(type: number, payload: number[] = []): Uint8Array {
  const b = new Uint8Array(8 + payload.length);
  writeCstpHeader(b, 0, type, payload.length);
  b.set(payload, 8);
  return b;
}

function collector(): { sink: CstpSink; got: { type: number; payload: number[] }[] } {
  const got: { type: number; payload: number[] }[] = [];
  return { got, sink: { packet: (type, payload) => got.push({ type, payload: [...payload] }) } };
}

function errorCode(f: () => void): string {
  try {
    f();
    return "none";
  } catch (e) {
    return e instanceof CstpError ? e.code : String(e);
  }
}

describe("CSTP framing", () => {
  test("the header is STF, 1, big-endian length, type, 0", () => {
    expect([...frame(0x05, [0xb0])]).toEqual([0x53, 0x54, 0x46, 0x01, 0x00, 0x01, 0x05, 0x00, 0xb0]);
    expect([...controlPacket(0x03)]).toEqual([0x53, 0x54, 0x46, 0x01, 0, 0, 0x03, 0]);
    const big = new Uint8Array(8);
    writeCstpHeader(big, 0, 0, 0x1234);
    expect([big[4], big[5]]).toEqual([0x12, 0x34]);
  });

  test("one packet per record is delivered as is", () => {
    const d = new CstpDeframer(1500);
    const c = collector();
    d.push(frame(0, [0x45, 1, 2]), c.sink);
    expect(c.got).toEqual([{ type: 0, payload: [0x45, 1, 2] }]);
  });

  test("two packets merged in one record are both delivered", () => {
    const d = new CstpDeframer(1500);
    const c = collector();
    const a = frame(0, [1, 2, 3]);
    const b = frame(7);
    const merged = new Uint8Array(a.length + b.length);
    merged.set(a);
    merged.set(b, a.length);
    d.push(merged, c.sink);
    expect(c.got).toEqual([{ type: 0, payload: [1, 2, 3] }, { type: 7, payload: [] }]);
  });

  test("a packet split across records, even inside the header, is reassembled", () => {
    const d = new CstpDeframer(1500);
    const c = collector();
    const p = frame(0, [9, 8, 7, 6, 5]);
    d.push(p.subarray(0, 3), c.sink);
    d.push(p.subarray(3, 10), c.sink);
    expect(c.got).toEqual([]);
    expect(d.buffered).toBe(10);
    d.push(p.subarray(10), c.sink);
    expect(c.got).toEqual([{ type: 0, payload: [9, 8, 7, 6, 5] }]);
    expect(d.buffered).toBe(0);
  });

  test("a split tail followed by a whole packet in the same record", () => {
    const d = new CstpDeframer(1500);
    const c = collector();
    const p = frame(0, [1, 2, 3, 4]);
    const q = frame(4);
    d.push(p.subarray(0, 9), c.sink);
    const rest = new Uint8Array(p.length - 9 + q.length);
    rest.set(p.subarray(9));
    rest.set(q, p.length - 9);
    d.push(rest, c.sink);
    expect(c.got).toEqual([{ type: 0, payload: [1, 2, 3, 4] }, { type: 4, payload: [] }]);
  });

  test("a bad magic is rejected, even when only its first bytes have arrived", () => {
    expect(errorCode(() => new CstpDeframer(1500).push(new Uint8Array([0x53, 0x54, 0x47, 1, 0, 0, 0, 0]), collector().sink))).toBe("bad-magic");
    expect(errorCode(() => new CstpDeframer(1500).push(new Uint8Array([0x47, 0x45]), collector().sink))).toBe("bad-magic");
  });

  test("a non-zero byte 7 is rejected", () => {
    const f = frame(0, [1]);
    f[7] = 1;
    expect(errorCode(() => new CstpDeframer(1500).push(f, collector().sink))).toBe("bad-reserved-byte");
  });

  test("a length beyond the bound is rejected before the payload arrives, and the deframer stays failed", () => {
    const d = new CstpDeframer(100);
    const h = new Uint8Array(8);
    writeCstpHeader(h, 0, 0, 101);
    expect(errorCode(() => d.push(h, collector().sink))).toBe("too-long");
    expect(errorCode(() => d.push(frame(4), collector().sink))).toBe("too-long");
  });
});
