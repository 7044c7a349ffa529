// IP address, netmask and route literals as ocserv.conf writes them. The address syntax itself (strict
// like glibc inet_pton; output normalised, IPv6 per RFC 5952 §4) is src/wire/ip.ts.

import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from "../wire/ip.ts";
import type { IpAddress, Route } from "./types.ts";

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

export const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
export const fail = <T = never>(message: string): Parsed<T> => ({ ok: false, message });

export function parseIpAddress(text: string): IpAddress | null {
  const v4 = parseIpv4(text);
  if (v4 !== null) return { family: 4, address: formatIpv4(v4) };
  const v6 = parseIpv6(text);
  if (v6 !== null) return { family: 6, address: formatIpv6(v6) };
  return null;
}

/** The prefix length of a contiguous dotted netmask (255.255.255.0 → 24), or null if not contiguous. */
export function netmaskToPrefix(text: string): number | null {
  const b = parseIpv4(text);
  if (b === null) return null;
  const n = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  let prefix = 0;
  while (prefix < 32 && n & (0x80000000 >>> prefix)) prefix++;
  const expected = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return n === expected ? prefix : null;
}

export function prefixToNetmask(prefix: number): string {
  const n = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

const PREFIX_RE = /^(0|[1-9][0-9]{0,2})$/;

/**
 * A route `addr/prefix` or (IPv4) `addr/dotted-mask`, as ocserv ip_route_sanity_check accepts.
 * IPv4 routes are normalised to `a.b.c.d/m.m.m.m`, the form ocserv sends in X-CSTP-Split-Include.
 */
export function parseRoute(text: string): Parsed<Route> {
  const slash = text.indexOf("/");
  if (slash < 0) return fail(`'${text}' is not a route: expected ADDRESS/PREFIX or ADDRESS/NETMASK`);
  const addrText = text.slice(0, slash);
  const maskText = text.slice(slash + 1);
  const v4 = parseIpv4(addrText);
  if (v4 !== null) {
    let prefix: number | null;
    if (maskText.includes(".")) prefix = netmaskToPrefix(maskText);
    else prefix = PREFIX_RE.test(maskText) && Number(maskText) <= 32 ? Number(maskText) : null;
    if (prefix === null) return fail(`'${text}' has an invalid IPv4 netmask or prefix '${maskText}'`);
    const address = formatIpv4(v4);
    return ok({ family: 4, address, prefix, text: `${address}/${prefixToNetmask(prefix)}` });
  }
  const v6 = parseIpv6(addrText);
  if (v6 !== null) {
    if (!PREFIX_RE.test(maskText) || Number(maskText) > 128)
      return fail(`'${text}' has an invalid IPv6 prefix '${maskText}'`);
    const prefix = Number(maskText);
    const address = formatIpv6(v6);
    return ok({ family: 6, address, prefix, text: `${address}/${prefix}` });
  }
  return fail(`'${addrText}' in '${text}' is not an IPv4 or IPv6 address`);
}

/** Parses a prefix length `0..max`, or null. */
export function parsePrefix(text: string, max: number): number | null {
  if (!PREFIX_RE.test(text)) return null;
  const n = Number(text);
  return n <= max ? n : null;
}
