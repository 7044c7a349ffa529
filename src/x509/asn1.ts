// A small DER reader (ITU-T X.690 §8, §10) on top of src/wire/reader.ts. DER only: definite
// minimal lengths, single-byte tags (X.509 uses no high tag numbers), no trailing bytes.

import { DecodeError, Reader } from "../wire/reader.ts";
import { X509Error } from "./errors.ts";

export const TAG = Object.freeze({
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  NUMERIC_STRING: 0x12,
  PRINTABLE_STRING: 0x13,
  TELETEX_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  VISIBLE_STRING: 0x1a,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
});

/** Context-specific tag [n], constructed or primitive. */
export function ctx(n: number, constructed: boolean): number {
  return 0x80 | (constructed ? 0x20 : 0) | n;
}

export interface Tlv {
  readonly tag: number;
  /** The contents octets (a view). */
  readonly value: Uint8Array;
  /** The whole encoding, tag and length included (a view); needed to verify signatures over TBS. */
  readonly raw: Uint8Array;
}

function fail(what: string, offset: number): never {
  throw new X509Error("bad-der", `${what} at offset ${offset}`);
}

export class DerReader {
  private constructor(private readonly r: Reader) {}

  static of(bytes: Uint8Array): DerReader {
    return new DerReader(new Reader(bytes));
  }

  get done(): boolean {
    return this.r.done;
  }

  peekTag(): number | undefined {
    return this.r.done ? undefined : this.r.bytes[this.r.offset];
  }

  read(): Tlv {
    const start = this.r.offset;
    try {
      const tag = this.r.u8();
      if ((tag & 0x1f) === 0x1f) fail("high-tag-number form is not used in X.509", start);
      const first = this.r.u8();
      let len: number;
      if (first < 0x80) {
        len = first;
      } else {
        const n = first & 0x7f;
        // X.690 §10.1: definite form only; §8.1.3.5: at most 4 length octets is plenty here.
        if (n === 0) fail("indefinite length is not DER", start);
        if (n > 4) fail("length too large", start);
        len = 0;
        for (let i = 0; i < n; i++) len = len * 256 + this.r.u8();
        // X.690 §10.1: the minimum number of length octets.
        if (len < 0x80 || (n > 1 && len < 2 ** (8 * (n - 1)))) fail("non-minimal length", start);
      }
      const value = this.r.bytesView(len);
      return { tag, value, raw: this.r.bytes.subarray(start, this.r.offset) };
    } catch (e) {
      if (e instanceof DecodeError) fail(`truncated DER (${e.reason})`, start);
      throw e;
    }
  }

  expect(tag: number, what: string): Tlv {
    const at = this.r.offset;
    if (this.r.done) fail(`missing ${what}`, at);
    const t = this.read();
    if (t.tag !== tag) fail(`${what}: expected tag 0x${tag.toString(16)}, got 0x${t.tag.toString(16)}`, at);
    return t;
  }

  /** Reads the element only if its tag is `tag`. */
  optional(tag: number): Tlv | undefined {
    return this.peekTag() === tag ? this.read() : undefined;
  }

  sequence(what: string): DerReader {
    return DerReader.of(this.expect(TAG.SEQUENCE, what).value);
  }
  set(what: string): DerReader {
    return DerReader.of(this.expect(TAG.SET, what).value);
  }

  oid(what = "OBJECT IDENTIFIER"): string {
    return decodeOid(this.expect(TAG.OID, what).value);
  }

  /** INTEGER contents (two's complement, minimal), as a view. */
  integerBytes(what = "INTEGER"): Uint8Array {
    const t = this.expect(TAG.INTEGER, what);
    const v = t.value;
    if (v.length === 0) fail(`${what}: empty INTEGER`, 0);
    // X.690 §8.3.2: no redundant leading 0x00/0xff octet. (Some CAs emit such serials; see below.)
    return v;
  }

  /** A small non-negative INTEGER (versions, pathLen). */
  smallInt(what = "INTEGER"): number {
    const v = this.integerBytes(what);
    if (v.length > 4 || (v[0]! & 0x80) !== 0) fail(`${what}: out of range`, 0);
    let n = 0;
    for (const b of v) n = n * 256 + b;
    return n;
  }

  boolean(what = "BOOLEAN"): boolean {
    const v = this.expect(TAG.BOOLEAN, what).value;
    // X.690 §11.1: DER TRUE is 0xff.
    if (v.length !== 1 || (v[0] !== 0 && v[0] !== 0xff)) fail(`${what}: bad BOOLEAN`, 0);
    return v[0] === 0xff;
  }

  /** BIT STRING → its bytes and the number of unused bits in the last byte. */
  bitString(what = "BIT STRING"): { bytes: Uint8Array; unusedBits: number } {
    const v = this.expect(TAG.BIT_STRING, what).value;
    if (v.length === 0) fail(`${what}: empty BIT STRING`, 0);
    const unusedBits = v[0]!;
    if (unusedBits > 7 || (v.length === 1 && unusedBits !== 0)) fail(`${what}: bad unused-bits count`, 0);
    return { bytes: v.subarray(1), unusedBits };
  }

  /** BIT STRING that must hold whole bytes (keys, signatures). */
  bitStringBytes(what = "BIT STRING"): Uint8Array {
    const b = this.bitString(what);
    if (b.unusedBits !== 0) fail(`${what}: unexpected unused bits`, 0);
    return b.bytes;
  }

  octetString(what = "OCTET STRING"): Uint8Array {
    return this.expect(TAG.OCTET_STRING, what).value;
  }

  null(what = "NULL"): void {
    if (this.expect(TAG.NULL, what).value.length !== 0) fail(`${what}: NULL with contents`, 0);
  }

  end(what = "structure"): void {
    if (!this.r.done) fail(`${this.r.remaining} trailing bytes in ${what}`, this.r.offset);
  }
}

/** OBJECT IDENTIFIER contents → dotted string (X.690 §8.19). */
export function decodeOid(v: Uint8Array): string {
  if (v.length === 0) fail("empty OID", 0);
  const arcs: bigint[] = [];
  let acc = 0n;
  let started = false;
  for (let i = 0; i < v.length; i++) {
    const b = v[i]!;
    if (!started && b === 0x80) fail("OID arc with a leading 0x80 octet", i);
    started = true;
    acc = (acc << 7n) | BigInt(b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(acc);
      acc = 0n;
      started = false;
    }
  }
  if (started) fail("truncated OID", v.length);
  const first = arcs[0]!;
  const head = first < 40n ? [0n, first] : first < 80n ? [1n, first - 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].map(String).join(".");
}

/** UTCTime / GeneralizedTime in the RFC 5280 §4.1.2.5 profile (Zulu, seconds, no fractions). */
export function decodeTime(t: Tlv): Date {
  const s = new TextDecoder("latin1").decode(t.value);
  let m: RegExpExecArray | null;
  let year: number;
  let rest: string;
  if (t.tag === TAG.UTC_TIME) {
    m = /^(\d{2})(\d{10})Z$/.exec(s);
    if (!m) fail(`bad UTCTime "${s}"`, 0);
    const yy = Number(m[1]);
    // RFC 5280 §4.1.2.5.1: YY >= 50 is 19YY, otherwise 20YY.
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
    rest = m[2]!;
  } else if (t.tag === TAG.GENERALIZED_TIME) {
    m = /^(\d{4})(\d{10})(?:\.\d+)?Z$/.exec(s);
    if (!m) fail(`bad GeneralizedTime "${s}"`, 0);
    year = Number(m[1]);
    rest = m[2]!;
  } else {
    fail(`expected a time, got tag 0x${t.tag.toString(16)}`, 0);
  }
  const mon = Number(rest.slice(0, 2));
  const day = Number(rest.slice(2, 4));
  const hh = Number(rest.slice(4, 6));
  const mi = Number(rest.slice(6, 8));
  const ss = Number(rest.slice(8, 10));
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hh > 23 || mi > 59 || ss > 60) fail(`bad time value "${s}"`, 0);
  const ms = Date.UTC(year, mon - 1, day, hh, mi, ss);
  const d = new Date(ms);
  if (d.getUTCDate() !== day) fail(`bad date "${s}"`, 0);
  return d;
}

export function readTime(r: DerReader, what: string): Date {
  const tag = r.peekTag();
  if (tag !== TAG.UTC_TIME && tag !== TAG.GENERALIZED_TIME) fail(`${what}: expected a time`, 0);
  return decodeTime(r.read());
}

/** Decodes the directory string types RFC 5280 §4.1.2.4 allows (and IA5 for emails). */
export function decodeString(t: Tlv): string {
  switch (t.tag) {
    case TAG.UTF8_STRING:
      return new TextDecoder("utf-8", { fatal: true }).decode(t.value);
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING:
    case TAG.NUMERIC_STRING:
    case TAG.VISIBLE_STRING:
      for (const b of t.value) if (b > 0x7f) fail("non-ASCII byte in an ASCII string type", 0);
      return new TextDecoder("latin1").decode(t.value);
    case TAG.TELETEX_STRING:
      // T.61 in practice carries Latin-1 (what OpenSSL and GnuTLS assume too).
      return new TextDecoder("latin1").decode(t.value);
    case TAG.BMP_STRING: {
      if (t.value.length % 2 !== 0) fail("odd-length BMPString", 0);
      return new TextDecoder("utf-16be", { fatal: true }).decode(t.value);
    }
    case TAG.UNIVERSAL_STRING: {
      if (t.value.length % 4 !== 0) fail("bad UniversalString length", 0);
      let s = "";
      for (let i = 0; i < t.value.length; i += 4) {
        const cp = ((t.value[i]! << 24) | (t.value[i + 1]! << 16) | (t.value[i + 2]! << 8) | t.value[i + 3]!) >>> 0;
        if (cp > 0x10ffff) fail("bad code point in UniversalString", i);
        s += String.fromCodePoint(cp);
      }
      return s;
    }
    default:
      fail(`unsupported string type 0x${t.tag.toString(16)}`, 0);
  }
}
