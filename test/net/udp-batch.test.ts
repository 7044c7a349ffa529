import { describe, expect, test } from "bun:test";
import { createBoundSocket } from "../../src/net/sockets.ts";
import { openBatchUdp } from "../../src/net/udp-batch.ts";

async function udpClient(hostname = "127.0.0.1") {
  const got: { data: Uint8Array; port: number; address: string }[] = [];
  const sock = await Bun.udpSocket({
    hostname,
    port: 0,
    binaryType: "uint8array",
    socket: {
      data: (_s, d, port, address) => {
        got.push({ data: new Uint8Array(d), port, address });
      },
    },
  });
  const wait = async (n: number) => {
    for (let i = 0; i < 500 && got.length < n; i++) await Bun.sleep(2);
  };
  return { sock, got, wait };
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await Bun.sleep(2);
}

describe("batched UDP receive (recvmmsg) and send (sendmmsg)", () => {
  test("every datagram of a burst is delivered exactly once, with the sender's port and address", async () => {
    const s = createBoundSocket({ type: "udp", address: "127.0.0.1", port: 0, receiveBuffer: 8 * 1024 * 1024 });
    const counts = new Map<number, number>();
    const peers = new Set<string>();
    const ep = openBatchUdp({ fd: s.fd }, {
      datagram(d, port, address) {
        const seq = new DataView(d.buffer, d.byteOffset, d.byteLength).getUint32(0, false);
        counts.set(seq, (counts.get(seq) ?? 0) + 1);
        peers.add(`${address}|${port}`);
        expect(d.length).toBe(1000);
      },
    });
    const c = await udpClient();
    const total = 3000;
    // Paced in chunks so the socket buffer (8 MiB) never overflows: a loss would be the kernel's, not ours.
    for (let base = 0; base < total; base += 100) {
      const list: (Uint8Array | number | string)[] = [];
      for (let i = base; i < base + 100; i++) {
        const b = new Uint8Array(1000);
        new DataView(b.buffer).setUint32(0, i, false);
        list.push(b, ep.port, "127.0.0.1");
      }
      let off = 0;
      while (off < list.length) off += c.sock.sendMany(off === 0 ? list : list.slice(off)) * 3;
      await Bun.sleep(0);
    }
    await until(() => counts.size >= total);
    await Bun.sleep(20);
    expect(counts.size).toBe(total);
    for (const n of counts.values()) expect(n).toBe(1);
    expect(ep.received).toBe(total);
    expect([...peers]).toEqual([`127.0.0.1|${c.sock.port}`]);
    ep.close();
    c.sock.close();
  });

  test("a dual-stack socket reports IPv4 peers as ::ffff: text and answers them from its own port", async () => {
    const s = createBoundSocket({ type: "udp", address: "::", port: 0, v6Only: false });
    const seen: { data: number[]; port: number; address: string }[] = [];
    const ep = openBatchUdp({ fd: s.fd }, { datagram: (d, port, address) => seen.push({ data: Array.from(d), port, address }) });
    expect(ep.port).toBe(s.port);
    const c4 = await udpClient("127.0.0.1");
    const c6 = await udpClient("::1");
    c4.sock.send(new Uint8Array([4, 4]), ep.port, "127.0.0.1");
    c6.sock.send(new Uint8Array([6, 6]), ep.port, "::1");
    c4.sock.send(new Uint8Array([4, 5]), ep.port, "127.0.0.1");
    await until(() => seen.length >= 3);
    const v4 = seen.filter((x) => x.data[0] === 4);
    const v6 = seen.find((x) => x.data[0] === 6);
    expect(v4.map((x) => x.address)).toEqual(["::ffff:127.0.0.1", "::ffff:127.0.0.1"]);
    expect(v4[0]?.port).toBe(c4.sock.port);
    expect(v6?.address).toBe("::1");
    expect(v6?.port).toBe(c6.sock.port);
    // Replies to both the ::ffff: text and the plain IPv4 text (what the DTLS service uses) arrive.
    ep.queue(new Uint8Array([1]), c4.sock.port, "::ffff:127.0.0.1");
    ep.queue(new Uint8Array([2]), c4.sock.port, "127.0.0.1");
    ep.queue(new Uint8Array([3]), c6.sock.port, "::1");
    expect(ep.flush()).toBe(3);
    await c4.wait(2);
    await c6.wait(1);
    expect(c4.got.map((g) => g.data[0])).toEqual([1, 2]);
    expect(c4.got[0]?.port).toBe(ep.port);
    expect(c6.got[0]?.data[0]).toBe(3);
    expect(c6.got[0]?.port).toBe(ep.port);
    ep.close();
    c4.sock.close();
    c6.sock.close();
  });

  test("a refused datagram is reported through sendFailed and the rest of the batch is still sent", async () => {
    const s = createBoundSocket({ type: "udp", address: "127.0.0.1", port: 0 });
    const failed: { code: string; port: number; address: string }[] = [];
    const ep = openBatchUdp({ fd: s.fd }, { datagram() {}, sendFailed: (code, _d, port, address) => failed.push({ code, port, address }) });
    const c = await udpClient();
    ep.queue(new Uint8Array([1]), c.sock.port, "127.0.0.1");
    // Larger than any UDP datagram can be.
    ep.queue(new Uint8Array(70000), c.sock.port, "127.0.0.1");
    // An IPv6 peer cannot be reached from an IPv4 socket.
    ep.queue(new Uint8Array([2]), 9, "::1");
    ep.queue(new Uint8Array([3]), c.sock.port, "127.0.0.1");
    expect(ep.flush()).toBe(4);
    expect(failed).toEqual([
      { code: "EMSGSIZE", port: c.sock.port, address: "127.0.0.1" },
      { code: "EAFNOSUPPORT", port: 9, address: "::1" },
    ]);
    await c.wait(2);
    expect(c.got.map((g) => g.data[0])).toEqual([1, 3]);
    ep.close();
    c.sock.close();
  });

  test("flush() with nothing queued sends nothing, and a closed endpoint refuses to flush", async () => {
    const s = createBoundSocket({ type: "udp", address: "127.0.0.1", port: 0 });
    const ep = openBatchUdp({ fd: s.fd }, { datagram() {} });
    expect(ep.flush()).toBe(0);
    ep.close();
    ep.queue(new Uint8Array([1]), 9, "127.0.0.1");
    expect(() => ep.flush()).toThrow();
  });
});

describe("batched UDP receive robustness", () => {
  test("a handler that throws on one datagram does not stop the next ones from arriving", async () => {
    const s = createBoundSocket({ type: "udp", address: "127.0.0.1", port: 0 });
    const seen: number[] = [];
    const errors: string[] = [];
    const ep = openBatchUdp({ fd: s.fd }, {
      datagram(d) {
        if (d[0] === 0) throw new Error("bad datagram");
        seen.push(d[0]!);
      },
      error: (e) => errors.push(e.message),
    });
    const c = await udpClient();
    c.sock.send(new Uint8Array([0]), ep.port, "127.0.0.1");
    await until(() => errors.length >= 1);
    c.sock.send(new Uint8Array([7]), ep.port, "127.0.0.1");
    await until(() => seen.length >= 1);
    expect(errors).toEqual(["bad datagram"]);
    expect(seen).toEqual([7]);
    ep.close();
    c.sock.close();
  });
});
