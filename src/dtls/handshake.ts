// The server side of the two DTLS handshakes ocserv runs (protocol.md §4.2, §4.3), sans-I/O: records
// in, flights of records out, a retransmission deadline, and finally the epoch-1 keys.
//
//   PSK-NEGOTIATE (full handshake, RFC 4279 plain PSK; RFC 6347 §4.2.4 flights):
//     ClientHello            →
//                            ←  ServerHello, ServerHelloDone              (flight 4)
//     ClientKeyExchange, CCS, Finished →
//                            ←  CCS, Finished                             (flight 6)
//   Legacy "resumption" (abbreviated handshake with the X-DTLS-Master-Secret, §4.3):
//     ClientHello(session_id)→
//                            ←  ServerHello(same session_id), CCS, Finished
//     CCS, Finished          →
//
// The state is a closed union: each state names the message it waits for. A flight is kept as
// (epoch, type, plaintext) so a retransmission is sealed again with fresh record sequence numbers
// (RFC 6347 §4.2.4). Retransmission timer: 400 ms, doubling, the handshake fails after 60 s, like
// ocserv's gnutls_dtls_set_timeouts(400, 60000).

import { Reader, DecodeError } from "../wire/reader.ts";
import { concatBytes, constantTimeEqual } from "../wire/writer.ts";
import { ContentType, ExtensionType, HandshakeType, SCSV_RENEGOTIATION, encodeAlert } from "../tls/codec.ts";
import { AlertDescription, TlsError } from "../tls/errors.ts";
import type { ClientHello } from "../tls/codec.ts";
import { DTLS0_9, DTLS1_0, DTLS1_2, DTLS_HEADER, EpochCipher, writeHeader, type DtlsVersion, type RecordCursor } from "./record.ts";
import { PSK_SUITES, type DtlsSuite } from "./suites.ts";
import { finishedData, keyBlock, masterSecret, pskPremaster, handshakeHash } from "./keys.ts";
import { decodePskClientKeyExchange, encodeServerHello, fragmentMessage, fullHeader, readFragment, Reassembler, HS_HEADER, type AssembledMessage } from "./handshake-codec.ts";
import { ReplayWindow } from "./replay.ts";

export const RETRANSMIT_INITIAL_MS = 400;
export const RETRANSMIT_MAX_MS = 60_000;
export const HANDSHAKE_TOTAL_MS = 60_000;
/**
 * Resends of one flight that retransmitted client messages may trigger. A client retransmits on its
 * own doubling timer within the 60 s handshake (fewer than 10 times); beyond that, a replayed datagram
 * from the client's address would have us reflect our flight at the client for as long as it is sent.
 */
export const MAX_RESENDS_ON_RETRANSMISSION = 10;

/** How this session's DTLS is keyed (chosen at CONNECT by negotiate.ts). */
export type DtlsMode =
  | {
      readonly kind: "psk";
      /** The 32-byte exporter "EXPORTER-openconnect-psk" of the CSTP TLS session. */
      readonly key: Uint8Array;
      /** Suite ids allowed (match-tls-dtls-ciphers pins one); null: all of PSK_SUITES. */
      readonly allowedSuites: readonly number[] | null;
    }
  | {
      readonly kind: "legacy";
      /** X-DTLS-Master-Secret, 48 bytes. */
      readonly masterSecret: Uint8Array;
      readonly suite: DtlsSuite;
      readonly version: typeof DTLS1_2 | typeof DTLS0_9;
    };

/** One direction's record state for one epoch; the handshake hands the epoch-1 states to the channel. */
export class WriteState {
  constructor(
    readonly epoch: number,
    readonly cipher: EpochCipher | null,
    public seq = 0,
  ) {}
}

export interface EpochKeys {
  readonly version: DtlsVersion;
  readonly suite: DtlsSuite;
  readonly read: EpochCipher;
  readonly window: ReplayWindow;
  readonly write: WriteState;
}

interface FlightRecord {
  readonly epoch: 0 | 1;
  readonly type: number;
  readonly payload: Uint8Array;
}

interface Pending {
  readonly version: DtlsVersion;
  readonly suite: DtlsSuite;
  readonly master: Uint8Array;
  readonly read: EpochCipher;
  readonly write: EpochCipher;
}

type State =
  | { readonly kind: "expect-client-key-exchange"; readonly version: DtlsVersion; readonly suite: DtlsSuite; readonly ems: boolean }
  | { readonly kind: "expect-change-cipher-spec"; readonly keys: Pending }
  | { readonly kind: "expect-finished"; readonly keys: Pending }
  | { readonly kind: "done"; readonly keys: EpochKeys }
  | { readonly kind: "failed"; readonly error: TlsError };

export interface HandshakeStep {
  /** Datagrams to send now. */
  readonly datagrams: Uint8Array[];
  /** Set once, when the client's Finished verified. */
  readonly established: EpochKeys | null;
  /** Set once, when the handshake failed (an alert may be among `datagrams`). */
  readonly failed: TlsError | null;
}

const EMPTY: Uint8Array = new Uint8Array(0);

export interface HandshakeContext {
  readonly random: (n: number) => Uint8Array;
  /** Largest datagram we build (the path MTU minus IP and UDP headers). */
  readonly maxDatagram: number;
}

export class ServerHandshake {
  private state: State;
  private readonly transcript: Uint8Array[] = [];
  private readonly reassembler: Reassembler;
  private writeSeq = 0; // handshake message_seq
  private readonly epoch0 = new WriteState(0, null);
  private epoch1: WriteState | null = null;
  private flight: FlightRecord[] = [];
  private flightStart = 0;
  private timeout = RETRANSMIT_INITIAL_MS;
  /** Resends of the current flight prompted by the client's retransmissions (not by our timer). */
  private peerResends = 0;
  /** Deadline of the next retransmission, or null while we wait for nothing. */
  deadline: number | null = null;
  readonly clientRandom: Uint8Array;
  readonly serverRandom: Uint8Array;
  readonly recordVersion: DtlsVersion;

  private constructor(
    private readonly ctx: HandshakeContext,
    private readonly mode: DtlsMode,
    hello: ClientHello,
    helloSeq: number,
    version: DtlsVersion,
    now: number,
  ) {
    this.clientRandom = hello.random;
    this.serverRandom = ctx.random(32);
    this.reassembler = new Reassembler(helloSeq + 1);
    this.flightStart = now;
    this.recordVersion = version;
    this.state = { kind: "failed", error: new TlsError("internal", "not started") }; // replaced by start()
  }

  /** Starts on a reassembled ClientHello (body, and its message_seq). */
  static start(ctx: HandshakeContext, mode: DtlsMode, hello: ClientHello, helloBody: Uint8Array, helloSeq: number, now: number): { hs: ServerHandshake; step: HandshakeStep } {
    let version: DtlsVersion;
    try {
      version = chooseVersion(mode, hello.legacyVersion);
    } catch (e) {
      const hs = new ServerHandshake(ctx, mode, hello, helloSeq, mode.kind === "legacy" ? mode.version : DTLS1_2, now);
      return { hs, step: hs.fail(e) };
    }
    const hs = new ServerHandshake(ctx, mode, hello, helloSeq, version, now);
    try {
      hs.addTranscript(HandshakeType.client_hello, helloSeq, helloBody);
      return { hs, step: mode.kind === "psk" ? hs.startPsk(mode, version, hello, now) : hs.startLegacy(mode, version, hello, now) };
    } catch (e) {
      return { hs, step: hs.fail(e) };
    }
  }

  get done(): boolean {
    return this.state.kind === "done" || this.state.kind === "failed";
  }
  get established(): boolean {
    return this.state.kind === "done";
  }

  private startPsk(mode: Extract<DtlsMode, { kind: "psk" }>, version: DtlsVersion, hello: ClientHello, now: number): HandshakeStep {
    if (!hello.compressionMethods.includes(0)) throw new TlsError("illegal-parameter", "null compression not offered");
    const allowed = PSK_SUITES.filter(
      (s) => (mode.allowedSuites === null || mode.allowedSuites.includes(s.id)) && (version === DTLS1_2 || s.mac !== null),
    );
    // Server precedence, as ocserv's %SERVER_PRECEDENCE in tls-priorities.
    const suite = allowed.find((s) => hello.cipherSuites.includes(s.id));
    if (suite === undefined) throw new TlsError("no-common-cipher-suite", "no PSK suite in common");
    const exts = [];
    const reneg = hello.renegotiationInfo;
    if (reneg !== null && reneg.length !== 0) throw new TlsError("insecure-renegotiation", "renegotiation_info not empty on an initial handshake");
    // RFC 5746 §3.6: answer the SCSV or the empty extension with an empty renegotiation_info.
    if (reneg !== null || hello.cipherSuites.includes(SCSV_RENEGOTIATION)) exts.push({ type: ExtensionType.renegotiation_info, data: Uint8Array.of(0) });
    // RFC 7627 §5.1: echo extended_master_secret when offered.
    if (hello.extendedMasterSecret) exts.push({ type: ExtensionType.extended_master_secret, data: EMPTY });
    // A fresh session ID: the client's is the App-ID for routing, not a session to resume (protocol.md §4.2).
    const sh = encodeServerHello(version, this.serverRandom, this.ctx.random(32), suite.id, exts);
    this.state = { kind: "expect-client-key-exchange", version, suite, ems: hello.extendedMasterSecret };
    this.flight = [this.handshakeRecord(HandshakeType.server_hello, sh), this.handshakeRecord(HandshakeType.server_hello_done, EMPTY)];
    return this.sendFlight(now, true);
  }

  private startLegacy(mode: Extract<DtlsMode, { kind: "legacy" }>, version: DtlsVersion, hello: ClientHello, now: number): HandshakeStep {
    if (!hello.cipherSuites.includes(mode.suite.id)) throw new TlsError("no-common-cipher-suite", `client did not offer ${mode.suite.name}`);
    if (!hello.compressionMethods.includes(0)) throw new TlsError("illegal-parameter", "null compression not offered");
    // No EMS and no renegotiation_info: ocserv's %NO_SESSION_HASH:%DISABLE_SAFE_RENEGOTIATION (§4.3).
    const sh = encodeServerHello(version, this.serverRandom, hello.sessionId, mode.suite.id, []);
    this.flight = [this.handshakeRecord(HandshakeType.server_hello, sh)];
    const keys = this.deriveKeys(version, mode.suite, mode.masterSecret);
    this.epoch1 = new WriteState(1, keys.write);
    this.flight.push(this.changeCipherSpecRecord());
    const verify = finishedData(version, mode.suite, keys.master, "server", concatBytes(...this.transcript));
    this.flight.push(this.handshakeRecord(HandshakeType.finished, verify, 1));
    this.state = { kind: "expect-change-cipher-spec", keys };
    return this.sendFlight(now, true);
  }

  private deriveKeys(version: DtlsVersion, suite: DtlsSuite, master: Uint8Array): Pending {
    const kb = keyBlock(version, suite, master, this.clientRandom, this.serverRandom);
    return {
      version,
      suite,
      master,
      read: EpochCipher.create(suite, kb.clientKey, kb.clientMacKey, kb.clientIv, this.ctx.random),
      write: EpochCipher.create(suite, kb.serverKey, kb.serverMacKey, kb.serverIv, this.ctx.random),
    };
  }

  /** A record of this handshake (epoch 0 in the clear, or the client's epoch-1 Finished). */
  onRecord(c: RecordCursor, d: Uint8Array, now: number): HandshakeStep {
    if (this.state.kind === "failed") return this.nothing();
    try {
      if (c.type === ContentType.alert) return this.onAlert(c, d);
      if (c.epoch === 0) {
        if (c.type === ContentType.change_cipher_spec) return this.onChangeCipherSpec(d.subarray(c.start, c.end));
        if (c.type === ContentType.handshake) return this.onHandshakeFragments(d.subarray(c.start, c.end), now, false);
        return this.nothing();
      }
      if (c.epoch === 1 && c.type === ContentType.handshake && (this.state.kind === "expect-finished" || this.state.kind === "done")) {
        const pt = this.state.keys.read.open(c, d);
        if (pt === null) return this.nothing(); // RFC 6347 §4.1.2.7: drop silently
        return this.onHandshakeFragments(pt, now, true);
      }
      return this.nothing();
    } catch (e) {
      return this.fail(e);
    }
  }

  private onAlert(c: RecordCursor, d: Uint8Array): HandshakeStep {
    // Once the client's Finished has verified, its alerts come protected (epoch 1, handled by the
    // channel); an epoch-0 alert is then unauthenticated, and anyone who can spoof the client's
    // address could otherwise end DTLS for the session (the tunnel falls back to CSTP).
    if (c.epoch === 0 && this.state.kind === "done") return this.nothing();
    let body: Uint8Array | null = d.subarray(c.start, c.end);
    if (c.epoch === 1) body = this.state.kind === "expect-finished" || this.state.kind === "done" ? this.state.keys.read.open(c, d) : null;
    if (body === null || body.length !== 2) return this.nothing();
    if (body[0] === 2) {
      this.deadline = null;
      const e = new TlsError("peer-alert", `client sent fatal alert ${body[1]}`, body[1]);
      this.state = { kind: "failed", error: e };
      return { datagrams: [], established: null, failed: e };
    }
    return this.nothing();
  }

  private onChangeCipherSpec(body: Uint8Array): HandshakeStep {
    const st = this.state;
    if (st.kind === "done") return this.nothing(); // a retransmitted client flight; its Finished triggers our resend
    // A repeated CCS is a retransmission; one before we have keys means the ClientKeyExchange was lost
    // or reordered: drop it and let the client's retransmission bring the whole flight again.
    if (st.kind !== "expect-change-cipher-spec") return this.nothing();
    if (this.recordVersion === DTLS0_9) {
      // DTLS 0.9: type 1 and the sender's 2-byte message_seq, which the CCS consumes.
      if (body.length !== 3 || body[0] !== 1) throw new TlsError("decode-failure", "bad DTLS 0.9 ChangeCipherSpec");
      const seq = (body[1]! << 8) | body[2]!;
      if (seq !== this.reassembler.expected) return this.nothing();
      this.reassembler.skip();
    } else if (body.length !== 1 || body[0] !== 1) {
      throw new TlsError("decode-failure", "bad ChangeCipherSpec");
    }
    this.state = { kind: "expect-finished", keys: st.keys };
    return this.nothing();
  }

  private onHandshakeFragments(payload: Uint8Array, now: number, isProtected: boolean): HandshakeStep {
    const r = new Reader(payload);
    const messages: AssembledMessage[] = [];
    let retransmitted = false;
    try {
      while (!r.done) {
        const f = readFragment(r);
        // The only new message a client sends in the clear is the ClientKeyExchange we are waiting for
        // (the Finished comes under epoch 1, RFC 5246 §7.4.9); other unprotected fragments are at most
        // retransmissions. Without this, a spoofed plaintext fragment could stand in for the Finished
        // or take its message_seq slot in the reassembler and break the handshake.
        if (!isProtected && f.seq >= this.reassembler.expected && !(this.state.kind === "expect-client-key-exchange" && f.seq === this.reassembler.expected))
          continue;
        const got = this.reassembler.add(f);
        if (got === "old") retransmitted = true;
        else messages.push(...got);
      }
    } catch (e) {
      // RFC 6347 §4.1.2.7: an invalid record is discarded and the association survives; only a
      // malformed fragment that authenticated under epoch 1 is the client's own fault.
      if (e instanceof DecodeError && !isProtected) return this.nothing();
      if (e instanceof DecodeError) throw new TlsError("decode-failure", e.message);
      throw e;
    }
    const out: Uint8Array[] = [];
    let established: EpochKeys | null = null;
    for (const m of messages) {
      const step = this.onMessage(m, now);
      out.push(...step.datagrams);
      if (step.established !== null) established = step.established;
    }
    // RFC 6347 §4.2.4: a retransmitted client flight means ours was lost — send it again, at most
    // once per incoming datagram, and only when we have nothing newer to say.
    if (retransmitted && messages.length === 0 && this.flight.length > 0 && this.peerResends < MAX_RESENDS_ON_RETRANSMISSION) {
      this.peerResends++;
      return { datagrams: this.sealFlight(), established: null, failed: null };
    }
    return { datagrams: out, established, failed: null };
  }

  private onMessage(m: AssembledMessage, now: number): HandshakeStep {
    const st = this.state;
    switch (st.kind) {
      case "expect-client-key-exchange": {
        if (m.type !== HandshakeType.client_key_exchange) throw new TlsError("unexpected-message", `handshake type ${m.type}, expected ClientKeyExchange`);
        let identity: Uint8Array;
        try {
          identity = decodePskClientKeyExchange(m.body);
        } catch (e) {
          throw new TlsError("decode-failure", (e as Error).message);
        }
        void identity; // "psk" from openconnect; ocserv ignores it (protocol.md §4.2)
        this.addTranscript(m.type, m.seq, m.body);
        if (this.mode.kind !== "psk") throw new TlsError("internal", "PSK state in legacy mode");
        const pre = pskPremaster(this.mode.key);
        const sessionHash = st.ems ? handshakeHash(st.version, st.suite, concatBytes(...this.transcript)) : null;
        const master = masterSecret(st.version, st.suite, pre, this.clientRandom, this.serverRandom, sessionHash);
        pre.fill(0);
        const keys = this.deriveKeys(st.version, st.suite, master);
        // The timer keeps running until the client's whole flight (through Finished) is in: a lost
        // Finished is recovered by our retransmission prompting the client's (RFC 6347 §4.2.4).
        this.state = { kind: "expect-change-cipher-spec", keys };
        return this.nothing();
      }
      case "expect-finished": {
        if (m.type !== HandshakeType.finished) throw new TlsError("unexpected-message", `handshake type ${m.type}, expected Finished`);
        const k = st.keys;
        const expect = finishedData(k.version, k.suite, k.master, "client", concatBytes(...this.transcript));
        if (!constantTimeEqual(expect, m.body)) throw new TlsError("incorrect-finished", "client Finished does not verify");
        this.addTranscript(m.type, m.seq, m.body);
        const window = new ReplayWindow();
        let datagrams: Uint8Array[] = [];
        if (this.mode.kind === "psk") {
          this.epoch1 = new WriteState(1, k.write);
          const verify = finishedData(k.version, k.suite, k.master, "server", concatBytes(...this.transcript));
          this.flight = [this.changeCipherSpecRecord(), this.handshakeRecord(HandshakeType.finished, verify, 1)];
          datagrams = this.sendFlight(now, false).datagrams;
        } else {
          // We sent the last flight of the abbreviated handshake long ago; nothing to retransmit now.
          this.flight = [];
        }
        this.deadline = null;
        const keys: EpochKeys = { version: k.version, suite: k.suite, read: k.read, window, write: this.epoch1! };
        this.state = { kind: "done", keys };
        return { datagrams, established: keys, failed: null };
      }
      case "expect-change-cipher-spec":
        throw new TlsError("unexpected-message", `handshake type ${m.type} before ChangeCipherSpec`);
      case "done":
        // After completion only retransmissions arrive, and those are "old" in the reassembler.
        return this.nothing();
      case "failed":
        return this.nothing();
      default: {
        const never: never = st;
        throw new TlsError("internal", `unknown state ${String(never)}`);
      }
    }
  }

  /** Retransmission timer. */
  onTimer(now: number): HandshakeStep {
    if (this.deadline === null || now < this.deadline) return this.nothing();
    if (now - this.flightStart >= HANDSHAKE_TOTAL_MS) {
      this.deadline = null;
      const e = new TlsError("internal", "DTLS handshake timed out");
      this.state = { kind: "failed", error: e };
      return { datagrams: [], established: null, failed: e };
    }
    this.timeout = Math.min(this.timeout * 2, RETRANSMIT_MAX_MS);
    this.deadline = now + this.timeout;
    return { datagrams: this.sealFlight(), established: null, failed: null };
  }

  private nothing(): HandshakeStep {
    return { datagrams: [], established: null, failed: null };
  }

  private fail(e: unknown): HandshakeStep {
    const err = e instanceof TlsError ? e : e instanceof DecodeError ? new TlsError("decode-failure", e.message) : new TlsError("internal", String(e));
    this.state = { kind: "failed", error: err };
    this.deadline = null;
    this.flight = [];
    const alert = err.alert;
    const datagrams: Uint8Array[] = [];
    if (alert !== null) {
      // The one place DTLS sends alerts: a fatal alert in the clear (the client may not have our keys).
      const body = encodeAlert(2, AlertDescription[alert]);
      const out = new Uint8Array(DTLS_HEADER + 2);
      writeHeader(out, 0, ContentType.alert, this.recordVersion, 0, this.epoch0.seq++, 2);
      out.set(body, DTLS_HEADER);
      datagrams.push(out);
    }
    return { datagrams, established: null, failed: err };
  }

  private addTranscript(type: number, seq: number, body: Uint8Array): void {
    // DTLS 0.9 hashes the bodies only; DTLS 1.0/1.2 hash the 12-byte header as if unfragmented (RFC 6347 §4.2.6).
    if (this.recordVersion !== DTLS0_9) this.transcript.push(fullHeader(type, seq, body.length));
    this.transcript.push(body);
  }

  private handshakeRecord(type: number, body: Uint8Array, epoch: 0 | 1 = 0): FlightRecord {
    const seq = this.writeSeq++;
    this.addTranscript(type, seq, body);
    // The full message; sealFlight splits it into fragments that fit a datagram.
    return { epoch, type: ContentType.handshake, payload: concatBytes(fullHeader(type, seq, body.length), body) };
  }

  private changeCipherSpecRecord(): FlightRecord {
    if (this.recordVersion === DTLS0_9) {
      const seq = this.writeSeq++;
      return { epoch: 0, type: ContentType.change_cipher_spec, payload: Uint8Array.of(1, seq >>> 8, seq & 0xff) };
    }
    return { epoch: 0, type: ContentType.change_cipher_spec, payload: Uint8Array.of(1) };
  }

  private sendFlight(now: number, expectReply: boolean): HandshakeStep {
    this.flightStart = now;
    this.peerResends = 0;
    this.timeout = RETRANSMIT_INITIAL_MS;
    this.deadline = expectReply ? now + this.timeout : null;
    return { datagrams: this.sealFlight(), established: null, failed: null };
  }

  /** Seals the current flight into datagrams, fragmenting handshake messages to fit (RFC 6347 §4.2.3). */
  private sealFlight(): Uint8Array[] {
    const max = this.ctx.maxDatagram;
    const datagrams: Uint8Array[] = [];
    let cur: Uint8Array[] = [];
    let curLen = 0;
    const push = (rec: Uint8Array): void => {
      if (curLen + rec.length > max && cur.length > 0) {
        datagrams.push(concatBytes(...cur));
        cur = [];
        curLen = 0;
      }
      cur.push(rec);
      curLen += rec.length;
    };
    for (const r of this.flight) {
      const ws = r.epoch === 0 ? this.epoch0 : this.epoch1!;
      const overhead = DTLS_HEADER + (ws.cipher === null ? 0 : ws.cipher.overhead(0) + 16);
      let pieces: Uint8Array[] = [r.payload];
      if (r.type === ContentType.handshake) {
        const type = r.payload[0]!;
        const seq = (r.payload[4]! << 8) | r.payload[5]!;
        const body = r.payload.subarray(HS_HEADER);
        const room = Math.max(16, max - overhead - HS_HEADER);
        if (body.length > room) pieces = fragmentMessage(type, seq, body, room);
      }
      for (const p of pieces) push(this.sealRecord(ws, r.type, p));
    }
    if (cur.length > 0) datagrams.push(concatBytes(...cur));
    return datagrams;
  }

  private sealRecord(ws: WriteState, type: number, payload: Uint8Array): Uint8Array {
    const seq = ws.seq++;
    if (ws.cipher === null) {
      const out = new Uint8Array(DTLS_HEADER + payload.length);
      writeHeader(out, 0, type, this.recordVersion, ws.epoch, seq, payload.length);
      out.set(payload, DTLS_HEADER);
      return out;
    }
    const out = new Uint8Array(DTLS_HEADER + ws.cipher.overhead(payload.length));
    const n = ws.cipher.seal(type, this.recordVersion, ws.epoch, seq, payload, out, 0);
    return out.subarray(0, n);
  }
}

/** The DTLS version for this ClientHello's client_version (the highest it supports). */
function chooseVersion(mode: DtlsMode, v: number): DtlsVersion {
  // DTLS versions count down: 0xfefd (1.2) is newer than 0xfeff (1.0).
  const atLeast12 = v >>> 8 === 0xfe && (v & 0xff) <= 0xfd;
  if (mode.kind === "legacy") {
    // The version is pinned by the cipher name the client picked (protocol.md §4.3 table).
    if (mode.version === DTLS0_9 ? v === DTLS0_9 : atLeast12) return mode.version;
    throw new TlsError("no-common-version", `legacy DTLS ${mode.version.toString(16)} but the client offers ${v.toString(16)}`);
  }
  // PSK: "+VERS-DTLS-ALL" is DTLS 1.2 and 1.0 (protocol.md §4.2).
  if (atLeast12) return DTLS1_2;
  if (v === DTLS1_0) return DTLS1_0;
  throw new TlsError("no-common-version", `client offers DTLS version ${v.toString(16)}`);
}
