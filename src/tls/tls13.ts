// TLS 1.3 server handshake (RFC 8446 §4): ClientHello → [HelloRetryRequest] → ServerHello,
// EncryptedExtensions, [CertificateRequest], Certificate, CertificateVerify, Finished → client
// [Certificate, CertificateVerify], Finished → traffic; then KeyUpdate (§4.6.3) both ways.
// Each handler consumes one state and returns the next; output goes through the HandshakeSink.

import { createAead, createHash, hash, schemeAllowedInTls13 } from "../crypto/index.ts";
import type { Hash, NamedGroup } from "../crypto/types.ts";
import { concatBytes, constantTimeEqual } from "../wire/writer.ts";
import {
  ExtensionType,
  HandshakeType,
  HRR_RANDOM,
  TLS12,
  TLS13,
  decodeCertificate13,
  decodeCertificateVerify,
  decodeKeyUpdate,
  encodeCertificate13,
  encodeCertificateRequest13,
  encodeCertificateVerify,
  encodeEncryptedExtensions,
  encodeNewSessionTicket13,
  encodeServerHello,
  ext,
  groupId,
  handshakeMessage,
  handshakeTypeName,
  schemeFromId,
  schemeId,
  type ClientHello,
  type Extension,
} from "./codec.ts";
import type { HandshakeMessage } from "./deframer.ts";
import { TlsError } from "./errors.ts";
import { EarlySecret, finishedVerifyData, nextTrafficSecret, resumptionPsk, trafficKeys } from "./keyschedule.ts";
import type { CachedSession } from "./session-cache.ts";
import { acceptPeerChain, chooseCredentials, chooseSuite, clientSchemes, describe, revalidatePeerChain } from "./negotiate.ts";
import { MAX_PLAINTEXT, Tls13Protection } from "./record.ts";
import type { EffectiveConfig, HandshakeSink, HrrMemo, PeerChain, State, Tls13Handshake, Tls13Traffic } from "./state.ts";
import { isAead, suiteById, type CipherSuite } from "./suites.ts";

// §4.4.3: the CertificateVerify content is 64 spaces, a context string, a zero byte, the transcript hash
const CV_PAD = new Uint8Array(64).fill(0x20);
const CV_SERVER = new TextEncoder().encode("TLS 1.3, server CertificateVerify\0");
const CV_CLIENT = new TextEncoder().encode("TLS 1.3, client CertificateVerify\0");

export function on13ClientHello(io: HandshakeSink, m: HandshakeMessage, ch: ClientHello, cfg: EffectiveConfig, sni: string | null, hrr: HrrMemo | null): State {
  const policy = cfg.policy;
  // §4.1.2: legacy_compression_methods must be exactly one null byte in TLS 1.3
  if (ch.compressionMethods.length !== 1 || ch.compressionMethods[0] !== 0)
    throw new TlsError("illegal-parameter", "TLS 1.3 ClientHello with compression");
  if (ch.signatureAlgorithms === null) throw new TlsError("missing-extension", "no signature_algorithms");
  if (ch.supportedGroups === null || ch.keyShares === null)
    throw new TlsError("missing-extension", "no supported_groups/key_share (PSK-only handshakes are not supported)");
  if (ch.cookie !== null) throw new TlsError("unsupported-extension", "cookie we did not send");
  for (const ks of ch.keyShares)
    if (!ch.supportedGroups.includes(ks.group)) throw new TlsError("illegal-parameter", "key share for a group not in supported_groups");

  const suite = chooseSuite(ch, policy, (c) => c.version === "TLS1.3");
  if (hrr !== null && suite.id !== hrr.suite.id) throw new TlsError("illegal-parameter", "second ClientHello changed the cipher suite");
  // §4.2.9: a PSK offer without psk_key_exchange_modes is malformed
  if (ch.preSharedKey !== null && ch.pskKeyExchangeModes === null)
    throw new TlsError("missing-extension", "pre_shared_key without psk_key_exchange_modes");
  const signer = chooseCredentials(cfg.credentials, ch.signatureAlgorithms, policy, (s, k) => schemeAllowedInTls13(s, k.type));
  if (signer === null) throw new TlsError("no-usable-credentials", "no certificate matches the client's signature_algorithms");

  // Group: the client's share for our most preferred group it sent; else ask for one (HelloRetryRequest)
  const common = policy.groups.filter((g) => ch.supportedGroups!.includes(groupId(g)));
  if (common.length === 0) throw new TlsError("no-common-group", "no key exchange group in common");
  let share: { group: NamedGroup; key: Uint8Array } | null = null;
  for (const g of common) {
    const ks = ch.keyShares.find((k) => k.group === groupId(g));
    if (ks !== undefined) {
      share = { group: g, key: ks.keyExchange };
      break;
    }
  }
  const alg = suite.hash;
  if (share === null || (hrr !== null && share.group !== hrr.group)) {
    if (hrr !== null) throw new TlsError("illegal-parameter", "second ClientHello lacks the requested key share");
    return sendHelloRetryRequest(io, m, ch, cfg, sni, suite, common[0]!);
  }

  // Only the ClientHello we answer with a ServerHello may resume (a ticket is single-use).
  const resumed = acceptTicket(io, m, ch, cfg, sni, suite, hrr);

  // §4.4.1: after HRR the transcript starts with message_hash(ClientHello1)
  const transcript = hrr?.transcript ?? createHash(alg);
  transcript.update(m.raw);

  const ours = io.newKeyShare(share.group);
  const shared = ours.computeSecret(share.key);
  const serverRandom = io.random(32);
  const sh = handshakeMessage(
    HandshakeType.server_hello,
    encodeServerHello({
      version: TLS12,
      random: serverRandom,
      sessionId: ch.sessionId,
      cipherSuite: suite.id,
      extensions: [
        ext(ExtensionType.key_share, (w) => w.u16(groupId(share.group)).vec16(ours.publicKey)),
        // §4.2.11: selected_identity (we only ever consider the first identity)
        ...(resumed !== null ? [ext(ExtensionType.pre_shared_key, (w) => w.u16(0))] : []),
        ext(ExtensionType.supported_versions, (w) => w.u16(TLS13)),
      ],
    }),
  );
  transcript.update(sh);
  io.handshake(sh);
  // Appendix D.4 middlebox compatibility: a CCS right after our first flight message
  if (ch.sessionId.length > 0 && !(hrr?.sentCcs ?? false)) io.changeCipherSpec();

  const hsSecret = (resumed?.early ?? EarlySecret.withoutPsk(alg)).intoHandshake(shared);
  const helloHash = transcript.clone().digest();
  const clientHs = hsSecret.clientTrafficSecret(helloHash);
  const serverHs = hsSecret.serverTrafficSecret(helloHash);
  io.setWriteProtection(protection13(suite, serverHs));
  // RFC 8449 §4: the client's limit covers every protected record we send from here on; in TLS 1.3
  // it counts the inner content type byte.
  if (ch.recordSizeLimit !== null) io.limitOutgoingFragment(ch.recordSizeLimit - 1);

  // EncryptedExtensions (§4.3.1)
  const ee: Extension[] = [];
  if (ch.serverName !== null) ee.push({ type: ExtensionType.server_name, data: new Uint8Array(0) });
  // what we are willing to receive: the protocol maximum
  if (ch.recordSizeLimit !== null) ee.push(ext(ExtensionType.record_size_limit, (w) => w.u16(MAX_PLAINTEXT + 1)));
  send13(io, transcript, HandshakeType.encrypted_extensions, encodeEncryptedExtensions(ee));

  const offeredClientSchemes = clientSchemes(policy, true);
  // §2.2: a PSK handshake carries no certificates; the client identity comes from the ticket
  if (resumed === null) {
    if (cfg.clientAuth !== "none") {
      const sa = ext(ExtensionType.signature_algorithms, (w) =>
        w.lengthPrefixed(2, (w) => offeredClientSchemes.forEach((s) => w.u16(schemeId(s)))),
      );
      send13(io, transcript, HandshakeType.certificate_request, encodeCertificateRequest13(new Uint8Array(0), [sa]));
    }
    const entries = signer.cred.chain.map((c) => ({ certData: c, extensions: [] }));
    send13(io, transcript, HandshakeType.certificate, encodeCertificate13({ context: new Uint8Array(0), entries }));
    // §4.4.3: sign the transcript through Certificate
    const signed = concatBytes(CV_PAD, CV_SERVER, transcript.clone().digest());
    const sig = signer.cred.key.sign(signer.scheme, signed);
    send13(io, transcript, HandshakeType.certificate_verify, encodeCertificateVerify({ scheme: schemeId(signer.scheme), signature: sig }));
  }
  send13(io, transcript, HandshakeType.finished, finishedVerifyData(alg, serverHs, transcript.clone().digest()));

  const master = hsSecret.intoMaster();
  const serverFinishedHash = transcript.clone().digest();
  const clientAppSecret = master.clientTrafficSecret(serverFinishedHash);
  const serverAppSecret = master.serverTrafficSecret(serverFinishedHash);
  const exporter = master.exporter(serverFinishedHash);
  io.setWriteProtection(protection13(suite, serverAppSecret));
  io.setReadProtection(protection13(suite, clientHs));

  const hs: Tls13Handshake = {
    cfg,
    ch,
    sni,
    suite,
    group: share.group,
    safeRenegotiation: false,
    signatureScheme: resumed === null ? signer.scheme : undefined,
    alg,
    transcript,
    clientHsSecret: clientHs,
    master,
    clientAppSecret,
    serverAppSecret,
    exporter,
    offeredClientSchemes,
    resumed: resumed !== null,
  };
  if (resumed !== null) return { kind: "Tls13ExpectFinished", hs, peer: resumed.peer };
  if (cfg.clientAuth !== "none") return { kind: "Tls13ExpectCertificate", hs };
  return { kind: "Tls13ExpectFinished", hs, peer: null };
}

/**
 * RFC 8446 §4.2.11 resumption: the first offered identity, if it is one of our tickets for this
 * virtual host and hash, with psk_dhe_ke (we never do PSK without ECDHE, and never 0-RTT). A ticket
 * that is unknown or does not fit is ignored (full handshake); a wrong binder ends the handshake.
 */
function acceptTicket(
  io: HandshakeSink,
  m: HandshakeMessage,
  ch: ClientHello,
  cfg: EffectiveConfig,
  sni: string | null,
  suite: CipherSuite,
  hrr: HrrMemo | null,
): { early: EarlySecret; session: CachedSession; peer: PeerChain | null } | null {
  const cache = io.sessionCache;
  const offer = ch.preSharedKey;
  if (cache === undefined || offer === null || !cfg.policy.sessionTickets) return null;
  if (!(ch.pskKeyExchangeModes?.includes(PSK_DHE_KE) ?? false)) return null;
  const identity = offer.identities[0]!.identity;
  const session = cache.get(identity, io.now());
  if (session === null || session.version !== "TLS1.3" || session.sni !== sni) return null;
  if (suiteById(session.cipherSuite)?.hash !== suite.hash) return null;
  if (cfg.clientAuth === "require" && session.peerCertificates.length === 0) return null;
  // The binder covers the ClientHello up to (not including) the binders list, which ends the message.
  let bindersLength = 2;
  for (const b of offer.binders) bindersLength += 1 + b.length;
  const truncated = m.raw.subarray(0, m.raw.length - bindersLength);
  const transcriptHash = hrr !== null ? hrr.transcript.clone().update(truncated).digest() : hash(suite.hash, truncated);
  const early = EarlySecret.withPsk(suite.hash, session.masterSecret);
  const expected = finishedVerifyData(suite.hash, early.resumptionBinderKey(), transcriptHash);
  const binder = offer.binders[0]!;
  if (binder.length !== expected.length || !constantTimeEqual(expected, binder))
    throw new TlsError("incorrect-binder", "resumption PSK binder does not match");
  cache.delete(identity);
  // The ticket is spent either way; a client chain that no longer verifies gets a full handshake,
  // where it must present (and prove) a certificate again.
  const revalidated = revalidatePeerChain(cfg, session.peerCertificates);
  if (revalidated === null) return null;
  return { early, session, peer: revalidated.peer };
}

/** §4.2.9 psk_key_exchange_modes value for PSK with (EC)DHE. */
const PSK_DHE_KE = 1;
/** RFC 8446 §4.6.1: lifetimes are capped at seven days. */
const MAX_TICKET_LIFETIME = 604800;

/** §4.6.1: one single-use ticket after the handshake, if the client can use it and we keep a cache. */
function issueTicket(io: HandshakeSink, hs: Tls13Handshake, peer: PeerChain | null): void {
  const cache = io.sessionCache;
  if (cache === undefined || !hs.cfg.policy.sessionTickets || !(hs.ch.pskKeyExchangeModes?.includes(PSK_DHE_KE) ?? false)) return;
  const nonce = Uint8Array.of(0);
  const psk = resumptionPsk(hs.alg, hs.master.resumption(hs.transcript.clone().digest()), nonce);
  const ticket = io.random(32);
  const a = io.random(4);
  const ageAdd = ((a[0]! << 24) >>> 0) + ((a[1]! << 16) | (a[2]! << 8) | a[3]!);
  const lifetime = Math.min(MAX_TICKET_LIFETIME, Math.floor(cache.lifetimeSeconds));
  cache.put(
    ticket,
    {
      masterSecret: psk,
      cipherSuite: hs.suite.id,
      extendedMasterSecret: true,
      sni: hs.sni,
      peerCertificates: peer?.chain ?? [],
      version: "TLS1.3",
      group: hs.group,
    },
    io.now(),
  );
  io.handshake(handshakeMessage(HandshakeType.new_session_ticket, encodeNewSessionTicket13(lifetime, ageAdd, nonce, ticket, [])));
}

export function sendHelloRetryRequest(io: HandshakeSink, m: HandshakeMessage, ch: ClientHello, cfg: EffectiveConfig, sni: string | null, suite: CipherSuite, group: NamedGroup): State {
  const transcript = createHash(suite.hash);
  transcript.update(handshakeMessage(HandshakeType.message_hash, hash(suite.hash, m.raw)));
  const hrr = handshakeMessage(
    HandshakeType.server_hello,
    encodeServerHello({
      version: TLS12,
      random: HRR_RANDOM,
      sessionId: ch.sessionId,
      cipherSuite: suite.id,
      extensions: [
        ext(ExtensionType.supported_versions, (w) => w.u16(TLS13)),
        ext(ExtensionType.key_share, (w) => w.u16(groupId(group))),
      ],
    }),
  );
  transcript.update(hrr);
  io.handshake(hrr);
  const sentCcs = ch.sessionId.length > 0;
  if (sentCcs) io.changeCipherSpec();
  return { kind: "ExpectClientHello", hrr: { cfg, sni, suite, group, transcript, sentCcs } };
}

export function protection13(suite: CipherSuite, secret: Uint8Array): Tls13Protection {
  if (!isAead(suite)) throw new TlsError("internal", "TLS 1.3 suite without AEAD");
  const k = trafficKeys(suite.hash, secret, suite.keyLength);
  return new Tls13Protection(createAead(suite.cipher, k.key), k.iv);
}

export function send13(io: HandshakeSink, transcript: Hash, type: number, body: Uint8Array): void {
  const raw = handshakeMessage(type, body);
  transcript.update(raw);
  io.handshake(raw);
}

export function on13Certificate(hs: Tls13Handshake, m: HandshakeMessage): State {
  const cert = decodeCertificate13(m.body);
  if (cert.context.length !== 0) throw new TlsError("illegal-parameter", "certificate_request_context we did not send");
  hs.transcript.update(m.raw);
  if (cert.entries.length === 0) {
    if (hs.cfg.clientAuth === "require") throw new TlsError("certificate-required", "client sent no certificate");
    return { kind: "Tls13ExpectFinished", hs, peer: null };
  }
  const peer = acceptPeerChain(hs.cfg, cert.entries.map((e) => e.certData));
  return { kind: "Tls13ExpectCertificateVerify", hs, peer };
}

export function on13CertificateVerify(hs: Tls13Handshake, peer: PeerChain, m: HandshakeMessage): State {
  const cv = decodeCertificateVerify(m.body);
  const scheme = schemeFromId(cv.scheme);
  if (scheme === null || !hs.offeredClientSchemes.includes(scheme) || !schemeAllowedInTls13(scheme, peer.key.type))
    throw new TlsError("illegal-parameter", "client CertificateVerify uses a scheme we did not offer");
  const signed = concatBytes(CV_PAD, CV_CLIENT, hs.transcript.clone().digest());
  if (!peer.key.verify(scheme, signed, cv.signature)) throw new TlsError("bad-certificate-verify", "client CertificateVerify signature is invalid");
  hs.transcript.update(m.raw);
  return { kind: "Tls13ExpectFinished", hs, peer };
}

export function on13Finished(io: HandshakeSink, hs: Tls13Handshake, peer: PeerChain | null, m: HandshakeMessage): State {
  const expected = finishedVerifyData(hs.alg, hs.clientHsSecret, hs.transcript.clone().digest());
  // §4.4.4: verify_data is exactly Hash.length bytes; anything else is malformed, not merely wrong
  if (m.body.length !== expected.length) throw new TlsError("decode-failure", "Finished of the wrong length");
  if (!constantTimeEqual(expected, m.body)) throw new TlsError("incorrect-finished", "client Finished does not match");
  hs.transcript.update(m.raw);
  io.setReadProtection(protection13(hs.suite, hs.clientAppSecret));
  io.established({
    version: "TLS1.3",
    cipherSuite: hs.suite.name,
    group: hs.group,
    sni: hs.sni,
    resumed: hs.resumed,
    peerCertificates: peer?.chain ?? [],
    safeRenegotiation: false,
    ...(hs.signatureScheme !== undefined ? { signatureScheme: hs.signatureScheme } : {}),
    description: describe("TLS1.3", hs.suite, hs.group, hs.signatureScheme),
  }, (label, context, length) => hs.exporter.export(label, context, length));
  issueTicket(io, hs, peer);
  return {
    kind: "Tls13Traffic",
    t: { alg: hs.alg, suite: hs.suite, clientSecret: hs.clientAppSecret, serverSecret: hs.serverAppSecret, exporter: hs.exporter },
  };
}

export function on13PostHandshake(io: HandshakeSink, t: Tls13Traffic, m: HandshakeMessage): boolean {
  if (m.type !== HandshakeType.key_update)
    throw new TlsError("unexpected-message", `${handshakeTypeName(m.type)} after the TLS 1.3 handshake`);
  const requested = decodeKeyUpdate(m.body);
  // §4.6.3: update our receiving keys; if asked, send our own KeyUpdate (not requesting) first
  t.clientSecret = nextTrafficSecret(t.alg, t.clientSecret);
  io.setReadProtection(protection13(t.suite, t.clientSecret));
  if (requested && io.writable) sendKeyUpdate(io, t, false);
  return true;
}

export function sendKeyUpdate(io: HandshakeSink, t: Tls13Traffic, requestPeer: boolean): void {
  io.handshake(handshakeMessage(HandshakeType.key_update, Uint8Array.of(requestPeer ? 1 : 0)));
  t.serverSecret = nextTrafficSecret(t.alg, t.serverSecret);
  io.setWriteProtection(protection13(t.suite, t.serverSecret));
}
