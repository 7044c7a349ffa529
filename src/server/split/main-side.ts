// main's half of the process split (docs/privsep.md): starts and supervises the unprivileged workers,
// hands them the listening socket and a ConfigSnapshot, and answers what they may ask — key operations
// (src/privsep key-service), connection admission, authentication steps and session-table operations.
// Authentication, the session table, ban scores and private keys never leave this process.
//
// What a worker can obtain here, and why it is no more than a client could:
//   * a session is created only for a username/group/vhost that main's own authenticator approved for
//     that same worker moments before (a one-time grant), under a SID main minted for it — a worker
//     cannot make itself a cookie for a user whose password it does not have;
//   * sessions are looked up only by the full 32-byte cookie, so a worker cannot list or guess others';
//   * ban points of authentication steps are charged here, before the worker sees the step;
//   * auth handles are per worker, bounded and expire: a worker cannot continue another's login.
import type { Authenticator } from "../front/types.ts";
import type { AuthState } from "../../auth/types.ts";
import type { BanTracker } from "../../auth/index.ts";
import type { Config } from "../../config/types.ts";
import type { PrivateKey } from "../../crypto/types.ts";
import type { Logger } from "../../log/types.ts";
import { connectPolicyOf, type MemorySessionStore } from "../front/sessions.ts";
import type { ConnectOutcome, DisconnectReason, TunnelManager, TunnelTransport } from "../contract.ts";
import type { DataPathParams, DtlsIntegration, DtlsPlan, RemoteDataPath, RunningTunnel, SettingsResult, SocketTuner } from "../tunnel/manager.ts";
import { dtlsHeadersFor, selectDtls } from "../dtls-service.ts";
import { bindDtlsSocket } from "../dtls-socket.ts";
import { randomBytes } from "../../crypto/index.ts";
import type { TunnelStats } from "../tunnel/tunnel.ts";
import type { TunDevice } from "../../tun/device.ts";
import { tunMtuAccepted, type DtlsMtuContext } from "../tunnel/mtu-discovery.ts";
import type { Channel } from "../../privsep/channel.ts";
import type { VhostConfig } from "../../config/types.ts";
import { SessionError } from "../front/errors.ts";
import { RemoteError, type Message, type Reply } from "../../privsep/channel.ts";
import type { DropPlan } from "../../privsep/drop.ts";
import { createKeyService, type KeyService } from "../../privsep/key-service.ts";
import { spawnWorker, WorkerPool, type WorkerHandle } from "../../privsep/spawn.ts";
import { readFileSync } from "node:fs";
import { SYSLOG_FACILITY_CODES, type CliOptions } from "../../process/argv.ts";
import { createBoundSocket } from "../../net/index.ts";
import { closeFd, dupFd, lookupGroup, lookupUser } from "../../privsep/libc.ts";
import { DecodeError } from "../../wire/reader.ts";
import { toHex } from "../../wire/writer.ts";
import {
  SplitMsg,
  decodeAuthAnswer,
  decodeConnect,
  decodeTunnelEnd,
  decodeTunnelStats,
  decodeSetMtu,
  type DtlsAnswer,
  encodeConnectAnswer,
  encodeDisconnect,
  type ConnectAnswer,
  type SocketTuning,
  type TransportInfo,
  decodeAuthInfoRequest,
  decodeAuthStart,
  decodeIp,
  decodeSessionAdmit,
  decodeSessionCreate,
  decodeSid,
  encodeAdmitResult,
  encodeAuthInfo,
  encodeAuthStep,
  encodeConfigSnapshot,
  encodeFlag,
  encodeMaybeRecord,
  encodeVerdict,
  encodeWorkerLog,
  WORKER_LOG_ENV,
  type WorkerLogSpec,
  type ConfigSnapshot,
  type WireAuthStep,
} from "./messages.ts";

const COOKIE_NOT_ACCEPTABLE = "Cookie is not acceptable";

/** How long a minted SID waits for its session, an auth handle for its answer, a grant for its session. */
const SID_TTL_MS = 15 * 60_000;
const HANDLE_TTL_MS = 15 * 60_000;
const GRANT_TTL_MS = 60_000;
/** Per-worker bounds: an honest worker stays far below them (one pending login per client). */
const MAX_SIDS = 65_536;
const MAX_HANDLES = 16_384;
const MAX_GRANTS = 1024;
/** Restarts allowed per window before main gives up (ocserv main exits when sec-mod dies). */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;
const RESTART_DELAY_MS = 500;

export interface SplitMainDeps {
  config(): Config;
  authenticatorFor(vhost: string | null): Authenticator;
  readonly sessions: MemorySessionStore;
  readonly bans: BanTracker;
  readonly log: Logger;
  /** main's TunnelManagerImpl, built with `remoteDataPath: splitDataPath` (steps 1–5 and release here). */
  readonly tunnels: TunnelManager;
  settingsFor(vhost: VhostConfig, username: string, group: string | null): Promise<SettingsResult>;
  /** The program to re-execute as a worker (cli selfCommand()). */
  readonly command: readonly string[];
  readonly plan: DropPlan;
  /** Listening TCP sockets (main keeps them open for restarted workers). */
  readonly listenFds: readonly number[];
  /** Where workers log (they get no other environment from main). */
  readonly workerLog: WorkerLogSpec;
  readonly workers: number;
  readonly now?: () => number;
  /** The pool gave up (a worker failed to start, or too many died): main exits with status 1. */
  onGiveUp(error: Error): void;
  /** A worker is gone: release what it carried (its tunnels). */
  onWorkerLost?(w: WorkerHandle): void;
}

/** The keys main holds and the snapshot that names them, rebuilt at start and on each reload. */
export interface KeyMaterial {
  readonly keys: readonly PrivateKey[];
  readonly snapshot: ConfigSnapshot;
}

interface Grant {
  readonly username: string;
  readonly group: string | null;
  readonly vhost: string | null;
  readonly ip: string;
  readonly expires: number;
}

interface PendingAuth {
  readonly state: AuthState;
  readonly vhost: string | null;
  readonly ip: string;
  readonly expires: number;
}


/**
 * main's stand-in for a worker's TLS connection during CONNECT: it carries what steps 1–5 read (peer
 * address, TLS version and suite) and receives the data path the manager starts on it. The records
 * themselves never reach main.
 */
class SplitTransport implements TunnelTransport {
  readonly tls: TransportInfo["tls"];
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  /** What the manager asked for net-priority / output-buffer; the worker applies it to its socket. */
  socketTuning: SocketTuning | null = null;
  bound: {
    readonly tunnel: RemoteTunnel;
    readonly device: TunDevice;
    readonly params: DataPathParams;
    readonly dtls: DtlsAnswer | null;
  } | null = null;

  constructor(
    readonly worker: WorkerBroker,
    info: TransportInfo,
  ) {
    this.tls = info.tls;
    this.remoteAddress = info.remoteAddress;
    this.remotePort = info.remotePort;
    this.localAddress = info.localAddress;
  }

  sendRecord(): void {
    throw new Error("records are sent by the worker");
  }
  exportKeyingMaterial(): Uint8Array {
    throw new Error("the TLS session is in the worker");
  }
  close(): void {
    this.bound?.tunnel.end("error");
  }
}

/** A tunnel whose data path runs in a worker: main's handle for release and for ending it. */
class RemoteTunnel implements RunningTunnel {
  /** Serves the worker's SetMtu for this tunnel (null without DTLS). */
  mtuContext: DtlsMtuContext | null = null;
  private ended = false;
  private bytesIn = 0;
  private bytesOut = 0;
  private readonly startTime = Date.now();

  constructor(
    readonly id: number,
    private readonly worker: WorkerBroker,
    private readonly onEnd: (reason: DisconnectReason) => void,
  ) {}

  /** Ended by main (session reuse, occtl, shutdown): tell the worker, release here at once. */
  end(reason: DisconnectReason): void {
    if (this.ended) return;
    this.ended = true;
    this.worker.tunnels.delete(this.id);
    try {
      this.worker.control?.notify(SplitMsg.Disconnect, encodeDisconnect(this.id, reason));
    } catch {
      // the worker is going away; its loss ends nothing twice
    }
    this.onEnd(reason);
  }

  /** Interim counts from the worker (TunnelStats); the last ones stand for a tunnel main ends itself. */
  updateStats(bytesIn: number, bytesOut: number): void {
    if (this.ended) return;
    this.bytesIn = bytesIn;
    this.bytesOut = bytesOut;
  }

  /** The worker reported the end (BYE, DPD, timeouts, the connection closed). */
  endedInWorker(reason: DisconnectReason, bytesIn: number, bytesOut: number): void {
    if (this.ended) return;
    this.ended = true;
    this.bytesIn = bytesIn;
    this.bytesOut = bytesOut;
    this.worker.tunnels.delete(this.id);
    this.onEnd(reason);
  }

  /** The worker died: a transport error, so the cookie stays valid (docs/privsep.md §4.3). */
  lost(): void {
    if (this.ended) return;
    this.ended = true;
    this.worker.tunnels.delete(this.id);
    this.onEnd("error");
  }

  /** DPD and timeouts are checked by the worker, which holds the traffic. */
  periodicCheck(): void {}

  get stats(): TunnelStats {
    return { bytesIn: this.bytesIn, bytesOut: this.bytesOut, droppedIn: 0, droppedOut: 0, startTime: this.startTime };
  }

  receiveRecord(): void {
    throw new Error("records are handled by the worker");
  }
  transportClosed(): void {
    // The worker reports the end with TunnelEnded.
  }
}

/** main's SocketTuner in split mode: the connection's socket is in the worker, which applies the options. */
export const splitSocketTuner: SocketTuner = Object.freeze({
  apply(t: TunnelTransport, o: SocketTuning): void {
    if (!(t instanceof SplitTransport)) throw new TypeError("split socket tuner used without a worker connection");
    t.socketTuning = { priority: o.priority, sendBuffer: o.sendBuffer };
  },
});

/** A DTLS plan made in main; the worker that holds the session's UDP endpoint attaches it. */
class SplitDtlsPlan implements DtlsPlan {
  constructor(
    readonly sessionId: Uint8Array,
    readonly cryptoOverhead: number,
    readonly headers: DtlsPlan["headers"],
  ) {}

  attach(): { detach(): void } {
    throw new Error("DTLS sessions are attached in the worker");
  }
}

/**
 * main's DtlsIntegration in split mode: it decides the DTLS mode and writes the X-DTLS-* headers (they
 * shape the MTU and the response head), but owns no socket — the UDP socket is the worker's, and the
 * worker recomputes the same selection from the session ID in the Connect answer (dtls-service.ts
 * selectDtls is pure), so no datagram ever crosses processes.
 */
export class SplitDtlsPlanner implements DtlsIntegration {
  constructor(private readonly config: () => Config) {}

  plan(req: Parameters<DtlsIntegration["plan"]>[0], vhost: VhostConfig, settings: Parameters<DtlsIntegration["plan"]>[2]): DtlsPlan | null {
    const cfg = this.config();
    const sel = selectDtls(cfg, req, vhost, settings, randomBytes(32));
    if (sel === null) return null;
    return new SplitDtlsPlan(sel.sessionId, sel.cryptoOverhead, dtlsHeadersFor(cfg, vhost, sel));
  }
}

/** The RemoteDataPath for main's TunnelManagerImpl in split mode (see SplitMain.connect). */
export const splitDataPath: RemoteDataPath = Object.freeze({
  start(a: Parameters<RemoteDataPath["start"]>[0]): RunningTunnel {
    const t = a.transport;
    if (!(t instanceof SplitTransport)) throw new TypeError("split data path used without a worker connection");
    const tunnel = new RemoteTunnel(a.id, t.worker, a.onEnd);
    const ctx = a.mtuContext;
    const dtls: DtlsAnswer | null =
      a.dtls instanceof SplitDtlsPlan && ctx !== null
        ? {
            sessionId: a.dtls.sessionId,
            dataMtu: a.dataMtu,
            mtu: { linkMtu: ctx.linkMtu, minMtu: ctx.minMtu, peerIsIpv6: ctx.peerIsIpv6, configuredMtu: ctx.configuredMtu, readCapacity: ctx.readCapacity },
          }
        : null;
    tunnel.mtuContext = ctx;
    t.bound = { tunnel, device: a.device, params: a.params, dtls };
    if (t.worker.lost) {
      // The worker died while the tunnel was being set up.
      queueMicrotask(() => tunnel.lost());
    } else {
      t.worker.tunnels.set(a.id, tunnel);
    }
    return tunnel;
  },
});

/**
 * Reads every certificate, CA and CRL file the configuration names (main reads them as root; the worker
 * gets the bytes) and lists the key paths in key-service order.
 */
export function buildSnapshot(config: Config, path: string, text: string, keyPaths: readonly string[]): ConfigSnapshot {
  const files = new Map<string, Uint8Array>();
  const add = (p: string | null) => {
    if (p === null || files.has(p)) return;
    // A file that cannot be read here was already refused by loadVhostTls; the worker would name it.
    try {
      files.set(p, new Uint8Array(readFileSync(p)));
    } catch {
      // left out: the worker reports "cannot read"
    }
  };
  for (const v of [config.defaultVhost, ...config.vhosts]) {
    for (const c of v.options["server-cert"]) add(c);
    add(v.options["ca-cert"]);
    add(v.options.crl);
  }
  return { path, text, files, keyPaths };
}

/** What a worker's requests need from main. */
export interface BrokerDeps {
  config(): Config;
  authenticatorFor(vhost: string | null): Authenticator;
  readonly sessions: MemorySessionStore;
  readonly bans: BanTracker;
  readonly log: Logger;
  readonly tunnels: TunnelManager;
  settingsFor(vhost: VhostConfig, username: string, group: string | null): Promise<SettingsResult>;
  /** The current key service (replaced on reload). */
  keyService(): KeyService;
  /** Connections admitted across all workers (max-clients). */
  totalActive(): number;
  readonly now?: () => number;
}

/**
 * main's side of one worker: answers its requests and remembers what it was granted (minted SIDs,
 * approved logins, pending auth handles, admitted connections, tunnels). Dropped whole when the worker
 * is lost. Independent of the process machinery, so the rules are testable in memory.
 */
export class WorkerBroker {
  /** The worker's control channel, once spawned (Disconnect goes there). */
  control: Channel | null = null;
  lost = false;
  /** Tunnels whose data path runs in this worker, by the manager's tunnel id. */
  readonly tunnels = new Map<number, RemoteTunnel>();
  private readonly sids = new Map<string, number>();
  private readonly handles = new Map<number, PendingAuth>();
  private nextHandle = 1;
  private grants: Grant[] = [];
  /** Connections admitted and not yet closed. */
  active = 0;

  constructor(private readonly deps: BrokerDeps) {}

  /** The worker is gone: its tunnels end with "error" (cookies kept; docs/privsep.md §4.3). */
  markLost(): void {
    this.lost = true;
    this.control = null;
    for (const t of [...this.tunnels.values()]) t.lost();
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }


  /** Requests on the key socket: the worker is blocked until this returns. */
  onSync(msg: Message): Reply {
    if (msg.type < 50) return this.deps.keyService().handle(msg);
    if (msg.fd !== null) throw new RemoteError("bad-request", "unexpected descriptor");
    try {
      return this.sync(msg);
    } catch (e) {
      if (e instanceof DecodeError) throw new RemoteError("bad-request", e.message);
      throw e;
    }
  }

  private sync(msg: Message): Reply {
    const d = this.deps;
    switch (msg.type) {
      case SplitMsg.Admit: {
        const ip = decodeIp(msg.body);
        const max = d.config().global["max-clients"];
        // ocserv accepts and closes at once beyond max-clients, before any ban accounting.
        if (max > 0 && this.deps.totalActive() >= max) return { type: msg.type, body: encodeVerdict("full") };
        if (d.bans.admitConnection(ip) === "banned") return { type: msg.type, body: encodeVerdict("banned") };
        this.active++;
        return { type: msg.type, body: encodeVerdict("allow") };
      }
      case SplitMsg.NewSid: {
        this.expire();
        const sid = d.sessions.newSid();
        if (this.sids.size >= MAX_SIDS) {
          const oldest = this.sids.keys().next();
          if (!oldest.done) this.sids.delete(oldest.value);
        }
        this.sids.set(toHex(sid), this.now() + SID_TTL_MS);
        return { type: msg.type, body: sid };
      }
      case SplitMsg.SessionCreate: {
        const c = decodeSessionCreate(msg.body);
        this.expire();
        const key = toHex(c.sid);
        if (!this.sids.has(key)) throw new RemoteError("refused", "SID was not minted for this worker");
        const i = this.grants.findIndex((g) => g.username === c.username && g.group === c.group && g.vhost === c.vhost && g.ip === c.authIp);
        if (i < 0) throw new RemoteError("refused", "no authentication approved this session");
        this.grants.splice(i, 1);
        this.sids.delete(key);
        try {
          const rec = d.sessions.create(c.sid, { username: c.username, group: c.group, vhost: c.vhost, authIp: c.authIp, userAgent: c.userAgent });
          return { type: msg.type, body: encodeMaybeRecord(rec) };
        } catch (e) {
          if (e instanceof SessionError) throw new RemoteError(`session-${e.code}`, e.message);
          throw e;
        }
      }
      case SplitMsg.SessionLookup:
        return { type: msg.type, body: encodeMaybeRecord(d.sessions.lookup(decodeSid(msg.body))) };
      case SplitMsg.SessionAdmit: {
        const a = decodeSessionAdmit(msg.body);
        return { type: msg.type, body: encodeAdmitResult(d.sessions.admit(a.sid, a.remoteIp)) };
      }
      case SplitMsg.AuthInfo: {
        const q = decodeAuthInfoRequest(msg.body);
        const auth = d.authenticatorFor(q.vhost);
        return { type: msg.type, body: encodeAuthInfo({ usesPassword: auth.usesPassword(q.hasCertificate), groups: auth.listGroups() }) };
      }
      case SplitMsg.BanQuery:
        return { type: msg.type, body: encodeFlag(d.bans.isBanned(decodeIp(msg.body))) };
      case SplitMsg.SetMtu: {
        const m = decodeSetMtu(msg.body);
        // Only a tunnel this worker runs, and only within ocserv main's bounds (68 … mtu or 16384).
        const ctx = this.tunnels.get(m.tunnelId)?.mtuContext ?? null;
        if (ctx === null) throw new RemoteError("no-such-tunnel", "no DTLS tunnel with this id in this worker");
        if (!tunMtuAccepted(m.mtu, ctx.configuredMtu)) throw new RemoteError("bad-mtu", `MTU ${m.mtu} is out of range`);
        ctx.setTunMtu(m.mtu);
        return { type: msg.type, body: new Uint8Array(0) };
      }
      default:
        throw new RemoteError("unsupported", `unknown request ${msg.type}`);
    }
  }

  /** Requests on the control channel (asynchronous: authentication may wait on a backend). */
  async onControl(msg: Message): Promise<Reply> {
    if (msg.type < 50) return this.deps.keyService().handle(msg);
    if (msg.fd !== null) throw new RemoteError("bad-request", "unexpected descriptor");
    try {
      switch (msg.type) {
        case SplitMsg.AuthStart: {
          const a = decodeAuthStart(msg.body);
          const auth = this.deps.authenticatorFor(a.vhost);
          const step = await auth.start(a.req);
          return { type: msg.type, body: encodeAuthStep(this.charge(a.vhost, a.req.remoteIp, step)) };
        }
        case SplitMsg.AuthAnswer: {
          const a = decodeAuthAnswer(msg.body);
          this.expire();
          const p = this.handles.get(a.handle);
          if (p === undefined) throw new RemoteError("no-such-auth", "unknown or expired authentication");
          // The backend state is answered exactly once (auth/types.ts AuthState).
          this.handles.delete(a.handle);
          const step = await this.deps.authenticatorFor(p.vhost).answer(p.state, a.password);
          return { type: msg.type, body: encodeAuthStep(this.charge(p.vhost, p.ip, step)) };
        }
        case SplitMsg.Connect:
          return await this.connect(msg);
        default:
          throw new RemoteError("unsupported", `unknown request ${msg.type}`);
      }
    } catch (e) {
      if (e instanceof DecodeError) throw new RemoteError("bad-request", e.message);
      throw e;
    }
  }

  /**
   * CONNECT: the checks main can make itself (the cookie, its vhost, the per-user policy with a
   * max-same-clients reservation), then the tunnel manager's steps 1–5. The answer carries a duplicate of
   * the tun fd; main's own copy is closed at once, as ocserv's main does after sending it.
   */
  private async connect(msg: Message): Promise<Reply> {
    const c = decodeConnect(msg.body);
    const d = this.deps;
    const answer = (a: ConnectAnswer, fd: number | null = null): Reply => ({ type: msg.type, body: encodeConnectAnswer(a), fd });
    const refuse = (why: string): Reply => {
      d.log.info(`CONNECT refused in main: ${why}`);
      return answer({ ok: false, status: 401, reason: COOKIE_NOT_ACCEPTABLE });
    };
    const found = d.sessions.lookup(c.sid);
    if (found === null) return refuse("unknown cookie");
    if (found.vhost !== c.vhost) return refuse(`session ${found.safeId} belongs to another vhost`);
    const vhost = d.config().vhostFor(found.vhost);
    const loaded = await d.settingsFor(vhost, found.username, found.group);
    if (loaded.kind === "rejected") return refuse(`per-user configuration of session ${found.safeId} rejected: ${loaded.reason}`);
    const admitted = d.sessions.reserve(c.sid, c.transport.remoteAddress, connectPolicyOf(loaded.settings));
    if (!admitted.ok) return refuse(admitted.reason);
    const transport = new SplitTransport(this, c.transport);
    let outcome: ConnectOutcome;
    try {
      outcome = await d.tunnels.connect({ session: admitted.session, headers: c.headers, transport, settings: loaded.settings });
    } finally {
      admitted.release();
    }
    if (!outcome.ok) return answer({ ok: false, status: outcome.status, reason: outcome.reason });
    const bound = transport.bound;
    if (bound === null) throw new RemoteError("internal", "the tunnel manager did not use the split data path");
    let fd: number;
    try {
      fd = dupFd(bound.device.fd);
    } catch (e) {
      bound.tunnel.end("error");
      throw e;
    } finally {
      bound.device.close();
    }
    return answer(
      { ok: true, tunnelId: bound.tunnel.id, head: outcome.head, device: { name: bound.device.name, index: bound.device.index }, params: bound.params, dtls: bound.dtls, socket: transport.socketTuning },
      fd,
    );
  }

  onNotify(msg: Message): void {
    if (msg.fd !== null) {
      // Nothing the worker notifies carries a descriptor; do not keep one it pushed on us.
      return;
    }
    if (msg.type === SplitMsg.ConnectionClosed && this.active > 0) this.active--;
    if (msg.type === SplitMsg.TunnelStats) {
      try {
        const st = decodeTunnelStats(msg.body);
        this.tunnels.get(st.tunnelId)?.updateStats(st.bytesIn, st.bytesOut);
      } catch (e) {
        this.deps.log.warn(`malformed TunnelStats from a worker: ${(e as Error).message}`);
      }
    }
    if (msg.type === SplitMsg.TunnelEnded) {
      try {
        const e = decodeTunnelEnd(msg.body);
        this.tunnels.get(e.tunnelId)?.endedInWorker(e.reason, e.bytesIn, e.bytesOut);
      } catch (e) {
        this.deps.log.warn(`malformed TunnelEnded from a worker: ${(e as Error).message}`);
      }
    }
  }

  /**
   * Charges the step's ban points here (a worker cannot skip them), records an approval as a one-time
   * grant, and swaps the backend state for a handle.
   */
  private charge(vhost: string | null, ip: string, step: Awaited<ReturnType<Authenticator["start"]>>): WireAuthStep {
    const now = this.now();
    switch (step.kind) {
      case "ok":
        if (this.grants.length >= MAX_GRANTS) this.grants.shift();
        this.grants.push({ username: step.user, group: step.group, vhost, ip, expires: now + GRANT_TTL_MS });
        return { kind: "ok", user: step.user, groups: step.groups, group: step.group };
      case "fail":
        if (step.banPoints > 0) this.deps.bans.addPoints(ip, step.banPoints);
        return step;
      case "continue": {
        if (step.banPoints > 0) this.deps.bans.addPoints(ip, step.banPoints);
        this.expire();
        if (this.handles.size >= MAX_HANDLES) {
          const oldest = this.handles.keys().next();
          if (!oldest.done) this.handles.delete(oldest.value);
        }
        const handle = this.nextHandle;
        this.nextHandle = this.nextHandle >= 0xffffffff ? 1 : this.nextHandle + 1;
        this.handles.set(handle, { state: step.state, vhost, ip, expires: now + HANDLE_TTL_MS });
        return { kind: "continue", message: step.message, fieldName: step.fieldName, label: step.label, handle, banPoints: step.banPoints };
      }
      default: {
        const never: never = step;
        throw new TypeError(`unknown auth step ${String(never)}`);
      }
    }
  }

  /** Drops what has expired. Entries are kept in insertion order with a fixed TTL, so the expired ones
   *  are a prefix: the scan stops at the first live entry. */
  private expire(): void {
    const now = this.now();
    for (const [k, t] of this.sids) {
      if (t > now) break;
      this.sids.delete(k);
    }
    for (const [k, p] of this.handles) {
      if (p.expires > now) break;
      this.handles.delete(k);
    }
    while (this.grants.length > 0 && this.grants[0]!.expires <= now) this.grants.shift();
  }
}

export class SplitMain {
  private readonly states = new Map<WorkerHandle, WorkerBroker>();
  private keyService: KeyService;
  private snapshotBody: Uint8Array;
  private readonly pool: WorkerPool;

  private constructor(
    private readonly deps: SplitMainDeps,
    material: KeyMaterial,
  ) {
    this.keyService = createKeyService(material.keys);
    this.snapshotBody = encodeConfigSnapshot(material.snapshot);
    this.pool = new WorkerPool({
      size: deps.workers,
      start: () => this.spawn(),
      maxRestarts: MAX_RESTARTS,
      windowMs: RESTART_WINDOW_MS,
      restartDelayMs: RESTART_DELAY_MS,
      onStarted: (w) => {
        deps.log.info(`worker ${w.pid} started`);
        w.control.notify(SplitMsg.ConfigSnapshot, this.snapshotBody);
      },
      onLost: (w, why) => {
        const st = this.states.get(w);
        this.states.delete(w);
        // Its clients reconnect with their cookies, as after a TCP reset (docs/privsep.md §4.3).
        st?.markLost();
        const how = "code" in why ? `exited (${why.signal ?? `status ${why.code}`})` : `lost its channel (${why.kind})`;
        deps.log.warn(`worker ${w.pid} ${how}; its connections are gone`);
        deps.onWorkerLost?.(w);
      },
      onGiveUp: (e) => deps.onGiveUp(e),
    });
  }

  /** Starts the workers; resolves once each has been spawned and sent its snapshot. */
  static async start(deps: SplitMainDeps, material: KeyMaterial): Promise<SplitMain> {
    const s = new SplitMain(deps, material);
    await s.pool.start();
    return s;
  }

  get workers(): readonly WorkerHandle[] {
    return this.pool.workers;
  }

  /** SIGHUP: new keys and files; every worker gets the new snapshot (running connections keep theirs). */
  reload(material: KeyMaterial): void {
    this.keyService = createKeyService(material.keys);
    this.snapshotBody = encodeConfigSnapshot(material.snapshot);
    for (const w of this.pool.workers) w.control.notify(SplitMsg.ConfigSnapshot, this.snapshotBody);
  }

  async stop(): Promise<void> {
    await this.pool.stop();
  }

  private async spawn(): Promise<WorkerHandle> {
    const d = this.deps;
    const st = new WorkerBroker({
      config: () => d.config(),
      authenticatorFor: (v) => d.authenticatorFor(v),
      sessions: d.sessions,
      bans: d.bans,
      log: d.log,
      tunnels: d.tunnels,
      settingsFor: (v, u, g) => d.settingsFor(v, u, g),
      keyService: () => this.keyService,
      totalActive: () => {
        let n = 0;
        for (const b of this.states.values()) n += b.active;
        return n;
      },
      ...(d.now !== undefined ? { now: d.now } : {}),
    });
    const w = await spawnWorker({
      command: this.deps.command,
      plan: this.deps.plan,
      listenFds: this.deps.listenFds,
      // Nothing of main's environment: the worker needs only where to log (the marker is added by spawn).
      env: { [WORKER_LOG_ENV]: encodeWorkerLog(this.deps.workerLog) },
      keys: { handle: (m) => st.onSync(m) },
      onRequest: (m) => st.onControl(m),
      onNotify: (m) => st.onNotify(m),
    });
    st.control = w.control;
    this.states.set(w, st);
    return w;
  }
}

// ── Starting the split from the server wiring ─────────────────────────────────────────────────────

/**
 * The split runs when run-as-user is set (docs/privsep.md); without it ocserv's workers stay root, so one
 * process is equivalent. `requested` is false only with the OCSERV_PRIVSEP=0 escape hatch (src/cli.ts).
 */
export function splitEnabled(config: Config, requested: boolean): boolean {
  return requested && config.global["run-as-user"] !== null;
}

/** run-as-user / run-as-group / chroot-dir / -x as a DropPlan. Names are resolved now, before any chroot. */
export function dropPlanFor(config: Config, traceable: boolean): DropPlan {
  const g = config.global;
  const userName = g["run-as-user"];
  if (userName === null) return { uid: null, gid: null, chroot: g["chroot-dir"], dumpable: traceable };
  const user = /^\d+$/.test(userName) ? { uid: Number(userName), gid: Number(userName) } : lookupUser(userName);
  const groupName = g["run-as-group"];
  // Without run-as-group the user's primary group is used (docs/privsep.md §4.1: ocserv would keep gid 0).
  const gid = groupName === null ? user.gid : /^\d+$/.test(groupName) ? Number(groupName) : lookupGroup(groupName);
  return { uid: user.uid, gid, chroot: g["chroot-dir"], dumpable: traceable };
}

/** Loads every vhost's server keys (main keeps them) and the snapshot that names them by index. */
export function loadKeyMaterial(config: Config, configPath: string, loadKey: (path: string) => PrivateKey): KeyMaterial {
  const keys: PrivateKey[] = [];
  const keyPaths: string[] = [];
  for (const v of [config.defaultVhost, ...config.vhosts]) {
    for (const p of v.options["server-key"]) {
      if (keyPaths.includes(p)) continue;
      keys.push(loadKey(p));
      keyPaths.push(p);
    }
  }
  const text = readFileSync(configPath, "utf8");
  return { keys, snapshot: buildSnapshot(config, configPath, text, keyPaths) };
}

/**
 * Binds the DTLS socket main hands to its (single) worker, exactly as the in-process server binds its own
 * (dtls-socket.ts: udp-listen-host or dual stack, IP_MTU_DISCOVER per try-mtu-discovery); null when
 * udp-port is 0.
 */
export function bindUdp(config: Config): number | null {
  return bindDtlsSocket(config.global);
}

/** The workers log where main logs (src/cli.ts buildLogger's rule): -e/-d → stderr, else syslog, or both with -s. */
export function workerLogSpec(options: CliOptions, config: Config): WorkerLogSpec {
  const toStderr = options.logStderr || options.debug !== null;
  const toSyslog = options.syslog || !toStderr;
  const facility = options.syslogFacility ?? config.global["syslog-facility"];
  return { stderr: toStderr, syslogFacility: toSyslog ? SYSLOG_FACILITY_CODES[facility] : null, level: options.debug };
}

/** Binds the TCP listener main hands to its workers: listen-host, or dual-stack "::" falling back to IPv4. */
export function bindListener(config: Config): number {
  const host = config.global["listen-host"];
  const port = config.global["tcp-port"];
  try {
    return createBoundSocket({ type: "tcp", address: host ?? "::", port, backlog: 1024 }).fd;
  } catch (e) {
    if (host !== null) throw e;
    return createBoundSocket({ type: "tcp", address: "0.0.0.0", port, backlog: 1024 }).fd;
  }
}

export interface StartSplitArgs {
  readonly config: () => Config;
  readonly configPath: string;
  /** run-as-user/run-as-group/chroot-dir/-x, from dropPlanFor. */
  readonly plan: DropPlan;
  readonly workerLog: WorkerLogSpec;
  readonly command: readonly string[];
  readonly sessions: MemorySessionStore;
  readonly bans: BanTracker;
  authenticatorFor(vhost: string | null): Authenticator;
  readonly tunnels: TunnelManager;
  settingsFor(vhost: VhostConfig, username: string, group: string | null): Promise<SettingsResult>;
  readonly loadKey: (path: string) => PrivateKey;
  readonly log: Logger;
  onGiveUp(error: Error): void;
}

/** Binds the listener, loads the keys, resolves the drop plan and starts the workers. Throws on failure. */
export async function startSplitServer(a: StartSplitArgs): Promise<{ readonly split: SplitMain; readonly listenFd: number }> {
  const config = a.config();
  const plan = a.plan;
  const material = loadKeyMaterial(config, a.configPath, a.loadKey);
  const g = config.global;
  const host = g["listen-host"];
  let listenFd: number;
  try {
    listenFd = bindListener(config);
  } catch (e) {
    // The same words as the in-process server (src/server/main.ts), which scripts and tests look for.
    throw new SplitStartError(host === null ? `cannot listen on TCP port ${g["tcp-port"]}: ${(e as Error).message}` : `cannot listen on ${host}:${g["tcp-port"]}: ${(e as Error).message}`);
  }
  let udpFd: number | null;
  try {
    udpFd = bindUdp(config);
  } catch (e) {
    closeFd(listenFd);
    throw new SplitStartError(`cannot listen on UDP port ${g["udp-port"]}: ${(e as Error).message}`);
  }
  const fds = udpFd === null ? [listenFd] : [listenFd, udpFd];
  let split: SplitMain;
  try {
    split = await SplitMain.start(
      {
        config: a.config,
        authenticatorFor: (v) => a.authenticatorFor(v),
        sessions: a.sessions,
        bans: a.bans,
        log: a.log,
        tunnels: a.tunnels,
        settingsFor: (v, u, g) => a.settingsFor(v, u, g),
        command: a.command,
        workerLog: a.workerLog,
        plan,
        // The worker tells them apart by SO_TYPE.
        listenFds: fds,
        // One worker: pending logins (webvpncontext) live in a worker, and the one UDP socket is read by
        // whichever process calls recv first — with several workers a session's datagrams would reach
        // the wrong one. More workers need ocserv's connected per-session UDP sockets (docs/privsep.md §6.5).
        workers: 1,
        onGiveUp: (e) => a.onGiveUp(e),
      },
      material,
      );
  } catch (e) {
    for (const fd of fds) closeFd(fd);
    throw new SplitStartError(`cannot start the workers: ${(e as Error).message}`);
  }
  return { split, listenFd };
}

/** Why the split server could not start; the message is what the operator sees. */
export class SplitStartError extends Error {
  override readonly name = "SplitStartError";
  readonly code = "split-start-failed";
}
