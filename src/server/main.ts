// The server: wires the configuration into the modules and the modules into sockets.
//
//   TCP accept (src/net) ──► TLS (src/tls, per-vhost settings from SNI) ──► HTTP front (src/server/front:
//   auth exchange, sessions, cookies, bans) ──CONNECT──► tunnel manager (src/server/tunnel: leases, tun via
//   src/tun, scripts, CSTP data path)
//
// Everything is built once here from the frozen Config; a SIGHUP builds a new Config and swaps it whole
// (running tunnels keep the settings they started with). Module-level state: none.

import type { Config, VhostConfig } from "../config/types.ts";
import { applyReload, formatDiagnostic, loadSessionSettings } from "../config/index.ts";
import { randomBytes } from "../crypto/index.ts";
import { BanTracker, createAuthenticator, type Authenticator } from "../auth/index.ts";
import { IcmpPinger, SocketOptions, listenTcp, type TcpConnection, type TcpListener } from "../net/index.ts";
import { SessionCache } from "../tls/index.ts";
import { RtNetlink, createLinuxTunFactory, createReadiness, loadLibc } from "../tun/index.ts";
import type { RunServer, ServerContext } from "../process/run.ts";
import { createFront, type Front } from "./front/server.ts";
import { MemorySessionStore, vhostSessionPolicy } from "./front/sessions.ts";
import { TunnelManagerImpl, loadExposedIroutes, systemTimers } from "./tunnel/index.ts";
import type { SocketTuner } from "./tunnel/manager.ts";
import { VhostTlsError, loadKeyFile, loadVhostTls, type VhostTls } from "./vhost-tls.ts";
import { SplitDtlsPlanner, SplitMain, SplitStartError, splitSocketTuner, dropPlanFor, loadKeyMaterial, splitDataPath, splitEnabled, startSplitServer, workerLogSpec } from "./split/main-side.ts";
import type { DropPlan } from "../privsep/drop.ts";
import { DtlsService } from "./dtls-service.ts";
import { serveConnection } from "./serve-connection.ts";
import { SessionFirewall, createNftRunner, findNft } from "./firewall/index.ts";

/** ocserv's TLS session cache is bounded; this many entries is ample for a router. */
const TLS_SESSION_CACHE_ENTRIES = 8192;


function banConfig(config: Config) {
  const g = config.global;
  return {
    maxBanScore: g["max-ban-score"],
    banTime: g["ban-time"],
    banResetTime: g["ban-reset-time"],
    pointsConnection: g["ban-points-connection"],
    pointsWrongPassword: g["ban-points-wrong-password"],
    pointsKkdcp: g["ban-points-kkdcp"],
  };
}

/** Authenticators per vhost, created eagerly so that broken passwd/otp files stop the start. */
function buildAuthenticators(config: Config, log: ServerContext["log"]): Map<string | null, Authenticator> {
  const out = new Map<string | null, Authenticator>();
  for (const v of [config.defaultVhost, ...config.vhosts]) {
    // ocserv refuses to start when the accounting method is not compiled in; this build has none.
    const acct = v.options.acct;
    if (acct !== null) throw new Error(`${v.name ?? "default"} vhost: unknown or unsupported accounting method: ${acct.type}`);
    out.set(
      v.name,
      createAuthenticator(v.options.auth, v.options["enable-auth"], {
        banPointsWrongPassword: config.global["ban-points-wrong-password"],
        certGroupOid: v.options["cert-group-oid"] !== null,
        log: (level, message) => log[level](message),
      }),
    );
  }
  return out;
}

export const runServer: RunServer = async (initial, ctx) => {
  const log = ctx.log;
  let config = initial;

  let vhostTls: ReadonlyMap<string | null, VhostTls>;
  let authenticators: Map<string | null, Authenticator>;
  try {
    vhostTls = loadVhostTls(config, (v, reason) => log.info(`client certificate rejected on ${v.name ?? "default"} vhost: ${reason}`));
    authenticators = buildAuthenticators(config, log);
  } catch (e) {
    const message = e instanceof VhostTlsError ? e.message : (e as Error).message;
    return { kind: "failed", exitCode: 1, message };
  }

  const tlsFor = (vhost: VhostConfig): VhostTls => vhostTls.get(vhost.name) ?? vhostTls.get(null)!;
  const sessionCache = new SessionCache(Math.max(1, config.defaultVhost.options["cookie-timeout"]), TLS_SESSION_CACHE_ENTRIES);
  const bans = new BanTracker(banConfig(config));
  const clock = { now: () => Date.now() };
  const sessions = new MemorySessionStore({ clock, random: randomBytes, policy: vhostSessionPolicy(() => config) });

  let tuns: ReturnType<typeof createLinuxTunFactory>;
  let netlink: RtNetlink;
  try {
    tuns = createLinuxTunFactory();
    netlink = RtNetlink.open();
  } catch (e) {
    return { kind: "failed", exitCode: 1, message: `cannot use tun devices: ${(e as Error).message}` };
  }

  // Privilege separation (docs/privsep.md): unprivileged workers hold the connections and run the data
  // paths, DTLS included (the worker gets the UDP socket main binds).
  const splitMode = splitEnabled(config, ctx.splitRequested === true) && ctx.selfCommand !== undefined;
  // run-as-user/run-as-group resolved now (NSS, before anything else): the workers drop to them, and
  // the tun devices are given to them (TUNSETOWNER/TUNSETGROUP), as ocserv does.
  let splitPlan: DropPlan | null = null;
  if (splitMode) {
    try {
      splitPlan = dropPlanFor(config, ctx.options.traceable);
    } catch (e) {
      return { kind: "failed", exitCode: 1, message: `run-as-user/run-as-group: ${(e as Error).message}` };
    }
  }
  let dtls: DtlsService | null;
  try {
    dtls = splitMode ? null : await DtlsService.start(() => config, log);
  } catch (e) {
    tuns.close();
    netlink.close();
    return { kind: "failed", exitCode: 1, message: `cannot listen on UDP port ${config.global["udp-port"]}: ${(e as Error).message}` };
  }

  // ping-leases: an ICMP echo to each candidate IPv4 address before leasing it (architecture.md §3).
  // The raw socket is opened on first use only, since most configurations leave the option off.
  let pinger: IcmpPinger | null = null;
  const probe = async (address: string): Promise<boolean> => {
    try {
      pinger ??= new IcmpPinger(loadLibc(), createReadiness(loadLibc()));
      return await pinger.ping(address, 1000);
    } catch (e) {
      log.warn(`ping-leases: cannot probe ${address}: ${(e as Error).message}`);
      return false;
    }
  };

  // net-priority / output-buffer: libc is loaded on first use, since most configurations set neither.
  let socketOptions: SocketOptions | null = null;
  const socketTuner: SocketTuner = { apply: (t, o) => (socketOptions ??= new SocketOptions()).apply(t, o) };

  // restrict-user-to-routes/ports: one nftables table for the server. Rules a crashed earlier run left
  // behind would otherwise apply to a new session that reuses the device name, so clear them once now.
  const firewall = new SessionFirewall(createNftRunner());
  if (findNft() !== null) {
    await firewall.reset().catch((e: unknown) => log.warn(`cannot clear old firewall rules: ${(e as Error).message}`));
  }

  const tunnels = new TunnelManagerImpl({
    config: () => config,
    firewall,
    settingsFor: (vhost, user, group) => loadSessionSettings(vhost, user, group),
    exposedIroutes: (vhost) => loadExposedIroutes(vhost),
    sessions,
    tuns,
    net: netlink,
    timers: systemTimers,
    random: randomBytes,
    probe,
    ...(dtls ? { dtls } : {}),
    // Split: main plans DTLS (headers, MTU); the worker owns the UDP socket and runs the endpoint.
    ...(splitMode ? { remoteDataPath: splitDataPath, ...(config.global["udp-port"] !== 0 ? { dtls: new SplitDtlsPlanner(() => config) } : {}) } : {}),
    ...(splitPlan !== null && splitPlan.uid !== null && splitPlan.gid !== null ? { tunOwner: { uid: splitPlan.uid, gid: splitPlan.gid } } : {}),
    log: { info: (m) => log.info(m), warn: (m) => log.warn(m) },
    socketTuner: splitMode ? splitSocketTuner : socketTuner,
  });

  const front: Front = createFront({
    config,
    authenticatorFor: (v) => authenticators.get(v.name) ?? authenticators.get(null)!,
    sessions,
    tunnels,
    bans,
    logger: log,
    clock,
    serverCertificateFor: (v) => tlsFor(v).serverCertificate,
    // Resumed TLS sessions: their client chain is checked again against the current CA, CRL and clock.
    verifyClientChain: (v, chain) => tlsFor(v).verifyClientChain([...chain]).ok,
  });

  let active = 0;
  const onConnection = (conn: TcpConnection) => {
    const maxClients = config.global["max-clients"];
    if (maxClients > 0 && active >= maxClients) {
      // ocserv accepts and closes at once beyond max-clients.
      conn.destroy();
      return { data() {}, close() {} };
    }
    active++;
    return serveConnection({ conn, config, front, tlsFor, sessionCache, log, onClosed: () => active-- });
  };

  // Privilege separation (docs/privsep.md): with run-as-user, an unprivileged worker accepts and serves
  // the connections; this process keeps keys, auth, sessions, leases, tun devices and scripts.
  let split: SplitMain | null = null;
  let listener: TcpListener | null = null;
  const host = config.global["listen-host"];
  const port = config.global["tcp-port"];
  if (splitPlan !== null && ctx.selfCommand !== undefined) {
    try {
      split = (
        await startSplitServer({
          config: () => config,
          configPath: ctx.options.config,
          plan: splitPlan,
          workerLog: workerLogSpec(ctx.options, config),
          command: ctx.selfCommand,
          sessions,
          bans,
          authenticatorFor: (name) => authenticators.get(name) ?? authenticators.get(null)!,
          tunnels,
          settingsFor: (vhost, user, group) => loadSessionSettings(vhost, user, group),
          loadKey: loadKeyFile,
          log,
          onGiveUp: (e) => {
            if (ctx.fatal) ctx.fatal(`workers cannot be kept running: ${e.message}`);
            else log.error(`workers cannot be kept running: ${e.message}`);
          },
        })
      ).split;
    } catch (e) {
      tunnels.close();
      dtls?.close();
      tuns.close();
      netlink.close();
      return { kind: "failed", exitCode: 1, message: e instanceof SplitStartError ? e.message : `cannot start the workers: ${(e as Error).message}` };
    }
    log.info(`listening (TCP) on ${host ?? "*"}:${port} through ${split.workers.length} unprivileged worker(s)`);
  } else {
    const onAcceptError = (e: unknown) => log.error(`accepting a connection failed: ${(e as Error).message}`);
    try {
      listener = listenTcp({ hostname: host ?? "::", port, onAcceptError }, onConnection);
    } catch (e) {
      if (host === null) {
        // No IPv6 on this host: fall back to IPv4 only.
        try {
          listener = listenTcp({ hostname: "0.0.0.0", port, onAcceptError }, onConnection);
        } catch (e2) {
          return { kind: "failed", exitCode: 1, message: `cannot listen on TCP port ${port}: ${(e2 as Error).message}` };
        }
      } else {
        return { kind: "failed", exitCode: 1, message: `cannot listen on ${host}:${port}: ${(e as Error).message}` };
      }
    }
    log.info(`listening (TCP) on ${host ?? "*"}:${port}`);
  }

  ctx.lifecycle.onShutdown(async (reason) => {
    log.info(`shutting down: ${reason}`);
    listener?.stop(true);
    // Tunnels end as server-disconnect first (a worker's get a Disconnect), then the workers stop.
    tunnels.close();
    // Wait for the nft removals of the sessions just ended, so none outlives the server.
    await tunnels.firewallIdle();
    await split?.stop();
    dtls?.close();
    pinger?.close();
    tuns.close();
    netlink.close();
  });

  ctx.lifecycle.onReload(async () => {
    const r = await ctx.reloadConfig();
    for (const w of r.warnings) log.warn(formatDiagnostic(w));
    if (!r.config) {
      for (const e of r.errors) log.error(formatDiagnostic(e));
      log.error("reload failed; keeping the running configuration");
      return;
    }
    const { config: next, heldBack } = applyReload(config, r.config);
    for (const h of heldBack) log.warn(`${h.option} changed on ${h.vhost ?? "default"} vhost; it applies after a restart`);
    try {
      vhostTls = loadVhostTls(next, (v, reason) => log.info(`client certificate rejected on ${v.name ?? "default"} vhost: ${reason}`));
      authenticators = buildAuthenticators(next, log);
    } catch (e) {
      log.error(`reload failed: ${(e as Error).message}; keeping the running configuration`);
      return;
    }
    config = next;
    // ban settings (max-ban-score, ban-time, points) are reloadable; the scores collected so far stay.
    bans.updateConfig(banConfig(next));
    front.reload(next);
    if (split !== null) {
      try {
        split.reload(loadKeyMaterial(next, ctx.options.config, loadKeyFile));
      } catch (e) {
        log.error(`reload: the workers keep their configuration: ${(e as Error).message}`);
      }
    }
    log.info("configuration reloaded");
  });

  ctx.ready();
  return { kind: "running" };
};
