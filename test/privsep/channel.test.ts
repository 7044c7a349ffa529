import { test, expect, describe } from "bun:test";
import { openSync, readdirSync, readSync, closeSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Channel, ChannelError, RemoteError, encodeFrame, FrameKind, takeFrame, type Message, type Reply } from "../../src/privsep/channel.ts";
import { closeFd, fdIsOpen, recvWithFd, sendWithFd, socketPair } from "../../src/privsep/libc.ts";

async function pair(handlers: { a?: (m: Message) => Reply | Promise<Reply>; b?: (m: Message) => Reply | Promise<Reply> } = {}, maxMessage?: number) {
  const [d0, d1] = socketPair("stream");
  const [f0, f1] = socketPair("seqpacket");
  const closes: string[] = [];
  const a = await Channel.open({ dataFd: d0, fdSocket: f0, ...(handlers.a ? { onRequest: handlers.a } : {}), onClose: (r) => closes.push(`a:${r.kind}`), ...(maxMessage ? { maxMessage } : {}) });
  const b = await Channel.open({ dataFd: d1, fdSocket: f1, ...(handlers.b ? { onRequest: handlers.b } : {}), onClose: (r) => closes.push(`b:${r.kind}`), ...(maxMessage ? { maxMessage } : {}) });
  return { a, b, closes };
}

describe("libc fd passing", () => {
  test("a descriptor sent with sendWithFd arrives as a new, working descriptor", () => {
    const dir = mkdtempSync(join(tmpdir(), "privsep-"));
    try {
      writeFileSync(join(dir, "f"), "through the socket");
      const [s0, s1] = socketPair("seqpacket");
      const fd = openSync(join(dir, "f"), "r");
      sendWithFd(s0, new Uint8Array([7, 8, 9]), fd);
      closeSync(fd);
      const got = recvWithFd(s1, 16);
      expect(got).not.toBeNull();
      expect([...got!.payload]).toEqual([7, 8, 9]);
      expect(got!.fd).not.toBeNull();
      const buf = new Uint8Array(64);
      const n = readSync(got!.fd!, buf, 0, 64, 0);
      expect(new TextDecoder().decode(buf.subarray(0, n))).toBe("through the socket");
      closeFd(got!.fd!);
      expect(recvWithFd(s1, 16)).toBeNull();
      closeFd(s0);
      closeFd(s1);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  test("a message longer than the receiver's bound is refused and its descriptor is closed", () => {
    const [s0, s1] = socketPair("seqpacket");
    const fd = openSync("/dev/null", "r");
    sendWithFd(s0, new Uint8Array(100), fd);
    closeSync(fd);
    expect(() => recvWithFd(s1, 10)).toThrow("exceeds");
    closeFd(s0);
    closeFd(s1);
  });
});

describe("frame codec", () => {
  test("a frame round-trips and an incomplete one asks for more bytes", () => {
    const f = encodeFrame(FrameKind.Request, 42, 7, true, new Uint8Array([1, 2, 3]));
    expect(takeFrame(f, f.length - 1, 1024)).toBeNull();
    const got = takeFrame(f, f.length, 1024)!;
    expect(got.size).toBe(f.length);
    expect(got.frame).toEqual({ kind: FrameKind.Request, id: 42, type: 7, hasFd: true, body: new Uint8Array([1, 2, 3]) });
  });

  test("rejects an oversized length before buffering the body", () => {
    const f = encodeFrame(FrameKind.Notify, 0, 1, false, new Uint8Array(100));
    expect(() => takeFrame(f, 4, 50)).toThrow(ChannelError);
  });

  test("rejects unknown kinds and flags", () => {
    const f = encodeFrame(FrameKind.Notify, 0, 1, false, new Uint8Array(0));
    const badKind = f.slice();
    badKind[4] = 9;
    expect(() => takeFrame(badKind, badKind.length, 64)).toThrow("unknown frame kind");
    const badFlags = f.slice();
    badFlags[11] = 2;
    expect(() => takeFrame(badFlags, badFlags.length, 64)).toThrow("unknown frame flags");
  });
});

describe("Channel", () => {
  test("answers requests in both directions, matched by id even when answers come out of order", async () => {
    const { a, b } = await pair({
      b: async (m) => {
        if (m.body[0] === 1) await Bun.sleep(20);
        return { type: m.type + 1, body: new Uint8Array([m.body[0]! * 10]) };
      },
      a: (m) => ({ type: m.type, body: m.body }),
    });
    const slow = a.request(5, new Uint8Array([1]));
    const fast = a.request(5, new Uint8Array([2]));
    const order: number[] = [];
    void slow.then(() => order.push(1));
    void fast.then(() => order.push(2));
    expect((await slow).body[0]).toBe(10);
    expect((await fast).type).toBe(6);
    expect(order).toEqual([2, 1]);
    expect([...(await b.request(9, new Uint8Array([4, 5]))).body]).toEqual([4, 5]);
    a.close();
    b.close();
  });

  test("carries a large message split over many socket reads", async () => {
    const big = new Uint8Array(200_000).map((_, i) => i & 0xff);
    const { a, b } = await pair({ b: (m) => ({ type: 1, body: m.body.subarray(0, 10) }) });
    const ans = await a.request(1, big);
    expect([...ans.body]).toEqual([...big.subarray(0, 10)]);
    a.close();
    b.close();
  });

  test("an error thrown as RemoteError reaches the requester with its code; other errors are not described", async () => {
    const { a, b } = await pair({
      b: (m) => {
        if (m.type === 1) throw new RemoteError("denied", "no");
        throw new Error("secret detail");
      },
    });
    const e1 = await a.request(1, new Uint8Array(0)).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(ChannelError);
    expect((e1 as ChannelError).remoteCode).toBe("denied");
    const e2 = (await a.request(2, new Uint8Array(0)).catch((e: unknown) => e)) as ChannelError;
    expect(e2.remoteCode).toBe("internal");
    expect(e2.message).not.toContain("secret detail");
    a.close();
    b.close();
  });

  test("passes a descriptor with a request and with a response", async () => {
    const dir = mkdtempSync(join(tmpdir(), "privsep-"));
    writeFileSync(join(dir, "req"), "request file");
    writeFileSync(join(dir, "rep"), "reply file");
    const read = (fd: number) => {
      const buf = new Uint8Array(64);
      const n = readSync(fd, buf, 0, 64, 0);
      closeSync(fd);
      return new TextDecoder().decode(buf.subarray(0, n));
    };
    let seen = "";
    const { a, b } = await pair({
      b: (m) => {
        seen = read(m.fd!);
        return { type: 2, body: new Uint8Array([1]), fd: openSync(join(dir, "rep"), "r") };
      },
    });
    const fd = openSync(join(dir, "req"), "r");
    const ans = await a.request(1, new Uint8Array([0]), { fd });
    closeSync(fd);
    expect(seen).toBe("request file");
    expect(ans.fd).not.toBeNull();
    expect(read(ans.fd!)).toBe("reply file");
    a.close();
    b.close();
    rmSync(dir, { recursive: true });
  });

  test("descriptors do not leak: a reply's descriptor is closed on the sending side once sent", async () => {
    const { a, b } = await pair({ b: () => ({ type: 1, body: new Uint8Array([1]), fd: openSync("/dev/null", "r") }) });
    await a.request(1, new Uint8Array(0)).then((m) => closeFd(m.fd!));
    const before = readdirSync("/proc/self/fd").length;
    for (let i = 0; i < 20; i++) {
      const m = await a.request(1, new Uint8Array(0));
      expect(m.fd).not.toBeNull();
      closeFd(m.fd!);
    }
    expect(readdirSync("/proc/self/fd").length).toBe(before);
    a.close();
    b.close();
  });

  test("a closed peer rejects pending requests with peer-closed and reports the close", async () => {
    const { a, b, closes } = await pair({ b: () => new Promise<Reply>(() => undefined) });
    const p = a.request(1, new Uint8Array(0));
    await Bun.sleep(10);
    b.close();
    const e = (await p.catch((x: unknown) => x)) as ChannelError;
    expect(e.code).toBe("peer-closed");
    expect(closes).toContain("a:peer-closed");
    expect(closes).toContain("b:local");
    expect(a.closed).toBe(true);
  });

  test("a peer sending an oversized frame is cut off as a protocol error", async () => {
    const [d0, d1] = socketPair("stream");
    const reasons: string[] = [];
    const a = await Channel.open({ dataFd: d0, fdSocket: null, maxMessage: 64, onClose: (r) => reasons.push(r.kind) });
    const raw = await Channel.open({ dataFd: d1, fdSocket: null });
    raw.notify(1, new Uint8Array(1000));
    await Bun.sleep(30);
    expect(reasons).toEqual(["protocol"]);
    expect(raw.closed).toBe(true);
    a.close();
  });

  test("a frame announcing a descriptor that never came closes the channel", async () => {
    const [d0, d1] = socketPair("stream");
    const [f0, f1] = socketPair("seqpacket");
    const reasons: string[] = [];
    const a = await Channel.open({ dataFd: d0, fdSocket: f0, onClose: (r) => reasons.push(r.kind), onNotify: () => undefined });
    // Write the frame by hand on a channel that has no fd socket, flagged HAS_FD.
    const liar = await Channel.open({ dataFd: d1, fdSocket: null });
    (liar as unknown as { outq: Uint8Array[]; flush(): void }).outq.push(encodeFrame(FrameKind.Notify, 0, 3, true, new Uint8Array(0)));
    (liar as unknown as { flush(): void }).flush();
    await Bun.sleep(30);
    expect(reasons).toEqual(["protocol"]);
    expect(fdIsOpen(f0)).toBe(false);
    closeFd(f1);
    liar.close();
  });

  test("a request on a closed channel is rejected at once", async () => {
    const { a, b } = await pair();
    a.close();
    const e = (await a.request(1, new Uint8Array(0)).catch((x: unknown) => x)) as ChannelError;
    expect(e.code).toBe("closed");
    b.close();
  });
});
