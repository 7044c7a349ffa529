// The server's messages between main and its workers (docs/privsep.md §5.3, numbers 50–99), with binary
// codecs over src/wire. No JSON: passwords and cookies travel here, and must not pass through strings
// that a generic serializer might log. Every decoder consumes its body exactly (Reader.end()) and throws
// DecodeError on anything malformed; the channel handler turns that into RemoteError("bad-request").
//
// Two transports carry them (docs/privsep.md §5.1):
//   * the control channel (asynchronous, both directions): ConfigSnapshot, AuthStart, AuthAnswer,
//     ConnectionClosed;
//   * the key socket (the worker blocks on a SyncClient): the front's synchronous edges — Admit,
//     NewSid, SessionCreate, SessionLookup, SessionAdmit, AuthInfo, BanQuery. The front calls these
//     from synchronous code (exchange.ts), and each is one hash-table operation in main, so the worker
//     waits ~20 µs, as an ocserv worker waits for sec-mod.
import type { AuthFailReason, AuthRequest, PasswordField } from "../../auth/types.ts";
import type { DisconnectReason, SessionRecord } from "../contract.ts";
import type { DataPathParams } from "../tunnel/manager.ts";
import type { NetPriority } from "../../config/types.ts";
import type { DtlsMtuContext } from "../tunnel/mtu-discovery.ts";
import type { AdmitFailure } from "../front/sessions.ts";
import { DecodeError, Reader } from "../../wire/reader.ts";
import { Writer } from "../../wire/writer.ts";

export const enum SplitMsg {
  /** m→w notify: the configuration and the certificate/CA/CRL files it names. */
  ConfigSnapshot = 50,
  /** w→m sync: a new TCP connection from an IP. Answer: u8 AdmitVerdict. Charges ban-points-connection. */
  Admit = 51,
  /** w→m notify: a connection admitted with Admit ended (max-clients accounting). Body: empty. */
  ConnectionClosed = 52,
  /** w→m async: start an authentication. Answer: an AuthStep (wire form). */
  AuthStart = 53,
  /** w→m async: answer the auth handle's question. Answer: an AuthStep (wire form). */
  AuthAnswer = 54,
  /** w→m async: open a tunnel for a CONNECT. Answer: ConnectAnswer, with the tun fd when ok. */
  Connect = 57,
  /** w→m notify: a tunnel ended in the worker (DPD, BYE, timeouts, the connection closed). */
  TunnelEnded = 58,
  /** w→m notify: a running tunnel's byte counts (every periodic check), for main's listings and scripts. */
  TunnelStats = 59,
  /** w→m sync: DTLS MTU discovery changed a tunnel's data MTU; main sets the tun MTU (ocserv CMD_TUN_MTU). */
  SetMtu = 60,
  /** m→w notify: end a tunnel (session reuse, occtl disconnect, shutdown). */
  Disconnect = 61,
  /** w→m sync: find a session by cookie. Answer: u8 found, then a SessionRecord. */
  SessionLookup = 56,
  /** w→m sync: a fresh 32-byte SID minted by main. */
  NewSid = 64,
  /** w→m sync: store the session of an authentication main approved. Answer: SessionRecord. */
  SessionCreate = 65,
  /** w→m sync: the CONNECT checks (session-timeout, deny-roaming, max-same-clients). */
  SessionAdmit = 66,
  /** w→m sync: Authenticator.usesPassword / listGroups for a vhost. */
  AuthInfo = 67,
  /** w→m sync: is this IP banned now? (main already charged the points of its auth steps) */
  BanQuery = 68,
}

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

/** Caps on what a worker may send: field sizes an honest front never exceeds. */
export const MAX_FIELD = 4096;
const MAX_LIST = 1024;

function str(r: Reader): string {
  const at = r.offset;
  const b = r.vec16();
  if (b.length > MAX_FIELD) throw new DecodeError("field is too long", at);
  try {
    return dec.decode(b);
  } catch {
    throw new DecodeError("field is not UTF-8", at);
  }
}
function optStr(r: Reader): string | null {
  return r.u8() === 1 ? str(r) : null;
}
function putStr(w: Writer, s: string): Writer {
  return w.vec16(enc.encode(s));
}
function putOpt(w: Writer, s: string | null | undefined): Writer {
  if (s === null || s === undefined) return w.u8(0);
  return putStr(w.u8(1), s);
}
function strList(r: Reader): string[] {
  const n = r.u16();
  if (n > MAX_LIST) throw new DecodeError("list is too long", r.offset);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(str(r));
  return out;
}
function putList(w: Writer, l: readonly string[]): Writer {
  w.u16(l.length);
  for (const s of l) putStr(w, s);
  return w;
}

// ── ConfigSnapshot ────────────────────────────────────────────────────────────────────────────────

export interface ConfigSnapshot {
  /** Path of ocserv.conf (diagnostics and the Config's record of it). */
  readonly path: string;
  readonly text: string;
  /** Contents of every server-cert, ca-cert and crl file the configuration names, by path. */
  readonly files: ReadonlyMap<string, Uint8Array>;
  /** server-key paths in the order of main's key service (index = position). */
  readonly keyPaths: readonly string[];
}

export function encodeConfigSnapshot(s: ConfigSnapshot): Uint8Array {
  const w = new Writer(1024 + s.text.length);
  putStr(w, s.path).vec24(enc.encode(s.text)).u16(s.files.size);
  for (const [p, b] of s.files) putStr(w, p).vec24(b);
  return putList(w, s.keyPaths).finish();
}

export function decodeConfigSnapshot(body: Uint8Array): ConfigSnapshot {
  const r = new Reader(body);
  const path = str(r);
  const at = r.offset;
  let text: string;
  try {
    text = dec.decode(r.vec24());
  } catch {
    throw new DecodeError("configuration is not UTF-8", at);
  }
  const n = r.u16();
  const files = new Map<string, Uint8Array>();
  for (let i = 0; i < n; i++) files.set(str(r), r.vec24().slice());
  const keyPaths = strList(r);
  r.end();
  return { path, text, files, keyPaths };
}

// ── Admit ─────────────────────────────────────────────────────────────────────────────────────────

export type AdmitVerdict = "allow" | "banned" | "full";
const VERDICTS: readonly AdmitVerdict[] = ["allow", "banned", "full"];

export function encodeIp(ip: string): Uint8Array {
  return putStr(new Writer(64), ip).finish();
}
export function decodeIp(body: Uint8Array): string {
  const r = new Reader(body);
  const ip = str(r);
  r.end();
  return ip;
}
export function encodeVerdict(v: AdmitVerdict): Uint8Array {
  return new Uint8Array([VERDICTS.indexOf(v)]);
}
export function decodeVerdict(body: Uint8Array): AdmitVerdict {
  const r = new Reader(body);
  const v = VERDICTS[r.u8()];
  r.end();
  if (v === undefined) throw new DecodeError("unknown admit verdict", 0);
  return v;
}
export function encodeFlag(b: boolean): Uint8Array {
  return new Uint8Array([b ? 1 : 0]);
}
export function decodeFlag(body: Uint8Array): boolean {
  const r = new Reader(body);
  const v = r.u8();
  r.end();
  if (v > 1) throw new DecodeError("bad flag", 0);
  return v === 1;
}

// ── Authentication ────────────────────────────────────────────────────────────────────────────────

export interface AuthStartRequest {
  /** The vhost the connection authenticates on (null = default). */
  readonly vhost: string | null;
  readonly req: AuthRequest;
}

export function encodeAuthStart(a: AuthStartRequest): Uint8Array {
  const w = new Writer(256);
  putOpt(w, a.vhost);
  putOpt(w, a.req.username);
  putOpt(w, a.req.groupRequested);
  const c = a.req.certificate;
  if (c === undefined) w.u8(0);
  else putList(putStr(w.u8(1), c.user), c.groups);
  return putStr(w, a.req.remoteIp).finish();
}

export function decodeAuthStart(body: Uint8Array): AuthStartRequest {
  const r = new Reader(body);
  const vhost = optStr(r);
  const username = optStr(r);
  const groupRequested = optStr(r);
  const certificate = r.u8() === 1 ? { user: str(r), groups: strList(r) } : null;
  const remoteIp = str(r);
  r.end();
  return {
    vhost,
    req: {
      ...(username !== null ? { username } : {}),
      ...(groupRequested !== null ? { groupRequested } : {}),
      ...(certificate !== null ? { certificate } : {}),
      remoteIp,
    },
  };
}

export interface AuthAnswerRequest {
  readonly handle: number;
  readonly password: string | null;
}
export function encodeAuthAnswer(a: AuthAnswerRequest): Uint8Array {
  return putOpt(new Writer(64).u32(a.handle), a.password).finish();
}
export function decodeAuthAnswer(body: Uint8Array): AuthAnswerRequest {
  const r = new Reader(body);
  const handle = r.u32();
  const password = optStr(r);
  r.end();
  return { handle, password };
}

/** An AuthStep as the worker sees it: main keeps the backend state and gives out a handle. */
export type WireAuthStep =
  | { readonly kind: "ok"; readonly user: string; readonly groups: readonly string[]; readonly group: string | null }
  | { readonly kind: "continue"; readonly message: string; readonly fieldName: PasswordField; readonly label: string; readonly handle: number; readonly banPoints: number }
  | { readonly kind: "fail"; readonly reason: AuthFailReason; readonly banPoints: number };

const FIELDS: readonly PasswordField[] = ["password", "secondary_password"];
const REASONS: readonly AuthFailReason[] = ["Authentication failed", "No certificate", "Could not read certificate", "No password", "Internal error"];

export function encodeAuthStep(s: WireAuthStep): Uint8Array {
  const w = new Writer(256);
  switch (s.kind) {
    case "ok":
      putOpt(putList(putStr(w.u8(0), s.user), s.groups), s.group);
      break;
    case "continue":
      putStr(putStr(w.u8(1), s.message).u8(FIELDS.indexOf(s.fieldName)), s.label).u32(s.handle).u16(Math.min(0xffff, s.banPoints));
      break;
    case "fail":
      w.u8(2).u8(REASONS.indexOf(s.reason)).u16(Math.min(0xffff, s.banPoints));
      break;
  }
  return w.finish();
}

export function decodeAuthStep(body: Uint8Array): WireAuthStep {
  const r = new Reader(body);
  const kind = r.u8();
  let out: WireAuthStep;
  if (kind === 0) {
    const user = str(r);
    const groups = strList(r);
    out = { kind: "ok", user, groups, group: optStr(r) };
  } else if (kind === 1) {
    const message = str(r);
    const fieldName = FIELDS[r.u8()];
    if (fieldName === undefined) throw new DecodeError("unknown password field", r.offset);
    const label = str(r);
    out = { kind: "continue", message, fieldName, label, handle: r.u32(), banPoints: r.u16() };
  } else if (kind === 2) {
    const reason = REASONS[r.u8()];
    if (reason === undefined) throw new DecodeError("unknown fail reason", r.offset);
    out = { kind: "fail", reason, banPoints: r.u16() };
  } else {
    throw new DecodeError("unknown auth step", 0);
  }
  r.end();
  return out;
}

export interface AuthInfoRequest {
  readonly vhost: string | null;
  readonly hasCertificate: boolean;
}
export function encodeAuthInfoRequest(a: AuthInfoRequest): Uint8Array {
  return putOpt(new Writer(64), a.vhost).u8(a.hasCertificate ? 1 : 0).finish();
}
export function decodeAuthInfoRequest(body: Uint8Array): AuthInfoRequest {
  const r = new Reader(body);
  const vhost = optStr(r);
  const hasCertificate = r.u8() === 1;
  r.end();
  return { vhost, hasCertificate };
}
export interface AuthInfo {
  readonly usesPassword: boolean;
  readonly groups: readonly string[];
}
export function encodeAuthInfo(a: AuthInfo): Uint8Array {
  return putList(new Writer(256).u8(a.usesPassword ? 1 : 0), a.groups).finish();
}
export function decodeAuthInfo(body: Uint8Array): AuthInfo {
  const r = new Reader(body);
  const usesPassword = r.u8() === 1;
  const groups = strList(r);
  r.end();
  return { usesPassword, groups };
}

// ── Sessions ──────────────────────────────────────────────────────────────────────────────────────

function putRecord(w: Writer, s: SessionRecord): Writer {
  w.vec8(s.sid);
  putStr(w, s.safeId);
  putStr(w, s.username);
  putOpt(w, s.group);
  putOpt(w, s.vhost);
  w.u48(s.authTime);
  putStr(w, s.authIp);
  return putStr(w, s.userAgent);
}
function readRecord(r: Reader): SessionRecord {
  const sid = r.vec8().slice();
  const safeId = str(r);
  const username = str(r);
  const group = optStr(r);
  const vhost = optStr(r);
  const authTime = r.u48();
  const authIp = str(r);
  const userAgent = str(r);
  return Object.freeze({ sid, safeId, username, group, vhost, authTime, authIp, userAgent });
}

export function encodeSid(sid: Uint8Array): Uint8Array {
  return new Writer(40).vec8(sid).finish();
}
export function decodeSid(body: Uint8Array): Uint8Array {
  const r = new Reader(body);
  const sid = r.vec8().slice();
  r.end();
  return sid;
}

export function encodeMaybeRecord(s: SessionRecord | null): Uint8Array {
  const w = new Writer(256);
  return s === null ? w.u8(0).finish() : putRecord(w.u8(1), s).finish();
}
export function decodeMaybeRecord(body: Uint8Array): SessionRecord | null {
  const r = new Reader(body);
  const s = r.u8() === 1 ? readRecord(r) : null;
  r.end();
  return s;
}

export interface SessionCreateRequest {
  readonly sid: Uint8Array;
  readonly username: string;
  readonly group: string | null;
  readonly vhost: string | null;
  readonly authIp: string;
  readonly userAgent: string;
}
export function encodeSessionCreate(c: SessionCreateRequest): Uint8Array {
  const w = new Writer(256).vec8(c.sid);
  putStr(w, c.username);
  putOpt(w, c.group);
  putOpt(w, c.vhost);
  putStr(w, c.authIp);
  return putStr(w, c.userAgent).finish();
}
export function decodeSessionCreate(body: Uint8Array): SessionCreateRequest {
  const r = new Reader(body);
  const sid = r.vec8().slice();
  const username = str(r);
  const group = optStr(r);
  const vhost = optStr(r);
  const authIp = str(r);
  const userAgent = str(r);
  r.end();
  return { sid, username, group, vhost, authIp, userAgent };
}

export interface SessionAdmitRequest {
  readonly sid: Uint8Array;
  readonly remoteIp: string;
}
export function encodeSessionAdmit(a: SessionAdmitRequest): Uint8Array {
  return putStr(new Writer(64).vec8(a.sid), a.remoteIp).finish();
}
export function decodeSessionAdmit(body: Uint8Array): SessionAdmitRequest {
  const r = new Reader(body);
  const sid = r.vec8().slice();
  const remoteIp = str(r);
  r.end();
  return { sid, remoteIp };
}

const ADMIT_FAILURES: readonly AdmitFailure[] = ["unknown-cookie", "session-timeout", "roaming-denied", "max-same-clients"];
export type WireAdmit = { readonly ok: true; readonly session: SessionRecord } | { readonly ok: false; readonly reason: AdmitFailure };
export function encodeAdmitResult(a: WireAdmit): Uint8Array {
  const w = new Writer(256);
  return a.ok ? putRecord(w.u8(1), a.session).finish() : w.u8(0).u8(ADMIT_FAILURES.indexOf(a.reason)).finish();
}
export function decodeAdmitResult(body: Uint8Array): WireAdmit {
  const r = new Reader(body);
  let out: WireAdmit;
  if (r.u8() === 1) out = { ok: true, session: readRecord(r) };
  else {
    const reason = ADMIT_FAILURES[r.u8()];
    if (reason === undefined) throw new DecodeError("unknown admit failure", 1);
    out = { ok: false, reason };
  }
  r.end();
  return out;
}

// ── Tunnels ───────────────────────────────────────────────────────────────────────────────────────

export interface TransportInfo {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly tls: { readonly version: "TLS1.2" | "TLS1.3"; readonly cipherSuite: string; readonly safeRenegotiation: boolean };
}

export interface ConnectMessage {
  readonly sid: Uint8Array;
  /** The vhost of the connection (SNI); the session must belong to it. */
  readonly vhost: string | null;
  readonly headers: ReadonlyMap<string, string>;
  readonly transport: TransportInfo;
}

const MAX_HEADERS = 256;

export function encodeConnect(c: ConnectMessage): Uint8Array {
  const w = new Writer(2048).vec8(c.sid);
  putOpt(w, c.vhost);
  w.u16(Math.min(c.headers.size, MAX_HEADERS));
  let n = 0;
  for (const [k, v] of c.headers) {
    if (n++ >= MAX_HEADERS) break;
    putStr(putStr(w, k), v);
  }
  const t = c.transport;
  putStr(w, t.remoteAddress).u16(t.remotePort);
  putStr(w, t.localAddress).u8(t.tls.version === "TLS1.3" ? 1 : 0);
  return putStr(w, t.tls.cipherSuite).u8(t.tls.safeRenegotiation ? 1 : 0).finish();
}

export function decodeConnect(body: Uint8Array): ConnectMessage {
  const r = new Reader(body);
  const sid = r.vec8().slice();
  const vhost = optStr(r);
  const n = r.u16();
  if (n > MAX_HEADERS) throw new DecodeError("too many headers", r.offset);
  const headers = new Map<string, string>();
  for (let i = 0; i < n; i++) headers.set(str(r), str(r));
  const remoteAddress = str(r);
  const remotePort = r.u16();
  const localAddress = str(r);
  const version = r.u8() === 1 ? "TLS1.3" : "TLS1.2";
  const cipherSuite = str(r);
  const safeRenegotiation = r.u8() === 1;
  r.end();
  return { sid, vhost, headers, transport: { remoteAddress, remotePort, localAddress, tls: { version, cipherSuite, safeRenegotiation } } };
}

export interface SocketTuning {
  readonly priority: NetPriority | null;
  /** SO_SNDBUF bytes; 0 = leave it. */
  readonly sendBuffer: number;
}

/** DTLS of a CONNECT: the session ID, and the MTU context of the session (mtu-discovery.ts) minus setTunMtu. */
export interface DtlsAnswer {
  readonly sessionId: Uint8Array;
  readonly dataMtu: number;
  readonly mtu: Omit<DtlsMtuContext, "setTunMtu">;
}

export type ConnectAnswer =
  | {
      readonly ok: true;
      readonly tunnelId: number;
      readonly head: string;
      readonly device: { readonly name: string; readonly index: number };
      readonly params: DataPathParams;
      /** DTLS offered in the response: the worker recomputes the same selection with this session ID. */
      readonly dtls: DtlsAnswer | null;
      /** net-priority / output-buffer for the worker to set on the connection's socket; null = leave it. */
      readonly socket: SocketTuning | null;
    }
  | { readonly ok: false; readonly status: 401 | 503; readonly reason: string };

export function encodeConnectAnswer(a: ConnectAnswer): Uint8Array {
  const w = new Writer(4096);
  if (!a.ok) return putStr(w.u8(0).u16(a.status), a.reason).finish();
  const p = a.params;
  w.u8(1).u32(a.tunnelId).vec24(enc.encode(a.head));
  putStr(w, a.device.name).u32(a.device.index);
  w.u32(p.dpd).u32(p.idleTimeout).u32(p.sessionTimeout).u48(p.authTime).u32(p.rxPerSec).u32(p.txPerSec);
  w.u32(p.maxPayload).u32(p.switchToTcpTimeout ?? 0).u32(p.tlsRekeyTime ?? 0).u32(p.readBufferSize);
  if (a.dtls === null) w.u8(0);
  else {
    const m = a.dtls.mtu;
    w.u8(1).vec8(a.dtls.sessionId).u32(a.dtls.dataMtu);
    w.u32(m.linkMtu).u32(m.minMtu).u8(m.peerIsIpv6 ? 1 : 0).u32(m.configuredMtu).u32(m.readCapacity);
  }
  const t = a.socket;
  if (t === null) w.u8(0);
  else w.u8(1).u8(t.priority === null ? 0 : t.priority.kind === "priority" ? 1 : 2).u32(t.priority?.value ?? 0).u32(t.sendBuffer);
  return w.finish();
}

export function decodeConnectAnswer(body: Uint8Array): ConnectAnswer {
  const r = new Reader(body);
  let out: ConnectAnswer;
  if (r.u8() === 0) {
    const status = r.u16();
    if (status !== 401 && status !== 503) throw new DecodeError("bad CONNECT status", 1);
    out = { ok: false, status, reason: str(r) };
  } else {
    const tunnelId = r.u32();
    const at = r.offset;
    let head: string;
    try {
      head = dec.decode(r.vec24());
    } catch {
      throw new DecodeError("response head is not UTF-8", at);
    }
    const name = str(r);
    const index = r.u32();
    const params: DataPathParams = {
      dpd: r.u32(),
      idleTimeout: r.u32(),
      sessionTimeout: r.u32(),
      authTime: r.u48(),
      rxPerSec: r.u32(),
      txPerSec: r.u32(),
      maxPayload: r.u32(),
      switchToTcpTimeout: r.u32(),
      tlsRekeyTime: r.u32(),
      readBufferSize: r.u32(),
    };
    if (params.readBufferSize > 0x20000 || params.maxPayload > 0xffff) throw new DecodeError("data path sizes out of range", r.offset);
    let dtls: DtlsAnswer | null = null;
    if (r.u8() === 1) {
      const at2 = r.offset;
      const sessionId = r.vec8().slice();
      if (sessionId.length !== 32) throw new DecodeError("DTLS session ID must be 32 bytes", at2);
      const dataMtu = r.u32();
      const mtu = { linkMtu: r.u32(), minMtu: r.u32(), peerIsIpv6: r.u8() === 1, configuredMtu: r.u32(), readCapacity: r.u32() };
      dtls = { sessionId, dataMtu, mtu };
    }
    let socket: SocketTuning | null = null;
    if (r.u8() === 1) {
      const kind = r.u8();
      const value = r.u32();
      if (kind > 2) throw new DecodeError("unknown net-priority kind", r.offset);
      socket = { priority: kind === 0 ? null : { kind: kind === 1 ? "priority" : "tos", value }, sendBuffer: r.u32() };
    }
    out = { ok: true, tunnelId, head, device: { name, index }, params, dtls, socket };
  }
  r.end();
  return out;
}

const REASONS_END: readonly DisconnectReason[] = ["user-disconnect", "user-reconnect", "server-disconnect", "session-timeout", "idle-timeout", "dpd-timeout", "error"];

export interface TunnelEnd {
  readonly tunnelId: number;
  readonly reason: DisconnectReason;
  readonly bytesIn: number;
  readonly bytesOut: number;
}
export function encodeTunnelEnd(e: TunnelEnd): Uint8Array {
  return new Writer(32).u32(e.tunnelId).u8(REASONS_END.indexOf(e.reason)).u48(Math.min(e.bytesIn, 2 ** 48 - 1)).u48(Math.min(e.bytesOut, 2 ** 48 - 1)).finish();
}
export function decodeTunnelEnd(body: Uint8Array): TunnelEnd {
  const r = new Reader(body);
  const tunnelId = r.u32();
  const reason = REASONS_END[r.u8()];
  if (reason === undefined) throw new DecodeError("unknown disconnect reason", 4);
  const bytesIn = r.u48();
  const bytesOut = r.u48();
  r.end();
  return { tunnelId, reason, bytesIn, bytesOut };
}
export function encodeDisconnect(tunnelId: number, reason: DisconnectReason): Uint8Array {
  return new Writer(8).u32(tunnelId).u8(REASONS_END.indexOf(reason)).finish();
}
export function decodeDisconnect(body: Uint8Array): { tunnelId: number; reason: DisconnectReason } {
  const r = new Reader(body);
  const tunnelId = r.u32();
  const reason = REASONS_END[r.u8()];
  if (reason === undefined) throw new DecodeError("unknown disconnect reason", 4);
  r.end();
  return { tunnelId, reason };
}

// ── Worker logging (environment, read before the privilege drop) ──────────────────────────────────

/** Environment variable carrying the worker's log destinations; the worker's only other variable is the marker. */
export const WORKER_LOG_ENV = "OCSERV_PRIVSEP_LOG";

/**
 * Where a worker logs: as main does (-e/-d: stderr; syslog unless only stderr was asked for). The
 * syslog connection is opened before the drop, so it survives chroot-dir (ocserv opens syslog early too).
 */
export interface WorkerLogSpec {
  readonly stderr: boolean;
  /** The shifted <syslog.h> facility code, or null for no syslog. */
  readonly syslogFacility: number | null;
  /** -d: overrides the configuration's log-level. */
  readonly level: number | null;
}

export function encodeWorkerLog(s: WorkerLogSpec): string {
  return `v1;stderr=${s.stderr ? 1 : 0};syslog=${s.syslogFacility ?? "-"};level=${s.level ?? "-"}`;
}

/** Strict parse; anything unexpected means stderr only, which is never silent. */
export function decodeWorkerLog(text: string | undefined): WorkerLogSpec {
  const fallback: WorkerLogSpec = { stderr: true, syslogFacility: null, level: null };
  if (text === undefined) return fallback;
  const m = /^v1;stderr=([01]);syslog=(\d{1,4}|-);level=(\d{1,4}|-)$/.exec(text);
  if (m === null) return fallback;
  return { stderr: m[1] === "1", syslogFacility: m[2] === "-" ? null : Number(m[2]), level: m[3] === "-" ? null : Number(m[3]) };
}

export function encodeSetMtu(tunnelId: number, mtu: number): Uint8Array {
  return new Writer(8).u32(tunnelId).u32(mtu).finish();
}
export function decodeSetMtu(body: Uint8Array): { tunnelId: number; mtu: number } {
  const r = new Reader(body);
  const tunnelId = r.u32();
  const mtu = r.u32();
  r.end();
  return { tunnelId, mtu };
}

export function encodeTunnelStats(tunnelId: number, bytesIn: number, bytesOut: number): Uint8Array {
  return new Writer(16).u32(tunnelId).u48(Math.min(bytesIn, 2 ** 48 - 1)).u48(Math.min(bytesOut, 2 ** 48 - 1)).finish();
}
export function decodeTunnelStats(body: Uint8Array): { tunnelId: number; bytesIn: number; bytesOut: number } {
  const r = new Reader(body);
  const tunnelId = r.u32();
  const bytesIn = r.u48();
  const bytesOut = r.u48();
  r.end();
  return { tunnelId, bytesIn, bytesOut };
}
