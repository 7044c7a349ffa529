// A minimal test-only TLS 1.3 client (x25519, TLS_AES_128_GCM_SHA256) built on our codec, key schedule
// and record protection, so that tests can drive the server in memory and tamper with what it sends.

import { createAead, createHash, generateKeyShare, randomBytes } from "../../src/crypto/index.ts";
import type { Hash, KeyShare, PrivateKey, SignatureScheme } from "../../src/crypto/types.ts";
import { Writer, concatBytes } from "../../src/wire/writer.ts";
import { Reader } from "../../src/wire/reader.ts";
import {
  ContentType,
  ExtensionType,
  HandshakeType,
  decodeServerHello,
  encodeCertificate13,
  encodeCertificateVerify,
  handshakeMessage,
  schemeId,
  groupId,
} from "../../src/tls/codec.ts";
import { EarlySecret, finishedVerifyData, resumptionPsk, trafficKeys, type MasterSecret } from "../../src/tls/keyschedule.ts";
import { NullProtection, OutputBuffer, Tls13Protection, type RecordProtection } from "../../src/tls/record.ts";
import { HandshakeJoiner, RecordDeframer } from "../../src/tls/deframer.ts";
import type { TlsServerConnection } from "../../src/tls/index.ts";

export interface ClientHelloOptions {
  sessionId?: Uint8Array;
  groups?: number[];
  shareGroup?: "x25519" | "secp256r1";
  suites?: number[];
  versions?: number[];
  sigAlgs?: number[];
  extraExtensions?: { type: number; data: Uint8Array }[];
  trailing?: Uint8Array;
  /** Offer a ticket (psk_dhe_ke); `tamperBinder` flips a bit of the computed binder. */
  resume?: { ticket: Uint8Array; psk: Uint8Array; tamperBinder?: boolean };
}

export function buildClientHello(o: ClientHelloOptions, share: KeyShare): Uint8Array {
  const w = new Writer(512);
  w.u16(0x0303).bytes(randomBytes(32)).vec8(o.sessionId ?? new Uint8Array(0));
  w.lengthPrefixed(2, (w) => (o.suites ?? [0x1301]).forEach((s) => w.u16(s)));
  w.vec8(Uint8Array.of(0));
  w.lengthPrefixed(2, (w) => {
    const e = (type: number, f: (w: Writer) => void) => w.u16(type).lengthPrefixed(2, f);
    e(ExtensionType.supported_versions, (w) => w.lengthPrefixed(1, (w) => (o.versions ?? [0x0304]).forEach((v) => w.u16(v))));
    e(ExtensionType.supported_groups, (w) => w.lengthPrefixed(2, (w) => (o.groups ?? [0x001d, 0x0017]).forEach((g) => w.u16(g))));
    e(ExtensionType.signature_algorithms, (w) =>
      w.lengthPrefixed(2, (w) => (o.sigAlgs ?? [schemeId("ecdsa_secp256r1_sha256"), schemeId("rsa_pss_rsae_sha256"), schemeId("ed25519")]).forEach((s) => w.u16(s))),
    );
    e(ExtensionType.key_share, (w) => w.lengthPrefixed(2, (w) => w.u16(groupId(share.group)).vec16(share.publicKey)));
    for (const x of o.extraExtensions ?? []) w.u16(x.type).vec16(x.data);
    if (o.resume) {
      e(ExtensionType.psk_key_exchange_modes, (w) => w.vec8(Uint8Array.of(1)));
      // pre_shared_key last, with a zero binder patched below (RFC 8446 §4.2.11.2)
      e(ExtensionType.pre_shared_key, (w) => {
        w.lengthPrefixed(2, (w) => w.vec16(o.resume!.ticket).u32(0));
        w.lengthPrefixed(2, (w) => w.vec8(new Uint8Array(32)));
      });
    }
  });
  if (o.trailing) w.bytes(o.trailing);
  const msg = handshakeMessage(HandshakeType.client_hello, w.finish());
  if (o.resume) {
    const truncated = msg.subarray(0, msg.length - 35);
    const early = EarlySecret.withPsk("sha256", o.resume.psk);
    const binder = finishedVerifyData("sha256", early.resumptionBinderKey(), createHash("sha256").update(truncated).digest());
    if (o.resume.tamperBinder) binder[0]! ^= 1;
    msg.set(binder, msg.length - 32);
  }
  return msg;
}

function record(type: number, body: Uint8Array, prot: RecordProtection = new NullProtection(0x0301)): Uint8Array {
  const out = new OutputBuffer();
  const { buf, offset } = out.reserve(prot.maxRecordSize(body.length));
  out.commit(prot.seal(type, body, buf, offset));
  return out.take()!;
}

export interface Alert {
  level: number;
  description: number;
}

/** The client side of one in-memory connection, one step at a time. */
export class TestClient13 {
  readonly share: KeyShare;
  transcript: Hash = createHash("sha256");
  read: RecordProtection = new NullProtection();
  write: RecordProtection = new NullProtection(0x0303);
  readonly deframer = new RecordDeframer();
  readonly joiner = new HandshakeJoiner();
  serverHsSecret: Uint8Array | null = null;
  clientHsSecret: Uint8Array | null = null;
  master: MasterSecret | null = null;
  clientApp: Uint8Array | null = null;
  serverApp: Uint8Array | null = null;
  /** Tickets received after the handshake, with the PSK each stands for. */
  readonly tickets: { ticket: Uint8Array; psk: Uint8Array }[] = [];
  /** Handshake messages (type) and alerts received, in order. */
  readonly received: { handshake: number[]; alerts: Alert[]; appData: Uint8Array[]; ccs: number } = {
    handshake: [],
    alerts: [],
    appData: [],
    ccs: 0,
  };

  constructor(
    readonly server: TlsServerConnection,
    readonly opts: ClientHelloOptions = {},
  ) {
    this.share = generateKeyShare(opts.shareGroup ?? "x25519");
  }

  clientHello(): Uint8Array {
    const ch = buildClientHello(this.opts, this.share);
    this.transcript.update(ch);
    return record(ContentType.handshake, ch);
  }

  /** Feeds everything the server has sent into the client, decrypting as keys become known. */
  pump(): void {
    const out = this.server.takeOutgoing();
    if (out === null) return;
    this.deframer.push(out);
    for (let r = this.deframer.next(); r !== null; r = this.deframer.next()) {
      if (r.type === ContentType.change_cipher_spec) {
        this.received.ccs++;
        continue;
      }
      const opened = this.read.open(r.type, r.version, r.fragment);
      if (opened.type === ContentType.alert) {
        this.received.alerts.push({ level: opened.plaintext[0]!, description: opened.plaintext[1]! });
        continue;
      }
      if (opened.type === ContentType.application_data) {
        this.received.appData.push(opened.plaintext);
        continue;
      }
      for (const m of this.joiner.push(opened.plaintext)) this.onHandshake(m.type, m.body, m.raw);
    }
  }

  private onHandshake(type: number, body: Uint8Array, raw: Uint8Array): void {
    this.received.handshake.push(type);
    if (type === HandshakeType.server_hello) {
      const sh = decodeServerHello(body);
      this.transcript.update(raw);
      const ks = sh.extensions.find((e) => e.type === ExtensionType.key_share)!;
      const r = new Reader(ks.data);
      r.u16();
      const peer = r.vec16();
      const pskAccepted = this.opts.resume !== undefined && sh.extensions.some((e) => e.type === ExtensionType.pre_shared_key);
      const early = pskAccepted ? EarlySecret.withPsk("sha256", this.opts.resume!.psk) : EarlySecret.withoutPsk("sha256");
      const hs = early.intoHandshake(this.share.computeSecret(peer));
      const h = this.transcript.clone().digest();
      this.serverHsSecret = hs.serverTrafficSecret(h);
      this.clientHsSecret = hs.clientTrafficSecret(h);
      this.master = hs.intoMaster();
      this.read = this.prot(this.serverHsSecret);
      return;
    }
    if (type === HandshakeType.new_session_ticket) {
      const r = new Reader(body);
      r.u32();
      r.u32();
      const nonce = r.vec8().slice();
      const ticket = r.vec16().slice();
      const res = this.master!.resumption(this.transcript.clone().digest());
      this.tickets.push({ ticket, psk: resumptionPsk("sha256", res, nonce) });
      return;
    }
    if (type === HandshakeType.key_update) {
      this.serverApp = nextSecret(this.serverApp!);
      this.read = this.prot(this.serverApp);
      return;
    }
    this.transcript.update(raw);
    if (type === HandshakeType.finished) {
      const h = this.transcript.clone().digest();
      this.clientApp = this.master!.clientTrafficSecret(h);
      this.serverApp = this.master!.serverTrafficSecret(h);
      this.read = this.prot(this.serverApp);
    }
  }

  prot(secret: Uint8Array): Tls13Protection {
    const k = trafficKeys("sha256", secret, 16);
    return new Tls13Protection(createAead("aes-128-gcm", k.key), k.iv);
  }

  /** The client Finished record (sealed with client handshake keys); switches writing to app keys. */
  finished(tamper?: (verifyData: Uint8Array) => void): Uint8Array {
    const vd = finishedVerifyData("sha256", this.clientHsSecret!, this.transcript.clone().digest());
    tamper?.(vd);
    const msg = handshakeMessage(HandshakeType.finished, vd);
    this.transcript.update(msg);
    const rec = record(ContentType.handshake, msg, this.handshakeWrite());
    this.write = this.prot(this.clientApp!);
    return rec;
  }

  /**
   * The client's authentication flight for a CertificateRequest: Certificate, CertificateVerify
   * (optionally tampered) and Finished, each sealed with the client handshake keys.
   */
  authenticatedFinished(chain: Uint8Array[], key: PrivateKey, scheme: SignatureScheme, tamperSignature = false): Uint8Array {
    const cert = handshakeMessage(
      HandshakeType.certificate,
      encodeCertificate13({ context: new Uint8Array(0), entries: chain.map((c) => ({ certData: c, extensions: [] })) }),
    );
    this.transcript.update(cert);
    const signed = concatBytes(new Uint8Array(64).fill(0x20), new TextEncoder().encode("TLS 1.3, client CertificateVerify\0"), this.transcript.clone().digest());
    const sig = key.sign(scheme, signed);
    if (tamperSignature) sig[sig.length - 1]! ^= 1;
    const cv = handshakeMessage(HandshakeType.certificate_verify, encodeCertificateVerify({ scheme: schemeId(scheme), signature: sig }));
    this.transcript.update(cv);
    return concatBytes(this.handshakeSealed(cert), this.handshakeSealed(cv), this.finished());
  }

  /** Seals with the current client write protection. */
  seal(type: number, body: Uint8Array): Uint8Array {
    return record(type, body, this.write);
  }

  private hsWrite: Tls13Protection | null = null;
  /** One protection (one sequence counter) for every record under the client handshake keys. */
  private handshakeWrite(): Tls13Protection {
    this.hsWrite ??= this.prot(this.clientHsSecret!);
    return this.hsWrite;
  }

  handshakeSealed(body: Uint8Array, type: number = ContentType.handshake): Uint8Array {
    return record(type, body, this.handshakeWrite());
  }
}

import { nextTrafficSecret } from "../../src/tls/keyschedule.ts";
function nextSecret(s: Uint8Array): Uint8Array {
  return nextTrafficSecret("sha256", s);
}

export { record as plainRecord };
