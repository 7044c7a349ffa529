// The session cookie encoding (protocol.md §1.4). The SID is 32 random bytes; the `webvpn` and
// `webvpncontext` cookies carry its standard base64 with padding, exactly 44 characters. ocserv 1.5.0
// fixed a heap overflow (#719) by rejecting any value whose decoded length is not exactly 32 bytes; we
// go further and accept only the canonical 44-character encoding, so one SID has one spelling.

import { sha1 } from "@noble/hashes/legacy.js";

export const SID_LENGTH = 32;
const COOKIE_RE = /^[A-Za-z0-9+/]{43}=$/;

export function encodeSid(sid: Uint8Array): string {
  if (sid.length !== SID_LENGTH) throw new RangeError(`SID must be ${SID_LENGTH} bytes`);
  return Buffer.from(sid.buffer, sid.byteOffset, sid.length).toString("base64");
}

/** Decodes a cookie value to a SID, or null unless it is the canonical base64 of exactly 32 bytes. */
export function decodeSid(value: string): Uint8Array | null {
  if (!COOKIE_RE.test(value)) return null;
  const buf = Buffer.from(value, "base64");
  if (buf.length !== SID_LENGTH) return null;
  const sid = new Uint8Array(buf);
  // Non-zero unused low bits in the last character decode to the same bytes; refuse them.
  return encodeSid(sid) === value ? sid : null;
}

/** ocserv calc_safe_id: base64(SHA1(SID)), the only form of the ID that may be logged. */
export function safeIdOf(sid: Uint8Array): string {
  return Buffer.from(sha1(sid)).toString("base64");
}

export interface RequestCookies {
  /** From `webvpn=`: the cookie CONNECT presents. */
  readonly webvpn: Uint8Array | null;
  /** From `webvpncontext=`: the SID of an auth in progress or done. */
  readonly webvpncontext: Uint8Array | null;
}

/**
 * Reads the `Cookie` header (exact-case name; ocserv ignores `cookie:`). Split on `;`, trim, decode
 * `webvpn=` and `webvpncontext=` (ocserv worker-http.c HEADER_COOKIE). Values that do not decode to
 * 32 bytes count as absent.
 */
export function parseCookieHeader(headers: ReadonlyMap<string, string>): RequestCookies {
  const header = headers.get("Cookie");
  let webvpn: Uint8Array | null = null;
  let webvpncontext: Uint8Array | null = null;
  if (header === undefined) return { webvpn, webvpncontext };
  for (const raw of header.split(";")) {
    const item = raw.trim();
    if (item.startsWith("webvpn=")) webvpn = decodeSid(item.slice("webvpn=".length)) ?? webvpn;
    else if (item.startsWith("webvpncontext=")) webvpncontext = decodeSid(item.slice("webvpncontext=".length)) ?? webvpncontext;
  }
  return { webvpn, webvpncontext };
}

/** True when the request carries a `webvpn=` item at all, whatever its value (CONNECT: 503 if none). */
export function hasWebvpnCookie(headers: ReadonlyMap<string, string>): boolean {
  const header = headers.get("Cookie");
  if (header === undefined) return false;
  return header.split(";").some((item) => item.trim().startsWith("webvpn="));
}
