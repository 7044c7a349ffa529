// IPv4 / IPv6 address arithmetic for leases, routes and CONNECT headers. IPv4 addresses are unsigned
// 32-bit numbers; IPv6 addresses are bigint (128 bits) because this runs once per CONNECT, never per
// packet. Parsers return null on malformed input; callers turn that into their own typed error. The
// text syntax is src/wire/ip.ts's; this module adds the arithmetic.

import { formatIpv6, parseIpv4, parseIpv6 } from "../../wire/ip.ts";

export type IPv4 = number;
export type IPv6 = bigint;

const V6_ALL = (1n << 128n) - 1n;

/** Parses a dotted-quad strictly (src/wire/ip.ts: four decimal octets 0-255, no leading zeros). */
export function parseIPv4(s: string): IPv4 | null {
  const b = parseIpv4(s);
  return b === null ? null : ipv4FromBytes(b);
}

export function formatIPv4(v: IPv4): string {
  return `${(v >>> 24) & 0xff}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}

export function ipv4Mask(prefix: number): IPv4 {
  return prefix <= 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Returns the prefix length of a contiguous dotted netmask, or null if the mask has holes. */
export function ipv4PrefixOfMask(mask: IPv4): number | null {
  const inv = ~mask >>> 0;
  if ((inv & (inv + 1)) !== 0) return null;
  let p = 0;
  for (let m = mask; m & 0x80000000; m = (m << 1) >>> 0) p++;
  return p;
}

/** Parses an IPv6 literal (RFC 4291 §2.2 text forms, including an embedded dotted IPv4 tail). */
export function parseIPv6(s: string): IPv6 | null {
  const b = parseIpv6(s);
  return b === null ? null : ipv6FromBytes(b);
}

/** Formats per RFC 5952 §4: lower case, no leading zeros, the longest run (≥2) of zero groups as "::". */
export function formatIPv6(v: IPv6): string {
  return formatIpv6(ipv6ToBytes(v));
}

export function ipv6Mask(prefix: number): IPv6 {
  return prefix <= 0 ? 0n : (V6_ALL << BigInt(128 - prefix)) & V6_ALL;
}

export function ipv6ToBytes(v: IPv6): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 15; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

export function ipv6FromBytes(b: Uint8Array): IPv6 {
  let v = 0n;
  for (let i = 0; i < 16; i++) v = (v << 8n) | BigInt(b[i] ?? 0);
  return v;
}

export function ipv4ToBytes(v: IPv4): Uint8Array {
  return new Uint8Array([(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
}

export function ipv4FromBytes(b: Uint8Array): IPv4 {
  return (((b[0] ?? 0) << 24) | ((b[1] ?? 0) << 16) | ((b[2] ?? 0) << 8) | (b[3] ?? 0)) >>> 0;
}
