// DTLS record layer (RFC 6347 §4.1): the 13-byte header, per-epoch cipher states, several records per
// datagram. Record protection itself is src/tls/record.ts's Gcm12 (RFC 5288 explicit nonce) and Cbc12
// (RFC 5246 §6.2.3.2 MAC-then-encrypt, explicit IV): DTLS only changes the 8-byte sequence number
// they MAC or authenticate, which here is epoch(16) || sequence_number(48) (RFC 6347 §4.1.2.1).
//
//   struct { ContentType type; ProtocolVersion version; uint16 epoch; uint48 sequence_number;
//            uint16 length; opaque fragment[length]; } DTLSCiphertext;

import { createAead, createCbc, createMac } from "../crypto/index.ts";
import type { Aead } from "../crypto/types.ts";
import { Cbc12, Gcm12 } from "../tls/record.ts";
import type { DtlsSuite } from "./suites.ts";

export const DTLS_HEADER = 13;
/** RFC 6347 §4.1 version numbers, and the pre-RFC "DTLS1_BAD_VER" of Cisco AnyConnect (protocol.md §4.3). */
export const DTLS1_2 = 0xfefd;
export const DTLS1_0 = 0xfeff;
export const DTLS0_9 = 0x0100;
export type DtlsVersion = typeof DTLS1_2 | typeof DTLS1_0 | typeof DTLS0_9;

/** Largest plaintext we put in or accept from one record (RFC 6347 §4.1.1: 2^14). */
export const MAX_PLAINTEXT = 16384;

/** A record header read from a datagram; reused between records so parsing allocates nothing. */
export interface RecordCursor {
  type: number;
  version: number;
  epoch: number;
  seq: number;
  /** Fragment span inside the datagram. */
  start: number;
  end: number;
}

export function newCursor(): RecordCursor {
  return { type: 0, version: 0, epoch: 0, seq: 0, start: 0, end: 0 };
}

/** True for the record versions we speak: 254.x (DTLS 1.x) or 1.0 (DTLS 0.9). */
export function plausibleVersion(major: number, minor: number): boolean {
  return major === 0xfe || (major === 0x01 && minor === 0x00);
}

/**
 * Reads the record at `offset` into `c`; returns the offset of the next record, or -1 when the
 * rest of the datagram is not a whole record (RFC 6347 §4.1.2.7: invalid records are silently
 * discarded, and a length running past the datagram ends its processing).
 */
export function readRecord(d: Uint8Array, offset: number, c: RecordCursor): number {
  if (d.length - offset < DTLS_HEADER) return -1;
  const type = d[offset]!;
  if (type < 20 || type > 23) return -1;
  const major = d[offset + 1]!;
  const minor = d[offset + 2]!;
  if (!plausibleVersion(major, minor)) return -1;
  const length = (d[offset + 11]! << 8) | d[offset + 12]!;
  const end = offset + DTLS_HEADER + length;
  if (end > d.length) return -1;
  c.type = type;
  c.version = (major << 8) | minor;
  c.epoch = (d[offset + 3]! << 8) | d[offset + 4]!;
  c.seq = ((d[offset + 5]! << 8) | d[offset + 6]!) * 0x1_0000_0000 + ((d[offset + 7]! << 24) >>> 0) + ((d[offset + 8]! << 16) | (d[offset + 9]! << 8) | d[offset + 10]!);
  c.start = offset + DTLS_HEADER;
  c.end = end;
  return end;
}

export function writeHeader(out: Uint8Array, at: number, type: number, version: number, epoch: number, seq: number, length: number): void {
  out[at] = type;
  out[at + 1] = version >>> 8;
  out[at + 2] = version & 0xff;
  writeSeq8(out, at + 3, epoch, seq);
  out[at + 11] = length >>> 8;
  out[at + 12] = length & 0xff;
}

/** epoch(16) || sequence_number(48): the record's 64-bit sequence number for MAC and AEAD (RFC 6347 §4.1.2.1). */
export function writeSeq8(out: Uint8Array, at: number, epoch: number, seq: number): void {
  const hi = Math.floor(seq / 0x1_0000_0000);
  const lo = seq >>> 0;
  out[at] = epoch >>> 8;
  out[at + 1] = epoch & 0xff;
  out[at + 2] = (hi >>> 8) & 0xff;
  out[at + 3] = hi & 0xff;
  out[at + 4] = lo >>> 24;
  out[at + 5] = (lo >>> 16) & 0xff;
  out[at + 6] = (lo >>> 8) & 0xff;
  out[at + 7] = lo & 0xff;
}

/** Cipher of one direction of one epoch. Epoch 0 has none (DTLSPlaintext). */
export class EpochCipher {
  private readonly seq8 = new Uint8Array(8);
  private constructor(
    private readonly inner: Gcm12 | Cbc12,
    readonly overhead: (n: number) => number,
  ) {}

  static create(suite: DtlsSuite, key: Uint8Array, macKey: Uint8Array, salt: Uint8Array, random: (n: number) => Uint8Array): EpochCipher {
    if (suite.cipher === "aes-128-gcm" || suite.cipher === "aes-256-gcm") {
      const aead: Aead = createAead(suite.cipher, key);
      return new EpochCipher(new Gcm12(aead, salt), (n) => n + Gcm12.overhead);
    }
    if (suite.mac === null) throw new RangeError(`suite ${suite.name} has neither AEAD nor MAC`);
    const cbc = new Cbc12(createCbc(suite.cipher, key), createMac(suite.mac, macKey), random);
    return new EpochCipher(cbc, (n) => cbc.sealedLength(n));
  }

  /** Writes header + protected fragment at `at`; `plaintext` may be a view of `out` at the fragment's plaintext position. */
  seal(type: number, version: number, epoch: number, seq: number, plaintext: Uint8Array, out: Uint8Array, at: number): number {
    writeSeq8(this.seq8, 0, epoch, seq);
    const n = this.inner.sealFragment(this.seq8, type, version, plaintext, out, at + DTLS_HEADER);
    writeHeader(out, at, type, version, epoch, seq, n);
    return DTLS_HEADER + n;
  }

  /** The plaintext, or null when authentication fails (the caller drops the record silently). */
  open(c: RecordCursor, d: Uint8Array): Uint8Array | null {
    writeSeq8(this.seq8, 0, c.epoch, c.seq);
    const pt = this.inner.openFragment(this.seq8, c.type, c.version, d.subarray(c.start, c.end));
    if (pt === null || pt.length > MAX_PLAINTEXT) return null;
    return pt;
  }

  /**
   * open() without allocating views: decrypts in place and returns the plaintext's length, the
   * plaintext being d[c.start, c.start + n); -1 when authentication fails. (CBC records are opened
   * into a separate buffer by Cbc12 and copied over the consumed fragment.)
   */
  openInPlace(c: RecordCursor, d: Uint8Array): number {
    writeSeq8(this.seq8, 0, c.epoch, c.seq);
    const inner = this.inner;
    let n: number;
    if (inner instanceof Gcm12) n = inner.openAt(this.seq8, c.type, c.version, d, c.start, c.end);
    else {
      const pt = inner.openFragment(this.seq8, c.type, c.version, d.subarray(c.start, c.end));
      if (pt === null) return -1;
      d.set(pt, c.start);
      n = pt.length;
    }
    return n > MAX_PLAINTEXT ? -1 : n;
  }

  /** Where the plaintext starts inside a sealed record (explicit nonce or IV after the header). */
  plaintextOffset(): number {
    return DTLS_HEADER + (this.inner instanceof Gcm12 ? 8 : 16);
  }
}
