import { test, expect, describe } from "bun:test";
import { enterNetns } from "../../src/net/netns.ts";
import { createBoundSocket, getSocketInt, SOCKOPT } from "../../src/net/sockets.ts";
import { openUdp, type UdpEndpoint } from "../../src/net/udp.ts";
import { bindDtlsSocket } from "../../src/server/dtls-socket.ts";

const PMTUDISC_DONT = 0;
const PMTUDISC_DO = 2;

/** A port that was free a moment ago (bindDtlsSocket treats port 0 as "no DTLS"). */
async function freePort(): Promise<number> {
  const s = await openUdp({ hostname: "::", port: 0 }, { datagram() {} });
  const port = s.port;
  s.close();
  return port;
}

describe("the DTLS socket's path MTU discovery mode (ocserv set_mtu_disc)", () => {
  for (const [tryMtu, mode] of [
    [false, PMTUDISC_DONT],
    [true, PMTUDISC_DO],
  ] as const) {
    test(`try-mtu-discovery = ${tryMtu} sets IP_MTU_DISCOVER and IPV6_MTU_DISCOVER to ${mode} on a dual-stack socket`, async () => {
      const fd = bindDtlsSocket({ "udp-port": await freePort(), "udp-listen-host": null, "try-mtu-discovery": tryMtu });
      expect(fd).not.toBeNull();
      expect(getSocketInt(fd!, SOCKOPT.IPPROTO_IPV6, SOCKOPT.IPV6_MTU_DISCOVER)).toBe(mode);
      expect(getSocketInt(fd!, SOCKOPT.IPPROTO_IP, SOCKOPT.IP_MTU_DISCOVER)).toBe(mode);
      expect(getSocketInt(fd!, SOCKOPT.IPPROTO_IPV6, SOCKOPT.IPV6_V6ONLY)).toBe(0);
      (await openUdp({ fd: fd! }, { datagram() {} })).close();
    });
  }

  test("an IPv4 udp-listen-host gets the IPv4 option", async () => {
    const fd = bindDtlsSocket({ "udp-port": await freePort(), "udp-listen-host": "127.0.0.1", "try-mtu-discovery": true });
    expect(getSocketInt(fd!, SOCKOPT.IPPROTO_IP, SOCKOPT.IP_MTU_DISCOVER)).toBe(PMTUDISC_DO);
    (await openUdp({ fd: fd! }, { datagram() {} })).close();
  });

  test("udp-port 0 means no socket", () => {
    expect(bindDtlsSocket({ "udp-port": 0, "udp-listen-host": null, "try-mtu-discovery": true })).toBeNull();
  });
});

describe("a datagram refused with EMSGSIZE is observable through the Bun UDP adapter", () => {
  // A namespace whose only route goes through a veth with MTU 1280; the peer's MAC is static so no
  // datagram waits for ARP.
  function withNetns(fn: (ns: string) => Promise<void>): Promise<void> {
    const ns = `ocs-mtu-${process.pid}`;
    const run = (...args: string[]): void => {
      const r = Bun.spawnSync(["ip", "-n", ns, ...args]);
      if (r.exitCode !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr.toString()}`);
    };
    expect(Bun.spawnSync(["ip", "netns", "add", ns]).exitCode).toBe(0);
    try {
      run("link", "add", "v0", "type", "veth", "peer", "name", "v1");
      run("link", "set", "v0", "mtu", "1280", "up");
      run("link", "set", "v1", "up");
      run("addr", "add", "10.77.0.1/24", "dev", "v0");
      run("neigh", "add", "10.77.0.2", "lladdr", "02:00:00:00:00:02", "dev", "v0", "nud", "permanent");
    } catch (e) {
      Bun.spawnSync(["ip", "netns", "del", ns]);
      throw e;
    }
    return fn(ns).finally(() => {
      Bun.spawnSync(["ip", "netns", "del", ns]);
    });
  }

  async function socketIn(ns: string, mode: "do" | "dont", failed: string[]): Promise<UdpEndpoint> {
    const h = enterNetns(ns);
    let fd: number;
    try {
      fd = createBoundSocket({ type: "udp", address: "0.0.0.0", port: 0, mtuDiscover: mode }).fd;
    } finally {
      h.restore();
    }
    return openUdp({ fd }, { datagram() {}, sendFailed: (code, d) => failed.push(`${code}:${d.length}`) });
  }

  test("with IP_PMTUDISC_DO an oversized datagram is reported and dropped, first or in mid-batch, and the rest is sent", () =>
    withNetns(async (ns) => {
      const failed: string[] = [];
      const u = await socketIn(ns, "do", failed);
      try {
        const small = new Uint8Array(100);
        const big = new Uint8Array(1400);
        u.queue(small, 9, "10.77.0.2");
        u.queue(big, 9, "10.77.0.2");
        u.queue(small, 9, "10.77.0.2");
        expect(u.flush()).toBe(3);
        u.queue(big, 9, "10.77.0.2");
        u.queue(small, 9, "10.77.0.2");
        expect(u.flush()).toBe(2);
        expect(failed).toEqual(["EMSGSIZE:1400", "EMSGSIZE:1400"]);
        expect(u.dropped).toBe(0);
      } finally {
        u.close();
      }
    }));

  test("with IP_PMTUDISC_DONT the kernel fragments instead and nothing is refused", () =>
    withNetns(async (ns) => {
      const failed: string[] = [];
      const u = await socketIn(ns, "dont", failed);
      try {
        u.queue(new Uint8Array(1400), 9, "10.77.0.2");
        expect(u.flush()).toBe(1);
        expect(failed).toEqual([]);
      } finally {
        u.close();
      }
    }));
});
