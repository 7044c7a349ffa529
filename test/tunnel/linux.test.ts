// End to end on Linux, as root, inside a throwaway network namespace: the TunnelManager creates and
// configures a real tun device through bun:ffi and rtnetlink, a ping from the namespace to the client
// address crosses tun → CSTP → (our fake client) → CSTP → tun, and closing the TCP side removes the
// device and the lease (what a SIGKILLed client's connection reset leads to).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { TunnelHandle } from "../../src/server/contract.ts";
import { writeCstpHeader } from "../../src/server/tunnel/cstp.ts";
import { TunnelManagerImpl, systemTimers } from "../../src/server/tunnel/manager.ts";
import { loadLibc } from "../../src/tun/libc.ts";
import { createLinuxTunFactory } from "../../src/tun/linux.ts";
import { RtNetlink } from "../../src/tun/netlink.ts";
import { icmpEchoReply, parseIpv4 } from "../tun/packets.ts";
import { createTestNetns, type TestNetns } from "../tun/netns.ts";
import { FakeScripts, FakeSessions, FakeTransport, configOf, globalOptions, ipv4Net, sessionRecord, settingsOf, vhostOptions } from "./fixtures.ts";

const libc = loadLibc();

function dataFrame(payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(8 + payload.length);
  writeCstpHeader(b, 0, 0, payload.length);
  b.set(payload, 8);
  return b;
}

describe("tunnel manager on a real tun device", () => {
  let ns: TestNetns;
  let nl: RtNetlink;
  let factory: ReturnType<typeof createLinuxTunFactory>;
  beforeAll(() => {
    ns = createTestNetns("tnl");
    ns.run(["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
    nl = RtNetlink.open(libc);
    factory = createLinuxTunFactory({ libc });
  });
  afterAll(() => {
    factory.close();
    nl.close();
    ns.dispose();
  });

  test("a ping reaches the client over CSTP and its reply comes back; closing the connection removes everything", async () => {
    const vhost = vhostOptions({ "ipv4-network": ipv4Net("192.168.91.0/24"), dpd: 0 });
    const sessions = new FakeSessions();
    const manager = new TunnelManagerImpl({
      config: () => configOf(vhost, globalOptions({ device: "ocst" })),
      settingsFor: async () => ({ kind: "ok", settings: settingsOf(vhost), warnings: [] }),
      sessions,
      tuns: factory,
      net: nl,
      timers: systemTimers,
      random: (n) => crypto.getRandomValues(new Uint8Array(n)),
      scripts: new FakeScripts(),
    });
    const transport = new FakeTransport();
    let tunnel: TunnelHandle | null = null;
    try {
      const out = await manager.connect({
        session: sessionRecord(),
        headers: new Map([["User-Agent", "Open AnyConnect VPN Agent v9.12"]]),
        transport,
      });
      if (!out.ok) throw new Error(out.reason);
      tunnel = out.tunnel;
      const client = /X-CSTP-Address: ([0-9.]+)/.exec(out.head)![1]!;
      const [info] = manager.list();
      const dev = info!.device;
      expect(dev.startsWith("ocst")).toBe(true);

      const addrs = ns.ipJson(["addr", "show", "dev", dev]) as { mtu: number; addr_info: { local: string; address?: string }[] }[];
      expect(addrs[0]!.mtu).toBe(1434);
      expect(addrs[0]!.addr_info).toContainEqual(expect.objectContaining({ local: "192.168.91.1", address: client }));

      // Our fake client answers every echo request that arrives over CSTP.
      let answered = 0;
      const t = tunnel;
      const origSend = transport.sendRecord.bind(transport);
      transport.sendRecord = (rec: Uint8Array) => {
        origSend(rec);
        const pkt = rec.subarray(8);
        const ip = parseIpv4(pkt);
        if (rec[6] === 0 && ip?.proto === 1 && ip.dst === client) {
          const reply = icmpEchoReply(pkt);
          if (reply) {
            answered++;
            queueMicrotask(() => t.receiveRecord(dataFrame(reply)));
          }
        }
      };
      const ping = Bun.spawn(["ip", "netns", "exec", ns.name, "ping", "-c", "2", "-i", "0.2", "-W", "5", client], { stdout: "pipe", stderr: "pipe" });
      const code = await ping.exited;
      expect(await new Response(ping.stdout).text()).toContain("2 received");
      expect(code).toBe(0);
      expect(answered).toBe(2);

      tunnel.transportClosed();
      tunnel = null;
      expect(ns.run(["ip", "link", "show", dev]).code).not.toBe(0);
      expect(manager.leaseTable.size).toBe(0);
      expect(sessions.endedCalls.map((e) => e.reason)).toEqual(["error"]);
    } finally {
      tunnel?.transportClosed();
      manager.close();
    }
  });
});
