// Key derivation for DTLS by version. DTLS 1.2 is TLS 1.2's (src/tls/keyschedule.ts: PRF with the
// suite hash, RFC 5246 §8.1, §6.3, §7.4.9, RFC 7627). DTLS 1.0 (RFC 4347, built on TLS 1.1) and the
// pre-RFC DTLS 0.9 use the TLS 1.0 PRF (MD5 XOR SHA-1, RFC 4346 §5) and MD5||SHA-1 handshake hashes.

import { hash, md5, tls10Prf, tls12Prf } from "../crypto/index.ts";
import { concatBytes } from "../wire/writer.ts";
import { finished12, keyBlock12, type KeyBlock12 } from "../tls/keyschedule.ts";
import { DTLS1_2, type DtlsVersion } from "./record.ts";
import type { DtlsSuite } from "./suites.ts";

/** RFC 4279 §2 plain-PSK premaster: uint16 N, N zero bytes, uint16 N, the PSK. */
export function pskPremaster(psk: Uint8Array): Uint8Array {
  const n = psk.length;
  const out = new Uint8Array(4 + 2 * n);
  out[0] = n >>> 8;
  out[1] = n & 0xff;
  out[2 + n] = n >>> 8;
  out[3 + n] = n & 0xff;
  out.set(psk, 4 + n);
  return out;
}

/** The handshake hash for Finished and the EMS session_hash. */
export function handshakeHash(version: DtlsVersion, suite: DtlsSuite, transcript: Uint8Array): Uint8Array {
  if (version === DTLS1_2) return hash(suite.prfHash, transcript);
  // RFC 4346 §7.4.9: MD5(handshake_messages) + SHA-1(handshake_messages)
  return concatBytes(md5(transcript), hash("sha1", transcript));
}

function prf(version: DtlsVersion, suite: DtlsSuite, secret: Uint8Array, label: string, seed: Uint8Array, n: number): Uint8Array {
  return version === DTLS1_2 ? tls12Prf(suite.prfHash, secret, label, seed, n) : tls10Prf(secret, label, seed, n);
}

/** RFC 5246 §8.1 master secret, or RFC 7627 §4 extended master secret when `sessionHash` is given. */
export function masterSecret(version: DtlsVersion, suite: DtlsSuite, pre: Uint8Array, clientRandom: Uint8Array, serverRandom: Uint8Array, sessionHash: Uint8Array | null): Uint8Array {
  if (sessionHash !== null) return prf(version, suite, pre, "extended master secret", sessionHash, 48);
  return prf(version, suite, pre, "master secret", concatBytes(clientRandom, serverRandom), 48);
}

/** RFC 5246 §6.3 key block. CBC records carry explicit IVs (TLS 1.1+), so only GCM takes a 4-byte salt. */
export function keyBlock(version: DtlsVersion, suite: DtlsSuite, master: Uint8Array, clientRandom: Uint8Array, serverRandom: Uint8Array): KeyBlock12 {
  const macLen = suite.mac === null ? 0 : suite.mac === "sha1" ? 20 : suite.mac === "sha256" ? 32 : 48;
  const ivLen = suite.mac === null ? 4 : 0;
  if (version === DTLS1_2) return keyBlock12(suite.prfHash, master, clientRandom, serverRandom, macLen, suite.keyLength, ivLen);
  const n = 2 * (macLen + suite.keyLength + ivLen);
  const kb = tls10Prf(master, "key expansion", concatBytes(serverRandom, clientRandom), n);
  let o = 0;
  const take = (k: number): Uint8Array => kb.slice(o, (o += k));
  return {
    clientMacKey: take(macLen),
    serverMacKey: take(macLen),
    clientKey: take(suite.keyLength),
    serverKey: take(suite.keyLength),
    clientIv: take(ivLen),
    serverIv: take(ivLen),
  };
}

/** RFC 5246 §7.4.9 / RFC 4346 §7.4.9 verify_data (12 bytes). */
export function finishedData(version: DtlsVersion, suite: DtlsSuite, master: Uint8Array, sender: "client" | "server", transcript: Uint8Array): Uint8Array {
  const h = handshakeHash(version, suite, transcript);
  if (version === DTLS1_2) return finished12(suite.prfHash, master, sender, h);
  return tls10Prf(master, `${sender} finished`, h, 12);
}
