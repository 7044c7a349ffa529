// Record protection (no framing, no state machine): TLS 1.3 AEAD records (RFC 8446 §5.2–5.3),
// TLS 1.2 AES-GCM with an explicit nonce (RFC 5288 §3), TLS 1.2 AES-CBC + HMAC, MAC-then-encrypt with
// an explicit IV (RFC 5246 §6.2.3.2). The *Fragment functions take the 8-byte sequence number from the
// caller so DTLS (epoch || seq48) can reuse them; the TLS stream classes keep their own counters.
// Failures are TlsError("bad-record-mac" | "record-overflow" | "unexpected-message").

import type { Aead, CbcCipher, Mac } from "../crypto/types.ts";
import { constantTimeEqual } from "../wire/writer.ts";
import { TlsError } from "./errors.ts";
import { ContentType } from "./codec.ts";

export const MAX_PLAINTEXT = 16384; // 2^14 (RFC 8446 §5.1)
export const MAX_CIPHERTEXT_13 = MAX_PLAINTEXT + 256; // RFC 8446 §5.2
export const MAX_CIPHERTEXT_12 = MAX_PLAINTEXT + 2048; // RFC 5246 §6.2.3
export const RECORD_HEADER = 5;

/** A growable output buffer that records are sealed into directly (no per-record concatenation). */
export class OutputBuffer {
  private buf: Uint8Array;
  private len = 0;
  constructor(initial = 4096) {
    this.buf = new Uint8Array(initial);
  }
  get length(): number {
    return this.len;
  }
  /** Makes room for n bytes and returns the buffer and the offset to write at; call commit(written). */
  reserve(n: number): { buf: Uint8Array; offset: number } {
    if (this.len + n > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < this.len + n) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
    }
    return { buf: this.buf, offset: this.len };
  }
  commit(n: number): void {
    this.len += n;
  }
  append(b: Uint8Array): void {
    const { buf, offset } = this.reserve(b.length);
    buf.set(b, offset);
    this.len += b.length;
  }
  /** Everything written so far, as a copy the caller may keep; the buffer is then empty. */
  take(): Uint8Array | null {
    const v = this.takeView();
    return v === null ? null : v.slice();
  }
  /**
   * Everything written so far without copying: a view valid until the next reserve()/append(), which
   * write over it. For callers that hand the bytes on at once (a socket that copies into its outbox).
   */
  takeView(): Uint8Array | null {
    if (this.len === 0) return null;
    const out = this.buf.subarray(0, this.len);
    this.len = 0;
    return out;
  }
}

export function seqBytes(seq: number, out = new Uint8Array(8)): Uint8Array {
  const hi = Math.floor(seq / 0x1_0000_0000);
  const lo = seq >>> 0;
  out[0] = (hi >>> 24) & 0xff;
  out[1] = (hi >>> 16) & 0xff;
  out[2] = (hi >>> 8) & 0xff;
  out[3] = hi & 0xff;
  out[4] = (lo >>> 24) & 0xff;
  out[5] = (lo >>> 16) & 0xff;
  out[6] = (lo >>> 8) & 0xff;
  out[7] = lo & 0xff;
  return out;
}

function writeHeader(buf: Uint8Array, at: number, type: number, version: number, length: number): void {
  buf[at] = type;
  buf[at + 1] = version >>> 8;
  buf[at + 2] = version & 0xff;
  buf[at + 3] = length >>> 8;
  buf[at + 4] = length & 0xff;
}

/** What a decrypted record holds: its true content type and plaintext. */
export interface OpenedRecord {
  readonly type: number;
  readonly plaintext: Uint8Array;
}

/** One direction of record protection on a TLS stream. */
export interface RecordProtection {
  readonly encrypted: boolean;
  /** Upper bound of the record size (header included) for a plaintext of n bytes. */
  maxRecordSize(n: number): number;
  /** Writes header + protected fragment into out.buf at out.offset; returns bytes written. */
  seal(type: number, plaintext: Uint8Array, buf: Uint8Array, offset: number): number;
  /** Opens one record's fragment. */
  open(type: number, version: number, fragment: Uint8Array): OpenedRecord;
}

/** Before keys are established (TLSPlaintext). */
export class NullProtection implements RecordProtection {
  readonly encrypted = false;
  constructor(private readonly version = 0x0303) {}
  maxRecordSize(n: number): number {
    return RECORD_HEADER + n;
  }
  seal(type: number, plaintext: Uint8Array, buf: Uint8Array, offset: number): number {
    writeHeader(buf, offset, type, this.version, plaintext.length);
    buf.set(plaintext, offset + RECORD_HEADER);
    return RECORD_HEADER + plaintext.length;
  }
  open(type: number, _version: number, fragment: Uint8Array): OpenedRecord {
    if (fragment.length > MAX_PLAINTEXT) throw new TlsError("record-overflow", "plaintext record longer than 2^14");
    // RFC 8446 §5.1: zero-length fragments of handshake/alert records are not allowed
    if (fragment.length === 0 && type !== ContentType.application_data)
      throw new TlsError("unexpected-message", "empty plaintext record");
    return { type, plaintext: fragment };
  }
}

/** RFC 8446 §5.3 per-record nonce: the 64-bit sequence number, left-padded, XORed with the IV. */
function nonce13(iv: Uint8Array, seq: number, out: Uint8Array): Uint8Array {
  out.set(iv);
  const hi = Math.floor(seq / 0x1_0000_0000);
  const lo = seq >>> 0;
  out[4] = out[4]! ^ ((hi >>> 24) & 0xff);
  out[5] = out[5]! ^ ((hi >>> 16) & 0xff);
  out[6] = out[6]! ^ ((hi >>> 8) & 0xff);
  out[7] = out[7]! ^ (hi & 0xff);
  out[8] = out[8]! ^ ((lo >>> 24) & 0xff);
  out[9] = out[9]! ^ ((lo >>> 16) & 0xff);
  out[10] = out[10]! ^ ((lo >>> 8) & 0xff);
  out[11] = out[11]! ^ (lo & 0xff);
  return out;
}

/** TLS 1.3 AEAD record protection for one direction and one traffic secret. */
export class Tls13Protection implements RecordProtection {
  readonly encrypted = true;
  private seq = 0;
  private readonly nonce = new Uint8Array(12);
  private readonly aad = new Uint8Array(5);
  constructor(
    private readonly aead: Aead,
    private readonly iv: Uint8Array,
  ) {}
  get sequence(): number {
    return this.seq;
  }
  maxRecordSize(n: number): number {
    return RECORD_HEADER + n + 1 + 16;
  }
  seal(type: number, plaintext: Uint8Array, buf: Uint8Array, offset: number): number {
    const innerLen = plaintext.length + 1;
    const len = innerLen + 16;
    // §5.2: opaque_type is application_data and legacy_record_version 0x0303; the header is the AAD
    writeHeader(buf, offset, ContentType.application_data, 0x0303, len);
    writeHeader(this.aad, 0, ContentType.application_data, 0x0303, len);
    const body = offset + RECORD_HEADER;
    buf.set(plaintext, body);
    buf[body + plaintext.length] = type;
    this.aead.seal(nonce13(this.iv, this.seq++, this.nonce), this.aad, buf.subarray(body, body + innerLen), buf, body);
    return RECORD_HEADER + len;
  }
  open(type: number, version: number, fragment: Uint8Array): OpenedRecord {
    if (type !== ContentType.application_data) throw new TlsError("unexpected-message", "unprotected record after keys were set");
    if (fragment.length > MAX_CIPHERTEXT_13) throw new TlsError("record-overflow", "ciphertext longer than 2^14+256");
    if (fragment.length < 17) throw new TlsError("bad-record-mac", "ciphertext shorter than the tag");
    writeHeader(this.aad, 0, type, version, fragment.length);
    // Decrypt in place: the fragment lives in the deframer's private buffer and is consumed, and the
    // AEAD writes only after the tag has been checked.
    const out = fragment;
    const n = this.aead.open(nonce13(this.iv, this.seq, this.nonce), this.aad, fragment, out, 0);
    if (n < 0) throw new TlsError("bad-record-mac", "record authentication failed");
    this.seq++;
    // §5.4: padding does not lift the size limit; the whole TLSInnerPlaintext is at most 2^14 + 1
    if (n > MAX_PLAINTEXT + 1) throw new TlsError("record-overflow", "inner plaintext longer than 2^14 + 1");
    // §5.4: strip zero padding; the last non-zero byte is the real content type
    let i = n - 1;
    while (i >= 0 && out[i] === 0) i--;
    if (i < 0) throw new TlsError("unexpected-message", "record with no content type");
    if (i > MAX_PLAINTEXT) throw new TlsError("record-overflow", "inner plaintext longer than 2^14");
    const innerType = out[i]!;
    if (i === 0 && innerType !== ContentType.application_data)
      throw new TlsError("unexpected-message", "empty protected handshake or alert record");
    return { type: innerType, plaintext: out.subarray(0, i) };
  }
}

/** RFC 5246 §6.2.3.3 additional_data = seq_num + type + version + length. */
function aad12(out: Uint8Array, seq8: Uint8Array, type: number, version: number, length: number): Uint8Array {
  out.set(seq8, 0);
  writeHeader(out, 8, type, version, length);
  return out;
}

/** TLS/DTLS 1.2 AES-GCM (RFC 5288): nonce = 4-byte salt || 8-byte explicit nonce carried in the record. */
export class Gcm12 {
  private readonly nonce = new Uint8Array(12);
  private readonly aad = new Uint8Array(13);
  constructor(
    private readonly aead: Aead,
    salt: Uint8Array,
  ) {
    this.nonce.set(salt.subarray(0, 4));
  }
  static readonly overhead = 8 + 16;
  /** Writes explicit_nonce || ciphertext || tag at offset; the explicit nonce is the sequence number. */
  sealFragment(seq8: Uint8Array, type: number, version: number, plaintext: Uint8Array, buf: Uint8Array, offset: number): number {
    this.nonce.set(seq8, 4);
    buf.set(seq8, offset);
    const n = this.aead.seal(this.nonce, aad12(this.aad, seq8, type, version, plaintext.length), plaintext, buf, offset + 8);
    return 8 + n;
  }
  /**
   * Returns the plaintext, or null if authentication failed. Decrypts in place: on success the
   * fragment's first bytes are overwritten and the result is a view of them.
   */
  openFragment(seq8: Uint8Array, type: number, version: number, fragment: Uint8Array): Uint8Array | null {
    const n = this.openAt(seq8, type, version, fragment, 0, fragment.length);
    return n < 0 ? null : fragment.subarray(0, n);
  }
  /**
   * openFragment for the fragment d[start, end) without a view of it: the plaintext is written to
   * d[start, start + n) and n returned, or -1 if authentication failed (nothing written then).
   */
  openAt(seq8: Uint8Array, type: number, version: number, d: Uint8Array, start: number, end: number): number {
    const len = end - start;
    if (len < Gcm12.overhead) return -1;
    // Byte by byte: a subarray per record costs more than these eight stores.
    const nonce = this.nonce;
    for (let i = 0; i < 8; i++) nonce[4 + i] = d[start + i]!;
    // In place, over the explicit nonce (already copied into the nonce buffer); written only if the tag is good.
    return this.aead.open(nonce, aad12(this.aad, seq8, type, version, len - Gcm12.overhead), d.subarray(start + 8, end), d, start);
  }
}

/**
 * TLS/DTLS 1.2 AES-CBC with HMAC, MAC-then-encrypt (RFC 5246 §6.2.3.2). The padding check and the MAC
 * are computed whatever the padding looks like, and a single "bad-record-mac" covers both, so a
 * padding oracle learns nothing from the alert (RFC 5246 §6.2.3.2 implementation note; the residual
 * Lucky13 timing difference of one hash block is accepted).
 */
export class Cbc12 {
  private readonly hdr = new Uint8Array(13);
  constructor(
    private readonly cbc: CbcCipher,
    private readonly mac: Mac,
    private readonly random: (n: number) => Uint8Array,
  ) {}
  sealedLength(n: number): number {
    const m = n + this.mac.outputLength + 1;
    return 16 + m + ((16 - (m % 16)) % 16);
  }
  sealFragment(seq8: Uint8Array, type: number, version: number, plaintext: Uint8Array, buf: Uint8Array, offset: number): number {
    const macv = this.mac.compute(aad12(this.hdr, seq8, type, version, plaintext.length), plaintext);
    const total = this.sealedLength(plaintext.length);
    const iv = this.random(16);
    buf.set(iv, offset);
    const body = offset + 16;
    buf.set(plaintext, body);
    buf.set(macv, body + plaintext.length);
    const padLen = total - 16 - plaintext.length - macv.length - 1;
    buf.fill(padLen, body + plaintext.length + macv.length, offset + total);
    this.cbc.encrypt(iv, buf.subarray(body, offset + total), buf, body);
    return total;
  }
  openFragment(seq8: Uint8Array, type: number, version: number, fragment: Uint8Array): Uint8Array | null {
    const macLen = this.mac.outputLength;
    const minBody = Math.ceil((macLen + 1) / 16) * 16;
    if (fragment.length % 16 !== 0 || fragment.length < 16 + minBody) return null;
    const body = fragment.subarray(16);
    const pt = new Uint8Array(body.length);
    this.cbc.decrypt(fragment.subarray(0, 16), body, pt, 0);
    const padLen = pt[pt.length - 1]!;
    // Check every byte the padding could cover (up to 256), folding the result without branching on it.
    let bad = padLen + 1 + macLen > pt.length ? 1 : 0;
    const span = Math.min(256, pt.length);
    for (let i = 1; i <= span; i++) {
      const inPad = i <= padLen + 1 ? 1 : 0;
      bad |= inPad & (pt[pt.length - i]! ^ padLen ? 1 : 0);
    }
    // With bad padding, MAC as if there were no padding so the work done is similar.
    const contentLen = bad ? pt.length - 1 - macLen : pt.length - padLen - 1 - macLen;
    if (contentLen < 0) return null;
    const content = pt.subarray(0, contentLen);
    const expect = this.mac.compute(aad12(this.hdr, seq8, type, version, contentLen), content);
    const ok = constantTimeEqual(expect, pt.subarray(contentLen, contentLen + macLen));
    return ok && !bad ? content : null;
  }
}

/** TLS 1.2 record protection on a stream: an implicit 64-bit sequence number per direction. */
export class Tls12Protection implements RecordProtection {
  readonly encrypted = true;
  private seq = 0;
  private readonly seq8 = new Uint8Array(8);
  constructor(private readonly inner: Gcm12 | Cbc12) {}
  maxRecordSize(n: number): number {
    return RECORD_HEADER + (this.inner instanceof Gcm12 ? n + Gcm12.overhead : this.inner.sealedLength(n));
  }
  seal(type: number, plaintext: Uint8Array, buf: Uint8Array, offset: number): number {
    const n = this.inner.sealFragment(seqBytes(this.seq++, this.seq8), type, 0x0303, plaintext, buf, offset + RECORD_HEADER);
    writeHeader(buf, offset, type, 0x0303, n);
    return RECORD_HEADER + n;
  }
  open(type: number, version: number, fragment: Uint8Array): OpenedRecord {
    if (fragment.length > MAX_CIPHERTEXT_12) throw new TlsError("record-overflow", "ciphertext longer than 2^14+2048");
    const pt = this.inner.openFragment(seqBytes(this.seq, this.seq8), type, version, fragment);
    if (pt === null) throw new TlsError("bad-record-mac", "record authentication failed");
    this.seq++;
    if (pt.length > MAX_PLAINTEXT) throw new TlsError("record-overflow", "plaintext longer than 2^14");
    // RFC 5246 §6.2.1: zero-length fragments are allowed for application data only (as in NullProtection);
    // an empty protected handshake record would otherwise cost a decryption and count as nothing.
    if (pt.length === 0 && type !== ContentType.application_data)
      throw new TlsError("unexpected-message", "empty protected handshake, alert or change_cipher_spec record");
    return { type, plaintext: pt };
  }
}
