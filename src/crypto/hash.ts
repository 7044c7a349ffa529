// Handshake hashes, HMAC, HKDF and the TLS 1.2 PRF, on @noble/hashes. These run a few times per
// handshake, so speed does not matter and noble's clonable incremental state (needed for running
// transcript hashes) is the deciding feature.

import { md5 as nobleMd5, sha1 } from "@noble/hashes/legacy.js";
import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import { hmac as nobleHmac } from "@noble/hashes/hmac.js";
import { extract, expand } from "@noble/hashes/hkdf.js";
import type { Hash, HashAlg } from "./types.ts";
import { CryptoError } from "./types.ts";

type NobleHashFn = typeof sha256;

function nobleHash(alg: HashAlg): NobleHashFn {
  switch (alg) {
    case "sha1":
      return sha1 as unknown as NobleHashFn;
    case "sha256":
      return sha256;
    case "sha384":
      return sha384 as unknown as NobleHashFn;
    case "sha512":
      return sha512 as unknown as NobleHashFn;
    default: {
      const never: never = alg;
      throw new CryptoError("unsupported", `unknown hash ${String(never)}`);
    }
  }
}

const LENGTHS: Readonly<Record<HashAlg, number>> = Object.freeze({ sha1: 20, sha256: 32, sha384: 48, sha512: 64 });

export function hashLength(alg: HashAlg): number {
  const n = LENGTHS[alg];
  if (n === undefined) throw new CryptoError("unsupported", `unknown hash ${String(alg)}`);
  return n;
}

interface NobleState {
  update(data: Uint8Array): unknown;
  digest(): Uint8Array;
  clone(): NobleState;
}

class IncrementalHash implements Hash {
  readonly outputLength: number;
  constructor(
    readonly alg: HashAlg,
    private readonly state: NobleState,
  ) {
    this.outputLength = hashLength(alg);
  }
  update(data: Uint8Array): this {
    this.state.update(data);
    return this;
  }
  /** Finishes this hash; take `clone().digest()` to read a running transcript hash and keep going. */
  digest(): Uint8Array {
    return this.state.digest();
  }
  clone(): Hash {
    return new IncrementalHash(this.alg, this.state.clone());
  }
}

export function createHash(alg: HashAlg): Hash {
  return new IncrementalHash(alg, nobleHash(alg).create() as unknown as NobleState);
}

export function hash(alg: HashAlg, data: Uint8Array): Uint8Array {
  return nobleHash(alg)(data);
}

/** HMAC over the concatenation of `data` (RFC 2104). */
export function hmac(alg: HashAlg, key: Uint8Array, ...data: Uint8Array[]): Uint8Array {
  const h = nobleHmac.create(nobleHash(alg), key);
  for (const d of data) h.update(d);
  return h.digest();
}

/** HKDF-Extract (RFC 5869 §2.2). An empty salt means HashLen zero bytes, as the RFC says. */
export function hkdfExtract(alg: HashAlg, salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  return extract(nobleHash(alg), ikm, salt.length === 0 ? new Uint8Array(hashLength(alg)) : salt);
}

/** HKDF-Expand (RFC 5869 §2.3); length is at most 255 * HashLen. */
export function hkdfExpand(alg: HashAlg, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  const hl = hashLength(alg);
  if (!Number.isInteger(length) || length < 0 || length > 255 * hl) {
    throw new CryptoError("bad-input", `HKDF-Expand length ${length} out of range`);
  }
  if (prk.length < hl) throw new CryptoError("bad-input", "HKDF-Expand PRK shorter than the hash length");
  return expand(nobleHash(alg), prk, info, length);
}

/**
 * The TLS 1.2 PRF (RFC 5246 §5): P_hash(secret, label || seed), where
 * A(0) = label||seed, A(i) = HMAC(secret, A(i-1)), output = HMAC(secret, A(1)||label||seed) || ...
 * TLS 1.2 uses the cipher suite's PRF hash (SHA-256 unless the suite says SHA-384).
 */
export function tls12Prf(alg: HashAlg, secret: Uint8Array, label: string, seed: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0) throw new CryptoError("bad-input", `PRF length ${length}`);
  const labelBytes = new TextEncoder().encode(label);
  const fn = nobleHash(alg);
  // One keyed HMAC state, cloned per block, so the key is processed once.
  const keyed = nobleHmac.create(fn, secret);
  const mac = (...parts: Uint8Array[]): Uint8Array => {
    const h = keyed.clone();
    for (const p of parts) h.update(p);
    return h.digest();
  };
  const out = new Uint8Array(length);
  let a = mac(labelBytes, seed);
  let off = 0;
  while (off < length) {
    const block = mac(a, labelBytes, seed);
    const n = Math.min(block.length, length - off);
    out.set(block.subarray(0, n), off);
    off += n;
    if (off < length) a = mac(a);
  }
  return out;
}

/** MD5, only for the TLS 1.0/1.1 PRF and handshake hash that DTLS 1.0 and DTLS 0.9 use (RFC 4346 §5, §7.4.9). */
export function md5(data: Uint8Array): Uint8Array {
  return nobleMd5(data);
}

/**
 * The TLS 1.0/1.1 PRF (RFC 4346 §5), used by DTLS 1.0 (RFC 4347) and the pre-RFC DTLS 0.9 of Cisco
 * AnyConnect: P_MD5(S1, label||seed) XOR P_SHA1(S2, label||seed), where S1 and S2 are the two halves
 * of the secret (sharing the middle byte when its length is odd).
 */
export function tls10Prf(secret: Uint8Array, label: string, seed: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0) throw new CryptoError("bad-input", `PRF length ${length}`);
  const half = Math.ceil(secret.length / 2);
  const s1 = secret.subarray(0, half);
  const s2 = secret.subarray(secret.length - half);
  const labelSeed = new Uint8Array([...new TextEncoder().encode(label), ...seed]);
  const pHash = (fn: NobleHashFn, key: Uint8Array): Uint8Array => {
    const keyed = nobleHmac.create(fn, key);
    const mac = (...parts: Uint8Array[]): Uint8Array => {
      const h = keyed.clone();
      for (const p of parts) h.update(p);
      return h.digest();
    };
    const out = new Uint8Array(length);
    let a = mac(labelSeed);
    for (let off = 0; off < length; ) {
      const block = mac(a, labelSeed);
      const n = Math.min(block.length, length - off);
      out.set(block.subarray(0, n), off);
      off += n;
      a = mac(a);
    }
    return out;
  };
  const out = pHash(nobleMd5 as unknown as NobleHashFn, s1);
  const x = pHash(sha1 as unknown as NobleHashFn, s2);
  for (let i = 0; i < length; i++) out[i] = out[i]! ^ x[i]!;
  return out;
}
