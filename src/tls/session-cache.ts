// TLS 1.2 session-ID resumption cache (RFC 5246 §7.4.1.2). ocserv keeps it in sec-mod with a lifetime
// of cookie-timeout (protocol.md §0); here it is an in-memory map owned by whoever creates it, bounded
// in size (the oldest entry is evicted first) and in time. Entries hold the master secret, so they are
// never logged and are wiped on removal.

import { toHex } from "../wire/writer.ts";
import type { NamedGroup, SignatureScheme } from "../crypto/types.ts";

export interface CachedSession {
  readonly masterSecret: Uint8Array;
  readonly cipherSuite: number;
  readonly extendedMasterSecret: boolean;
  readonly sni: string | null;
  readonly peerCertificates: readonly Uint8Array[];
  /**
   * "TLS1.3": a ticket's resumption PSK (RFC 8446 §4.6.1) stored under the ticket; otherwise a TLS 1.2
   * master secret under its session ID. The two are never interchangeable.
   */
  readonly version?: "TLS1.2" | "TLS1.3";
  /** From the full handshake, for TlsInfo of resumed sessions. */
  readonly group?: NamedGroup | undefined;
  readonly signatureScheme?: SignatureScheme | undefined;
}

interface Entry {
  readonly session: CachedSession;
  readonly expires: number;
}

export class SessionCache {
  private readonly entries = new Map<string, Entry>();
  constructor(
    readonly lifetimeSeconds: number,
    readonly maxEntries: number,
  ) {
    if (!(lifetimeSeconds > 0) || !Number.isInteger(maxEntries) || maxEntries < 1)
      throw new RangeError("SessionCache needs a positive lifetime and maxEntries");
  }

  get size(): number {
    return this.entries.size;
  }

  /** `nowMs` is milliseconds (Date.now()-like), injected by the connection. */
  put(sessionId: Uint8Array, session: CachedSession, nowMs: number): void {
    if (sessionId.length === 0) return;
    const key = toHex(sessionId);
    this.entries.delete(key);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.remove(oldest);
    }
    this.entries.set(key, { session, expires: nowMs + this.lifetimeSeconds * 1000 });
  }

  get(sessionId: Uint8Array, nowMs: number): CachedSession | null {
    if (sessionId.length === 0) return null;
    const key = toHex(sessionId);
    const e = this.entries.get(key);
    if (e === undefined) return null;
    if (e.expires <= nowMs) {
      this.remove(key);
      return null;
    }
    return e.session;
  }

  delete(sessionId: Uint8Array): void {
    this.remove(toHex(sessionId));
  }

  private remove(key: string): void {
    const e = this.entries.get(key);
    if (e !== undefined) e.session.masterSecret.fill(0);
    this.entries.delete(key);
  }
}
