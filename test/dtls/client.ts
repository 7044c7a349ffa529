// A minimal DTLS client for in-memory tests: PSK full handshake (DTLS 1.2/1.0) and legacy
// resumption (DTLS 1.2 / 0.9). It shares the record and key code with the server, so the real-client
// interop (gnutls-cli, openssl s_client) tests are what prove wire compatibility.

import { Reader } from "../../src/wire/reader.ts";
import { Writer, concatBytes, constantTimeEqual } from "../../src/wire/writer.ts";
import { ContentType, HandshakeType, ExtensionType, decodeServerHello } from "../../src/tls/codec.ts";
import { randomBytes } from "../../src/crypto/index.ts";
import { DTLS0_9, DTLS1_0, DTLS1_2, DTLS_HEADER, EpochCipher, newCursor, readRecord, writeHeader, type DtlsVersion } from "../../src/dtls/record.ts";
import { finishedData, handshakeHash, keyBlock, masterSecret, pskPremaster } from "../../src/dtls/keys.ts";
import { fullHeader, readFragment, Reassembler, fragmentMessage } from "../../src/dtls/handshake-codec.ts";
import { PSK_SUITES, resumedSuite, type DtlsSuite } from "../../src/dtls/suites.ts";
import { ReplayWindow } from "../../src/dtls/replay.ts";

export type ClientOptions =
  | { kind: "psk"; version: DtlsVersion; sessionId: Uint8Array; psk: Uint8Array; suites: number[]; ems?: boolean; appIdExtension?: boolean; fragment?: number }
  | { kind: "legacy"; version: DtlsVersion; sessionId: Uint8Array; master: Uint8Array; suites: number[] };

export class TestClient {
  readonly random = randomBytes(32);
  private serverRandom: Uint8Array = new Uint8Array(0);
  private transcript: Uint8Array[] = [];
  private writeMsgSeq = 0;
  private epoch0Seq = 0;
  private epoch1Seq = 0;
  private reasm = new Reassembler(0);
  private suite: DtlsSuite | null = null;
  private master: Uint8Array | null = null;
  private readC: EpochCipher | null = null;
  private writeC: EpochCipher | null = null;
  private readActive = false;
  private ems = false;
  private window = new ReplayWindow();
  established = false;
  lastFlight: Uint8Array[] = [];
  helloBody: Uint8Array = new Uint8Array(0);

  constructor(readonly o: ClientOptions) {}

  get version(): DtlsVersion {
    return this.o.version;
  }

  private addTranscript(type: number, seq: number, body: Uint8Array): void {
    if (this.o.version !== DTLS0_9) this.transcript.push(fullHeader(type, seq, body.length));
    this.transcript.push(body);
  }

  private plainRecord(type: number, payload: Uint8Array): Uint8Array {
    const out = new Uint8Array(DTLS_HEADER + payload.length);
    writeHeader(out, 0, type, this.o.version === DTLS0_9 ? DTLS0_9 : this.o.version === DTLS1_2 ? DTLS1_0 : this.o.version, 0, this.epoch0Seq++, payload.length);
    out.set(payload, DTLS_HEADER);
    return out;
  }

  private sealed(type: number, payload: Uint8Array): Uint8Array {
    const c = this.writeC!;
    const out = new Uint8Array(DTLS_HEADER + c.overhead(payload.length));
    const n = c.seal(type, this.o.version, 1, this.epoch1Seq++, payload, out, 0);
    return out.subarray(0, n);
  }

  private hsMessage(type: number, body: Uint8Array): Uint8Array {
    const seq = this.writeMsgSeq++;
    this.addTranscript(type, seq, body);
    return concatBytes(fullHeader(type, seq, body.length), body);
  }

  hello(): Uint8Array[] {
    const o = this.o;
    const w = new Writer(256);
    w.u16(o.version).bytes(this.random).vec8(o.sessionId).vec8(new Uint8Array(0));
    w.lengthPrefixed(2, (w) => o.suites.forEach((s) => w.u16(s)));
    w.vec8(Uint8Array.of(0));
    const exts: [number, Uint8Array][] = [];
    if (o.kind === "psk") {
      exts.push([ExtensionType.renegotiation_info, Uint8Array.of(0)]);
      if (o.ems) exts.push([ExtensionType.extended_master_secret, new Uint8Array(0)]);
      if (o.appIdExtension) exts.push([0xbb92, concatBytes(Uint8Array.of(o.sessionId.length), o.sessionId)]);
    }
    if (exts.length > 0) w.lengthPrefixed(2, (w) => exts.forEach(([t, d]) => w.u16(t).vec16(d)));
    const body = w.finish();
    this.helloBody = body;
    const seq = this.writeMsgSeq++;
    this.addTranscript(HandshakeType.client_hello, seq, body);
    if (o.kind === "psk" && o.fragment) {
      this.lastFlight = fragmentMessage(HandshakeType.client_hello, seq, body, o.fragment).map((f) => this.plainRecord(ContentType.handshake, f));
    } else {
      this.lastFlight = [this.plainRecord(ContentType.handshake, concatBytes(fullHeader(HandshakeType.client_hello, seq, body.length), body))];
    }
    return this.lastFlight;
  }

  private setKeys(suite: DtlsSuite, master: Uint8Array): void {
    const kb = keyBlock(this.o.version, suite, master, this.random, this.serverRandom);
    this.readC = EpochCipher.create(suite, kb.serverKey, kb.serverMacKey, kb.serverIv, randomBytes);
    this.writeC = EpochCipher.create(suite, kb.clientKey, kb.clientMacKey, kb.clientIv, randomBytes);
  }

  private ccs(): Uint8Array {
    if (this.o.version === DTLS0_9) {
      const seq = this.writeMsgSeq++;
      return this.plainRecord(ContentType.change_cipher_spec, Uint8Array.of(1, seq >> 8, seq & 0xff));
    }
    return this.plainRecord(ContentType.change_cipher_spec, Uint8Array.of(1));
  }

  /** Handles a datagram from the server; returns datagrams to send and application records received. */
  receive(d: Uint8Array): { send: Uint8Array[]; data: { type: number; payload: Uint8Array }[]; alerts: Uint8Array[] } {
    const send: Uint8Array[] = [];
    const data: { type: number; payload: Uint8Array }[] = [];
    const alerts: Uint8Array[] = [];
    const c = newCursor();
    let off = 0;
    while (off < d.length) {
      const next = readRecord(d, off, c);
      if (next < 0) break;
      off = next;
      let pt: Uint8Array | null;
      if (c.epoch === 0) pt = d.slice(c.start, c.end);
      else {
        if (!this.readActive || !this.readC) continue;
        if (!this.window.check(c.seq)) continue;
        pt = this.readC.open(c, d);
        if (pt === null) continue;
        this.window.update(c.seq);
      }
      if (c.type === ContentType.alert) alerts.push(pt);
      else if (c.type === ContentType.change_cipher_spec) {
        this.readActive = true;
        if (this.o.version === DTLS0_9) this.reasm.skip();
      } else if (c.type === ContentType.application_data) data.push({ type: pt[0]!, payload: pt.subarray(1) });
      else if (c.type === ContentType.handshake) {
        const r = new Reader(pt);
        while (!r.done) {
          const got = this.reasm.add(readFragment(r));
          if (got === "old") continue;
          for (const m of got) send.push(...this.onMessage(m.type, m.seq, m.body));
        }
      }
    }
    return { send, data, alerts };
  }

  private onMessage(type: number, seq: number, body: Uint8Array): Uint8Array[] {
    const o = this.o;
    if (type === HandshakeType.server_hello) {
      const sh = decodeServerHello(body);
      this.serverRandom = sh.random;
      this.suite = o.kind === "psk" ? PSK_SUITES.find((s) => s.id === sh.cipherSuite)! : resumedSuite(sh.cipherSuite)!;
      this.ems = sh.extensions.some((e) => e.type === ExtensionType.extended_master_secret);
      this.addTranscript(type, seq, body);
      if (o.kind === "legacy") {
        this.master = o.master;
        this.setKeys(this.suite, o.master);
      }
      return [];
    }
    if (type === HandshakeType.server_hello_done && o.kind === "psk") {
      this.addTranscript(type, seq, body);
      const cke = this.hsMessage(HandshakeType.client_key_exchange, new Writer(8).vec16(new TextEncoder().encode("psk")).finish());
      const pre = pskPremaster(o.psk);
      const sh = this.ems ? handshakeHash(o.version, this.suite!, concatBytes(...this.transcript)) : null;
      this.master = masterSecret(o.version, this.suite!, pre, this.random, this.serverRandom, sh);
      this.setKeys(this.suite!, this.master);
      const ccs = this.ccs();
      const verify = finishedData(o.version, this.suite!, this.master, "client", concatBytes(...this.transcript));
      const finMsg = this.hsMessage(HandshakeType.finished, verify);
      this.lastFlight = [concatBytes(this.plainRecord(ContentType.handshake, cke), ccs, this.sealed(ContentType.handshake, finMsg))];
      return this.lastFlight;
    }
    if (type === HandshakeType.finished) {
      const expect = finishedData(o.version, this.suite!, this.master!, "server", concatBytes(...this.transcript));
      if (!constantTimeEqual(expect, body)) throw new Error("server Finished does not verify");
      this.addTranscript(type, seq, body);
      if (o.kind === "psk") {
        this.established = true;
        return [];
      }
      const ccs = this.ccs();
      const seqF = this.writeMsgSeq++;
      const verify = finishedData(o.version, this.suite!, this.master!, "client", concatBytes(...this.transcript));
      this.addTranscript(HandshakeType.finished, seqF, verify);
      this.established = true;
      this.lastFlight = [concatBytes(ccs, this.sealed(ContentType.handshake, concatBytes(fullHeader(HandshakeType.finished, seqF, 12), verify)))];
      return this.lastFlight;
    }
    return [];
  }

  /** One data record: type byte + payload. */
  send(type: number, payload: Uint8Array): Uint8Array {
    return this.sealed(ContentType.application_data, concatBytes(Uint8Array.of(type), payload));
  }
  sendAlert(level: number, desc: number): Uint8Array {
    return this.sealed(ContentType.alert, Uint8Array.of(level, desc));
  }
}

export { DTLS0_9, DTLS1_0, DTLS1_2 };
