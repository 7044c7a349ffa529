// A worker's half of the process split (docs/privsep.md §4.2): entered from src/cli.ts when the process
// was started by main's WorkerPool. Order matters and is enforced here:
//   1. every module the worker will ever use is imported statically by this file (after chroot an
//      import() of a file fails under `bun src/cli.ts`);
//   2. enterWorker() drops privileges (chroot, setgroups/setgid/setuid, no_new_privs, non-dumpable)
//      and only then opens the channels;
//   3. the first ConfigSnapshot builds the TLS credentials — certificates from the snapshot's bytes,
//      private keys as RemotePrivateKey (main signs) — and the HTTP front, whose stateful edges
//      (admission, authentication, sessions, bans) are requests to main;
//   4. only then the inherited listening socket is adopted and the first byte from the network read.
//
// Signing is synchronous (RemotePrivateKey.sign blocks on the key socket): the TLS core calls
// PrivateKey.sign() inside the handshake and has no asynchronous key step yet. The cost is that the
// worker's other connections wait ~0.4–0.8 ms per full handshake (docs/privsep.md §6.2); the gain is
// that the TLS core is unchanged and tested as is. The front's synchronous edges block the same way.
import type { AuthRequest, AuthState, AuthStep } from "../../auth/types.ts";
import type { Config, VhostConfig } from "../../config/types.ts";
import { formatDiagnostic, parseConfig, sessionSettings } from "../../config/index.ts";
import { createLogger, createStderrSink, createSyslogSink, type LogSink, type Logger, type RootLogger } from "../../log/index.ts";
import { SOCKOPT_NUMBERS, SocketOptions, getSocketInt, listenTcp, type TcpConnection, type TcpListener } from "../../net/index.ts";
import { DtlsService, selectDtls } from "../dtls-service.ts";
import { ChannelError, type Channel, type Message } from "../../privsep/channel.ts";
import { closeFd } from "../../privsep/libc.ts";
import { createLinuxTunFactory, type LinuxTunFactory } from "../../tun/index.ts";
import type { TunDevice } from "../../tun/device.ts";
import { Tunnel } from "../tunnel/tunnel.ts";
import { CSTP_HEADER_LEN } from "../tunnel/cstp.ts";
import { pumpTun } from "../tunnel/tun-reader.ts";
import { PERIODIC_CHECK_MS, systemTimers } from "../tunnel/manager.ts";
import type { DtlsMtuContext } from "../tunnel/mtu-discovery.ts";
import { RemotePrivateKey } from "../../privsep/remote-key.ts";
import type { SyncClient } from "../../privsep/sync-client.ts";
import { enterWorker, type WorkerContext } from "../../privsep/worker.ts";
import { SessionCache } from "../../tls/index.ts";
import type { ConnectOutcome, ConnectRequest, DisconnectReason, SessionRecord, TunnelManager } from "../contract.ts";
import { SessionError } from "../front/errors.ts";
import type { FrontSessions } from "../front/exchange.ts";
import type { AdmitResult, NewSession } from "../front/sessions.ts";
import { createFront, type Front } from "../front/server.ts";
import type { Authenticator, BanTracker } from "../front/types.ts";
import { VhostTlsError, loadVhostTls, type VhostTls } from "../vhost-tls.ts";
import { plainAddress, serveConnection } from "../serve-connection.ts";
import {
  SplitMsg,
  decodeAdmitResult,
  decodeConnectAnswer,
  decodeDisconnect,
  encodeConnect,
  encodeTunnelEnd,
  encodeTunnelStats,
  encodeSetMtu,
  decodeAuthInfo,
  decodeAuthStep,
  decodeConfigSnapshot,
  decodeFlag,
  decodeMaybeRecord,
  decodeVerdict,
  encodeAuthAnswer,
  encodeAuthInfoRequest,
  encodeAuthStart,
  encodeIp,
  encodeSessionAdmit,
  encodeSessionCreate,
  encodeSid,
  WORKER_LOG_ENV,
  decodeWorkerLog,
  type SocketTuning,
  type ConfigSnapshot,
  type WireAuthStep,
} from "./messages.ts";

const SOCK_DGRAM = 2;

/** ocserv's TLS session cache is bounded; per worker here. */
const TLS_SESSION_CACHE_ENTRIES = 8192;

/** The worker's handle on a backend state held by main. */
interface RemoteAuthState extends AuthState {
  readonly remoteHandle: number;
}

function toStep(w: WireAuthStep): AuthStep {
  if (w.kind !== "continue") return w;
  const state = { remoteHandle: w.handle } as unknown as RemoteAuthState;
  return { kind: "continue", message: w.message, fieldName: w.fieldName, label: w.label, state, banPoints: w.banPoints };
}

/** Authentication runs in main; the worker forwards each step (docs/privsep.md §6.3). */
function remoteAuthenticator(vhost: string | null, control: Channel, sync: SyncClient): Authenticator {
  return {
    usesPassword: (hasCertificate) => decodeAuthInfo(sync.request(SplitMsg.AuthInfo, encodeAuthInfoRequest({ vhost, hasCertificate })).body).usesPassword,
    listGroups: () => decodeAuthInfo(sync.request(SplitMsg.AuthInfo, encodeAuthInfoRequest({ vhost, hasCertificate: false })).body).groups,
    start: async (req: AuthRequest) => toStep(decodeAuthStep((await control.request(SplitMsg.AuthStart, encodeAuthStart({ vhost, req }))).body)),
    answer: async (state: AuthState, password: string | null) => {
      const handle = (state as RemoteAuthState).remoteHandle;
      return toStep(decodeAuthStep((await control.request(SplitMsg.AuthAnswer, encodeAuthAnswer({ handle, password }))).body));
    },
  };
}

/** The session table lives in main; these block on the key socket for one table operation each. */
function remoteSessions(sync: SyncClient): FrontSessions {
  return {
    newSid: () => sync.request(SplitMsg.NewSid, new Uint8Array(0)).body,
    create: (sid: Uint8Array, f: NewSession): SessionRecord => {
      let rec: SessionRecord | null;
      try {
        rec = decodeMaybeRecord(sync.request(SplitMsg.SessionCreate, encodeSessionCreate({ sid, ...f })).body);
      } catch (e) {
        // The front handles SessionError (it answers "Internal error"); main's refusal is one.
        if (e instanceof ChannelError && e.code === "remote-error") throw new SessionError("table-full", e.message);
        throw e;
      }
      if (rec === null) throw new SessionError("table-full", "main returned no session");
      return rec;
    },
    lookup: (sid: Uint8Array) => decodeMaybeRecord(sync.request(SplitMsg.SessionLookup, encodeSid(sid)).body),
    // main applies its own policy: a worker's view of per-user limits is not trusted. With the tunnel
    // split, admission (and its max-same-clients reservation) moves into Connect.
    admit: (sid: Uint8Array, remoteIp: string): AdmitResult => decodeAdmitResult(sync.request(SplitMsg.SessionAdmit, encodeSessionAdmit({ sid, remoteIp })).body),
  };
}

/**
 * Ban accounting is main's: admission was decided by the Admit request before the front saw the
 * connection, and main charged the points of every authentication step before answering it. The front
 * still calls addPoints with those points to learn whether the address is now banned; that is a query.
 */
function remoteBans(sync: SyncClient): BanTracker {
  return {
    admitConnection: () => "allow",
    addPoints: (ip: string) => decodeFlag(sync.request(SplitMsg.BanQuery, encodeIp(ip)).body),
  };
}

/** How many "ended by main before it started here" tunnel ids are remembered (ids only grow). */
const MAX_EARLY_ENDS = 256;

/** Tunnels whose data path this worker runs, by main's tunnel id. */
class LiveTunnels {
  private readonly running = new Map<number, Tunnel>();
  private readonly earlyEnds = new Map<number, DisconnectReason>();

  get(id: number): Tunnel | undefined {
    return this.running.get(id);
  }
  set(id: number, t: Tunnel): void {
    this.running.set(id, t);
  }
  delete(id: number): void {
    this.running.delete(id);
  }
  values(): IterableIterator<Tunnel> {
    return this.running.values();
  }
  entries(): IterableIterator<[number, Tunnel]> {
    return this.running.entries();
  }

  /** main's Disconnect: ends the tunnel, or remembers the id if its Connect answer is still on its way. */
  endByMain(id: number, reason: DisconnectReason): void {
    const t = this.running.get(id);
    if (t !== undefined) {
      t.end(reason);
      return;
    }
    if (this.earlyEnds.size >= MAX_EARLY_ENDS) {
      const oldest = this.earlyEnds.keys().next();
      if (!oldest.done) this.earlyEnds.delete(oldest.value);
    }
    this.earlyEnds.set(id, reason);
  }

  takeEarlyEnd(id: number): DisconnectReason | null {
    const r = this.earlyEnds.get(id);
    if (r === undefined) return null;
    this.earlyEnds.delete(id);
    return r;
  }
}

/**
 * CONNECT: main checks the cookie again, runs steps 1–5 (leases, tun device, addresses, scripts) and
 * answers with the response head and the tun fd; the worker runs the Tunnel on it (docs/privsep.md §6.4).
 */
/** The worker's DTLS endpoint, and the config the selection is recomputed with. */
interface WorkerDtls {
  readonly service: DtlsService;
  config(): Config;
}

function remoteTunnels(control: Channel, sync: SyncClient, tuns: LinuxTunFactory, live: LiveTunnels, dtls: WorkerDtls | null, log: Logger): TunnelManager {
  // net-priority / output-buffer: libc is loaded on first use; a failure is logged once (as in-process).
  let socketOptions: SocketOptions | null = null;
  let tuneWarned = false;
  const tune = (t: ConnectRequest["transport"], o: SocketTuning): void => {
    try {
      (socketOptions ??= new SocketOptions()).apply(t, o);
    } catch (e) {
      if (tuneWarned) return;
      tuneWarned = true;
      log.warn(`cannot apply net-priority/output-buffer to the TCP connection (further failures not logged): ${(e as Error).message}`);
    }
  };
  return {
    connect: async (req: ConnectRequest): Promise<ConnectOutcome> => {
      const t = req.transport;
      const ans = await control.request(
        SplitMsg.Connect,
        encodeConnect({
          sid: req.session.sid,
          vhost: req.session.vhost,
          headers: req.headers,
          transport: { remoteAddress: t.remoteAddress, remotePort: t.remotePort, localAddress: t.localAddress, tls: t.tls },
        }),
      );
      let a: ReturnType<typeof decodeConnectAnswer>;
      try {
        a = decodeConnectAnswer(ans.body);
      } catch (e) {
        if (ans.fd !== null) closeFd(ans.fd);
        throw e;
      }
      if (!a.ok) {
        if (ans.fd !== null) closeFd(ans.fd);
        return { ok: false, status: a.status, reason: a.reason };
      }
      const id = a.tunnelId;
      const endedHere = (reason: "error"): void => control.notify(SplitMsg.TunnelEnded, encodeTunnelEnd({ tunnelId: id, reason, bytesIn: 0, bytesOut: 0 }));
      // main may have ended the tunnel (session reuse, shutdown) before this continuation ran.
      const early = live.takeEarlyEnd(id);
      if (ans.fd === null || early !== null) {
        if (ans.fd !== null) closeFd(ans.fd);
        endedHere("error");
        if (early !== null) return { ok: false, status: 503, reason: "Server error" };
        throw new Error("main answered CONNECT without the tun descriptor");
      }
      let device: TunDevice;
      try {
        device = tuns.adoptTun(ans.fd, a.device);
      } catch (e) {
        closeFd(ans.fd);
        endedHere("error");
        throw e;
      }
      let tunnel: Tunnel;
      let udp: { detach(): void } | null = null;
      try {
        tunnel = new Tunnel({
          transport: t,
          tun: device,
          tunReader: device,
          timers: systemTimers,
          ...a.params,
          onEnd: (reason) => {
            live.delete(id);
            device.onReadable(null);
            device.close();
            try {
              udp?.detach();
            } catch (e) {
              log.warn(`DTLS detach failed: ${(e as Error).message}`);
            }
            const s = tunnel.stats;
            control.notify(SplitMsg.TunnelEnded, encodeTunnelEnd({ tunnelId: id, reason, bytesIn: s.bytesIn, bytesOut: s.bytesOut }));
          },
        });
      } catch (e) {
        device.close();
        endedHere("error");
        throw e;
      }
      live.set(id, tunnel);
      if (a.dtls !== null && dtls !== null) {
        // main chose the mode and wrote the X-DTLS-* headers; the same inputs and session ID give the
        // same selection here (selectDtls is pure), and this process owns the UDP socket.
        try {
          const cfg = dtls.config();
          const sel = selectDtls(cfg, req, cfg.vhostFor(req.session.vhost), { "no-udp": false }, a.dtls.sessionId);
          if (sel === null) log.warn(`DTLS offered by main but not selectable here (configuration changed?); tunnel ${id} stays on CSTP`);
          else {
            // MTU discovery runs here; the tun MTU is main's to set (the worker has no CAP_NET_ADMIN).
            const mtu: DtlsMtuContext = { ...a.dtls.mtu, setTunMtu: (m) => void sync.request(SplitMsg.SetMtu, encodeSetMtu(id, m)) };
            udp = dtls.service.attachSelection(sel, t, tunnel, a.dtls.dataMtu, mtu);
          }
        } catch (e) {
          log.warn(`DTLS cannot be attached to tunnel ${id}; it stays on CSTP: ${(e as Error).message}`);
        }
      }
      if (a.socket !== null) tune(t, a.socket);
      pumpTun(device, tunnel, a.params.readBufferSize - CSTP_HEADER_LEN, (e) => log.warn(`reading ${device.name} failed: ${(e as Error).message}`));
      return { ok: true, head: a.head, tunnel };
    },
  };
}

interface Built {
  readonly config: Config;
  readonly vhostTls: ReadonlyMap<string | null, VhostTls>;
}

/** Parses a snapshot into the worker's configuration and TLS settings. Throws with a reason. */
function build(snap: ConfigSnapshot, keys: SyncClient, log: Logger): Built {
  const parsed = parseConfig(snap.text, snap.path);
  if (parsed.config === undefined || parsed.errors.length > 0) {
    throw new Error(`configuration from main does not parse: ${parsed.errors.map((e) => formatDiagnostic(e)).join("; ")}`);
  }
  const config = parsed.config;
  const remoteKeys = new Map<string, RemotePrivateKey>();
  const vhostTls = loadVhostTls(
    config,
    (v, reason) => log.info(`client certificate rejected on ${v.name ?? "default"} vhost: ${reason}`),
    () => new Date(),
    (path) => {
      const index = snap.keyPaths.indexOf(path);
      if (index < 0) throw new VhostTlsError(`server-key ${path}: main holds no such key`);
      let k = remoteKeys.get(path);
      if (k === undefined) {
        k = RemotePrivateKey.fetch(index, { sync: keys, async: null });
        remoteKeys.set(path, k);
      }
      return k;
    },
    (path, what) => {
      const b = snap.files.get(path);
      if (b === undefined) throw new VhostTlsError(`cannot read ${what} ${path}: main did not send it`);
      return b;
    },
  );
  return { config, vhostTls };
}

/** The worker's main(): returns only on failure (the caller exits non-zero); otherwise runs until main goes. */
export async function runWorker(): Promise<number | null> {
  // Log destinations from main, opened now: after a chroot there is no /dev/log to connect to.
  const logSpec = decodeWorkerLog(process.env[WORKER_LOG_ENV]);
  const sinks: LogSink[] = [];
  if (logSpec.stderr) sinks.push(createStderrSink(process.stderr, "ocserv-worker", process.pid));
  if (logSpec.syslogFacility !== null) {
    try {
      sinks.push(createSyslogSink("ocserv-worker", logSpec.syslogFacility));
    } catch {
      if (!logSpec.stderr) sinks.push(createStderrSink(process.stderr, "ocserv-worker", process.pid));
    }
  }
  let root: RootLogger = createLogger({ level: logSpec.level ?? 1, sinks });
  let log: Logger = root;
  let first: (s: ConfigSnapshot) => void = () => undefined;
  const firstSnapshot = new Promise<ConfigSnapshot>((resolve) => (first = resolve));
  let onSnapshot: (s: ConfigSnapshot) => void = (s) => first(s);

  // The tun factory (its epoll thread) is made while the process can still load what it needs.
  let tuns: LinuxTunFactory;
  try {
    tuns = createLinuxTunFactory();
  } catch (e) {
    log.error(`cannot use tun devices: ${(e as Error).message}`);
    return 1;
  }
  const live = new LiveTunnels();
  let ctx: WorkerContext;
  try {
    ctx = await enterWorker({
      onMainLost: () => process.exit(0),
      onNotify: (m: Message) => {
        if (m.fd !== null) {
          // Nothing main notifies carries a descriptor yet.
          closeFd(m.fd);
          return;
        }
        try {
          if (m.type === SplitMsg.ConfigSnapshot) onSnapshot(decodeConfigSnapshot(m.body));
          else if (m.type === SplitMsg.Disconnect) {
            const d = decodeDisconnect(m.body);
            live.endByMain(d.tunnelId, d.reason);
          }
        } catch (e) {
          log.error(`bad notification ${m.type} from main: ${(e as Error).message}`);
        }
      },
    });
  } catch (e) {
    log.error(`cannot enter the worker mode: ${(e as Error).message}`);
    return 1;
  }

  let built: Built;
  try {
    built = build(await firstSnapshot, ctx.keys, log);
  } catch (e) {
    log.error(`worker cannot start: ${(e as Error).message}`);
    return 1;
  }
  root = createLogger({ level: logSpec.level ?? built.config.global["log-level"], sinks });
  log = root;

  let { config, vhostTls } = built;
  const tlsFor = (vhost: VhostConfig): VhostTls => vhostTls.get(vhost.name) ?? vhostTls.get(null)!;
  const authenticators = new Map<string | null, Authenticator>();
  const authenticatorFor = (v: VhostConfig): Authenticator => {
    let a = authenticators.get(v.name);
    if (a === undefined) {
      a = remoteAuthenticator(v.name, ctx.control, ctx.keys);
      authenticators.set(v.name, a);
    }
    return a;
  };
  // Inherited sockets: TCP listeners, and the DTLS socket (told apart by SO_TYPE).
  const tcpFds: number[] = [];
  let udpFd: number | null = null;
  for (const fd of ctx.listenFds) {
    if (getSocketInt(fd, SOCKOPT_NUMBERS.SOL_SOCKET, SOCKOPT_NUMBERS.SO_TYPE) === SOCK_DGRAM) udpFd = fd;
    else tcpFds.push(fd);
  }
  let dtlsService: DtlsService | null = null;
  if (udpFd !== null) {
    try {
      dtlsService = await DtlsService.start(() => config, log, { fd: udpFd });
    } catch (e) {
      log.error(`cannot use the DTLS socket: ${(e as Error).message}`);
      return 1;
    }
  }

  const clock = { now: () => Date.now() };
  const sessionCache = new SessionCache(Math.max(1, config.defaultVhost.options["cookie-timeout"]), TLS_SESSION_CACHE_ENTRIES);
  const front: Front = createFront({
    config,
    authenticatorFor,
    sessions: remoteSessions(ctx.keys),
    tunnels: remoteTunnels(ctx.control, ctx.keys, tuns, live, dtlsService === null ? null : { service: dtlsService, config: () => config }, log),
    // Per-user and per-group files are main's to read (they may be root-only, or outside the chroot):
    // the front's early checks use the vhost values, and main's Connect applies the real per-user policy.
    settingsFor: async (vhost) => ({ kind: "ok", settings: sessionSettings(vhost.options, null, null) }),
    bans: remoteBans(ctx.keys),
    logger: log,
    clock,
    serverCertificateFor: (v) => tlsFor(v).serverCertificate,
    verifyClientChain: (v, chain) => tlsFor(v).verifyClientChain([...chain]).ok,
  });

  // SIGHUP in main: a new snapshot. Connections past their handshake keep what they started with.
  onSnapshot = (s) => {
    try {
      const next = build(s, ctx.keys, log);
      config = next.config;
      vhostTls = next.vhostTls;
      front.reload(config);
      log.info("configuration reloaded");
    } catch (e) {
      log.error(`reload failed: ${(e as Error).message}; keeping the running configuration`);
    }
  };

  const onConnection = (conn: TcpConnection) => {
    const remoteAddress = plainAddress(conn.remoteAddress);
    let verdict: ReturnType<typeof decodeVerdict>;
    try {
      verdict = decodeVerdict(ctx.keys.request(SplitMsg.Admit, encodeIp(remoteAddress)).body);
    } catch (e) {
      log.error(`cannot admit ${remoteAddress}: ${(e as Error).message}`);
      verdict = "full";
    }
    if (verdict !== "allow") {
      if (verdict === "banned") log.info(`address ${remoteAddress} is banned; closing before TLS`);
      // ocserv accepts and closes at once beyond max-clients, and before TLS for a banned address.
      conn.destroy();
      return { data() {}, close() {} };
    }
    return serveConnection({
      conn,
      config,
      front,
      tlsFor,
      sessionCache,
      log,
      onClosed: () => ctx.control.notify(SplitMsg.ConnectionClosed, new Uint8Array(0)),
    });
  };

  // DPD, idle and session timeouts of the tunnels this worker runs (ocserv: every 10 s), and their byte
  // counts for main (listings, and the disconnect-script of a tunnel main ends itself).
  setInterval(() => {
    for (const [id, t] of [...live.entries()]) {
      t.periodicCheck();
      if (t.ended) continue;
      const s = t.stats;
      ctx.control.notify(SplitMsg.TunnelStats, encodeTunnelStats(id, s.bytesIn, s.bytesOut));
    }
  }, PERIODIC_CHECK_MS);

  const listeners: TcpListener[] = [];
  const onAcceptError = (e: unknown) => log.error(`accepting a connection failed: ${(e as Error).message}`);
  for (const fd of tcpFds) listeners.push(listenTcp({ fd, onAcceptError }, onConnection));
  log.info(`worker ready (uid ${ctx.ids.uid}, gid ${ctx.ids.gid}), accepting on ${listeners.length} socket(s)${dtlsService !== null ? ", DTLS on the UDP socket" : ""}`);
  return null;
}
