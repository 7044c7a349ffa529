// The TunnelManager (contract.ts): answers a CONNECT that passed the cookie check and runs the tunnel.
//
// connect(), in ocserv's order (protocol.md §1.5 steps 4-8, architecture.md §5 accept_user):
//   1. session reuse: a live tunnel with the same cookie must belong to the same user; its leases are
//      stolen and it is ended (cookie kept);
//   2. per-user/group config, re-read at every CONNECT (from the request when the front loaded it,
//      else the injected loader), plus expose-iroutes;
//   3. IP leases (no lease → 503 "Server configuration error");
//   4. tun device: open "<device>%d", read its MTU, compute the MTU values (§5.1), configure the
//      addresses, the IPv6 route, the data MTU and up (an IPv6 failure drops IPv6, as ocserv does);
//   5. the restrict-user-to-routes/ports firewall (src/server/firewall; ocserv-fw's place, a failure
//      refuses the session → 401), connect-script (non-zero exit refuses the session → 401), then
//      route-add-cmd for each iroute;
//   6. the response head, the Tunnel data path, tun reading, SessionStore.connected().
// When a tunnel ends for any reason (BYE, DPD, timeouts, the TCP connection closing, a SIGKILLed
// client whose socket errors or times out), release() runs exactly once: SessionStore.ended(),
// firewall removal, disconnect-script, route-del-cmd, lease release, tun close. Nothing is left behind.

import type { Config, NetPriority, Route, RouteEntry, SessionSettings, VhostConfig } from "../../config/types.ts";
import type { TunDevice, TunFactory } from "../../tun/device.ts";
import type {
  ConnectOutcome,
  ConnectRequest,
  DisconnectReason,
  SessionRecord,
  SessionSettingsResult,
  SessionStore,
  TunnelHandle,
  TunnelManager,
  TunnelTransport,
} from "../contract.ts";
import { parseClientInfo } from "./client.ts";
import {
  REASON_CONFIG_ERROR,
  REASON_SERVER_ERROR,
  buildConnectHead,
  isDefaultRoute,
  rekeyFuzzFromBytes,
  type DtlsHeaderContext,
} from "./connect-response.ts";
import { CSTP_HEADER_LEN } from "./cstp.ts";
import { LeaseError, LeaseTable, type LeaseHolder } from "./leases.ts";
import { computeMtu, isIpv6Peer, type MtuResult } from "./mtu.ts";
import { dtlsMtuContext, type DtlsMtuContext } from "./mtu-discovery.ts";
import { createShellRunner, routeCommand, scriptEnv, type ScriptContext, type ScriptRunner } from "./scripts.ts";
import { SessionFirewall, createNftRunner, firewallPolicy, type FirewallPolicy } from "../firewall/index.ts";
import { Tunnel, type TunnelOptions } from "./tunnel.ts";
import { pumpTun } from "./tun-reader.ts";

/** Kernel-side configuration of a tun device (src/tun RtNetlink satisfies it). */
export interface TunNetworking {
  getLink(index: number): { readonly mtu: number };
  configureTunnel(
    index: number,
    a: {
      readonly mtu?: number;
      readonly ipv4?: { readonly local: string; readonly peer: string };
      readonly ipv6?: { readonly local: string; readonly client: string; readonly subnetPrefix: number };
    },
  ): { readonly ipv6Error: Error | null };
}

/**
 * Socket options on the session's TCP connection (src/net SocketOptions satisfies it): `net-priority`
 * (SO_PRIORITY or IP_TOS/IPV6_TCLASS) and `output-buffer` (SO_SNDBUF = link MTU × N), as ocserv's worker
 * sets them on its connection fd at CONNECT. Throws when the socket cannot be found or an option is refused.
 */
export interface SocketTuner {
  apply(transport: TunnelTransport, opts: { readonly priority: NetPriority | null; readonly sendBuffer: number }): void;
}

/** What the per-user loader returns; src/config's SessionResult (from loadSessionSettings) satisfies it. */
export type SettingsResult = SessionSettingsResult;

export interface ManagerTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): () => void;
  setInterval(fn: () => void, ms: number): () => void;
}

/** Wall-clock timers for production use. */
export const systemTimers: ManagerTimers = Object.freeze({
  now: () => Date.now(),
  setTimeout(fn: () => void, ms: number): () => void {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
  setInterval(fn: () => void, ms: number): () => void {
    const t = setInterval(fn, ms);
    return () => clearInterval(t);
  },
});

export interface ManagerLog {
  info(message: string): void;
  warn(message: string): void;
}

export interface ExposedIroutes {
  readonly username: string;
  readonly routes: readonly Route[];
}

export interface TunnelManagerDeps {
  /** The current configuration; a reload swaps it, running tunnels keep the settings they started with. */
  config(): Config;
  /**
   * The effective settings of a session: vhost overlaid with group then user file, re-read at each
   * CONNECT. src/config's loadSessionSettings has exactly this shape.
   */
  settingsFor(vhost: VhostConfig, username: string, group: string | null): Promise<SettingsResult>;
  /** expose-iroutes: every user's iroutes from config-per-user. */
  exposedIroutes?(vhost: VhostConfig): Promise<readonly ExposedIroutes[]>;
  readonly sessions: SessionStore;
  readonly tuns: TunFactory;
  readonly net: TunNetworking;
  readonly timers: ManagerTimers;
  /** CSPRNG bytes. */
  random(n: number): Uint8Array;
  /** ping-leases prober: true when the address answers. Used only while `ping-leases` is on. */
  probe?(address: string): Promise<boolean>;
  readonly scripts?: ScriptRunner;
  /** The DTLS helper's hook for the X-DTLS-* block; absent = DTLS disabled. */
  dtlsHeaders?(ctx: DtlsHeaderContext): string[];
  /** DTLS per session (takes precedence over dtlsHeaders). */
  readonly dtls?: DtlsIntegration;
  readonly tunOwner?: { readonly uid?: number; readonly gid?: number };
  readonly log?: ManagerLog;
  /**
   * restrict-user-to-routes / restrict-user-to-ports (src/server/firewall): nft rules per tun device,
   * installed before the connect-script and removed at release. Default: the real `nft` runner.
   */
  readonly firewall?: SessionFirewall;
  /** Privilege separation: tunnels' data paths (tun reading, DTLS endpoint) run in workers. */
  readonly remoteDataPath?: RemoteDataPath;
  /** Applies non-default net-priority / output-buffer; absent = never touched. */
  readonly socketTuner?: SocketTuner;
}

/**
 * DTLS for one CONNECT, decided before the MTU is computed (the DTLS record overhead lowers it):
 * `headers` fills the X-DTLS-* block of the response, and `attach` registers the session with the
 * UDP side once its Tunnel exists. The server wiring implements it on src/dtls.
 */
export interface DtlsPlan {
  /** Bytes a DTLS record adds to a packet, including the packet-type byte (protocol.md §5.1). */
  readonly cryptoOverhead: number;
  headers(ctx: DtlsHeaderContext): string[];
  /** `mtu` lets MTU probes and try-mtu-discovery change the data MTU and the tun MTU after CONNECT. */
  attach(tunnel: Tunnel, dataMtu: number, mtu?: DtlsMtuContext): { detach(): void };
}

export interface DtlsIntegration {
  /** Null when this session gets no DTLS (udp-port 0, no-udp, no cipher in common, ...). */
  plan(req: ConnectRequest, vhost: VhostConfig, settings: SessionSettings): DtlsPlan | null;
}

/** ocserv runs periodic_check from a 10 s timer. */
export const PERIODIC_CHECK_MS = 10_000;
/** Extra room over the link MTU for packets from the client (headers of other stacks, DPD padding). */
const RX_SLACK = 256;

const COOKIE_NOT_ACCEPTABLE = "Cookie is not acceptable";

/** The per-tunnel values of the data path (Tunnel options), as a worker needs them to run it. */
export type DataPathParams = Omit<TunnelOptions, "transport" | "tun" | "tunReader" | "timers" | "onEnd"> & {
  /** Size of each pooled tun read buffer, CSTP header room included. */
  readonly readBufferSize: number;
};

/** What the manager does with a running tunnel: local (Tunnel) or in a privsep worker. */
export type RunningTunnel = TunnelHandle & Pick<Tunnel, "end" | "periodicCheck" | "stats">;

/**
 * Privilege separation (docs/privsep.md §6.4): this process keeps steps 1–5 and release(); the data
 * path runs in the worker that holds the TLS connection, on the tun fd it is handed. `onEnd` is called
 * once when the worker reports the end (or is lost).
 */
export interface RemoteDataPath {
  start(a: {
    readonly id: number;
    readonly transport: TunnelTransport;
    readonly device: TunDevice;
    readonly params: DataPathParams;
    readonly onEnd: (reason: DisconnectReason) => void;
    /** The session's DTLS plan (its X-DTLS-* headers are in the response); the worker attaches it. */
    readonly dtls: DtlsPlan | null;
    readonly dataMtu: number;
    /** With DTLS: the session's MTU context; its setTunMtu (netlink) serves the worker's SetMtu. */
    readonly mtuContext: DtlsMtuContext | null;
  }): RunningTunnel;
}

/** A running tunnel and what its release needs. */
interface LiveTunnel {
  readonly id: number;
  readonly key: string;
  readonly session: SessionRecord;
  readonly tunnel: RunningTunnel;
  readonly device: TunDevice;
  leases: LeaseHolder;
  readonly iroutes: readonly Route[];
  readonly script: Omit<ScriptContext, "reason" | "stats" | "leases">;
  readonly routeDelCmd: string | null;
  readonly disconnectScript: string | null;
  /** Whether restriction rules were installed for this device (removed at release). */
  readonly firewalled: boolean;
  /** The session's registration with the DTLS endpoint, if any. */
  udp: { detach(): void } | null;
  released: boolean;
}

export interface TunnelInfo {
  readonly id: number;
  readonly safeId: string;
  readonly username: string;
  readonly group: string | null;
  readonly device: string;
  readonly ipv4: string | null;
  readonly ipv6: string | null;
  readonly remoteAddress: string;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly since: number;
}

function fail(status: 401 | 503, reason: string): ConnectOutcome {
  return { ok: false, status, reason };
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class TunnelManagerImpl implements TunnelManager {
  private readonly live = new Map<string, LiveTunnel>();
  private readonly leases: LeaseTable;
  private readonly scripts: ScriptRunner;
  private readonly firewall: SessionFirewall;
  private nextId = 1;
  private readonly stopTimer: () => void;
  /** A socket-option failure is logged once per manager: it would repeat identically for every session. */
  private socketTunerWarned = false;

  constructor(private readonly deps: TunnelManagerDeps) {
    this.scripts = deps.scripts ?? createShellRunner();
    this.firewall = deps.firewall ?? new SessionFirewall(createNftRunner());
    const probe = deps.probe;
    this.leases = new LeaseTable({
      random: (n) => deps.random(n),
      probe: probe ? (a) => (deps.config().global["ping-leases"] ? probe(a) : Promise.resolve(false)) : null,
    });
    this.stopTimer = deps.timers.setInterval(() => this.checkAll(), PERIODIC_CHECK_MS);
  }

  /** Runs every tunnel's periodic check now (the 10 s timer calls this). */
  checkAll(): void {
    for (const t of [...this.live.values()]) t.tunnel.periodicCheck();
  }

  /** The running tunnels, for occtl-style listings. */
  list(): TunnelInfo[] {
    return [...this.live.values()].map((t) => {
      const s = t.tunnel.stats;
      return {
        id: t.id,
        safeId: t.session.safeId,
        username: t.session.username,
        group: t.session.group,
        device: t.device.name,
        ipv4: t.leases.ipv4?.remote ?? null,
        ipv6: t.leases.ipv6?.remote ?? null,
        remoteAddress: t.script.ipReal,
        bytesIn: s.bytesIn,
        bytesOut: s.bytesOut,
        since: s.startTime,
      };
    });
  }

  /** Ends one tunnel from the server side (occtl disconnect): the cookie is invalidated. */
  disconnect(id: number): boolean {
    for (const t of this.live.values()) {
      if (t.id === id) {
        t.tunnel.end("server-disconnect");
        return true;
      }
    }
    return false;
  }

  /** Ends every tunnel and stops the timer (server shutdown). */
  close(reason: DisconnectReason = "server-disconnect"): void {
    this.stopTimer();
    for (const t of [...this.live.values()]) t.tunnel.end(reason);
  }

  get leaseTable(): LeaseTable {
    return this.leases;
  }

  /**
   * Resolves once every queued firewall install/removal has run. Shutdown awaits it after close(), so
   * the nft removals of the ended sessions are not cut off by the process exiting.
   */
  firewallIdle(): Promise<void> {
    return this.firewall.idle();
  }

  async connect(req: ConnectRequest): Promise<ConnectOutcome> {
    const { session, transport } = req;
    const cfg = this.deps.config();
    const vhost = cfg.vhostFor(session.vhost);
    const client = parseClientInfo(req.headers, session.userAgent);
    const key = session.safeId;

    // 1. Session reuse: steal the leases of the tunnel holding this cookie, then end it.
    let stolen: LeaseHolder | null = null;
    const old = this.live.get(key);
    if (old) {
      if (old.session.username !== session.username) return fail(401, COOKIE_NOT_ACCEPTABLE);
      stolen = this.supersede(old);
    }

    // 2. Per-user/group config.
    let settings: SessionSettings;
    let routes: readonly RouteEntry[];
    try {
      // The front loads them for its CONNECT checks and passes them on, so the files are read once.
      const r: SettingsResult =
        req.settings !== undefined ? { kind: "ok", settings: req.settings } : await this.deps.settingsFor(vhost, session.username, session.group);
      if (r.kind === "rejected") throw new Error(r.reason);
      settings = r.settings;
      routes = await this.effectiveRoutes(vhost, session, settings);
    } catch (e) {
      if (stolen) this.leases.release(stolen);
      this.deps.log?.warn(`session ${session.safeId}: per-user configuration rejected: ${errorText(e)}`);
      return fail(401, COOKIE_NOT_ACCEPTABLE);
    }

    // 3. Leases.
    let leases: LeaseHolder;
    try {
      leases = await this.leases.allocate({
        username: session.username,
        ipv4Network: settings["ipv4-network"],
        ipv6Network: settings["ipv6-network"],
        ipv6SubnetPrefix: settings["ipv6-subnet-prefix"],
        explicitIpv4: settings["explicit-ipv4"],
        explicitIpv6: settings["explicit-ipv6"],
        predictable: vhost.options["predictable-ips"],
        stolen,
      });
    } catch (e) {
      if (stolen) this.leases.release(stolen);
      if (e instanceof LeaseError) {
        this.deps.log?.warn(`session ${session.safeId}: no IP lease for ${session.username}: ${e.message}`);
        return fail(503, REASON_CONFIG_ERROR);
      }
      throw e;
    }

    // 4. The tun device.
    let device: TunDevice;
    try {
      const owner = this.deps.tunOwner;
      device = this.deps.tuns.openTun(`${cfg.global.device}%d`, {
        ...(owner?.uid !== undefined ? { owner: owner.uid } : {}),
        ...(owner?.gid !== undefined ? { group: owner.gid } : {}),
      });
    } catch (e) {
      this.leases.release(leases);
      this.deps.log?.warn(`session ${session.safeId}: cannot create tun device: ${errorText(e)}`);
      return fail(503, REASON_SERVER_ERROR);
    }
    let dtlsPlan: DtlsPlan | null = null;
    try {
      dtlsPlan = this.deps.dtls?.plan(req, vhost, settings) ?? null;
    } catch (e) {
      this.deps.log?.warn(`session ${session.safeId}: DTLS disabled: ${errorText(e)}`);
    }
    let mtu: MtuResult;
    try {
      let deviceMtu = 0;
      try {
        deviceMtu = this.deps.net.getLink(device.index).mtu;
      } catch {
        deviceMtu = 0; // ocserv: 1500 when SIOCGIFMTU fails
      }
      mtu = computeMtu({
        configuredMtu: settings.mtu,
        deviceMtu,
        clientBaseMtu: client.baseMtu,
        clientTunnelMtu: client.tunnelMtu,
        hasIpv6Lease: leases.ipv6 !== null,
        peerIsIpv6: isIpv6Peer(transport.remoteAddress),
        cipherSuite: transport.tls.cipherSuite,
        ...(dtlsPlan ? { dtlsCryptoOverhead: dtlsPlan.cryptoOverhead } : {}),
      });
      const v4 = leases.ipv4;
      const v6 = leases.ipv6;
      const result = this.deps.net.configureTunnel(device.index, {
        mtu: Math.max(68, mtu.dataMtu),
        ...(v4 ? { ipv4: { local: v4.local, peer: v4.remote } } : {}),
        ...(v6 ? { ipv6: { local: v6.local, client: v6.subnet, subnetPrefix: v6.subnetPrefix } } : {}),
      });
      if (result.ipv6Error && leases.ipv6) {
        this.deps.log?.warn(`session ${session.safeId}: IPv6 setup of ${device.name} failed, continuing with IPv4: ${result.ipv6Error.message}`);
        leases = this.leases.dropIpv6(leases);
        if (!leases.ipv4) throw result.ipv6Error;
      }
    } catch (e) {
      device.close();
      this.leases.release(leases);
      this.deps.log?.warn(`session ${session.safeId}: cannot configure ${device.name}: ${errorText(e)}`);
      return fail(503, REASON_SERVER_ERROR);
    }
    this.deps.log?.info(`assigning tun device ${device.name} to ${session.username} (${session.safeId})`);

    const g = cfg.global;
    const hostname = settings.hostname ?? client.hostname;
    const id = this.nextId++;
    const scriptBase: LiveTunnel["script"] = {
      id,
      vhost: vhost.name,
      username: session.username,
      group: session.group,
      hostname,
      device: device.name,
      userAgent: client.userAgent,
      deviceType: client.deviceType,
      platform: client.platform,
      ipReal: transport.remoteAddress,
      ipRealLocal: transport.localAddress,
      routes,
      noRoutes: settings["no-route"],
      dns: settings.dns,
      restrictToRoutes: settings["restrict-user-to-routes"],
      ports: settings["restrict-user-to-ports"],
    };

    // Steps 5 and 6 may fail after the tun device and leases exist (a connect-script runner that
    // rejects, a throwing DTLS header hook, a Tunnel constructor error): undo everything this CONNECT
    // acquired, so a failed CONNECT leaves no device, lease or iroute behind.
    let routesAdded = false;
    let firewalled = false;
    const undo = (): void => {
      if (routesAdded && g["route-del-cmd"]) {
        for (const r of settings.iroute) this.fireAndForget(routeCommand(g["route-del-cmd"], r, device.name), {});
      }
      if (firewalled) this.removeFirewall(device.name, session.safeId);
      device.close();
      this.leases.release(leases);
    };
    try {
      return await this.openTunnel({ req, cfg, vhost, client, key, settings, routes, device, leases, mtu, id, hostname, scriptBase, dtlsPlan, onRoutesAdded: () => (routesAdded = true), onFirewalled: () => (firewalled = true) });
    } catch (e) {
      const half = this.live.get(key);
      if (half?.device === device) {
        this.live.delete(key);
        half.released = true;
        try {
          half.udp?.detach();
        } catch {
          // the UDP side is being torn down anyway
        }
      }
      undo();
      this.deps.log?.warn(`session ${session.safeId}: tunnel setup failed: ${errorText(e)}`);
      return fail(503, REASON_SERVER_ERROR);
    }
  }

  /** Steps 5 and 6 of connect(): scripts, iroutes, the response head and the data path. Throws on failure; connect() undoes. */
  private async openTunnel(a: {
    readonly req: ConnectRequest;
    readonly cfg: Config;
    readonly vhost: VhostConfig;
    readonly client: ReturnType<typeof parseClientInfo>;
    readonly key: string;
    readonly settings: SessionSettings;
    readonly routes: readonly RouteEntry[];
    readonly device: TunDevice;
    readonly leases: LeaseHolder;
    readonly mtu: MtuResult;
    readonly id: number;
    readonly hostname: string | null;
    readonly scriptBase: LiveTunnel["script"];
    readonly dtlsPlan: DtlsPlan | null;
    readonly onRoutesAdded: () => void;
    readonly onFirewalled: () => void;
  }): Promise<ConnectOutcome> {
    const { req, cfg, vhost, client, key, settings, routes, device, leases, mtu, id, hostname, scriptBase, dtlsPlan } = a;
    const { session, transport } = req;
    const g = cfg.global;
    // 5. The firewall, then the connect-script, then the iroutes. ocserv chains its ocserv-fw script
    //    before the connect-script, and a failure of either refuses the session.
    const firewalled = await this.installFirewall(session.safeId, device.name, settings, routes);
    if (firewalled === "failed") {
      device.close();
      this.leases.release(leases);
      return fail(401, COOKIE_NOT_ACCEPTABLE);
    }
    if (firewalled) a.onFirewalled();
    if (g["connect-script"]) {
      const code = await this.scripts.run(g["connect-script"], scriptEnv({ ...scriptBase, reason: "connect", leases }));
      if (code !== 0) {
        if (firewalled) this.removeFirewall(device.name, session.safeId);
        device.close();
        this.leases.release(leases);
        this.deps.log?.warn(`session ${session.safeId}: connect-script exited with ${code}; refusing ${session.username}`);
        return fail(401, COOKIE_NOT_ACCEPTABLE);
      }
    }
    if (g["route-add-cmd"]) {
      a.onRoutesAdded();
      for (const r of settings.iroute) this.fireAndForget(routeCommand(g["route-add-cmd"], r, device.name), {});
    }

    // 6. The response and the data path. A tunnel that raced us on the same cookie is superseded too.
    const raced = this.live.get(key);
    if (raced) {
      const s2 = this.supersede(raced);
      this.leases.release(s2);
    }
    const dpd = client.mobile ? settings["mobile-dpd"] : settings.dpd;
    const opts = vhost.options;
    const head = buildConnectHead({
      vhost: opts,
      settings,
      routes,
      client,
      username: session.username,
      group: session.group,
      leases,
      hostname,
      mtu,
      tls: transport.tls,
      rekeyFuzz: rekeyFuzzFromBytes(this.deps.random(2)),
      secondsSinceAuth: Math.max(0, (this.deps.timers.now() - session.authTime) / 1000),
      headers: req.headers,
      ...(dtlsPlan
        ? { dtlsHeaders: (c: DtlsHeaderContext) => dtlsPlan.headers(c) }
        : this.deps.dtlsHeaders
          ? { dtlsHeaders: (c: DtlsHeaderContext) => this.deps.dtlsHeaders!(c) }
          : {}),
    });

    this.tuneSocket(session.safeId, transport, settings["net-priority"], opts["output-buffer"] > 0 ? mtu.linkMtu * opts["output-buffer"] : 0);

    let live: LiveTunnel | null = null;
    const onEnd = (reason: DisconnectReason): void => {
      if (live) this.release(live, reason);
    };
    const params: DataPathParams = {
      dpd,
      idleTimeout: client.mobile ? opts["mobile-idle-timeout"] : opts["idle-timeout"],
      sessionTimeout: settings["session-timeout"],
      authTime: session.authTime,
      rxPerSec: settings["rx-data-per-sec"],
      txPerSec: settings["tx-data-per-sec"],
      maxPayload: Math.min(0xffff, Math.max(mtu.linkMtu, mtu.dataMtu, 1500) + RX_SLACK),
      switchToTcpTimeout: opts["switch-to-tcp-timeout"],
      tlsRekeyTime: opts["rekey-time"] > 0 && opts["rekey-method"] === "ssl" && transport.tls.version === "TLS1.3" ? opts["rekey-time"] : 0,
      readBufferSize: CSTP_HEADER_LEN + Math.max(mtu.linkMtu, mtu.dataMtu, 1500),
    };
    // Privilege separation: the worker holding the connection runs the data path on the tun fd.
    const remote = this.deps.remoteDataPath;
    const local = remote ? null : new Tunnel({ transport, tun: device, tunReader: device, timers: this.deps.timers, ...params, onEnd });
    // MTU changes after CONNECT reach the tun as ocserv's CMD_TUN_MTU does (src/server/tunnel/mtu-discovery.ts);
    // in a privsep worker they come back here as SetMtu requests.
    const mtuContext = dtlsPlan
      ? dtlsMtuContext(mtu, {
          hasIpv6Lease: leases.ipv6 !== null,
          peerIsIpv6: isIpv6Peer(transport.remoteAddress),
          configuredMtu: vhost.options.mtu,
          readCapacity: Math.max(mtu.linkMtu, mtu.dataMtu, 1500),
          setTunMtu: (m) => void this.deps.net.configureTunnel(device.index, { mtu: m }),
        })
      : null;
    const tunnel: RunningTunnel = local ?? remote!.start({ id, transport, device, params, onEnd, dtls: dtlsPlan, dataMtu: mtu.dataMtu, mtuContext });
    live = {
      id,
      key,
      session,
      tunnel,
      device,
      leases,
      iroutes: settings.iroute,
      script: scriptBase,
      routeDelCmd: g["route-del-cmd"],
      disconnectScript: g["disconnect-script"],
      firewalled,
      udp: null,
      released: false,
    };
    this.live.set(key, live);
    if (local) {
      if (dtlsPlan && mtuContext) live.udp = dtlsPlan.attach(local, mtu.dataMtu, mtuContext);
      pumpTun(device, local, Math.max(mtu.linkMtu, mtu.dataMtu, 1500), (e) => this.deps.log?.warn(`reading ${device.name} failed: ${errorText(e)}`));
    }
    this.deps.sessions.connected(session.sid);
    if (client.hostname !== null && g["host-update-script"]) {
      this.fireAndForget(g["host-update-script"], scriptEnv({ ...scriptBase, reason: "host-update", leases }));
    }
    return { ok: true, head, tunnel };
  }

  /**
   * net-priority and output-buffer on the TCP connection, only when set (defaults cost nothing). A
   * failure never ends the session: the options are performance hints.
   */
  private tuneSocket(sessionId: string, transport: TunnelTransport, priority: NetPriority | null, sendBuffer: number): void {
    const tuner = this.deps.socketTuner;
    if (!tuner || (priority === null && sendBuffer <= 0)) return;
    try {
      tuner.apply(transport, { priority, sendBuffer });
    } catch (e) {
      if (this.socketTunerWarned) return;
      this.socketTunerWarned = true;
      this.deps.log?.warn(`session ${sessionId}: cannot apply net-priority/output-buffer to the TCP connection (further failures not logged): ${errorText(e)}`);
    }
  }

  /**
   * Installs the session's restrict-user-to-routes / restrict-user-to-ports rules on its tun device.
   * Returns false when the session needs none, "failed" (logged) when they could not be installed.
   */
  private async installFirewall(sessionId: string, device: string, settings: SessionSettings, routes: readonly RouteEntry[]): Promise<boolean | "failed"> {
    let policy: FirewallPolicy | null;
    try {
      policy = firewallPolicy({
        restrictToRoutes: settings["restrict-user-to-routes"],
        ports: settings["restrict-user-to-ports"],
        routes,
        noRoutes: settings["no-route"],
        dns: settings.dns,
      });
      if (policy === null) return false;
      await this.firewall.install(device, policy);
      return true;
    } catch (e) {
      this.deps.log?.warn(`session ${sessionId}: cannot install the restrict-user-to-routes/ports firewall on ${device}; refusing the session: ${errorText(e)}`);
      return "failed";
    }
  }

  /** Queues the removal of a device's firewall rules; it runs before any later install on that name. */
  private removeFirewall(device: string, sessionId: string): void {
    this.firewall.remove(device).catch((e: unknown) => {
      this.deps.log?.warn(`session ${sessionId}: removing the firewall rules of ${device} failed: ${errorText(e)}`);
    });
  }

  /** Appends other users' iroutes (expose-iroutes) unless the session uses the default route. */
  private async effectiveRoutes(vhost: VhostConfig, session: SessionRecord, settings: SessionSettings): Promise<readonly RouteEntry[]> {
    const routes = settings.route;
    if (!vhost.options["expose-iroutes"] || !this.deps.exposedIroutes || isDefaultRoute(routes)) return routes;
    const extra: Route[] = [];
    for (const e of await this.deps.exposedIroutes(vhost)) {
      if (e.username === session.username) continue;
      extra.push(...e.routes);
    }
    return extra.length === 0 ? routes : Object.freeze([...routes, ...extra]);
  }


  /** Takes the leases of a live tunnel on this cookie and ends it; the cookie stays valid. */
  private supersede(old: LiveTunnel): LeaseHolder {
    const stolen = this.leases.steal(old.leases);
    old.tunnel.end("user-reconnect");
    return stolen;
  }

  /** Everything a tunnel holds, released exactly once (architecture.md §5 remove_proc order). */
  private release(t: LiveTunnel, reason: DisconnectReason): void {
    if (t.released) return;
    t.released = true;
    if (this.live.get(t.key) === t) this.live.delete(t.key);
    t.device.onReadable(null);
    if (t.udp) {
      try {
        t.udp.detach();
      } catch (e) {
        this.deps.log?.warn(`DTLS detach failed: ${errorText(e)}`);
      }
    }
    const s = t.tunnel.stats;
    const now = this.deps.timers.now();
    this.deps.log?.info(`session ${t.session.safeId} of ${t.session.username} on ${t.device.name} ended: ${reason}`);
    try {
      this.deps.sessions.ended(t.session.sid, reason);
    } catch (e) {
      this.deps.log?.warn(`session store failed on end: ${errorText(e)}`);
    }
    // ocserv-fw runs (and removes the rules) before the disconnect-script it chains to.
    if (t.firewalled) this.removeFirewall(t.device.name, t.session.safeId);
    if (t.disconnectScript) {
      this.fireAndForget(
        t.disconnectScript,
        scriptEnv({
          ...t.script,
          reason: "disconnect",
          leases: t.leases,
          stats: { bytesIn: s.bytesIn, bytesOut: s.bytesOut, durationSeconds: Math.max(0, Math.floor((now - s.startTime) / 1000)) },
        }),
      );
    }
    if (t.routeDelCmd) {
      for (const r of t.iroutes) this.fireAndForget(routeCommand(t.routeDelCmd, r, t.device.name), {});
    }
    this.leases.release(t.leases);
    t.device.close();
  }

  private fireAndForget(command: string, env: Readonly<Record<string, string>>): void {
    this.scripts.run(command, env).then(
      (code) => {
        if (code !== 0) this.deps.log?.warn(`command exited with ${code}: ${command.split(" ")[0] ?? ""}`);
      },
      (e: unknown) => this.deps.log?.warn(`command failed: ${errorText(e)}`),
    );
  }
}
