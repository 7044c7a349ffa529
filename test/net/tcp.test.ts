import { describe, expect, test } from "bun:test";
import type { Socket } from "bun";
import { NetError } from "../../src/net/errors.ts";
import { listenTcp, type TcpConnection, type TcpListenOptions } from "../../src/net/tcp.ts";

interface Client {
  socket: Socket<undefined>;
  received: () => Uint8Array;
  closed: Promise<void>;
  waitFor(n: number): Promise<void>;
}

async function connect(port: number, paused = false): Promise<Client> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  let waiter: { n: number; resolve: () => void } | null = null;
  let onClose: () => void = () => {};
  const closed = new Promise<void>((r) => (onClose = r));
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      binaryType: "uint8array",
      open(s) {
        if (paused) s.pause();
      },
      data(_s, d) {
        chunks.push(new Uint8Array(d));
        total += d.length;
        if (waiter !== null && total >= waiter.n) waiter.resolve();
      },
      close() {
        onClose();
      },
    },
  });
  return {
    socket,
    closed,
    received: () => {
      const out = new Uint8Array(total);
      let o = 0;
      for (const c of chunks) {
        out.set(c, o);
        o += c.length;
      }
      return out;
    },
    waitFor: (n) => (total >= n ? Promise.resolve() : new Promise((resolve) => (waiter = { n, resolve }))),
  };
}

function serve(opts: TcpListenOptions = {}) {
  let resolveConn: (c: { conn: TcpConnection; events: string[]; data: Uint8Array[]; closeError: () => Error | null | undefined }) => void;
  const accepted = new Promise<{ conn: TcpConnection; events: string[]; data: Uint8Array[]; closeError: () => Error | null | undefined }>(
    (r) => (resolveConn = r),
  );
  const listener = listenTcp({ hostname: "127.0.0.1", port: 0, ...opts }, (conn) => {
    const events: string[] = [];
    const data: Uint8Array[] = [];
    let closeError: Error | null | undefined;
    resolveConn({ conn, events, data, closeError: () => closeError });
    return {
      data: (b) => data.push(b.slice()),
      writable: () => events.push("writable"),
      close: (e) => {
        closeError = e;
        events.push("close");
      },
    };
  });
  return { listener, accepted };
}

describe("TCP listener adapter", () => {
  test("hands each connection to the handler with its addresses and delivers its bytes", async () => {
    const { listener, accepted } = serve();
    const c = await connect(listener.port);
    const { conn, data } = await accepted;
    expect(conn.remoteAddress).toBe("127.0.0.1");
    expect(conn.localPort).toBe(listener.port);
    c.socket.write(new Uint8Array([1, 2, 3]));
    for (let i = 0; i < 100 && data.length === 0; i++) await Bun.sleep(2);
    expect(data[0]).toEqual(new Uint8Array([1, 2, 3]));
    c.socket.end();
    listener.stop(true);
  });

  test("coalesces the records sent in one task into a single write", async () => {
    const { listener, accepted } = serve();
    const c = await connect(listener.port);
    const { conn } = await accepted;
    const before = conn.stats.writes;
    const rec = new Uint8Array(1400);
    for (let i = 0; i < 16; i++) {
      rec.fill(i);
      conn.send(rec); // copied: reusing `rec` is safe
    }
    await c.waitFor(16 * 1400);
    expect(conn.stats.writes - before).toBe(1);
    const got = c.received();
    for (let i = 0; i < 16; i++) expect(got[i * 1400 + 700]).toBe(i);
    c.socket.end();
    listener.stop(true);
  });

  test("keeps what the kernel did not take, reports congestion, and resumes in order after drain", async () => {
    const { listener, accepted } = serve({ highWaterMark: 256 * 1024, lowWaterMark: 64 * 1024, maxQueuedBytes: 64 * 1024 * 1024 });
    const c = await connect(listener.port, true);
    const { conn, events } = await accepted;
    const chunk = new Uint8Array(64 * 1024);
    let sent = 0;
    for (let i = 0; i < 2000 && !conn.congested; i++) {
      chunk.fill(i & 0xff);
      conn.send(chunk);
      sent += chunk.length;
      await Bun.sleep(0);
    }
    expect(conn.congested).toBe(true);
    expect(conn.queuedBytes).toBeGreaterThan(256 * 1024);
    expect(events).not.toContain("writable");
    c.socket.resume();
    await c.waitFor(sent);
    for (let i = 0; i < 100 && !events.includes("writable"); i++) await Bun.sleep(2);
    expect(events).toContain("writable");
    expect(conn.queuedBytes).toBe(0);
    const got = c.received();
    expect(got.length).toBe(sent);
    for (let k = 0; k < sent / chunk.length; k++) {
      expect(got[k * chunk.length]).toBe(k & 0xff);
      expect(got[k * chunk.length + chunk.length - 1]).toBe(k & 0xff);
    }
    c.socket.end();
    listener.stop(true);
  });

  test("closes a connection whose peer stops reading once the hard limit is passed", async () => {
    const { listener, accepted } = serve({ highWaterMark: 32 * 1024, lowWaterMark: 8 * 1024, maxQueuedBytes: 128 * 1024 });
    const c = await connect(listener.port, true);
    const { conn, events, closeError } = await accepted;
    const chunk = new Uint8Array(32 * 1024);
    for (let i = 0; i < 5000 && !conn.closed; i++) {
      conn.send(chunk);
      await Bun.sleep(0);
    }
    expect(conn.closed).toBe(true);
    expect(events).toContain("close");
    expect(closeError()).toBeInstanceOf(NetError);
    expect((closeError() as NetError).code).toBe("send-queue-overflow");
    expect(() => conn.send(chunk)).toThrow(NetError);
    await c.closed;
    listener.stop(true);
  });

  test("end() sends everything queued before closing", async () => {
    const { listener, accepted } = serve();
    const c = await connect(listener.port);
    const { conn } = await accepted;
    const big = new Uint8Array(3 * 1024 * 1024).fill(7);
    conn.send(big);
    conn.end();
    await c.closed;
    expect(c.received().length).toBe(big.length);
    listener.stop(true);
  });

  test("rejects inconsistent watermarks", () => {
    let err: unknown;
    try {
      listenTcp({ hostname: "127.0.0.1", port: 0, highWaterMark: 10, lowWaterMark: 20 }, () => ({ data() {}, close() {} }));
    } catch (e) {
      err = e;
    }
    expect((err as NetError).code).toBe("bad-argument");
  });
});

describe("a failing accept callback", () => {
  test("destroys only that connection, reports the error, and the listener serves the next client", async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const listener = listenTcp({ hostname: "127.0.0.1", port: 0, onAcceptError: (e) => errors.push(e) }, (conn) => {
      calls++;
      if (calls === 1) throw new Error("boom");
      return { data: (b) => conn.send(b), close() {} };
    });
    try {
      const first = await connect(listener.port);
      await first.closed;
      expect(errors.map((e) => (e as Error).message)).toEqual(["boom"]);
      const second = await connect(listener.port);
      second.socket.write(Uint8Array.of(1, 2, 3));
      await second.waitFor(3);
      expect([...second.received()]).toEqual([1, 2, 3]);
      second.socket.end();
    } finally {
      listener.stop(true);
    }
  });
});
