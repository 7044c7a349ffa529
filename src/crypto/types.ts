// The one crypto provider interface. Everything above src/crypto (x509, tls, dtls, auth, server)
// imports these types and the functions of src/crypto/index.ts, never noble or node:crypto directly,
// so the choice of backend per primitive stays in src/crypto:
//   - handshake math (ECDHE x25519/P-256/P-384, ECDSA, Ed25519) and handshake hashes: @noble
//   - bulk record protection (AES-GCM, AES-CBC, HMAC on the record path) and RSA: node:crypto
// (measured: noble AES-GCM 11–15 MB/s vs node:crypto 350–800 MB/s; noble has no RSA.)

export type HashAlg = "sha1" | "sha256" | "sha384" | "sha512";

/** Incremental hash; `clone()` forks the state (TLS transcript hashes need the running value). */
export interface Hash {
  readonly alg: HashAlg;
  readonly outputLength: number;
  update(data: Uint8Array): this;
  digest(): Uint8Array;
  clone(): Hash;
}

export type NamedGroup = "x25519" | "secp256r1" | "secp384r1";

/** An ephemeral key-exchange key pair for one handshake. */
export interface KeyShare {
  readonly group: NamedGroup;
  /** x25519: 32 raw bytes; NIST curves: uncompressed point (0x04 || X || Y). */
  readonly publicKey: Uint8Array;
  /** Throws CryptoError("bad-peer-key") for an invalid or low-order peer point. */
  computeSecret(peerPublic: Uint8Array): Uint8Array;
}

/** TLS SignatureScheme names (RFC 8446 §4.2.3) that we can produce or check. */
export type SignatureScheme =
  | "rsa_pkcs1_sha1"
  | "rsa_pkcs1_sha256"
  | "rsa_pkcs1_sha384"
  | "rsa_pkcs1_sha512"
  | "rsa_pss_rsae_sha256"
  | "rsa_pss_rsae_sha384"
  | "rsa_pss_rsae_sha512"
  | "rsa_pss_pss_sha256"
  | "rsa_pss_pss_sha384"
  | "rsa_pss_pss_sha512"
  | "ecdsa_secp256r1_sha256"
  | "ecdsa_secp384r1_sha384"
  | "ecdsa_secp521r1_sha512"
  | "ecdsa_sha1"
  | "ed25519";

export type KeyType = "rsa" | "ecdsa-p256" | "ecdsa-p384" | "ecdsa-p521" | "ed25519";

/** A public key as found in a SubjectPublicKeyInfo. */
export interface PublicKey {
  readonly type: KeyType;
  /** RSA modulus size in bits, or the curve size. */
  readonly bits: number;
  /** DER SubjectPublicKeyInfo. */
  readonly spki: Uint8Array;
  /** Verifies `signature` over `message` (the message is hashed inside, per scheme). ECDSA signatures are DER. */
  verify(scheme: SignatureScheme, message: Uint8Array, signature: Uint8Array): boolean;
  /** RSA only: PKCS#1 v1.5 encryption (tests and the client side of RSA key exchange). */
  encryptPkcs1?(plaintext: Uint8Array): Uint8Array;
}

/**
 * A private key. In the server the private-key operations are reached only through this interface,
 * so that they can be moved behind a process boundary (ocserv's sec-mod) without touching TLS.
 */
export interface PrivateKey {
  readonly type: KeyType;
  readonly publicKey: PublicKey;
  /** Schemes this key can sign with, best first. */
  readonly schemes: readonly SignatureScheme[];
  /** Signs `message` (hashed inside, per scheme). ECDSA signatures are DER-encoded. */
  sign(scheme: SignatureScheme, message: Uint8Array): Uint8Array;
  /**
   * RSA only: PKCS#1 v1.5 decryption for the TLS 1.2 RSA key exchange. Returns null on any padding
   * error; the caller substitutes a random premaster secret (RFC 5246 §7.4.7.1) so that the outcome
   * does not leak through timing or alerts.
   */
  decryptPkcs1?(ciphertext: Uint8Array): Uint8Array | null;
}

/**
 * AEAD for records (AES-GCM). The key is expanded once; seal/open write into caller buffers so the
 * packet path does not allocate. Tag length is 16.
 */
export interface Aead {
  readonly keyLength: 16 | 32;
  readonly tagLength: 16;
  /** Writes ciphertext || tag into `out` at `outOffset`; returns bytes written (plaintext.length + 16). */
  seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array, outOffset: number): number;
  /** Decrypts `ciphertextAndTag` into `out` at `outOffset`; returns the plaintext length, or -1 if the tag fails. */
  open(nonce: Uint8Array, aad: Uint8Array, ciphertextAndTag: Uint8Array, out: Uint8Array, outOffset: number): number;
}

/** Raw AES-CBC without padding handling (TLS/DTLS CBC records pad and check padding themselves). */
export interface CbcCipher {
  readonly keyLength: 16 | 32;
  /** `data.length` must be a multiple of 16. Returns bytes written. */
  encrypt(iv: Uint8Array, data: Uint8Array, out: Uint8Array, outOffset: number): number;
  decrypt(iv: Uint8Array, data: Uint8Array, out: Uint8Array, outOffset: number): number;
}

/** A keyed MAC for the record path (HMAC-SHA1/SHA256/SHA384). */
export interface Mac {
  readonly alg: HashAlg;
  readonly outputLength: number;
  /** MAC over the concatenation of the parts. */
  compute(...parts: Uint8Array[]): Uint8Array;
}

export type CryptoErrorCode = "bad-peer-key" | "bad-key" | "unsupported" | "bad-input";

export class CryptoError extends Error {
  override readonly name = "CryptoError";
  constructor(
    readonly code: CryptoErrorCode,
    message: string,
  ) {
    super(message);
  }
}
