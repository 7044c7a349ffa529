// The Linux tun device and rtnetlink configuration, run as root inside a throwaway network namespace.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { TunDevice } from "../../src/tun/device.ts";
import { TunError } from "../../src/tun/errors.ts";
import { loadLibc } from "../../src/tun/libc.ts";
import { createLinuxTunFactory } from "../../src/tun/linux.ts";
import { RtNetlink } from "../../src/tun/netlink.ts";
import { runTunContract, type TunHarness, type TunLink } from "./contract.ts";
import { icmpEchoReply, parseIpv4 } from "./packets.ts";
import { createTestNetns, type TestNetns } from "./netns.ts";

const libc = loadLibc();

async function linuxHarness(readiness: "epoll-worker" | "timer"): Promise<TunHarness> {
  const ns = createTestNetns("tunc");
  // No IPv6 on the contract devices: router solicitations and MLD reports would appear in reads.
  ns.run(["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
  const factory = createLinuxTunFactory({ libc, readiness });
  const nl = RtNetlink.open(libc);
  const sockets: { close(): void }[] = [];
  let subnet = 0;
  return {
    factory,
    async attach(dev: TunDevice): Promise<TunLink> {
      subnet++;
      const local = `10.98.${subnet}.1`;
      const peer = `10.98.${subnet}.2`;
      nl.configureTunnel(dev.index, { mtu: 1500, ipv4: { local, peer } });
      const queue: Uint8Array[] = [];
      let wake: (() => void) | null = null;
      const rx = await Bun.udpSocket({
        hostname: local,
        port: 0,
        socket: {
          data(_s, buf) {
            queue.push(new Uint8Array(buf));
            wake?.();
          },
        },
      });
      const tx = await Bun.udpSocket({ hostname: local, port: 0 });
      sockets.push(rx, tx);
      return {
        local,
        peer,
        localPort: rx.port,
        async sendToDevice(payloads, port) {
          for (const p of payloads) expect(tx.send(p, port, peer)).toBe(true);
        },
        async receiveFromDevice(count) {
          while (queue.length < count) {
            await new Promise<void>((r) => {
              wake = r;
              setTimeout(r, 50);
            });
          }
          return queue.splice(0, count);
        },
      };
    },
    dispose() {
      for (const s of sockets) s.close();
      nl.close();
      ns.dispose();
    },
  };
}

runTunContract("Linux tun via bun:ffi, epoll worker readiness", () => linuxHarness("epoll-worker"));
runTunContract("Linux tun via bun:ffi, timer readiness", () => linuxHarness("timer"));

describe("Linux tun device and rtnetlink", () => {
  let ns: TestNetns;
  let nl: RtNetlink;
  let factory: ReturnType<typeof createLinuxTunFactory>;
  beforeAll(() => {
    ns = createTestNetns("tun");
    nl = RtNetlink.open(libc);
    factory = createLinuxTunFactory({ libc });
  });
  afterAll(() => {
    factory.close();
    nl.close();
    ns.dispose();
  });

  type IpAddr = { ifname: string; mtu: number; flags: string[]; addr_info: { family: string; local: string; address?: string; prefixlen: number }[] };

  test("configures the IPv4 peer, IPv6 /128 with its route, MTU and up the way ocserv does", () => {
    const dev = factory.openTun("vpns%d");
    try {
      const r = nl.configureTunnel(dev.index, {
        mtu: 1400,
        ipv4: { local: "192.168.77.1", peer: "192.168.77.23" },
        ipv6: { local: "fd91::1", client: "fd91::5:0", subnetPrefix: 112 },
      });
      expect(r.ipv6Error).toBeNull();
      const [info] = ns.ipJson(["addr", "show", "dev", dev.name]) as IpAddr[];
      expect(info?.mtu).toBe(1400);
      expect(info?.flags).toContain("UP");
      expect(info?.flags).toContain("POINTOPOINT");
      const v4 = info?.addr_info.find((a) => a.family === "inet");
      expect(v4).toMatchObject({ local: "192.168.77.1", address: "192.168.77.23", prefixlen: 32 });
      const v6 = info?.addr_info.find((a) => a.family === "inet6" && a.local === "fd91::1");
      expect(v6?.prefixlen).toBe(128);
      const routes = ns.ipJson(["-6", "route", "show", "dev", dev.name]) as { dst: string; metric: number }[];
      expect(routes).toContainEqual(expect.objectContaining({ dst: "fd91::5:0/112", metric: 1 }));
      const link = nl.getLink(dev.name);
      expect(link).toMatchObject({ index: dev.index, name: dev.name, mtu: 1400, up: true });
      expect(nl.getLink(dev.index).name).toBe(dev.name);
    } finally {
      dev.close();
    }
  });

  test("turns a refused request into TunError netlink-rejected with the errno", () => {
    const dev = factory.openTun("vpns%d");
    try {
      nl.addAddress(dev.index, { address: "192.168.78.1", peer: "192.168.78.2", prefixLength: 32 });
      let err: unknown;
      try {
        nl.addAddress(dev.index, { address: "192.168.78.1", peer: "192.168.78.2", prefixLength: 32 });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TunError);
      expect((err as TunError).code).toBe("netlink-rejected");
      expect((err as TunError).errno).toBe(17); // EEXIST
      let err2: unknown;
      try {
        nl.getLink("nosuchif0");
      } catch (e) {
        err2 = e;
      }
      expect((err2 as TunError).code).toBe("netlink-rejected");
      expect((err2 as TunError).errno).toBe(19); // ENODEV
    } finally {
      dev.close();
    }
  });

  test("rejects malformed addresses, prefixes and MTUs before sending anything", () => {
    const codes: string[] = [];
    for (const f of [
      () => nl.addAddress(1, { address: "10.0.0.256", prefixLength: 32 }),
      () => nl.addAddress(1, { address: "10.0.0.1", prefixLength: 33 }),
      () => nl.addAddress(1, { address: "10.0.0.1", peer: "fd00::1", prefixLength: 32 }),
      () => nl.setLink(1, { mtu: 20 }),
      () => nl.addRoute({ destination: "fd00:::1", prefixLength: 64, index: 1 }),
    ]) {
      try {
        f();
      } catch (e) {
        codes.push((e as TunError).code);
      }
    }
    expect(codes).toEqual(["bad-argument", "bad-argument", "bad-argument", "bad-argument", "bad-argument"]);
  });

  test("deletes addresses and adds and deletes routes", () => {
    const dev = factory.openTun("vpns%d");
    try {
      nl.configureTunnel(dev.index, { ipv4: { local: "192.168.79.1", peer: "192.168.79.2" } });
      nl.addRoute({ destination: "172.31.5.0", prefixLength: 24, index: dev.index, metric: 7 });
      let routes = ns.ipJson(["route", "show", "dev", dev.name]) as { dst: string; metric?: number }[];
      expect(routes).toContainEqual(expect.objectContaining({ dst: "172.31.5.0/24", metric: 7 }));
      nl.deleteRoute({ destination: "172.31.5.0", prefixLength: 24, index: dev.index, metric: 7 });
      routes = ns.ipJson(["route", "show", "dev", dev.name]) as { dst: string }[];
      expect(routes.some((r) => r.dst === "172.31.5.0/24")).toBe(false);
      nl.deleteAddress(dev.index, { address: "192.168.79.1", peer: "192.168.79.2", prefixLength: 32 });
      const [info] = ns.ipJson(["addr", "show", "dev", dev.name]) as IpAddr[];
      expect(info?.addr_info.some((a) => a.family === "inet")).toBe(false);
    } finally {
      dev.close();
    }
  });

  test("answers a real ping: reads the echo request from the tun and writes the reply", async () => {
    const dev = factory.openTun("vpns%d");
    try {
      nl.configureTunnel(dev.index, { mtu: 1400, ipv4: { local: "192.168.80.1", peer: "192.168.80.9" } });
      const bufs = Array.from({ length: 8 }, () => new Uint8Array(2048));
      const sizes = new Int32Array(8);
      const offset = 16; // header room, as the CSTP path will use
      let requests = 0;
      dev.onReadable(() => {
        const n = dev.readBatch(bufs, sizes, offset);
        for (let i = 0; i < n; i++) {
          const pkt = bufs[i]!.subarray(offset, offset + sizes[i]!);
          const ip = parseIpv4(pkt);
          if (ip?.proto !== 1 || ip.dst !== "192.168.80.9") continue;
          requests++;
          const reply = icmpEchoReply(pkt);
          if (reply !== null) dev.write(reply);
        }
      });
      const ping = Bun.spawn(["ip", "netns", "exec", ns.name, "ping", "-c", "2", "-i", "0.2", "-W", "5", "192.168.80.9"], {
        stdout: "pipe",
        stderr: "pipe",
      });
      const code = await ping.exited;
      const out = await new Response(ping.stdout).text();
      expect(out).toContain("2 received");
      expect(code).toBe(0);
      expect(requests).toBe(2);
    } finally {
      dev.close();
    }
  });

  test("the device disappears when closed (not persistent)", () => {
    const dev = factory.openTun("gone%d");
    const name = dev.name;
    expect(ns.run(["ip", "link", "show", name]).code).toBe(0);
    dev.close();
    expect(ns.run(["ip", "link", "show", name]).code).not.toBe(0);
  });

  test("creating a device with a fixed name that exists fails with ioctl-failed EBUSY", () => {
    const a = factory.openTun("fixed0");
    try {
      let err: unknown;
      try {
        factory.openTun("fixed0").close();
      } catch (e) {
        err = e;
      }
      expect((err as TunError).code).toBe("ioctl-failed");
      expect((err as TunError).errno).toBe(16);
    } finally {
      a.close();
    }
  });

  test("opening a multi-queue device's name again attaches a second queue to the same device", () => {
    const a = factory.openTun("mq%d", { multiQueue: true });
    try {
      const b = factory.openTun(a.name, { multiQueue: true });
      expect(b.name).toBe(a.name);
      expect(b.index).toBe(a.index);
      expect(b.fd).not.toBe(a.fd);
      b.close();
      // The device lives while any queue is open.
      expect(ns.run(["ip", "link", "show", a.name]).code).toBe(0);
    } finally {
      a.close();
    }
  });

  test("sets the owner and group of the device (run-as-user / run-as-group)", () => {
    const dev = factory.openTun("own%d", { owner: 65534, group: 65533 });
    try {
      const owner = ns.run(["cat", `/sys/class/net/${dev.name}/owner`]).stdout.trim();
      const group = ns.run(["cat", `/sys/class/net/${dev.name}/group`]).stdout.trim();
      expect(owner).toBe("65534");
      expect(group).toBe("65533");
    } finally {
      dev.close();
    }
  });

  test("a burst switches the device to timer polling and an idle packet afterwards is still read", async () => {
    const dev = factory.openTun("vpns%d");
    try {
      nl.configureTunnel(dev.index, { ipv4: { local: "192.168.81.1", peer: "192.168.81.2" } });
      const sock = await Bun.udpSocket({ hostname: "192.168.81.1", port: 0 });
      const bufs = Array.from({ length: 16 }, () => new Uint8Array(2048));
      const sizes = new Int32Array(16);
      let got = 0;
      let waiter: { n: number; resolve: () => void } | null = null;
      dev.onReadable(() => {
        const n = dev.readBatch(bufs, sizes, 0);
        for (let i = 0; i < n; i++) if (bufs[i]![9] === 17) got++;
        if (waiter !== null && got >= waiter.n) waiter.resolve();
      });
      const until = (n: number) => new Promise<void>((resolve) => (got >= n ? resolve() : (waiter = { n, resolve })));
      const p = new Uint8Array(200);
      const burst = 300;
      // One datagram per event-loop turn: each is seen by the poller within microseconds, so the
      // wakeups come well under busyPollMs apart and the device switches to timer polling.
      for (let sent = 0; sent < burst; sent++) {
        expect(sock.send(p, 9, "192.168.81.2")).toBe(true);
        await new Promise<void>((r) => setImmediate(r));
      }
      await until(burst);
      await Bun.sleep(20); // idle: the device must fall back to waiting on the poller
      sock.send(p, 9, "192.168.81.2");
      await until(burst + 1);
      expect(got).toBe(burst + 1);
      sock.close();
    } finally {
      dev.close();
    }
  });

  test("a process that closes its devices exits on its own: the epoll worker does not hold it", () => {
    const script = `${process.env.TMPDIR ?? "/tmp"}/ocs-tun-exit-${process.pid}.ts`;
    const src = new URL("../../src/tun/linux.ts", import.meta.url).pathname;
    Bun.write(script, `import { createLinuxTunFactory } from ${JSON.stringify(src)};
      const f = createLinuxTunFactory();
      const d = f.openTun("ex%d");
      d.onReadable(() => {});
      d.close();
      console.log("done");`);
    try {
      const r = Bun.spawnSync(["ip", "netns", "exec", ns.name, "timeout", "10", process.execPath, script], { stdout: "pipe", stderr: "pipe" });
      expect(r.stdout.toString().trim()).toBe("done");
      expect(r.exitCode).toBe(0);
    } finally {
      Bun.spawnSync(["rm", "-f", script]);
    }
  });
});
