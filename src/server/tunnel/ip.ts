// IPv4 / IPv6 address arithmetic for leases, routes and CONNECT headers. IPv4 addresses are unsigned
// 32-bit numbers; IPv6 addresses are bigint (128 bits) because this runs once per CONNECT, never per
// packet. Parsers return null on malformed input; callers turn that into their own typed error.

export type IPv4 = number;
export type IPv6 = bigint;

const V6_ALL = (1n << 128n) - 1n;

/** Parses a dotted-quad strictly: four decimal octets 0-255, no leading '+', no empty parts. */
export function parseIPv4(s: string): IPv4 | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  let v = 0;
  for (const p of parts) {
    if (!/^[0-9]{1,3}$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    v = v * 256 + n;
  }
  return v >>> 0;
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
  if (s.length === 0 || s.length > 45) return null;
  let text = s;
  const lastColon = text.lastIndexOf(":");
  if (lastColon >= 0 && text.indexOf(".", lastColon) > lastColon) {
    // An embedded IPv4 tail (e.g. ::ffff:1.2.3.4) stands for the last two 16-bit groups.
    const v4 = parseIPv4(text.slice(lastColon + 1));
    if (v4 === null) return null;
    text = `${text.slice(0, lastColon + 1)}${((v4 >>> 16) & 0xffff).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const dbl = text.indexOf("::");
  if (dbl !== text.lastIndexOf("::")) return null;
  const parseGroups = (t: string): number[] | null => {
    if (t === "") return [];
    const out: number[] = [];
    for (const g of t.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  let groups: number[];
  if (dbl >= 0) {
    const head = parseGroups(text.slice(0, dbl));
    const rest = parseGroups(text.slice(dbl + 2));
    if (head === null || rest === null) return null;
    const fill = 8 - head.length - rest.length;
    if (fill < 1) return null;
    groups = [...head, ...new Array<number>(fill).fill(0), ...rest];
  } else {
    const g = parseGroups(text);
    if (g === null) return null;
    groups = g;
  }
  if (groups.length !== 8) return null;
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  return v;
}

/** Formats per RFC 5952 §4: lower case, no leading zeros, the longest run (≥2) of zero groups as "::". */
export function formatIPv6(v: IPv6): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
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
