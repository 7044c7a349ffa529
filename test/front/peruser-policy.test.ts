// The CONNECT checks with per-user and per-group configuration (protocol.md §1.5 steps 5–6,
// config-options.md §4): deny-roaming, max-same-clients and session-timeout come from the session's
// effective settings (vhost, then group file, then user file), read from real files at each CONNECT;
// max-same-clients holds a slot from admission until the tunnel side answers.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ConnectOutcome, ConnectRequest, SessionStore, TunnelManager } from "../../src/server/contract.ts";
import { AUTH_SLACK_MS } from "../../src/server/front/sessions.ts";
import { decodeSid } from "../../src/server/front/cookies.ts";
import { TunnelManagerImpl } from "../../src/server/tunnel/manager.ts";
import {
  FakeSocket,
  RecordingTunnel,
  ScriptedAuth,
  connectReq,
  cookieFrom,
  harness,
  post,
  type Client,
  type Harness,
} from "./helpers.ts";
import {
  FakeTransport,
  configOf,
  globalOptions,
  managerFakes,
  sessionRecord,
  settingsOf,
  vhostOptions,
} from "../tunnel/fixtures.ts";

const ROOT = mkdtempSync(join(tmpdir(), "ocserv-peruser-policy-"));
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));

let dirCount = 0;
/** Fresh config-per-user and config-per-group directories holding the given files. */
function dirs(users: Record<string, string> = {}, groups: Record<string, string> = {}): { users: string; groups: string } {
  const base = join(ROOT, String(++dirCount));
  const u = join(base, "users");
  const g = join(base, "groups");
  mkdirSync(u, { recursive: true });
  mkdirSync(g, { recursive: true });
  for (const [name, text] of Object.entries(users)) writeFileSync(join(u, name), text);
  for (const [name, text] of Object.entries(groups)) writeFileSync(join(g, name), text);
  return { users: u, groups: g };
}

const HOME_IP = "192.0.2.10";
const AWAY_IP = "198.51.100.7";
const OK_HEAD = "HTTP/1.1 200 CONNECTED\r\nX-CSTP-Version: 1\r\n\r\n";
const REFUSED = "HTTP/1.1 401 Cookie is not acceptable\r\n";

/**
 * A tunnel side that behaves like the real manager towards the session store: a successful CONNECT
 * calls connected() before answering. `gate`, when set, holds every CONNECT until it resolves.
 */
class CountingTunnels implements TunnelManager {
  readonly requests: ConnectRequest[] = [];
  sessions: SessionStore | null = null;
  gate: Promise<void> | null = null;
  outcome: "ok" | { status: 401 | 503; reason: string } = "ok";
  async connect(req: ConnectRequest): Promise<ConnectOutcome> {
    this.requests.push(req);
    if (this.gate) await this.gate;
    if (this.outcome !== "ok") return { ok: false, ...this.outcome };
    this.sessions?.connected(req.session.sid);
    return { ok: true, head: OK_HEAD, tunnel: new RecordingTunnel() };
  }
}

function setup(config: string, users: Record<string, { password: string; group?: string }> = {}): { h: Harness; tunnels: CountingTunnels } {
  const tunnels = new CountingTunnels();
  const auth = new ScriptedAuth({ alice: { password: "pw" }, bob: { password: "pw" }, ...users });
  const h = harness({ config, auth, deps: { tunnels } });
  tunnels.sessions = h.sessions;
  return { h, tunnels };
}

async function login(h: Harness, user: string, ip = HOME_IP): Promise<string> {
  const r = await h.open({ socket: new FakeSocket(ip) }).send(post("/", `username=${user}&password=pw`));
  expect(r).toStartWith("HTTP/1.1 200 OK\r\n");
  return cookieFrom(r);
}

async function connect(h: Harness, cookie: string, ip = HOME_IP): Promise<{ c: Client; reply: string }> {
  const c = h.open({ socket: new FakeSocket(ip) });
  const reply = await c.send(connectReq(`webvpn=${cookie}`));
  return { c, reply };
}

function perUserConfig(d: { users: string; groups: string }, extra = ""): string {
  return `config-per-user = ${d.users}\nconfig-per-group = ${d.groups}\n${extra}`;
}

describe("per-user and per-group CONNECT policy", () => {
  test("a per-user deny-roaming refuses a CONNECT from a new address while the vhost allows roaming", async () => {
    const d = dirs({ alice: "deny-roaming = true\n" });
    const { h, tunnels } = setup(perUserConfig(d));
    const alice = await login(h, "alice");
    const bob = await login(h, "bob");

    const away = await connect(h, alice, AWAY_IP);
    expect(away.reply).toStartWith(REFUSED);
    expect(away.c.tls.events).toContain("alert:access_denied");
    expect(tunnels.requests.length).toBe(0);
    // The vhost's roaming still applies to users without the override.
    expect((await connect(h, bob, AWAY_IP)).reply).toBe(OK_HEAD);
    // The cookie itself stays good from the address that authenticated.
    expect((await connect(h, alice, HOME_IP)).reply).toBe(OK_HEAD);
  });

  test("a per-user max-same-clients = 1 holds although the vhost allows 2", async () => {
    const d = dirs({ alice: "max-same-clients = 1\n" });
    const { h, tunnels } = setup(perUserConfig(d, "max-same-clients = 2"));
    const a1 = await login(h, "alice");
    const a2 = await login(h, "alice");
    expect((await connect(h, a1)).reply).toBe(OK_HEAD);
    expect((await connect(h, a2)).reply).toStartWith(REFUSED);
    expect(h.logger.lines.some((l) => l.includes("cookie rejected at CONNECT: max-same-clients"))).toBe(true);
    // bob has no file: the vhost's 2 applies.
    const b1 = await login(h, "bob");
    const b2 = await login(h, "bob");
    const b3 = await login(h, "bob");
    expect((await connect(h, b1)).reply).toBe(OK_HEAD);
    expect((await connect(h, b2)).reply).toBe(OK_HEAD);
    expect((await connect(h, b3)).reply).toStartWith(REFUSED);
    expect(tunnels.requests.map((r) => r.session.username)).toEqual(["alice", "bob", "bob"]);
  });

  test("a per-group file sets deny-roaming and max-same-clients for the members of the group", async () => {
    const d = dirs({}, { staff: "deny-roaming = true\nmax-same-clients = 1\n" });
    const { h } = setup(perUserConfig(d, "max-same-clients = 5"), { carol: { password: "pw", group: "staff" } });
    const c1 = await login(h, "carol");
    const c2 = await login(h, "carol");
    expect((await connect(h, c1, AWAY_IP)).reply).toStartWith(REFUSED);
    expect((await connect(h, c1)).reply).toBe(OK_HEAD);
    expect((await connect(h, c2)).reply).toStartWith(REFUSED);
    // alice is in no group: neither limit applies to her.
    const a1 = await login(h, "alice");
    const a2 = await login(h, "alice");
    expect((await connect(h, a1, AWAY_IP)).reply).toBe(OK_HEAD);
    expect((await connect(h, a2, AWAY_IP)).reply).toBe(OK_HEAD);
  });

  test("a user file overrides the values of its group file", async () => {
    const d = dirs({ carol: "deny-roaming = false\nmax-same-clients = 3\n" }, { staff: "deny-roaming = true\nmax-same-clients = 1\n" });
    const { h, tunnels } = setup(perUserConfig(d), {
      carol: { password: "pw", group: "staff" },
      dave: { password: "pw", group: "staff" },
    });
    const c1 = await login(h, "carol");
    const c2 = await login(h, "carol");
    expect((await connect(h, c1, AWAY_IP)).reply).toBe(OK_HEAD);
    expect((await connect(h, c2, AWAY_IP)).reply).toBe(OK_HEAD);
    // The tunnel side gets the merged settings the checks used.
    expect(tunnels.requests[0]?.settings?.["max-same-clients"]).toBe(3);
    expect(tunnels.requests[0]?.settings?.["deny-roaming"]).toBe(false);
    // dave, in the same group without a file of his own, keeps the group's values.
    const d1 = await login(h, "dave");
    expect((await connect(h, d1, AWAY_IP)).reply).toStartWith(REFUSED);
  });

  test("a per-user session-timeout refuses a CONNECT once it has passed although the vhost has none", async () => {
    const d = dirs({ alice: "session-timeout = 60\n" });
    const { h } = setup(perUserConfig(d));
    const alice = await login(h, "alice");
    const bob = await login(h, "bob");
    h.clock.advance(61_000);
    expect((await connect(h, alice)).reply).toStartWith(REFUSED);
    expect(h.sessions.lookup(decodeSid(alice)!)).toBeNull();
    expect((await connect(h, bob)).reply).toBe(OK_HEAD);
  });

  test("the files are re-read at each CONNECT, so an edit applies without a reload", async () => {
    const d = dirs({ alice: "deny-roaming = false\n" });
    const { h } = setup(perUserConfig(d));
    const alice = await login(h, "alice");
    expect((await connect(h, alice, AWAY_IP)).reply).toBe(OK_HEAD);
    writeFileSync(join(d.users, "alice"), "deny-roaming = true\n");
    expect((await connect(h, alice, AWAY_IP)).reply).toStartWith(REFUSED);
  });
});

describe("a per-user file that cannot be loaded", () => {
  test("a parse error rejects the CONNECT with 401 Cookie is not acceptable and never reaches the tunnel side", async () => {
    const d = dirs({ alice: "max-same-clients = many\n" });
    const { h, tunnels } = setup(perUserConfig(d));
    const alice = await login(h, "alice");
    const { c, reply } = await connect(h, alice);
    expect(reply).toBe("HTTP/1.1 401 Cookie is not acceptable\r\nContent-Length: 0\r\n\r\n");
    expect(c.tls.events).toContain("alert:access_denied");
    expect(c.socket.ended).toBe(true);
    expect(tunnels.requests.length).toBe(0);
    expect(h.logger.lines.some((l) => l.startsWith("warn ") && l.includes("per-user configuration") && l.includes("rejected"))).toBe(true);
    // The file's contents are not logged.
    expect(h.logger.lines.some((l) => l.includes("many"))).toBe(false);
  });

  test("a per-user file that is a symbolic link rejects the CONNECT", async () => {
    const d = dirs({ target: "deny-roaming = false\n" });
    symlinkSync(join(d.users, "target"), join(d.users, "alice"));
    const { h, tunnels } = setup(perUserConfig(d));
    const alice = await login(h, "alice");
    expect((await connect(h, alice)).reply).toStartWith(REFUSED);
    expect(tunnels.requests.length).toBe(0);
  });

  test("a broken group file rejects the CONNECT of the group's members only", async () => {
    const d = dirs({}, { staff: "dpd = soon\n" });
    const { h } = setup(perUserConfig(d), { carol: { password: "pw", group: "staff" } });
    expect((await connect(h, await login(h, "carol"))).reply).toStartWith(REFUSED);
    expect((await connect(h, await login(h, "alice"))).reply).toBe(OK_HEAD);
  });

  test("a loader that throws rejects the CONNECT instead of ending the server", async () => {
    const tunnels = new CountingTunnels();
    const h = harness({
      auth: new ScriptedAuth({ alice: { password: "pw" } }),
      deps: {
        tunnels,
        settingsFor: async () => {
          throw new Error("disk on fire");
        },
      },
    });
    const { reply } = await connect(h, await login(h, "alice"));
    expect(reply).toStartWith(REFUSED);
    expect(tunnels.requests.length).toBe(0);
  });
});

describe("max-same-clients reservations", () => {
  test("two CONNECTs racing with max-same-clients = 1: exactly one gets a tunnel", async () => {
    const { h, tunnels } = setup("max-same-clients = 1");
    const a1 = await login(h, "alice");
    const a2 = await login(h, "alice");
    let open: () => void = () => {};
    tunnels.gate = new Promise<void>((resolve) => (open = resolve));
    const first = connect(h, a1);
    const second = connect(h, a2);
    // Let both reach the point where the first waits on the (slow) tunnel setup.
    for (let i = 0; i < 200 && tunnels.requests.length === 0; i++) await Promise.resolve();
    expect(tunnels.requests.length).toBe(1);
    open();
    const replies = [(await first).reply, (await second).reply];
    expect(replies.filter((r) => r === OK_HEAD).length).toBe(1);
    expect(replies.filter((r) => r.startsWith(REFUSED)).length).toBe(1);
    expect(tunnels.requests.length).toBe(1);
    expect(h.sessions.openTunnels("alice")).toBe(1);
  });

  test("a CONNECT the tunnel side refuses gives its slot back", async () => {
    const { h, tunnels } = setup("max-same-clients = 1");
    const a1 = await login(h, "alice");
    const a2 = await login(h, "alice");
    tunnels.outcome = { status: 503, reason: "Server configuration error" };
    expect((await connect(h, a1)).reply).toStartWith("HTTP/1.1 503 Service Unavailable\r\n");
    tunnels.outcome = "ok";
    expect((await connect(h, a2)).reply).toBe(OK_HEAD);
  });

  test("a CONNECT to an unknown URL, or whose tunnel setup throws, gives its slot back", async () => {
    const { h, tunnels } = setup("max-same-clients = 1");
    const a1 = await login(h, "alice");
    const a2 = await login(h, "alice");
    const wrongUrl = await h.open().send(connectReq(`webvpn=${a1}`, "Cookie", "/elsewhere"));
    expect(wrongUrl).toStartWith("HTTP/1.1 404 ");
    const real = tunnels.connect.bind(tunnels);
    tunnels.connect = async () => {
      throw new Error("setup bug");
    };
    expect((await connect(h, a1)).reply).toStartWith("HTTP/1.1 503 Service Unavailable\r\n");
    tunnels.connect = real;
    expect((await connect(h, a2)).reply).toBe(OK_HEAD);
  });

  test("the same cookie reconnecting while its first CONNECT is being set up is not counted twice", async () => {
    const { h, tunnels } = setup("max-same-clients = 1");
    const a1 = await login(h, "alice");
    let open: () => void = () => {};
    tunnels.gate = new Promise<void>((resolve) => (open = resolve));
    const first = connect(h, a1);
    const again = connect(h, a1, AWAY_IP);
    for (let i = 0; i < 200 && tunnels.requests.length < 2; i++) await Promise.resolve();
    expect(tunnels.requests.length).toBe(2);
    open();
    expect((await first).reply).toBe(OK_HEAD);
    expect((await again).reply).toBe(OK_HEAD);
  });
});

describe("cookie lifetime after a disconnect", () => {
  test("cookie-timeout and persistent-cookies in a per-user file are ignored, as ocserv does: the vhost's values apply", async () => {
    // ocserv's per-user parser (sup-config/file.c) accepts neither key, so they cannot differ per user.
    const d = dirs({ alice: "cookie-timeout = 3600\npersistent-cookies = true\n" });
    const { h } = setup(perUserConfig(d, "cookie-timeout = 100"));
    const alice = await login(h, "alice");
    expect((await connect(h, alice)).reply).toBe(OK_HEAD);
    const sid = decodeSid(alice)!;
    h.sessions.ended(sid, "dpd-timeout");
    h.clock.advance(100_000 + AUTH_SLACK_MS - 1);
    expect(h.sessions.lookup(sid)).not.toBeNull();
    h.clock.advance(1);
    expect(h.sessions.lookup(sid)).toBeNull();

    const again = await login(h, "alice");
    expect((await connect(h, again)).reply).toBe(OK_HEAD);
    h.sessions.ended(decodeSid(again)!, "user-disconnect");
    expect(h.sessions.lookup(decodeSid(again)!)).toBeNull();
  });
});

describe("handing the loaded settings to the tunnel manager", () => {
  test("the manager uses the settings on the request and does not load the files again", async () => {
    const vhost = vhostOptions({ dpd: 90 });
    let loads = 0;
    const manager = new TunnelManagerImpl({
      ...managerFakes(),
      config: () => configOf(vhost, globalOptions()),
      settingsFor: async () => {
        loads++;
        return { kind: "ok", settings: settingsOf(vhost) };
      },
    });
    const headers = new Map([["User-Agent", "Open AnyConnect VPN Agent v9.12"]]);
    const withSettings = await manager.connect({
      session: sessionRecord(),
      headers,
      transport: new FakeTransport(),
      settings: settingsOf(vhost, { dpd: 37 }),
    });
    expect(loads).toBe(0);
    expect(withSettings.ok && withSettings.head).toContain("X-CSTP-DPD: 37\r\n");
    const loaded = await manager.connect({ session: sessionRecord({ sid: new Uint8Array(32).fill(9), safeId: "other" }), headers, transport: new FakeTransport() });
    expect(loads).toBe(1);
    expect(loaded.ok && loaded.head).toContain("X-CSTP-DPD: 90\r\n");
    manager.close();
  });
});

describe("with the real tunnel manager behind the front", () => {
  test("per-user max-same-clients holds, and the user file is read once per CONNECT, by the front", async () => {
    const d = dirs({ alice: "max-same-clients = 1\ndpd = 41\n" });
    const { loadSessionSettings } = await import("../../src/config/index.ts");
    let frontLoads = 0;
    let managerLoads = 0;
    let store: SessionStore | null = null;
    const lateSessions: SessionStore = {
      lookup: (sid) => store?.lookup(sid) ?? null,
      connected: (sid) => store?.connected(sid),
      ended: (sid, reason) => store?.ended(sid, reason),
    };
    let manager: TunnelManagerImpl | null = null;
    const h = harness({
      config: perUserConfig(d, "max-same-clients = 4"),
      auth: new ScriptedAuth({ alice: { password: "pw" } }),
      deps: {
        settingsFor: (vhost, user, group) => {
          frontLoads++;
          return loadSessionSettings(vhost, user, group);
        },
        tunnels: { connect: (req) => manager!.connect(req) },
      },
    });
    store = h.sessions;
    manager = new TunnelManagerImpl({
      ...managerFakes(),
      config: () => h.config,
      settingsFor: (vhost, user, group) => {
        managerLoads++;
        return loadSessionSettings(vhost, user, group);
      },
      sessions: lateSessions,
    });
    const a1 = await login(h, "alice");
    const a2 = await login(h, "alice");
    const first = await connect(h, a1);
    expect(first.reply).toStartWith("HTTP/1.1 200 CONNECTED\r\n");
    expect(first.reply).toContain("X-CSTP-DPD: 41\r\n");
    expect((await connect(h, a2)).reply).toStartWith(REFUSED);
    expect(frontLoads).toBe(2);
    expect(managerLoads).toBe(0);
    // The first tunnel ends: its slot is free again for the other session.
    first.c.conn.onPeerClosed();
    expect(h.sessions.openTunnels("alice")).toBe(0);
    expect((await connect(h, a2)).reply).toStartWith("HTTP/1.1 200 CONNECTED\r\n");
    manager.close();
  });
});
