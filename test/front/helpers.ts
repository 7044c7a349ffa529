// In-memory doubles for the HTTP front tests: a plaintext "TLS" (one receive() = one record), a
// recording socket, logger, clock, ban tracker, tunnel manager and a scripted authenticator.

import type { Config } from "../../src/config/types.ts";
import type { Logger } from "../../src/log/types.ts";
import type { AuthRequest, AuthState, AuthStep } from "../../src/auth/types.ts";
import type { ConnectOutcome, ConnectRequest, TunnelHandle, TunnelManager } from "../../src/server/contract.ts";
import type { Authenticator, BanTracker, FrontSocket, FrontTls, FrontTlsInfo } from "../../src/server/front/types.ts";
import { parseConfig } from "../../src/config/index.ts";
import { MemorySessionStore, vhostSessionPolicy } from "../../src/server/front/sessions.ts";
import { createFront, type FrontDeps } from "../../src/server/front/server.ts";
import type { FrontConnection } from "../../src/server/front/connection.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

export function makeConfig(extra = ""): Config {
  const text = [
    /^auth =/m.test(extra) ? "" : 'auth = "plain[passwd=/nonexistent/passwd]"',
    "tcp-port = 443",
    "server-cert = /nonexistent/cert.pem",
    "server-key = /nonexistent/key.pem",
    "socket-file = /nonexistent/sock",
    "device = vpns",
    "ipv4-network = 192.168.1.0/24",
    extra,
  ].join("\n");
  const r = parseConfig(text, "test.conf");
  if (!r.config) throw new Error(`bad test config: ${JSON.stringify(r.errors)}`);
  return r.config;
}

/** Plaintext stand-in for TLS: every receive() is one record; the handshake is already done. */
export class PlainTls implements FrontTls {
  state: FrontTls["state"] = "established";
  info: FrontTlsInfo | null;
  private readonly inbox: Uint8Array[] = [];
  private out: Uint8Array[] = [];
  /** Each write() as a string (one record each). */
  readonly records: string[] = [];
  readonly events: string[] = [];

  constructor(info: Partial<FrontTlsInfo> = {}) {
    this.info = { version: "TLS1.3", cipherSuite: "TLS_AES_128_GCM_SHA256", sni: null, peerCertificates: [], safeRenegotiation: true, ...info };
  }
  receive(bytes: Uint8Array): void {
    this.inbox.push(bytes);
  }
  takeOutgoing(): Uint8Array | null {
    if (this.out.length === 0) return null;
    const all = Buffer.concat(this.out);
    this.out = [];
    return new Uint8Array(all);
  }
  readApplicationData(): Uint8Array | null {
    return this.inbox.shift() ?? null;
  }
  write(data: Uint8Array): void {
    if (this.state !== "established") throw new Error(`write in state ${this.state}`);
    this.records.push(dec.decode(data));
    this.out.push(Uint8Array.from(data));
  }
  exportKeyingMaterial(label: string, _context: Uint8Array | null, length: number): Uint8Array {
    return new Uint8Array(length).fill(label.length);
  }
  close(): void {
    this.events.push("close_notify");
    this.state = "closing";
  }
  fatalAlert(alert: "access_denied"): void {
    this.events.push(`alert:${alert}`);
    this.state = "closed";
  }
  /** The peer's close_notify. */
  peerClose(): void {
    this.state = "closed";
  }
}

export class FakeSocket implements FrontSocket {
  readonly chunks: Uint8Array[] = [];
  ended = false;
  constructor(
    readonly remoteAddress = "192.0.2.10",
    readonly remotePort = 40000,
    readonly localAddress = "192.0.2.1",
  ) {}
  send(bytes: Uint8Array): void {
    if (this.ended) throw new Error("send after end");
    this.chunks.push(Uint8Array.from(bytes));
  }
  end(): void {
    this.ended = true;
  }
  text(): string {
    return this.chunks.map((c) => dec.decode(c)).join("");
  }
}

export class RecordingLogger implements Logger {
  readonly lines: string[] = [];
  readonly level = 9;
  constructor(private readonly prefix = "") {}
  private add(sev: string, m: string, args: unknown[]): void {
    this.lines.push(`${sev} ${this.prefix}${m} ${args.map(String).join(" ")}`);
  }
  error(m: string, ...a: unknown[]): void {
    this.add("error", m, a);
  }
  warn(m: string, ...a: unknown[]): void {
    this.add("warn", m, a);
  }
  info(m: string, ...a: unknown[]): void {
    this.add("info", m, a);
  }
  debug(m: string, ...a: unknown[]): void {
    this.add("debug", m, a);
  }
  trace(m: string, ...a: unknown[]): void {
    this.add("trace", m, a);
  }
  child(prefix: string): Logger {
    const parent = this;
    const c = new RecordingLogger(`${this.prefix}${prefix}: `);
    // Children write into the parent's lines so a test sees everything.
    (c as { lines: string[] }).lines = parent.lines;
    return c;
  }
}

export class FakeClock {
  constructor(public t = 1_800_000_000_000) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

export class RecordingBans implements BanTracker {
  readonly points: { ip: string; points: number }[] = [];
  banned = new Set<string>();
  admitConnection(ip: string): "allow" | "banned" {
    this.points.push({ ip, points: 1 });
    return this.banned.has(ip) ? "banned" : "allow";
  }
  addPoints(ip: string, points: number): boolean {
    this.points.push({ ip, points });
    return this.banned.has(ip);
  }
}

export class RecordingTunnel implements TunnelHandle {
  readonly records: string[] = [];
  closed = 0;
  receiveRecord(data: Uint8Array): void {
    this.records.push(dec.decode(data));
  }
  transportClosed(): void {
    this.closed++;
  }
}

export class FakeTunnels implements TunnelManager {
  readonly requests: ConnectRequest[] = [];
  readonly tunnels: RecordingTunnel[] = [];
  outcome: "ok" | { status: 401 | 503; reason: string } = "ok";
  async connect(req: ConnectRequest): Promise<ConnectOutcome> {
    this.requests.push(req);
    if (this.outcome !== "ok") return { ok: false, ...this.outcome };
    const tunnel = new RecordingTunnel();
    this.tunnels.push(tunnel);
    return { ok: true, head: "HTTP/1.1 200 CONNECTED\r\nX-CSTP-Version: 1\r\n\r\n", tunnel };
  }
}

type Script = { stage: "password" | "otp"; user: string; failures: number };

/**
 * A plain-like backend: users → passwords, optional OTP second round ("secondary_password",
 * "Password2:"), three tries, retries charged 10 points. Certificate logins when `certOnly`.
 */
export class ScriptedAuth implements Authenticator {
  readonly starts: AuthRequest[] = [];
  readonly answers: (string | null)[] = [];
  constructor(
    readonly users: Record<string, { password: string; otp?: string; group?: string }> = { test: { password: "secret" } },
    readonly certOnly = false,
    readonly groups: readonly string[] = [],
  ) {}
  usesPassword(_hasCertificate: boolean): boolean {
    return !this.certOnly;
  }
  listGroups(): readonly string[] {
    return this.groups;
  }
  start(req: AuthRequest): AuthStep {
    this.starts.push(req);
    if (this.certOnly) {
      if (!req.certificate) return { kind: "fail", reason: "No certificate", banPoints: 10 };
      return { kind: "ok", user: req.certificate.user, groups: req.certificate.groups, group: req.groupRequested ?? null };
    }
    const state: Script = { stage: "password", user: req.username ?? "", failures: 0 };
    return { kind: "continue", message: "Please enter your password.", fieldName: "password", label: "Password:", state: state as unknown as AuthState, banPoints: 0 };
  }
  answer(state: AuthState, password: string | null): AuthStep {
    this.answers.push(password);
    if (password === null) return { kind: "fail", reason: "No password", banPoints: 0 };
    const s = state as unknown as Script;
    const u = this.users[s.user];
    if (s.stage === "otp") {
      return u?.otp === password ? { kind: "ok", user: s.user, groups: [], group: u.group ?? null } : { kind: "fail", reason: "Authentication failed", banPoints: 10 };
    }
    if (u === undefined || u.password !== password) {
      const failures = s.failures + 1;
      if (failures >= 3) return { kind: "fail", reason: "Authentication failed", banPoints: 10 };
      const next: Script = { ...s, failures };
      return {
        kind: "continue",
        message: "Login failed.\nPlease enter your password.",
        fieldName: "password",
        label: "Password:",
        state: next as unknown as AuthState,
        banPoints: 10,
      };
    }
    if (u.otp !== undefined) {
      const next: Script = { ...s, stage: "otp" };
      return {
        kind: "continue",
        message: "Please enter your OTP password.",
        fieldName: "secondary_password",
        label: "Password2:",
        state: next as unknown as AuthState,
        banPoints: 0,
      };
    }
    return { kind: "ok", user: s.user, groups: [], group: u.group ?? null };
  }
}

export interface Harness {
  readonly config: Config;
  readonly clock: FakeClock;
  readonly sessions: MemorySessionStore;
  readonly tunnels: FakeTunnels;
  readonly bans: RecordingBans;
  readonly logger: RecordingLogger;
  readonly auth: ScriptedAuth;
  /** Opens a connection; `tls` defaults to an established PlainTls. */
  open(opts?: { tls?: PlainTls; socket?: FakeSocket }): Client;
}

export interface Client {
  readonly conn: FrontConnection;
  readonly tls: PlainTls;
  readonly socket: FakeSocket;
  /** Sends one record and returns what the server wrote in reply (as text). */
  send(text: string | Uint8Array): Promise<string>;
}

let sidCounter = 0;

export function harness(opts: { config?: string; auth?: ScriptedAuth; deps?: Partial<FrontDeps>; maxSessions?: number } = {}): Harness {
  const config = makeConfig(opts.config ?? "");
  const clock = new FakeClock();
  const sessions = new MemorySessionStore({
    clock,
    // Deterministic but distinct SIDs; production passes the CSPRNG.
    random: (n) => new Uint8Array(n).map((_, i) => (i * 7 + ++sidCounter) & 0xff),
    policy: vhostSessionPolicy(() => config),
    ...(opts.maxSessions !== undefined ? { maxSessions: opts.maxSessions } : {}),
  });
  const tunnels = new FakeTunnels();
  const bans = new RecordingBans();
  const logger = new RecordingLogger();
  const auth = opts.auth ?? new ScriptedAuth();
  const front = createFront({
    config,
    authenticatorFor: () => auth,
    sessions,
    tunnels,
    bans,
    logger,
    clock,
    ...opts.deps,
  });
  return {
    config,
    clock,
    sessions,
    tunnels,
    bans,
    logger,
    auth,
    open(o = {}) {
      const tls = o.tls ?? new PlainTls();
      const socket = o.socket ?? new FakeSocket();
      const conn = front.handleConnection({ socket, tls });
      let seen = 0;
      return {
        conn,
        tls,
        socket,
        async send(data) {
          await conn.onData(typeof data === "string" ? enc.encode(data) : data);
          const all = socket.text();
          const fresh = all.slice(seen);
          seen = all.length;
          return fresh;
        },
      };
    },
  };
}

export function post(url: string, body: string, headers: Record<string, string> = {}): string {
  const h = { "User-Agent": "Open AnyConnect VPN Agent v9.12", ...headers };
  const lines = Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  return `POST ${url} HTTP/1.1\r\nHost: vpn.example.com\r\n${lines}Content-Length: ${enc.encode(body).length}\r\n\r\n${body}`;
}

export function get(url: string, headers: Record<string, string> = {}, version = "1.1"): string {
  const h = { "User-Agent": "Open AnyConnect VPN Agent v9.12", ...headers };
  const lines = Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  return `GET ${url} HTTP/${version}\r\nHost: vpn.example.com\r\n${lines}\r\n`;
}

export function connectReq(cookieHeader: string | null, headerName = "Cookie", url = "/CSCOSSLC/tunnel"): string {
  const cookie = cookieHeader === null ? "" : `${headerName}: ${cookieHeader}\r\n`;
  return `CONNECT ${url} HTTP/1.1\r\nHost: vpn.example.com\r\nUser-Agent: Open AnyConnect VPN Agent v9.12\r\n${cookie}X-CSTP-Version: 1\r\n\r\n`;
}

export const XML_INIT =
  '<?xml version="1.0" encoding="UTF-8"?>\n<config-auth client="vpn" type="init"><version who="vpn">v9.12</version><device-id>linux-64</device-id><group-access>https://vpn.example.com</group-access></config-auth>';

export function xmlReply(fields: Record<string, string>, group?: string): string {
  const auth = Object.entries(fields).map(([k, v]) => `<${k}>${v}</${k}>`).join("");
  const g = group === undefined ? "" : `<group-select>${group}</group-select>`;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<config-auth client="vpn" type="auth-reply"><version who="vpn">v9.12</version><device-id>linux-64</device-id><auth>${auth}</auth>${g}</config-auth>`;
}

/** The `webvpn=` value from a complete response. */
export function cookieFrom(response: string): string {
  const m = /Set-Cookie: webvpn=([^;]+);/.exec(response);
  if (!m || m[1] === undefined) throw new Error(`no webvpn cookie in ${response}`);
  return m[1];
}
