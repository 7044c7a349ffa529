// What the CONNECT request tells us about the client (protocol.md §0 "User-Agent classification" and
// §2.1). Header names are matched case-sensitively, as ocserv's gperf table does. Parsed once per
// CONNECT into a frozen ClientInfo; nothing here touches the network.

import { parseIPv4 } from "./ip.ts";

export type AgentType =
  | "openconnect-v3"
  | "openconnect"
  | "anyconnect"
  | "clavister"
  | "anylink"
  | "svc-ipphone"
  | "unknown";

export interface ClientInfo {
  readonly agent: AgentType;
  /** `Cisco AnyConnect VPN Agent for Apple` UA, or an `apple-ios` platform. */
  readonly ios: boolean;
  /** X-AnyConnect-Identifier-Platform starts with apple-ios or android: mobile-dpd / mobile-idle-timeout apply. */
  readonly mobile: boolean;
  /** X-CSTP-Address-Type lacks "IPv4" (absent header: both accepted). */
  readonly noIpv4: boolean;
  readonly noIpv6: boolean;
  /** X-CSTP-Full-IPv6-Capability: true. */
  readonly fullIpv6: boolean;
  /** X-CSTP-Base-MTU when in 1..16384, else 0. */
  readonly baseMtu: number;
  /** Legacy X-CSTP-MTU (plaintext tunnel MTU), 0 when absent or unusable. */
  readonly tunnelMtu: number;
  /** X-CSTP-Hostname after ocserv's cleaning rules, or null when absent or invalid. */
  readonly hostname: string | null;
  readonly userAgent: string;
  readonly platform: string;
  readonly deviceType: string;
}

/** Bounds from ocserv: MAX_AGENT_NAME 64 is not enforced here; the front bounds header sizes. */
const MAX_HOSTNAME = 64;
const MAX_BASE_MTU = 16384;

function startsWithCi(s: string, prefix: string): boolean {
  return s.length >= prefix.length && s.slice(0, prefix.length).toLowerCase() === prefix.toLowerCase();
}

/** protocol.md §0: prefixes compared case-insensitively, most specific first. */
export function classifyAgent(ua: string): { agent: AgentType; ios: boolean } {
  const oc = "Open AnyConnect VPN Agent v";
  if (startsWithCi(ua, oc)) {
    const m = /^([0-9]+)/.exec(ua.slice(oc.length));
    const major = m ? Number(m[1]) : 0;
    return { agent: major <= 3 ? "openconnect-v3" : "openconnect", ios: false };
  }
  if (startsWithCi(ua, "OpenConnect VPN Agent") || startsWithCi(ua, "AnyConnect-compatible OpenConnect")) {
    return { agent: "openconnect", ios: false };
  }
  if (startsWithCi(ua, "Cisco AnyConnect VPN Agent for Apple")) return { agent: "anyconnect", ios: true };
  if (startsWithCi(ua, "Cisco AnyConnect") || startsWithCi(ua, "AnyConnect")) return { agent: "anyconnect", ios: false };
  if (startsWithCi(ua, "Clavister OneConnect VPN")) return { agent: "clavister", ios: false };
  if (startsWithCi(ua, "AnyLink Secure Client")) return { agent: "anylink", ios: false };
  if (startsWithCi(ua, "Cisco SVC IPPhone Client")) return { agent: "svc-ipphone", ios: false };
  return { agent: "unknown", ios: false };
}

/**
 * protocol.md §2.1: the hostname loses its domain part unless it is an IPv4 literal, must be
 * [A-Za-z0-9-]+ not starting with '-', and shorter than 64 bytes. Anything else is ignored (the
 * session continues without a hostname), as ocserv does.
 */
export function cleanHostname(raw: string): string | null {
  let h = raw.trim();
  if (parseIPv4(h) === null) {
    const dot = h.indexOf(".");
    if (dot >= 0) h = h.slice(0, dot);
  } else {
    return h;
  }
  if (h.length === 0 || h.length >= MAX_HOSTNAME) return null;
  if (!/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(h)) return null;
  return h;
}

function parseIntHeader(v: string | undefined): number {
  if (v === undefined) return 0;
  const t = v.trim();
  if (!/^[0-9]{1,6}$/.test(t)) return 0;
  return Number(t);
}

export function parseClientInfo(headers: ReadonlyMap<string, string>, userAgent: string): ClientInfo {
  const ua = headers.get("User-Agent") ?? userAgent;
  const { agent, ios: iosUa } = classifyAgent(ua);
  const platform = headers.get("X-AnyConnect-Identifier-Platform") ?? "";
  const deviceType = headers.get("X-AnyConnect-Identifier-DeviceType") ?? "";
  const iosPlatform = platform.startsWith("apple-ios");
  const mobile = iosPlatform || platform.startsWith("android");
  const atype = headers.get("X-CSTP-Address-Type");
  const base = parseIntHeader(headers.get("X-CSTP-Base-MTU"));
  const hostHeader = headers.get("X-CSTP-Hostname");
  return Object.freeze({
    agent,
    ios: iosUa || iosPlatform,
    mobile,
    noIpv4: atype !== undefined && !atype.includes("IPv4"),
    noIpv6: atype !== undefined && !atype.includes("IPv6"),
    fullIpv6: (headers.get("X-CSTP-Full-IPv6-Capability") ?? "").trim() === "true",
    // Values above 16384 are ignored (worker-http.c).
    baseMtu: base > 0 && base <= MAX_BASE_MTU ? base : 0,
    tunnelMtu: Math.min(parseIntHeader(headers.get("X-CSTP-MTU")), MAX_BASE_MTU),
    hostname: hostHeader === undefined ? null : cleanHostname(hostHeader),
    userAgent: ua,
    platform,
    deviceType,
  });
}
