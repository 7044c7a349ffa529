// Authentication: ocserv's sec-mod auth modules as sans-I/O conversations.
//
// CONTRACT (what the HTTP front must do; protocol.md §1, authentication.md):
//
//   const auth = createAuthenticator(vhost.auth, vhost["enable-auth"], {
//     banPointsWrongPassword: cfg["ban-points-wrong-password"], certGroupOid: vhost["cert-group-oid"] !== null });
//     → throws AuthConfigError (code + message) for configs ocserv refuses or methods this build lacks
//       (pam, radius, gssapi, oidc: "not supported in this build"); --test-config prints err.message.
//
//   auth.certificateRequest     → "require" | "request" | "none": what the TLS handshake asks for.
//   auth.usesPassword(hasCert)  → put username/password inputs in the first form or not.
//   auth.listGroups()           → the backend's groups, for auto-select-group.
//
//   let step = auth.start({ username, groupRequested, certificate, remoteIp });
//     `certificate` only when the TLS layer verified the chain; `groupRequested` already mapped from its
//     select-group label, and omitted for default-select-group.
//   while (step.kind === "continue") {
//     charge step.banPoints to the client IP (non-zero on a retry after a wrong password);
//     send the password form: <message>step.message</message>,
//       <input type="password" name="{step.fieldName}" label="{step.label}" />;
//     on the next POST: step = auth.answer(step.state, password-or-null);
//       (the first POST carries username AND password: call answer() at once with that password —
//        ocserv's single-form submission; a state can be answered only once)
//   }
//   step.kind === "ok"   → create the session with step.user, step.group (null = no group).
//   step.kind === "fail" → charge step.banPoints, reply `401 {step.reason}`, close the connection.
//
//   Ban points: one BanTracker per server (bans.ts): admitConnection(ip) at accept, addPoints(ip,
//   step.banPoints) after each step; a true result means the IP just got banned (close it).
//
// Passwords, OTPs and hashes never appear in log messages or errors. All module work is synchronous:
// files are small and read with a stat check; crypt runs once per login (about 3 ms at 5000 rounds).

export type {
  AuthFailReason,
  AuthLog,
  AuthRequest,
  AuthState,
  AuthStep,
  CertIdentity,
  PasswordField,
} from "./types.ts";
export {
  AuthConfigError,
  createAuthenticator,
  type AuthConfigErrorCode,
  type Authenticator,
  type AuthenticatorOptions,
} from "./authenticator.ts";
export { MAX_PASSWORD_TRIES, MSG_OTP, MSG_PASSWORD, MSG_PASSWORD_FAILED } from "./plain.ts";
export {
  parsePasswdFile,
  PasswdError,
  type PasswdEntry,
  type PasswdErrorCode,
  type PasswdFile,
  type PasswdHash,
} from "./passwd.ts";
export { CryptError, formatCrypt, parseCryptHash, verifyCrypt, type CryptAlgorithm, type CryptHash } from "./crypt.ts";
export { hotp, totp, OTP_WINDOW, OtpFileError, parseOtpUsersFile, type OtpUsersFile } from "./otp.ts";
export { AuthFileError, nodeAuthFs, type AuthFs, type FileStamp } from "./files.ts";
export {
  banKey,
  BanTracker,
  DEFAULT_BAN_CONFIG,
  type AdmitDecision,
  type BanConfig,
  type BanEntry,
  type BanTrackerOptions,
} from "./bans.ts";
