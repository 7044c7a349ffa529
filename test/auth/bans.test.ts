import { describe, expect, test } from "bun:test";
import { banKey, BanTracker, DEFAULT_BAN_CONFIG, type BanConfig } from "../../src/auth/bans.ts";

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (s: number) => (t += s * 1000) };
}

const cfg: BanConfig = { ...DEFAULT_BAN_CONFIG, maxBanScore: 30, banTime: 60, banResetTime: 600 };

describe("BanTracker", () => {
  test("bans an address once its score reaches max-ban-score", () => {
    const c = clock();
    const bans = new BanTracker(cfg, { now: c.now });
    expect(bans.wrongPassword("198.51.100.1")).toBe(false);
    expect(bans.wrongPassword("198.51.100.1")).toBe(false);
    expect(bans.isBanned("198.51.100.1")).toBe(false);
    expect(bans.wrongPassword("198.51.100.1")).toBe(true);
    expect(bans.admitConnection("198.51.100.1")).toBe("banned");
    expect(bans.admitConnection("198.51.100.2")).toBe("allow");
  });

  test("charges connection points before deciding, as check_if_banned does", () => {
    const bans = new BanTracker({ ...cfg, maxBanScore: 3, pointsConnection: 1 }, { now: clock().now });
    expect(bans.admitConnection("198.51.100.1")).toBe("allow");
    expect(bans.admitConnection("198.51.100.1")).toBe("allow");
    expect(bans.admitConnection("198.51.100.1")).toBe("banned");
  });

  test("lifts a ban when ban-time has passed, resetting the score, and does not extend it meanwhile", () => {
    const c = clock();
    const bans = new BanTracker(cfg, { now: c.now });
    for (let i = 0; i < 3; i++) bans.wrongPassword("198.51.100.1");
    c.advance(50);
    expect(bans.admitConnection("198.51.100.1")).toBe("banned"); // more points while banned …
    c.advance(11);
    expect(bans.isBanned("198.51.100.1")).toBe(false); // … did not push the expiry
    expect(bans.wrongPassword("198.51.100.1")).toBe(false); // the score started again from 0
    expect(bans.list()).toEqual([{ ip: "198.51.100.1", score: 10, banExpires: null }]);
  });

  test("forgets points after ban-reset-time when the address is not banned", () => {
    const c = clock();
    const bans = new BanTracker(cfg, { now: c.now });
    bans.wrongPassword("198.51.100.1");
    bans.wrongPassword("198.51.100.1");
    c.advance(601);
    expect(bans.wrongPassword("198.51.100.1")).toBe(false);
    expect(bans.list()[0]!.score).toBe(10);
  });

  test("never refuses an exempt local-subnet address but still records its points", () => {
    const bans = new BanTracker(cfg, { now: clock().now, isExempt: (ip) => ip.startsWith("10.") });
    for (let i = 0; i < 5; i++) bans.wrongPassword("10.0.0.5");
    expect(bans.isBanned("10.0.0.5")).toBe(true);
    expect(bans.admitConnection("10.0.0.5")).toBe("allow");
  });

  test("does nothing when max-ban-score is 0", () => {
    const bans = new BanTracker({ ...cfg, maxBanScore: 0 }, { now: clock().now });
    for (let i = 0; i < 10; i++) bans.wrongPassword("198.51.100.1");
    expect(bans.admitConnection("198.51.100.1")).toBe("allow");
    expect(bans.size).toBe(0);
  });

  test("unban sets the score to zero and list reports expiry only for active bans", () => {
    const c = clock();
    const bans = new BanTracker(cfg, { now: c.now });
    for (let i = 0; i < 3; i++) bans.wrongPassword("198.51.100.1");
    bans.wrongPassword("198.51.100.2");
    expect(bans.list()).toContainEqual({ ip: "198.51.100.1", score: 30, banExpires: c.now() + 60_000 });
    expect(bans.bannedCount()).toBe(1);
    expect(bans.unban("198.51.100.1")).toBe(true);
    expect(bans.isBanned("198.51.100.1")).toBe(false);
    expect(bans.unban("203.0.113.9")).toBe(false);
  });

  test("groups IPv6 clients by /64 and treats IPv4-mapped addresses as IPv4", () => {
    const bans = new BanTracker(cfg, { now: clock().now });
    for (let i = 0; i < 3; i++) bans.wrongPassword(`2001:db8:1:2::${i + 1}`);
    expect(bans.isBanned("2001:db8:1:2:ffff::9")).toBe(true);
    expect(bans.isBanned("2001:db8:1:3::1")).toBe(false);
    for (let i = 0; i < 3; i++) bans.wrongPassword("::ffff:192.0.2.7");
    expect(bans.isBanned("192.0.2.7")).toBe(true);
    expect(banKey("2001:0db8:0001:0002:0000:0000:0000:0001")).toBe("2001:db8:1:2::/64");
    expect(banKey("::ffff:192.0.2.7")).toBe("192.0.2.7");
    expect(banKey("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
    expect(banKey("not an ip")).toBeNull();
    expect(banKey("1:2:3:4:5:6:7:8:9")).toBeNull();
  });

  test("stays within its size bound and evicts unbanned entries before banned ones", () => {
    const bans = new BanTracker(cfg, { now: clock().now, maxEntries: 3 });
    for (let i = 0; i < 3; i++) bans.wrongPassword("198.51.100.1");
    for (let i = 2; i < 10; i++) bans.wrongPassword(`198.51.100.${i}`);
    expect(bans.size).toBe(3);
    expect(bans.isBanned("198.51.100.1")).toBe(true);
  });
});
