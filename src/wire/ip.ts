// IPv4 and IPv6 address text ⇄ bytes: the one implementation every module uses (config values, leases
// and routes, firewall rules, certificate iPAddress SANs, netlink, socket addresses, ban keys).
//
// Parsing is as strict as glibc inet_pton, so an address this server accepts is one ocserv accepts too:
// * IPv4 is a dotted quad of four decimal octets without leading zeros ("010.0.0.1" would be octal to
//   inet_aton, so inet_pton rejects it as ambiguous);
// * IPv6 takes the RFC 4291 §2.2 text forms: eight 1-4 digit hex groups, at most one "::" standing for
//   at least one zero group, and an optional dotted-quad tail for the last 32 bits (form 3, which is how
//   IPv4-mapped addresses "::ffff:192.0.2.1" are written). Zone ids ("fe80::1%eth0") are not part of an
//   address; callers that accept them split them off first.
// Formatting is canonical: IPv6 per RFC 5952 §4 (lower case, no leading zeros, the longest run of two or
// more zero groups compressed, the first on ties). IPv4-mapped addresses are written in hex groups
// ("::ffff:c000:201"), not the optional mixed notation of RFC 5952 §5, which is what the config and the
// CONNECT headers have always sent.
//
// This is a leaf: it imports nothing.

/** The text form of an IPv4 address is at most 15 characters, IPv6 (with a dotted tail) at most 45. */
const MAX_V6_TEXT = 45;
const OCTET_RE = /^(0|[1-9][0-9]{0,2})$/;
const GROUP_RE = /^[0-9a-fA-F]{1,4}$/;

export type IpAddress =
  | { readonly family: 4; readonly bytes: Uint8Array }
  | { readonly family: 6; readonly bytes: Uint8Array };

/** Parses a dotted-quad IPv4 address into its 4 bytes, or null. */
export function parseIpv4(text: string): Uint8Array | null {
  if (text.length > 15) return null;
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!OCTET_RE.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

/** Hex groups separated by ':' ("" is no groups), or null when any group is malformed. */
function parseGroups(text: string): number[] | null {
  if (text === "") return [];
  const out: number[] = [];
  for (const g of text.split(":")) {
    if (!GROUP_RE.test(g)) return null;
    out.push(parseInt(g, 16));
  }
  return out;
}

/** Parses an IPv6 address (RFC 4291 §2.2, including a dotted IPv4 tail) into its 16 bytes, or null. */
export function parseIpv6(text: string): Uint8Array | null {
  if (text.length === 0 || text.length > MAX_V6_TEXT) return null;
  let head = text;
  let tail4: Uint8Array | null = null;
  const lastColon = text.lastIndexOf(":");
  if (lastColon < 0) return null;
  if (text.indexOf(".", lastColon) > lastColon) {
    // The dotted quad stands for the last two groups (form 3).
    tail4 = parseIpv4(text.slice(lastColon + 1));
    if (tail4 === null) return null;
    // "::1.2.3.4" keeps its "::" and "a::1.2.3.4" its "a::"; "a:b:c:d:e:f:1.2.3.4" drops the colon.
    head = text.endsWith("::", lastColon + 1) ? text.slice(0, lastColon + 1) : text.slice(0, lastColon);
  }
  const wanted = tail4 === null ? 8 : 6;
  const dbl = head.indexOf("::");
  if (dbl !== head.lastIndexOf("::")) return null;
  let groups: number[];
  if (dbl >= 0) {
    const left = parseGroups(head.slice(0, dbl));
    const right = parseGroups(head.slice(dbl + 2));
    if (left === null || right === null) return null;
    // RFC 4291 §2.2: "::" indicates one or more groups of zeros.
    const missing = wanted - left.length - right.length;
    if (missing < 1) return null;
    groups = [...left, ...new Array<number>(missing).fill(0), ...right];
  } else {
    const all = parseGroups(head);
    if (all === null || all.length !== wanted) return null;
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

/** Parses an IPv4 or IPv6 address (no zone id, no brackets), or null when it is neither. */
export function parseIp(text: string): IpAddress | null {
  if (text.includes(":")) {
    const b = parseIpv6(text);
    return b === null ? null : { family: 6, bytes: b };
  }
  const b = parseIpv4(text);
  return b === null ? null : { family: 4, bytes: b };
}

/** Dotted-quad text of the first 4 bytes. */
export function formatIpv4(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** RFC 5952 §4 text of the first 16 bytes. */
export function formatIpv6(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((b[2 * i]! << 8) | b[2 * i + 1]!);
  // §4.2.2: a single zero group is not compressed; §4.2.3: the longest run wins, the first on ties.
  let bestStart = -1;
  let bestLen = 1;
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
  // §4.1 no leading zeros, §4.3 lower case: both are what toString(16) produces.
  const hex = (g: number[]): string => g.map((x) => x.toString(16)).join(":");
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

/** Canonical text of an address: dotted quad, or RFC 5952 for IPv6. */
export function formatIp(a: IpAddress): string {
  return a.family === 4 ? formatIpv4(a.bytes) : formatIpv6(a.bytes);
}

/**
 * Canonical text of a raw 4- or 16-byte address (as in an X.509 iPAddress or a sockaddr), or null for
 * any other length.
 */
export function formatIpBytes(b: Uint8Array): string | null {
  if (b.length === 4) return formatIpv4(b);
  if (b.length === 16) return formatIpv6(b);
  return null;
}

/**
 * The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:0:0/96, RFC 4291 §2.5.5.2) as a 4-byte
 * view of `b`, or null when `b` is not one. Dual-stack sockets report IPv4 peers this way.
 */
export function ipv4OfMapped(b: Uint8Array): Uint8Array | null {
  if (b.length !== 16) return null;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return null;
  if (b[10] !== 0xff || b[11] !== 0xff) return null;
  return b.subarray(12, 16);
}
