import type { AuthRequest, AuthState, AuthStep } from "../../auth/types.ts";

// The narrow edges of the HTTP front. Each is what the front needs of a module built elsewhere
// (src/tls, src/auth, the ban tracker, the socket adapter); the lead wires the real ones in, tests
// use in-memory doubles. Keeping them narrow means the front does not change when those modules grow.

/**
 * What the front needs of one TLS server connection. src/tls TlsServerConnection satisfies it as is;
 * `fatalAlert` is optional because it has no public way to send one yet (without it we close_notify).
 */
export interface FrontTls {
  /** Ciphertext from the peer. A fatal TLS error leaves `state` "closed" with the alert queued. */
  receive(bytes: Uint8Array): void;
  /** Ciphertext to send to the peer, or null/empty when there is none. Valid only until the next
   *  call that produces output (write, receive, close, ...): send or copy it at once. */
  takeOutgoing(): Uint8Array | null;
  /** The plaintext of the next application-data record received, or null. One call = one "read".
   *  Valid only until the next receive(): a caller that keeps it (the HTTP stage queues records across
   *  awaits) copies it; the tunnel consumes it during the call. */
  readApplicationData(): Uint8Array | null;
  /** Sends `data` as one application-data record (split only if the peer's record limit is smaller). */
  write(data: Uint8Array): void;
  readonly state: "handshaking" | "established" | "closing" | "closed";
  /** Null until the handshake completes. */
  readonly info: FrontTlsInfo | null;
  exportKeyingMaterial(label: string, context: Uint8Array | null, length: number): Uint8Array;
  /** close_notify. */
  close(): void;
  /** TLS 1.3 KeyUpdate (RFC 8446 §4.6.3); throws on TLS 1.2. */
  keyUpdate?(requestPeer: boolean): void;
  /** A fatal alert: ocserv sends access_denied after a failed auth or cookie check. */
  fatalAlert?(alert: "access_denied"): void;
}

export interface FrontTlsInfo {
  readonly version: "TLS1.2" | "TLS1.3";
  readonly cipherSuite: string;
  readonly sni: string | null;
  /** DER certificates the client presented, leaf first; verified during the handshake. */
  readonly peerCertificates: readonly Uint8Array[];
  readonly safeRenegotiation: boolean;
  /** True when the session was resumed (ticket or session ID): its peerCertificates were verified
   *  when the session was first made, against the CA, CRL and clock of that time. */
  readonly resumed?: boolean;
}

/** The TCP side of one connection; src/net TcpConnection satisfies it as is. */
export interface FrontSocket {
  /** Queues bytes for the peer; the socket copies them or sends them before returning. */
  send(data: Uint8Array): void;
  /** Closes after flushing what was queued. */
  end(): void;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort?: number;
}

/**
 * One vhost's authentication (src/auth createAuthenticator satisfies it). Steps may be promises so a
 * future asynchronous backend (PAM, RADIUS) fits without changing the front.
 */
export interface Authenticator {
  /** Whether the first form carries username and password fields. */
  usesPassword(hasCertificate: boolean): boolean;
  /** The backend's groups, for auto-select-group. */
  listGroups(): readonly string[];
  start(req: AuthRequest): AuthStep | Promise<AuthStep>;
  /** `password` null: the client sent no password field (the backend answers "No password"). */
  answer(state: AuthState, password: string | null): AuthStep | Promise<AuthStep>;
}

/** Ban points (architecture.md §4); src/auth BanTracker satisfies it. */
export interface BanTracker {
  /** A new TCP connection: charges ban-points-connection, then decides. */
  admitConnection(ip: string): "allow" | "banned";
  /** Adds points to an IP; returns true when the IP is banned after the addition. */
  addPoints(ip: string, points: number): boolean;
}
