// restrict-user-to-routes / restrict-user-to-ports as nftables rule text (pure; config-options.md §2).
//
// ocserv delegates these options to its `ocserv-fw` shell script (iptables), run before the
// connect/disconnect scripts with the OCSERV_ROUTES*, OCSERV_NO_ROUTES*, OCSERV_DNS*,
// OCSERV_RESTRICT_TO_ROUTES and OCSERV_ALLOW_PORTS / OCSERV_DENY_PORTS variables. Our users have only
// our binary, so the same policy is expressed natively as one atomic `nft -f -` batch per session.
// What ocserv-fw does, and what we match:
//   * DNS: UDP and TCP port 53 to each configured DNS server is always allowed, first (allow_dns).
//   * Routes (only with restrict-user-to-routes): the no-routes are dropped; then, unless the session
//     has the default route (an empty route list), everything not inside a route is dropped — for
//     both families, so a session with only IPv4 routes gets no IPv6 at all (disallow_all).
//   * Ports: the negated form rejects each listed protocol/port (deny_port); the plain form accepts
//     only the listed ones and rejects everything else (allow_port + disallow_all_ports). Routes drop,
//     ports reject, as in ocserv-fw. icmp() matches IPv4 ICMP and icmpv6() ICMPv6 only.
//   * Traffic towards the client (ocserv-fw's OUTPUT rules) is limited to the routes too, except for
//     replies to what the client was allowed to open (conntrack established/related), which also
//     lets our own reject errors and DNS answers through.
// Where we deliberately differ: ocserv-fw filters only the INPUT/OUTPUT chains (traffic to and from
// the server host itself) and, with a negated port list, never reaches its route rules. We hook
// input, forward and output, so routed traffic is restricted as well, and ports and routes always
// combine (a packet must pass both).
//
// Layout (one table shared by all sessions, one pair of chains per tun device):
//   table inet ocserv
//     map in-dev  { ifname : verdict }    "vpns3" : jump in-vpns3   (packets from the client)
//     map out-dev { ifname : verdict }    "vpns3" : jump out-vpns3  (packets to the client)
//     chain input   (hook input)    iifname vmap @in-dev
//     chain forward (hook forward)  iifname vmap @in-dev; oifname vmap @out-dev
//     chain output  (hook output)   oifname vmap @out-dev
// The base chains are flushed and rewritten by every install batch, so they always hold exactly
// their vmap rules however many sessions ran before; a per-device chain is flushed before it is
// filled, which also clears what a crashed earlier run left for a reused device name.

import type { IpAddress, PortProtocol, PortRestriction, Route, RouteEntry } from "../../config/types.ts";
import { formatIPv4, formatIPv6, ipv4Mask, ipv6Mask, parseIPv4, parseIPv6 } from "../tunnel/ip.ts";

export const NFT_TABLE = "ocserv";

export type FirewallErrorCode =
  | "invalid-device" // a device name nft could not take safely
  | "invalid-address" // a route or DNS address that is not a valid literal
  | "unsupported-protocol" // a restrict-user-to-ports protocol this code does not know
  | "nft-missing" // a session needs restriction and no nft binary exists
  | "nft-failed"; // nft ran and refused the batch (or could not be started)

export class FirewallError extends Error {
  constructor(
    readonly code: FirewallErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "FirewallError";
  }
}

/** A tun device name that is safe to splice into nft text (Linux IFNAMSIZ: at most 15 bytes). */
export type DeviceName = string & { readonly __brand: "DeviceName" };

export function parseDeviceName(name: string): DeviceName {
  // Letters, digits, '_', '.', '-' only: no quote, space or brace can reach the nft parser, and the
  // chain names in-<dev> / out-<dev> stay valid unquoted nft identifiers.
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/.test(name)) {
    throw new FirewallError("invalid-device", `tun device name ${JSON.stringify(name.slice(0, 32))} cannot be used in a firewall rule`);
  }
  return name as DeviceName;
}

/** Prefixes per family, in CIDR text with host bits cleared (nft sets hold networks). */
export interface PrefixLists {
  readonly v4: readonly string[];
  readonly v6: readonly string[];
}

/** What one session is restricted to; null from firewallPolicy() means "nothing to install". */
export interface FirewallPolicy {
  readonly dns: PrefixLists; // host addresses (no prefix)
  /** null: no route restriction (restrict-user-to-routes off, or the default route). */
  readonly routes: PrefixLists | null;
  /** Dropped when restrict-user-to-routes is on (even with the default route, as ocserv-fw does). */
  readonly noRoutes: PrefixLists;
  readonly ports: PortRestriction | null;
}

export interface PolicyInput {
  readonly restrictToRoutes: boolean;
  readonly ports: PortRestriction | null;
  /** The effective routes sent to the client (including exposed iroutes); [] or "default" = default route. */
  readonly routes: readonly RouteEntry[];
  readonly noRoutes: readonly Route[];
  readonly dns: readonly IpAddress[];
}

function cidr(r: Route): string {
  if (r.family === 4) {
    const a = parseIPv4(r.address);
    if (a === null || !Number.isInteger(r.prefix) || r.prefix < 0 || r.prefix > 32) {
      throw new FirewallError("invalid-address", `route ${JSON.stringify(r.text.slice(0, 64))} is not a valid IPv4 prefix`);
    }
    return `${formatIPv4((a & ipv4Mask(r.prefix)) >>> 0)}/${r.prefix}`;
  }
  const a = parseIPv6(r.address);
  if (a === null || !Number.isInteger(r.prefix) || r.prefix < 0 || r.prefix > 128) {
    throw new FirewallError("invalid-address", `route ${JSON.stringify(r.text.slice(0, 64))} is not a valid IPv6 prefix`);
  }
  return `${formatIPv6(a & ipv6Mask(r.prefix))}/${r.prefix}`;
}

function host(d: IpAddress): string {
  const v = d.family === 4 ? parseIPv4(d.address) : parseIPv6(d.address);
  if (v === null) throw new FirewallError("invalid-address", `DNS server ${JSON.stringify(d.address.slice(0, 64))} is not a valid address`);
  return typeof v === "number" ? formatIPv4(v) : formatIPv6(v);
}

function uniq(xs: readonly string[]): string[] {
  return [...new Set(xs)];
}

function split(routes: readonly Route[]): PrefixLists {
  return {
    v4: uniq(routes.filter((r) => r.family === 4).map(cidr)),
    v6: uniq(routes.filter((r) => r.family === 6).map(cidr)),
  };
}

/**
 * The session's restriction, or null when it needs none: neither option set, or
 * restrict-user-to-routes with the default route, no no-routes and no port list.
 * Throws FirewallError("invalid-address") on a malformed route or DNS address.
 */
export function firewallPolicy(input: PolicyInput): FirewallPolicy | null {
  const ports = input.ports !== null && input.ports.rules.length > 0 ? input.ports : null;
  let routes: PrefixLists | null = null;
  let noRoutes: PrefixLists = { v4: [], v6: [] };
  if (input.restrictToRoutes) {
    const isDefault = input.routes.length === 0 || input.routes.some((r) => r === "default");
    if (!isDefault) routes = split(input.routes.filter((r): r is Route => r !== "default"));
    noRoutes = split(input.noRoutes);
  }
  const hasNoRoutes = noRoutes.v4.length + noRoutes.v6.length > 0;
  if (routes === null && !hasNoRoutes && ports === null) return null;
  const dns = {
    v4: uniq(input.dns.filter((d) => d.family === 4).map(host)),
    v6: uniq(input.dns.filter((d) => d.family === 6).map(host)),
  };
  return { dns, routes, noRoutes, ports };
}

const set = (xs: readonly string[]): string => `{ ${xs.join(", ")} }`;

/** The nft match for one `proto(port)` entry of restrict-user-to-ports. */
function portMatch(protocol: PortProtocol, port: number | null): string {
  switch (protocol) {
    case "tcp":
    case "udp":
    case "sctp":
      return port === null ? `meta l4proto ${protocol}` : `${protocol} dport ${port}`;
    case "esp":
      return "meta l4proto esp";
    case "icmp":
      return "meta l4proto icmp";
    case "icmpv6":
      return "meta l4proto ipv6-icmp";
    default: {
      const never: never = protocol;
      throw new FirewallError("unsupported-protocol", `unknown protocol ${String(never)}`);
    }
  }
}

/** The rules of the in-<dev> chain (packets from the client), in evaluation order. */
function inRules(p: FirewallPolicy): string[] {
  const out: string[] = [];
  for (const [fam, list] of [["ip", p.dns.v4], ["ip6", p.dns.v6]] as const) {
    if (list.length === 0) continue;
    out.push(`${fam} daddr ${set(list)} udp dport 53 accept`);
    out.push(`${fam} daddr ${set(list)} tcp dport 53 accept`);
  }
  if (p.noRoutes.v4.length > 0) out.push(`ip daddr ${set(p.noRoutes.v4)} drop`);
  if (p.noRoutes.v6.length > 0) out.push(`ip6 daddr ${set(p.noRoutes.v6)} drop`);
  if (p.routes !== null) {
    out.push(p.routes.v4.length > 0 ? `ip daddr != ${set(p.routes.v4)} drop` : "meta nfproto ipv4 drop");
    out.push(p.routes.v6.length > 0 ? `ip6 daddr != ${set(p.routes.v6)} drop` : "meta nfproto ipv6 drop");
  }
  if (p.ports !== null) {
    if (p.ports.negate) {
      for (const r of p.ports.rules) out.push(`${portMatch(r.protocol, r.port)} reject`);
    } else {
      for (const r of p.ports.rules) out.push(`${portMatch(r.protocol, r.port)} accept`);
      out.push("reject");
    }
  }
  return out;
}

/** The rules of the out-<dev> chain (packets to the client); empty without route restriction. */
function outRules(p: FirewallPolicy): string[] {
  const hasNoRoutes = p.noRoutes.v4.length + p.noRoutes.v6.length > 0;
  if (p.routes === null && !hasNoRoutes) return [];
  const out = ["ct state established,related accept"];
  if (p.noRoutes.v4.length > 0) out.push(`ip saddr ${set(p.noRoutes.v4)} drop`);
  if (p.noRoutes.v6.length > 0) out.push(`ip6 saddr ${set(p.noRoutes.v6)} drop`);
  if (p.routes !== null) {
    out.push(p.routes.v4.length > 0 ? `ip saddr != ${set(p.routes.v4)} drop` : "meta nfproto ipv4 drop");
    out.push(p.routes.v6.length > 0 ? `ip6 saddr != ${set(p.routes.v6)} drop` : "meta nfproto ipv6 drop");
  }
  return out;
}

const T = `inet ${NFT_TABLE}`;

/** Declares the table, both maps and the given per-device chains (all `add`: idempotent). */
function declare(dev: DeviceName): string[] {
  return [
    `add table ${T}`,
    `add map ${T} in-dev { type ifname : verdict; }`,
    `add map ${T} out-dev { type ifname : verdict; }`,
    `add chain ${T} in-${dev}`,
    `add chain ${T} out-${dev}`,
  ];
}

/**
 * The batch that installs a session's rules on `dev`. `reset` first deletes the whole table, to clear
 * what an earlier run of the server left behind (the first install of a process sets it).
 */
export function installRuleset(dev: DeviceName, p: FirewallPolicy, opts: { readonly reset?: boolean } = {}): string {
  const lines: string[] = [];
  if (opts.reset) lines.push(...resetLines());
  lines.push(...declare(dev));
  for (const [name, hook] of [["input", "input"], ["forward", "forward"], ["output", "output"]] as const) {
    lines.push(`add chain ${T} ${name} { type filter hook ${hook} priority filter; policy accept; }`);
    lines.push(`flush chain ${T} ${name}`);
  }
  lines.push(
    `add rule ${T} input iifname vmap @in-dev`,
    `add rule ${T} forward iifname vmap @in-dev`,
    `add rule ${T} forward oifname vmap @out-dev`,
    `add rule ${T} output oifname vmap @out-dev`,
    `flush chain ${T} in-${dev}`,
    `flush chain ${T} out-${dev}`,
  );
  for (const r of inRules(p)) lines.push(`add rule ${T} in-${dev} ${r}`);
  for (const r of outRules(p)) lines.push(`add rule ${T} out-${dev} ${r}`);
  lines.push(`add element ${T} in-dev { "${dev}" : jump in-${dev} }`, `add element ${T} out-dev { "${dev}" : jump out-${dev} }`);
  return `${lines.join("\n")}\n`;
}

/**
 * The batch that removes everything installRuleset put there for `dev`. Each object is first added
 * (a no-op when present) so the deletes cannot fail on a device whose rules are already gone: the
 * batch is idempotent, and atomic like every `nft -f` run.
 */
export function removeRuleset(dev: DeviceName): string {
  const lines = [
    ...declare(dev),
    `add element ${T} in-dev { "${dev}" : jump in-${dev} }`,
    `add element ${T} out-dev { "${dev}" : jump out-${dev} }`,
    `delete element ${T} in-dev { "${dev}" }`,
    `delete element ${T} out-dev { "${dev}" }`,
    `flush chain ${T} in-${dev}`,
    `flush chain ${T} out-${dev}`,
    `delete chain ${T} in-${dev}`,
    `delete chain ${T} out-${dev}`,
  ];
  return `${lines.join("\n")}\n`;
}

function resetLines(): string[] {
  return [`add table ${T}`, `delete table ${T}`];
}

/** The batch that deletes the whole table (server start, or after the last session). */
export function resetRuleset(): string {
  return `${resetLines().join("\n")}\n`;
}
