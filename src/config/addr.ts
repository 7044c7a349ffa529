// IP address, netmask and route literals as ocserv.conf writes them.
// Strict like glibc inet_pton (RFC 4291 §2.2 text forms for IPv6; IPv4 dotted quad without leading
// zeros, which inet_pton rejects as ambiguous octal). Output is normalised: IPv6 per RFC 5952 §4.

import type { IpAddress, Route } from "./types.ts";

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

export const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
export const fail = <T = never>(message: string): Parsed<T> => ({ ok: false, message });

/** Parses a dotted-quad IPv4 literal into its 4 bytes, or null. */
export function parseIpv4Bytes(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

/** Parses an IPv6 literal (with optional embedded IPv4 tail, RFC 4291 §2.2 form 3) into 16 bytes, or null. */
export function parseIpv6Bytes(text: string): Uint8Array | null {
  if (text.length === 0 || text.length > 45) return null;
  let head = text;
  let tail4: Uint8Array | null = null;
  const lastColon = text.lastIndexOf(":");
  if (lastColon >= 0 && text.indexOf(".", lastColon) > lastColon) {
    tail4 = parseIpv4Bytes(text.slice(lastColon + 1));
    if (tail4 === null) return null;
    // Keep the colon so that "::1.2.3.4" leaves "::" and "a::1.2.3.4" leaves "a::".
    head = text.slice(0, lastColon + 1);
    if (head.endsWith("::")) {
      // fine: the "::" absorbs the zero groups
    } else {
      head = head.slice(0, -1);
    }
  }
  const groupsWanted = tail4 === null ? 8 : 6;
  const dbl = head.indexOf("::");
  if (dbl !== head.lastIndexOf("::")) return null;
  const parseGroups = (s: string): number[] | null => {
    if (s === "") return [];
    const out: number[] = [];
    for (const g of s.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  let groups: number[];
  if (dbl >= 0) {
    const left = parseGroups(head.slice(0, dbl));
    const right = parseGroups(head.slice(dbl + 2));
    if (left === null || right === null) return null;
    const missing = groupsWanted - left.length - right.length;
    if (missing < 1) return null;
    groups = [...left, ...new Array<number>(missing).fill(0), ...right];
  } else {
    const all = parseGroups(head);
    if (all === null || all.length !== groupsWanted) return null;
    groups = all;
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < groups.length; i++) {
    out[2 * i] = groups[i]! >> 8;
    out[2 * i + 1] = groups[i]! & 0xff;
  }
  if (tail4 !== null) out.set(tail4, 12);
  return out;
}

export function formatIpv4(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** RFC 5952 §4: lower case, no leading zeros, the longest run (≥ 2) of zero groups compressed, first wins. */
export function formatIpv6(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((b[2 * i]! << 8) | b[2 * i + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (g: number[]): string => g.map((x) => x.toString(16)).join(":");
  if (bestLen < 2) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

export function parseIpAddress(text: string): IpAddress | null {
  const v4 = parseIpv4Bytes(text);
  if (v4 !== null) return { family: 4, address: formatIpv4(v4) };
  const v6 = parseIpv6Bytes(text);
  if (v6 !== null) return { family: 6, address: formatIpv6(v6) };
  return null;
}

/** The prefix length of a contiguous dotted netmask (255.255.255.0 → 24), or null if not contiguous. */
export function netmaskToPrefix(text: string): number | null {
  const b = parseIpv4Bytes(text);
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
  const v4 = parseIpv4Bytes(addrText);
  if (v4 !== null) {
    let prefix: number | null;
    if (maskText.includes(".")) prefix = netmaskToPrefix(maskText);
    else prefix = PREFIX_RE.test(maskText) && Number(maskText) <= 32 ? Number(maskText) : null;
    if (prefix === null) return fail(`'${text}' has an invalid IPv4 netmask or prefix '${maskText}'`);
    const address = formatIpv4(v4);
    return ok({ family: 4, address, prefix, text: `${address}/${prefixToNetmask(prefix)}` });
  }
  const v6 = parseIpv6Bytes(addrText);
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
