// src/net/sockopt.ts on real loopback connections made by Bun.listen / Bun.connect: the fd of an
// accepted socket is found by its addresses, the options are set, and getsockopt reads them back.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import { SOCKOPT_NUMBERS as N, SocketOptions, SockoptError } from "../../src/net/sockopt.ts";
import type { TunnelTransport } from "../../src/server/contract.ts";

interface Pair {
  readonly listener: TCPSocketListener<undefined>;
  readonly server: Socket<undefined>;
  readonly client: Socket<undefined>;
  close(): void;
}

/** A listener on `listenHost` and one client connected to it from `connectHost`; resolves once accepted. */
async function pair(listenHost: string, connectHost: string): Promise<Pair> {
  let accepted: (s: Socket<undefined>) => void = () => {};
  const acceptedP = new Promise<Socket<undefined>>((r) => (accepted = r));
  const listener = Bun.listen<undefined>({
    hostname: listenHost,
    port: 0,
    socket: { open: (s) => accepted(s), data() {} },
  });
  const client = await Bun.connect<undefined>({ hostname: connectHost, port: listener.port, socket: { data() {} } });
  const server = await acceptedP;
  return {
    listener,
    server,
    client,
    close() {
      client.end();
      server.end();
      listener.stop(true);
    },
  };
}

function hasIpv6Loopback(): boolean {
  try {
    const l = Bun.listen({ hostname: "::1", port: 0, socket: { data() {} } });
    l.stop(true);
    return true;
  } catch {
    return false;
  }
}

const so = new SocketOptions();
let v4: Pair;

beforeAll(async () => {
  v4 = await pair("127.0.0.1", "127.0.0.1");
});

afterAll(() => {
  v4.close();
});

/** The accepted side of a pair, as the server sees it. */
function serverSide(p: Pair): { local: { address: string; port: number }; remote: { address: string; port: number } } {
  return {
    local: { address: p.server.localAddress, port: p.listener.port },
    remote: { address: p.server.remoteAddress, port: p.server.remotePort },
  };
}

describe("findTcpSocketFd", () => {
  test("finds the accepted socket of an IPv4 connection, and the client's own socket with the addresses swapped", () => {
    const { local, remote } = serverSide(v4);
    const serverFd = so.findTcpSocketFd(local, remote);
    const clientFd = so.findTcpSocketFd(remote, local);
    expect(serverFd).not.toBeNull();
    expect(clientFd).not.toBeNull();
    expect(serverFd).not.toBe(clientFd);
    // Setting an option through one fd is visible through that fd only: they are different sockets.
    so.setSendBuffer(serverFd!, 9000);
    expect(so.getInt(serverFd!, N.SOL_SOCKET, N.SO_SNDBUF)).toBe(18000);
    expect(so.getInt(clientFd!, N.SOL_SOCKET, N.SO_SNDBUF)).not.toBe(18000);
  });

  test("answers null when no connection has these addresses (not the listener, not a wrong port)", () => {
    const { local, remote } = serverSide(v4);
    expect(so.findTcpSocketFd(local, { address: remote.address, port: remote.port === 1 ? 2 : 1 })).toBeNull();
    expect(so.findTcpSocketFd(local, { address: "127.0.0.2", port: remote.port })).toBeNull();
  });

  test("rejects an address that is not an IP address with a typed error", () => {
    const { local } = serverSide(v4);
    let err: unknown;
    try {
      so.findTcpSocketFd(local, { address: "not-an-ip", port: 1 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SockoptError);
    expect((err as SockoptError).code).toBe("bad-address");
  });

  test("matches a dual-stack socket with v4-mapped addresses given in either form", async () => {
    const p = await pair("::", "127.0.0.1");
    try {
      const port = p.listener.port;
      const fdPlain = so.findTcpSocketFd({ address: "127.0.0.1", port }, { address: "127.0.0.1", port: p.client.localPort });
      const fdMapped = so.findTcpSocketFd({ address: "::ffff:127.0.0.1", port }, { address: "::ffff:127.0.0.1", port: p.client.localPort });
      expect(fdPlain).not.toBeNull();
      expect(fdMapped).toBe(fdPlain);
      // A v4-mapped peer speaks IPv4: the TOS byte goes through IP_TOS even on an AF_INET6 socket.
      so.setPriority(fdPlain!, { kind: "tos", value: 0x20 });
      expect(so.getInt(fdPlain!, N.IPPROTO_IP, N.IP_TOS)).toBe(0x20);
    } finally {
      p.close();
    }
  });
});

describe("setPriority and setSendBuffer", () => {
  test("a priority 0-6 sets SO_PRIORITY to that value", () => {
    const { local, remote } = serverSide(v4);
    const fd = so.findTcpSocketFd(local, remote)!;
    for (const value of [3, 6, 0]) {
      so.setPriority(fd, { kind: "priority", value });
      expect(so.getInt(fd, N.SOL_SOCKET, N.SO_PRIORITY)).toBe(value);
    }
  });

  test("a hexadecimal TOS sets IP_TOS on an IPv4 connection", () => {
    const { local, remote } = serverSide(v4);
    const fd = so.findTcpSocketFd(local, remote)!;
    so.setPriority(fd, { kind: "tos", value: 0x28 });
    expect(so.getInt(fd, N.IPPROTO_IP, N.IP_TOS)).toBe(0x28);
  });

  test("output-buffer sets SO_SNDBUF, which the kernel reports doubled", () => {
    const { local, remote } = serverSide(v4);
    const fd = so.findTcpSocketFd(local, remote)!;
    so.setSendBuffer(fd, 1406 * 10);
    expect(so.getInt(fd, N.SOL_SOCKET, N.SO_SNDBUF)).toBe(2 * 1406 * 10);
    expect(() => so.setSendBuffer(fd, 0)).toThrow(SockoptError);
  });

  test.skipIf(!hasIpv6Loopback())("a hexadecimal TOS sets IPV6_TCLASS on an IPv6 connection", async () => {
    const p = await pair("::1", "::1");
    try {
      const fd = so.findTcpSocketFd({ address: "::1", port: p.listener.port }, { address: "::1", port: p.server.remotePort })!;
      expect(fd).not.toBeNull();
      so.setPriority(fd, { kind: "tos", value: 0x20 });
      expect(so.getInt(fd, N.IPPROTO_IPV6, N.IPV6_TCLASS)).toBe(0x20);
    } finally {
      p.close();
    }
  });
});

describe("apply (the tunnel manager's hook)", () => {
  function transportOf(p: Pair, localPort: number | undefined): TunnelTransport {
    return {
      sendRecord() {},
      exportKeyingMaterial: (_l, _c, n) => new Uint8Array(n),
      tls: { version: "TLS1.3", cipherSuite: "TLS_AES_128_GCM_SHA256", safeRenegotiation: false },
      remoteAddress: p.server.remoteAddress,
      remotePort: p.server.remotePort,
      localAddress: p.server.localAddress,
      ...(localPort !== undefined ? { localPort } : {}),
      close() {},
    };
  }

  test("finds the transport's socket and sets both options", () => {
    so.apply(transportOf(v4, v4.listener.port), { priority: { kind: "priority", value: 5 }, sendBuffer: 1400 * 4 });
    const { local, remote } = serverSide(v4);
    const fd = so.findTcpSocketFd(local, remote)!;
    expect(so.getInt(fd, N.SOL_SOCKET, N.SO_PRIORITY)).toBe(5);
    expect(so.getInt(fd, N.SOL_SOCKET, N.SO_SNDBUF)).toBe(2 * 1400 * 4);
  });

  test("fails with not-found when the transport lacks its local port or names no socket of this process", () => {
    const codeOf = (f: () => void): string | null => {
      try {
        f();
        return null;
      } catch (e) {
        return e instanceof SockoptError ? e.code : "other";
      }
    };
    expect(codeOf(() => so.apply(transportOf(v4, undefined), { priority: null, sendBuffer: 1400 }))).toBe("not-found");
    expect(codeOf(() => so.apply(transportOf(v4, 1), { priority: null, sendBuffer: 1400 }))).toBe("not-found");
  });
});
