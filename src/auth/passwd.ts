// The `plain` password file written by ocpasswd (occtl-ocpasswd.md §2.1, ocserv src/auth/plain.c
// read_auth_pass/break_group_list):
//
//   username:group1, group2:$5$salt$hash
//
// * One entry per line, fields split on ':'. CR/LF stripped. Lines of 4 characters or fewer, counting
//   the line end, are skipped (ocserv's `ll <= 4`), as are blank lines and lines starting with '#'
//   (ocserv has no comment syntax, but such a line names a user nobody would type).
// * Groups: comma-separated, whitespace around names trimmed; names of exactly one character (`*`, `x`)
//   and empty names mean "no group". The first group is the user's default group.
// * Hash: a crypt(3) string (see crypt.ts); a '!' prefix means locked (ocpasswd -l); empty means "no
//   password" (ocserv authenticates such a user without a password unless an OTP file is configured).
// * The first line for a username wins, as ocserv stops at the first match.
//
// Unlike ocserv, which ignores what it cannot use, every line is checked so that --test-config can report
// a malformed entry with its line number rather than the user failing to log in later.

import { CryptError, parseCryptHash, type CryptHash } from "./crypt.ts";

/** ocserv reads with fgets into a 512-byte buffer: longer lines were never usable. */
export const PASSWD_MAX_LINE = 511;
export const PASSWD_MAX_BYTES = 16 * 1024 * 1024;
/** ocserv MAX_USERNAME_SIZE is 64 including the NUL. */
export const MAX_USERNAME_LENGTH = 63;
export const MAX_GROUPS_PER_USER = 128;
export const MAX_GROUP_NAME_LENGTH = 255;

export type PasswdHash =
  | { readonly kind: "crypt"; readonly hash: CryptHash }
  /** '!' + a crypt hash: can never match (ocpasswd -l). The inner hash still gives a realistic salt. */
  | { readonly kind: "locked"; readonly hash: CryptHash }
  /** Empty field: the user needs no password (only an OTP, when an OTP file is configured). */
  | { readonly kind: "none" };

export interface PasswdEntry {
  readonly username: string;
  /** In file order; the first one is the default group. */
  readonly groups: readonly string[];
  readonly password: PasswdHash;
  readonly line: number;
}

export interface PasswdFile {
  readonly fileName: string;
  readonly entries: ReadonlyMap<string, PasswdEntry>;
  /** Every group named in the file, deduplicated, in first-seen order (plain_group_list). */
  readonly groups: readonly string[];
  /** Non-fatal findings, e.g. duplicate usernames (the first line wins, as in ocserv). */
  readonly warnings: readonly string[];
}

export type PasswdErrorCode = "too-large" | "line-too-long" | "missing-field" | "bad-username" | "bad-group" | "bad-hash";

export class PasswdError extends Error {
  override readonly name = "PasswdError";
  constructor(
    readonly code: PasswdErrorCode,
    readonly fileName: string,
    readonly line: number,
    readonly detail: string,
  ) {
    super(line > 0 ? `${fileName}:${line}: ${detail}` : `${fileName}: ${detail}`);
  }
}

/** Parses a whole ocpasswd file. Throws PasswdError naming the file and line of the first problem. */
export function parsePasswdFile(text: string, fileName: string): PasswdFile {
  if (text.length > PASSWD_MAX_BYTES) {
    throw new PasswdError("too-large", fileName, 0, `file larger than ${PASSWD_MAX_BYTES} bytes`);
  }
  const entries = new Map<string, PasswdEntry>();
  const allGroups = new Set<string>();
  const warnings: string[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i]!;
    // ocserv's `ll <= 4` counts the line as fgets returns it, with its CR and LF.
    const rawLength = raw.length + (i < lines.length - 1 ? 1 : 0);
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.length > PASSWD_MAX_LINE) {
      throw new PasswdError("line-too-long", fileName, lineNo, `line longer than ${PASSWD_MAX_LINE} characters`);
    }
    if (rawLength <= 4 || line.trim() === "" || line.startsWith("#")) continue;
    const entry = parseLine(line, fileName, lineNo);
    for (const g of entry.groups) allGroups.add(g);
    if (entries.has(entry.username)) {
      warnings.push(`${fileName}:${lineNo}: duplicate entry for user '${entry.username}' ignored (first one wins)`);
      continue;
    }
    entries.set(entry.username, entry);
  }
  return Object.freeze({
    fileName,
    entries,
    groups: Object.freeze([...allGroups]),
    warnings: Object.freeze(warnings),
  });
}

function parseLine(line: string, fileName: string, lineNo: number): PasswdEntry {
  const first = line.indexOf(":");
  const second = first < 0 ? -1 : line.indexOf(":", first + 1);
  if (first < 0 || second < 0) {
    throw new PasswdError("missing-field", fileName, lineNo, "expected 'username:groups:hash'");
  }
  const username = line.slice(0, first);
  const groupField = line.slice(first + 1, second);
  // ocserv's strsep stops at the next ':'; a crypt hash never contains one, so a third ':' is an error.
  const hashField = line.slice(second + 1);
  if (hashField.includes(":")) {
    throw new PasswdError("bad-hash", fileName, lineNo, "too many ':' separated fields");
  }
  if (username.length === 0 || username.length > MAX_USERNAME_LENGTH) {
    throw new PasswdError("bad-username", fileName, lineNo, `username must be 1..${MAX_USERNAME_LENGTH} characters`);
  }
  const groups = parseGroupList(groupField, fileName, lineNo);
  return Object.freeze({ username, groups, password: parseHashField(hashField, fileName, lineNo), line: lineNo });
}

/** break_group_list: split on ',', trim, drop names of one character (`*`) and empty names. */
function parseGroupList(field: string, fileName: string, lineNo: number): readonly string[] {
  const out: string[] = [];
  for (const raw of field.split(",")) {
    const name = raw.trim();
    if (name.length <= 1) continue;
    if (name.length > MAX_GROUP_NAME_LENGTH) {
      throw new PasswdError("bad-group", fileName, lineNo, `group name longer than ${MAX_GROUP_NAME_LENGTH} characters`);
    }
    if (!out.includes(name)) out.push(name);
  }
  if (out.length > MAX_GROUPS_PER_USER) {
    throw new PasswdError("bad-group", fileName, lineNo, `more than ${MAX_GROUPS_PER_USER} groups`);
  }
  return Object.freeze(out);
}

function parseHashField(field: string, fileName: string, lineNo: number): PasswdHash {
  if (field.length === 0) return { kind: "none" };
  const locked = field.startsWith("!");
  try {
    const hash = parseCryptHash(locked ? field.slice(1) : field);
    return locked ? { kind: "locked", hash } : { kind: "crypt", hash };
  } catch (e) {
    if (e instanceof CryptError) throw new PasswdError("bad-hash", fileName, lineNo, e.message);
    throw e;
  }
}
