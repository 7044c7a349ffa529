// A DER writer (X.690 §10) on src/wire/writer.ts. Elements are built bottom-up as byte arrays, so
// every length is known when its header is written: definite, minimal lengths by construction.

import { Writer } from "../wire/writer.ts";
import { TAG } from "./asn1.ts";
import { X509Error } from "./errors.ts";

export function tlv(tag: number, ...contents: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const c of contents) len += c.length;
  const w = new Writer(len + 6);
  w.u8(tag);
  if (len < 0x80) {
    w.u8(len);
  } else {
    const lenBytes: number[] = [];
    for (let n = len; n > 0; n = Math.floor(n / 256)) lenBytes.unshift(n & 0xff);
    w.u8(0x80 | lenBytes.length);
    for (const b of lenBytes) w.u8(b);
  }
  for (const c of contents) w.bytes(c);
  return w.finish();
}

export const seq = (...items: Uint8Array[]): Uint8Array => tlv(TAG.SEQUENCE, ...items);

/** SET OF: X.690 §11.6 orders the encoded elements as octet strings. */
export function setOf(...items: Uint8Array[]): Uint8Array {
  const sorted = [...items].sort((a, b) => {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
    return a.length - b.length;
  });
  return tlv(TAG.SET, ...sorted);
}

export function oid(dotted: string): Uint8Array {
  if (!/^\d+(\.\d+)+$/.test(dotted)) throw new X509Error("bad-input", `bad OID "${dotted}"`);
  const arcs = dotted.split(".").map((s) => BigInt(s));
  const a0 = arcs[0]!;
  const a1 = arcs[1]!;
  if (a0 > 2n || (a0 < 2n && a1 >= 40n)) throw new X509Error("bad-input", `bad OID "${dotted}"`);
  const out: number[] = [];
  for (const arc of [a0 * 40n + a1, ...arcs.slice(2)]) {
    const groups: number[] = [];
    let v = arc;
    do {
      groups.unshift(Number(v & 0x7fn));
      v >>= 7n;
    } while (v > 0n);
    for (let i = 0; i < groups.length; i++) out.push(groups[i]! | (i < groups.length - 1 ? 0x80 : 0));
  }
  return tlv(TAG.OID, new Uint8Array(out));
}

/** INTEGER from a non-negative number/bigint or from unsigned big-endian magnitude bytes. */
export function integer(v: number | bigint | Uint8Array): Uint8Array {
  let mag: Uint8Array;
  if (v instanceof Uint8Array) {
    mag = v;
  } else {
    let n = BigInt(v);
    if (n < 0n) throw new X509Error("bad-input", "negative INTEGER not supported");
    const bytes: number[] = [];
    do {
      bytes.unshift(Number(n & 0xffn));
      n >>= 8n;
    } while (n > 0n);
    mag = new Uint8Array(bytes);
  }
  // Minimal two's complement of a non-negative value (X.690 §8.3.2).
  let i = 0;
  while (i < mag.length - 1 && mag[i] === 0) i++;
  mag = mag.subarray(i);
  if (mag.length === 0) mag = new Uint8Array(1);
  return (mag[0]! & 0x80) !== 0 ? tlv(TAG.INTEGER, new Uint8Array([0]), mag) : tlv(TAG.INTEGER, mag);
}

export const boolean = (b: boolean): Uint8Array => tlv(TAG.BOOLEAN, new Uint8Array([b ? 0xff : 0]));
export const nullValue = (): Uint8Array => tlv(TAG.NULL);
export const octetString = (b: Uint8Array): Uint8Array => tlv(TAG.OCTET_STRING, b);
export const bitString = (b: Uint8Array, unusedBits = 0): Uint8Array => tlv(TAG.BIT_STRING, new Uint8Array([unusedBits]), b);

/** A named-bit BIT STRING (KeyUsage): bit 0 is the MSB of the first byte; trailing zero bits dropped (X.690 §11.2.2). */
export function namedBits(bits: readonly number[]): Uint8Array {
  if (bits.length === 0) return bitString(new Uint8Array(0));
  const max = Math.max(...bits);
  const bytes = new Uint8Array(Math.floor(max / 8) + 1);
  for (const b of bits) bytes[b >> 3]! |= 0x80 >> (b & 7);
  return bitString(bytes, 7 - (max & 7));
}

const utf8 = new TextEncoder();
export const utf8String = (s: string): Uint8Array => tlv(TAG.UTF8_STRING, utf8.encode(s));
export function printableString(s: string): Uint8Array {
  if (!/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(s)) throw new X509Error("bad-input", "not a PrintableString");
  return tlv(TAG.PRINTABLE_STRING, utf8.encode(s));
}
export function ia5String(s: string): Uint8Array {
  if (!/^[\x00-\x7f]*$/.test(s)) throw new X509Error("bad-input", "not an IA5String");
  return tlv(TAG.IA5_STRING, utf8.encode(s));
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; seconds, Zulu. */
export function time(d: Date): Uint8Array {
  const ms = d.getTime();
  if (!Number.isFinite(ms)) throw new X509Error("bad-input", "invalid date");
  const y = d.getUTCFullYear();
  if (y < 1950 || y > 9999) throw new X509Error("bad-input", `year ${y} out of range`);
  const p = (n: number) => String(n).padStart(2, "0");
  const rest = `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  return y < 2050 ? tlv(TAG.UTC_TIME, utf8.encode(`${p(y % 100)}${rest}`)) : tlv(TAG.GENERALIZED_TIME, utf8.encode(`${y}${rest}`));
}

/** [n] EXPLICIT: a constructed context tag around one encoded element. */
export const explicit = (n: number, inner: Uint8Array): Uint8Array => tlv(0xa0 | n, inner);
/** [n] IMPLICIT primitive, with the given contents octets. */
export const implicitPrimitive = (n: number, contents: Uint8Array): Uint8Array => tlv(0x80 | n, contents);

