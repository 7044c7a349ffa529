// The session (cookie) table: ocserv's sec-mod client database (sec-mod-db.c), in memory.
//
// Lifetime rules (protocol.md §1.4, ocserv sec-mod-db.c expire_client_entry):
//   * a new session, and every successful CONNECT, sets expiry to now + cookie-timeout + 15 s
//     (AUTH_SLACK_TIME); while a tunnel is open on it the session does not expire;
//   * when the last tunnel on it ends:
//       - server-disconnect, session-timeout, user-disconnect (BYE 0xb0 on an open session): the
//         session is deleted at once, unless persistent-cookies;
//       - user-disconnect with persistent-cookies: it stays 15 s;
//       - anything else (BYE 0x91 or no reason, DPD/idle timeout, transport error): it stays
//         cookie-timeout + 15 s;
//   * session-timeout counts from the original authentication and survives reconnects (#599).
// CONNECT checks (protocol.md §1.5 steps 5–6) use the session's effective settings: session-timeout,
// deny-roaming and max-same-clients may come from its per-user/group files, which the caller loads
// for each CONNECT (ocserv sec-mod loads them at session open). cookie-timeout and
// persistent-cookies are vhost-only: ocserv's per-user file parser (sup-config/file.c) does not
// accept them, so they always come from the policy function.
// max-same-clients counts sessions with a live tunnel *or* a CONNECT reserved and still being set
// up: reserve() checks and takes the slot synchronously, so two CONNECTs racing through the
// asynchronous tunnel setup cannot both pass the limit; the caller releases it once the CONNECT has
// its outcome. admit() is the same check without taking a slot.
// Lookup hashes the presented SID (SHA-1, which also gives the loggable safe_id), finds the entry by
// that hash, then compares the full SIDs with constantTimeEqual, so no timing depends on how many
// leading bytes of a guess match a real SID. The table is bounded; expired entries are purged
// lazily and when the table is full.

import type { DisconnectReason, SessionRecord, SessionStore } from "../contract.ts";
import type { Config, SessionSettings } from "../../config/types.ts";
import { constantTimeEqual } from "../../wire/writer.ts";
import { SessionError } from "./errors.ts";
import { SID_LENGTH, safeIdOf } from "./cookies.ts";

/** ocserv AUTH_SLACK_TIME. */
export const AUTH_SLACK_MS = 15_000;
export const DEFAULT_MAX_SESSIONS = 65_536;

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/**
 * The session settings of one session as the policy function gives them (the vhost's). The three
 * CONNECT values may be overridden per user/group (ConnectPolicy); the cookie values may not.
 */
export interface SessionPolicy {
  /** Seconds (cookie-timeout). */
  readonly cookieTimeout: number;
  readonly persistentCookies: boolean;
  /** Seconds from the original auth; 0 = off (session-timeout). */
  readonly sessionTimeout: number;
  readonly denyRoaming: boolean;
  /** 0 = unlimited (max-same-clients). */
  readonly maxSameClients: number;
}

/** The CONNECT-time values that per-user and per-group files may override (config-options.md §4). */
export type ConnectPolicy = Pick<SessionPolicy, "sessionTimeout" | "denyRoaming" | "maxSameClients">;

/** The CONNECT checks' values from a session's effective settings (vhost, group file, user file). */
export function connectPolicyOf(settings: SessionSettings): ConnectPolicy {
  return {
    sessionTimeout: settings["session-timeout"],
    denyRoaming: settings["deny-roaming"],
    maxSameClients: settings["max-same-clients"],
  };
}

export interface SessionStoreOptions {
  readonly clock: Clock;
  readonly random: (n: number) => Uint8Array;
  readonly policy: (session: SessionRecord) => SessionPolicy;
  readonly maxSessions?: number;
}

export type AdmitFailure =
  | "unknown-cookie" // no such session, or it expired
  | "session-timeout" // session-timeout reached since the original auth
  | "roaming-denied" // deny-roaming and a different peer IP
  | "max-same-clients"; // too many live tunnels for this username

export type AdmitResult =
  | { readonly ok: true; readonly session: SessionRecord }
  | { readonly ok: false; readonly reason: AdmitFailure };

export type ReserveResult =
  /** `release` gives back the max-same-clients slot the reservation holds; call it when the
   *  CONNECT has its outcome (after a success, connected() has already counted the tunnel).
   *  Calling it again does nothing. */
  | { readonly ok: true; readonly session: SessionRecord; readonly release: () => void }
  | { readonly ok: false; readonly reason: AdmitFailure };

export interface NewSession {
  readonly username: string;
  readonly group: string | null;
  readonly vhost: string | null;
  readonly authIp: string;
  readonly userAgent: string;
}

interface Entry {
  readonly record: SessionRecord;
  /** Expiry in ms; ignored while `openTunnels > 0` or `admitting > 0`. */
  expiresAt: number;
  openTunnels: number;
  /** CONNECTs reserved on this session whose tunnel setup has not finished. */
  admitting: number;
}

export class MemorySessionStore implements SessionStore {
  private readonly entries = new Map<string, Entry>();
  private readonly maxSessions: number;

  constructor(private readonly opts: SessionStoreOptions) {
    this.maxSessions = opts.maxSessions ?? DEFAULT_MAX_SESSIONS;
  }

  get size(): number {
    return this.entries.size;
  }

  /** 32 bytes from the CSPRNG (ocserv gnutls_rnd(RANDOM)). */
  newSid(): Uint8Array {
    const sid = this.opts.random(SID_LENGTH);
    if (sid.length !== SID_LENGTH) throw new SessionError("bad-sid", "random source returned the wrong length");
    return sid;
  }

  /** Stores an authenticated session under `sid` (from newSid()). Throws SessionError("table-full"). */
  create(sid: Uint8Array, fields: NewSession): SessionRecord {
    if (sid.length !== SID_LENGTH) throw new SessionError("bad-sid", `SID must be ${SID_LENGTH} bytes`);
    const safeId = safeIdOf(sid);
    if (!this.entries.has(safeId) && this.entries.size >= this.maxSessions) {
      this.purgeExpired();
      if (this.entries.size >= this.maxSessions) throw new SessionError("table-full", "session table is full");
    }
    const now = this.opts.clock.now();
    const record: SessionRecord = Object.freeze({
      sid: Uint8Array.from(sid),
      safeId,
      username: fields.username,
      group: fields.group,
      vhost: fields.vhost,
      authTime: now,
      authIp: fields.authIp,
      userAgent: fields.userAgent,
    });
    const entry: Entry = { record, expiresAt: 0, openTunnels: 0, admitting: 0 };
    entry.expiresAt = now + this.lifetimeMs(entry);
    this.entries.set(safeId, entry);
    return record;
  }

  lookup(sid: Uint8Array): SessionRecord | null {
    return this.find(sid)?.record ?? null;
  }

  /**
   * The checks of a CONNECT (protocol.md §1.5 steps 5–6): the session exists and is live, it has not
   * passed session-timeout, deny-roaming allows this peer, and max-same-clients is respected, counting
   * the other sessions of the same username that have a live tunnel or a reserved CONNECT (a reused
   * cookie replaces its old tunnel rather than adding one). `policy` is the session's effective
   * policy for this CONNECT (connectPolicyOf its loaded settings); absent, the policy function's.
   * Takes no slot: a CONNECT that goes on to set up a tunnel uses reserve().
   */
  admit(sid: Uint8Array, remoteIp: string, policy?: ConnectPolicy): AdmitResult {
    const r = this.check(sid, remoteIp, policy);
    return r.ok ? { ok: true, session: r.entry.record } : r;
  }

  /** admit(), and on success the session holds a max-same-clients slot until `release()`. */
  reserve(sid: Uint8Array, remoteIp: string, policy?: ConnectPolicy): ReserveResult {
    const r = this.check(sid, remoteIp, policy);
    if (!r.ok) return r;
    const entry = r.entry;
    entry.admitting++;
    let held = true;
    const release = (): void => {
      if (!held) return;
      held = false;
      entry.admitting--;
    };
    return { ok: true, session: entry.record, release };
  }

  private check(
    sid: Uint8Array,
    remoteIp: string,
    policy: ConnectPolicy | undefined,
  ): { readonly ok: true; readonly entry: Entry } | { readonly ok: false; readonly reason: AdmitFailure } {
    const entry = this.find(sid);
    if (entry === null) return { ok: false, reason: "unknown-cookie" };
    const p = policy ?? this.opts.policy(entry.record);
    if (p.sessionTimeout > 0 && this.opts.clock.now() >= entry.record.authTime + p.sessionTimeout * 1000) {
      this.entries.delete(entry.record.safeId);
      return { ok: false, reason: "session-timeout" };
    }
    if (p.denyRoaming && remoteIp !== entry.record.authIp) return { ok: false, reason: "roaming-denied" };
    if (p.maxSameClients > 0) {
      let others = 0;
      for (const e of this.entries.values()) {
        if (e !== entry && (e.openTunnels > 0 || e.admitting > 0) && e.record.username === entry.record.username) others++;
      }
      if (others >= p.maxSameClients) return { ok: false, reason: "max-same-clients" };
    }
    return { ok: true, entry };
  }

  connected(sid: Uint8Array): void {
    const entry = this.find(sid);
    if (entry === null) return;
    entry.openTunnels++;
    entry.expiresAt = this.opts.clock.now() + this.lifetimeMs(entry);
  }

  ended(sid: Uint8Array, reason: DisconnectReason): void {
    const entry = this.findIncludingOpen(sid);
    if (entry === null) return;
    if (entry.openTunnels > 0) entry.openTunnels--;
    // A cookie reused from another connection keeps the session open; the old tunnel's end must not
    // expire or delete what the new one is using.
    if (entry.openTunnels > 0) return;
    const policy = this.opts.policy(entry.record);
    const now = this.opts.clock.now();
    switch (reason) {
      case "server-disconnect":
      case "session-timeout":
      case "user-disconnect":
        if (!policy.persistentCookies) {
          this.entries.delete(entry.record.safeId);
          return;
        }
        entry.expiresAt = now + (reason === "user-disconnect" ? AUTH_SLACK_MS : this.lifetimeMs(entry));
        return;
      case "user-reconnect":
      case "idle-timeout":
      case "dpd-timeout":
      case "error":
        entry.expiresAt = now + this.lifetimeMs(entry);
        return;
      default: {
        const never: never = reason;
        throw new TypeError(`unknown disconnect reason ${String(never)}`);
      }
    }
  }

  /** Deletes a session (occtl disconnect, logout). */
  invalidate(sid: Uint8Array): void {
    const entry = this.findIncludingOpen(sid);
    if (entry !== null) this.entries.delete(entry.record.safeId);
  }

  /** Live tunnels of a username (occtl, tests). */
  openTunnels(username: string): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.record.username === username) n += e.openTunnels;
    return n;
  }

  /** Drops expired sessions; returns how many. The lead's maintenance timer may call it. */
  purgeExpired(): number {
    const now = this.opts.clock.now();
    let n = 0;
    for (const [key, e] of this.entries) {
      if (e.openTunnels === 0 && e.admitting === 0 && now >= e.expiresAt) {
        this.entries.delete(key);
        n++;
      }
    }
    return n;
  }

  private lifetimeMs(entry: Entry): number {
    return this.opts.policy(entry.record).cookieTimeout * 1000 + AUTH_SLACK_MS;
  }

  private findIncludingOpen(sid: Uint8Array): Entry | null {
    if (sid.length !== SID_LENGTH) return null;
    const entry = this.entries.get(safeIdOf(sid));
    if (entry === undefined || !constantTimeEqual(entry.record.sid, sid)) return null;
    return entry;
  }

  private find(sid: Uint8Array): Entry | null {
    const entry = this.findIncludingOpen(sid);
    if (entry === null) return null;
    if (entry.openTunnels === 0 && entry.admitting === 0 && this.opts.clock.now() >= entry.expiresAt) {
      this.entries.delete(entry.record.safeId);
      return null;
    }
    return entry;
  }
}

/**
 * The vhost's session settings for a session. cookie-timeout and persistent-cookies are used as is;
 * the CONNECT checks' values are the defaults that the per-session policy of admit() and reserve() replaces.
 */
export function vhostSessionPolicy(config: () => Config): (session: SessionRecord) => SessionPolicy {
  return (session) => {
    const cfg = config();
    const vhost = (session.vhost === null ? undefined : cfg.vhosts.find((v) => v.name === session.vhost)) ?? cfg.defaultVhost;
    const o = vhost.options;
    return {
      cookieTimeout: o["cookie-timeout"],
      persistentCookies: o["persistent-cookies"],
      sessionTimeout: o["session-timeout"],
      denyRoaming: o["deny-roaming"],
      maxSameClients: o["max-same-clients"],
    };
  };
}
