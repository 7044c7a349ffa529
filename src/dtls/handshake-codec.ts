// DTLS handshake messages (RFC 6347 §4.2.2): the 12-byte header (msg_type, length, message_seq,
// fragment_offset, fragment_length), fragmentation to the path MTU, and reassembly of fragments in
// any order. Bodies are TLS's (src/tls/codec.ts) except the ClientHello, which carries a cookie after
// the session_id (RFC 6347 §4.2.1).

import { Reader, DecodeError } from "../wire/reader.ts";
import { Writer } from "../wire/writer.ts";
import { HandshakeType, decodeClientHello, type ClientHello, type Extension } from "../tls/codec.ts";

export const HS_HEADER = 12;
/** Largest handshake message we reassemble: only ClientHello, ClientKeyExchange and Finished come from clients. */
export const MAX_HANDSHAKE_MESSAGE = 8192;
/** Messages buffered ahead of the next expected message_seq (RFC 6347 §4.2.2 allows buffering). */
const MAX_AHEAD = 4;

export interface HandshakeFragment {
  readonly type: number;
  readonly length: number;
  readonly seq: number;
  readonly offset: number;
  readonly body: Uint8Array;
}

/** Parses one handshake fragment; a record may hold several, so the caller loops over `next`. */
export function readFragment(r: Reader): HandshakeFragment {
  const type = r.u8();
  const length = r.u24();
  const seq = r.u16();
  const offset = r.u24();
  const fragLength = r.u24();
  if (offset + fragLength > length) throw new DecodeError("fragment past the message end", r.offset);
  const body = r.bytesView(fragLength);
  return { type, length, seq, offset, body };
}

/** The header as if the message were one fragment: what DTLS 1.0/1.2 put in the handshake hash (§4.2.6). */
export function fullHeader(type: number, seq: number, length: number): Uint8Array {
  return new Writer(HS_HEADER).u8(type).u24(length).u16(seq).u24(0).u24(length).finish();
}

/** Splits a message into fragments of at most `maxBody` body bytes, each with its header. */
export function fragmentMessage(type: number, seq: number, body: Uint8Array, maxBody: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let off = 0;
  do {
    const n = Math.min(maxBody, body.length - off);
    out.push(new Writer(HS_HEADER + n).u8(type).u24(body.length).u16(seq).u24(off).u24(n).bytes(body.subarray(off, off + n)).finish());
    off += n;
  } while (off < body.length);
  return out;
}

export interface AssembledMessage {
  readonly type: number;
  readonly seq: number;
  readonly body: Uint8Array;
}

interface Partial {
  type: number;
  body: Uint8Array;
  have: Uint8Array; // 1 per received byte
  missing: number;
}

/**
 * In-order reassembly by message_seq. Fragments of messages already delivered are reported as
 * retransmissions (the peer lost our reply flight; RFC 6347 §4.2.4 says to retransmit ours).
 */
export class Reassembler {
  private readonly partial = new Map<number, Partial>();
  constructor(private nextSeq: number) {}

  get expected(): number {
    return this.nextSeq;
  }
  /** DTLS 0.9 quirk: its 3-byte ChangeCipherSpec consumes a message_seq (protocol.md §4.3). */
  skip(): void {
    this.partial.delete(this.nextSeq);
    this.nextSeq++;
  }

  /** Adds a fragment; returns "old" for a retransmitted earlier message, otherwise the messages now complete. */
  add(f: HandshakeFragment): AssembledMessage[] | "old" {
    if (f.seq < this.nextSeq) return "old";
    if (f.seq >= this.nextSeq + MAX_AHEAD) return [];
    if (f.length > MAX_HANDSHAKE_MESSAGE) throw new DecodeError(`handshake message of ${f.length} bytes`, 0);
    let p = this.partial.get(f.seq);
    if (p === undefined) {
      p = { type: f.type, body: new Uint8Array(f.length), have: new Uint8Array(f.length), missing: f.length };
      this.partial.set(f.seq, p);
    } else if (p.type !== f.type || p.body.length !== f.length) {
      throw new DecodeError("fragments of one message disagree on type or length", 0);
    }
    for (let i = 0; i < f.body.length; i++) {
      const at = f.offset + i;
      if (p.have[at] === 0) {
        p.have[at] = 1;
        p.missing--;
      }
      p.body[at] = f.body[i]!;
    }
    const done: AssembledMessage[] = [];
    for (;;) {
      const q = this.partial.get(this.nextSeq);
      if (q === undefined || q.missing > 0) break;
      this.partial.delete(this.nextSeq);
      done.push({ type: q.type, seq: this.nextSeq, body: q.body });
      this.nextSeq++;
    }
    return done;
  }
}

/** A DTLS ClientHello: TLS's fields plus the cookie. */
export interface DtlsClientHello {
  readonly hello: ClientHello;
  readonly cookie: Uint8Array;
}

/** RFC 6347 §4.2.1 ClientHello: the TLS 1.2 body with `opaque cookie<0..2^8-1>` after session_id. */
export function decodeDtlsClientHello(body: Uint8Array): DtlsClientHello {
  const r = new Reader(body);
  r.skip(2 + 32);
  const sidLen = r.u8();
  r.skip(sidLen);
  const cookieStart = r.offset;
  const cookie = r.vec8().slice();
  const cookieEnd = r.offset;
  // Without the cookie the body is a TLS ClientHello: reuse TLS's decoder for suites and extensions.
  const tlsBody = new Uint8Array(body.length - (cookieEnd - cookieStart));
  tlsBody.set(body.subarray(0, cookieStart), 0);
  tlsBody.set(body.subarray(cookieEnd), cookieStart);
  return { hello: decodeClientHello(tlsBody), cookie };
}

/** RFC 5246 §7.4.1.3 ServerHello; the extensions block is omitted when empty, as DTLS 0.9 peers expect. */
export function encodeServerHello(version: number, random: Uint8Array, sessionId: Uint8Array, suite: number, exts: readonly Extension[]): Uint8Array {
  const w = new Writer(96);
  w.u16(version).bytes(random).vec8(sessionId).u16(suite).u8(0);
  if (exts.length > 0) {
    w.lengthPrefixed(2, (w) => {
      for (const e of exts) w.u16(e.type).vec16(e.data);
    });
  }
  return w.finish();
}

/** RFC 4279 §2 ClientKeyExchange for plain PSK: `opaque psk_identity<0..2^16-1>`. */
export function decodePskClientKeyExchange(body: Uint8Array): Uint8Array {
  const r = new Reader(body);
  const id = r.vec16();
  r.end();
  return id;
}

/** ocserv's application-ID ClientHello extension (protocol.md §4.1). */
export const APP_ID_EXTENSION = 0xbb92;

/** True when the handshake record at start..end begins with the first fragment of a ClientHello holding at least the random. */
export function isClientHelloStart(d: Uint8Array, start: number, end: number): boolean {
  return end - start >= HS_HEADER + 35 && d[start] === HandshakeType.client_hello && d[start + 6] === 0 && d[start + 7] === 0 && d[start + 8] === 0;
}

/** The ClientHello's lookup ID, or null (protocol.md §4.1 step 2). Reads the datagram in place. */
export function clientHelloLookupId(d: Uint8Array, start: number, end: number): Uint8Array | null {
  // handshake header(12): type, length(3), message_seq(2), fragment_offset(3), fragment_length(3)
  if (!isClientHelloStart(d, start, end)) return null;
  const body = start + HS_HEADER;
  let p = body + 2 + 32;
  const sidLen = d[p]!;
  if (sidLen > 32 || p + 1 + sidLen > end) return null;
  const sid = d.subarray(p + 1, p + 1 + sidLen);
  // Walk to the extensions for the App-ID: cookie<0..255>, cipher_suites<2..2^16-2>, compression<1..255>.
  p += 1 + sidLen;
  let appId: Uint8Array | null = null;
  if (p < end) {
    p += 1 + d[p]!;
    if (p + 2 <= end) {
      p += 2 + ((d[p]! << 8) | d[p + 1]!);
      if (p < end) {
        p += 1 + d[p]!;
        if (p + 2 <= end) {
          const extEnd = p + 2 + ((d[p]! << 8) | d[p + 1]!);
          p += 2;
          while (extEnd <= end && p + 4 <= extEnd) {
            const type = (d[p]! << 8) | d[p + 1]!;
            const len = (d[p + 2]! << 8) | d[p + 3]!;
            if (p + 4 + len > extEnd) break;
            if (type === APP_ID_EXTENSION && len >= 2 && d[p + 4]! + 1 === len) {
              appId = d.subarray(p + 5, p + 4 + len); // opaque ApplicationID<1..255>
              break;
            }
            p += 4 + len;
          }
        }
      }
    }
  }
  const id = appId ?? sid;
  return id.length >= 1 && id.length <= 32 ? id : null;
}

