// The `ocpasswd` applet: upstream ocpasswd(8) (ocserv src/ocpasswd/ocpasswd.c), reached by running the
// ocserv binary under the name `ocpasswd` (see dispatch.ts).
//
//   ocpasswd [-c|--passwd FILE] [-g|--group|--groupname G1,G2] [-d|--delete | -l|--lock | -u|--unlock]
//            [-h|--help] [-v|--version] USERNAME
//
// Matches upstream where it matters to users and scripts:
// * the line written is `user:groups:$5$<16-char salt>$<hash>` (SHA-256-crypt, default rounds: what
//   upstream writes with glibc), groups `*` when no -g is given, even if the user had groups before;
// * the salt is 16 characters, each a CSPRNG byte mod 64 over upstream's alphabet (256 is a multiple
//   of 64, so there is no bias);
// * on a terminal the password is asked twice without echo; otherwise one line is read from stdin and
//   an empty line is an error;
// * FILE.tmp is the lock and the staging file, renamed over FILE; the new file has mode 0600
//   (upstream's umask(066));
// * exit status 0 on success, 1 on any error.
// Where upstream is silent or lossy, this is stricter, and says so:
// * -l, -u and -d on a user who is not in the file fail (upstream exits 0 having changed nothing, which
//   lets an admin believe a user is locked who is not);
// * -l on a locked user leaves it as is (upstream adds a second '!', which ocserv can still never
//   match but which our passwd parser rightly rejects as a malformed hash);
// * lines without ':' are kept (upstream drops them while rewriting);
// * -g with -l, -u or -d is an error (upstream ignores it, so the admin's intent is lost);
// * a trailing CR is stripped from a stdin password along with the LF (a file edited on Windows);
// * usernames and groups that would corrupt the file (':' or line breaks) or that the server would
//   reject (src/auth/passwd.ts limits) are refused before anything is written.

import { formatCrypt } from "../auth/crypt.ts";
import { MAX_PASSWORD_LENGTH } from "../auth/plain.ts";
import {
  MAX_GROUP_NAME_LENGTH,
  MAX_GROUPS_PER_USER,
  MAX_USERNAME_LENGTH,
  PASSWD_MAX_BYTES,
  PASSWD_MAX_LINE,
  parsePasswdFile,
  PasswdError,
} from "../auth/passwd.ts";
import { randomBytes } from "../crypto/random.ts";
import { VERSION } from "../process/version.ts";
import { getopt } from "./getopt.ts";
import { replaceLocked, WriteFileError, type AppletIo } from "./io.ts";

export const DEFAULT_PASSWD_FILE = "/etc/ocserv/ocpasswd";
/** ocpasswd.c: the alphabet salt characters are drawn from (byte % 64). */
const SALT_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ./";
const SALT_LENGTH = 16;

export type OcpasswdErrorCode = "bad-username" | "bad-group" | "bad-password" | "no-such-user" | "malformed-entry";

export class OcpasswdError extends Error {
  override readonly name = "OcpasswdError";
  constructor(
    readonly code: OcpasswdErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export type PasswdOperation =
  /** Sets (adds or replaces) the user's entry to exactly this line content. */
  | { readonly kind: "set"; readonly username: string; readonly line: string }
  | { readonly kind: "lock"; readonly username: string }
  | { readonly kind: "unlock"; readonly username: string }
  | { readonly kind: "delete"; readonly username: string };

/** What the command line asks for. */
export type OcpasswdCommand =
  | { readonly kind: "help" }
  | { readonly kind: "version" }
  | { readonly kind: "error"; readonly message: string }
  | {
      readonly kind: "run";
      readonly file: string;
      readonly action: "set" | "lock" | "unlock" | "delete";
      readonly username: string;
      /** The group field to write with "set": normalized -g, or "*". */
      readonly groups: string;
    };

export const OCPASSWD_USAGE = `Usage: ocpasswd [options] USERNAME
Sets, locks, unlocks or deletes a user in an ocserv 'plain' password file.

  -c, --passwd FILE     password file (default ${DEFAULT_PASSWD_FILE})
  -g, --group G1,G2     the user's groups, first is the default (default: none)
  -d, --delete          delete the user
  -l, --lock            lock the user's password
  -u, --unlock          unlock the user's password
  -h, --help            show this help and exit
  -v, --version         show the version and exit

Without -d, -l or -u the password is read twice from the terminal, or as one
line from standard input when it is not a terminal.
`;

export function checkUsername(username: string): void {
  if (username.length === 0 || username.length > MAX_USERNAME_LENGTH) {
    throw new OcpasswdError("bad-username", `username must be 1 to ${MAX_USERNAME_LENGTH} characters`);
  }
  // A ':' would shift the fields; control characters (line breaks above all) would split the entry.
  if (/[:\x00-\x1f\x7f]/.test(username)) {
    throw new OcpasswdError("bad-username", "username must not contain ':' or control characters");
  }
}

/**
 * Normalizes a -g value to the group field written: names split on ',', trimmed, empties dropped,
 * joined with ','. No groups gives "*", as upstream writes.
 */
export function normalizeGroups(value: string | null): string {
  if (value === null) return "*";
  if (/[:\x00-\x1f\x7f]/.test(value)) throw new OcpasswdError("bad-group", "group names must not contain ':' or control characters");
  const names = value.split(",").map((g) => g.trim()).filter((g) => g.length > 0);
  if (names.length > MAX_GROUPS_PER_USER) throw new OcpasswdError("bad-group", `at most ${MAX_GROUPS_PER_USER} groups`);
  for (const g of names) {
    if (g.length > MAX_GROUP_NAME_LENGTH) throw new OcpasswdError("bad-group", `group name longer than ${MAX_GROUP_NAME_LENGTH} characters`);
  }
  return names.length === 0 ? "*" : names.join(",");
}

export function checkPassword(password: string): void {
  if (password.length === 0) throw new OcpasswdError("bad-password", "Please specify a password");
  if (/[\r\n\x00]/.test(password)) throw new OcpasswdError("bad-password", "the password must not contain line breaks or NUL");
  // The server refuses longer passwords before hashing (src/auth/plain.ts), so such a user could never log in.
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new OcpasswdError("bad-password", `the password is longer than ${MAX_PASSWORD_LENGTH} characters`);
  }
}

/** A fresh SHA-256-crypt salt: 16 CSPRNG bytes mapped onto upstream's 64-character alphabet. */
export function randomSalt(): string {
  const bytes = randomBytes(SALT_LENGTH);
  let s = "";
  for (const b of bytes) s += SALT_ALPHABET[b % 64];
  bytes.fill(0);
  return s;
}

/**
 * The entry line (without line end) for a user, checked by the server's own parser so that ocpasswd
 * never writes a line ocserv would refuse.
 */
export function makeEntryLine(username: string, groups: string, password: string, salt: string = randomSalt()): string {
  checkUsername(username);
  checkPassword(password);
  const line = `${username}:${groups}:${formatCrypt("sha256", password, salt)}`;
  if (line.length > PASSWD_MAX_LINE) {
    throw new OcpasswdError("bad-group", `the entry would be longer than ${PASSWD_MAX_LINE} characters (too many groups)`);
  }
  try {
    parsePasswdFile(line, "<new entry>");
  } catch (e) {
    if (e instanceof PasswdError) throw new OcpasswdError("malformed-entry", `internal check failed: ${e.detail}`);
    throw e;
  }
  return line;
}

/** Splits text into lines that keep their terminators, so untouched lines are written back byte for byte. */
function splitKeepingEnds(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (;;) {
    const nl = text.indexOf("\n", start);
    if (nl < 0) {
      if (start < text.length) out.push(text.slice(start));
      return out;
    }
    out.push(text.slice(start, nl + 1));
    start = nl + 1;
  }
}

/** Upstream's match: the exact bytes before the first ':' equal the username. */
function lineUser(line: string): string | null {
  const colon = line.indexOf(":");
  return colon < 0 ? null : line.slice(0, colon);
}

/**
 * Applies an operation to the file's text (null: the file does not exist) and returns the new text.
 * Pure; throws OcpasswdError("no-such-user") for lock/unlock/delete of an absent user.
 */
export function applyPasswdOperation(text: string | null, op: PasswdOperation): string {
  const lines = text === null ? [] : splitKeepingEnds(text);
  const out: string[] = [];
  let found = false;
  for (const line of lines) {
    if (lineUser(line) !== op.username) {
      out.push(line);
      continue;
    }
    const end = line.endsWith("\r\n") ? "\r\n" : line.endsWith("\n") ? "\n" : "";
    const body = line.slice(0, line.length - end.length);
    switch (op.kind) {
      case "set":
        // The first entry wins in ocserv; later duplicates are dropped so the file says one thing.
        if (!found) out.push(`${op.line}${end === "" ? "\n" : end}`);
        break;
      case "delete":
        break;
      case "lock":
      case "unlock": {
        const second = body.indexOf(":", op.username.length + 1);
        if (second < 0) throw new OcpasswdError("malformed-entry", `the entry for '${op.username}' has no password field`);
        const head = body.slice(0, second + 1);
        const hashField = body.slice(second + 1);
        const locked = hashField.startsWith("!");
        const newHash = op.kind === "lock" ? (locked ? hashField : `!${hashField}`) : locked ? hashField.slice(1) : hashField;
        out.push(`${head}${newHash}${end}`);
        break;
      }
      default: {
        const never: never = op;
        throw new Error(`unknown operation ${String(never)}`);
      }
    }
    found = true;
  }
  if (!found) {
    if (op.kind !== "set") throw new OcpasswdError("no-such-user", `user '${op.username}' is not in the password file`);
    const last = out[out.length - 1];
    if (last !== undefined && !last.endsWith("\n")) out[out.length - 1] = `${last}\n`;
    out.push(`${op.line}\n`);
  }
  return out.join("");
}

export function parseOcpasswdArgs(argv: readonly string[]): OcpasswdCommand {
  const r = getopt(argv, [
    { name: "passwd", short: "c", takesValue: true },
    { name: "groupname", short: "g", aliases: ["group"], takesValue: true },
    { name: "delete", short: "d", takesValue: false },
    { name: "lock", short: "l", takesValue: false },
    { name: "unlock", short: "u", takesValue: false },
    { name: "help", short: "h", takesValue: false },
    { name: "version", short: "v", takesValue: false },
  ]);
  if (r.kind === "error") return r;
  const has = (n: string) => r.options.has(n);
  if (has("help")) return { kind: "help" };
  if (has("version")) return { kind: "version" };
  const actions = (["delete", "lock", "unlock"] as const).filter(has);
  if (actions.length > 1) return { kind: "error", message: "only one of -d, -l and -u may be given" };
  if (r.operands.length !== 1) {
    return { kind: "error", message: r.operands.length === 0 ? "a USERNAME is required" : "exactly one USERNAME is expected" };
  }
  const file = r.options.get("passwd")?.[0] ?? DEFAULT_PASSWD_FILE;
  if (file === "") return { kind: "error", message: "the password file name is empty" };
  const groupArg = r.options.get("groupname")?.[0] ?? null;
  if (groupArg !== null && actions.length > 0) return { kind: "error", message: "-g applies only when setting a password" };
  let groups: string;
  try {
    checkUsername(r.operands[0]!);
    groups = normalizeGroups(groupArg);
  } catch (e) {
    if (e instanceof OcpasswdError) return { kind: "error", message: e.message };
    throw e;
  }
  return { kind: "run", file, action: actions[0] ?? "set", username: r.operands[0]!, groups };
}

/** Longest password line read (a longer one is refused rather than cut). */
const MAX_INPUT_LINE = 4096;

async function readPassword(io: AppletIo): Promise<string> {
  const first = await io.readLine({ prompt: "Enter password: ", echo: false, maxBytes: MAX_INPUT_LINE });
  const value = (r: typeof first): string => {
    switch (r.kind) {
      case "line":
        return r.text;
      case "eof":
        throw new OcpasswdError("bad-password", "Please specify a password");
      case "interrupted":
        throw new OcpasswdError("bad-password", "interrupted");
      case "too-long":
        throw new OcpasswdError("bad-password", `the password is longer than ${MAX_PASSWORD_LENGTH} characters`);
      default: {
        const never: never = r;
        return never;
      }
    }
  };
  const password = value(first);
  checkPassword(password);
  if (!io.stdinIsTty) return password;
  const again = value(await io.readLine({ prompt: "Re-enter password: ", echo: false, maxBytes: MAX_INPUT_LINE }));
  if (again !== password) throw new OcpasswdError("bad-password", "Passwords do not match");
  return password;
}

/** The applet's entry: argv without the program name; returns the exit status. */
export async function ocpasswdMain(argv: readonly string[], io: AppletIo): Promise<number> {
  const cmd = parseOcpasswdArgs(argv);
  switch (cmd.kind) {
    case "help":
      await io.out(OCPASSWD_USAGE);
      return 0;
    case "version":
      await io.out(`ocpasswd (ocserv-ts) ${VERSION}\n`);
      return 0;
    case "error":
      await io.err(`ocpasswd: ${cmd.message}\n${OCPASSWD_USAGE}`);
      return 1;
    case "run":
      break;
    default: {
      const never: never = cmd;
      return never;
    }
  }
  try {
    let op: PasswdOperation;
    if (cmd.action === "set") {
      const password = await readPassword(io);
      op = { kind: "set", username: cmd.username, line: makeEntryLine(cmd.username, cmd.groups, password) };
    } else {
      op = { kind: cmd.action, username: cmd.username };
    }
    let problems: string | null = null;
    replaceLocked(cmd.file, 0o600, PASSWD_MAX_BYTES, (old) => {
      const text = applyPasswdOperation(old, op);
      problems = serverCheck(text, cmd.file);
      return text;
    });
    if (problems !== null) await io.err(problems);
    return 0;
  } catch (e) {
    if (e instanceof OcpasswdError || e instanceof WriteFileError) {
      await io.err(`ocpasswd: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

/** Other lines the server would refuse or ignore: reported, but the requested change is still made. */
function serverCheck(text: string, file: string): string | null {
  try {
    const parsed = parsePasswdFile(text, file);
    return parsed.warnings.length === 0 ? null : parsed.warnings.map((w) => `ocpasswd: warning: ${w}\n`).join("");
  } catch (e) {
    if (e instanceof PasswdError) return `ocpasswd: warning: ocserv will reject this file: ${e.message}\n`;
    throw e;
  }
}
