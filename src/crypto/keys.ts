// Signature keys. ECDSA (P-256/P-384) and Ed25519 run on @noble/curves; RSA (PKCS#1 v1.5, PSS and
// the TLS 1.2 RSA key exchange) runs on node:crypto, since noble has no RSA.
// Parsing of key containers (PKCS#1/PKCS#8/SEC1/SPKI) lives in src/x509; this module takes the
// decoded key material so that src/x509 never touches a backend directly.

import {
  constants,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  privateDecrypt,
  publicEncrypt,
  sign as nodeSign,
  verify as nodeVerify,
  type KeyObject,
} from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import { p256, p384, p521 } from "@noble/curves/nist.js";
import { concatBytes, fromHex } from "../wire/writer.ts";
import type { HashAlg, KeyType, PrivateKey, PublicKey, SignatureScheme } from "./types.ts";
import { CryptoError } from "./types.ts";
import { hash, hashLength } from "./hash.ts";
import { randomBytes } from "./random.ts";

export type EcCurve = "p256" | "p384" | "p521";
type Weierstrass = typeof p256;

const CURVES: Readonly<Record<EcCurve, { impl: Weierstrass; type: KeyType; bits: number; scalarLen: number }>> = Object.freeze({
  p256: { impl: p256, type: "ecdsa-p256", bits: 256, scalarLen: 32 },
  p384: { impl: p384 as unknown as Weierstrass, type: "ecdsa-p384", bits: 384, scalarLen: 48 },
  p521: { impl: p521 as unknown as Weierstrass, type: "ecdsa-p521", bits: 521, scalarLen: 66 },
});

function curveImpl(c: EcCurve): Weierstrass {
  return CURVES[c].impl;
}
function curveKeyType(c: EcCurve): KeyType {
  return CURVES[c].type;
}

// ---------------------------------------------------------------------------------------------
// Signature schemes

export type SchemeInfo =
  | { readonly kind: "rsa-pkcs1"; readonly hash: HashAlg }
  | { readonly kind: "rsa-pss-rsae"; readonly hash: HashAlg }
  | { readonly kind: "rsa-pss-pss"; readonly hash: HashAlg }
  | { readonly kind: "ecdsa"; readonly hash: HashAlg; readonly curve: KeyType | null }
  | { readonly kind: "ed25519" };

const SCHEMES: Readonly<Record<SignatureScheme, SchemeInfo>> = Object.freeze({
  rsa_pkcs1_sha1: { kind: "rsa-pkcs1", hash: "sha1" },
  rsa_pkcs1_sha256: { kind: "rsa-pkcs1", hash: "sha256" },
  rsa_pkcs1_sha384: { kind: "rsa-pkcs1", hash: "sha384" },
  rsa_pkcs1_sha512: { kind: "rsa-pkcs1", hash: "sha512" },
  rsa_pss_rsae_sha256: { kind: "rsa-pss-rsae", hash: "sha256" },
  rsa_pss_rsae_sha384: { kind: "rsa-pss-rsae", hash: "sha384" },
  rsa_pss_rsae_sha512: { kind: "rsa-pss-rsae", hash: "sha512" },
  rsa_pss_pss_sha256: { kind: "rsa-pss-pss", hash: "sha256" },
  rsa_pss_pss_sha384: { kind: "rsa-pss-pss", hash: "sha384" },
  rsa_pss_pss_sha512: { kind: "rsa-pss-pss", hash: "sha512" },
  ecdsa_secp256r1_sha256: { kind: "ecdsa", hash: "sha256", curve: "ecdsa-p256" },
  ecdsa_secp384r1_sha384: { kind: "ecdsa", hash: "sha384", curve: "ecdsa-p384" },
  ecdsa_secp521r1_sha512: { kind: "ecdsa", hash: "sha512", curve: "ecdsa-p521" },
  ecdsa_sha1: { kind: "ecdsa", hash: "sha1", curve: null },
  ed25519: { kind: "ed25519" },
});

export function signatureSchemeInfo(scheme: SignatureScheme): SchemeInfo {
  const info = SCHEMES[scheme];
  if (info === undefined) throw new CryptoError("unsupported", `unknown signature scheme ${String(scheme)}`);
  return info;
}

/**
 * Whether `scheme` may be used with a key of `type` in TLS 1.3. In TLS 1.2 the ECDSA code points
 * name only the hash (RFC 5246 §7.4.1.4.1), so a P-384 key may sign "ecdsa_secp256r1_sha256"; in
 * TLS 1.3 the curve is bound (RFC 8446 §4.2.3), and SHA-1 and PKCS#1 v1.5 are not allowed for
 * CertificateVerify.
 */
export function schemeAllowedInTls13(scheme: SignatureScheme, type: KeyType): boolean {
  const info = signatureSchemeInfo(scheme);
  switch (info.kind) {
    case "rsa-pkcs1":
    case "rsa-pss-pss":
      return false;
    case "rsa-pss-rsae":
      return type === "rsa";
    case "ecdsa":
      return info.curve === type;
    case "ed25519":
      return type === "ed25519";
    default: {
      const never: never = info;
      return never;
    }
  }
}

// Fixed DER prefixes of SubjectPublicKeyInfo for named-curve and Ed25519 keys (RFC 5480 §2,
// RFC 8410 §4); the key bytes follow directly. Used to produce `spki` without an ASN.1 writer here.
const SPKI_PREFIX: Readonly<Record<EcCurve | "ed25519", Uint8Array>> = Object.freeze({
  p256: fromHex("3059301306072a8648ce3d020106082a8648ce3d030107034200"),
  p384: fromHex("3076301006072a8648ce3d020106052b81040022036200"),
  p521: fromHex("30819b301006072a8648ce3d020106052b8104002303818600"),
  ed25519: fromHex("302a300506032b6570032100"),
});

function u8(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

// ---------------------------------------------------------------------------------------------
// Public keys

class RsaPublicKey implements PublicKey {
  readonly type = "rsa" as const;
  readonly bits: number;
  readonly spki: Uint8Array;
  readonly #key: KeyObject;
  constructor(key: KeyObject) {
    if (key.asymmetricKeyType !== "rsa") throw new CryptoError("bad-key", `expected an RSA key, got ${key.asymmetricKeyType}`);
    this.#key = key;
    this.bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    this.spki = u8(key.export({ type: "spki", format: "der" }));
  }
  get keyObject(): KeyObject {
    return this.#key;
  }
  verify(scheme: SignatureScheme, message: Uint8Array, signature: Uint8Array): boolean {
    const info = SCHEMES[scheme];
    if (info === undefined) return false;
    try {
      if (info.kind === "rsa-pkcs1") {
        return nodeVerify(info.hash, message, { key: this.#key, padding: constants.RSA_PKCS1_PADDING }, signature);
      }
      if (info.kind === "rsa-pss-rsae") {
        // RFC 8446 §4.2.3: the PSS salt length equals the digest length.
        return nodeVerify(
          info.hash,
          message,
          { key: this.#key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: hashLength(info.hash) },
          signature,
        );
      }
    } catch {
      return false;
    }
    return false;
  }
  /** RSASSA-PSS with explicit parameters, as X.509 signatures with id-RSASSA-PSS carry (RFC 4055 §3.1). */
  verifyPss(hashAlg: HashAlg, saltLength: number, message: Uint8Array, signature: Uint8Array): boolean {
    try {
      return nodeVerify(hashAlg, message, { key: this.#key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength }, signature);
    } catch {
      return false;
    }
  }
  encryptPkcs1(plaintext: Uint8Array): Uint8Array {
    return u8(publicEncrypt({ key: this.#key, padding: constants.RSA_PKCS1_PADDING }, plaintext));
  }
}

class EcPublicKey implements PublicKey {
  readonly type: KeyType;
  readonly bits: number;
  readonly spki: Uint8Array;
  constructor(
    readonly curve: EcCurve,
    /** Uncompressed point 0x04 || X || Y. */
    readonly point: Uint8Array,
  ) {
    this.type = curveKeyType(curve);
    this.bits = CURVES[curve].bits;
    this.spki = concatBytes(SPKI_PREFIX[curve], point);
  }
  verify(scheme: SignatureScheme, message: Uint8Array, signature: Uint8Array): boolean {
    const info = SCHEMES[scheme];
    // The curve in the scheme name is not checked here (TLS 1.2 and X.509 pair any hash with any
    // curve); TLS 1.3 callers check schemeAllowedInTls13 first.
    if (info === undefined || info.kind !== "ecdsa") return false;
    try {
      // Signatures from OpenSSL may have high S, so lowS is not enforced (it is not a TLS rule).
      return curveImpl(this.curve).verify(signature, hash(info.hash, message), this.point, {
        prehash: false,
        format: "der",
        lowS: false,
      });
    } catch {
      return false;
    }
  }
}

class Ed25519PublicKey implements PublicKey {
  readonly type = "ed25519" as const;
  readonly bits = 256;
  readonly spki: Uint8Array;
  constructor(readonly raw: Uint8Array) {
    this.spki = concatBytes(SPKI_PREFIX.ed25519, raw);
  }
  verify(scheme: SignatureScheme, message: Uint8Array, signature: Uint8Array): boolean {
    if (scheme !== "ed25519" || signature.length !== 64) return false;
    try {
      // zip215: false gives the strict RFC 8032 §5.1.7 checks, matching OpenSSL.
      return ed25519.verify(signature, message, this.raw, { zip215: false });
    } catch {
      return false;
    }
  }
}

/** An RSA public key from a DER SubjectPublicKeyInfo (rsaEncryption). */
export function rsaPublicKeyFromSpki(spki: Uint8Array): PublicKey & { verifyPss: RsaPublicKey["verifyPss"] } {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
  } catch (e) {
    throw new CryptoError("bad-key", `invalid RSA public key: ${(e as Error).message}`);
  }
  return new RsaPublicKey(key);
}

/** An EC public key from its uncompressed or compressed SEC 1 point; the point is checked on the curve. */
export function ecPublicKey(curve: EcCurve, point: Uint8Array): PublicKey {
  let uncompressed: Uint8Array;
  try {
    const P = curveImpl(curve).Point.fromBytes(point);
    P.assertValidity();
    uncompressed = P.toBytes(false);
  } catch (e) {
    throw new CryptoError("bad-key", `invalid ${curve} public point: ${(e as Error).message}`);
  }
  return new EcPublicKey(curve, uncompressed);
}

export function ed25519PublicKey(raw: Uint8Array): PublicKey {
  if (raw.length !== 32) throw new CryptoError("bad-key", "Ed25519 public key must be 32 bytes");
  try {
    ed25519.Point.fromBytes(raw);
  } catch (e) {
    throw new CryptoError("bad-key", `invalid Ed25519 public key: ${(e as Error).message}`);
  }
  return new Ed25519PublicKey(raw.slice());
}

/** Whether two public keys are the same key (RSA by modulus and exponent, EC/Ed25519 by point). */
export function samePublicKey(a: PublicKey, b: PublicKey): boolean {
  if (a instanceof RsaPublicKey && b instanceof RsaPublicKey) return a.keyObject.equals(b.keyObject);
  if (a instanceof EcPublicKey && b instanceof EcPublicKey) return a.curve === b.curve && bytesEqual(a.point, b.point);
  if (a instanceof Ed25519PublicKey && b instanceof Ed25519PublicKey) return bytesEqual(a.raw, b.raw);
  return false;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Private keys

const RSA_SCHEMES: readonly SignatureScheme[] = Object.freeze([
  "rsa_pss_rsae_sha256",
  "rsa_pss_rsae_sha384",
  "rsa_pss_rsae_sha512",
  "rsa_pkcs1_sha256",
  "rsa_pkcs1_sha384",
  "rsa_pkcs1_sha512",
  "rsa_pkcs1_sha1",
]);

class RsaPrivateKey implements PrivateKey {
  readonly type = "rsa" as const;
  readonly publicKey: RsaPublicKey;
  readonly schemes: readonly SignatureScheme[];
  readonly #key: KeyObject;
  readonly #modulusBytes: number;
  constructor(key: KeyObject) {
    if (key.asymmetricKeyType !== "rsa") throw new CryptoError("bad-key", `expected an RSA key, got ${key.asymmetricKeyType}`);
    this.#key = key;
    this.publicKey = new RsaPublicKey(createPublicKey(key));
    this.#modulusBytes = Math.ceil(this.publicKey.bits / 8);
    if (this.publicKey.bits < 1024) throw new CryptoError("bad-key", `RSA key of ${this.publicKey.bits} bits is too small`);
    // RFC 8017 §9.1.1: PSS with salt = hash length needs emLen >= 2*hLen + 2, so a 1024-bit key
    // cannot do rsa_pss_rsae_sha512.
    const emLen = Math.ceil((this.publicKey.bits - 1) / 8);
    this.schemes = Object.freeze(
      RSA_SCHEMES.filter((s) => {
        const info = SCHEMES[s];
        return info.kind !== "rsa-pss-rsae" || emLen >= 2 * hashLength(info.hash) + 2;
      }),
    );
  }
  sign(scheme: SignatureScheme, message: Uint8Array): Uint8Array {
    const info = SCHEMES[scheme];
    if (info?.kind === "rsa-pkcs1") {
      return u8(nodeSign(info.hash, message, { key: this.#key, padding: constants.RSA_PKCS1_PADDING }));
    }
    if (info?.kind === "rsa-pss-rsae") {
      return u8(
        nodeSign(info.hash, message, {
          key: this.#key,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: hashLength(info.hash),
        }),
      );
    }
    throw new CryptoError("unsupported", `an RSA key cannot sign with ${scheme}`);
  }
  /**
   * RSAES-PKCS1-v1_5 decryption (RFC 8017 §7.2.2) for the TLS 1.2 RSA key exchange. The raw RSA
   * operation runs in node:crypto with RSA_NO_PADDING (Bun refuses RSA_PKCS1_PADDING for private
   * decryption); the padding is checked here without data-dependent branches, and every failure
   * returns null so the caller can apply RFC 5246 §7.4.7.1's random premaster substitution.
   */
  decryptPkcs1(ciphertext: Uint8Array): Uint8Array | null {
    const k = this.#modulusBytes;
    if (ciphertext.length !== k || k < 11) return null;
    let em: Uint8Array;
    try {
      em = u8(privateDecrypt({ key: this.#key, padding: constants.RSA_NO_PADDING }, ciphertext));
    } catch {
      return null; // ciphertext >= modulus
    }
    if (em.length !== k) return null;
    // EM = 0x00 || 0x02 || PS (>= 8 nonzero bytes) || 0x00 || M
    let bad = em[0]! | (em[1]! ^ 0x02);
    let sepIndex = 0; // index of the first zero byte after PS, 0 while not found
    let found = 0; // 0 or 1
    for (let i = 2; i < k; i++) {
      const isZero = ((em[i]! - 1) >>> 31) & 1; // 1 iff em[i] === 0
      const take = isZero & (found ^ 1);
      sepIndex |= -take & i;
      found |= isZero;
    }
    bad |= found ^ 1;
    bad |= ((sepIndex - 10) >>> 31) & 1; // PS shorter than 8 bytes
    if (bad !== 0) return null;
    return em.slice(sepIndex + 1);
  }
}

class EcPrivateKey implements PrivateKey {
  readonly type: KeyType;
  readonly publicKey: EcPublicKey;
  readonly schemes: readonly SignatureScheme[];
  readonly #scalar: Uint8Array;
  constructor(
    private readonly curve: EcCurve,
    scalar: Uint8Array,
  ) {
    const impl = curveImpl(curve);
    if (!impl.utils.isValidSecretKey(scalar)) throw new CryptoError("bad-key", `invalid ${curve} private scalar`);
    this.#scalar = scalar.slice();
    this.type = curveKeyType(curve);
    this.publicKey = new EcPublicKey(curve, impl.getPublicKey(this.#scalar, false));
    // The curve-matching scheme first (the only one usable in TLS 1.3); the others for TLS 1.2.
    const own: SignatureScheme =
      curve === "p256" ? "ecdsa_secp256r1_sha256" : curve === "p384" ? "ecdsa_secp384r1_sha384" : "ecdsa_secp521r1_sha512";
    const rest: SignatureScheme[] = ["ecdsa_secp256r1_sha256", "ecdsa_secp384r1_sha384", "ecdsa_secp521r1_sha512"];
    this.schemes = Object.freeze<SignatureScheme[]>([own, ...rest.filter((s) => s !== own), "ecdsa_sha1"]);
  }
  sign(scheme: SignatureScheme, message: Uint8Array): Uint8Array {
    const info = SCHEMES[scheme];
    if (info?.kind !== "ecdsa") throw new CryptoError("unsupported", `an ECDSA key cannot sign with ${scheme}`);
    // Deterministic k (RFC 6979) with extra entropy mixed in (RFC 6979 §3.6): safe even if the
    // CSPRNG were weak, and no nonce reuse across identical messages.
    return curveImpl(this.curve).sign(hash(info.hash, message), this.#scalar, {
      prehash: false,
      format: "der",
      extraEntropy: true,
    });
  }
}

class Ed25519PrivateKey implements PrivateKey {
  readonly type = "ed25519" as const;
  readonly publicKey: Ed25519PublicKey;
  readonly schemes: readonly SignatureScheme[] = Object.freeze<SignatureScheme[]>(["ed25519"]);
  readonly #seed: Uint8Array;
  constructor(seed: Uint8Array) {
    if (seed.length !== 32) throw new CryptoError("bad-key", "Ed25519 private key must be 32 bytes");
    this.#seed = seed.slice();
    this.publicKey = new Ed25519PublicKey(ed25519.getPublicKey(this.#seed));
  }
  sign(scheme: SignatureScheme, message: Uint8Array): Uint8Array {
    if (scheme !== "ed25519") throw new CryptoError("unsupported", `an Ed25519 key cannot sign with ${scheme}`);
    return ed25519.sign(message, this.#seed);
  }
}

/** An RSA private key from DER RSAPrivateKey (PKCS#1, RFC 8017 A.1.2) or PKCS#8 PrivateKeyInfo. */
export function rsaPrivateKeyFromDer(der: Uint8Array, format: "pkcs1" | "pkcs8"): PrivateKey {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: Buffer.from(der), format: "der", type: format });
  } catch (e) {
    throw new CryptoError("bad-key", `invalid RSA private key: ${(e as Error).message}`);
  }
  return new RsaPrivateKey(key);
}

/** An ECDSA private key from its big-endian scalar (SEC 1 §2.3.7); leading zeros may be missing. */
export function ecPrivateKey(curve: EcCurve, scalar: Uint8Array): PrivateKey {
  const len = CURVES[curve].scalarLen;
  if (scalar.length > len) throw new CryptoError("bad-key", `${curve} private scalar longer than ${len} bytes`);
  const padded = new Uint8Array(len);
  padded.set(scalar, len - scalar.length);
  return new EcPrivateKey(curve, padded);
}

/** An Ed25519 private key from its 32-byte seed (RFC 8410 §7 CurvePrivateKey). */
export function ed25519PrivateKey(seed: Uint8Array): PrivateKey {
  return new Ed25519PrivateKey(seed);
}

/** A new RSA key as DER PKCS#8 (node:crypto keygen, e = 65537). */
export function generateRsaPkcs8(bits: 2048 | 3072 | 4096): Uint8Array {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: bits, publicExponent: 65537 });
  return u8(privateKey.export({ type: "pkcs8", format: "der" }));
}

/** A new uniformly random valid private scalar for the curve (from the CSPRNG). */
export function randomEcScalar(curve: EcCurve): Uint8Array {
  return curveImpl(curve).utils.randomSecretKey();
}

export function randomEd25519Seed(): Uint8Array {
  return randomBytes(32);
}
