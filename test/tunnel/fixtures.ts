// Test doubles and config fixtures for the tunnel tests: full typed configs with ocserv's defaults,
// a recording transport, a fake clock/timer set, a recording netlink and script runner, and the set of
// them a TunnelManager is built from (also used by the firewall and front tests).

import type { Config, GlobalOptions, Route, SessionSettings, VhostConfig, VhostOptions } from "../../src/config/types.ts";
import type { SessionRecord, SessionStore, DisconnectReason, TunnelTransport } from "../../src/server/contract.ts";
import type { ManagerTimers, TunNetworking } from "../../src/server/tunnel/manager.ts";
import type { ScriptRunner } from "../../src/server/tunnel/scripts.ts";
import { formatIPv4, ipv4Mask, parseIPv4 } from "../../src/server/tunnel/ip.ts";
import { MemoryTunFactory } from "../../src/tun/memory.ts";

export function route(cidr: string): Route {
  const [address, p] = cidr.split("/") as [string, string];
  const prefix = Number(p);
  if (address.includes(":")) return { family: 6, address, prefix, text: cidr };
  return { family: 4, address, prefix, text: `${address}/${formatIPv4(ipv4Mask(prefix))}` };
}

export function ipv4Net(cidr: string): VhostOptions["ipv4-network"] {
  const [address, p] = cidr.split("/") as [string, string];
  const prefix = Number(p);
  if (parseIPv4(address) === null) throw new Error("bad fixture");
  return { address, prefix, netmask: formatIPv4(ipv4Mask(prefix)) };
}

export function vhostOptions(o: Partial<VhostOptions> = {}): VhostOptions {
  const base: VhostOptions = {
    "idle-timeout": 0,
    "mobile-idle-timeout": 0,
    "session-timeout": 0,
    keepalive: 32400,
    dpd: 90,
    "mobile-dpd": 1800,
    "deny-roaming": false,
    "max-same-clients": 0,
    "stats-report-time": 0,
    "ipv4-network": ipv4Net("192.168.1.0/24"),
    "ipv6-network": null,
    "ipv6-subnet-prefix": 128,
    dns: [],
    nbns: [],
    "split-dns": [],
    "tunnel-all-dns": false,
    route: [],
    "no-route": [],
    mtu: 0,
    "rx-data-per-sec": 0,
    "tx-data-per-sec": 0,
    "net-priority": null,
    "restrict-user-to-routes": false,
    "restrict-user-to-ports": null,
    "client-bypass-protocol": false,
    "no-udp": false,
    "user-profile": null,
    auth: [{ type: "plain", passwd: "/etc/ocserv/ocpasswd" }],
    "enable-auth": [],
    acct: null,
    "ca-cert": null,
    "server-cert": ["/etc/ocserv/server.pem"],
    "server-key": ["/etc/ocserv/server.key"],
    "dh-params": null,
    "pin-file": null,
    "srk-pin-file": null,
    "key-pin": null,
    "srk-pin": null,
    "debug-no-secmod-stats": false,
    "cert-user-oid": null,
    "cert-group-oid": null,
    crl: null,
    "select-group": [],
    "default-select-group": null,
    "auto-select-group": false,
    "select-group-by-url": false,
    "config-per-user": null,
    "config-per-group": null,
    "default-user-config": null,
    "default-group-config": null,
    "expose-iroutes": false,
    "listen-host-is-dyndns": false,
    "ocsp-response": null,
    "tls-priorities": "NORMAL:%SERVER_PRECEDENCE:%COMPAT",
    "match-tls-dtls-ciphers": false,
    "dtls-legacy": true,
    "cisco-client-compat": false,
    "cisco-svc-client-compat": false,
    "rekey-time": 172800,
    "rekey-method": "ssl",
    compression: false,
    "no-compress-limit": 256,
    kkdcp: [],
    "switch-to-tcp-timeout": 25,
    "cookie-timeout": 300,
    "persistent-cookies": false,
    "default-domain": null,
    "append-routes": false,
    "predictable-ips": true,
    "output-buffer": 0,
    "proxy-url": null,
    "custom-header": [],
    "included-http-headers": [],
    banner: null,
    "pre-login-banner": null,
    camouflage: false,
    camouflage_secret: null,
    camouflage_realm: null,
  };
  return { ...base, ...o };
}

export function settingsOf(v: VhostOptions, o: Partial<SessionSettings> = {}): SessionSettings {
  const s: SessionSettings = {
    "idle-timeout": v["idle-timeout"],
    "mobile-idle-timeout": v["mobile-idle-timeout"],
    "session-timeout": v["session-timeout"],
    keepalive: v.keepalive,
    dpd: v.dpd,
    "mobile-dpd": v["mobile-dpd"],
    "deny-roaming": v["deny-roaming"],
    "max-same-clients": v["max-same-clients"],
    "stats-report-time": v["stats-report-time"],
    "ipv4-network": v["ipv4-network"],
    "ipv6-network": v["ipv6-network"],
    "ipv6-subnet-prefix": v["ipv6-subnet-prefix"],
    dns: v.dns,
    nbns: v.nbns,
    "split-dns": v["split-dns"],
    "tunnel-all-dns": v["tunnel-all-dns"],
    route: v.route,
    "no-route": v["no-route"],
    mtu: v.mtu,
    "rx-data-per-sec": v["rx-data-per-sec"],
    "tx-data-per-sec": v["tx-data-per-sec"],
    "net-priority": v["net-priority"],
    "restrict-user-to-routes": v["restrict-user-to-routes"],
    "restrict-user-to-ports": v["restrict-user-to-ports"],
    "client-bypass-protocol": v["client-bypass-protocol"],
    "no-udp": v["no-udp"],
    "user-profile": v["user-profile"],
    iroute: [],
    "explicit-ipv4": null,
    "explicit-ipv6": null,
    hostname: null,
  };
  return { ...s, ...o };
}

export function globalOptions(o: Partial<GlobalOptions> = {}): GlobalOptions {
  const base: GlobalOptions = {
    "listen-host": null,
    "udp-listen-host": null,
    "listen-netns": null,
    "tcp-port": 443,
    "udp-port": 0,
    "run-as-user": null,
    "run-as-group": null,
    "socket-file": "/run/ocserv-socket",
    "occtl-socket-file": "/run/occtl.socket",
    "chroot-dir": null,
    "pid-file": null,
    "sec-mod-scale": 0,
    "server-stats-reset-time": 604800,
    "log-level": 2,
    "syslog-facility": "daemon",
    "listen-proxy-proto": false,
    "use-occtl": true,
    "sec-mod-db-cleanup-time": 0,
    "isolate-workers": false,
    "limit-worker-memory": false,
    "max-clients": 0,
    "rate-limit-ms": 0,
    "server-drain-ms": 0,
    "use-utmp": false,
    "dtls-psk": true,
    "auth-timeout": 240,
    "try-mtu-discovery": false,
    "max-ban-score": 80,
    "ban-time": 300,
    "ban-reset-time": 1200,
    "ban-points-wrong-password": 10,
    "ban-points-connection": 1,
    "ban-points-kkdcp": 1,
    device: "vpns",
    "ping-leases": false,
    "route-add-cmd": null,
    "route-del-cmd": null,
    "connect-script": null,
    "disconnect-script": null,
    "host-update-script": null,
    "compression-algo-priority": null,
  };
  return { ...base, ...o };
}

export function configOf(vhost: VhostOptions, global: GlobalOptions = globalOptions()): Config {
  const v: VhostConfig = { name: null, options: vhost, certRequest: "none" };
  return { file: "/test/ocserv.conf", global, defaultVhost: v, vhosts: [], vhostFor: () => v };
}

export interface SentRecord {
  readonly bytes: Uint8Array;
}

export class FakeTransport implements TunnelTransport {
  readonly records: Uint8Array[] = [];
  closed = 0;
  congested = false;
  paused = 0;
  resumed = 0;
  keyUpdates = 0;
  constructor(
    readonly tls: TunnelTransport["tls"] = { version: "TLS1.3", cipherSuite: "TLS_AES_256_GCM_SHA384", safeRenegotiation: false },
    readonly remoteAddress = "203.0.113.7",
    readonly remotePort = 50000,
    readonly localAddress = "198.51.100.1",
  ) {}
  sendRecord(data: Uint8Array): void {
    this.records.push(data.slice());
  }
  exportKeyingMaterial(_label: string, _context: Uint8Array | null, length: number): Uint8Array {
    return new Uint8Array(length);
  }
  close(): void {
    this.closed++;
  }
  pauseReading(): void {
    this.paused++;
  }
  resumeReading(): void {
    this.resumed++;
  }
  keyUpdate(): void {
    this.keyUpdates++;
  }
}

/** A manual clock with one-shot and interval timers that fire when advanced. */
export class FakeTimers implements ManagerTimers {
  private t: number;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void; every: number }>();
  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): () => void {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn, every: 0 });
    return () => this.timers.delete(id);
  }
  setInterval(fn: () => void, ms: number): () => void {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn, every: ms });
    return () => this.timers.delete(id);
  }
  /** Advances time, firing due timers in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void; every: number }] | null = null;
      for (const e of this.timers) if (e[1].at <= end && (next === null || e[1].at < next[1].at)) next = e;
      if (next === null) break;
      const [id, timer] = next;
      this.t = timer.at;
      if (timer.every > 0) timer.at += timer.every;
      else this.timers.delete(id);
      timer.fn();
    }
    this.t = end;
  }
  get pending(): number {
    return this.timers.size;
  }
}

export class FakeNet implements TunNetworking {
  readonly configured: { index: number; a: Parameters<TunNetworking["configureTunnel"]>[1] }[] = [];
  ipv6Fails = false;
  deviceMtu = 1500;
  getLink(_index: number): { mtu: number } {
    return { mtu: this.deviceMtu };
  }
  configureTunnel(index: number, a: Parameters<TunNetworking["configureTunnel"]>[1]): { ipv6Error: Error | null } {
    this.configured.push({ index, a });
    return { ipv6Error: this.ipv6Fails && a.ipv6 ? new Error("RTNETLINK answers: Permission denied") : null };
  }
}

export class FakeScripts implements ScriptRunner {
  readonly calls: { command: string; env: Readonly<Record<string, string>> }[] = [];
  exitCode = 0;
  run(command: string, env: Readonly<Record<string, string>>): Promise<number> {
    this.calls.push({ command, env });
    return Promise.resolve(this.exitCode);
  }
}

export class FakeSessions implements SessionStore {
  readonly endedCalls: { sid: Uint8Array; reason: DisconnectReason }[] = [];
  readonly connectedCalls: Uint8Array[] = [];
  lookup(_sid: Uint8Array): SessionRecord | null {
    return null;
  }
  ended(sid: Uint8Array, reason: DisconnectReason): void {
    this.endedCalls.push({ sid, reason });
  }
  connected(sid: Uint8Array): void {
    this.connectedCalls.push(sid);
  }
}

export function sessionRecord(o: Partial<SessionRecord> = {}): SessionRecord {
  const sid = o.sid ?? new Uint8Array(32).fill(7);
  return {
    sid,
    safeId: o.safeId ?? Buffer.from(sid).toString("base64").slice(0, 27),
    username: "alice",
    group: null,
    vhost: null,
    authTime: 1_700_000_000_000,
    authIp: "203.0.113.7",
    userAgent: "Open AnyConnect VPN Agent v9.12",
    ...o,
  };
}

/** Deterministic "random" bytes for tests that must not depend on the CSPRNG. */
export function counterRandom(): (n: number) => Uint8Array {
  let c = 0;
  return (n) => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = (c++ * 97 + 13) & 0xff;
    return b;
  };
}

/** Fresh doubles for every TunnelManager dependency but `config` and `settingsFor`; spread, then override. */
export interface ManagerFakes {
  readonly sessions: FakeSessions;
  readonly tuns: MemoryTunFactory;
  readonly net: FakeNet;
  readonly timers: FakeTimers;
  readonly random: (n: number) => Uint8Array;
  readonly scripts: FakeScripts;
}

export function managerFakes(): ManagerFakes {
  return {
    sessions: new FakeSessions(),
    tuns: new MemoryTunFactory(),
    net: new FakeNet(),
    timers: new FakeTimers(),
    random: counterRandom(),
    scripts: new FakeScripts(),
  };
}
