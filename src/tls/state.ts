// Handshake state types shared by the TLS 1.2 and TLS 1.3 handlers, the public configuration types,
// and the sink through which handlers emit messages and key changes (they do no I/O themselves).

import type { Hash, HashAlg, KeyShare, NamedGroup, PrivateKey, PublicKey, SignatureScheme } from "../crypto/types.ts";
import type { Writer } from "../wire/writer.ts";
import type { ClientHello } from "./codec.ts";
import type { AlertDescription } from "./errors.ts";
import type { Exporter13, MasterSecret } from "./keyschedule.ts";
import type { TlsPolicy } from "./priorities.ts";
import type { RecordProtection } from "./record.ts";
import type { SessionCache } from "./session-cache.ts";
import type { CipherSuite } from "./suites.ts";

export interface TlsCredentials {
  /** DER certificates, leaf first. */
  chain: Uint8Array[];
  key: PrivateKey;
}

export type ClientChainVerdict = { ok: true } | { ok: false; alert: AlertDescription };

export interface TlsServerConfig {
  /** Several pairs; one is picked by the client's signature_algorithms and cipher suites. */
  credentials: TlsCredentials[];
  policy: TlsPolicy;
  clientAuth: "none" | "request" | "require";
  /**
   * Verifies a client chain (leaf first) during the handshake, as ocserv does (protocol.md §0). Without
   * it a presented chain is accepted after its CertificateVerify proves possession of the leaf key.
   */
  verifyClientChain?: (chain: Uint8Array[]) => ClientChainVerdict;
  /**
   * Resumption store: TLS 1.2 session IDs, and TLS 1.3 single-use tickets (issued only when this is
   * set and the policy lacks %NO_TICKETS). Entries live for the cache lifetime (ocserv: cookie-timeout).
   */
  sessionCache?: SessionCache;
  /** Virtual hosts: overrides chosen from the client's SNI before anything is negotiated. */
  selectBySni?: (
    sni: string | null,
  ) => Partial<Pick<TlsServerConfig, "credentials" | "policy" | "clientAuth" | "verifyClientChain">> | null;
  random?: (n: number) => Uint8Array;
  /** Milliseconds, like Date.now(). */
  now?: () => number;
  /** Largest plaintext we put in one record (≤ 16384). */
  maxRecordPlaintext?: number;
  /** Injection point for tests (RFC 8448 fixed key share); production uses the CSPRNG. */
  generateKeyShare?: (group: NamedGroup) => KeyShare;
}

export interface TlsInfo {
  version: "TLS1.2" | "TLS1.3";
  cipherSuite: string;
  group?: NamedGroup;
  sni: string | null;
  resumed: boolean;
  peerCertificates: Uint8Array[];
  safeRenegotiation: boolean;
  /** The server's signature scheme (absent for TLS 1.2 RSA key exchange and resumption). */
  signatureScheme?: SignatureScheme;
  /** GnuTLS-style session description (gnutls_session_get_desc), as occtl shows it. */
  description: string;
}

export type EffectiveConfig = Required<Pick<TlsServerConfig, "credentials" | "policy" | "clientAuth">> &
  Pick<TlsServerConfig, "verifyClientChain">;

// ---------------------------------------------------------------------------------------------
// Handshake states

export interface Negotiated {
  readonly cfg: EffectiveConfig;
  readonly ch: ClientHello;
  readonly sni: string | null;
  readonly suite: CipherSuite;
  readonly group: NamedGroup | undefined;
  readonly safeRenegotiation: boolean;
  readonly signatureScheme: SignatureScheme | undefined;
}

export interface Tls13Handshake extends Negotiated {
  readonly alg: HashAlg;
  readonly transcript: Hash;
  readonly clientHsSecret: Uint8Array;
  readonly master: MasterSecret;
  readonly clientAppSecret: Uint8Array;
  readonly serverAppSecret: Uint8Array;
  readonly exporter: Exporter13;
  /** Schemes we put in CertificateRequest. */
  readonly offeredClientSchemes: readonly SignatureScheme[];
  /** Resumed from a ticket (PSK with ECDHE): no certificates were exchanged in this handshake. */
  readonly resumed: boolean;
}

export interface PeerChain {
  readonly chain: Uint8Array[];
  readonly key: PublicKey;
}

export interface Tls12Handshake extends Negotiated {
  readonly prf: HashAlg;
  readonly serverRandom: Uint8Array;
  readonly sessionId: Uint8Array;
  readonly ems: boolean;
  /** All handshake messages so far (TLS 1.2 CertificateVerify signs them, not their hash). */
  readonly transcript: Writer;
  readonly keyShare: KeyShare | null;
  readonly credentials: TlsCredentials | null;
  readonly offeredClientSchemes: readonly SignatureScheme[];
}

export interface Tls12Keys {
  readonly master: Uint8Array;
  readonly read: RecordProtection;
  readonly write: RecordProtection;
}

export interface HrrMemo {
  readonly cfg: EffectiveConfig;
  readonly sni: string | null;
  readonly suite: CipherSuite;
  readonly group: NamedGroup;
  readonly transcript: Hash;
  readonly sentCcs: boolean;
}

export type State =
  | { kind: "ExpectClientHello"; hrr: HrrMemo | null }
  | { kind: "Tls13ExpectCertificate"; hs: Tls13Handshake }
  | { kind: "Tls13ExpectCertificateVerify"; hs: Tls13Handshake; peer: PeerChain }
  | { kind: "Tls13ExpectFinished"; hs: Tls13Handshake; peer: PeerChain | null }
  | { kind: "Tls13Traffic"; t: Tls13Traffic }
  | { kind: "Tls12ExpectCertificate"; hs: Tls12Handshake }
  | { kind: "Tls12ExpectClientKeyExchange"; hs: Tls12Handshake; peer: PeerChain | null }
  | { kind: "Tls12ExpectCertificateVerify"; hs: Tls12Handshake; peer: PeerChain; keys: Tls12Keys }
  | { kind: "Tls12ExpectChangeCipherSpec"; hs: Tls12Handshake; peer: PeerChain | null; keys: Tls12Keys; resumed: boolean }
  | { kind: "Tls12ExpectFinished"; hs: Tls12Handshake; peer: PeerChain | null; keys: Tls12Keys; resumed: boolean }
  | { kind: "Tls12Traffic"; t: Tls12Traffic }
  | { kind: "Closed" };

export interface Tls13Traffic {
  readonly alg: HashAlg;
  readonly suite: CipherSuite;
  clientSecret: Uint8Array;
  serverSecret: Uint8Array;
  readonly exporter: Exporter13;
}
export interface Tls12Traffic {
  readonly prf: HashAlg;
  readonly master: Uint8Array;
  readonly clientRandom: Uint8Array;
  readonly serverRandom: Uint8Array;
}

/** RFC 5705 / RFC 8446 §7.5 exporter bound to one completed handshake. */
export type KeyingMaterialExporter = (label: string, context: Uint8Array | null, length: number) => Uint8Array;

/**
 * What a handshake handler may do to the connection: queue handshake messages under the current
 * write protection, send a ChangeCipherSpec, switch record protection, narrow the outgoing fragment
 * size, and declare the handshake complete. Randomness, time and key shares are injected here too.
 */
export interface HandshakeSink {
  readonly random: (n: number) => Uint8Array;
  readonly now: () => number;
  readonly newKeyShare: (group: NamedGroup) => KeyShare;
  readonly sessionCache: SessionCache | undefined;
  /** False once we have sent close_notify or failed. */
  readonly writable: boolean;
  /** A whole handshake message (4-byte header included). */
  handshake(raw: Uint8Array): void;
  changeCipherSpec(): void;
  /** Pending handshake messages are sealed with the old protection first. */
  setWriteProtection(p: RecordProtection): void;
  setReadProtection(p: RecordProtection): void;
  limitOutgoingFragment(n: number): void;
  /** The handshake is complete; `exporter` stays usable for the life of the connection. */
  established(info: TlsInfo, exporter: KeyingMaterialExporter): void;
}
