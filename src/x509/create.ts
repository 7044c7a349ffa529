// Writing certificates and CRLs, so a router without openssl or certtool can set up a CA, a server
// certificate and user certificates from the binary alone. The profile follows RFC 5280 and what
// certtool writes for ocserv's examples: v3, SKI/AKI, critical basicConstraints and keyUsage.

import { hash, randomBytes, type PrivateKey, type PublicKey } from "../crypto/index.ts";
import { parseIp } from "../wire/ip.ts";
import { fromHex } from "../wire/writer.ts";
import { DerReader } from "./asn1.ts";
import { KEY_USAGE_BITS, parseCertificate, type Certificate, type KeyUsageName } from "./certificate.ts";
import { parseCrl } from "./crl.ts";
import { X509Error } from "./errors.ts";
import { keyMatchesCertificate } from "./identity.ts";
import { signatureAlgorithmFor } from "./keys.ts";
import { encodeName, type NameSpec } from "./name.ts";
import { OID } from "./oids.ts";
import { toPem } from "./pem.ts";
import {
  bitString,
  boolean,
  explicit,
  implicitPrimitive,
  integer,
  namedBits,
  octetString,
  oid,
  seq,
  time,
} from "./der-writer.ts";

export interface CertificateOptions {
  readonly subject: NameSpec;
  /** The certified key; for a self-signed certificate it must be the PrivateKey that signs. */
  readonly subjectKey: PublicKey | PrivateKey;
  readonly issuer: { readonly cert: Certificate; readonly key: PrivateKey } | "self";
  /** Positive serial; default 16 random bytes (RFC 5280 §4.1.2.2: at most 20 octets). */
  readonly serial?: bigint | Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly isCa: boolean;
  readonly pathLen?: number;
  readonly keyUsage: readonly KeyUsageName[];
  /** "serverAuth", "clientAuth" or dotted OIDs. */
  readonly extKeyUsage?: readonly string[];
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly emails?: readonly string[];
}

function isPrivateKey(k: PublicKey | PrivateKey): k is PrivateKey {
  return typeof (k as PrivateKey).sign === "function";
}

/** Subject key identifier, RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits. */
function keyIdentifier(spki: Uint8Array): Uint8Array {
  const outer = DerReader.of(spki);
  const r = outer.sequence("SubjectPublicKeyInfo");
  r.sequence("AlgorithmIdentifier");
  return hash("sha1", r.bitStringBytes("subjectPublicKey"));
}

function extension(extOid: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical ? seq(oid(extOid), boolean(true), octetString(value)) : seq(oid(extOid), octetString(value));
}

/** Parses a textual IPv4 or IPv6 address (src/wire/ip.ts syntax) into the 4 or 16 bytes of an iPAddress. */
export function parseIpAddress(s: string): Uint8Array {
  const ip = parseIp(s);
  if (ip === null) throw new X509Error("bad-input", `bad IP address "${s}"`);
  return ip.bytes;
}

function randomSerial(): Uint8Array {
  const s = randomBytes(16);
  s[0] = (s[0]! & 0x7f) | 0x01; // positive and non-zero, 16 octets (CA/B and RFC 5280 §4.1.2.2)
  return s;
}

export function createCertificate(opts: CertificateOptions): { der: Uint8Array; pem: string; cert: Certificate } {
  const selfSigned = opts.issuer === "self";
  let signer: PrivateKey;
  let issuerName: Uint8Array;
  let issuerKeyId: Uint8Array;
  if (opts.issuer === "self") {
    if (!isPrivateKey(opts.subjectKey)) throw new X509Error("bad-input", "a self-signed certificate needs the subject's private key");
    signer = opts.subjectKey;
    issuerName = encodeName(opts.subject);
    issuerKeyId = keyIdentifier(signer.publicKey.spki);
  } else {
    const { cert, key } = opts.issuer;
    if (!keyMatchesCertificate(key, cert)) throw new X509Error("bad-input", "the issuer key does not match the issuer certificate");
    if (cert.extensions.basicConstraints?.cA !== true) throw new X509Error("bad-input", "the issuer certificate is not a CA");
    signer = key;
    issuerName = cert.subject.der;
    issuerKeyId = cert.extensions.subjectKeyIdentifier ?? keyIdentifier(cert.spki);
  }
  if (!(opts.notBefore.getTime() < opts.notAfter.getTime())) throw new X509Error("bad-input", "notBefore must be before notAfter");
  if (opts.pathLen !== undefined && (!opts.isCa || !Number.isInteger(opts.pathLen) || opts.pathLen < 0)) {
    throw new X509Error("bad-input", "pathLen needs isCa and a non-negative integer");
  }
  const subjectPub = isPrivateKey(opts.subjectKey) ? opts.subjectKey.publicKey : opts.subjectKey;
  const serial = opts.serial ?? randomSerial();
  const serialDer = integer(serial);
  if (serialDer.length > 2 + 21 || (typeof serial === "bigint" && serial <= 0n)) throw new X509Error("bad-input", "serial must be positive and at most 20 octets");

  const exts: Uint8Array[] = [];
  // RFC 5280 §4.2.1.9: critical in CA certificates; written for end entities too (cA FALSE) as certtool does.
  const bc = opts.isCa ? seq(boolean(true), ...(opts.pathLen !== undefined ? [integer(opts.pathLen)] : [])) : seq();
  exts.push(extension(OID.basicConstraints, true, bc));
  if (opts.keyUsage.length > 0) {
    exts.push(extension(OID.keyUsage, true, namedBits(opts.keyUsage.map((u) => KEY_USAGE_BITS[u]))));
  }
  if (opts.extKeyUsage && opts.extKeyUsage.length > 0) {
    const oids = opts.extKeyUsage.map((e) => (e === "serverAuth" ? OID.serverAuth : e === "clientAuth" ? OID.clientAuth : e));
    exts.push(extension(OID.extKeyUsage, false, seq(...oids.map((o) => oid(o)))));
  }
  const names: Uint8Array[] = [];
  const ascii = (s: string, what: string) => {
    if (!/^[\x21-\x7e]+$/.test(s)) throw new X509Error("bad-input", `bad ${what} "${s}"`);
    return new TextEncoder().encode(s);
  };
  for (const e of opts.emails ?? []) names.push(implicitPrimitive(1, ascii(e, "email")));
  for (const d of opts.dnsNames ?? []) names.push(implicitPrimitive(2, ascii(d, "DNS name")));
  for (const ip of opts.ipAddresses ?? []) names.push(implicitPrimitive(7, parseIpAddress(ip)));
  const subjectDer = encodeName(opts.subject);
  if (names.length > 0) {
    // §4.2.1.6: critical when the subject is empty.
    exts.push(extension(OID.subjectAltName, subjectDer.length === 2, seq(...names)));
  }
  exts.push(extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(subjectPub.spki))));
  if (!selfSigned) exts.push(extension(OID.authorityKeyIdentifier, false, seq(implicitPrimitive(0, issuerKeyId))));

  const alg = signatureAlgorithmFor(signer);
  const tbs = seq(
    explicit(0, integer(2)), // v3
    serialDer,
    alg.der,
    issuerName,
    seq(time(opts.notBefore), time(opts.notAfter)),
    subjectDer,
    subjectPub.spki,
    explicit(3, seq(...exts)),
  );
  const der = seq(tbs, alg.der, bitString(signer.sign(alg.scheme, tbs)));
  return { der, pem: toPem("CERTIFICATE", der), cert: parseCertificate(der) };
}

export interface CrlOptions {
  readonly issuer: Certificate;
  readonly key: PrivateKey;
  /** Serials as hex strings (Certificate.serial form) or bigints. */
  readonly revokedSerials: readonly (string | bigint)[];
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  readonly crlNumber: number | bigint;
  /** Defaults to thisUpdate. */
  readonly revocationDate?: Date;
}

export function createCrl(opts: CrlOptions): { der: Uint8Array; pem: string } {
  if (!keyMatchesCertificate(opts.key, opts.issuer)) throw new X509Error("bad-input", "the CRL key does not match the issuer certificate");
  if (!(opts.thisUpdate.getTime() < opts.nextUpdate.getTime())) throw new X509Error("bad-input", "thisUpdate must be before nextUpdate");
  const alg = signatureAlgorithmFor(opts.key);
  const when = time(opts.revocationDate ?? opts.thisUpdate);
  const entries = opts.revokedSerials.map((s) => {
    if (typeof s === "string" && !/^[0-9a-fA-F]{1,40}$/.test(s)) throw new X509Error("bad-input", `bad serial "${s}"`);
    const v = typeof s === "bigint" ? s : fromHex(s.length % 2 === 1 ? `0${s}` : s);
    return seq(integer(v), when);
  });
  const keyId = opts.issuer.extensions.subjectKeyIdentifier ?? keyIdentifier(opts.issuer.spki);
  const crlExts = seq(
    extension(OID.authorityKeyIdentifier, false, seq(implicitPrimitive(0, keyId))),
    extension(OID.crlNumber, false, integer(opts.crlNumber)),
  );
  const tbs = seq(
    integer(1), // v2 (RFC 5280 §5.1.2.1: required with extensions)
    alg.der,
    opts.issuer.subject.der,
    time(opts.thisUpdate),
    time(opts.nextUpdate),
    // §5.1.2.6: revokedCertificates is absent, not empty, when nothing is revoked.
    ...(entries.length > 0 ? [seq(...entries)] : []),
    explicit(0, crlExts),
  );
  const der = seq(tbs, alg.der, bitString(opts.key.sign(alg.scheme, tbs)));
  parseCrl(der); // self-check: what we write must parse
  return { der, pem: toPem("X509 CRL", der) };
}

