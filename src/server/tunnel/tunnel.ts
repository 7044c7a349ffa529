// The data path of one tunnel (protocol.md §3, §5.2, §5.3, §7; ocserv worker-vpn.c tun_mainloop,
// parse_cstp_data, periodic_check, worker-bandwidth.c).
//
// Packet flow, in the order the functions below follow:
//   client → server: receiveRecord(record)
//     → CstpDeframer (reassembles by length; bad magic / byte 7 / oversize → close with "error")
//     → packet(): every packet refreshes DPD liveness;
//         DATA        → rx budget → idle accounting → tun.write (EAGAIN → hold one packet, pause the
//                       transport, retry on a short timer; ocserv tun_enqueue_write)
//         DPD-REQ     → the same bytes echoed with type DPD-RESP
//         DPD-RESP / KEEPALIVE → liveness only
//         DISCONNECT  → 0xb0 user-disconnect, 0x91 or empty user-reconnect, other → error
//         COMPRESSED  → compression is never negotiated, so the tunnel closes
//   server → client: fromTun(buf, len), the packet at buf[8..8+len) in a pooled buffer
//     → tx budget → idle accounting → 8-byte header written in front → transport.sendRecord (one record);
//     afterTunBatch(): a congested transport pauses the tun reader until transportWritable()
//   DTLS (protocol.md §4.4, §5.4), when the manager attached a UdpChannel:
//     client → server: fromDtls(type, payload) marks the UDP channel ACTIVE; DATA goes to the tun like
//       CSTP DATA; DPD-REQs were already answered by the DTLS endpoint; DISCONNECT ends the tunnel.
//     server → client: fromTun() sends over DTLS while it is ACTIVE and UDP has been heard within
//       switch-to-tcp-timeout; otherwise over CSTP. A DATA packet on CSTP while DTLS is ACTIVE means the
//       client switched to TCP: DTLS goes INACTIVE until the next valid DTLS record.
//   timers: periodicCheck(), driven by the manager every 10 s (ocserv: every 10 s, acting at ≥ 30 s;
//     we act on every call, so limits fire within 10 s of expiry rather than 30 s):
//         session-timeout → end("session-timeout"); silence > 2×dpd → send DPD-REQ (at most once per
//         30 s, ocserv's cadence); silence > 3×dpd → end("dpd-timeout"); no data for idle-timeout →
//         end("idle-timeout").
// Nothing on the per-packet path allocates: records are parsed in place, control replies go through a
// preallocated scratch buffer, and no per-packet logging happens.

import type { DisconnectReason, TunnelHandle, TunnelTransport } from "../contract.ts";
import {
  BYE_RECONNECT,
  BYE_USER_DISCONNECT,
  CSTP_HEADER_LEN,
  CstpDeframer,
  CstpError,
  CstpType,
  writeCstpHeader,
  type CstpSink,
} from "./cstp.ts";

/** The part of a tun device the data path writes to (src/tun TunDevice satisfies it). */
export interface TunWriter {
  /** Writes one IP packet; false when the kernel would block (the packet was not written). */
  write(packet: Uint8Array): boolean;
}

/** Pausing the tun reader while the transport is congested (src/tun TunDevice satisfies it). */
export interface TunReadFlow {
  pause(): void;
  resume(): void;
}

/** The DTLS side of one session (the server wiring adapts src/dtls's endpoint to this). */
export interface UdpChannel {
  /** Sends one packet as a DTLS record: buf[offset..offset+len) with CSTP packet type `type`.
   *  False when DTLS cannot carry it now (not established, too large); the caller falls back to CSTP. */
  send(type: number, buf: Uint8Array, offset: number, len: number): boolean;
}

export interface TunnelTimers {
  /** Milliseconds since the epoch. */
  now(): number;
  /** One-shot timer; returns a cancel function. */
  setTimeout(fn: () => void, ms: number): () => void;
}

export interface TunnelOptions {
  readonly transport: TunnelTransport;
  readonly tun: TunWriter;
  /** Paused while transport.congested, resumed on transportWritable(). */
  readonly tunReader?: TunReadFlow;
  readonly timers: TunnelTimers;
  /** DPD seconds in effect (dpd or mobile-dpd); 0 disables server DPD. */
  readonly dpd: number;
  /** idle-timeout seconds in effect (vhost value, or mobile-idle-timeout); 0 = off. */
  readonly idleTimeout: number;
  /** session-timeout seconds (per user); 0 = off. */
  readonly sessionTimeout: number;
  /** Time of the original authentication (ms), which session-timeout counts from. */
  readonly authTime: number;
  /** Bytes per second accepted from the client (rx-data-per-sec); 0 = unlimited. */
  readonly rxPerSec: number;
  /** Bytes per second sent to the client (tx-data-per-sec); 0 = unlimited. */
  readonly txPerSec: number;
  /** Largest CSTP payload accepted from the client. */
  readonly maxPayload: number;
  /** switch-to-tcp-timeout seconds: a packet goes over CSTP when no UDP arrived for this long. */
  readonly switchToTcpTimeout?: number;
  /** Seconds between server KeyUpdates (TLS 1.3 with rekey-method ssl); 0 or absent = none. */
  readonly tlsRekeyTime?: number;
  /** Called once when the tunnel has ended, with the reason; the manager releases resources. */
  readonly onEnd: (reason: DisconnectReason) => void;
}

/** ocserv PERIODIC_CHECK_TIME: server DPD requests go out at most this often. */
const DPD_RESEND_MS = 30_000;
/** How soon a tun write that hit EAGAIN is retried. */
const TUN_RETRY_MS = 1;

type TunnelState =
  | { readonly kind: "running" }
  /** A received packet waits in `pending` for the tun to accept it; transport reading is paused. */
  | { readonly kind: "blocked"; readonly length: number }
  | { readonly kind: "ended"; readonly reason: DisconnectReason };

const RUNNING: TunnelState = Object.freeze({ kind: "running" });

/**
 * Token bucket for rx/tx-data-per-sec: up to one second of budget, refilled continuously. Packets
 * over the budget are dropped, not queued (protocol.md §7, worker-bandwidth.c).
 */
export class ByteBudget {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    now: number,
  ) {
    this.tokens = perSecond;
    this.last = now;
  }

  allow(bytes: number, now: number): boolean {
    if (this.perSecond <= 0) return true;
    const elapsed = now - this.last;
    if (elapsed > 0) {
      this.tokens = Math.min(this.perSecond, this.tokens + (elapsed * this.perSecond) / 1000);
      this.last = now;
    }
    if (this.tokens < bytes) return false;
    this.tokens -= bytes;
    return true;
  }
}

/** What a client's BYE means for its cookie (protocol.md §3): 0xb0 user disconnect, 0x91 or no reason a reconnect. */
export function byeReason(payload: Uint8Array): DisconnectReason {
  if (payload.length === 0 || payload[0] === BYE_RECONNECT) return "user-reconnect";
  return payload[0] === BYE_USER_DISCONNECT ? "user-disconnect" : "error";
}

/**
 * ocserv is_data(): ICMP (1), IGMP (2) and ICMPv6 (58) do not count as activity for idle-timeout.
 * IPv4 protocol is at byte 9, IPv6 next-header at byte 6; extension headers are not walked.
 */
export function countsAsData(buf: Uint8Array, at: number, len: number): boolean {
  if (len < 1) return false;
  const version = buf[at]! >> 4;
  if (version === 4) {
    if (len < 10) return true;
    const proto = buf[at + 9]!;
    return proto !== 1 && proto !== 2;
  }
  if (version === 6) {
    if (len < 7) return true;
    return buf[at + 6]! !== 58;
  }
  return true;
}

export interface TunnelStats {
  /** Payload bytes received from the client (DATA). */
  readonly bytesIn: number;
  /** Payload bytes sent to the client (DATA). */
  readonly bytesOut: number;
  readonly droppedIn: number;
  readonly droppedOut: number;
  readonly startTime: number;
}

export class Tunnel implements TunnelHandle, CstpSink {
  private state: TunnelState = RUNNING;
  private readonly deframer: CstpDeframer;
  private readonly pending: Uint8Array;
  /** Scratch for DPD echoes and control packets: replies never allocate. */
  private readonly scratch: Uint8Array;
  private readonly rxBudget: ByteBudget;
  private readonly txBudget: ByteBudget;
  private cancelRetry: (() => void) | null = null;
  private lastRx: number;
  private lastData: number;
  private lastDpdSent = 0;
  private tunPaused = false;
  /** The DTLS channel, once attached; `udpActive` is ocserv's UDP_ACTIVE state. */
  private udp: UdpChannel | null = null;
  private udpActive = false;
  private lastUdpRx = 0;
  private lastUdpDpdSent = 0;
  private lastTlsRekey: number;
  private bytesIn = 0;
  private bytesOut = 0;
  private droppedIn = 0;
  private droppedOut = 0;
  readonly startTime: number;

  constructor(private readonly opts: TunnelOptions) {
    const now = opts.timers.now();
    this.startTime = now;
    this.lastRx = now;
    this.lastData = now;
    this.lastTlsRekey = now;
    this.deframer = new CstpDeframer(opts.maxPayload);
    this.pending = new Uint8Array(opts.maxPayload);
    this.scratch = new Uint8Array(CSTP_HEADER_LEN + opts.maxPayload);
    this.rxBudget = new ByteBudget(opts.rxPerSec, now);
    this.txBudget = new ByteBudget(opts.txPerSec, now);
  }

  get ended(): boolean {
    return this.state.kind === "ended";
  }

  get endReason(): DisconnectReason | null {
    return this.state.kind === "ended" ? this.state.reason : null;
  }

  get stats(): TunnelStats {
    return {
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      droppedIn: this.droppedIn,
      droppedOut: this.droppedOut,
      startTime: this.startTime,
    };
  }

  // ---- client → server ---------------------------------------------------------------------------

  receiveRecord(data: Uint8Array): void {
    if (this.state.kind === "ended") return;
    this.lastRx = this.opts.timers.now();
    try {
      this.deframer.push(data, this);
    } catch (e) {
      if (e instanceof CstpError) {
        this.finish("error", false);
        return;
      }
      throw e;
    }
  }

  /** CstpSink: one complete packet from the client. Views are only valid during the call. */
  packet(type: number, payload: Uint8Array, frame: Uint8Array): void {
    if (this.state.kind === "ended") return;
    switch (type) {
      case CstpType.DATA:
        // DATA on CSTP while DTLS is active: the client moved to TCP (worker-vpn.c parse_cstp_data).
        this.udpActive = false;
        this.dataFromClient(payload, this.lastRx);
        return;
      case CstpType.DPD_REQ: {
        // Reply with the same bytes, only the type changed (worker-vpn.c parse_cstp_data).
        const out = this.scratch.subarray(0, frame.length);
        out.set(frame);
        out[6] = CstpType.DPD_RESP;
        this.opts.transport.sendRecord(out);
        return;
      }
      case CstpType.DPD_RESP:
      case CstpType.KEEPALIVE:
        return; // liveness was refreshed in receiveRecord
      case CstpType.DISCONNECT:
        this.finish(byeReason(payload), false);
        return;
      case CstpType.COMPRESSED:
        // No algorithm was negotiated (protocol.md §6: "the connection is dropped").
        this.finish("error", false);
        return;
      default:
        return; // unknown types are ignored, as ocserv does
    }
  }

  private dataFromClient(payload: Uint8Array, now: number): void {
    const len = payload.length;
    if (len === 0) return; // empty DATA packets are ignored
    // CSTP packets are bounded by the deframer, but a DTLS record may carry up to 2^14 bytes: a
    // packet larger than the tunnel's maximum is dropped here, before it could reach the tun or the
    // fixed-size `pending` buffer (a RangeError there would escape the UDP socket callback).
    if (len > this.opts.maxPayload) {
      this.droppedIn++;
      return;
    }
    if (this.state.kind === "blocked" || !this.rxBudget.allow(len, now)) {
      this.droppedIn++;
      return;
    }
    if (countsAsData(payload, 0, len)) this.lastData = now;
    this.bytesIn += len;
    let written: boolean;
    try {
      written = this.opts.tun.write(payload);
    } catch {
      // A tun write error other than EAGAIN (device gone): the tunnel cannot continue.
      this.finish("error", true);
      return;
    }
    if (!written) this.block(payload);
  }

  /** The tun refused a packet (EAGAIN): keep it, stop reading the transport, retry shortly. */
  private block(payload: Uint8Array): void {
    this.pending.set(payload);
    this.state = { kind: "blocked", length: payload.length };
    this.opts.transport.pauseReading?.();
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    this.cancelRetry = this.opts.timers.setTimeout(() => this.retryPending(), TUN_RETRY_MS);
  }

  private retryPending(): void {
    this.cancelRetry = null;
    if (this.state.kind !== "blocked") return;
    let written: boolean;
    try {
      written = this.opts.tun.write(this.pending.subarray(0, this.state.length));
    } catch {
      this.finish("error", true);
      return;
    }
    if (!written) {
      this.scheduleRetry();
      return;
    }
    this.state = RUNNING;
    this.opts.transport.resumeReading?.();
  }

  // ---- server → client ---------------------------------------------------------------------------

  /**
   * A packet read from the tun sits at buf[8..8+len); the header is written into buf[0..8) and the
   * whole frame is sent as one record. The transport must consume the bytes before returning (the
   * buffer is reused for the next read).
   */
  fromTun(buf: Uint8Array, len: number): void {
    if (this.state.kind === "ended") return;
    if (len <= 0 || len > 0xffff || buf.length < CSTP_HEADER_LEN + len) return;
    const now = this.opts.timers.now();
    if (!this.txBudget.allow(len, now)) {
      this.droppedOut++;
      return;
    }
    if (countsAsData(buf, CSTP_HEADER_LEN, len)) this.lastData = now;
    this.bytesOut += len;
    if (this.udpActive && this.udp !== null) {
      const quiet = this.opts.switchToTcpTimeout ?? 0;
      if (quiet > 0 && now - this.lastUdpRx > quiet * 1000) {
        // No UDP heard for switch-to-tcp-timeout: the NAT binding may be gone, so use TCP (§5.4).
        this.udpActive = false;
      } else if (this.udp.send(CstpType.DATA, buf, CSTP_HEADER_LEN, len)) {
        return;
      }
    }
    writeCstpHeader(buf, 0, CstpType.DATA, len);
    this.opts.transport.sendRecord(buf.subarray(0, CSTP_HEADER_LEN + len));
  }

  // ---- DTLS --------------------------------------------------------------------------------------

  /** The manager attaches the session's DTLS channel once the tunnel exists. */
  attachUdp(channel: UdpChannel): void {
    this.udp = channel;
  }

  /** The DTLS handshake completed (or a rekeyed session took over): UDP is ACTIVE. */
  udpEstablished(): void {
    if (this.state.kind === "ended") return;
    this.udpActive = true;
    this.lastUdpRx = this.opts.timers.now();
  }

  /** The DTLS session closed or failed: traffic stays on CSTP. */
  udpLost(): void {
    this.udpActive = false;
  }

  /** One packet from the client over DTLS (already decrypted; DPD-REQs were answered by the endpoint). */
  fromDtls(type: number, payload: Uint8Array): void {
    if (this.state.kind === "ended") return;
    const now = this.opts.timers.now();
    this.lastUdpRx = now;
    this.udpActive = this.udp !== null;
    switch (type) {
      case CstpType.DATA:
        this.dataFromClient(payload, now);
        return;
      case CstpType.DISCONNECT:
        this.finish(byeReason(payload), false);
        return;
      case CstpType.COMPRESSED:
        this.finish("error", false);
        return;
      default:
        return; // DPD and keepalive: liveness only
    }
  }

  /**
   * Called after each batch read from the tun: if the transport's queue is over its high-water mark,
   * stop reading the tun (the kernel queue then fills and drops, bounded by txqueuelen).
   */
  afterTunBatch(): void {
    if (this.opts.transport.congested === true && !this.tunPaused && this.opts.tunReader) {
      this.tunPaused = true;
      this.opts.tunReader.pause();
    }
  }

  /** TunnelHandle: the transport drained; resume reading the tun. */
  transportWritable(): void {
    if (!this.tunPaused || this.state.kind === "ended") return;
    this.tunPaused = false;
    this.opts.tunReader?.resume();
  }

  // ---- timers ------------------------------------------------------------------------------------

  /** The periodic check (protocol.md §5.2, §5.3). Safe to call at any cadence. */
  periodicCheck(): void {
    if (this.state.kind === "ended") return;
    const o = this.opts;
    const now = o.timers.now();
    if (o.sessionTimeout > 0 && now - o.authTime > o.sessionTimeout * 1000) {
      this.end("session-timeout");
      return;
    }
    if (o.dpd > 0) {
      const silence = now - this.lastRx;
      if (silence > 3 * o.dpd * 1000) {
        this.end("dpd-timeout");
        return;
      }
      if (silence > 2 * o.dpd * 1000 && (this.lastDpdSent <= this.lastRx || now - this.lastDpdSent >= DPD_RESEND_MS)) {
        this.lastDpdSent = now;
        this.sendControl(CstpType.DPD_REQ);
      }
    }
    if (o.dpd > 0 && this.udpActive && this.udp !== null) {
      // DTLS DPD (§5.2): a DPD-REQ after 2×dpd of UDP silence, INACTIVE after 3×dpd.
      const quiet = now - this.lastUdpRx;
      if (quiet > 3 * o.dpd * 1000) {
        this.udpActive = false;
      } else if (quiet > 2 * o.dpd * 1000 && (this.lastUdpDpdSent <= this.lastUdpRx || now - this.lastUdpDpdSent >= DPD_RESEND_MS)) {
        this.lastUdpDpdSent = now;
        this.udp.send(CstpType.DPD_REQ, this.scratch, 0, 0);
      }
    }
    if (o.idleTimeout > 0 && now - this.lastData > o.idleTimeout * 1000) {
      this.end("idle-timeout");
      return;
    }
    const rekey = o.tlsRekeyTime ?? 0;
    if (rekey > 0 && now - this.lastTlsRekey >= rekey * 1000) {
      // ocserv 1.5.1: on TLS 1.3 the server rekeys itself (gnutls_session_key_update with KU_PEER).
      this.lastTlsRekey = now;
      o.transport.keyUpdate?.();
    }
  }

  // ---- ending ------------------------------------------------------------------------------------

  /** Ends the tunnel from the server side: BYE (an empty DISCONNECT, ocserv cstp_send_terminate), then close. */
  end(reason: DisconnectReason): void {
    this.finish(reason, true);
  }

  /** The TLS connection is gone; without an earlier reason this is an error (the cookie survives). */
  transportClosed(): void {
    if (this.state.kind === "ended") return;
    this.finish("error", false, false);
  }

  private sendControl(type: number): void {
    writeCstpHeader(this.scratch, 0, type, 0);
    this.opts.transport.sendRecord(this.scratch.subarray(0, CSTP_HEADER_LEN));
  }

  private finish(reason: DisconnectReason, sendBye: boolean, closeTransport = true): void {
    if (this.state.kind === "ended") return;
    this.state = { kind: "ended", reason };
    if (this.cancelRetry) {
      this.cancelRetry();
      this.cancelRetry = null;
    }
    if (sendBye) {
      try {
        this.sendControl(CstpType.DISCONNECT);
      } catch {
        // The transport may already be failing; closing below is what matters.
      }
    }
    if (closeTransport) this.opts.transport.close();
    this.opts.onEnd(reason);
  }
}
