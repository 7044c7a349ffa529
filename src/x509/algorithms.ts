// Signature algorithm identifiers on certificates and CRLs (RFC 3279 §2.2, RFC 4055 §3, RFC 5758
// §3.2, RFC 8410 §3) and the check of a signature with an issuer's public key.

import type { HashAlg, PublicKey, SignatureScheme } from "../crypto/index.ts";
import { DerReader, TAG, ctx } from "./asn1.ts";
import { X509Error } from "./errors.ts";
import { OID } from "./oids.ts";

export type SignatureAlgorithm =
  | { readonly kind: "scheme"; readonly oid: string; readonly name: string; readonly scheme: SignatureScheme }
  | { readonly kind: "rsa-pss"; readonly oid: string; readonly name: string; readonly hash: HashAlg; readonly saltLength: number };

const SIMPLE: Readonly<Record<string, { name: string; scheme: SignatureScheme; params: "null" | "absent" }>> = Object.freeze({
  [OID.sha1WithRSA]: { name: "sha1WithRSAEncryption", scheme: "rsa_pkcs1_sha1", params: "null" },
  [OID.sha256WithRSA]: { name: "sha256WithRSAEncryption", scheme: "rsa_pkcs1_sha256", params: "null" },
  [OID.sha384WithRSA]: { name: "sha384WithRSAEncryption", scheme: "rsa_pkcs1_sha384", params: "null" },
  [OID.sha512WithRSA]: { name: "sha512WithRSAEncryption", scheme: "rsa_pkcs1_sha512", params: "null" },
  // For ECDSA, the scheme selects only the hash: verification on the issuer's curve whatever it is.
  [OID.ecdsaWithSha1]: { name: "ecdsa-with-SHA1", scheme: "ecdsa_sha1", params: "absent" },
  [OID.ecdsaWithSha256]: { name: "ecdsa-with-SHA256", scheme: "ecdsa_secp256r1_sha256", params: "absent" },
  [OID.ecdsaWithSha384]: { name: "ecdsa-with-SHA384", scheme: "ecdsa_secp384r1_sha384", params: "absent" },
  [OID.ecdsaWithSha512]: { name: "ecdsa-with-SHA512", scheme: "ecdsa_secp521r1_sha512", params: "absent" },
  [OID.ed25519]: { name: "Ed25519", scheme: "ed25519", params: "absent" },
});

const HASH_OIDS: Readonly<Record<string, HashAlg>> = Object.freeze({
  [OID.sha1]: "sha1",
  [OID.sha256]: "sha256",
  [OID.sha384]: "sha384",
  [OID.sha512]: "sha512",
});

function hashAlgId(r: DerReader, what: string): HashAlg {
  const a = r.sequence(what);
  const o = a.oid(what);
  if (!a.done) a.null(`${what} parameters`);
  a.end(what);
  const h = HASH_OIDS[o];
  if (h === undefined) throw new X509Error("unsupported-algorithm", `unsupported hash ${o}`);
  return h;
}

/** RSASSA-PSS-params (RFC 4055 §3.1); defaults are SHA-1, MGF1-SHA-1, salt 20, trailer 1. */
function parsePssParams(r: DerReader): { hash: HashAlg; saltLength: number } {
  let hash: HashAlg = "sha1";
  let mgfHash: HashAlg = "sha1";
  let saltLength = 20;
  if (r.done) return { hash, saltLength };
  const p = r.sequence("RSASSA-PSS-params");
  const h = p.optional(ctx(0, true));
  if (h) hash = hashAlgId(DerReader.of(h.value), "hashAlgorithm");
  const m = p.optional(ctx(1, true));
  if (m) {
    const mr = DerReader.of(m.value).sequence("maskGenAlgorithm");
    if (mr.oid("maskGenAlgorithm") !== OID.mgf1) throw new X509Error("unsupported-algorithm", "PSS mask generation other than MGF1");
    mgfHash = hashAlgId(mr, "MGF1 hash");
    mr.end("maskGenAlgorithm");
  }
  const s = p.optional(ctx(2, true));
  if (s) saltLength = DerReader.of(s.value).smallInt("saltLength");
  const t = p.optional(ctx(3, true));
  if (t && DerReader.of(t.value).smallInt("trailerField") !== 1) throw new X509Error("unsupported-algorithm", "PSS trailer field");
  p.end("RSASSA-PSS-params");
  // node:crypto uses the signature hash for MGF1 too; a different MGF1 hash cannot be checked.
  if (mgfHash !== hash) throw new X509Error("unsupported-algorithm", "PSS with an MGF1 hash different from the message hash");
  return { hash, saltLength };
}

export function parseSignatureAlgorithm(r: DerReader): SignatureAlgorithm {
  const t = r.expect(TAG.SEQUENCE, "signature AlgorithmIdentifier");
  const a = DerReader.of(t.value);
  const o = a.oid("signature algorithm");
  const simple = SIMPLE[o];
  if (simple) {
    // RFC 4055 §5 says NULL for RSA, RFC 5758 §3.2 absent for ECDSA; accept a NULL either way.
    if (!a.done) a.null("signature algorithm parameters");
    a.end("AlgorithmIdentifier");
    return Object.freeze({ kind: "scheme", oid: o, name: simple.name, scheme: simple.scheme });
  }
  if (o === OID.rsassaPss) {
    const { hash, saltLength } = parsePssParams(a);
    a.end("AlgorithmIdentifier");
    return Object.freeze({ kind: "rsa-pss", oid: o, name: `RSASSA-PSS(${hash})`, hash, saltLength });
  }
  throw new X509Error("unsupported-algorithm", `unsupported signature algorithm ${o}`);
}

/** Checks `signature` over `tbs` with the issuer's key under `alg`; false on any mismatch. */
export function verifySignature(issuerKey: PublicKey, alg: SignatureAlgorithm, tbs: Uint8Array, signature: Uint8Array): boolean {
  if (alg.kind === "rsa-pss") {
    const k = issuerKey as PublicKey & { verifyPss?: (h: HashAlg, salt: number, m: Uint8Array, s: Uint8Array) => boolean };
    return issuerKey.type === "rsa" && typeof k.verifyPss === "function" && k.verifyPss(alg.hash, alg.saltLength, tbs, signature);
  }
  const s = alg.scheme;
  const keyOk =
    (issuerKey.type === "rsa" && s.startsWith("rsa_pkcs1_")) ||
    ((issuerKey.type === "ecdsa-p256" || issuerKey.type === "ecdsa-p384" || issuerKey.type === "ecdsa-p521") && s.startsWith("ecdsa_")) ||
    (issuerKey.type === "ed25519" && s === "ed25519");
  return keyOk && issuerKey.verify(s, tbs, signature);
}
