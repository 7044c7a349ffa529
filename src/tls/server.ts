// The sans-I/O TLS server connection: bytes in (receive), bytes out (takeOutgoing), application
// records in order (readApplicationData / write). Flow of one received chunk:
//
//   receive → RecordDeframer.next → [CCS handling] → RecordProtection.open → by content type:
//     alert       → handleAlert (close_notify answered, fatal alerts end the connection)
//     handshake   → HandshakeJoiner.push → handleHandshake(state, msg) → next state
//     application → appData queue (only in a traffic state)
//   any TlsError → fail(): the one place that sends an alert, then the connection is closed.
//
// Handshake states are a discriminated union (state.ts); each handler in tls13.ts / tls12.ts takes the
// state it needs and returns the next one, emitting messages and key changes through a HandshakeSink
// (no I/O). Traffic states are reached only after the peer's Finished was compared in constant time.
//
// Layers: codec.ts (message bodies) → deframer.ts (records, reassembly) → record.ts (protection) →
// keyschedule.ts; errors.ts maps each TlsError code to one alert; priorities.ts reads GnuTLS strings.

import { generateKeyShare as defaultGenerateKeyShare, randomBytes, CryptoError } from "../crypto/index.ts";
import type { KeyShare, NamedGroup } from "../crypto/types.ts";
import { DecodeError } from "../wire/reader.ts";
import { concatBytes } from "../wire/writer.ts";
import { ContentType, HandshakeType, TLS12, TLS13, decodeClientHello, encodeAlert, handshakeTypeName, type ClientHello } from "./codec.ts";
import { HandshakeJoiner, RecordDeframer, type HandshakeMessage } from "./deframer.ts";
import { AlertDescription, TlsError, alertName } from "./errors.ts";
import type { TlsPolicy } from "./priorities.ts";
import { MAX_PLAINTEXT, NullProtection, OutputBuffer, Tls13Protection, type RecordProtection } from "./record.ts";
import type { EffectiveConfig, HandshakeSink, HrrMemo, KeyingMaterialExporter, State, TlsInfo, TlsServerConfig } from "./state.ts";
import { on12Certificate, on12CertificateVerify, on12ClientHello, on12ClientKeyExchange, on12Finished } from "./tls12.ts";
import { on13Certificate, on13CertificateVerify, on13ClientHello, on13Finished, on13PostHandshake, sendKeyUpdate } from "./tls13.ts";

export type { TlsCredentials, TlsServerConfig, TlsInfo, ClientChainVerdict } from "./state.ts";

/** Consecutive records without application data or handshake progress that we tolerate. */
const MAX_IDLE_RECORDS = 32;
/** Records sent under one TLS 1.3 write key before we update it (RFC 8446 §5.5). */
export const KEY_UPDATE_AFTER_RECORDS = 2 ** 24;

export class TlsServerConnection {
  private readonly deframer = new RecordDeframer();
  private readonly joiner = new HandshakeJoiner();
  private readonly out = new OutputBuffer();
  private readonly appData: Uint8Array[] = [];
  private readProt: RecordProtection = new NullProtection();
  private writeProt: RecordProtection = new NullProtection();
  /** Handshake messages waiting to be sealed together under the current write protection. */
  private pendingHandshake: Uint8Array[] = [];
  private hs: State = { kind: "ExpectClientHello", hrr: null };
  private phase: "handshaking" | "established" | "closing" | "closed" = "handshaking";
  private failure: TlsError | null = null;
  private negotiatedInfo: TlsInfo | null = null;
  private maxFragment: number;
  private readonly random: (n: number) => Uint8Array;
  private readonly now: () => number;
  private readonly newKeyShare: (group: NamedGroup) => KeyShare;
  private exporter: KeyingMaterialExporter | null = null;
  private idleRecords = 0;
  /** The handlers' only way to act on the connection. */
  private readonly sink: HandshakeSink;

  constructor(private readonly config: TlsServerConfig) {
    this.random = config.random ?? randomBytes;
    this.now = config.now ?? Date.now;
    this.newKeyShare = config.generateKeyShare ?? defaultGenerateKeyShare;
    this.maxFragment = Math.min(MAX_PLAINTEXT, Math.max(64, config.maxRecordPlaintext ?? MAX_PLAINTEXT));
    const self = this;
    this.sink = {
      random: this.random,
      now: this.now,
      newKeyShare: this.newKeyShare,
      sessionCache: config.sessionCache,
      get writable() {
        return self.phase === "handshaking" || self.phase === "established";
      },
      handshake: (raw) => this.pendingHandshake.push(raw),
      changeCipherSpec: () => this.sendCcs(),
      setWriteProtection: (p) => this.setWriteProtection(p),
      setReadProtection: (p) => {
        this.readProt = p;
      },
      limitOutgoingFragment: (n) => {
        this.maxFragment = Math.min(this.maxFragment, n);
      },
      established: (info, exporter) => {
        this.negotiatedInfo = info;
        this.exporter = exporter;
        // close() during the handshake wins: we have already sent close_notify
        if (this.phase === "handshaking") this.phase = "established";
      },
    };
  }

  get state(): "handshaking" | "established" | "closing" | "closed" {
    return this.phase;
  }
  get error(): TlsError | null {
    return this.failure;
  }
  get info(): TlsInfo | null {
    return this.negotiatedInfo;
  }

  /**
   * Ciphertext from the peer, in any chunking. Records are opened in place inside the deframer's
   * buffer, so what readApplicationData() returns is a view valid until the next receive(); records
   * not yet read when receive() is called again are copied first, so none is ever lost or overwritten.
   */
  receive(bytes: Uint8Array): void {
    if (this.phase === "closed") return;
    for (let i = 0; i < this.appData.length; i++) this.appData[i] = this.appData[i]!.slice();
    try {
      this.deframer.push(bytes);
      for (;;) {
        if (this.hs.kind === "Closed") break;
        const rec = this.deframer.nextView();
        if (rec === null) break;
        this.handleRecord(rec.type, rec.version, rec.fragment);
      }
      this.flushHandshake();
    } catch (e) {
      this.fail(e);
    }
  }

  /**
   * Ciphertext to send, or null. A view of the connection's output buffer, valid until the next call
   * that produces output (write, receive, close, keyUpdate, fatalAlert): hand it to a socket that
   * copies or sends it at once, or copy it.
   */
  takeOutgoing(): Uint8Array | null {
    return this.out.takeView();
  }

  /** The next application-data record's plaintext, or null; valid until the next receive() (see there). */
  readApplicationData(): Uint8Array | null {
    return this.appData.shift() ?? null;
  }

  /** Seals `data` as one application_data record (split only if the peer's record_size_limit is smaller). */
  write(data: Uint8Array): void {
    if (this.phase !== "established") throw new TlsError("internal", `write() in state ${this.phase}`);
    if (data.length <= this.maxFragment) this.seal(ContentType.application_data, data);
    else
      for (let o = 0; o < data.length; o += this.maxFragment)
        this.seal(ContentType.application_data, data.subarray(o, Math.min(data.length, o + this.maxFragment)));
    this.updateWornWriteKey();
  }

  /**
   * RFC 8446 §5.5: an AES-GCM key protects at most 2^24.5 full-size records with a safe margin, which a
   * VPN falling back to CSTP can reach within hours; we move to the next traffic secret at 2^24.
   */
  private updateWornWriteKey(): void {
    const s = this.hs;
    if (s.kind === "Tls13Traffic" && this.writeProt instanceof Tls13Protection && this.writeProt.sequence >= KEY_UPDATE_AFTER_RECORDS)
      sendKeyUpdate(this.sink, s.t, false);
  }

  /** RFC 5705 (TLS 1.2) / RFC 8446 §7.5 (TLS 1.3); available from the end of the handshake on, also after close. */
  exportKeyingMaterial(label: string, context: Uint8Array | null, length: number): Uint8Array {
    if (this.exporter === null) throw new TlsError("internal", "exporter used before the handshake completed");
    if (!Number.isInteger(length) || length < 1 || length > 255 * 32) throw new TlsError("internal", `bad exporter length ${length}`);
    return this.exporter(label, context, length);
  }

  /** TLS 1.3 KeyUpdate (RFC 8446 §4.6.3): new server write keys; optionally ask the client to update too. */
  keyUpdate(requestPeer: boolean): void {
    const s = this.hs;
    if (s.kind !== "Tls13Traffic") throw new TlsError("internal", "keyUpdate needs an established TLS 1.3 connection");
    sendKeyUpdate(this.sink, s.t, requestPeer);
  }

  /**
   * Ends the connection with a fatal access_denied alert: what ocserv sends after a failed login or a
   * refused cookie (protocol.md §1.1). Goes through fail(), the one place that sends alerts.
   */
  fatalAlert(_alert: "access_denied"): void {
    if (this.phase === "closed") return;
    this.fail(new TlsError("access-denied", "refused by the application"));
  }

  close(): void {
    if (this.phase === "closed" || this.phase === "closing") return;
    this.sendAlert(1, AlertDescription.close_notify);
    this.phase = "closing";
  }

  // -------------------------------------------------------------------------------------------
  // Records

  private handleRecord(type: number, version: number, fragment: Uint8Array): void {
    // RFC 8446 §5.1: nothing may come between the records of one handshake message. Under TLS 1.3
    // protection every record says application_data on the outside, so the check for protected
    // records is on the inner type, after opening (below).
    if (this.joiner.hasPartial && type !== ContentType.handshake && !(this.readProt.encrypted && type === ContentType.application_data))
      throw new TlsError("unexpected-message", "record interleaved with a partial handshake message");
    if (type === ContentType.change_cipher_spec) {
      this.handleChangeCipherSpec(fragment);
      return;
    }
    // A TLS 1.3 client that fails to process our flight may send its alert unprotected (it may not
    // have derived the handshake keys); accept that during the handshake rather than answer it.
    if (type === ContentType.alert && this.readProt.encrypted && this.phase === "handshaking" && this.hs.kind.startsWith("Tls13")) {
      this.handleAlert(fragment);
      return;
    }
    if (!this.readProt.encrypted && type === ContentType.application_data)
      throw new TlsError("unexpected-message", "application data before keys were established");
    const rec = this.readProt.open(type, version, fragment);
    if (this.joiner.hasPartial && rec.type !== ContentType.handshake)
      throw new TlsError("unexpected-message", "record interleaved with a partial handshake message");
    switch (rec.type) {
      case ContentType.alert:
        this.handleAlert(rec.plaintext);
        return;
      case ContentType.handshake: {
        const msgs = this.joiner.push(rec.plaintext);
        for (let i = 0; i < msgs.length; i++) {
          const keyChanged = this.handleHandshake(msgs[i]!);
          // RFC 8446 §5.1: messages before a key change must end at a record boundary
          if (keyChanged && (i < msgs.length - 1 || this.joiner.hasPartial))
            throw new TlsError("unexpected-message", "handshake data after a key change in the same record");
          if (this.hs.kind === "Closed") return;
        }
        return;
      }
      case ContentType.application_data:
        if (this.hs.kind !== "Tls13Traffic" && this.hs.kind !== "Tls12Traffic")
          throw new TlsError("unexpected-message", "application data during the handshake");
        if (rec.plaintext.length > 0) {
          this.idleRecords = 0;
          this.appData.push(rec.plaintext);
        } else this.noProgress("empty application data record");
        return;
      default:
        throw new TlsError("unexpected-message", `content type ${rec.type} inside a protected record`);
    }
  }

  private handleChangeCipherSpec(fragment: Uint8Array): void {
    if (fragment.length !== 1 || fragment[0] !== 1) throw new TlsError("decode-failure", "malformed change_cipher_spec");
    const s = this.hs;
    switch (s.kind) {
      // RFC 8446 §5 / Appendix D.4: a TLS 1.3 peer may send one unprotected CCS during the handshake; ignore it
      case "ExpectClientHello":
        if (s.hrr === null) throw new TlsError("unexpected-message", "change_cipher_spec before ClientHello");
        this.noProgress("change_cipher_spec");
        return;
      case "Tls13ExpectCertificate":
      case "Tls13ExpectCertificateVerify":
      case "Tls13ExpectFinished":
        this.noProgress("change_cipher_spec");
        return;
      case "Tls12ExpectChangeCipherSpec":
        if (this.joiner.hasPartial) throw new TlsError("unexpected-message", "change_cipher_spec inside a handshake message");
        this.readProt = s.keys.read;
        this.hs = { kind: "Tls12ExpectFinished", hs: s.hs, peer: s.peer, keys: s.keys, resumed: s.resumed };
        return;
      default:
        throw new TlsError("unexpected-message", `change_cipher_spec in state ${s.kind}`);
    }
  }

  private handleAlert(p: Uint8Array): void {
    if (p.length !== 2) throw new TlsError("decode-failure", "alert record is not 2 bytes");
    const level = p[0]!;
    const desc = p[1]!;
    if (desc === AlertDescription.close_notify) {
      // RFC 8446 §6.1: answer with our own close_notify and stop reading
      if (this.phase !== "closing") this.sendAlert(1, AlertDescription.close_notify);
      this.phase = "closed";
      this.hs = { kind: "Closed" };
      return;
    }
    const is13 = this.hs.kind.startsWith("Tls13");
    // user_canceled is always a warning; other TLS 1.2 warnings are ignored; everything else is fatal
    if (desc === AlertDescription.user_canceled || (level === 1 && !is13)) {
      this.noProgress("warning alert");
      return;
    }
    this.failure = new TlsError("peer-alert", `peer sent ${alertName(desc) ?? desc}`, desc);
    this.phase = "closed";
    this.hs = { kind: "Closed" };
  }

  /**
   * Records that cost us work but move nothing forward (empty records, ignored warnings and CCS,
   * KeyUpdates) are allowed in bounded runs only, so a peer cannot keep us busy for free.
   */
  private noProgress(what: string): void {
    if (++this.idleRecords > MAX_IDLE_RECORDS) throw new TlsError("unexpected-message", `too many records without data (${what})`);
  }

  private fail(e: unknown): void {
    const err =
      e instanceof TlsError
        ? e
        : e instanceof DecodeError
          ? new TlsError("decode-failure", e.message)
          : e instanceof CryptoError && e.code === "bad-peer-key"
            ? new TlsError("bad-peer-key-share", e.message)
            : new TlsError("internal", e instanceof Error ? e.message : String(e));
    this.failure = err;
    const alert = err.alert;
    this.pendingHandshake = [];
    if (alert !== null && this.phase !== "closed") {
      try {
        this.sendAlert(2, AlertDescription[alert]);
      } catch {
        // nothing more can be done; the connection is closed below
      }
    }
    this.phase = "closed";
    this.hs = { kind: "Closed" };
  }

  private sendAlert(level: 1 | 2, desc: number): void {
    this.flushHandshake();
    this.seal(ContentType.alert, encodeAlert(level, desc));
  }

  private seal(type: number, plaintext: Uint8Array): void {
    const { buf, offset } = this.out.reserve(this.writeProt.maxRecordSize(plaintext.length));
    this.out.commit(this.writeProt.seal(type, plaintext, buf, offset));
  }

  /** Seals queued handshake messages into as few records as the fragment limit allows. */
  private flushHandshake(): void {
    if (this.pendingHandshake.length === 0) return;
    const all = this.pendingHandshake.length === 1 ? this.pendingHandshake[0]! : concatBytes(...this.pendingHandshake);
    this.pendingHandshake = [];
    for (let o = 0; o < all.length; o += this.maxFragment)
      this.seal(ContentType.handshake, all.subarray(o, Math.min(all.length, o + this.maxFragment)));
  }

  private setWriteProtection(p: RecordProtection): void {
    this.flushHandshake();
    this.writeProt = p;
  }

  private sendCcs(): void {
    this.flushHandshake();
    this.seal(ContentType.change_cipher_spec, Uint8Array.of(1));
  }

  // -------------------------------------------------------------------------------------------
  // Handshake dispatch. Returns true when the read keys changed (for the record-boundary rule).

  private handleHandshake(m: HandshakeMessage): boolean {
    const s = this.hs;
    switch (s.kind) {
      case "ExpectClientHello":
        this.expect(m, HandshakeType.client_hello);
        this.hs = this.onClientHello(m, s.hrr);
        return this.readProt.encrypted;
      case "Tls13ExpectCertificate":
        this.expect(m, HandshakeType.certificate);
        this.hs = on13Certificate(s.hs, m);
        return false;
      case "Tls13ExpectCertificateVerify":
        this.expect(m, HandshakeType.certificate_verify);
        this.hs = on13CertificateVerify(s.hs, s.peer, m);
        return false;
      case "Tls13ExpectFinished":
        this.expect(m, HandshakeType.finished);
        this.hs = on13Finished(this.sink, s.hs, s.peer, m);
        return true;
      case "Tls13Traffic":
        this.noProgress("KeyUpdate");
        return on13PostHandshake(this.sink, s.t, m);
      case "Tls12ExpectCertificate":
        this.expect(m, HandshakeType.certificate);
        this.hs = on12Certificate(s.hs, m);
        return false;
      case "Tls12ExpectClientKeyExchange":
        this.expect(m, HandshakeType.client_key_exchange);
        this.hs = on12ClientKeyExchange(this.sink, s.hs, s.peer, m);
        return false;
      case "Tls12ExpectCertificateVerify":
        this.expect(m, HandshakeType.certificate_verify);
        this.hs = on12CertificateVerify(s.hs, s.peer, s.keys, m);
        return false;
      case "Tls12ExpectChangeCipherSpec":
        throw new TlsError("unexpected-message", `${handshakeTypeName(m.type)} where change_cipher_spec was expected`);
      case "Tls12ExpectFinished":
        this.expect(m, HandshakeType.finished);
        this.hs = on12Finished(this.sink, s.hs, s.peer, s.keys, s.resumed, m);
        return false;
      case "Tls12Traffic":
        // RFC 5746: we never renegotiate; a new ClientHello is refused with no_renegotiation
        if (m.type === HandshakeType.client_hello)
          throw new TlsError("renegotiation-refused", "client-initiated renegotiation is not supported");
        throw new TlsError("unexpected-message", `${handshakeTypeName(m.type)} after the TLS 1.2 handshake`);
      case "Closed":
        return false;
      default: {
        const never: never = s;
        return never;
      }
    }
  }

  private expect(m: HandshakeMessage, type: number): void {
    if (m.type !== type)
      throw new TlsError("unexpected-message", `got ${handshakeTypeName(m.type)}, expected ${handshakeTypeName(type)}`);
  }

  // -------------------------------------------------------------------------------------------
  // ClientHello: version, vhost, suite, group, credentials

  private onClientHello(m: HandshakeMessage, hrr: HrrMemo | null): State {
    const ch = decodeClientHello(m.body);
    let cfg: EffectiveConfig;
    let sni: string | null;
    if (hrr !== null) {
      cfg = hrr.cfg;
      sni = hrr.sni;
    } else {
      sni = ch.serverName;
      const o = this.config.selectBySni?.(sni) ?? null;
      cfg = {
        credentials: o?.credentials ?? this.config.credentials,
        policy: o?.policy ?? this.config.policy,
        clientAuth: o?.clientAuth ?? this.config.clientAuth,
        verifyClientChain: o?.verifyClientChain ?? this.config.verifyClientChain,
      };
    }
    const v = this.selectVersion(ch, cfg.policy);
    if (hrr !== null && v !== "TLS1.3") throw new TlsError("illegal-parameter", "second ClientHello changed the version");
    if (v === "TLS1.3") return on13ClientHello(this.sink, m, ch, cfg, sni, hrr);
    return on12ClientHello(this.sink, m, ch, cfg, sni);
  }

  private selectVersion(ch: ClientHello, policy: TlsPolicy): "TLS1.2" | "TLS1.3" {
    const sv = ch.supportedVersions;
    // RFC 8446 §4.2.1: when supported_versions is present, legacy_version is ignored
    if (sv !== null) {
      if (sv.includes(TLS13) && policy.versions.includes("TLS1.3")) return "TLS1.3";
      if (sv.includes(TLS12) && policy.versions.includes("TLS1.2")) return "TLS1.2";
      throw new TlsError("no-common-version", "no common TLS version in supported_versions");
    }
    if (ch.legacyVersion >= TLS12 && policy.versions.includes("TLS1.2")) return "TLS1.2";
    throw new TlsError("no-common-version", `client offers only version ${ch.legacyVersion.toString(16)}`);
  }

}
