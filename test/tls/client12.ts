// A minimal test-only TLS 1.2 client (ECDHE with x25519, GCM or CBC suites, no certificate checks)
// built on our codec, PRF and record protection, for in-memory tamper tests of the 1.2 server path.

import { createAead, createCbc, createMac, generateKeyShare, hash, randomBytes } from "../../src/crypto/index.ts";
import type { KeyShare } from "../../src/crypto/types.ts";
import { Reader } from "../../src/wire/reader.ts";
import { Writer } from "../../src/wire/writer.ts";
import { ContentType, ExtensionType, HandshakeType, decodeServerHello, handshakeMessage, schemeId } from "../../src/tls/codec.ts";
import { HandshakeJoiner, RecordDeframer } from "../../src/tls/deframer.ts";
import { finished12, keyBlock12, masterSecret12 } from "../../src/tls/keyschedule.ts";
import { Cbc12, Gcm12, NullProtection, OutputBuffer, Tls12Protection, type RecordProtection } from "../../src/tls/record.ts";
import { suiteById, type CipherSuite } from "../../src/tls/suites.ts";
import type { TlsServerConnection } from "../../src/tls/index.ts";

function record(type: number, body: Uint8Array, prot: RecordProtection): Uint8Array {
  const out = new OutputBuffer();
  const { buf, offset } = out.reserve(prot.maxRecordSize(body.length));
  out.commit(prot.seal(type, body, buf, offset));
  return out.take()!;
}

export class TestClient12 {
  readonly share: KeyShare = generateKeyShare("x25519");
  readonly clientRandom = randomBytes(32);
  serverRandom: Uint8Array = new Uint8Array(32);
  suite: CipherSuite | null = null;
  transcript = new Writer(4096);
  read: RecordProtection = new NullProtection();
  write: RecordProtection = new NullProtection();
  pendingRead: RecordProtection | null = null;
  master: Uint8Array = new Uint8Array(0);
  serverPoint: Uint8Array = new Uint8Array(0);
  readonly deframer = new RecordDeframer();
  readonly joiner = new HandshakeJoiner();
  readonly received = { handshake: [] as number[], alerts: [] as number[], appData: [] as Uint8Array[] };

  constructor(
    readonly server: TlsServerConnection,
    readonly suites: number[] = [0xc02b],
  ) {}

  clientHello(): Uint8Array {
    const w = new Writer(256);
    w.u16(0x0303).bytes(this.clientRandom).vec8(new Uint8Array(0));
    w.lengthPrefixed(2, (w) => this.suites.forEach((s) => w.u16(s)));
    w.vec8(Uint8Array.of(0));
    w.lengthPrefixed(2, (w) => {
      w.u16(ExtensionType.supported_groups).vec16(Uint8Array.of(0, 2, 0, 0x1d));
      w.u16(ExtensionType.ec_point_formats).vec16(Uint8Array.of(1, 0));
      w.u16(ExtensionType.signature_algorithms).lengthPrefixed(2, (w) =>
        w.lengthPrefixed(2, (w) => [schemeId("ecdsa_secp256r1_sha256"), schemeId("rsa_pss_rsae_sha256")].forEach((s) => w.u16(s))),
      );
      w.u16(ExtensionType.renegotiation_info).vec16(Uint8Array.of(0));
      w.u16(ExtensionType.extended_master_secret).vec16(new Uint8Array(0));
    });
    const msg = handshakeMessage(HandshakeType.client_hello, w.finish());
    this.transcript.bytes(msg);
    return record(ContentType.handshake, msg, new NullProtection(0x0301));
  }

  pump(): void {
    const out = this.server.takeOutgoing();
    if (out === null) return;
    this.deframer.push(out);
    for (let r = this.deframer.next(); r !== null; r = this.deframer.next()) {
      if (r.type === ContentType.change_cipher_spec) {
        this.read = this.pendingRead!;
        continue;
      }
      const o = this.read.open(r.type, r.version, r.fragment);
      if (o.type === ContentType.alert) this.received.alerts.push(o.plaintext[1]!);
      else if (o.type === ContentType.application_data) this.received.appData.push(o.plaintext);
      else
        for (const m of this.joiner.push(o.plaintext)) {
          this.received.handshake.push(m.type);
          if (m.type === HandshakeType.server_hello) {
            const sh = decodeServerHello(m.body);
            this.serverRandom = sh.random;
            this.suite = suiteById(sh.cipherSuite);
          }
          if (m.type === HandshakeType.server_key_exchange) {
            const r = new Reader(m.body);
            r.u8();
            r.u16();
            this.serverPoint = r.vec8().slice();
          }
          if (m.type !== HandshakeType.finished) this.transcript.bytes(m.raw);
        }
    }
  }

  /** ClientKeyExchange, ChangeCipherSpec and Finished; `tamper` may change the verify_data. */
  finish(tamper?: (vd: Uint8Array) => void): Uint8Array {
    const suite = this.suite!;
    const cke = handshakeMessage(HandshakeType.client_key_exchange, new Writer(40).vec8(this.share.publicKey).finish());
    this.transcript.bytes(cke);
    const pms = this.share.computeSecret(this.serverPoint);
    this.master = masterSecret12(suite.hash, pms, this.clientRandom, this.serverRandom, hash(suite.hash, this.transcript.view()));
    const gcm = suite.mac === null;
    const macLen = suite.mac === null ? 0 : suite.mac === "sha1" ? 20 : 32;
    const kb = keyBlock12(suite.hash, this.master, this.clientRandom, this.serverRandom, macLen, suite.keyLength, gcm ? 4 : 0);
    const mk = (key: Uint8Array, mac: Uint8Array, iv: Uint8Array) =>
      new Tls12Protection(
        gcm
          ? new Gcm12(createAead(suite.cipher as "aes-128-gcm", key), iv)
          : new Cbc12(createCbc(suite.cipher as "aes-128-cbc", key), createMac(suite.mac!, mac), randomBytes),
      );
    this.write = mk(kb.clientKey, kb.clientMacKey, kb.clientIv);
    this.pendingRead = mk(kb.serverKey, kb.serverMacKey, kb.serverIv);
    const vd = finished12(suite.hash, this.master, "client", hash(suite.hash, this.transcript.view()));
    tamper?.(vd);
    const fin = handshakeMessage(HandshakeType.finished, vd);
    this.transcript.bytes(fin);
    const plain = new NullProtection();
    const parts = [record(ContentType.handshake, cke, plain), record(ContentType.change_cipher_spec, Uint8Array.of(1), plain), record(ContentType.handshake, fin, this.write)];
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  seal(type: number, body: Uint8Array): Uint8Array {
    return record(type, body, this.write);
  }
}
