// Authentications waiting for the client's next answer, keyed by SID, so that a client may send that
// answer on a new TLS connection. ocserv keeps the auth state in sec-mod under the SID and sends the
// SID to the client as the `webvpncontext` cookie with every form; a worker that receives a POST with
// that cookie continues the same authentication (protocol.md §1.3, §1.4). Without this table an
// AnyConnect client that drops the connection between two form rounds would have to start over.
//
// The SID is a 32-byte secret; lookup goes by its SHA-1 and ends in a constant-time comparison, as in
// the session table. An entry is taken (removed) when used, because a backend state may be answered
// only once, and it is bound to the vhost and the peer address that started it. Entries live at most
// auth-timeout; the table is bounded.

import type { AuthState as BackendState } from "../../auth/types.ts";
import { constantTimeEqual } from "../../wire/writer.ts";
import { safeIdOf } from "./cookies.ts";
import type { Clock } from "./sessions.ts";

export const DEFAULT_MAX_PENDING = 4096;

export interface PendingAuth {
  readonly sid: Uint8Array;
  readonly vhost: string | null;
  readonly remoteIp: string;
  readonly backend: BackendState;
  readonly message: string;
  readonly fieldName: "password" | "secondary_password";
  readonly label: string;
  readonly requestedGroup: string | null;
  readonly wrongPasswords: number;
  /** ms since the epoch. */
  readonly expiresAt: number;
}

export class PendingAuths {
  private readonly entries = new Map<string, PendingAuth>();

  constructor(
    private readonly clock: Clock,
    private readonly max = DEFAULT_MAX_PENDING,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  put(p: PendingAuth): void {
    const key = safeIdOf(p.sid);
    if (!this.entries.has(key) && this.entries.size >= this.max) {
      this.purge();
      // Still full: drop the oldest (Map keeps insertion order); a client that loses its pending
      // auth only has to start again.
      if (this.entries.size >= this.max) {
        const oldest = this.entries.keys().next();
        if (!oldest.done) this.entries.delete(oldest.value);
      }
    }
    this.entries.delete(key);
    this.entries.set(key, p);
  }

  /** Removes and returns the pending auth of `sid` if it is live and was started on this vhost from this address. */
  take(sid: Uint8Array, vhost: string | null, remoteIp: string): PendingAuth | null {
    const key = safeIdOf(sid);
    const p = this.entries.get(key);
    if (p === undefined || !constantTimeEqual(p.sid, sid)) return null;
    this.entries.delete(key);
    if (this.clock.now() >= p.expiresAt || p.vhost !== vhost || p.remoteIp !== remoteIp) return null;
    return p;
  }

  delete(sid: Uint8Array): void {
    this.entries.delete(safeIdOf(sid));
  }

  purge(): void {
    const now = this.clock.now();
    for (const [k, p] of this.entries) if (now >= p.expiresAt) this.entries.delete(k);
  }
}
