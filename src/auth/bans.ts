// Ban points per client address (architecture.md §4; ocserv main-ban.c):
//
// * key: the IPv4 address, or the IPv6 /64 prefix (a host controls a whole /64); IPv4-mapped IPv6
//   addresses count as their IPv4 address, since dual-stack sockets report IPv4 peers that way;
// * points: ban-points-connection per accepted TCP connection (added before the check, as
//   check_if_banned does), ban-points-wrong-password per wrong password or rejected auth,
//   ban-points-kkdcp per KKDCP request;
// * banned while score >= max-ban-score and now < expires; `expires` is now + ban-time, refreshed on each
//   addition while the score is still below the threshold, and not extended once banned;
// * the score returns to 0 when a ban has expired, or when ban-reset-time has passed since the last
//   reset and the address is not banned;
// * max-ban-score = 0 disables the whole mechanism;
// * addresses in a local subnet (the exemption hook) are never refused, but their points are recorded.
//
// The table is bounded: when full, entries that would reset anyway are dropped first, then the oldest
// entry that is not banned, so flooding from many addresses cannot flush out active bans cheaply.

import { formatIpv4, ipv4OfMapped, parseIp } from "../wire/ip.ts";

export interface BanConfig {
  /** max-ban-score; 0 disables banning. */
  readonly maxBanScore: number;
  /** ban-time, seconds. */
  readonly banTime: number;
  /** ban-reset-time, seconds. */
  readonly banResetTime: number;
  readonly pointsConnection: number;
  readonly pointsWrongPassword: number;
  readonly pointsKkdcp: number;
}

/** The ocserv defaults (config-options.md §2.4). */
export const DEFAULT_BAN_CONFIG: BanConfig = Object.freeze({
  maxBanScore: 80,
  banTime: 300,
  banResetTime: 1200,
  pointsConnection: 1,
  pointsWrongPassword: 10,
  pointsKkdcp: 1,
});

export interface BanTrackerOptions {
  /** ms since the epoch. */
  readonly now?: () => number;
  readonly maxEntries?: number;
  /** True for addresses inside a subnet configured on a local interface (getifaddrs at startup). */
  readonly isExempt?: (ip: string) => boolean;
}

export interface BanEntry {
  /** The normalized key: an IPv4 address or an IPv6 "/64" prefix. */
  readonly ip: string;
  readonly score: number;
  /** ms since the epoch while actively banned, otherwise null (what occtl `show ip bans` lists). */
  readonly banExpires: number | null;
}

export type AdmitDecision = "allow" | "banned";

interface BanRecord {
  score: number;
  /** ms */
  expires: number;
  /** ms */
  lastReset: number;
}

export class BanTracker {
  private readonly entries = new Map<string, BanRecord>();
  private readonly now: () => number;
  private readonly maxEntries: number;
  private readonly isExempt: (ip: string) => boolean;

  constructor(
    private config: BanConfig,
    options: BanTrackerOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.maxEntries = Math.max(1, options.maxEntries ?? 65536);
    this.isExempt = options.isExempt ?? (() => false);
  }

  get enabled(): boolean {
    return this.config.maxBanScore > 0;
  }

  /** Applies reloaded settings (SIGHUP); scores are kept. */
  updateConfig(config: BanConfig): void {
    this.config = config;
  }

  /**
   * A new TCP connection from `ip`: charges ban-points-connection, then decides (check_if_banned).
   * Exempt (local-subnet) addresses are always allowed.
   */
  admitConnection(ip: string): AdmitDecision {
    if (!this.enabled) return "allow";
    this.addPoints(ip, this.config.pointsConnection);
    if (this.isExempt(ip)) return "allow";
    return this.isBanned(ip) ? "banned" : "allow";
  }

  /** A wrong password or rejected authentication. Returns whether `ip` is now banned. */
  wrongPassword(ip: string): boolean {
    return this.addPoints(ip, this.config.pointsWrongPassword);
  }

  /** A KKDCP request. Returns whether `ip` is now banned. */
  kkdcp(ip: string): boolean {
    return this.addPoints(ip, this.config.pointsKkdcp);
  }

  /** Adds `points` to the address's score (add_str_ip_to_ban_list). Returns whether it is now banned. */
  addPoints(ip: string, points: number): boolean {
    if (!this.enabled) return false;
    const key = banKey(ip);
    if (key === null) return false;
    const now = this.now();
    let e = this.entries.get(key);
    if (e === undefined) {
      this.makeRoom(now);
      e = { score: 0, expires: 0, lastReset: now };
      this.entries.set(key, e);
    } else {
      this.maybeReset(e, now);
    }
    // Once banned, further attempts do not extend the ban.
    if (e.score < this.config.maxBanScore) e.expires = now + this.config.banTime * 1000;
    e.score += Math.max(0, points);
    return this.activeBan(e, now);
  }

  isBanned(ip: string): boolean {
    if (!this.enabled) return false;
    const key = banKey(ip);
    const e = key === null ? undefined : this.entries.get(key);
    return e !== undefined && this.activeBan(e, this.now());
  }

  /** occtl `unban ip`: sets the score to 0. Returns false when the address has no entry. */
  unban(ip: string): boolean {
    const key = banKey(ip);
    const e = key === null ? undefined : this.entries.get(key);
    if (e === undefined) return false;
    e.score = 0;
    e.lastReset = this.now();
    return true;
  }

  /** Every address with points; `banExpires` is set only on active bans (occtl show ip bans / ban points). */
  list(): BanEntry[] {
    const now = this.now();
    const out: BanEntry[] = [];
    for (const [ip, e] of this.entries) {
      this.maybeReset(e, now);
      if (e.score === 0) continue;
      out.push({ ip, score: e.score, banExpires: this.activeBan(e, now) ? e.expires : null });
    }
    return out;
  }

  /** Number of active bans (occtl show status "IPs in ban list"). */
  bannedCount(): number {
    const now = this.now();
    let n = 0;
    for (const e of this.entries.values()) if (this.activeBan(e, now)) n++;
    return n;
  }

  /** Drops entries that hold nothing any more (the main maintenance timer's cleanup_banned_entries). */
  purge(): void {
    const now = this.now();
    for (const [ip, e] of this.entries) {
      this.maybeReset(e, now);
      if (e.score === 0) this.entries.delete(ip);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  private activeBan(e: BanRecord, now: number): boolean {
    return e.score >= this.config.maxBanScore && now < e.expires;
  }

  private maybeReset(e: BanRecord, now: number): void {
    const banned = e.score >= this.config.maxBanScore;
    const banOver = banned && now >= e.expires;
    const resetDue = !banned && now >= e.lastReset + this.config.banResetTime * 1000;
    if (banOver || resetDue) {
      e.score = 0;
      e.lastReset = now;
    }
  }

  private makeRoom(now: number): void {
    if (this.entries.size < this.maxEntries) return;
    this.purge();
    if (this.entries.size < this.maxEntries) return;
    // Map iteration is insertion order: the first non-banned entry is the oldest one.
    for (const [ip, e] of this.entries) {
      if (!this.activeBan(e, now)) {
        this.entries.delete(ip);
        return;
      }
    }
    const oldest = this.entries.keys().next();
    if (!oldest.done) this.entries.delete(oldest.value);
  }
}

/**
 * The ban key of an address: dotted IPv4 as is, IPv4-mapped IPv6 as its IPv4 address, other IPv6 as
 * its /64 prefix ("2001:db8:1:2::/64"). Returns null for text that is not an IP address.
 */
export function banKey(ip: string): string | null {
  const zone = ip.indexOf("%");
  const addr = parseIp(zone >= 0 ? ip.slice(0, zone) : ip);
  if (addr === null) return null;
  if (addr.family === 4) return formatIpv4(addr.bytes);
  const v4 = ipv4OfMapped(addr.bytes);
  if (v4 !== null) return formatIpv4(v4);
  const b = addr.bytes;
  const groups: string[] = [];
  for (let i = 0; i < 8; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return `${groups.join(":")}::/64`;
}
