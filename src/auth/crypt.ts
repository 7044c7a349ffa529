// crypt(3) password hashes as ocpasswd, glibc/libxcrypt and `openssl passwd` write them:
//   $1$salt$hash                MD5-crypt (Poul-Henning Kamp's FreeBSD algorithm)
//   $5$[rounds=N$]salt$hash     SHA-256-crypt ┐ Ulrich Drepper, "Unix crypt using SHA-256 and SHA-512"
//   $6$[rounds=N$]salt$hash     SHA-512-crypt ┘ (https://www.akkadia.org/drepper/SHA-crypt.txt)
// Any other format (DES, bcrypt, yescrypt, …) is rejected when the passwd file is parsed, so an entry
// that could never be verified is reported by --test-config instead of silently locking the user out.
//
// A hash is parsed once (parseCryptHash) into a typed value; verification recomputes the hash from the
// parsed parameters and compares the encoded digest in constant time. The set-up steps use node:crypto
// hashes for clarity; only the rounds loop is tuned, since it dominates.

import { createHash } from "node:crypto";
import { constantTimeEqual } from "../wire/writer.ts";

export type CryptAlgorithm = "md5" | "sha256" | "sha512";

/** A parsed crypt(3) hash. `digest` is the encoded hash text after the last `$`. */
export interface CryptHash {
  readonly algorithm: CryptAlgorithm;
  /** Salt as stored (already truncated to the algorithm's maximum by whoever produced it). */
  readonly salt: string;
  /** Rounds for SHA-crypt; null when the hash has no `rounds=` field (the default 5000 applies). */
  readonly rounds: number | null;
  readonly digest: string;
}

export type CryptErrorCode = "unsupported-format" | "malformed-hash" | "bad-rounds";

export class CryptError extends Error {
  override readonly name = "CryptError";
  constructor(
    readonly code: CryptErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Drepper §"rounds": default 5000, clamped by glibc to [1000, 999999999]. */
export const SHA_CRYPT_DEFAULT_ROUNDS = 5000;
export const SHA_CRYPT_MIN_ROUNDS = 1000;
/** glibc accepts up to 999,999,999 rounds; we refuse more than this because a login would then block the
 *  server's event loop for tens of seconds. passlib's defaults (535,000 / 656,000) stay below it. */
export const SHA_CRYPT_MAX_ROUNDS = 1_000_000;

const ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const DIGEST_CHARS: Record<CryptAlgorithm, number> = { md5: 22, sha256: 43, sha512: 86 };
const MAX_SALT: Record<CryptAlgorithm, number> = { md5: 8, sha256: 16, sha512: 16 };
const HASH_NAME = { md5: "md5", sha256: "sha256", sha512: "sha512" } as const satisfies Record<CryptAlgorithm, string>;
const DIGEST_RE = /^[./0-9A-Za-z]+$/;

/** Parses a stored crypt(3) hash string. Throws CryptError (never returns a half-valid value). */
export function parseCryptHash(text: string): CryptHash {
  const m = /^\$(1|5|6)\$(.*)$/s.exec(text);
  if (m === null) {
    const id = /^\$([^$]*)\$/.exec(text)?.[1];
    throw new CryptError(
      "unsupported-format",
      id !== undefined
        ? `unsupported password hash format '$${id}$' (supported: $1$ MD5-crypt, $5$ SHA-256-crypt, $6$ SHA-512-crypt)`
        : "unsupported password hash format (legacy DES or unknown; supported: $1$, $5$, $6$)",
    );
  }
  const algorithm: CryptAlgorithm = m[1] === "1" ? "md5" : m[1] === "5" ? "sha256" : "sha512";
  let rest = m[2]!;
  let rounds: number | null = null;
  if (algorithm !== "md5" && rest.startsWith("rounds=")) {
    const r = /^rounds=([0-9]{1,10})\$/.exec(rest);
    if (r === null) throw new CryptError("malformed-hash", "malformed 'rounds=' field in password hash");
    rounds = Number(r[1]);
    // glibc would silently clamp these and then never reproduce the stored string, so such an entry can
    // never verify under ocserv either; say so instead.
    if (rounds < SHA_CRYPT_MIN_ROUNDS || rounds > SHA_CRYPT_MAX_ROUNDS) {
      throw new CryptError(
        "bad-rounds",
        `password hash rounds=${rounds} outside the supported range ${SHA_CRYPT_MIN_ROUNDS}..${SHA_CRYPT_MAX_ROUNDS}`,
      );
    }
    rest = rest.slice(r[0].length);
  }
  const dollar = rest.lastIndexOf("$");
  if (dollar < 0) throw new CryptError("malformed-hash", "password hash has no digest field");
  const salt = rest.slice(0, dollar);
  const digest = rest.slice(dollar + 1);
  if (salt.length > MAX_SALT[algorithm] || salt.includes("$")) {
    throw new CryptError("malformed-hash", `password hash salt longer than ${MAX_SALT[algorithm]} characters`);
  }
  if (digest.length !== DIGEST_CHARS[algorithm] || !DIGEST_RE.test(digest)) {
    throw new CryptError(
      "malformed-hash",
      `password hash digest must be ${DIGEST_CHARS[algorithm]} characters of [./0-9A-Za-z]`,
    );
  }
  return Object.freeze({ algorithm, salt, rounds, digest });
}

/** Recomputes the hash of `password` with the parameters of `hash` and compares in constant time. */
export function verifyCrypt(hash: CryptHash, password: string): boolean {
  const computed = computeDigest(hash.algorithm, new TextEncoder().encode(password), hash.salt, hash.rounds);
  return constantTimeEqual(new TextEncoder().encode(computed), new TextEncoder().encode(hash.digest));
}

/** Produces the full crypt(3) string, as glibc's crypt(password, setting) would for these parameters. */
export function formatCrypt(algorithm: CryptAlgorithm, password: string, salt: string, rounds: number | null = null): string {
  if (salt.length > MAX_SALT[algorithm] || salt.includes("$")) {
    throw new CryptError("malformed-hash", `salt must be at most ${MAX_SALT[algorithm]} characters without '$'`);
  }
  if (rounds !== null && (algorithm === "md5" || rounds < SHA_CRYPT_MIN_ROUNDS || rounds > SHA_CRYPT_MAX_ROUNDS)) {
    throw new CryptError("bad-rounds", `rounds=${rounds} not supported here`);
  }
  const digest = computeDigest(algorithm, new TextEncoder().encode(password), salt, rounds);
  const id = algorithm === "md5" ? "1" : algorithm === "sha256" ? "5" : "6";
  const roundsPart = rounds === null ? "" : `rounds=${rounds}$`;
  return `$${id}$${roundsPart}${salt}$${digest}`;
}

function computeDigest(algorithm: CryptAlgorithm, password: Uint8Array, salt: string, rounds: number | null): string {
  const saltBytes = new TextEncoder().encode(salt);
  return algorithm === "md5"
    ? md5Crypt(password, saltBytes)
    : shaCrypt(algorithm, password, saltBytes, rounds ?? SHA_CRYPT_DEFAULT_ROUNDS);
}

function digestOf(alg: CryptAlgorithm, ...parts: Uint8Array[]): Uint8Array {
  const h = createHash(HASH_NAME[alg]);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** `source` repeated (and cut) to exactly `length` bytes. */
function repeatTo(source: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let o = 0; o < length; o += source.length) out.set(source.subarray(0, Math.min(source.length, length - o)), o);
  return out;
}

/** Drepper's SHA-crypt, steps 1–21 of the specification. */
function shaCrypt(alg: "sha256" | "sha512", p: Uint8Array, s: Uint8Array, rounds: number): string {
  const size = alg === "sha256" ? 32 : 64;
  // Steps 4–8: digest B = H(P S P).
  const b = digestOf(alg, p, s, p);
  // Steps 1–3, 9–12: digest A = H(P S, B repeated over len(P), then per bit of len(P): B if 1, else P).
  const a = createHash(alg);
  a.update(p);
  a.update(s);
  a.update(repeatTo(b, p.length));
  for (let n = p.length; n > 0; n >>>= 1) a.update(n & 1 ? b : p);
  const aDigest = new Uint8Array(a.digest());
  // Steps 13–16: P' = H(P repeated len(P) times), cut to len(P).
  const dpHash = createHash(alg);
  for (let i = 0; i < p.length; i++) dpHash.update(p);
  const pPrime = repeatTo(new Uint8Array(dpHash.digest()), p.length);
  // Steps 17–20: S' = H(S repeated 16 + A[0] times), cut to len(S).
  const dsHash = createHash(alg);
  for (let i = 0; i < 16 + aDigest[0]!; i++) dsHash.update(s);
  const sPrime = repeatTo(new Uint8Array(dsHash.digest()), s.length);
  // Step 21: the rounds.
  const c = roundsLoop(alg, aDigest, pPrime, sPrime, rounds);
  // Step 22: the output byte order is a fixed permutation, three bytes → four characters.
  let out = "";
  if (size === 32) {
    for (let i = 0; i < 10; i++) {
      const x = i, y = i + 10, z = i + 20;
      const [b2, b1, b0] = i % 3 === 0 ? [x, y, z] : i % 3 === 1 ? [z, x, y] : [y, z, x];
      out += b64From24(c[b2]!, c[b1]!, c[b0]!, 4);
    }
    out += b64From24(0, c[31]!, c[30]!, 3);
  } else {
    for (let i = 0; i < 21; i++) {
      const x = i, y = i + 21, z = i + 42;
      const [b2, b1, b0] = i % 3 === 0 ? [x, y, z] : i % 3 === 1 ? [y, z, x] : [z, x, y];
      out += b64From24(c[b2]!, c[b1]!, c[b0]!, 4);
    }
    out += b64From24(0, 0, c[63]!, 2);
  }
  return out;
}

const MD5_MAGIC = new TextEncoder().encode("$1$");

/** MD5-crypt as in FreeBSD's crypt-md5.c and glibc's md5-crypt.c: 1000 fixed rounds. */
function md5Crypt(p: Uint8Array, s: Uint8Array): string {
  const alt = digestOf("md5", p, s, p);
  const ctx = createHash("md5");
  ctx.update(p);
  ctx.update(MD5_MAGIC);
  ctx.update(s);
  for (let pl = p.length; pl > 0; pl -= 16) ctx.update(alt.subarray(0, Math.min(pl, 16)));
  // The original code adds a NUL byte for each set bit and the first password byte for each clear bit.
  const zero = new Uint8Array(1);
  const first = p.subarray(0, 1);
  for (let i = p.length; i > 0; i >>>= 1) ctx.update(i & 1 ? zero : first);
  const fin = roundsLoop("md5", new Uint8Array(ctx.digest()), p, s, 1000);
  let out = "";
  out += b64From24(fin[0]!, fin[6]!, fin[12]!, 4);
  out += b64From24(fin[1]!, fin[7]!, fin[13]!, 4);
  out += b64From24(fin[2]!, fin[8]!, fin[14]!, 4);
  out += b64From24(fin[3]!, fin[9]!, fin[15]!, 4);
  out += b64From24(fin[4]!, fin[10]!, fin[5]!, 4);
  out += b64From24(0, 0, fin[11]!, 2);
  return out;
}

/**
 * The rounds shared by MD5-crypt and SHA-crypt: digest_i = H((odd ? P : C) [S if i%3] [P if i%7]
 * (odd ? C : P)). Up to a million rounds run per login, so the input is assembled in one reused buffer
 * and hashed with Bun's one-shot hasher into a reused output (about 3.5× faster than createHash per round).
 */
function roundsLoop(alg: CryptAlgorithm, start: Uint8Array, p: Uint8Array, s: Uint8Array, rounds: number): Uint8Array {
  const c = new Uint8Array(start);
  const buf = new Uint8Array(2 * p.length + s.length + p.length + c.length);
  for (let i = 0; i < rounds; i++) {
    let n = 0;
    const odd = (i & 1) === 1;
    buf.set(odd ? p : c, n);
    n += odd ? p.length : c.length;
    if (i % 3 !== 0) {
      buf.set(s, n);
      n += s.length;
    }
    if (i % 7 !== 0) {
      buf.set(p, n);
      n += p.length;
    }
    buf.set(odd ? c : p, n);
    n += odd ? c.length : p.length;
    Bun.CryptoHasher.hash(HASH_NAME[alg], buf.subarray(0, n), c);
  }
  return c;
}

/** The crypt "base64": little-endian 6-bit groups over ./0-9A-Za-z. */
function b64From24(b2: number, b1: number, b0: number, n: number): string {
  let w = (b2 << 16) | (b1 << 8) | b0;
  let s = "";
  for (let i = 0; i < n; i++) {
    s += ITOA64[w & 0x3f];
    w >>>= 6;
  }
  return s;
}
