// The cipher suites we implement (IANA names and values), shared with DTLS. TLS 1.3 suites name only
// the AEAD and hash (RFC 8446 §B.4); TLS 1.2 suites add the key exchange and, for CBC, the MAC.

import type { HashAlg } from "../crypto/types.ts";

export type BulkCipher = "aes-128-gcm" | "aes-256-gcm" | "aes-128-cbc" | "aes-256-cbc";
/** "psk" (RFC 4279 plain PSK) is only for the DTLS channel (protocol.md §4.2); the TLS server never picks it. */
export type KeyExchange = "tls13" | "ecdhe-rsa" | "ecdhe-ecdsa" | "rsa" | "psk";

export interface CipherSuite {
  readonly id: number;
  readonly name: string;
  readonly version: "TLS1.3" | "TLS1.2";
  readonly kx: KeyExchange;
  readonly cipher: BulkCipher;
  /** Record MAC for CBC suites; null for AEAD. */
  readonly mac: HashAlg | null;
  /** Transcript / HKDF hash (1.3) or PRF hash (1.2). */
  readonly hash: "sha256" | "sha384";
  readonly keyLength: 16 | 32;
}

function s(
  id: number,
  name: string,
  version: "TLS1.3" | "TLS1.2",
  kx: KeyExchange,
  cipher: BulkCipher,
  mac: HashAlg | null,
  hash: "sha256" | "sha384",
): CipherSuite {
  return Object.freeze({ id, name, version, kx, cipher, mac, hash, keyLength: cipher.startsWith("aes-128") ? 16 : 32 });
}

/** In our default preference order (AEAD and forward secrecy first, like GnuTLS NORMAL). */
export const CIPHER_SUITES: readonly CipherSuite[] = Object.freeze([
  s(0x1302, "TLS_AES_256_GCM_SHA384", "TLS1.3", "tls13", "aes-256-gcm", null, "sha384"),
  s(0x1301, "TLS_AES_128_GCM_SHA256", "TLS1.3", "tls13", "aes-128-gcm", null, "sha256"),
  s(0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS1.2", "ecdhe-ecdsa", "aes-256-gcm", null, "sha384"),
  s(0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS1.2", "ecdhe-ecdsa", "aes-128-gcm", null, "sha256"),
  s(0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS1.2", "ecdhe-rsa", "aes-256-gcm", null, "sha384"),
  s(0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS1.2", "ecdhe-rsa", "aes-128-gcm", null, "sha256"),
  s(0xc00a, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "TLS1.2", "ecdhe-ecdsa", "aes-256-cbc", "sha1", "sha256"),
  s(0xc009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "TLS1.2", "ecdhe-ecdsa", "aes-128-cbc", "sha1", "sha256"),
  s(0xc014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "TLS1.2", "ecdhe-rsa", "aes-256-cbc", "sha1", "sha256"),
  s(0xc013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS1.2", "ecdhe-rsa", "aes-128-cbc", "sha1", "sha256"),
  s(0xc023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "TLS1.2", "ecdhe-ecdsa", "aes-128-cbc", "sha256", "sha256"),
  s(0xc027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "TLS1.2", "ecdhe-rsa", "aes-128-cbc", "sha256", "sha256"),
  s(0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384", "TLS1.2", "rsa", "aes-256-gcm", null, "sha384"),
  s(0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256", "TLS1.2", "rsa", "aes-128-gcm", null, "sha256"),
  s(0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", "TLS1.2", "rsa", "aes-256-cbc", "sha1", "sha256"),
  s(0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA", "TLS1.2", "rsa", "aes-128-cbc", "sha1", "sha256"),
  s(0x003d, "TLS_RSA_WITH_AES_256_CBC_SHA256", "TLS1.2", "rsa", "aes-256-cbc", "sha256", "sha256"),
  s(0x003c, "TLS_RSA_WITH_AES_128_CBC_SHA256", "TLS1.2", "rsa", "aes-128-cbc", "sha256", "sha256"),
  // DTLS PSK-NEGOTIATE suites (RFC 4279, RFC 5487)
  s(0x00a9, "TLS_PSK_WITH_AES_256_GCM_SHA384", "TLS1.2", "psk", "aes-256-gcm", null, "sha384"),
  s(0x00a8, "TLS_PSK_WITH_AES_128_GCM_SHA256", "TLS1.2", "psk", "aes-128-gcm", null, "sha256"),
  s(0x008d, "TLS_PSK_WITH_AES_256_CBC_SHA", "TLS1.2", "psk", "aes-256-cbc", "sha1", "sha256"),
  s(0x008c, "TLS_PSK_WITH_AES_128_CBC_SHA", "TLS1.2", "psk", "aes-128-cbc", "sha1", "sha256"),
]);

export function suiteById(id: number): CipherSuite | null {
  return CIPHER_SUITES.find((c) => c.id === id) ?? null;
}
export function suiteByName(name: string): CipherSuite | null {
  return CIPHER_SUITES.find((c) => c.name === name) ?? null;
}

export function isAead(c: CipherSuite): c is CipherSuite & { cipher: "aes-128-gcm" | "aes-256-gcm" } {
  return c.cipher === "aes-128-gcm" || c.cipher === "aes-256-gcm";
}
