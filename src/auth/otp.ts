// One-time passwords for `plain[otp=FILE]`: HOTP (RFC 4226) and TOTP (RFC 6238) over HMAC-SHA1, checked
// against a liboath / mod-authn-otp "UsersFile", the way ocserv does through
// oath_authenticate_usersfile(file, user, otp, HOTP_WINDOW = 20, NULL, …).
//
// UsersFile lines (whitespace separated; '#' starts a comment line):
//
//   TYPE   USER  PIN  HEXKEY  [COUNTER  LAST-OTP  TIMESTAMP]
//   HOTP/T30  test  -  8a2d55…ab2  1  691245  2015-09-25T13:18:42L
//
// * TYPE: HOTP, HOTP/E, HOTP/E/{6,7,8} (event based), HOTP/T30[/{6,7,8}], HOTP/T60[/{6,7,8}] (time based).
// * PIN: ocserv passes no static password to liboath, so this column is positional only.
// * HEXKEY: the HMAC-SHA1 key, at most 32 bytes (liboath's buffer).
// * The optional "log" records the last success. For HOTP, COUNTER is the counter of the last accepted
//   OTP and the search starts there; for TOTP it is the offset (in steps) of the last accepted OTP from
//   the time step at TIMESTAMP, and an OTP whose time step is not newer is a replay. An OTP equal to
//   LAST-OTP is always a replay. TIMESTAMP is local time, "%Y-%m-%dT%H:%M:%SL".
// * Several lines may name the same user; the first whose key validates the OTP wins.
// * After a success the matching line's log is rewritten and the file replaced atomically.

import { createHmac } from "node:crypto";
import { constantTimeEqual } from "../wire/writer.ts";

/** ocserv plain.c HOTP_WINDOW: liboath searches this many steps (each way, for TOTP). */
export const OTP_WINDOW = 20;
export const OTP_FILE_MAX_BYTES = 4 * 1024 * 1024;
export const OTP_MAX_LINE = 1024;
const MAX_KEY_BYTES = 32;
const U64_MAX = (1n << 64n) - 1n;

export type OtpDigits = 6 | 7 | 8;
export type OtpMode = { readonly kind: "hotp" } | { readonly kind: "totp"; readonly step: 30 | 60 };

export interface OtpLog {
  /** HOTP: the counter of the last accepted OTP; TOTP: its step offset from the timestamp's step. */
  readonly counter: bigint;
  readonly lastOtp: string;
  /** ms since the epoch (parsed as local time, like liboath's mktime). */
  readonly timestamp: number;
}

export interface OtpUser {
  readonly lineIndex: number;
  readonly username: string;
  readonly mode: OtpMode;
  readonly digits: OtpDigits;
  readonly key: Uint8Array;
  /** The line up to the end of the key: the log after it is what gets rewritten. */
  readonly head: string;
  readonly log: OtpLog | null;
}

export interface OtpUsersFile {
  readonly fileName: string;
  /** The raw lines (split on '\n'), so an update rewrites one line and keeps everything else. */
  readonly lines: readonly string[];
  readonly users: readonly OtpUser[];
}

export type OtpFileErrorCode = "too-large" | "line-too-long" | "bad-type" | "missing-field" | "bad-key" | "bad-log";

export class OtpFileError extends Error {
  override readonly name = "OtpFileError";
  constructor(
    readonly code: OtpFileErrorCode,
    readonly fileName: string,
    readonly line: number,
    readonly detail: string,
  ) {
    super(line > 0 ? `${fileName}:${line}: ${detail}` : `${fileName}: ${detail}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// RFC 4226 / RFC 6238 core

/** RFC 4226 §5.3: HMAC-SHA1 over the 8-byte big-endian counter, dynamic truncation, mod 10^digits. */
export function hotp(key: Uint8Array, counter: bigint, digits: OtpDigits): string {
  const msg = new Uint8Array(8);
  new DataView(msg.buffer).setBigUint64(0, BigInt.asUintN(64, counter));
  const mac = createHmac("sha1", key).update(msg).digest();
  const offset = mac[19]! & 0x0f;
  const bin =
    ((mac[offset]! & 0x7f) << 24) | (mac[offset + 1]! << 16) | (mac[offset + 2]! << 8) | mac[offset + 3]!;
  return String(bin % 10 ** digits).padStart(digits, "0");
}

/** RFC 6238 §4.2: the time step counter T = floor((now - T0) / X), T0 = 0. */
export function totpStep(nowMs: number, step: number): bigint {
  return BigInt(Math.floor(nowMs / 1000 / step));
}

export function totp(key: Uint8Array, nowMs: number, step: number, digits: OtpDigits): string {
  return hotp(key, totpStep(nowMs, step), digits);
}

function otpEquals(a: string, b: string): boolean {
  const enc = new TextEncoder();
  return constantTimeEqual(enc.encode(a), enc.encode(b));
}

// ---------------------------------------------------------------------------------------------------
// UsersFile parsing

const TYPES: ReadonlyMap<string, { mode: OtpMode; digits: OtpDigits }> = new Map([
  ["HOTP", { mode: { kind: "hotp" }, digits: 6 }],
  ["HOTP/E", { mode: { kind: "hotp" }, digits: 6 }],
  ["HOTP/E/6", { mode: { kind: "hotp" }, digits: 6 }],
  ["HOTP/E/7", { mode: { kind: "hotp" }, digits: 7 }],
  ["HOTP/E/8", { mode: { kind: "hotp" }, digits: 8 }],
  ["HOTP/T30", { mode: { kind: "totp", step: 30 }, digits: 6 }],
  ["HOTP/T30/6", { mode: { kind: "totp", step: 30 }, digits: 6 }],
  ["HOTP/T30/7", { mode: { kind: "totp", step: 30 }, digits: 7 }],
  ["HOTP/T30/8", { mode: { kind: "totp", step: 30 }, digits: 8 }],
  ["HOTP/T60", { mode: { kind: "totp", step: 60 }, digits: 6 }],
  ["HOTP/T60/6", { mode: { kind: "totp", step: 60 }, digits: 6 }],
  ["HOTP/T60/7", { mode: { kind: "totp", step: 60 }, digits: 7 }],
  ["HOTP/T60/8", { mode: { kind: "totp", step: 60 }, digits: 8 }],
]);

export function parseOtpUsersFile(text: string, fileName: string): OtpUsersFile {
  if (text.length > OTP_FILE_MAX_BYTES) {
    throw new OtpFileError("too-large", fileName, 0, `file larger than ${OTP_FILE_MAX_BYTES} bytes`);
  }
  const lines = text.split("\n");
  const users: OtpUser[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const lineNo = i + 1;
    if (line.length > OTP_MAX_LINE) {
      throw new OtpFileError("line-too-long", fileName, lineNo, `line longer than ${OTP_MAX_LINE} characters`);
    }
    const tokens = tokenize(line);
    const first = tokens[0];
    if (first === undefined || first.text.startsWith("#")) continue;
    const type = TYPES.get(first.text);
    if (type === undefined) {
      throw new OtpFileError("bad-type", fileName, lineNo, `unknown token type '${first.text}' (expected HOTP, HOTP/E[/6|7|8], HOTP/T30[/6|7|8] or HOTP/T60[/6|7|8])`);
    }
    const user = tokens[1];
    const pin = tokens[2];
    const keyTok = tokens[3];
    if (user === undefined || pin === undefined || keyTok === undefined) {
      throw new OtpFileError("missing-field", fileName, lineNo, "expected 'TYPE USER PIN HEXKEY [COUNTER OTP TIME]'");
    }
    if (!/^(?:[0-9a-fA-F]{2})+$/.test(keyTok.text) || keyTok.text.length / 2 > MAX_KEY_BYTES) {
      throw new OtpFileError("bad-key", fileName, lineNo, `key must be 1..${MAX_KEY_BYTES} bytes of hex`);
    }
    const key = new Uint8Array(Buffer.from(keyTok.text, "hex"));
    const log = parseLog(tokens.slice(4), type.mode, fileName, lineNo);
    users.push(
      Object.freeze({
        lineIndex: i,
        username: user.text,
        mode: type.mode,
        digits: type.digits,
        key,
        head: line.slice(0, keyTok.end),
        log,
      }),
    );
  }
  return Object.freeze({ fileName, lines: Object.freeze(lines), users: Object.freeze(users) });
}

function tokenize(line: string): { text: string; end: number }[] {
  const out: { text: string; end: number }[] = [];
  const re = /[^ \t\r\n]+/g;
  for (let m = re.exec(line); m !== null; m = re.exec(line)) out.push({ text: m[0], end: m.index + m[0].length });
  return out;
}

function parseLog(tokens: { text: string }[], mode: OtpMode, fileName: string, lineNo: number): OtpLog | null {
  if (tokens.length === 0) return null;
  const [c, otp, ts] = tokens;
  if (otp === undefined || ts === undefined || tokens.length > 3) {
    throw new OtpFileError("bad-log", fileName, lineNo, "the log after the key must be 'COUNTER OTP TIMESTAMP'");
  }
  const counterRe = mode.kind === "hotp" ? /^[0-9]{1,20}$/ : /^[-+]?[0-9]{1,10}$/;
  if (!counterRe.test(c!.text) || BigInt(c!.text) > U64_MAX) {
    throw new OtpFileError("bad-log", fileName, lineNo, `bad counter '${c!.text}'`);
  }
  const timestamp = parseTimestamp(ts.text);
  if (timestamp === null) {
    throw new OtpFileError("bad-log", fileName, lineNo, `bad timestamp '${ts.text}' (expected YYYY-MM-DDTHH:MM:SSL)`);
  }
  return { counter: BigInt(c!.text), lastOtp: otp.text, timestamp };
}

/** liboath TIME_FORMAT_STRING "%Y-%m-%dT%H:%M:%SL": local time, a literal 'L'. */
function parseTimestamp(s: string): number | null {
  const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})L$/.exec(s);
  if (m === null) return null;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return null;
  const t = new Date(y, mo - 1, d, h, mi, se).getTime();
  return Number.isFinite(t) ? t : null;
}

export function formatTimestamp(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}L`;
}

// ---------------------------------------------------------------------------------------------------
// Validation (pure: the caller reads the file, and writes `updatedText` back on success)

export type OtpResult =
  | { readonly kind: "ok"; readonly updatedText: string }
  | { readonly kind: "fail"; readonly reason: "unknown-user" | "invalid-otp" | "replayed-otp" };

/**
 * oath_authenticate_usersfile with passwd = NULL: tries each line of `username` in order; the first one
 * whose key validates `otp` inside the window wins, and its log is replaced with the new counter, the
 * OTP and the current local time.
 */
export function validateOtp(
  file: OtpUsersFile,
  username: string,
  otp: string,
  nowMs: number,
  window: number = OTP_WINDOW,
): OtpResult {
  let sawUser = false;
  for (const u of file.users) {
    if (u.username !== username) continue;
    sawUser = true;
    // liboath compares against the stored last OTP first and stops: a replay is final.
    if (u.log !== null && otpEquals(u.log.lastOtp, otp)) return { kind: "fail", reason: "replayed-otp" };
    if (otp.length !== u.digits || !/^[0-9]+$/.test(otp)) continue;
    const match = u.mode.kind === "hotp" ? matchHotp(u, otp, window) : matchTotp(u, u.mode.step, otp, nowMs, window);
    if (match.kind === "none") continue;
    if (match.kind === "replayed") return { kind: "fail", reason: "replayed-otp" };
    const lines = [...file.lines];
    lines[u.lineIndex] = `${u.head}\t${match.counter}\t${otp}\t${formatTimestamp(nowMs)}`;
    return { kind: "ok", updatedText: lines.join("\n") };
  }
  return { kind: "fail", reason: sawUser ? "invalid-otp" : "unknown-user" };
}

type Match = { kind: "none" } | { kind: "replayed" } | { kind: "found"; counter: bigint };

/** oath_hotp_validate: counters from the stored one up to `window` ahead; the new log keeps the match. */
function matchHotp(u: OtpUser, otp: string, window: number): Match {
  const start = u.log?.counter ?? 0n;
  for (let i = 0; i <= window; i++) {
    const c = start + BigInt(i);
    if (c > U64_MAX) break;
    if (otpEquals(hotp(u.key, c, u.digits), otp)) return { kind: "found", counter: c };
  }
  return { kind: "none" };
}

/** oath_totp_validate2: steps T-window..T+window; the log stores the signed offset from T. */
function matchTotp(u: OtpUser, step: number, otp: string, nowMs: number, window: number): Match {
  const t = totpStep(nowMs, step);
  for (let i = 0; i <= window; i++) {
    for (const pos of i === 0 ? [0] : [-i, i]) {
      if (!otpEquals(hotp(u.key, t + BigInt(pos), u.digits), otp)) continue;
      if (u.log !== null) {
        // An OTP still inside the window after a newer one was used is a replay.
        const last = totpStep(u.log.timestamp, step) + u.log.counter;
        if (last >= t + BigInt(pos)) return { kind: "replayed" };
      }
      return { kind: "found", counter: BigInt(pos) };
    }
  }
  return { kind: "none" };
}
