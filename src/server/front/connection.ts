// One client connection, from accept to close: bytes in → TLS → HTTP → Action → TLS → bytes out.
//
// Flow of one connection:
//   1. accept: ban-points-connection are added first (ocserv check_if_banned adds, then checks); a
//      banned address is closed before TLS. The auth-timeout deadline starts now.
//   2. handshake: ciphertext goes to the TLS object; once it reports `info`, the vhost is chosen from
//      SNI and the HTTP stage begins.
//   3. HTTP: each decrypted record is one "read" for the request parser; each complete request is
//      handled by the AuthExchange, strictly one at a time (records that arrive meanwhile wait in a
//      queue, as unread socket data waits for ocserv's worker).
//   4. tunnel: after a CONNECT succeeds, the head is written and every later record goes straight to
//      tunnel.receiveRecord; the auth-timeout no longer applies.
//   5. close: peer close, TLS error, deny, auth-timeout or the tunnel's transport.close(). The tunnel
//      side hears transportClosed() exactly once.
// Timers are the driver's: it asks nextDeadline() after each call and calls onTimer() when it passes.

import type { TunnelHandle, TunnelTransport } from "../contract.ts";
import type { Config, VhostConfig } from "../../config/types.ts";
import type { Logger } from "../../log/types.ts";
import type { CertIdentity } from "../../auth/types.ts";
import type { Authenticator, BanTracker, FrontSocket, FrontTls } from "./types.ts";
import type { Clock } from "./sessions.ts";
import type { Action, FrontSessions, UserProfile } from "./exchange.ts";
import type { SessionSettingsLoader, TunnelManager } from "../contract.ts";
import { AuthExchange } from "./exchange.ts";
import type { PendingAuths } from "./pending.ts";
import { HttpRequestParser, MAX_BODY_BYTES, MAX_HEADER_BYTES } from "./http.ts";
import { HTTP_ERROR_RESPONSE } from "./errors.ts";
import { errorStatusResponse } from "./responses.ts";
import { sha1 } from "@noble/hashes/legacy.js";

/** TLS plaintext records carry at most 2^14 bytes (RFC 8446 §5.1, RFC 5246 §6.2.1). */
const MAX_RECORD_PLAINTEXT = 16384;
/**
 * Plaintext held while a request is being handled (a CONNECT can wait seconds on connect-script or
 * ping-leases). Clients wait for our answer before sending more, so this is ample: one request of
 * ocserv's maximum size and a few records beyond. ocserv leaves such data in the kernel's socket
 * buffer, which is bounded; Bun delivers it to us at once, so we bound it here.
 */
export const MAX_QUEUED_BYTES = MAX_HEADER_BYTES + MAX_BODY_BYTES + 4 * MAX_RECORD_PLAINTEXT;

export interface FrontEnvironment {
  config(): Config;
  /** Shared by all connections of one front (see pending.ts). */
  readonly pending: PendingAuths;
  authenticatorFor(vhost: VhostConfig): Authenticator;
  readonly sessions: FrontSessions;
  readonly tunnels: TunnelManager;
  readonly bans: BanTracker;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Per-user/group configuration, loaded at each CONNECT (src/config loadSessionSettings). */
  readonly settingsFor: SessionSettingsLoader;
  /** The loaded `user-profile` of a vhost, or null. */
  userProfileFor?(vhost: VhostConfig): UserProfile | null;
  /** DER of the vhost's server certificate, whose SHA-1 goes into the webvpnc cookie. */
  serverCertificateFor?(vhost: VhostConfig): Uint8Array | null;
  /** User and groups from a verified client chain (src/x509 with cert-user-oid / cert-group-oid);
   *  null when it cannot be read. */
  identifyCertificate?(vhost: VhostConfig, chain: readonly Uint8Array[]): CertIdentity | null;
  /** Verifies a client chain against the vhost's current ca-cert, crl and clock (the TLS layer's
   *  verifier). Used for resumed TLS sessions, whose chain was verified only when first made. */
  verifyClientChain?(vhost: VhostConfig, chain: readonly Uint8Array[]): boolean;
}

export interface ConnectionDeps {
  readonly socket: FrontSocket;
  readonly tls: FrontTls;
}

type ConnState =
  | { readonly kind: "handshake" }
  | { readonly kind: "http"; readonly parser: HttpRequestParser; readonly exchange: AuthExchange; readonly vhost: VhostConfig }
  | { readonly kind: "tunnel"; readonly tunnel: TunnelHandle }
  | { readonly kind: "closed" };

export class FrontConnection {
  private state: ConnState = { kind: "handshake" };
  private deadline: number | null;
  private readonly queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private busy = false;
  private sawData = false;
  private readonly log: Logger;
  private readonly transport: TunnelTransport;

  constructor(
    private readonly env: FrontEnvironment,
    private readonly deps: ConnectionDeps,
  ) {
    const cfg = env.config();
    const ip = deps.socket.remoteAddress;
    this.log = env.logger.child(`worker ${ip}:${deps.socket.remotePort}`);
    this.deadline = env.clock.now() + cfg.global["auth-timeout"] * 1000;
    this.transport = this.makeTransport();
    if (env.bans.admitConnection(ip) === "banned") {
      this.log.info("address is banned; closing before TLS");
      this.state = { kind: "closed" };
      this.deadline = null;
      deps.socket.end();
    }
  }

  get closed(): boolean {
    return this.state.kind === "closed";
  }

  get stage(): ConnState["kind"] {
    return this.state.kind;
  }

  /** When onTimer() should next be called (ms since epoch), or null. */
  nextDeadline(): number | null {
    return this.state.kind === "closed" ? null : this.deadline;
  }

  /**
   * Ciphertext from the socket. Returns a promise only when requests are being handled (it resolves
   * when they are); on the packet path it returns undefined, so a tunnel read allocates no promise.
   * It never rejects.
   */
  onData(bytes: Uint8Array): Promise<void> | undefined {
    if (this.state.kind === "closed") return;
    this.sawData = true;
    const tls = this.deps.tls;
    try {
      tls.receive(bytes);
    } catch (e) {
      this.flush();
      this.log.info(`TLS error: ${e instanceof Error ? e.message : String(e)}`);
      this.teardown();
      return;
    }
    this.flush();
    if (tls.state === "closed" && this.state.kind === "handshake") {
      this.log.info("TLS handshake failed");
      this.teardown();
      return;
    }
    if (this.state.kind === "handshake" && tls.info !== null) {
      try {
        this.startHttp();
      } catch (e) {
        // e.g. no authenticator for this vhost: a server problem, so end this connection only.
        this.log.error(`cannot serve the connection: ${e instanceof Error ? e.message : String(e)}`);
        this.closeWith("close");
        return;
      }
    }
    for (let rec = tls.readApplicationData(); rec !== null; rec = tls.readApplicationData()) {
      // The packet path: in tunnel mode with nothing queued, hand the record over directly.
      if (this.state.kind === "tunnel" && this.queue.length === 0) {
        try {
          this.state.tunnel.receiveRecord(rec);
        } catch (e) {
          this.log.error(`tunnel record handling failed: ${e instanceof Error ? e.message : String(e)}`);
          this.closeWith("close");
          return;
        }
      } else {
        // The record is a view valid until the next tls.receive(), and queued records wait across
        // awaits (login): copy here, in the HTTP stage only, never on the tunnel's packet path.
        this.queue.push(rec.slice());
        this.queuedBytes += rec.length;
        if (this.queuedBytes > MAX_QUEUED_BYTES) {
          this.log.info(`more than ${MAX_QUEUED_BYTES} bytes sent while a request was being handled; closing`);
          this.closeWith("close");
          return;
        }
      }
    }
    if (this.queue.length === 0 || this.busy) {
      // Nothing new to handle here (a running pump picks queued records up).
      if (tls.state === "closed" && !this.busy) this.teardown();
      return;
    }
    return this.pump();
  }

  /** The peer closed TCP or the socket failed. */
  onPeerClosed(): void {
    if (this.state.kind === "closed") return;
    // Load-balancer health probes connect and close without a byte: not worth more than debug.
    if (!this.sawData) this.log.debug("closed before any data");
    else if (this.state.kind === "handshake") this.log.info("closed during the TLS handshake");
    this.teardown();
  }

  /** Called by the driver at or after nextDeadline(). */
  onTimer(): void {
    if (this.state.kind === "closed" || this.deadline === null) return;
    if (this.env.clock.now() < this.deadline) return;
    // ocserv enforces auth-timeout with alarm() in the worker: the connection simply ends.
    this.log.info("auth-timeout reached before CONNECT; closing");
    this.closeWith("close");
  }

  private startHttp(): void {
    const tls = this.deps.tls;
    const info = tls.info;
    if (info === null) return;
    const vhost = this.env.config().vhostFor(info.sni);
    const serverCert = this.env.serverCertificateFor?.(vhost) ?? null;
    let certificate: CertIdentity | null = null;
    if (info.peerCertificates.length > 0) {
      // A resumed session carries the chain verified in its first handshake; the certificate may
      // have been revoked (crl reloaded) or expired since, so it is checked again now, as ocserv
      // verifies the peer certificate after every handshake. Without a verifier it is not trusted.
      const usable = info.resumed !== true || (this.env.verifyClientChain?.(vhost, info.peerCertificates) ?? false);
      if (usable) certificate = this.env.identifyCertificate?.(vhost, info.peerCertificates) ?? null;
      else this.log.info("the client certificate of the resumed TLS session no longer verifies; ignoring it");
    }
    const exchange = new AuthExchange({
      vhost,
      global: this.env.config().global,
      authenticator: this.env.authenticatorFor(vhost),
      sessions: this.env.sessions,
      tunnels: this.env.tunnels,
      bans: this.env.bans,
      logger: this.log,
      remoteIp: this.deps.socket.remoteAddress,
      certificate,
      serverCertSha1: serverCert === null ? null : Buffer.from(sha1(serverCert)).toString("hex").toUpperCase(),
      profile: this.env.userProfileFor?.(vhost) ?? null,
      transport: this.transport,
      pending: this.env.pending,
      clock: this.env.clock,
      pendingTtlMs: this.env.config().global["auth-timeout"] * 1000,
      settingsFor: this.env.settingsFor,
    });
    this.state = { kind: "http", parser: new HttpRequestParser(), exchange, vhost };
  }

  /** Handles queued records one at a time; a second caller returns at once and the first picks its records up. */
  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length > 0) {
        const state = this.state;
        if (state.kind === "closed" || state.kind === "handshake") {
          this.queue.length = 0;
          this.queuedBytes = 0;
          break;
        }
        const rec = this.queue.shift() as Uint8Array;
        this.queuedBytes -= rec.length;
        if (state.kind === "tunnel") {
          state.tunnel.receiveRecord(rec);
          continue;
        }
        const fed = state.parser.feed(rec);
        if (fed.kind === "need-more") continue;
        if (fed.kind === "error") {
          this.log.info(`HTTP error (${fed.error.code}): ${fed.error.message}`);
          const status = HTTP_ERROR_RESPONSE[fed.error.code];
          if (status !== null) this.writeResponse(errorStatusResponse(1, status.status, status.reason));
          this.closeWith("close");
          break;
        }
        this.log.trace(`HTTP ${fed.request.method} ${fed.request.url.split("?")[0] ?? ""}`);
        let action: Action;
        try {
          action = await state.exchange.handle(fed.request);
        } catch (e) {
          // A bug, not a client error: end this connection rather than the process.
          this.log.error(`request handling failed: ${e instanceof Error ? e.message : String(e)}`);
          this.closeWith("close");
          break;
        }
        this.perform(action);
      }
    } catch (e) {
      this.log.error(`tunnel record handling failed: ${e instanceof Error ? e.message : String(e)}`);
      this.closeWith("close");
    } finally {
      this.busy = false;
    }
    // close_notify may have arrived while a request was being handled.
    if (this.deps.tls.state === "closed") this.teardown();
  }

  private perform(action: Action): void {
    if (this.state.kind === "closed") {
      if (action.kind === "tunnel") action.tunnel.transportClosed();
      return;
    }
    switch (action.kind) {
      case "respond":
        this.writeResponse(action.bytes);
        if (action.then !== "keep-open") this.closeWith(action.then);
        return;
      case "tunnel":
        this.writeResponse(action.head);
        this.state = { kind: "tunnel", tunnel: action.tunnel };
        this.deadline = null;
        return;
      default: {
        const never: never = action;
        throw new TypeError(`unknown action ${String(never)}`);
      }
    }
  }

  private writeResponse(bytes: Uint8Array): void {
    const tls = this.deps.tls;
    // The peer may have closed while the request was being handled.
    if (tls.state !== "established") return;
    for (let o = 0; o < bytes.length; o += MAX_RECORD_PLAINTEXT) {
      tls.write(bytes.subarray(o, Math.min(bytes.length, o + MAX_RECORD_PLAINTEXT)));
    }
    this.flush();
  }

  private flush(): void {
    const out = this.deps.tls.takeOutgoing();
    if (out !== null && out.length > 0) this.deps.socket.send(out);
  }

  private closeWith(how: "close" | "deny"): void {
    if (this.state.kind === "closed") return;
    const tls = this.deps.tls;
    if (tls.state === "established") {
      if (how === "deny" && tls.fatalAlert) tls.fatalAlert("access_denied");
      else tls.close();
    }
    this.flush();
    this.teardown();
  }

  private teardown(): void {
    const state = this.state;
    if (state.kind === "closed") return;
    this.state = { kind: "closed" };
    this.deadline = null;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.deps.socket.end();
    if (state.kind === "tunnel") {
      // teardown runs inside socket callbacks and timers, where an exception would end the whole
      // process (cli.ts treats uncaught errors as fatal): a failing release ends only this tunnel.
      try {
        state.tunnel.transportClosed();
      } catch (e) {
        this.log.error(`tunnel release failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }

  private makeTransport(): TunnelTransport {
    const { tls, socket } = this.deps;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const conn = this;
    return {
      sendRecord(data: Uint8Array): void {
        if (conn.state.kind === "closed" || tls.state !== "established") return;
        tls.write(data);
        conn.flush();
      },
      exportKeyingMaterial(label: string, context: Uint8Array | null, length: number): Uint8Array {
        return tls.exportKeyingMaterial(label, context, length);
      },
      get tls() {
        const info = tls.info;
        if (info === null) throw new Error("TLS handshake not complete");
        return { version: info.version, cipherSuite: info.cipherSuite, safeRenegotiation: info.safeRenegotiation };
      },
      remoteAddress: socket.remoteAddress,
      remotePort: socket.remotePort,
      localAddress: socket.localAddress,
      localPort: socket.localPort,
      close(): void {
        conn.closeWith("close");
      },
      keyUpdate(): void {
        if (conn.state.kind === "closed" || tls.state !== "established" || tls.info?.version !== "TLS1.3" || !tls.keyUpdate) return;
        tls.keyUpdate(true);
        conn.flush();
        conn.log.info("TLS 1.3 session keys refreshed");
      },
    };
  }
}
