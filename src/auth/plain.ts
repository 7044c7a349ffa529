// `auth = "plain[passwd=FILE,otp=FILE]"`: the ocpasswd file and/or a liboath UsersFile, as a conversation
// that follows ocserv src/auth/plain.c:
//
//   start(username)
//     passwd entry with a hash (or unknown user) ─► ask "Please enter your password."       [password]
//     passwd entry with an empty hash, no otp    ─► ok (no password needed)
//     passwd entry with an empty hash, otp       ─► ask "Please enter your OTP password."   [otp, single]
//     no passwd file (otp only)                  ─► ask "Please enter your OTP password."   [otp, single]
//   answer [password]
//     wrong (or unknown user, or locked)  ─► tries < MAX_PASSWORD_TRIES: ask again "Login failed.\n…"
//                                          ─► otherwise fail
//     right, otp configured               ─► ask "Please enter your OTP password."   [otp, second round]
//     right                               ─► ok
//   answer [otp]  ─► valid: ok (file log updated) · invalid/replayed: fail (no retries, as in ocserv)
//
// An unknown user is walked through the same rounds as a wrong password and crypt still runs (with a salt
// borrowed from another entry) so that neither the replies nor the timing reveal which usernames exist
// (plain.c plain_auth_pass, REQ-AUTH-AUTH-013).

import { parseCryptHash, verifyCrypt, type CryptHash } from "./crypt.ts";
import { AuthFileError, CachedFile, errorText, type AuthFs } from "./files.ts";
import { OTP_FILE_MAX_BYTES, OtpFileError, parseOtpUsersFile, validateOtp, type OtpUsersFile } from "./otp.ts";
import { MAX_USERNAME_LENGTH, PASSWD_MAX_BYTES, PasswdError, parsePasswdFile, type PasswdEntry, type PasswdFile } from "./passwd.ts";
import type { AuthLog, PasswordField } from "./types.ts";

/** ocserv src/auth/common.h. */
export const MAX_PASSWORD_TRIES = 3;
/** Longer answers are treated as wrong without hashing them (SHA-crypt's cost grows with length²). */
export const MAX_PASSWORD_LENGTH = 256;

export const MSG_PASSWORD = "Please enter your password.";
export const MSG_PASSWORD_FAILED = "Login failed.\nPlease enter your password.";
export const MSG_OTP = "Please enter your OTP password.";

/** plain.c's fallback when no entry lends a salt: keeps the crypt work for unknown users realistic. */
const FALLBACK_DUMMY = parseCryptHash("$5$fakesalt$" + "0".repeat(43));

export interface PlainConfig {
  readonly passwd?: string;
  readonly otp?: string;
}

export interface PlainDeps {
  readonly fs: AuthFs;
  /** ms since the epoch; drives TOTP and the OTP file's timestamps. */
  readonly now: () => number;
  readonly log: AuthLog;
}

export type PlainState =
  | {
      readonly stage: "password";
      readonly username: string;
      /** null for an unknown user: the rounds still run, but can never succeed. */
      readonly entry: PasswdEntry | null;
      readonly dummy: CryptHash;
      readonly failures: number;
    }
  | {
      readonly stage: "otp";
      readonly username: string;
      readonly groups: readonly string[];
    };

export type PlainStep =
  | { readonly kind: "ok"; readonly groups: readonly string[] }
  | {
      readonly kind: "continue";
      readonly message: string;
      readonly fieldName: PasswordField;
      readonly label: string;
      readonly state: PlainState;
      /** True when this round repeats a failed one (ban points are due). */
      readonly retry: boolean;
    }
  | { readonly kind: "fail"; readonly reason: "Authentication failed" | "Internal error" };

export class PlainAuth {
  private readonly passwd: CachedFile<PasswdFile> | null;
  private readonly otp: CachedFile<OtpUsersFile> | null;

  constructor(
    config: PlainConfig,
    private readonly deps: PlainDeps,
  ) {
    this.passwd = config.passwd ? new CachedFile(config.passwd, deps.fs, PASSWD_MAX_BYTES, parsePasswdFile) : null;
    this.otp = config.otp ? new CachedFile(config.otp, deps.fs, OTP_FILE_MAX_BYTES, parseOtpUsersFile) : null;
  }

  /** Reads and parses the configured files now; throws their typed errors (for startup / --test-config). */
  check(): { readonly warnings: readonly string[] } {
    const warnings = this.passwd?.get().warnings ?? [];
    this.otp?.get();
    return { warnings };
  }

  /** Every group named in the passwd file (auto-select-group; plain.c plain_group_list). */
  listGroups(): readonly string[] {
    if (this.passwd === null) return [];
    try {
      return this.passwd.get().groups;
    } catch (e) {
      this.deps.log("error", `plain: cannot list groups: ${describeError(e)}`);
      return [];
    }
  }

  start(username: string): PlainStep {
    if (username.length === 0 || username.length > MAX_USERNAME_LENGTH) {
      this.deps.log("info", "plain: no usable username present");
      return { kind: "fail", reason: "Authentication failed" };
    }
    if (this.passwd === null) {
      return this.askOtp({ stage: "otp", username, groups: [] }, "password");
    }
    let file: PasswdFile;
    try {
      file = this.passwd.get();
    } catch (e) {
      this.deps.log("error", `plain: cannot use password file: ${describeError(e)}`);
      return { kind: "fail", reason: "Internal error" };
    }
    const entry = file.entries.get(username) ?? null;
    if (entry !== null && entry.password.kind === "none") {
      if (this.otp === null) {
        this.deps.log("info", `plain: user '${username}' has no password; authenticated without one`);
        return { kind: "ok", groups: entry.groups };
      }
      return this.askOtp({ stage: "otp", username, groups: entry.groups }, "password");
    }
    const dummy = dummyHash(file);
    return {
      kind: "continue",
      message: MSG_PASSWORD,
      fieldName: "password",
      label: "Password:",
      state: { stage: "password", username, entry, dummy, failures: 0 },
      retry: false,
    };
  }

  answer(state: PlainState, password: string): PlainStep {
    switch (state.stage) {
      case "password":
        return this.answerPassword(state, password);
      case "otp":
        return this.answerOtp(state, password);
      default: {
        const never: never = state;
        return never;
      }
    }
  }

  private answerPassword(state: Extract<PlainState, { stage: "password" }>, password: string): PlainStep {
    const pw = state.entry?.password;
    let ok = false;
    if (password.length <= MAX_PASSWORD_LENGTH) {
      // Always hash, against the entry's own hash when it has one (locked entries included), so every
      // failure costs the same work.
      const hash = pw !== undefined && pw.kind !== "none" ? pw.hash : state.dummy;
      const matches = verifyCrypt(hash, password);
      ok = matches && pw?.kind === "crypt";
    }
    if (!ok) {
      const failures = state.failures + 1;
      if (failures < MAX_PASSWORD_TRIES) {
        return {
          kind: "continue",
          message: MSG_PASSWORD_FAILED,
          fieldName: "password",
          label: "Password:",
          state: { ...state, failures },
          retry: true,
        };
      }
      this.deps.log("info", `plain: error authenticating user '${state.username}'`);
      return { kind: "fail", reason: "Authentication failed" };
    }
    const groups = state.entry?.groups ?? [];
    if (this.otp !== null) {
      return this.askOtp({ stage: "otp", username: state.username, groups }, "secondary_password");
    }
    return { kind: "ok", groups };
  }

  private answerOtp(state: Extract<PlainState, { stage: "otp" }>, otp: string): PlainStep {
    if (this.otp === null) return { kind: "fail", reason: "Internal error" };
    let file: OtpUsersFile;
    try {
      file = this.otp.get();
    } catch (e) {
      this.deps.log("error", `plain: cannot use OTP file: ${describeError(e)}`);
      return { kind: "fail", reason: "Internal error" };
    }
    const result = validateOtp(file, state.username, otp.trim(), this.deps.now());
    if (result.kind === "fail") {
      this.deps.log("info", `plain: OTP auth failed for '${state.username}': ${result.reason}`);
      return { kind: "fail", reason: "Authentication failed" };
    }
    try {
      // The counter must be stored before the login succeeds, or the OTP could be replayed.
      this.deps.fs.writeAtomic(this.otp.path, result.updatedText, this.deps.fs.stat(this.otp.path).mode);
    } catch (e) {
      this.deps.log("error", `plain: cannot update OTP file ${this.otp.path}: ${errorText(e)}`);
      return { kind: "fail", reason: "Internal error" };
    }
    return { kind: "ok", groups: state.groups };
  }

  private askOtp(state: Extract<PlainState, { stage: "otp" }>, fieldName: PasswordField): PlainStep {
    // A second secret goes in `secondary_password`, labelled by its position (worker-auth.c).
    const label = fieldName === "password" ? "Password:" : "Password2:";
    return { kind: "continue", message: MSG_OTP, fieldName, label, state, retry: false };
  }
}

/** The first hash in the file lends its parameters to unknown users (plain.c dummy_salt). */
function dummyHash(file: PasswdFile): CryptHash {
  for (const e of file.entries.values()) if (e.password.kind !== "none") return e.password.hash;
  return FALLBACK_DUMMY;
}

function describeError(e: unknown): string {
  if (e instanceof AuthFileError || e instanceof PasswdError || e instanceof OtpFileError) return e.message;
  return errorText(e);
}
