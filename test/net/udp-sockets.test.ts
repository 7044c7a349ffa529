import { describe, expect, test } from "bun:test";
import { createBoundSocket, getSocketInt, SOCKOPT } from "../../src/net/sockets.ts";
import { listenTcp } from "../../src/net/tcp.ts";
import { openUdp } from "../../src/net/udp.ts";
import { TunError } from "../../src/tun/errors.ts";

async function udpClient() {
  const got: { data: Uint8Array; port: number }[] = [];
  const sock = await Bun.udpSocket({
    hostname: "127.0.0.1",
    port: 0,
    binaryType: "uint8array",
    socket: {
      data: (_s, d, port) => {
        got.push({ data: new Uint8Array(d), port });
      },
    },
  });
  const wait = async (n: number) => {
    for (let i = 0; i < 200 && got.length < n; i++) await Bun.sleep(2);
  };
  return { sock, got, wait };
}

describe("UDP adapter", () => {
  test("a dual-stack socket on :: sees IPv4 peers as ::ffff: addresses and answers them in one batch", async () => {
    const seen: { data: Uint8Array; port: number; address: string }[] = [];
    const ep = await openUdp({ hostname: "::", port: 0 }, { datagram: (d, port, address) => seen.push({ data: d.slice(), port, address }) });
    const c = await udpClient();
    c.sock.send(new Uint8Array([9, 9]), ep.port, "127.0.0.1");
    for (let i = 0; i < 200 && seen.length === 0; i++) await Bun.sleep(2);
    expect(seen[0]?.address).toBe("::ffff:127.0.0.1");
    expect(seen[0]?.port).toBe(c.sock.port);
    for (let i = 0; i < 3; i++) {
      ep.queue(new Uint8Array([i, i, i]), seen[0]!.port, seen[0]!.address);
    }
    expect(ep.flush()).toBe(3);
    await c.wait(3);
    expect(c.got.map((g) => Array.from(g.data))).toEqual([
      [0, 0, 0],
      [1, 1, 1],
      [2, 2, 2],
    ]);
    expect(c.got[0]?.port).toBe(ep.port);
    ep.close();
    c.sock.close();
  });

  test("flush() with nothing queued sends nothing", async () => {
    const ep = await openUdp({ hostname: "127.0.0.1", port: 0 }, { datagram() {} });
    expect(ep.flush()).toBe(0);
    ep.close();
  });
});

describe("FFI-created sockets adopted by Bun", () => {
  test("two UDP sockets share a port with SO_REUSEPORT, and an adopted one exchanges datagrams", async () => {
    const a = createBoundSocket({ type: "udp", address: "127.0.0.1", port: 0, reusePort: true, receiveBuffer: 4 * 1024 * 1024 });
    const b = createBoundSocket({ type: "udp", address: "127.0.0.1", port: a.port, reusePort: true });
    expect(b.port).toBe(a.port);
    expect(getSocketInt(a.fd, SOCKOPT.SOL_SOCKET, SOCKOPT.SO_REUSEPORT)).toBe(1);
    // Linux reports twice the requested size (the bookkeeping overhead).
    expect(getSocketInt(a.fd, SOCKOPT.SOL_SOCKET, SOCKOPT.SO_RCVBUF)).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    const seen: Uint8Array[] = [];
    const ep = await openUdp({ fd: a.fd }, { datagram: (d) => seen.push(d.slice()) });
    const epb = await openUdp({ fd: b.fd }, { datagram: (d) => seen.push(d.slice()) });
    expect(ep.port).toBe(a.port);
    const c = await udpClient();
    c.sock.send(new Uint8Array([42]), a.port, "127.0.0.1");
    for (let i = 0; i < 200 && seen.length === 0; i++) await Bun.sleep(2);
    expect(seen).toEqual([new Uint8Array([42])]);
    ep.close();
    epb.close();
    c.sock.close();
  });

  test("a UDP socket without SO_REUSEPORT cannot share a bound port", () => {
    const a = createBoundSocket({ type: "udp", address: "127.0.0.1", port: 0 });
    let err: unknown;
    try {
      createBoundSocket({ type: "udp", address: "127.0.0.1", port: a.port });
    } catch (e) {
      err = e;
    }
    expect((err as TunError).code).toBe("io-failed");
    expect((err as TunError).errno).toBe(98); // EADDRINUSE
    // Bun never adopted `a`; hand it to a socket to close it.
    return openUdp({ fd: a.fd }, { datagram() {} }).then((ep) => ep.close());
  });

  test("sets IP_MTU_DISCOVER so DTLS datagrams carry DF", () => {
    const s = createBoundSocket({ type: "udp", address: "127.0.0.1", port: 0, mtuDiscover: "do" });
    expect(getSocketInt(s.fd, SOCKOPT.IPPROTO_IP, SOCKOPT.IP_MTU_DISCOVER)).toBe(2);
    const s6 = createBoundSocket({ type: "udp", address: "::", port: 0, mtuDiscover: "probe", v6Only: false });
    expect(getSocketInt(s6.fd, SOCKOPT.IPPROTO_IPV6, SOCKOPT.IPV6_MTU_DISCOVER)).toBe(3);
    expect(getSocketInt(s6.fd, SOCKOPT.IPPROTO_IPV6, SOCKOPT.IPV6_V6ONLY)).toBe(0);
    return Promise.all([openUdp({ fd: s.fd }, { datagram() {} }), openUdp({ fd: s6.fd }, { datagram() {} })]).then((eps) => {
      for (const e of eps) e.close();
    });
  });

  test("an FFI listening TCP socket is adopted by listenTcp and accepts connections", async () => {
    const s = createBoundSocket({ type: "tcp", address: "127.0.0.1", port: 0, reusePort: true });
    let accepted = 0;
    const l = listenTcp({ fd: s.fd }, () => {
      accepted++;
      return { data() {}, close() {} };
    });
    const c = await Bun.connect({ hostname: "127.0.0.1", port: s.port, socket: { data() {} } });
    for (let i = 0; i < 200 && accepted === 0; i++) await Bun.sleep(2);
    expect(accepted).toBe(1);
    c.end();
    l.stop(true);
  });

  test("rejects a bad address or port with bad-argument", () => {
    const codes: string[] = [];
    for (const spec of [
      { type: "udp", address: "1.2.3", port: 0 },
      { type: "udp", address: "127.0.0.1", port: 70000 },
      { type: "udp", address: "127.0.0.1", port: 0, receiveBuffer: 3 },
    ] as const) {
      try {
        createBoundSocket(spec);
      } catch (e) {
        codes.push((e as TunError).code);
      }
    }
    expect(codes).toEqual(["bad-argument", "bad-argument", "bad-argument"]);
  });
});
