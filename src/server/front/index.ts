// Public API of the HTTP front (TLS connection → HTTP → authentication → cookie check → CONNECT).
// The lead's wiring needs createFront and MemorySessionStore; the tunnel side may use classifyClient
// (mobile detection) and the cookie helpers. Everything else is internal.

export { createFront, makeUserProfile, type Front, type FrontDeps } from "./server.ts";
export { FrontConnection, type ConnectionDeps, type FrontEnvironment } from "./connection.ts";
export {
  MemorySessionStore,
  vhostSessionPolicy,
  connectPolicyOf,
  AUTH_SLACK_MS,
  DEFAULT_MAX_SESSIONS,
  type AdmitFailure,
  type AdmitResult,
  type Clock,
  type ConnectPolicy,
  type NewSession,
  type ReserveResult,
  type SessionPolicy,
  type SessionStoreOptions,
} from "./sessions.ts";
export type { FrontSessions, UserProfile } from "./exchange.ts";
export type { Authenticator, BanTracker, FrontSocket, FrontTls, FrontTlsInfo } from "./types.ts";
export { certificateIdentity } from "./certs.ts";
export { classifyClient, classifyUserAgent, type AgentType, type ClientAgent } from "./agent.ts";
export { decodeSid, encodeSid, safeIdOf, parseCookieHeader, SID_LENGTH } from "./cookies.ts";
export { HttpError, SessionError, HTTP_ERROR_RESPONSE, type HttpErrorCode, type SessionErrorCode } from "./errors.ts";
