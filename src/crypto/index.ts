// The crypto provider: the only module that imports @noble/* or node:crypto. Everything else
// (x509, tls, dtls, auth, server) calls these functions and the interfaces of ./types.ts.
//
// Backend per primitive (fixed by the project; speeds measured in Bun, bun-runtime-notes §2):
//   randomness                         crypto.getRandomValues (CSPRNG)                    random.ts
//   handshake hashes, HMAC, HKDF, PRF  @noble/hashes (clonable transcript state)          hash.ts
//   ECDHE x25519, P-256, P-384         @noble/curves (peer points validated)              ecdh.ts
//   ECDSA P-256/P-384, Ed25519         @noble/curves (DER ECDSA signatures)               keys.ts
//   RSA PKCS#1 v1.5, PSS, RSA kex      node:crypto (noble has no RSA)                     keys.ts
//   AES-GCM records                    node:crypto, KeyObject reused (350–800 MB/s vs     records.ts
//                                      11–15 MB/s for noble), no Buffer.concat
//   AES-CBC records                    node:crypto, auto padding off                      records.ts
//   record HMAC                        Bun.CryptoHasher (the fastest HMAC measured)        records.ts
// ChaCha20-Poly1305 is not offered: node:crypto and WebCrypto in Bun lack it, and noble's
// 33–42 MB/s would make it the slow suite.

export * from "./types.ts";
export { randomBytes } from "./random.ts";
export { hashLength, createHash, hash, hmac, hkdfExtract, hkdfExpand, tls12Prf, md5, tls10Prf } from "./hash.ts";
export { generateKeyShare } from "./ecdh.ts";
export { createAead, createCbc, createMac } from "./records.ts";
export {
  type EcCurve,
  type SchemeInfo,
  signatureSchemeInfo,
  schemeAllowedInTls13,
  rsaPublicKeyFromSpki,
  ecPublicKey,
  ed25519PublicKey,
  samePublicKey,
  rsaPrivateKeyFromDer,
  ecPrivateKey,
  ed25519PrivateKey,
  generateRsaPkcs8,
  randomEcScalar,
  randomEd25519Seed,
} from "./keys.ts";
