// main's answers to a worker (src/server/split/main-side.ts WorkerBroker), driven in memory with the
// real session store and ban tracker: what a compromised worker can and cannot obtain from main.

import { describe, expect, test } from "bun:test";
import type { AuthRequest, AuthState, AuthStep } from "../../src/auth/types.ts";
import { BanTracker, DEFAULT_BAN_CONFIG } from "../../src/auth/bans.ts";
import type { Config } from "../../src/config/types.ts";
import { randomBytes } from "../../src/crypto/index.ts";
import type { Logger } from "../../src/log/types.ts";
import { RemoteError, type Message, type Reply } from "../../src/privsep/channel.ts";
import { createKeyService } from "../../src/privsep/key-service.ts";
import type { ConnectOutcome, TunnelManager } from "../../src/server/contract.ts";
import { MemorySessionStore, vhostSessionPolicy } from "../../src/server/front/sessions.ts";
import type { Authenticator } from "../../src/server/front/types.ts";
import { WorkerBroker } from "../../src/server/split/main-side.ts";
import {
  SplitMsg,
  decodeAdmitResult,
  decodeAuthStep,
  decodeConfigSnapshot,
  decodeConnect,
  decodeConnectAnswer,
  decodeFlag,
  decodeMaybeRecord,
  decodeVerdict,
  encodeAuthAnswer,
  encodeAuthStart,
  encodeConfigSnapshot,
  encodeConnect,
  encodeConnectAnswer,
  encodeIp,
  encodeSessionAdmit,
  encodeSessionCreate,
  encodeSetMtu,
  encodeSid,
  type WireAuthStep,
} from "../../src/server/split/messages.ts";
import { makeConfig } from "../front/helpers.ts";

const IP = "192.0.2.7";

/** One password round: "secret" logs alice in; anything else is a wrong password (10 points). */
function scriptedAuth(): Authenticator {
  const state = { round: 1 } as unknown as AuthState;
  const ask = (banPoints: number): AuthStep => ({ kind: "continue", message: "Password:", fieldName: "password", label: "Password:", state, banPoints });
  return {
    usesPassword: () => true,
    listGroups: () => ["staff"],
    start: (req: AuthRequest) => (req.username === "alice" ? ask(0) : { kind: "fail", reason: "Authentication failed", banPoints: 10 }),
    answer: (_s, password) => (password === "secret" ? { kind: "ok", user: "alice", groups: ["staff"], group: "staff" } : ask(10)),
  };
}

const silent: Logger = {
  error() {},
  warn() {},
  info() {},
  debug() {},
  child: () => silent,
} as unknown as Logger;

const noTunnels: TunnelManager = { connect: async (): Promise<ConnectOutcome> => ({ ok: false, status: 503, reason: "none" }) };

function setup(opts: { maxClients?: number; active?: () => number } = {}) {
  const config: Config = makeConfig(opts.maxClients !== undefined ? `max-clients = ${opts.maxClients}` : "");
  const clock = { now: () => Date.now() };
  const sessions = new MemorySessionStore({ clock, random: randomBytes, policy: vhostSessionPolicy(() => config) });
  const bans = new BanTracker(DEFAULT_BAN_CONFIG);
  const broker: WorkerBroker = new WorkerBroker({
    config: () => config,
    authenticatorFor: () => scriptedAuth(),
    sessions,
    bans,
    log: silent,
    tunnels: noTunnels,
    settingsFor: async () => ({ kind: "rejected", reason: "not used" }),
    keyService: () => createKeyService([]),
    totalActive: opts.active ?? (() => broker.active),
  });
  const sync = (type: number, body: Uint8Array): Reply => broker.onSync({ type, body, fd: null } satisfies Message);
  const control = async (type: number, body: Uint8Array): Promise<Reply> => broker.onControl({ type, body, fd: null });
  const step = async (type: number, body: Uint8Array): Promise<WireAuthStep> => decodeAuthStep((await control(type, body)).body);
  const login = async (password = "secret"): Promise<WireAuthStep> => {
    const first = await step(SplitMsg.AuthStart, encodeAuthStart({ vhost: null, req: { username: "alice", remoteIp: IP } }));
    if (first.kind !== "continue") throw new Error("expected a password question");
    return step(SplitMsg.AuthAnswer, encodeAuthAnswer({ handle: first.handle, password }));
  };
  const newSid = () => sync(SplitMsg.NewSid, new Uint8Array(0)).body;
  const create = (sid: Uint8Array, username = "alice", group: string | null = "staff") =>
    decodeMaybeRecord(sync(SplitMsg.SessionCreate, encodeSessionCreate({ sid, username, group, vhost: null, authIp: IP, userAgent: "test" })).body);
  return { broker, sessions, bans, sync, control, step, login, newSid, create };
}

function refused(f: () => unknown, code: string): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RemoteError);
    expect((e as RemoteError).code).toBe(code);
    return;
  }
  throw new Error("expected a refusal");
}

describe("sessions are created only for logins main approved", () => {
  test("a worker cannot store a session for a user nobody authenticated", () => {
    const s = setup();
    refused(() => s.create(s.newSid()), "refused");
    expect(s.sessions.size).toBe(0);
  });

  test("after main approves a login, exactly one session for that user can be stored, under a SID main minted", async () => {
    const s = setup();
    expect((await s.login()).kind).toBe("ok");
    // Not for another user, nor another group, nor under a SID the worker invented.
    refused(() => s.create(s.newSid(), "mallory"), "refused");
    refused(() => s.create(s.newSid(), "alice", "admins"), "refused");
    refused(() => s.create(randomBytes(32)), "refused");
    const sid = s.newSid();
    const rec = s.create(sid);
    expect(rec?.username).toBe("alice");
    expect(s.sessions.lookup(sid)?.username).toBe("alice");
    // The grant is spent: a second session needs a second login.
    refused(() => s.create(s.newSid()), "refused");
  });

  test("a SID is usable once: it cannot be reused to overwrite the session it named", async () => {
    const s = setup();
    const sid = s.newSid();
    await s.login();
    s.create(sid);
    await s.login();
    refused(() => s.create(sid), "refused");
  });

  test("sessions are found only by the full cookie", async () => {
    const s = setup();
    const sid = s.newSid();
    await s.login();
    s.create(sid);
    expect(decodeMaybeRecord(s.sync(SplitMsg.SessionLookup, encodeSid(sid)).body)?.username).toBe("alice");
    const guess = sid.slice();
    guess[31]! ^= 1;
    expect(decodeMaybeRecord(s.sync(SplitMsg.SessionLookup, encodeSid(guess)).body)).toBeNull();
    const admit = decodeAdmitResult(s.sync(SplitMsg.SessionAdmit, encodeSessionAdmit({ sid: guess, remoteIp: IP })).body);
    expect(admit).toEqual({ ok: false, reason: "unknown-cookie" });
  });
});

describe("authentication runs in main", () => {
  test("wrong passwords are charged to the client's address in main, whatever the worker does", async () => {
    const s = setup();
    const r = await s.login("wrong");
    expect(r.kind).toBe("continue");
    expect(s.bans.list().find((e) => e.ip === IP)?.score).toBe(10);
    // The worker's own addPoints call is only a question: it adds nothing.
    expect(decodeFlag(s.sync(SplitMsg.BanQuery, encodeIp(IP)).body)).toBe(false);
    expect(s.bans.list().find((e) => e.ip === IP)?.score).toBe(10);
  });

  test("an auth handle answers once, and an unknown handle is refused", async () => {
    const s = setup();
    const first = await s.step(SplitMsg.AuthStart, encodeAuthStart({ vhost: null, req: { username: "alice", remoteIp: IP } }));
    if (first.kind !== "continue") throw new Error("expected a question");
    expect((await s.step(SplitMsg.AuthAnswer, encodeAuthAnswer({ handle: first.handle, password: "secret" }))).kind).toBe("ok");
    await expect(s.control(SplitMsg.AuthAnswer, encodeAuthAnswer({ handle: first.handle, password: "secret" }))).rejects.toThrow(RemoteError);
    await expect(s.control(SplitMsg.AuthAnswer, encodeAuthAnswer({ handle: 999_999, password: "secret" }))).rejects.toThrow(RemoteError);
  });

  test("a malformed request is refused as bad-request, not obeyed", () => {
    const s = setup();
    refused(() => s.sync(SplitMsg.SessionCreate, new Uint8Array([1, 2, 3])), "bad-request");
    refused(() => s.sync(SplitMsg.Admit, new Uint8Array([0, 9, 65])), "bad-request");
  });
});

describe("connection admission", () => {
  test("Admit charges ban-points-connection and refuses a banned address", () => {
    const s = setup();
    expect(decodeVerdict(s.sync(SplitMsg.Admit, encodeIp(IP)).body)).toBe("allow");
    expect(s.bans.list().find((e) => e.ip === IP)?.score).toBe(1);
    s.bans.addPoints(IP, 100);
    expect(decodeVerdict(s.sync(SplitMsg.Admit, encodeIp(IP)).body)).toBe("banned");
  });

  test("max-clients counts admitted connections until the worker reports them closed", () => {
    const s = setup({ maxClients: 2 });
    expect(decodeVerdict(s.sync(SplitMsg.Admit, encodeIp("192.0.2.1")).body)).toBe("allow");
    expect(decodeVerdict(s.sync(SplitMsg.Admit, encodeIp("192.0.2.2")).body)).toBe("allow");
    expect(decodeVerdict(s.sync(SplitMsg.Admit, encodeIp("192.0.2.3")).body)).toBe("full");
    s.broker.onNotify({ type: SplitMsg.ConnectionClosed, body: new Uint8Array(0), fd: null });
    expect(decodeVerdict(s.sync(SplitMsg.Admit, encodeIp("192.0.2.3")).body)).toBe("allow");
  });

  test("a worker cannot set the MTU of a tun device it was not given", () => {
    const s = setup();
    refused(() => s.sync(SplitMsg.SetMtu, encodeSetMtu(1, 1400)), "no-such-tunnel");
  });

  test("a CONNECT for an unknown cookie is refused with 401 before any tunnel work", async () => {
    const s = setup();
    const body = encodeConnect({
      sid: randomBytes(32),
      vhost: null,
      headers: new Map([["X-CSTP-MTU", "1400"]]),
      transport: { remoteAddress: IP, remotePort: 5000, localAddress: "192.0.2.1", tls: { version: "TLS1.3", cipherSuite: "TLS_AES_128_GCM_SHA256", safeRenegotiation: true } },
    });
    const r = await s.control(SplitMsg.Connect, body);
    expect(r.fd ?? null).toBeNull();
    expect(decodeConnectAnswer(r.body)).toEqual({ ok: false, status: 401, reason: "Cookie is not acceptable" });
  });
});

describe("message codecs", () => {
  test("a CONNECT and its answer survive the round trip", () => {
    const msg = {
      sid: randomBytes(32),
      vhost: "corp",
      headers: new Map([
        ["X-CSTP-Hostname", "laptop"],
        ["User-Agent", "Open AnyConnect VPN Agent v9.12"],
      ]),
      transport: { remoteAddress: "2001:db8::7", remotePort: 443, localAddress: "2001:db8::1", tls: { version: "TLS1.2" as const, cipherSuite: "ECDHE-RSA-AES128-GCM-SHA256", safeRenegotiation: false } },
    };
    expect(decodeConnect(encodeConnect(msg))).toEqual(msg);
    const ans = {
      ok: true as const,
      tunnelId: 7,
      head: "HTTP/1.1 200 CONNECTED\r\nX-CSTP-MTU: 1399\r\n\r\n",
      device: { name: "vpns3", index: 41 },
      params: { dpd: 90, idleTimeout: 1200, sessionTimeout: 0, authTime: 1_700_000_000_000, rxPerSec: 0, txPerSec: 0, maxPayload: 1756, switchToTcpTimeout: 25, tlsRekeyTime: 0, readBufferSize: 1508 },
      dtls: { sessionId: randomBytes(32), dataMtu: 1339, mtu: { linkMtu: 1406, minMtu: 800, peerIsIpv6: true, configuredMtu: 0, readCapacity: 1500 } },
      socket: { priority: { kind: "tos" as const, value: 0x10 }, sendBuffer: 65536 },
    };
    expect(decodeConnectAnswer(encodeConnectAnswer(ans))).toEqual(ans);
  });

  test("a configuration snapshot keeps the file bytes and key order", () => {
    const snap = { path: "/etc/ocserv/ocserv.conf", text: "auth = \"plain[passwd=/etc/p]\"\n", files: new Map([["/etc/c.pem", new Uint8Array([1, 2, 3])]]), keyPaths: ["/etc/k1.pem", "/etc/k2.pem"] };
    expect(decodeConfigSnapshot(encodeConfigSnapshot(snap))).toEqual(snap);
  });

  test("decoders refuse trailing bytes", () => {
    const ok = encodeConnectAnswer({ ok: false, status: 503, reason: "Server configuration error" });
    const padded = new Uint8Array(ok.length + 1);
    padded.set(ok);
    expect(() => decodeConnectAnswer(padded)).toThrow();
  });
});
