// Key containers: SubjectPublicKeyInfo (RFC 5280 §4.1.2.7, RFC 5480, RFC 8410), PKCS#1 RSA
// (RFC 8017 A.1.2), SEC 1 EC (RFC 5915), PKCS#8 (RFC 5208/5958). The key math is in src/crypto.

import {
  CryptoError,
  ecPrivateKey,
  ecPublicKey,
  ed25519PrivateKey,
  ed25519PublicKey,
  generateRsaPkcs8,
  randomEcScalar,
  randomEd25519Seed,
  rsaPrivateKeyFromDer,
  rsaPublicKeyFromSpki,
  samePublicKey,
  type EcCurve,
  type PrivateKey,
  type PublicKey,
  type SignatureScheme,
} from "../crypto/index.ts";
import { DerReader, TAG, ctx } from "./asn1.ts";
import { X509Error } from "./errors.ts";
import { OID } from "./oids.ts";
import { isPemText, parsePem, pemText, toPem, type PemOrDer } from "./pem.ts";
import { bitString, explicit, integer, octetString, oid, seq, nullValue } from "./der-writer.ts";

function curveFromOid(o: string): EcCurve {
  if (o === OID.prime256v1) return "p256";
  if (o === OID.secp384r1) return "p384";
  if (o === OID.secp521r1) return "p521";
  throw new X509Error("unsupported-algorithm", `unsupported elliptic curve ${o}`);
}

function wrapCrypto<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof CryptoError) throw new X509Error("bad-key", `${what}: ${e.message}`);
    throw e;
  }
}

/** A public key from a DER SubjectPublicKeyInfo. */
export function parsePublicKey(spki: Uint8Array): PublicKey {
  const outer = DerReader.of(spki);
  const body = outer.sequence("SubjectPublicKeyInfo");
  outer.end("SubjectPublicKeyInfo");
  const alg = body.sequence("AlgorithmIdentifier");
  const algOid = alg.oid("key algorithm");
  const key = body.bitStringBytes("subjectPublicKey");
  body.end("SubjectPublicKeyInfo");
  switch (algOid) {
    case OID.rsaEncryption:
      // RFC 3279 §2.3.1: parameters NULL (some encoders omit it).
      if (!alg.done) alg.null("rsaEncryption parameters");
      alg.end("AlgorithmIdentifier");
      return wrapCrypto("RSA public key", () => rsaPublicKeyFromSpki(spki));
    case OID.ecPublicKey: {
      // RFC 5480 §2.1.1: namedCurve only (implicit/specified curves are forbidden).
      if (alg.peekTag() !== TAG.OID) throw new X509Error("unsupported-algorithm", "EC key without a named curve");
      const curve = curveFromOid(alg.oid("namedCurve"));
      alg.end("AlgorithmIdentifier");
      return wrapCrypto("EC public key", () => ecPublicKey(curve, key));
    }
    case OID.ed25519:
      // RFC 8410 §3: parameters absent.
      alg.end("AlgorithmIdentifier");
      return wrapCrypto("Ed25519 public key", () => ed25519PublicKey(key));
    case OID.rsassaPss:
      throw new X509Error("unsupported-algorithm", "RSASSA-PSS (id-RSASSA-PSS) public keys are not supported");
    default:
      throw new X509Error("unsupported-algorithm", `unsupported public key algorithm ${algOid}`);
  }
}

/** ECPrivateKey (RFC 5915 §3); `curve` comes from the PKCS#8 algorithm when not inside. */
function parseSec1(der: Uint8Array, outerCurve: EcCurve | undefined): PrivateKey {
  const outer = DerReader.of(der);
  const r = outer.sequence("ECPrivateKey");
  outer.end("ECPrivateKey");
  if (r.smallInt("ECPrivateKey version") !== 1) throw new X509Error("bad-key", "ECPrivateKey version must be 1");
  const scalar = r.octetString("privateKey");
  let curve = outerCurve;
  const params = r.optional(ctx(0, true));
  if (params) {
    const p = DerReader.of(params.value);
    const c = curveFromOid(p.oid("namedCurve"));
    p.end("ECParameters");
    if (curve !== undefined && curve !== c) throw new X509Error("bad-key", "EC key curve differs from the PKCS#8 algorithm");
    curve = c;
  }
  const pub = r.optional(ctx(1, true));
  r.end("ECPrivateKey");
  if (curve === undefined) throw new X509Error("bad-key", "EC private key without a named curve");
  const c = curve;
  const key = wrapCrypto("EC private key", () => ecPrivateKey(c, scalar));
  if (pub) {
    // The optional public key must be the one the scalar gives, or the file is corrupt.
    const p = DerReader.of(pub.value);
    const point = p.bitStringBytes("publicKey");
    p.end("publicKey");
    const stated = wrapCrypto("EC public key", () => ecPublicKey(c, point));
    if (!samePublicKey(stated, key.publicKey)) throw new X509Error("bad-key", "EC private key does not match its embedded public key");
  }
  return key;
}

function parsePkcs8(der: Uint8Array): PrivateKey {
  const outer = DerReader.of(der);
  const r = outer.sequence("PrivateKeyInfo");
  outer.end("PrivateKeyInfo");
  const version = r.smallInt("PrivateKeyInfo version");
  if (version !== 0 && version !== 1) throw new X509Error("bad-key", `unknown PKCS#8 version ${version}`);
  const alg = r.sequence("privateKeyAlgorithm");
  const algOid = alg.oid("privateKeyAlgorithm");
  const inner = r.octetString("privateKey");
  // [0] attributes and [1] publicKey (RFC 5958) are allowed and ignored.
  r.optional(ctx(0, true));
  r.optional(ctx(1, false));
  r.end("PrivateKeyInfo");
  switch (algOid) {
    case OID.rsaEncryption:
      return wrapCrypto("RSA private key", () => rsaPrivateKeyFromDer(der, "pkcs8"));
    case OID.ecPublicKey: {
      const curve = curveFromOid(alg.oid("namedCurve"));
      alg.end("AlgorithmIdentifier");
      return parseSec1(inner, curve);
    }
    case OID.ed25519: {
      alg.end("AlgorithmIdentifier");
      // RFC 8410 §7: CurvePrivateKey ::= OCTET STRING (the 32-byte seed) inside the octet string.
      const ir = DerReader.of(inner);
      const seed = ir.octetString("CurvePrivateKey");
      ir.end("CurvePrivateKey");
      return wrapCrypto("Ed25519 private key", () => ed25519PrivateKey(seed));
    }
    case OID.rsassaPss:
      throw new X509Error("unsupported-algorithm", "RSASSA-PSS private keys are not supported; use an rsaEncryption key");
    default:
      throw new X509Error("unsupported-algorithm", `unsupported private key algorithm ${algOid}`);
  }
}

/** Guesses the container of a raw DER private key from its first fields. */
function parseDerPrivateKey(der: Uint8Array): PrivateKey {
  const r = DerReader.of(der).sequence("private key");
  r.integerBytes("version");
  const next = r.peekTag();
  if (next === TAG.SEQUENCE) return parsePkcs8(der); // PrivateKeyInfo: version, AlgorithmIdentifier
  if (next === TAG.OCTET_STRING) return parseSec1(der, undefined); // ECPrivateKey: version, OCTET STRING
  if (next === TAG.INTEGER) return wrapCrypto("RSA private key", () => rsaPrivateKeyFromDer(der, "pkcs1"));
  throw new X509Error("bad-key", "unrecognised DER private key");
}

/**
 * Loads the first private key in PEM text or DER bytes: "RSA PRIVATE KEY" (PKCS#1), "EC PRIVATE KEY"
 * (SEC 1; a preceding "EC PARAMETERS" block is skipped, as openssl writes one) or "PRIVATE KEY"
 * (PKCS#8: RSA, P-256, P-384, Ed25519). Encrypted keys give X509Error("encrypted-key").
 */
export function loadPrivateKey(input: PemOrDer): PrivateKey {
  if (!isPemText(input)) return parseDerPrivateKey(input as Uint8Array);
  for (const block of parsePem(pemText(input))) {
    if (block.headers["Proc-Type"]?.includes("ENCRYPTED") || block.label === "ENCRYPTED PRIVATE KEY") {
      throw new X509Error("encrypted-key", "encrypted private keys are not supported; decrypt it first (e.g. openssl pkey -in key.pem -out plain.pem)");
    }
    switch (block.label) {
      case "RSA PRIVATE KEY":
        return wrapCrypto("RSA private key", () => rsaPrivateKeyFromDer(block.der, "pkcs1"));
      case "EC PRIVATE KEY":
        return parseSec1(block.der, undefined);
      case "PRIVATE KEY":
        return parsePkcs8(block.der);
      default:
        continue;
    }
  }
  throw new X509Error("no-key", "no private key block found");
}

export type KeyKind = "rsa2048" | "rsa3072" | "ecdsa-p256" | "ecdsa-p384" | "ed25519";

/** Encodes an EC or Ed25519 private key as PKCS#8 (RFC 5915 §3 inside RFC 5208, RFC 8410 §7). */
function ecPkcs8(curve: EcCurve, scalar: Uint8Array, point: Uint8Array): Uint8Array {
  const curveOid = curve === "p256" ? OID.prime256v1 : curve === "p384" ? OID.secp384r1 : OID.secp521r1;
  const ecPrivate = seq(integer(1), octetString(scalar), explicit(1, bitString(point)));
  return seq(integer(0), seq(oid(OID.ecPublicKey), oid(curveOid)), octetString(ecPrivate));
}

/** A new private key and its unencrypted PKCS#8 PEM ("PRIVATE KEY"). */
export function generateKey(kind: KeyKind): { key: PrivateKey; pem: string } {
  let pkcs8: Uint8Array;
  switch (kind) {
    case "rsa2048":
    case "rsa3072":
      pkcs8 = generateRsaPkcs8(kind === "rsa2048" ? 2048 : 3072);
      break;
    case "ecdsa-p256":
    case "ecdsa-p384": {
      const curve: EcCurve = kind === "ecdsa-p256" ? "p256" : "p384";
      const scalar = randomEcScalar(curve);
      const key = ecPrivateKey(curve, scalar);
      pkcs8 = ecPkcs8(curve, scalar, key.publicKey.spki.subarray(key.publicKey.spki.length - (curve === "p256" ? 65 : 97)));
      break;
    }
    case "ed25519":
      pkcs8 = seq(integer(0), seq(oid(OID.ed25519)), octetString(octetString(randomEd25519Seed())));
      break;
    default: {
      const never: never = kind;
      throw new X509Error("bad-input", `unknown key kind ${String(never)}`);
    }
  }
  return { key: parsePkcs8(pkcs8), pem: toPem("PRIVATE KEY", pkcs8) };
}

/** AlgorithmIdentifier for signing with this key: SHA-256, or SHA-384 for P-384 (RFC 4055 §5, RFC 5758 §3.2, RFC 8410 §3). */
export function signatureAlgorithmFor(key: PrivateKey): { der: Uint8Array; scheme: SignatureScheme } {
  switch (key.type) {
    case "rsa":
      return { der: seq(oid(OID.sha256WithRSA), nullValue()), scheme: "rsa_pkcs1_sha256" };
    case "ecdsa-p256":
      return { der: seq(oid(OID.ecdsaWithSha256)), scheme: "ecdsa_secp256r1_sha256" };
    case "ecdsa-p384":
      // sha384 suits P-384 (RFC 5480 §4), matching what openssl/certtool pick for such keys.
      return { der: seq(oid(OID.ecdsaWithSha384)), scheme: "ecdsa_secp384r1_sha384" };
    case "ecdsa-p521":
      return { der: seq(oid(OID.ecdsaWithSha512)), scheme: "ecdsa_secp521r1_sha512" };
    case "ed25519":
      return { der: seq(oid(OID.ed25519)), scheme: "ed25519" };
    default: {
      const never: never = key.type;
      throw new X509Error("unsupported-algorithm", `cannot sign with ${String(never)}`);
    }
  }
}
