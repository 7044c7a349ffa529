import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { decodeSid, encodeSid, parseCookieHeader, safeIdOf } from "../../src/server/front/cookies.ts";
import { AUTH_SLACK_MS, MemorySessionStore, type SessionPolicy } from "../../src/server/front/sessions.ts";
import { SessionError } from "../../src/server/front/errors.ts";
import { FakeClock } from "./helpers.ts";

const SID = Uint8Array.from({ length: 32 }, (_, i) => i);

describe("cookie encoding", () => {
  test("encodes 32 bytes as 44 characters of padded standard base64 and back", () => {
    const s = encodeSid(SID);
    expect(s).toBe("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
    expect(s.length).toBe(44);
    expect(decodeSid(s)).toEqual(SID);
  });

  test("rejects values that do not decode to exactly 32 bytes", () => {
    expect(decodeSid(Buffer.alloc(31).toString("base64"))).toBeNull();
    expect(decodeSid(Buffer.alloc(33).toString("base64"))).toBeNull();
    expect(decodeSid(Buffer.alloc(48).toString("base64"))).toBeNull();
    expect(decodeSid("")).toBeNull();
  });

  test("rejects unpadded, URL-safe and non-canonical spellings", () => {
    const s = encodeSid(SID);
    expect(decodeSid(s.slice(0, 43))).toBeNull();
    expect(decodeSid(encodeSid(Uint8Array.from({ length: 32 }, () => 0xfb)).replace(/\+/g, "-").replace(/\//g, "_"))).toBeNull();
    // 'h' and 'f' differ only in the two unused low bits of the last character.
    expect(decodeSid(`${s.slice(0, 42)}h=`)).toBeNull();
  });

  test("safe_id is base64 of the SHA-1 of the SID", () => {
    expect(safeIdOf(SID)).toBe(createHash("sha1").update(SID).digest("base64"));
  });

  test("reads webvpn and webvpncontext from Cookie and ignores a lower-case cookie header", () => {
    const v = encodeSid(SID);
    const c = parseCookieHeader(new Map([["Cookie", ` foo=bar; webvpn=${v} ;webvpncontext=${v}`]]));
    expect(c.webvpn).toEqual(SID);
    expect(c.webvpncontext).toEqual(SID);
    expect(parseCookieHeader(new Map([["cookie", `webvpn=${v}`]])).webvpn).toBeNull();
    expect(parseCookieHeader(new Map([["Cookie", "webvpn=short"]])).webvpn).toBeNull();
  });
});

function store(policy: Partial<SessionPolicy> = {}, maxSessions?: number) {
  const clock = new FakeClock();
  let n = 0;
  const full: SessionPolicy = { cookieTimeout: 300, persistentCookies: false, sessionTimeout: 0, denyRoaming: false, maxSameClients: 0, ...policy };
  const s = new MemorySessionStore({
    clock,
    random: (len) => Uint8Array.from({ length: len }, (_, i) => (i === 0 ? ++n : i)),
    policy: () => full,
    ...(maxSessions !== undefined ? { maxSessions } : {}),
  });
  const create = (username = "alice", authIp = "192.0.2.10") => {
    const sid = s.newSid();
    s.create(sid, { username, group: null, vhost: null, authIp, userAgent: "ua" });
    return sid;
  };
  return { clock, s, create };
}

describe("session lifetime", () => {
  test("a new session lives cookie-timeout plus 15 s", () => {
    const { clock, s, create } = store();
    const sid = create();
    clock.advance(300_000 + AUTH_SLACK_MS - 1);
    expect(s.lookup(sid)).not.toBeNull();
    clock.advance(1);
    expect(s.lookup(sid)).toBeNull();
  });

  test("the record carries safe_id and the original auth time", () => {
    const { clock, s, create } = store();
    const sid = create();
    const r = s.lookup(sid);
    expect(r?.safeId).toBe(safeIdOf(sid));
    expect(r?.authTime).toBe(clock.now());
  });

  test("lookup by a SID that differs in one byte finds nothing", () => {
    const { s, create } = store();
    const sid = create();
    const other = Uint8Array.from(sid);
    other[31] = (other[31] ?? 0) ^ 1;
    expect(s.lookup(other)).toBeNull();
    expect(s.lookup(sid.subarray(0, 31))).toBeNull();
  });

  test("an open tunnel keeps the session past its expiry", () => {
    const { clock, s, create } = store();
    const sid = create();
    s.connected(sid);
    clock.advance(3_600_000);
    expect(s.lookup(sid)).not.toBeNull();
  });

  for (const reason of ["user-disconnect", "server-disconnect", "session-timeout"] as const) {
    test(`${reason} invalidates the cookie at once`, () => {
      const { s, create } = store();
      const sid = create();
      s.connected(sid);
      s.ended(sid, reason);
      expect(s.lookup(sid)).toBeNull();
    });
  }

  for (const reason of ["user-reconnect", "idle-timeout", "dpd-timeout", "error"] as const) {
    test(`${reason} keeps the cookie for cookie-timeout plus 15 s from the disconnect`, () => {
      const { clock, s, create } = store();
      const sid = create();
      s.connected(sid);
      clock.advance(1_000_000);
      s.ended(sid, reason);
      clock.advance(300_000 + AUTH_SLACK_MS - 1);
      expect(s.lookup(sid)).not.toBeNull();
      clock.advance(1);
      expect(s.lookup(sid)).toBeNull();
    });
  }

  test("with persistent-cookies a server disconnect keeps the cookie, and a user disconnect keeps it 15 s", () => {
    const { clock, s, create } = store({ persistentCookies: true });
    const a = create();
    s.connected(a);
    s.ended(a, "server-disconnect");
    clock.advance(300_000);
    expect(s.lookup(a)).not.toBeNull();
    const b = create();
    s.connected(b);
    s.ended(b, "user-disconnect");
    clock.advance(AUTH_SLACK_MS - 1);
    expect(s.lookup(b)).not.toBeNull();
    clock.advance(1);
    expect(s.lookup(b)).toBeNull();
  });

  test("the end of a replaced tunnel does not touch a session still in use", () => {
    const { s, create } = store();
    const sid = create();
    s.connected(sid);
    s.connected(sid); // the same cookie reconnected from elsewhere
    s.ended(sid, "server-disconnect"); // the old tunnel is killed
    expect(s.lookup(sid)).not.toBeNull();
  });

  test("session-timeout counts from the original authentication across reconnects", () => {
    const { clock, s, create } = store({ sessionTimeout: 600 });
    const sid = create();
    s.connected(sid);
    clock.advance(500_000);
    s.ended(sid, "user-reconnect");
    expect(s.admit(sid, "192.0.2.10").ok).toBe(true);
    clock.advance(100_000);
    expect(s.admit(sid, "192.0.2.10")).toEqual({ ok: false, reason: "session-timeout" });
    expect(s.lookup(sid)).toBeNull();
  });
});

describe("CONNECT admission", () => {
  test("deny-roaming refuses a cookie from another IP and allows the authenticating IP", () => {
    const { s, create } = store({ denyRoaming: true });
    const sid = create("alice", "192.0.2.10");
    expect(s.admit(sid, "198.51.100.7")).toEqual({ ok: false, reason: "roaming-denied" });
    expect(s.admit(sid, "192.0.2.10").ok).toBe(true);
  });

  test("without deny-roaming a cookie works from anywhere", () => {
    const { s, create } = store();
    expect(s.admit(create("alice", "192.0.2.10"), "198.51.100.7").ok).toBe(true);
  });

  test("max-same-clients counts live tunnels of the username, excluding the cookie's own", () => {
    const { s, create } = store({ maxSameClients: 2 });
    const a = create("alice");
    const b = create("alice");
    const c = create("alice");
    const bob = create("bob");
    s.connected(a);
    s.connected(b);
    s.connected(bob);
    expect(s.admit(c, "192.0.2.10")).toEqual({ ok: false, reason: "max-same-clients" });
    // Reusing a's cookie replaces its tunnel rather than adding one.
    expect(s.admit(a, "192.0.2.10").ok).toBe(true);
    s.ended(b, "user-reconnect");
    expect(s.admit(c, "192.0.2.10").ok).toBe(true);
  });

  test("a per-session policy passed to admit replaces the policy function's values", () => {
    const { s, create } = store({ denyRoaming: false, maxSameClients: 5 });
    const a = create("alice", "192.0.2.10");
    const b = create("alice", "192.0.2.10");
    expect(s.admit(a, "198.51.100.7", { sessionTimeout: 0, denyRoaming: true, maxSameClients: 0 })).toEqual({ ok: false, reason: "roaming-denied" });
    s.connected(a);
    expect(s.admit(b, "192.0.2.10", { sessionTimeout: 0, denyRoaming: false, maxSameClients: 1 })).toEqual({ ok: false, reason: "max-same-clients" });
    expect(s.admit(b, "192.0.2.10").ok).toBe(true);
  });

  test("a reserved CONNECT holds a max-same-clients slot until it is released, and releasing twice frees it once", () => {
    const { s, create } = store({ maxSameClients: 1 });
    const a = create("alice");
    const b = create("alice");
    const c = create("alice");
    const first = s.reserve(a, "192.0.2.10");
    if (!first.ok) throw new Error("first CONNECT refused");
    expect(s.reserve(b, "192.0.2.10")).toEqual({ ok: false, reason: "max-same-clients" });
    expect(s.admit(b, "192.0.2.10")).toEqual({ ok: false, reason: "max-same-clients" });
    first.release();
    const second = s.reserve(b, "192.0.2.10");
    expect(second.ok).toBe(true);
    first.release(); // a stale second release must not free b's slot
    expect(s.reserve(c, "192.0.2.10")).toEqual({ ok: false, reason: "max-same-clients" });
  });

  test("admit checks without taking a slot", () => {
    const { s, create } = store({ maxSameClients: 1 });
    const a = create("alice");
    const b = create("alice");
    expect(s.admit(a, "192.0.2.10").ok).toBe(true);
    expect(s.reserve(b, "192.0.2.10").ok).toBe(true);
  });

  test("a session does not expire while a CONNECT on it is being set up", () => {
    const { clock, s, create } = store();
    const sid = create();
    const r = s.reserve(sid, "192.0.2.10");
    if (!r.ok) throw new Error("refused");
    clock.advance(300_000 + AUTH_SLACK_MS);
    expect(s.purgeExpired()).toBe(0);
    s.connected(sid);
    r.release();
    expect(s.lookup(sid)).not.toBeNull();
  });

  test("an unknown cookie is refused", () => {
    const { s } = store();
    expect(s.admit(SID, "192.0.2.10")).toEqual({ ok: false, reason: "unknown-cookie" });
  });
});

describe("table bounds", () => {
  test("a full table purges expired sessions before refusing new ones", () => {
    const { clock, s, create } = store({}, 2);
    create();
    create();
    expect(() => create()).toThrow(SessionError);
    clock.advance(400_000);
    create();
    expect(s.size).toBe(1);
  });
});
