// TLS 1.2 server handshake (RFC 5246 §7.3) with ECDHE (RFC 8422) or RSA key exchange, extended
// master secret (RFC 7627), secure-renegotiation signalling without renegotiation (RFC 5746) and
// session-ID resumption (the abbreviated handshake). Output goes through the HandshakeSink.

import { createAead, createCbc, createMac, hash, signatureSchemeInfo } from "../crypto/index.ts";
import type { KeyShare, PrivateKey, SignatureScheme } from "../crypto/types.ts";
import { Writer, concatBytes, constantTimeEqual } from "../wire/writer.ts";
import {
  ClientCertificateType,
  ExtensionType,
  HandshakeType,
  SCSV_FALLBACK,
  SCSV_RENEGOTIATION,
  TLS12,
  decodeCertificate12,
  decodeCertificateVerify,
  decodeClientKeyExchange,
  encodeCertificate12,
  encodeCertificateRequest12,
  encodeEcdheParams,
  encodeServerHello,
  encodeServerKeyExchange,
  ext,
  groupId,
  handshakeMessage,
  schemeFromId,
  schemeId,
  type ClientHello,
  type Extension,
} from "./codec.ts";
import type { HandshakeMessage } from "./deframer.ts";
import { TlsError } from "./errors.ts";
import { exporter12, finished12, keyBlock12, masterSecret12 } from "./keyschedule.ts";
import { acceptPeerChain, chooseCredentials, chooseSuite, clientSchemes, describe, revalidatePeerChain } from "./negotiate.ts";
import { Cbc12, Gcm12, MAX_PLAINTEXT, Tls12Protection } from "./record.ts";
import type { CachedSession } from "./session-cache.ts";
import type { EffectiveConfig, HandshakeSink, PeerChain, State, Tls12Handshake, Tls12Keys, TlsCredentials } from "./state.ts";
import { isAead, suiteById, type CipherSuite } from "./suites.ts";

// RFC 8446 §4.1.3: last 8 bytes of ServerHello.random when a TLS 1.3-capable server negotiates 1.2.
const DOWNGRADE_TLS12 = Uint8Array.from([0x44, 0x4f, 0x57, 0x4e, 0x47, 0x52, 0x44, 0x01]);

export function on12ClientHello(io: HandshakeSink, m: HandshakeMessage, ch: ClientHello, cfg: EffectiveConfig, sni: string | null): State {
  const policy = cfg.policy;
  if (!ch.compressionMethods.includes(0)) throw new TlsError("illegal-parameter", "ClientHello without null compression");
  // RFC 7507 §3: a fallback retry at TLS 1.2 while we could have spoken TLS 1.3 is a downgrade
  if (ch.cipherSuites.includes(SCSV_FALLBACK) && policy.versions.includes("TLS1.3"))
    throw new TlsError("inappropriate-fallback", "TLS_FALLBACK_SCSV in a TLS 1.2 ClientHello");
  // RFC 5746 §3.6: on an initial handshake renegotiation_info must be empty
  if (ch.renegotiationInfo !== null && ch.renegotiationInfo.length !== 0)
    throw new TlsError("insecure-renegotiation", "non-empty renegotiation_info on an initial handshake");
  const safeRenegotiation =
    policy.safeRenegotiation && (ch.renegotiationInfo !== null || ch.cipherSuites.includes(SCSV_RENEGOTIATION));
  const ems = policy.extendedMasterSecret && ch.extendedMasterSecret;
  const now = io.now();

  // Session-ID resumption (RFC 5246 §7.3 abbreviated handshake)
  const cache = io.sessionCache;
  if (cache !== undefined && ch.sessionId.length > 0) {
    const cached = cache.get(ch.sessionId, now);
    if (cached !== null) {
      const suite = suiteById(cached.cipherSuite);
      const usable =
        cached.version !== "TLS1.3" &&
        suite !== null &&
        ch.cipherSuites.includes(suite.id) &&
        policy.cipherSuites.includes(suite.id) &&
        cached.sni === sni &&
        // a session made without a client certificate must not bypass a requirement for one
        (cfg.clientAuth !== "require" || cached.peerCertificates.length > 0);
      // RFC 7627 §5.3: an EMS session is resumed only with EMS; a non-EMS session only without it
      if (usable && cached.extendedMasterSecret === ems) {
        const revalidated = revalidatePeerChain(cfg, cached.peerCertificates);
        if (revalidated !== null) return resume12(io, m, ch, cfg, sni, suite, cached, revalidated.peer, safeRenegotiation, ems);
        // The client chain no longer verifies: forget the session; the full handshake asks again.
        cache.delete(ch.sessionId);
      }
      if (usable && cached.extendedMasterSecret && !ems)
        throw new TlsError("ems-resumption-mismatch", "resuming an extended-master-secret session without the extension");
    }
  }

  const clientGroups = ch.supportedGroups;
  const pointsOk = ch.ecPointFormats === null || ch.ecPointFormats.includes(0);
  // RFC 8422 §4: without supported_groups the client is assumed to support any curve; pick P-256.
  const group = pointsOk ? (policy.groups.find((g) => clientGroups === null ? g === "secp256r1" : clientGroups.includes(groupId(g))) ?? null) : null;
  // RFC 5246 §7.4.1.4.1: without signature_algorithms, {sha1, rsa} and {sha1, ecdsa} are assumed
  const peerSchemes = ch.signatureAlgorithms ?? [schemeId("rsa_pkcs1_sha1"), schemeId("ecdsa_sha1")];
  const allowed12 = (s: SignatureScheme, k: PrivateKey): boolean => {
    const info = signatureSchemeInfo(s);
    if (info.kind === "ecdsa") return k.type === "ecdsa-p256" || k.type === "ecdsa-p384";
    return true;
  };
  const signerFor = (kx: CipherSuite["kx"]): { cred: TlsCredentials; scheme: SignatureScheme | null } | null => {
    if (kx === "psk" || kx === "tls13") return null;
    if (kx === "rsa") {
      const cred = cfg.credentials.find((c) => c.key.type === "rsa" && c.key.decryptPkcs1 !== undefined);
      return cred === undefined ? null : { cred, scheme: null };
    }
    if (group === null) return null;
    const keyOk = (k: PrivateKey): boolean => (kx === "ecdhe-rsa" ? k.type === "rsa" : k.type !== "rsa");
    return chooseCredentials(cfg.credentials.filter((c) => keyOk(c.key)), peerSchemes, policy, allowed12);
  };
  const suite = chooseSuite(ch, policy, (c) => c.version === "TLS1.2" && signerFor(c.kx) !== null);
  const signer = signerFor(suite.kx)!;

  const serverRandom = io.random(32);
  // RFC 8446 §4.1.3 downgrade protection when we could have spoken TLS 1.3
  if (policy.versions.includes("TLS1.3")) serverRandom.set(DOWNGRADE_TLS12, 24);
  const sessionId = cache !== undefined ? io.random(32) : new Uint8Array(0);
  const transcript = new Writer(4096);
  transcript.bytes(m.raw);

  const exts = serverHelloExtensions12(ch, safeRenegotiation, ems, suite.kx !== "rsa");
  send12(io, transcript, HandshakeType.server_hello, encodeServerHello({ version: TLS12, random: serverRandom, sessionId, cipherSuite: suite.id, extensions: exts }));
  send12(io, transcript, HandshakeType.certificate, encodeCertificate12(signer.cred.chain));
  let keyShare: KeyShare | null = null;
  if (suite.kx !== "rsa") {
    keyShare = io.newKeyShare(group!);
    const params = encodeEcdheParams(groupId(group!), keyShare.publicKey);
    const scheme = signer.scheme!;
    const sig = signer.cred.key.sign(scheme, concatBytes(ch.random, serverRandom, params));
    send12(io, transcript, HandshakeType.server_key_exchange, encodeServerKeyExchange(params, schemeId(scheme), sig));
  }
  const offeredClientSchemes = clientSchemes(policy, false);
  if (cfg.clientAuth !== "none") {
    send12(io,
      transcript,
      HandshakeType.certificate_request,
      encodeCertificateRequest12([ClientCertificateType.rsa_sign, ClientCertificateType.ecdsa_sign], offeredClientSchemes.map(schemeId), []),
    );
  }
  send12(io, transcript, HandshakeType.server_hello_done, new Uint8Array(0));

  const hs: Tls12Handshake = {
    cfg,
    ch,
    sni,
    suite,
    group: suite.kx === "rsa" ? undefined : group!,
    safeRenegotiation,
    signatureScheme: signer.scheme ?? undefined,
    prf: suite.hash,
    serverRandom,
    sessionId,
    ems,
    transcript,
    keyShare,
    credentials: signer.cred,
    offeredClientSchemes,
  };
  if (cfg.clientAuth !== "none") return { kind: "Tls12ExpectCertificate", hs };
  return { kind: "Tls12ExpectClientKeyExchange", hs, peer: null };
}

export function serverHelloExtensions12(ch: ClientHello, safeRenegotiation: boolean, ems: boolean, ecdhe: boolean): Extension[] {
  const exts: Extension[] = [];
  // RFC 5746 §3.6: an empty renegotiated_connection
  if (safeRenegotiation) exts.push({ type: ExtensionType.renegotiation_info, data: Uint8Array.of(0) });
  if (ems) exts.push({ type: ExtensionType.extended_master_secret, data: new Uint8Array(0) });
  // RFC 8422 §5.2: only uncompressed points
  if (ecdhe && ch.ecPointFormats !== null) exts.push({ type: ExtensionType.ec_point_formats, data: Uint8Array.of(1, 0) });
  if (ch.recordSizeLimit !== null) exts.push(ext(ExtensionType.record_size_limit, (w) => w.u16(MAX_PLAINTEXT)));
  return exts;
}

export function send12(io: HandshakeSink, transcript: Writer, type: number, body: Uint8Array): Uint8Array {
  const raw = handshakeMessage(type, body);
  transcript.bytes(raw);
  io.handshake(raw);
  return raw;
}

export function on12Certificate(hs: Tls12Handshake, m: HandshakeMessage): State {
  const chain = decodeCertificate12(m.body);
  hs.transcript.bytes(m.raw);
  if (chain.length === 0) {
    if (hs.cfg.clientAuth === "require") throw new TlsError("certificate-required", "client sent no certificate");
    return { kind: "Tls12ExpectClientKeyExchange", hs, peer: null };
  }
  return { kind: "Tls12ExpectClientKeyExchange", hs, peer: acceptPeerChain(hs.cfg, chain) };
}

export function on12ClientKeyExchange(io: HandshakeSink, hs: Tls12Handshake, peer: PeerChain | null, m: HandshakeMessage): State {
  let preMaster: Uint8Array;
  if (hs.suite.kx === "rsa") {
    const ct = decodeClientKeyExchange(m.body, "rsa");
    // RFC 5246 §7.4.7.1: on any failure continue with a random premaster secret so that padding and
    // version errors surface only as a Finished mismatch (Bleichenbacher countermeasure).
    const fallback = io.random(48);
    const dec = hs.credentials!.key.decryptPkcs1!(ct);
    const good =
      dec !== null && dec.length === 48 && dec[0] === hs.ch.legacyVersion >>> 8 && dec[1] === (hs.ch.legacyVersion & 0xff);
    preMaster = good ? dec : fallback;
  } else {
    const point = decodeClientKeyExchange(m.body, "ecdhe");
    preMaster = hs.keyShare!.computeSecret(point);
  }
  hs.transcript.bytes(m.raw);
  const sessionHash = hs.ems ? hash(hs.prf, hs.transcript.view()) : null;
  const master = masterSecret12(hs.prf, preMaster, hs.ch.random, hs.serverRandom, sessionHash);
  preMaster.fill(0);
  const keys = keys12(io, hs.suite, master, hs.ch.random, hs.serverRandom);
  if (peer !== null) return { kind: "Tls12ExpectCertificateVerify", hs, peer, keys };
  return { kind: "Tls12ExpectChangeCipherSpec", hs, peer, keys, resumed: false };
}

export function keys12(io: HandshakeSink, suite: CipherSuite, master: Uint8Array, clientRandom: Uint8Array, serverRandom: Uint8Array): Tls12Keys {
  if (isAead(suite)) {
    const kb = keyBlock12(suite.hash, master, clientRandom, serverRandom, 0, suite.keyLength, 4);
    return {
      master,
      read: new Tls12Protection(new Gcm12(createAead(suite.cipher, kb.clientKey), kb.clientIv)),
      write: new Tls12Protection(new Gcm12(createAead(suite.cipher, kb.serverKey), kb.serverIv)),
    };
  }
  const macAlg = suite.mac!;
  const macLen = macAlg === "sha1" ? 20 : macAlg === "sha256" ? 32 : 48;
  const kb = keyBlock12(suite.hash, master, clientRandom, serverRandom, macLen, suite.keyLength, 0);
  const cipher = suite.cipher as "aes-128-cbc" | "aes-256-cbc";
  return {
    master,
    read: new Tls12Protection(new Cbc12(createCbc(cipher, kb.clientKey), createMac(macAlg, kb.clientMacKey), io.random)),
    write: new Tls12Protection(new Cbc12(createCbc(cipher, kb.serverKey), createMac(macAlg, kb.serverMacKey), io.random)),
  };
}

export function on12CertificateVerify(hs: Tls12Handshake, peer: PeerChain, keys: Tls12Keys, m: HandshakeMessage): State {
  const cv = decodeCertificateVerify(m.body);
  const scheme = schemeFromId(cv.scheme);
  if (scheme === null || !hs.offeredClientSchemes.includes(scheme))
    throw new TlsError("illegal-parameter", "client CertificateVerify uses a scheme we did not offer");
  // RFC 5246 §7.4.8: the signature covers all handshake messages so far
  if (!peer.key.verify(scheme, hs.transcript.view(), cv.signature))
    throw new TlsError("bad-certificate-verify", "client CertificateVerify signature is invalid");
  hs.transcript.bytes(m.raw);
  return { kind: "Tls12ExpectChangeCipherSpec", hs, peer, keys, resumed: false };
}

export function on12Finished(io: HandshakeSink, hs: Tls12Handshake, peer: PeerChain | null, keys: Tls12Keys, resumed: boolean, m: HandshakeMessage): State {
  const expected = finished12(hs.prf, keys.master, "client", hash(hs.prf, hs.transcript.view()));
  if (m.body.length !== expected.length) throw new TlsError("decode-failure", "Finished of the wrong length");
  if (!constantTimeEqual(expected, m.body)) throw new TlsError("incorrect-finished", "client Finished does not match");
  hs.transcript.bytes(m.raw);
  if (!resumed) {
    io.changeCipherSpec();
    io.setWriteProtection(keys.write);
    applyRecordLimit12(io, hs.ch);
    const fin = finished12(hs.prf, keys.master, "server", hash(hs.prf, hs.transcript.view()));
    send12(io, hs.transcript, HandshakeType.finished, fin);
    io.sessionCache?.put(
      hs.sessionId,
      {
        masterSecret: keys.master.slice(),
        cipherSuite: hs.suite.id,
        extendedMasterSecret: hs.ems,
        sni: hs.sni,
        peerCertificates: peer?.chain ?? [],
        version: "TLS1.2",
        group: hs.group,
        signatureScheme: hs.signatureScheme,
      },
      io.now(),
    );
  }
  io.established({
    version: "TLS1.2",
    cipherSuite: hs.suite.name,
    ...(hs.group !== undefined ? { group: hs.group } : {}),
    sni: hs.sni,
    resumed,
    peerCertificates: peer?.chain ?? [],
    safeRenegotiation: hs.safeRenegotiation,
    ...(hs.signatureScheme !== undefined ? { signatureScheme: hs.signatureScheme } : {}),
    // GnuTLS leaves the signature out of a resumed session's description (nothing was signed)
    description: describe("TLS1.2", hs.suite, hs.group, resumed ? undefined : hs.signatureScheme),
  }, (label, context, length) => exporter12(hs.prf, keys.master, hs.ch.random, hs.serverRandom, label, context, length));
  return { kind: "Tls12Traffic", t: { prf: hs.prf, master: keys.master, clientRandom: hs.ch.random, serverRandom: hs.serverRandom } };
}

/** RFC 8449: the client's limit applies to the protected records we send, from our Finished on. */
export function applyRecordLimit12(io: HandshakeSink, ch: ClientHello): void {
  if (ch.recordSizeLimit !== null) io.limitOutgoingFragment(ch.recordSizeLimit);
}

export function resume12(
  io: HandshakeSink,
  m: HandshakeMessage,
  ch: ClientHello,
  cfg: EffectiveConfig,
  sni: string | null,
  suite: CipherSuite,
  cached: CachedSession,
  /** The cached client chain, already re-checked by revalidatePeerChain. */
  peer: PeerChain | null,
  safeRenegotiation: boolean,
  ems: boolean,
): State {
  const master = cached.masterSecret.slice();
  const serverRandom = io.random(32);
  if (cfg.policy.versions.includes("TLS1.3")) serverRandom.set(DOWNGRADE_TLS12, 24);
  const transcript = new Writer(1024);
  transcript.bytes(m.raw);
  const exts = serverHelloExtensions12(ch, safeRenegotiation, ems, false);
  send12(io, transcript, HandshakeType.server_hello, encodeServerHello({ version: TLS12, random: serverRandom, sessionId: ch.sessionId, cipherSuite: suite.id, extensions: exts }));
  const keys = keys12(io, suite, master, ch.random, serverRandom);
  io.changeCipherSpec();
  io.setWriteProtection(keys.write);
  applyRecordLimit12(io, ch);
  send12(io, transcript, HandshakeType.finished, finished12(suite.hash, master, "server", hash(suite.hash, transcript.view())));
  const hs: Tls12Handshake = {
    cfg,
    ch,
    sni,
    suite,
    group: cached.group,
    safeRenegotiation,
    signatureScheme: cached.signatureScheme,
    prf: suite.hash,
    serverRandom,
    sessionId: ch.sessionId,
    ems,
    transcript,
    keyShare: null,
    credentials: null,
    offeredClientSchemes: [],
  };
  return { kind: "Tls12ExpectChangeCipherSpec", hs, peer, keys, resumed: true };
}
