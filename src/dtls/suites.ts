// The cipher suites DTLS negotiates. PSK-NEGOTIATE uses plain PSK key exchange (RFC 4279 §2,
// RFC 5487 for the GCM suites); legacy "resumption" uses the TLS suites of src/tls/suites.ts
// (RSA and ECDHE-RSA: the key exchange never runs, only the suite id and its cipher matter).

import type { HashAlg } from "../crypto/types.ts";
import { suiteById, type BulkCipher } from "../tls/suites.ts";

export interface DtlsSuite {
  readonly id: number;
  readonly name: string;
  readonly kx: "psk" | "resumed";
  readonly cipher: BulkCipher;
  /** Record MAC for CBC suites; null for AEAD. */
  readonly mac: HashAlg | null;
  /** TLS 1.2 PRF hash (DTLS 1.0 and 0.9 use the MD5/SHA-1 PRF whatever the suite). */
  readonly prfHash: "sha256" | "sha384";
  readonly keyLength: 16 | 32;
}

function psk(id: number, name: string, cipher: BulkCipher, mac: HashAlg | null, prfHash: "sha256" | "sha384"): DtlsSuite {
  return Object.freeze({ id, name, kx: "psk", cipher, mac, prfHash, keyLength: cipher.startsWith("aes-128") ? 16 : 32 });
}

/** Our PSK preference order: AEAD first, then 256-bit (like GnuTLS NORMAL). */
export const PSK_SUITES: readonly DtlsSuite[] = Object.freeze([
  psk(0x00a9, "TLS_PSK_WITH_AES_256_GCM_SHA384", "aes-256-gcm", null, "sha384"), // RFC 5487
  psk(0x00a8, "TLS_PSK_WITH_AES_128_GCM_SHA256", "aes-128-gcm", null, "sha256"), // RFC 5487
  psk(0x008d, "TLS_PSK_WITH_AES_256_CBC_SHA", "aes-256-cbc", "sha1", "sha256"), // RFC 4279
  psk(0x008c, "TLS_PSK_WITH_AES_128_CBC_SHA", "aes-128-cbc", "sha1", "sha256"), // RFC 4279
]);

export function isAeadSuite(s: DtlsSuite): boolean {
  return s.mac === null;
}

/** A legacy suite from the TLS table, as DTLS sees it. Null for ids that are not in the TLS table. */
export function resumedSuite(id: number): DtlsSuite | null {
  const t = suiteById(id);
  if (t === null || t.version !== "TLS1.2") return null;
  return Object.freeze({ id, name: t.name, kx: "resumed", cipher: t.cipher, mac: t.mac, prfHash: t.hash, keyLength: t.keyLength });
}
