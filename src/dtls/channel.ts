// One registered session's DTLS state: at most one handshake in progress and at most one established
// epoch (ocserv's two session slots, protocol.md §4.1 step 5: a new ClientHello builds the next
// session while the current one keeps carrying data, and they swap when the handshake completes).
//
// Inbound record flow (demux.ts has already matched the datagram to this channel):
//   epoch 0 (handshake, CCS, alert)      → the handshake in progress, if it came from its address
//   epoch 1 handshake                    → the handshake (client Finished, or its retransmission)
//   epoch 1 application_data             → replay check → open → window update → framing (§4.4)
//   epoch 1 alert                        → open → close_notify or fatal alert ends DTLS for the session

import { ContentType, HandshakeType } from "../tls/codec.ts";
import type { TlsError } from "../tls/errors.ts";
import { Reader } from "../wire/reader.ts";
import { toHex } from "../wire/writer.ts";
import { isClientHelloStart, decodeDtlsClientHello, readFragment, Reassembler, HS_HEADER } from "./handshake-codec.ts";
import { ServerHandshake, type DtlsMode, type EpochKeys, type HandshakeContext, type HandshakeStep } from "./handshake.ts";
import { DTLS0_9, DTLS1_0, DTLS_HEADER, MAX_PLAINTEXT, readRecord, type RecordCursor } from "./record.ts";
import { PacketType } from "./framing.ts";

/** ocserv main.c UDP_FD_RESEND_TIME: a session takes a new peer address at most once per 3 s. */
export const REBIND_INTERVAL_MS = 3000;

export interface Peer {
  readonly addr: string;
  readonly port: number;
}

export type DtlsVersionName = "DTLS1.2" | "DTLS1.0" | "DTLS0.9";

export type DtlsEvent =
  | { readonly kind: "established"; readonly version: DtlsVersionName; readonly suite: string; readonly peer: Peer }
  | { readonly kind: "handshake-failed"; readonly error: TlsError }
  /** The client's close_notify or fatal alert: DTLS is gone until a new handshake; CSTP carries on. */
  | { readonly kind: "closed"; readonly alert: number }
  /** A record from a new address decrypted under the session (roaming / NAT rebinding). */
  | { readonly kind: "peer-moved"; readonly peer: Peer }
  /** DISCONNECT (0x05) received over DTLS; `reason` is the optional reason byte (protocol.md §3). */
  | { readonly kind: "disconnect"; readonly reason: number | null }
  /** A DPD-REQ was answered; `probe` is true when it was larger than the data MTU (MTU probing, §4.4). */
  | { readonly kind: "dpd"; readonly bytes: number; readonly probe: boolean };

/** What one step of the endpoint produced. Arrays are fresh per call; payloads are owned by the receiver. */
export interface Outbox<T> {
  readonly sendTo: { bytes: Uint8Array; addr: string; port: number }[];
  readonly deliver: { owner: T; type: number; payload: Uint8Array }[];
  readonly events: { owner: T; event: DtlsEvent }[];
}

interface HandshakeSlot {
  readonly peer: Peer;
  readonly clientRandom: Uint8Array;
  readonly startedAt: number;
  /** A ClientHello still being reassembled, or the running handshake. */
  hs: ServerHandshake | null;
  hello: Reassembler | null;
}

export function versionName(v: number): DtlsVersionName {
  return v === DTLS0_9 ? "DTLS0.9" : v === DTLS1_0 ? "DTLS1.0" : "DTLS1.2";
}

export class Channel<T> {
  readonly idKey: string;
  slot: HandshakeSlot | null = null;
  current: EpochKeys | null = null;
  peer: Peer | null = null;
  lastReceivedAt = 0;
  lastRebindAt = -Infinity;
  closed = false;

  constructor(
    readonly sessionId: Uint8Array,
    readonly mode: DtlsMode,
    readonly owner: T,
    public dataMtu: number,
    /** Probes up to this size raise dataMtu before the echo (ocserv data_mtu_set); larger ones get 1 byte. 0: never raise. */
    public maxDataMtu = 0,
  ) {
    this.idKey = toHex(sessionId);
  }

  get established(): boolean {
    return this.current !== null;
  }
  get deadline(): number | null {
    return this.slot?.hs?.deadline ?? null;
  }

  /**
   * Every record of a datagram that the demux matched to this session (by ClientHello ID or by
   * address). Returns the number of protected records that did not authenticate or were replays.
   */
  receiveDatagram(d: Uint8Array, from: Peer, now: number, ctx: HandshakeContext, out: Outbox<T>, c: RecordCursor): number {
    let rejected = 0;
    let off = 0;
    while (off < d.length) {
      const next = readRecord(d, off, c);
      if (next < 0) break;
      off = next;
      if (c.epoch === 0) {
        if (c.type === ContentType.handshake && isClientHelloStart(d, c.start, c.end)) this.onClientHello(c, d, from, now, ctx, out);
        else if (this.slot !== null && samePeer(this.slot.peer, from)) this.onEpoch0(c, d, now, ctx, out);
      } else if (!this.onProtected(c, d, from, now, ctx, out)) {
        rejected++;
      }
    }
    return rejected;
  }

  /** A record of type handshake at epoch 0 whose first fragment is a ClientHello (the demux checked the ID). */
  onClientHello(c: RecordCursor, d: Uint8Array, from: Peer, now: number, ctx: HandshakeContext, out: Outbox<T>): void {
    // body offset 2..34 of the first fragment is the client random (the demux checked its length)
    const random = d.subarray(c.start + HS_HEADER + 2, c.start + HS_HEADER + 34);
    const s = this.slot;
    if (s !== null && equal(s.clientRandom, random) && samePeer(s.peer, from)) {
      this.onEpoch0(c, d, now, ctx, out); // a retransmitted ClientHello: the handshake resends its flight
      return;
    }
    if (s !== null && !s.hs?.done && !samePeer(s.peer, from) && now - s.startedAt < REBIND_INTERVAL_MS) return;
    this.slot = { peer: from, clientRandom: random.slice(), startedAt: now, hs: null, hello: new Reassembler(0) };
    this.onEpoch0(c, d, now, ctx, out);
  }

  /** Epoch-0 records and epoch-1 handshake records from the handshake's address. */
  onEpoch0(c: RecordCursor, d: Uint8Array, now: number, ctx: HandshakeContext, out: Outbox<T>): void {
    const s = this.slot;
    if (s === null) return;
    if (s.hs !== null) {
      this.apply(s.hs.onRecord(c, d, now), s, out);
      return;
    }
    if (s.hello === null || c.type !== ContentType.handshake || c.epoch !== 0) return;
    // The ClientHello may come in fragments (RFC 6347 §4.2.3); start when it is whole.
    try {
      const r = new Reader(d, c.start, c.end);
      while (!r.done) {
        const f = readFragment(r);
        if (f.type !== HandshakeType.client_hello) return;
        const got = s.hello.add(f);
        if (got === "old" || got.length === 0) continue;
        const msg = got[0]!;
        const hello = decodeDtlsClientHello(msg.body);
        s.hello = null;
        const { hs, step } = ServerHandshake.start(ctx, this.mode, hello.hello, msg.body, msg.seq, now);
        s.hs = hs;
        this.apply(step, s, out);
        return;
      }
    } catch {
      // A malformed ClientHello: nothing to answer, the slot is dropped (RFC 6347 §4.1.2.7 spirit).
      this.slot = null;
    }
  }

  private apply(step: HandshakeStep, s: HandshakeSlot, out: Outbox<T>): void {
    for (const b of step.datagrams) out.sendTo.push({ bytes: b, addr: s.peer.addr, port: s.peer.port });
    if (step.failed !== null) {
      out.events.push({ owner: this.owner, event: { kind: "handshake-failed", error: step.failed } });
      this.slot = null;
      return;
    }
    if (step.established !== null) {
      this.current = step.established;
      this.peer = s.peer;
      this.closed = false;
      out.events.push({
        owner: this.owner,
        event: { kind: "established", version: versionName(step.established.version), suite: step.established.suite.name, peer: s.peer },
      });
    }
  }

  onTimer(now: number, out: Outbox<T>): void {
    const s = this.slot;
    if (s?.hs == null) return;
    this.apply(s.hs.onTimer(now), s, out);
  }

  /**
   * An epoch-1 record for the established keys. Returns false when it did not authenticate (or was a
   * replay), so the demux can refuse a roaming address.
   */
  onProtected(c: RecordCursor, d: Uint8Array, from: Peer, now: number, ctx: HandshakeContext, out: Outbox<T>): boolean {
    if (c.type === ContentType.handshake) return this.onProtectedHandshake(c, d, from, now, ctx, out);
    const k = this.current;
    if (k === null || c.epoch !== k.write.epoch) return false;
    if (!k.window.check(c.seq)) return false;
    // The plaintext is d[s, s + n): opened in place, without a view per step (each costs ~40 ns).
    const n = k.read.openInPlace(c, d);
    if (n < 0) return false;
    const s = c.start;
    k.window.update(c.seq);
    this.lastReceivedAt = now;
    if (this.peer !== null && !samePeer(this.peer, from)) {
      if (now - this.lastRebindAt < REBIND_INTERVAL_MS) return false;
      this.lastRebindAt = now;
      this.peer = from;
      out.events.push({ owner: this.owner, event: { kind: "peer-moved", peer: from } });
    }
    if (c.type === ContentType.alert) {
      // RFC 5246 §7.2.1: close_notify (or any fatal alert) ends this DTLS session; CSTP is untouched.
      if (n === 2 && (d[s] === 2 || d[s + 1] === 0)) {
        this.current = null;
        this.closed = true;
        out.events.push({ owner: this.owner, event: { kind: "closed", alert: d[s + 1]! } });
      }
      return true;
    }
    if (c.type !== ContentType.application_data || n === 0) return true;
    // The packet path: a DATA payload is handed on as the one view of the decrypted bytes.
    if (d[s] === PacketType.DATA) {
      if (n > 1) out.deliver.push({ owner: this.owner, type: PacketType.DATA, payload: d.subarray(s + 1, s + n) });
      return true;
    }
    this.onPacket(d.subarray(s, s + n), out);
    return true;
  }

  /**
   * An epoch-1 handshake record: the client's Finished (or its retransmission), which the handshake
   * opens with its own keys, or a renegotiating ClientHello under the current keys. We do not
   * renegotiate DTLS (RFC 5746 would need the previous Finished values): a no_renegotiation warning
   * (RFC 5246 §7.2.2) makes openconnect's REKEY_SSL fail at once and open a fresh DTLS session, which
   * arrives as an epoch-0 ClientHello and is served normally.
   */
  private onProtectedHandshake(c: RecordCursor, d: Uint8Array, from: Peer, now: number, ctx: HandshakeContext, out: Outbox<T>): boolean {
    const k = this.current;
    if (k !== null && this.peer !== null && samePeer(this.peer, from) && c.epoch === k.write.epoch && k.window.check(c.seq)) {
      const pt = k.read.open(c, d);
      if (pt !== null && pt[0] === HandshakeType.client_hello) {
        k.window.update(c.seq);
        this.lastReceivedAt = now;
        const alert = this.seal(Uint8Array.of(1, 100), ContentType.alert);
        if (alert !== null) out.sendTo.push({ bytes: alert, addr: from.addr, port: from.port });
        return true;
      }
    }
    if (this.slot === null || !samePeer(this.slot.peer, from)) return false;
    this.onEpoch0(c, d, now, ctx, out);
    return true;
  }

  /** protocol.md §4.4 / ocserv parse_data with is_dtls = 1. */
  private onPacket(pt: Uint8Array, out: Outbox<T>): void {
    const type = pt[0]!;
    switch (type) {
      case PacketType.DATA:
      case PacketType.COMPRESSED:
        if (pt.length > 1) out.deliver.push({ owner: this.owner, type, payload: pt.subarray(1) });
        return;
      case PacketType.DPD_REQ: {
        // Echo the same bytes with the type changed. A DPD-REQ larger than the data MTU is an MTU probe:
        // ocserv raises its estimate to the probe's size first (data_mtu_set), so the full echo goes out;
        // a probe beyond maxDataMtu leaves the MTU alone and gets a 1-byte answer.
        const size = pt.length - 1;
        const probe = size > this.dataMtu;
        if (probe && size <= this.maxDataMtu) this.dataMtu = size;
        pt[0] = PacketType.DPD_RESP;
        const reply = this.seal(size > this.dataMtu ? pt.subarray(0, 1) : pt);
        if (reply !== null && this.peer !== null) out.sendTo.push({ bytes: reply, addr: this.peer.addr, port: this.peer.port });
        out.events.push({ owner: this.owner, event: { kind: "dpd", bytes: size, probe } });
        return;
      }
      case PacketType.DISCONNECT:
        out.events.push({ owner: this.owner, event: { kind: "disconnect", reason: pt.length > 1 ? pt[1]! : null } });
        return;
      case PacketType.DPD_RESP:
      case PacketType.KEEPALIVE:
        return; // liveness only (lastReceivedAt); the server never answers keepalives (§5.2)
      default:
        return; // unknown types are ignored, as ocserv logs and ignores them
    }
  }

  /** Seals one record holding `plaintext` (type byte included) under the current keys. */
  seal(plaintext: Uint8Array, recordType: number = ContentType.application_data): Uint8Array | null {
    const k = this.current;
    if (k === null || k.write.cipher === null) return null;
    if (plaintext.length > MAX_PLAINTEXT || k.write.seq >= 0xffff_ffff_ffff) return null;
    const cipher = k.write.cipher;
    const out = new Uint8Array(DTLS_HEADER + cipher.overhead(plaintext.length));
    const po = cipher.plaintextOffset();
    out.set(plaintext, po);
    const n = cipher.seal(recordType, k.version, k.write.epoch, k.write.seq++, out.subarray(po, po + plaintext.length), out, 0);
    return n === out.length ? out : out.subarray(0, n);
  }

  /** Seals type byte + payload without building the concatenation first. */
  sealPacket(type: number, payload: Uint8Array): Uint8Array | null {
    const need = this.sealedPacketLength(payload.length);
    if (need < 0) return null;
    const out = new Uint8Array(need);
    const n = this.sealPacketInto(type, payload, out);
    return n === out.length ? out : out.subarray(0, n);
  }

  /** Bytes sealPacket needs for a payload of n bytes, or -1 when nothing can be sealed now. */
  sealedPacketLength(n: number): number {
    const k = this.current;
    if (k === null || k.write.cipher === null || 1 + n > MAX_PLAINTEXT || k.write.seq >= 0xffff_ffff_ffff) return -1;
    return DTLS_HEADER + k.write.cipher.overhead(1 + n);
  }

  /**
   * sealPacket into the caller's buffer at offset 0 (the send path seals into a pooled buffer instead
   * of allocating one per packet); returns the record's length, or -1 when nothing can be sealed now
   * or `out` is shorter than sealedPacketLength(payload.length). `payload` must not overlap `out`.
   */
  sealPacketInto(type: number, payload: Uint8Array, out: Uint8Array): number {
    const need = this.sealedPacketLength(payload.length);
    if (need < 0 || out.length < need) return -1;
    const k = this.current!;
    const cipher = k.write.cipher!;
    const len = 1 + payload.length;
    const po = cipher.plaintextOffset();
    out[po] = type;
    out.set(payload, po + 1);
    return cipher.seal(ContentType.application_data, k.version, k.write.epoch, k.write.seq++, out.subarray(po, po + len), out, 0);
  }
}

export function samePeer(a: Peer, b: Peer): boolean {
  return a.port === b.port && a.addr === b.addr;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
