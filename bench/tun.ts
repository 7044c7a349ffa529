// Tun read throughput and wakeup latency of the readiness designs in src/tun/readiness.ts.
// Run as root: `bun bench/tun.ts [seconds]`. Everything happens in a throwaway network namespace.
//
//   drain:   N packets are queued in the tun first (txqueuelen raised), then the reader is armed;
//            measures pure read capacity of readiness + readBatch.
//   live:    a generator process in the namespace sends 1400-byte UDP datagrams routed into the tun
//            (sendMany, as fast as it can) for T seconds; packets read per second.
//   latency: one datagram at a time, time from send() to the readiness callback reading it
//            (median / p99 over 300 samples), and `ping` RTT with the echo reply written by us.

import { createLinuxTunFactory } from "../src/tun/linux.ts";
import { loadLibc } from "../src/tun/libc.ts";
import { RtNetlink } from "../src/tun/netlink.ts";
import type { TunDevice } from "../src/tun/device.ts";
import { enterNetns } from "../src/net/netns.ts";

const seconds = Number(process.argv[2] ?? "3");
const libc = loadLibc();
const nsName = `ocs-bench-${process.pid}`;
Bun.spawnSync(["ip", "netns", "add", nsName]);
Bun.spawnSync(["ip", "-n", nsName, "link", "set", "lo", "up"]);
Bun.spawnSync(["ip", "netns", "exec", nsName, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
const ns = enterNetns(nsName, libc);
const nl = RtNetlink.open(libc);

const BATCH = 64;
const bufs = Array.from({ length: BATCH }, () => new Uint8Array(2048));
const sizes = new Int32Array(BATCH);
const payload = new Uint8Array(1400 - 28);

type Kind = "epoll-worker" | "epoll-only" | "timer";

async function setup(kind: Kind, n: number) {
  const factory =
    kind === "epoll-only"
      ? createLinuxTunFactory({ libc, readiness: "epoll-worker", busyPollMs: 0 })
      : createLinuxTunFactory({ libc, readiness: kind });
  const dev = factory.openTun("bench%d");
  const local = `10.97.${n}.1`;
  const peer = `10.97.${n}.2`;
  nl.configureTunnel(dev.index, { mtu: 1500, ipv4: { local, peer } });
  Bun.spawnSync(["ip", "-n", nsName, "link", "set", dev.name, "txqueuelen", "300000"]);
  const tx = await Bun.udpSocket({ hostname: local, port: 0 });
  return { factory, dev, local, peer, tx };
}

function countReads(dev: TunDevice, onPackets: (n: number) => void): void {
  dev.onReadable(() => {
    const n = dev.readBatch(bufs, sizes, 0);
    if (n > 0) onPackets(n);
  });
}

async function drain(kind: Kind, n: number): Promise<number> {
  const s = await setup(kind, n);
  const total = 150_000;
  const msgs: (Uint8Array | number | string)[] = [];
  for (let i = 0; i < 32; i++) msgs.push(payload, 9, s.peer);
  let queued = 0;
  while (queued < total) {
    const sent = s.tx.sendMany(msgs);
    queued += sent;
    if (sent === 0) await Bun.sleep(0);
  }
  let got = 0;
  const t0 = performance.now();
  const done = new Promise<number>((resolve) => {
    countReads(s.dev, (k) => {
      got += k;
      if (got >= queued) resolve(performance.now() - t0);
    });
    setTimeout(() => resolve(performance.now() - t0), 20_000);
  });
  const ms = await done;
  s.dev.onReadable(null);
  s.tx.close();
  s.factory.close();
  return (got / ms) * 1000;
}

async function live(kind: Kind, n: number, rate = 0): Promise<{ pps: number; sent: number; cpuNsPerPkt: number }> {
  const s = await setup(kind, n);
  const gen = `
    const s = await Bun.udpSocket({ hostname: "${s.local}", port: 0 });
    const p = new Uint8Array(${payload.length});
    const m = []; for (let i = 0; i < 32; i++) m.push(p, 9, "${s.peer}");
    const end = performance.now() + ${seconds * 1000};
    let sent = 0;
    const rate = ${rate};
    const t0 = performance.now();
    while (performance.now() < end) {
      const k = s.sendMany(m); sent += k; if (k < 32) await Bun.sleep(0);
      if (rate > 0) { const ahead = sent / rate * 1000 - (performance.now() - t0); if (ahead > 1) await Bun.sleep(ahead); }
    }
    console.log(sent);
    process.exit(0);`;
  let got = 0;
  countReads(s.dev, (k) => (got += k));
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const child = Bun.spawn(["ip", "netns", "exec", nsName, process.execPath, "-e", gen], { stdout: "pipe" });
  await child.exited;
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const sent = Number((await new Response(child.stdout).text()).trim());
  s.dev.onReadable(null);
  s.tx.close();
  s.factory.close();
  // cpuUsage covers every thread of this process (the epoll worker included), not the generator.
  return { pps: (got / ms) * 1000, sent: Math.round((sent / ms) * 1000), cpuNsPerPkt: ((cpu.user + cpu.system) * 1000) / Math.max(got, 1) };
}

async function latency(kind: Kind, n: number): Promise<{ median: number; p99: number; pingAvg: string }> {
  const s = await setup(kind, n);
  const samples: number[] = [];
  let resolveOne: (() => void) | null = null;
  s.dev.onReadable(() => {
    const k = s.dev.readBatch(bufs, sizes, 0);
    for (let i = 0; i < k; i++) {
      const b = bufs[i]!;
      if (b[9] === 1 && b[20] === 8) {
        // ICMP echo request from ping: answer it (swap addresses, type 0, fix the ICMP checksum).
        const pkt = b.slice(0, sizes[i]!);
        const src = pkt.slice(12, 16);
        pkt.copyWithin(12, 16, 20);
        pkt.set(src, 16);
        pkt[20] = 0;
        let c = (pkt[22]! << 8) | pkt[23]!;
        c += 0x0800;
        c = (c & 0xffff) + (c >>> 16);
        pkt[22] = c >> 8;
        pkt[23] = c & 0xff;
        s.dev.write(pkt);
      }
    }
    if (k > 0) resolveOne?.();
  });
  const ping = Bun.spawn(["ip", "netns", "exec", nsName, "ping", "-q", "-c", "50", "-i", "0.01", s.peer], { stdout: "pipe" });
  await ping.exited;
  const out = await new Response(ping.stdout).text();
  const m = /= [0-9.]+\/([0-9.]+)\//.exec(out);
  for (let i = 0; i < 300; i++) {
    const t0 = performance.now();
    const got = new Promise<void>((r) => (resolveOne = r));
    s.tx.send(payload.subarray(0, 64), 9, s.peer);
    await got;
    samples.push((performance.now() - t0) * 1000);
    await Bun.sleep(1);
  }
  resolveOne = null;
  samples.sort((a, b) => a - b);
  s.dev.onReadable(null);
  s.tx.close();
  s.factory.close();
  return { median: samples[150]!, p99: samples[297]!, pingAvg: m?.[1] ?? "?" };
}

try {
  let n = 1;
  for (const kind of ["epoll-worker", "epoll-only", "timer"] as const) {
    const d = await drain(kind, n++);
    const l = await live(kind, n++);
    const r = await live(kind, n++, 50_000);
    const t = await latency(kind, n++);
    console.log(
      `${kind.padEnd(13)} drain ${Math.round(d / 1000)}k pkts/s | live max ${Math.round(l.pps / 1000)}k pkts/s ` +
        `(generator ${Math.round(l.sent / 1000)}k/s, ${Math.round(l.cpuNsPerPkt)} ns CPU/pkt) | ` +
        `live 50k/s: ${Math.round(r.pps / 1000)}k read, ${Math.round(r.cpuNsPerPkt)} ns CPU/pkt | ` +
        `wakeup median ${t.median.toFixed(0)} µs p99 ${t.p99.toFixed(0)} µs | ping avg ${t.pingAvg} ms`,
    );
  }
} finally {
  nl.close();
  ns.restore();
  Bun.spawnSync(["ip", "netns", "del", nsName]);
}
