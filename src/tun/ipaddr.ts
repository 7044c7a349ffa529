// Textual IPv4/IPv6 addresses to bytes, strictly (RFC 4291 §2.2 text forms; dotted-quad IPv4 without
// leading zeros, which inet_pton also rejects). Used by the netlink configuration API, whose callers
// pass addresses from leases and the config.

export type IpAddress = { readonly family: 4; readonly bytes: Uint8Array } | { readonly family: 6; readonly bytes: Uint8Array };

function parse4(s: string): Uint8Array | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    out[i] = v;
  }
  return out;
}

function parse6(s: string): Uint8Array | null {
  if (s.length > 45) return null;
  // An embedded dotted quad (::ffff:1.2.3.4) stands for the last two groups.
  let tail4: Uint8Array | null = null;
  const lastColon = s.lastIndexOf(":");
  if (s.indexOf(".", lastColon) !== -1) {
    tail4 = parse4(s.slice(lastColon + 1));
    if (tail4 === null) return null;
    s = s.slice(0, lastColon + 1) + "0:0";
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const groups = (h: string): number[] | null => {
    if (h === "") return [];
    const out: number[] = [];
    for (const g of h.split(":")) {
      if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (head === null || tail === null) return null;
  const n = head.length + tail.length;
  if (halves.length === 2 ? n > 7 : n !== 8) return null;
  const all = [...head, ...new Array<number>(8 - n).fill(0), ...tail];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = all[i]! >> 8;
    out[2 * i + 1] = all[i]! & 0xff;
  }
  if (tail4 !== null) out.set(tail4, 12);
  return out;
}

/** Parses an IPv4 or IPv6 address; null when it is neither. */
export function parseIp(text: string): IpAddress | null {
  if (text.includes(":")) {
    const b = parse6(text);
    return b === null ? null : { family: 6, bytes: b };
  }
  const b = parse4(text);
  return b === null ? null : { family: 4, bytes: b };
}

export function formatIp(a: IpAddress): string {
  if (a.family === 4) return Array.from(a.bytes).join(".");
  const g: string[] = [];
  for (let i = 0; i < 8; i++) g.push(((a.bytes[2 * i]! << 8) | a.bytes[2 * i + 1]!).toString(16));
  return g.join(":");
}
