// The CONNECT response head, header by header in the order ocserv's connect_handler writes it
// (protocol.md §2.2, worker-vpn.c). Pure: every input, including the rekey fuzz and the clock
// reading for the session-timeout remainder, is passed in.
//
// IPv4/IPv6 filtering follows ocserv's no_ipv4 / no_ipv6 flags:
//   * X-CSTP-Address-Type without "IPv4" (resp. "IPv6") sets no_ipv4 (resp. no_ipv6);
//   * a data MTU below 1280 sets no_ipv6 before the addresses are sent;
//   * after the addresses, no_ipv6 is also set without Full-IPv6-Capability or for OpenConnect v3,
//     so IPv6 DNS, NBNS and routes are dropped while the address itself went out in the legacy form.
// DNS, NBNS, split-dns and routes are classed as IPv6 when their text contains ':' (ocserv strchr).

import type { RouteEntry, SessionSettings, VhostOptions } from "../../config/types.ts";
import type { TunnelTransport } from "../contract.ts";
import type { ClientInfo } from "./client.ts";
import type { LeaseHolder } from "./leases.ts";
import type { MtuResult } from "./mtu.ts";

export const SERVER_NAME = "OpenConnect VPN Server";
/** TLS 1.3 with rekey-method=ssl: the server sends KeyUpdate itself, so the client is told "never" (ocserv 1.5.1). */
export const TLS13_SSL_REKEY_TIME = 31536000;

/** What the DTLS hook sees; it returns the X-DTLS-* lines (without CRLF) for the DTLS-enabled block. */
export interface DtlsHeaderContext {
  readonly vhost: VhostOptions;
  readonly settings: SessionSettings;
  readonly client: ClientInfo;
  readonly mtu: MtuResult;
  readonly headers: ReadonlyMap<string, string>;
  /** DPD in effect (dpd or mobile-dpd), for X-DTLS-DPD. */
  readonly dpd: number;
  /** The rekey time after this connection's fuzz (0 = no rekey); X-DTLS-Rekey-Time is this + 10. */
  readonly rekeyTime: number;
}

export interface ConnectResponseInput {
  readonly vhost: VhostOptions;
  /** Effective per-session settings (per-user/group files over the vhost). */
  readonly settings: SessionSettings;
  /** Routes after expose-iroutes were appended. */
  readonly routes: readonly RouteEntry[];
  readonly client: ClientInfo;
  readonly username: string;
  readonly group: string | null;
  readonly leases: LeaseHolder;
  /** The per-user `hostname`, else the client's cleaned X-CSTP-Hostname, else null. */
  readonly hostname: string | null;
  readonly mtu: MtuResult;
  readonly tls: TunnelTransport["tls"];
  /** ocserv FUZZ(rekey_time, 30, rnd): (int16)rnd % 30, i.e. -29..29. */
  readonly rekeyFuzz: number;
  /** Seconds since the original authentication (for X-CSTP-Session-Timeout-Remaining). */
  readonly secondsSinceAuth: number;
  readonly headers: ReadonlyMap<string, string>;
  /** The DTLS helper's hook; absent or returning [] means DTLS is disabled for this connection. */
  readonly dtlsHeaders?: (ctx: DtlsHeaderContext) => string[];
}

/** Header values come from config and usernames: a CR or LF would inject headers, so they are removed. */
function clean(v: string): string {
  return v.replace(/[\r\n]/g, "");
}

/** ocserv replace_vals: %{U} → username, %{G} → group name (empty when none). */
export function substituteUserGroup(template: string, username: string, group: string | null): string {
  return template.split("%{U}").join(username).split("%{G}").join(group ?? "");
}

export function isDefaultRoute(routes: readonly RouteEntry[]): boolean {
  return routes.length === 0 || routes.some((r) => r === "default");
}

/** The route text ocserv sends: IPv4 a.b.c.d/m.m.m.m, IPv6 CIDR (config Route.text). */
function routeText(r: Exclude<RouteEntry, "default">): string {
  return r.text;
}

/** Computes ocserv's FUZZ value from two random bytes: (int16) % 30. */
export function rekeyFuzzFromBytes(b: Uint8Array): number {
  const v = ((b[0] ?? 0) << 8) | (b[1] ?? 0);
  const signed = v >= 0x8000 ? v - 0x10000 : v;
  return signed % 30;
}

export function buildConnectHead(input: ConnectResponseInput): string {
  const { vhost, settings: s, client } = input;
  const lines: string[] = ["HTTP/1.1 200 CONNECTED"];
  const add = (name: string, value: string | number): void => {
    lines.push(`${name}: ${typeof value === "number" ? value : clean(value)}`);
  };
  for (const h of vhost["included-http-headers"]) lines.push(clean(h));
  add("X-CSTP-Version", "1");
  add("X-CSTP-Server-Name", SERVER_NAME);

  // Mobile clients get mobile-dpd; idle-timeout comes from the vhost, never the user file (config-options.md §4).
  const dpd = client.mobile ? s["mobile-dpd"] : s.dpd;
  const idle = client.mobile ? vhost["mobile-idle-timeout"] : vhost["idle-timeout"];

  if (input.hostname !== null && input.hostname !== "") add("X-CSTP-Hostname", input.hostname);
  if (dpd > 0) add("X-CSTP-DPD", dpd);
  if (vhost["default-domain"]) add("X-CSTP-Default-Domain", vhost["default-domain"]);

  let noIpv4 = client.noIpv4;
  let noIpv6 = client.noIpv6;
  const v4 = input.leases.ipv4;
  const v6 = input.leases.ipv6;
  if (v6 && !noIpv6 && !input.mtu.ipv6Allowed) noIpv6 = true;

  if (v4 && !noIpv4) {
    add("X-CSTP-Address", v4.remote);
    add("X-CSTP-Netmask", v4.netmask);
  }
  if (v6 && !noIpv6) {
    if (client.fullIpv6) {
      add("X-CSTP-Address-IP6", `${v6.remote}/${v6.subnetPrefix}`);
    } else {
      // Legacy form: the address, then network/subnet-prefix as the "netmask".
      add("X-CSTP-Address", v6.remote);
      add("X-CSTP-Netmask", `${v6.network}/${v6.subnetPrefix}`);
    }
  }
  // "AnyConnect clients can handle the assignment of an IPv6 address, [but not] routes or DNS in IPv6."
  if (!client.fullIpv6 || client.agent === "openconnect-v3") noIpv6 = true;

  const keep = (text: string): boolean => {
    const ip6 = text.includes(":");
    return ip6 ? !noIpv6 : !noIpv4;
  };
  for (const d of s.dns) {
    if (!keep(d.address)) continue;
    // AnyConnect wants IPv6 servers as X-CSTP-DNS-IP6; openconnect takes both forms as X-CSTP-DNS.
    add(client.agent === "anyconnect" && d.family === 6 ? "X-CSTP-DNS-IP6" : "X-CSTP-DNS", d.address);
  }
  for (const n of s.nbns) if (keep(n.address)) add("X-CSTP-NBNS", n.address);
  for (const d of s["split-dns"]) if (keep(d)) add("X-CSTP-Split-DNS", d);

  const routes = input.routes;
  const defaultRoute = isDefaultRoute(routes);
  // ocserv: "Anyconnect on IOS requires this route in order to use IPv6" (condition as written there).
  if (client.fullIpv6 && client.ios && (routes.length === 0 || !defaultRoute)) {
    add("X-CSTP-Split-Include-IP6", "2000::/3");
  }
  const sendRoutes = (list: readonly RouteEntry[], kind: "Include" | "Exclude"): void => {
    for (const r of list) {
      if (r === "default") continue;
      const text = routeText(r);
      if (!keep(text)) continue;
      add(r.family === 6 && client.fullIpv6 ? `X-CSTP-Split-${kind}-IP6` : `X-CSTP-Split-${kind}`, text);
    }
  };
  if (!defaultRoute) sendRoutes(routes, "Include");
  add("X-CSTP-Tunnel-All-DNS", defaultRoute || s["tunnel-all-dns"] ? "true" : "false");
  add("X-CSTP-Client-Bypass-Protocol", vhost["client-bypass-protocol"] ? "true" : "false");
  sendRoutes(s["no-route"], "Exclude");

  add("X-CSTP-Keepalive", s.keepalive);
  add("X-CSTP-Idle-Timeout", idle > 0 ? String(idle) : "none");
  add("X-CSTP-Smartcard-Removal-Disconnect", "true");
  if (vhost["listen-host-is-dyndns"]) add("X-CSTP-DynDNS", "true");

  const rekeyTime = vhost["rekey-time"];
  if (rekeyTime > 0) {
    const wantSsl = vhost["rekey-method"] === "ssl";
    if (input.tls.version === "TLS1.3" && wantSsl) {
      add("X-CSTP-Rekey-Time", TLS13_SSL_REKEY_TIME);
      add("X-CSTP-Rekey-Method", "ssl");
    } else {
      add("X-CSTP-Rekey-Time", Math.max(1, rekeyTime + input.rekeyFuzz));
      // ocserv says "ssl" on TLS 1.2 with safe renegotiation and then renegotiates. Our TLS never
      // renegotiates (RFC 5746 signalled, every renegotiation refused), so a TLS 1.2 client is always
      // told to rekey by opening a new tunnel with its cookie, which works with every client.
      add("X-CSTP-Rekey-Method", "new-tunnel");
    }
  } else {
    add("X-CSTP-Rekey-Method", "none");
  }

  if (vhost["proxy-url"]) add("X-CSTP-MSIE-Proxy-Pac-URL", substituteUserGroup(vhost["proxy-url"], input.username, input.group));

  const st = s["session-timeout"];
  add("X-CSTP-Session-Timeout", st);
  add("X-CSTP-Session-Timeout-Remaining", st > 0 ? Math.max(0, st - Math.floor(input.secondsSinceAuth)) : 0);
  add("X-CSTP-Disconnected-Timeout", "none");
  add("X-CSTP-Keep", "true");
  add("X-CSTP-TCP-Keepalive", "true");
  add("X-CSTP-License", "accept");
  for (const h of vhost["custom-header"]) lines.push(clean(substituteUserGroup(h, input.username, input.group)));

  if (input.dtlsHeaders) {
    const rekey = rekeyTime > 0 ? Math.max(1, rekeyTime + input.rekeyFuzz) : 0;
    for (const h of input.dtlsHeaders({ vhost, settings: s, client, mtu: input.mtu, headers: input.headers, dpd, rekeyTime: rekey })) {
      lines.push(clean(h));
    }
  }

  add("X-CSTP-Base-MTU", input.mtu.linkMtu);
  add("X-CSTP-MTU", input.mtu.dataMtu);
  if (vhost.banner) add("X-CSTP-Banner", vhost.banner);
  // Compression is not implemented: no X-DTLS-/X-CSTP-Content-Encoding is ever negotiated.
  return `${lines.join("\r\n")}\r\n\r\n`;
}

/** The 503 answers of protocol.md §2.2 "Errors". */
export const REASON_CONFIG_ERROR = "Server configuration error";
export const REASON_SERVER_ERROR = "Server error";
