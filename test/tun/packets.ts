// Minimal IPv4/UDP/ICMP packet builders and parsers for the tun tests (RFC 791, RFC 768, RFC 792).

import { parseIp } from "../../src/wire/ip.ts";

function v4(s: string): Uint8Array {
  const a = parseIp(s);
  if (a === null || a.family !== 4) throw new Error(`not IPv4: ${s}`);
  return a.bytes;
}

/** RFC 1071 ones'-complement checksum. */
export function inetChecksum(b: Uint8Array, start = 0, end = b.length): number {
  let sum = 0;
  for (let i = start; i + 1 < end; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if ((end - start) % 2 === 1) sum += b[end - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function ipv4Header(out: Uint8Array, proto: number, src: string, dst: string, total: number): void {
  out[0] = 0x45;
  out[2] = total >> 8;
  out[3] = total & 0xff;
  out[6] = 0x40; // DF
  out[8] = 64; // TTL
  out[9] = proto;
  out.set(v4(src), 12);
  out.set(v4(dst), 16);
  const c = inetChecksum(out, 0, 20);
  out[10] = c >> 8;
  out[11] = c & 0xff;
}

/** An IPv4/UDP packet; UDP checksum 0 ("not computed", allowed over IPv4 by RFC 768). */
export function buildIpv4Udp(src: string, dst: string, sport: number, dport: number, payload: Uint8Array): Uint8Array {
  const total = 28 + payload.length;
  const p = new Uint8Array(total);
  ipv4Header(p, 17, src, dst, total);
  p[20] = sport >> 8;
  p[21] = sport & 0xff;
  p[22] = dport >> 8;
  p[23] = dport & 0xff;
  p[24] = (8 + payload.length) >> 8;
  p[25] = (8 + payload.length) & 0xff;
  p.set(payload, 28);
  return p;
}

export interface Ipv4Packet {
  readonly src: string;
  readonly dst: string;
  readonly proto: number;
  readonly payload: Uint8Array;
}

export function parseIpv4(p: Uint8Array): Ipv4Packet | null {
  if (p.length < 20 || p[0]! >> 4 !== 4) return null;
  const ihl = (p[0]! & 0xf) * 4;
  const total = (p[2]! << 8) | p[3]!;
  if (total > p.length || ihl < 20) return null;
  return {
    src: Array.from(p.subarray(12, 16)).join("."),
    dst: Array.from(p.subarray(16, 20)).join("."),
    proto: p[9]!,
    payload: p.subarray(ihl, total),
  };
}

export function parseUdp(ip: Ipv4Packet): { sport: number; dport: number; payload: Uint8Array } | null {
  const u = ip.payload;
  if (ip.proto !== 17 || u.length < 8) return null;
  return { sport: (u[0]! << 8) | u[1]!, dport: (u[2]! << 8) | u[3]!, payload: u.subarray(8) };
}

/** The echo reply for an IPv4 ICMP echo request (RFC 792): addresses swapped, type 0, checksums redone. */
export function icmpEchoReply(request: Uint8Array): Uint8Array | null {
  const ip = parseIpv4(request);
  if (ip === null || ip.proto !== 1 || ip.payload[0] !== 8) return null;
  const total = 20 + ip.payload.length;
  const r = new Uint8Array(total);
  ipv4Header(r, 1, ip.dst, ip.src, total);
  r.set(ip.payload, 20);
  r[20] = 0; // echo reply
  r[22] = 0;
  r[23] = 0;
  const c = inetChecksum(r, 20, total);
  r[22] = c >> 8;
  r[23] = c & 0xff;
  return r;
}
