// CSTP framing over TLS (protocol.md §3, ocserv vpn.h AC_PKT_*, draft-openconnect "packet format").
//
//   byte 0-2  'S' 'T' 'F'
//   byte 3    1
//   byte 4-5  payload length, big-endian
//   byte 6    packet type
//   byte 7    0
//
// Sending: every packet goes out as its own TLS record (openconnect rejects records holding more or
// less than one packet). Packets read from the tun land 8 bytes into a pooled buffer, so the header is
// written in front of them with no copy (wireguard-go's header room).
//
// Receiving: ocserv requires one packet per record; we are lenient and reassemble a byte stream by
// length, so packets may span or share records. The length is bounded (maxPayload) and a bad magic or
// a non-zero byte 7 is a protocol error that closes the tunnel. The deframer is sans-I/O: it reports
// packets to a sink and allocates only when a packet straddles records.

export const CSTP_HEADER_LEN = 8;
const MAGIC: readonly number[] = Object.freeze([0x53, 0x54, 0x46, 0x01]);

/** Packet types (ocserv vpn.h), shared with the DTLS channel. */
export { CstpType } from "../../wire/cstp-types.ts";

/** BYE reason bytes (protocol.md §1.4, §3). */
export const BYE_USER_DISCONNECT = 0xb0;
export const BYE_RECONNECT = 0x91;

export type CstpErrorCode = "bad-magic" | "bad-reserved-byte" | "too-long";

export class CstpError extends Error {
  override readonly name = "CstpError";
  constructor(readonly code: CstpErrorCode, message: string) {
    super(message);
  }
}

/** Writes the 8-byte header at buf[at..at+8). */
export function writeCstpHeader(buf: Uint8Array, at: number, type: number, payloadLen: number): void {
  buf[at] = 0x53;
  buf[at + 1] = 0x54;
  buf[at + 2] = 0x46;
  buf[at + 3] = 1;
  buf[at + 4] = (payloadLen >>> 8) & 0xff;
  buf[at + 5] = payloadLen & 0xff;
  buf[at + 6] = type;
  buf[at + 7] = 0;
}

/** A fresh control packet with no payload (DPD-REQ, DPD-RESP, DISCONNECT). */
export function controlPacket(type: number): Uint8Array {
  const b = new Uint8Array(CSTP_HEADER_LEN);
  writeCstpHeader(b, 0, type, 0);
  return b;
}

/** Receives decoded packets. `frame` is the whole packet (header + payload); views are only valid during the call. */
export interface CstpSink {
  packet(type: number, payload: Uint8Array, frame: Uint8Array): void;
}

export class CstpDeframer {
  private readonly pending: Uint8Array;
  private pendingLen = 0;
  private failed: CstpError | null = null;

  constructor(readonly maxPayload: number) {
    if (maxPayload < 0 || maxPayload > 0xffff) throw new RangeError("maxPayload must fit in 16 bits");
    this.pending = new Uint8Array(CSTP_HEADER_LEN + maxPayload);
  }

  /**
   * Feeds one record's bytes. Throws CstpError on a framing error; after that the deframer stays
   * failed (the tunnel closes). Whole packets inside `data` are passed as subarrays, without copying.
   */
  push(data: Uint8Array, sink: CstpSink): void {
    if (this.failed) throw this.failed;
    let off = 0;
    const n = data.length;
    if (this.pendingLen > 0) {
      off = this.fillPending(data, 0, sink);
      if (this.pendingLen > 0) return;
    }
    while (off < n) {
      if (n - off < CSTP_HEADER_LEN) {
        this.checkPartialHeader(data, off, n - off);
        this.pending.set(data.subarray(off), 0);
        this.pendingLen = n - off;
        return;
      }
      const len = this.checkHeader(data, off);
      const end = off + CSTP_HEADER_LEN + len;
      if (end > n) {
        this.pending.set(data.subarray(off), 0);
        this.pendingLen = n - off;
        return;
      }
      sink.packet(data[off + 6]!, data.subarray(off + CSTP_HEADER_LEN, end), data.subarray(off, end));
      off = end;
    }
  }

  /** Bytes of an unfinished packet waiting for the next record. */
  get buffered(): number {
    return this.pendingLen;
  }

  private fillPending(data: Uint8Array, off: number, sink: CstpSink): number {
    const p = this.pending;
    if (this.pendingLen < CSTP_HEADER_LEN) {
      const take = Math.min(CSTP_HEADER_LEN - this.pendingLen, data.length - off);
      p.set(data.subarray(off, off + take), this.pendingLen);
      this.pendingLen += take;
      off += take;
      if (this.pendingLen < CSTP_HEADER_LEN) {
        this.checkPartialHeader(p, 0, this.pendingLen);
        return off;
      }
    }
    const total = CSTP_HEADER_LEN + this.checkHeader(p, 0);
    const take = Math.min(total - this.pendingLen, data.length - off);
    p.set(data.subarray(off, off + take), this.pendingLen);
    this.pendingLen += take;
    off += take;
    if (this.pendingLen === total) {
      this.pendingLen = 0;
      sink.packet(p[6]!, p.subarray(CSTP_HEADER_LEN, total), p.subarray(0, total));
    }
    return off;
  }

  private fail(code: CstpErrorCode, message: string): never {
    this.failed = new CstpError(code, message);
    this.pendingLen = 0;
    throw this.failed;
  }

  /** Rejects a bad magic as soon as its bytes arrive, rather than waiting for a full header. */
  private checkPartialHeader(b: Uint8Array, at: number, have: number): void {
    for (let i = 0; i < Math.min(have, 4); i++) {
      if (b[at + i] !== MAGIC[i]) this.fail("bad-magic", "CSTP packet does not start with STF\\x01");
    }
  }

  private checkHeader(b: Uint8Array, at: number): number {
    if (b[at] !== 0x53 || b[at + 1] !== 0x54 || b[at + 2] !== 0x46 || b[at + 3] !== 0x01) {
      this.fail("bad-magic", "CSTP packet does not start with STF\\x01");
    }
    if (b[at + 7] !== 0) this.fail("bad-reserved-byte", "CSTP header byte 7 is not zero");
    const len = (b[at + 4]! << 8) | b[at + 5]!;
    if (len > this.maxPayload) this.fail("too-long", `CSTP payload of ${len} bytes exceeds ${this.maxPayload}`);
    return len;
  }
}
