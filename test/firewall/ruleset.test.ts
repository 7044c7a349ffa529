import { describe, expect, test } from "bun:test";
import type { IpAddress, PortRestriction, Route, RouteEntry } from "../../src/config/types.ts";
import {
  FirewallError,
  firewallPolicy,
  installRuleset,
  parseDeviceName,
  removeRuleset,
  resetRuleset,
  type FirewallPolicy,
  type PolicyInput,
} from "../../src/server/firewall/index.ts";
import { route } from "../tunnel/fixtures.ts";

const v4 = (address: string): IpAddress => ({ family: 4, address });
const v6 = (address: string): IpAddress => ({ family: 6, address });

function input(o: Partial<PolicyInput>): PolicyInput {
  return { restrictToRoutes: false, ports: null, routes: [], noRoutes: [], dns: [], ...o };
}

function policy(o: Partial<PolicyInput>): FirewallPolicy {
  const p = firewallPolicy(input(o));
  if (p === null) throw new Error("expected a policy");
  return p;
}

const dev = parseDeviceName("vpns3");

/** The lines every install batch starts with (table, maps, base chains with their vmap rules). */
const HEADER = `add table inet ocserv
add map inet ocserv in-dev { type ifname : verdict; }
add map inet ocserv out-dev { type ifname : verdict; }
add chain inet ocserv in-vpns3
add chain inet ocserv out-vpns3
add chain inet ocserv input { type filter hook input priority filter; policy accept; }
flush chain inet ocserv input
add chain inet ocserv forward { type filter hook forward priority filter; policy accept; }
flush chain inet ocserv forward
add chain inet ocserv output { type filter hook output priority filter; policy accept; }
flush chain inet ocserv output
add rule inet ocserv input iifname vmap @in-dev
add rule inet ocserv forward iifname vmap @in-dev
add rule inet ocserv forward oifname vmap @out-dev
add rule inet ocserv output oifname vmap @out-dev
flush chain inet ocserv in-vpns3
flush chain inet ocserv out-vpns3
`;

const FOOTER = `add element inet ocserv in-dev { "vpns3" : jump in-vpns3 }
add element inet ocserv out-dev { "vpns3" : jump out-vpns3 }
`;

describe("firewallPolicy", () => {
  test("needs no firewall when neither option is set", () => {
    expect(firewallPolicy(input({ routes: [route("10.1.0.0/16")], dns: [v4("10.1.0.53")] }))).toBeNull();
  });

  test("needs no firewall for restrict-user-to-routes with the default route and no no-routes", () => {
    expect(firewallPolicy(input({ restrictToRoutes: true, routes: [] }))).toBeNull();
    expect(firewallPolicy(input({ restrictToRoutes: true, routes: ["default"] }))).toBeNull();
  });

  test("drops the no-routes even with the default route, as ocserv-fw does", () => {
    const p = policy({ restrictToRoutes: true, routes: ["default"], noRoutes: [route("192.168.0.0/16")] });
    expect(p.routes).toBeNull();
    expect(p.noRoutes).toEqual({ v4: ["192.168.0.0/16"], v6: [] });
  });

  test("ignores no-routes when restrict-user-to-routes is off", () => {
    expect(firewallPolicy(input({ noRoutes: [route("192.168.0.0/16")] }))).toBeNull();
  });

  test("clears host bits and removes duplicates from routes", () => {
    const p = policy({ restrictToRoutes: true, routes: [route("10.1.2.3/16"), route("10.1.0.0/16"), route("2001:db8::5/64")] });
    expect(p.routes).toEqual({ v4: ["10.1.0.0/16"], v6: ["2001:db8::/64"] });
  });

  test("rejects a route whose address is not an IP literal", () => {
    const bad: Route = { family: 4, address: "10.0.0.0; flush ruleset", prefix: 8, text: "x" };
    expect(() => firewallPolicy(input({ restrictToRoutes: true, routes: [bad] }))).toThrow(FirewallError);
  });

  test("rejects a DNS server that is not an IP literal", () => {
    try {
      firewallPolicy(input({ restrictToRoutes: true, routes: [route("10.0.0.0/8")], dns: [v4("evil }")] }));
      throw new Error("no error");
    } catch (e) {
      expect(e).toBeInstanceOf(FirewallError);
      expect((e as FirewallError).code).toBe("invalid-address");
    }
  });

  test("an empty port list alone needs no firewall", () => {
    expect(firewallPolicy(input({ ports: { negate: false, rules: [] } }))).toBeNull();
  });
});

describe("parseDeviceName", () => {
  test("accepts ocserv's device names", () => {
    expect(parseDeviceName("vpns0") as string).toBe("vpns0");
    expect(parseDeviceName("tun-ocserv.12") as string).toBe("tun-ocserv.12");
  });

  test("refuses names that could break out of the nft text or exceed IFNAMSIZ", () => {
    for (const n of ["", "vpns0\"", "a b", "vpns{", "-vpns", "abcdefghijklmnop", "vpns0\nflush ruleset"]) {
      expect(() => parseDeviceName(n)).toThrow(FirewallError);
    }
  });
});

describe("installRuleset", () => {
  test("restricts a client to its IPv4 and IPv6 routes, allowing its DNS servers and dropping the no-routes", () => {
    const routes: RouteEntry[] = [route("10.1.0.0/16"), route("192.168.5.0/24"), route("fd00:1::/64")];
    const p = policy({
      restrictToRoutes: true,
      routes,
      noRoutes: [route("10.1.99.0/24"), route("fd00:1::/96")],
      dns: [v4("8.8.8.8"), v6("2001:4860:4860::8888")],
    });
    expect(installRuleset(dev, p)).toBe(
      HEADER +
        `add rule inet ocserv in-vpns3 ip daddr { 8.8.8.8 } udp dport 53 accept
add rule inet ocserv in-vpns3 ip daddr { 8.8.8.8 } tcp dport 53 accept
add rule inet ocserv in-vpns3 ip6 daddr { 2001:4860:4860::8888 } udp dport 53 accept
add rule inet ocserv in-vpns3 ip6 daddr { 2001:4860:4860::8888 } tcp dport 53 accept
add rule inet ocserv in-vpns3 ip daddr { 10.1.99.0/24 } drop
add rule inet ocserv in-vpns3 ip6 daddr { fd00:1::/96 } drop
add rule inet ocserv in-vpns3 ip daddr != { 10.1.0.0/16, 192.168.5.0/24 } drop
add rule inet ocserv in-vpns3 ip6 daddr != { fd00:1::/64 } drop
add rule inet ocserv out-vpns3 ct state established,related accept
add rule inet ocserv out-vpns3 ip saddr { 10.1.99.0/24 } drop
add rule inet ocserv out-vpns3 ip6 saddr { fd00:1::/96 } drop
add rule inet ocserv out-vpns3 ip saddr != { 10.1.0.0/16, 192.168.5.0/24 } drop
add rule inet ocserv out-vpns3 ip6 saddr != { fd00:1::/64 } drop
` +
        FOOTER,
    );
  });

  test("drops a whole family that has no route, as ocserv-fw's disallow_all does", () => {
    const p = policy({ restrictToRoutes: true, routes: [route("10.1.0.0/16")] });
    expect(installRuleset(dev, p)).toBe(
      HEADER +
        `add rule inet ocserv in-vpns3 ip daddr != { 10.1.0.0/16 } drop
add rule inet ocserv in-vpns3 meta nfproto ipv6 drop
add rule inet ocserv out-vpns3 ct state established,related accept
add rule inet ocserv out-vpns3 ip saddr != { 10.1.0.0/16 } drop
add rule inet ocserv out-vpns3 meta nfproto ipv6 drop
` +
        FOOTER,
    );
  });

  test("allows only the listed ports and rejects the rest, after the DNS servers", () => {
    const ports: PortRestriction = {
      negate: false,
      rules: [
        { protocol: "tcp", port: 443 },
        { protocol: "udp", port: 53 },
        { protocol: "sctp", port: 99 },
        { protocol: "esp", port: null },
        { protocol: "icmp", port: null },
        { protocol: "icmpv6", port: null },
      ],
    };
    const p = policy({ restrictToRoutes: true, routes: ["default"], ports, dns: [v4("10.0.0.53")] });
    expect(installRuleset(dev, p)).toBe(
      HEADER +
        `add rule inet ocserv in-vpns3 ip daddr { 10.0.0.53 } udp dport 53 accept
add rule inet ocserv in-vpns3 ip daddr { 10.0.0.53 } tcp dport 53 accept
add rule inet ocserv in-vpns3 tcp dport 443 accept
add rule inet ocserv in-vpns3 udp dport 53 accept
add rule inet ocserv in-vpns3 sctp dport 99 accept
add rule inet ocserv in-vpns3 meta l4proto esp accept
add rule inet ocserv in-vpns3 meta l4proto icmp accept
add rule inet ocserv in-vpns3 meta l4proto ipv6-icmp accept
add rule inet ocserv in-vpns3 reject
` +
        FOOTER,
    );
  });

  test("rejects only the listed ports with a negated list, and still applies the routes", () => {
    const ports: PortRestriction = { negate: true, rules: [{ protocol: "tcp", port: 22 }, { protocol: "icmp", port: null }] };
    const p = policy({ restrictToRoutes: true, routes: [route("10.1.0.0/16"), route("2001:db8::/32")], ports });
    expect(installRuleset(dev, p)).toBe(
      HEADER +
        `add rule inet ocserv in-vpns3 ip daddr != { 10.1.0.0/16 } drop
add rule inet ocserv in-vpns3 ip6 daddr != { 2001:db8::/32 } drop
add rule inet ocserv in-vpns3 tcp dport 22 reject
add rule inet ocserv in-vpns3 meta l4proto icmp reject
add rule inet ocserv out-vpns3 ct state established,related accept
add rule inet ocserv out-vpns3 ip saddr != { 10.1.0.0/16 } drop
add rule inet ocserv out-vpns3 ip6 saddr != { 2001:db8::/32 } drop
` +
        FOOTER,
    );
  });

  test("starts with a table reset when asked to clear an earlier run", () => {
    const p = policy({ restrictToRoutes: true, routes: [route("10.1.0.0/16")] });
    const text = installRuleset(dev, p, { reset: true });
    expect(text.startsWith("add table inet ocserv\ndelete table inet ocserv\nadd table inet ocserv\n")).toBe(true);
    expect(installRuleset(dev, p).includes("delete table")).toBe(false);
  });
});

describe("removeRuleset and resetRuleset", () => {
  test("removal deletes exactly the device's map entries and chains, and cannot fail when they are gone", () => {
    expect(removeRuleset(dev)).toBe(`add table inet ocserv
add map inet ocserv in-dev { type ifname : verdict; }
add map inet ocserv out-dev { type ifname : verdict; }
add chain inet ocserv in-vpns3
add chain inet ocserv out-vpns3
add element inet ocserv in-dev { "vpns3" : jump in-vpns3 }
add element inet ocserv out-dev { "vpns3" : jump out-vpns3 }
delete element inet ocserv in-dev { "vpns3" }
delete element inet ocserv out-dev { "vpns3" }
flush chain inet ocserv in-vpns3
flush chain inet ocserv out-vpns3
delete chain inet ocserv in-vpns3
delete chain inet ocserv out-vpns3
`);
  });

  test("reset deletes the whole table even if it does not exist", () => {
    expect(resetRuleset()).toBe("add table inet ocserv\ndelete table inet ocserv\n");
  });
});
