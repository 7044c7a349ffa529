// The seam between the HTTP front (src/server/front: TLS connection → HTTP → authentication → cookie
// check) and the tunnel side (src/server/tunnel: leases, tun devices, CONNECT response, CSTP data path).
// The front owns a connection until a CONNECT with a valid cookie arrives; it then hands the connection
// to the TunnelManager, which answers the CONNECT and runs the tunnel until the connection ends.

import type { SessionSettings, VhostConfig } from "../config/types.ts";

/** What a client's successful authentication produced; lives in the session store, keyed by SID. */
export interface SessionRecord {
  /** 32 random bytes; its standard base64 is the `webvpn` cookie value. */
  readonly sid: Uint8Array;
  /** base64(SHA1(sid)): the only form of the ID that may appear in logs (ocserv's safe_id). */
  readonly safeId: string;
  readonly username: string;
  readonly group: string | null;
  /** `[vhost:NAME]` the session authenticated on; null for the default vhost. */
  readonly vhost: string | null;
  /** Time of the original authentication (ms since epoch); session-timeout counts from here. */
  readonly authTime: number;
  /** Peer IP that authenticated (deny-roaming compares with it). */
  readonly authIp: string;
  readonly userAgent: string;
}

/** The transport under a tunnel: the established TLS connection of the CONNECT request. */
export interface TunnelTransport {
  /** Sends one CSTP packet as exactly one TLS record (openconnect requires one packet per record). */
  sendRecord(data: Uint8Array): void;
  /** TLS exporter (RFC 5705 / RFC 8446 §7.5); the DTLS PSK is exporter("EXPORTER-openconnect-psk", null, 32). */
  exportKeyingMaterial(label: string, context: Uint8Array | null, length: number): Uint8Array;
  readonly tls: { version: "TLS1.2" | "TLS1.3"; cipherSuite: string; safeRenegotiation: boolean };
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  /** The local TCP port; with the addresses it identifies the socket (src/net SocketOptions finds its fd). */
  readonly localPort?: number;
  /** Ends the connection (close_notify, then TCP close). */
  close(): void;
  /** TLS 1.3 only: a server KeyUpdate that also asks the client to update (ocserv 1.5.1 rekey-method ssl). */
  keyUpdate?(): void;
  /** Optional flow control: stop delivering records to the tunnel while a tun write would block (ocserv tun_enqueue_write). */
  pauseReading?(): void;
  resumeReading?(): void;
  /** Optional: true while the outgoing queue is above its high-water mark; the tunnel then stops reading its tun device until transportWritable(). */
  readonly congested?: boolean;
}

/** A CONNECT request that passed the cookie check. Header names are matched case-sensitively, as ocserv does. */
export interface ConnectRequest {
  readonly session: SessionRecord;
  readonly headers: ReadonlyMap<string, string>;
  readonly transport: TunnelTransport;
  /**
   * The session's effective settings (vhost, group file, user file) as the front loaded them for
   * this CONNECT's checks; the tunnel side uses them instead of reading the files again. Absent:
   * the tunnel side loads them itself.
   */
  readonly settings?: SessionSettings;
}

/** The outcome of loading a session's per-user/group configuration (src/config loadSessionSettings). */
export type SessionSettingsResult =
  | { readonly kind: "ok"; readonly settings: SessionSettings }
  | { readonly kind: "rejected"; readonly reason: string };

/** Loads the effective settings of a session: the vhost overlaid with its group file, then its user file. */
export type SessionSettingsLoader = (vhost: VhostConfig, username: string, group: string | null) => Promise<SessionSettingsResult>;

export type ConnectOutcome =
  /** `head` is the full HTTP response head ("HTTP/1.1 200 CONNECTED\r\n...\r\n\r\n"); after it is sent,
   *  every application-data record from the client goes to `tunnel.receiveRecord`. */
  | { readonly ok: true; readonly head: string; readonly tunnel: TunnelHandle }
  /** 401 "Cookie is not acceptable" or 503 with an X-Reason; the front sends it and closes. */
  | { readonly ok: false; readonly status: 401 | 503; readonly reason: string };

export interface TunnelHandle {
  /** One decrypted TLS application-data record from the client (CSTP framing inside). */
  receiveRecord(data: Uint8Array): void;
  /** The TLS connection ended (peer close, error, or our close); releases lease and tun unless reused. */
  transportClosed(): void;
  /** Optional: the transport's outgoing queue drained below its low-water mark after being congested. */
  transportWritable?(): void;
}

export interface TunnelManager {
  connect(req: ConnectRequest): Promise<ConnectOutcome>;
}

/** Why a session ended; decides what happens to the cookie (protocol.md §1.4). */
export type DisconnectReason =
  | "user-disconnect" // BYE 0xb0: cookie invalidated
  | "user-reconnect" // BYE 0x91 or BYE without reason: cookie kept
  | "server-disconnect" // occtl disconnect / server killed it: cookie invalidated
  | "session-timeout" // cookie invalidated
  | "idle-timeout" // cookie kept
  | "dpd-timeout" // cookie kept
  | "error"; // transport error: cookie kept

/** The session store as the tunnel side sees it. */
export interface SessionStore {
  lookup(sid: Uint8Array): SessionRecord | null;
  /** Called when a tunnel on this session ends; applies the cookie-lifetime rules of protocol.md §1.4. */
  ended(sid: Uint8Array, reason: DisconnectReason): void;
  /** Called at each successful CONNECT: refreshes the cookie lifetime. */
  connected(sid: Uint8Array): void;
}
