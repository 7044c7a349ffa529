// The front's factory, called by the lead's main wiring once per process (and again on reload).
//
//   const sessions = new MemorySessionStore({ clock, random: randomBytes, policy: vhostSessionPolicy(() => config) });
//   const front = createFront({ config, authenticatorFor, sessions, tunnels, bans, logger, clock,
//                               serverCertificateFor, userProfileFor });
//   // per accepted TCP connection (the constructor charges ban-points-connection and may close at once):
//   const conn = front.handleConnection({ socket, tls: new TlsServerConnection(...) });
//   on data:  conn.onData(bytes)  (returns a promise only while requests are handled; never rejects)
//   on close: conn.onPeerClosed()
//   timers:   arm at conn.nextDeadline() (null = none), call conn.onTimer(); re-read the deadline
//             after each onData/onTimer.
// The same MemorySessionStore is the SessionStore the TunnelManager gets (contract.ts).

import type { SessionSettingsLoader, TunnelManager } from "../contract.ts";
import type { Config, VhostConfig } from "../../config/types.ts";
import type { Logger } from "../../log/types.ts";
import type { CertIdentity } from "../../auth/types.ts";
import type { Authenticator, BanTracker } from "./types.ts";
import type { Clock } from "./sessions.ts";
import type { FrontSessions, UserProfile } from "./exchange.ts";
import { FrontConnection, type ConnectionDeps, type FrontEnvironment } from "./connection.ts";
import { certificateIdentity } from "./certs.ts";
import { PendingAuths } from "./pending.ts";
import { sha1 } from "@noble/hashes/legacy.js";
import { loadSessionSettings } from "../../config/index.ts";

export interface FrontDeps {
  readonly config: Config;
  authenticatorFor(vhost: VhostConfig): Authenticator;
  readonly sessions: FrontSessions;
  readonly tunnels: TunnelManager;
  readonly bans: BanTracker;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Per-user/group configuration for the CONNECT checks; default: src/config loadSessionSettings,
   *  the loader the tunnel manager uses (the front hands what it loaded to the manager). */
  readonly settingsFor?: SessionSettingsLoader;
  /** The loaded `user-profile` of a vhost (see makeUserProfile), or null; absent = none. */
  userProfileFor?(vhost: VhostConfig): UserProfile | null;
  /** DER of the vhost's (first) server certificate, for the webvpnc cookie's `sh:`. */
  serverCertificateFor?(vhost: VhostConfig): Uint8Array | null;
  /** User and groups of a verified client chain; default: certificateIdentity (src/x509 with
   *  cert-user-oid / cert-group-oid). */
  identifyCertificate?(vhost: VhostConfig, chain: readonly Uint8Array[]): CertIdentity | null;
  /** The vhost's current client-chain verifier; re-checks the chain of a resumed TLS session.
   *  Absent: a resumed session's certificate is not used. */
  verifyClientChain?(vhost: VhostConfig, chain: readonly Uint8Array[]): boolean;
}

export interface Front {
  handleConnection(deps: ConnectionDeps): FrontConnection;
  /** Swaps the configuration whole (SIGHUP); connections already past the handshake keep their vhost. */
  reload(config: Config): void;
}

export function createFront(deps: FrontDeps): Front {
  let config = deps.config;
  const env: {
    -readonly [K in keyof FrontEnvironment]: FrontEnvironment[K];
  } = {
    config: () => config,
    pending: new PendingAuths(deps.clock),
    authenticatorFor: (vhost) => deps.authenticatorFor(vhost),
    sessions: deps.sessions,
    tunnels: deps.tunnels,
    bans: deps.bans,
    logger: deps.logger,
    clock: deps.clock,
    settingsFor: deps.settingsFor ?? loadSessionSettings,
  };
  if (deps.userProfileFor) env.userProfileFor = (v) => deps.userProfileFor?.(v) ?? null;
  if (deps.serverCertificateFor) env.serverCertificateFor = (v) => deps.serverCertificateFor?.(v) ?? null;
  if (deps.verifyClientChain) env.verifyClientChain = (v, c) => deps.verifyClientChain?.(v, c) ?? false;
  // Certificate names come from src/x509 unless the caller substitutes its own reader.
  env.identifyCertificate = (v, c) => (deps.identifyCertificate ? deps.identifyCertificate(v, c) : certificateIdentity(v, c));
  return {
    handleConnection: (c) => new FrontConnection(env, c),
    reload(next: Config): void {
      config = next;
    },
  };
}

/** A `user-profile` file as served at /profiles/<base name>, with its SHA-1 for the webvpnc cookie. */
export function makeUserProfile(path: string, contents: Uint8Array): UserProfile {
  const fileName = path.slice(path.lastIndexOf("/") + 1);
  return Object.freeze({ fileName, contents, sha1: Buffer.from(sha1(contents)).toString("hex").toUpperCase() });
}
