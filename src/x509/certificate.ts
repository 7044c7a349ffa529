// X.509 v1/v3 certificates (RFC 5280 §4.1) and the extensions this server acts on (§4.2).

import { hash, type PublicKey } from "../crypto/index.ts";
import { formatIpBytes } from "../wire/ip.ts";
import { toHex } from "../wire/writer.ts";
import { DerReader, TAG, ctx, decodeString, readTime } from "./asn1.ts";
import { parseSignatureAlgorithm, type SignatureAlgorithm } from "./algorithms.ts";
import { X509Error } from "./errors.ts";
import { parsePublicKey } from "./keys.ts";
import { parseName, type Name } from "./name.ts";
import { OID } from "./oids.ts";
import { isPemText, parsePem, pemText, type PemOrDer } from "./pem.ts";

/** KeyUsage bits by name (RFC 5280 §4.2.1.3). */
export const KEY_USAGE_BITS = Object.freeze({
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
  encipherOnly: 7,
  decipherOnly: 8,
});
export type KeyUsageName = keyof typeof KEY_USAGE_BITS;

export interface RawExtension {
  readonly oid: string;
  readonly critical: boolean;
  readonly value: Uint8Array;
}

export interface SubjectAltName {
  readonly dnsNames: readonly string[];
  readonly emails: readonly string[];
  /** Textual addresses: dotted IPv4, or IPv6 in RFC 5952 form. */
  readonly ipAddresses: readonly string[];
  readonly uris: readonly string[];
}

export interface Extensions {
  readonly basicConstraints?: { readonly cA: boolean; readonly pathLen?: number };
  readonly keyUsage?: ReadonlySet<KeyUsageName>;
  /** Extended key usage OIDs. */
  readonly extKeyUsage?: readonly string[];
  readonly subjectAltName?: SubjectAltName;
  readonly authorityKeyIdentifier?: Uint8Array;
  readonly subjectKeyIdentifier?: Uint8Array;
  /** OIDs of critical extensions we do not understand (RFC 5280 §4.2: such a certificate must be rejected). */
  readonly unknownCritical: readonly string[];
  readonly all: readonly RawExtension[];
}

export interface Certificate {
  readonly der: Uint8Array;
  /** The DER TBSCertificate: the bytes the issuer signed. */
  readonly tbsDer: Uint8Array;
  readonly version: 1 | 2 | 3;
  /** Serial number as lowercase hex of its magnitude, without leading zero bytes. */
  readonly serial: string;
  readonly issuer: Name;
  readonly subject: Name;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** DER SubjectPublicKeyInfo as it appears in the certificate. */
  readonly spki: Uint8Array;
  readonly publicKey: PublicKey;
  readonly signatureAlgorithm: SignatureAlgorithm;
  readonly signature: Uint8Array;
  readonly extensions: Extensions;
  /** SHA-256 of the DER SubjectPublicKeyInfo: the value openconnect pins as "pin-sha256:<base64>". */
  spkiSha256(): Uint8Array;
  /** "pin-sha256:<base64>", the form openconnect's --servercert takes. */
  pinSha256(): string;
}

/** Serial/INTEGER magnitude as hex without leading zero bytes (CAs sometimes pad with 00). */
export function serialHex(v: Uint8Array): string {
  let i = 0;
  while (i < v.length - 1 && v[i] === 0) i++;
  return toHex(v.subarray(i));
}

function formatIp(b: Uint8Array): string {
  // RFC 5280 §4.2.1.6: an iPAddress is 4 octets (IPv4) or 16 (IPv6), in network byte order.
  const text = formatIpBytes(b);
  if (text === null) throw new X509Error("bad-certificate", `iPAddress of ${b.length} bytes`);
  return text;
}

function parseSan(value: Uint8Array): SubjectAltName {
  const outer = DerReader.of(value);
  const r = outer.sequence("SubjectAltName");
  outer.end("SubjectAltName");
  const dnsNames: string[] = [];
  const emails: string[] = [];
  const ipAddresses: string[] = [];
  const uris: string[] = [];
  const ia5 = (v: Uint8Array) => decodeString({ tag: TAG.IA5_STRING, value: v, raw: v });
  while (!r.done) {
    const g = r.read();
    switch (g.tag) {
      case ctx(1, false):
        emails.push(ia5(g.value));
        break;
      case ctx(2, false):
        dnsNames.push(ia5(g.value));
        break;
      case ctx(6, false):
        uris.push(ia5(g.value));
        break;
      case ctx(7, false):
        ipAddresses.push(formatIp(g.value));
        break;
      default:
        break; // otherName, directoryName, ... are kept only in the raw extension
    }
  }
  return Object.freeze({ dnsNames: Object.freeze(dnsNames), emails: Object.freeze(emails), ipAddresses: Object.freeze(ipAddresses), uris: Object.freeze(uris) });
}

function parseKeyUsage(value: Uint8Array): ReadonlySet<KeyUsageName> {
  const r = DerReader.of(value);
  const { bytes } = r.bitString("KeyUsage");
  r.end("KeyUsage");
  const set = new Set<KeyUsageName>();
  for (const [name, bit] of Object.entries(KEY_USAGE_BITS) as [KeyUsageName, number][]) {
    const byte = bytes[bit >> 3];
    if (byte !== undefined && (byte & (0x80 >> (bit & 7))) !== 0) set.add(name);
  }
  return set;
}

export function parseExtensions(r: DerReader | undefined, context: "certificate" | "crl"): Extensions {
  const all: RawExtension[] = [];
  const unknownCritical: string[] = [];
  const ext: {
    basicConstraints?: { cA: boolean; pathLen?: number };
    keyUsage?: ReadonlySet<KeyUsageName>;
    extKeyUsage?: string[];
    subjectAltName?: SubjectAltName;
    authorityKeyIdentifier?: Uint8Array;
    subjectKeyIdentifier?: Uint8Array;
  } = {};
  const seen = new Set<string>();
  while (r !== undefined && !r.done) {
    const e = r.sequence("Extension");
    const oid = e.oid("extnID");
    const critical = e.peekTag() === TAG.BOOLEAN ? e.boolean("critical") : false;
    const value = e.octetString("extnValue");
    e.end("Extension");
    // RFC 5280 §4.2: a certificate must not include more than one instance of an extension.
    if (seen.has(oid)) throw new X509Error(context === "crl" ? "bad-crl" : "bad-certificate", `duplicate extension ${oid}`);
    seen.add(oid);
    all.push(Object.freeze({ oid, critical, value }));
    switch (oid) {
      case OID.basicConstraints: {
        const o = DerReader.of(value);
        const b = o.sequence("BasicConstraints");
        o.end("BasicConstraints");
        const cA = b.peekTag() === TAG.BOOLEAN ? b.boolean("cA") : false;
        const pathLen = b.peekTag() === TAG.INTEGER ? b.smallInt("pathLenConstraint") : undefined;
        b.end("BasicConstraints");
        ext.basicConstraints = Object.freeze(pathLen === undefined ? { cA } : { cA, pathLen });
        break;
      }
      case OID.keyUsage:
        ext.keyUsage = parseKeyUsage(value);
        break;
      case OID.extKeyUsage: {
        const o = DerReader.of(value);
        const s = o.sequence("ExtKeyUsageSyntax");
        o.end("ExtKeyUsageSyntax");
        const oids: string[] = [];
        while (!s.done) oids.push(s.oid("KeyPurposeId"));
        ext.extKeyUsage = oids;
        break;
      }
      case OID.subjectAltName:
        ext.subjectAltName = parseSan(value);
        break;
      case OID.subjectKeyIdentifier: {
        const o = DerReader.of(value);
        ext.subjectKeyIdentifier = o.octetString("SubjectKeyIdentifier").slice();
        o.end("SubjectKeyIdentifier");
        break;
      }
      case OID.authorityKeyIdentifier: {
        const o = DerReader.of(value);
        const a = o.sequence("AuthorityKeyIdentifier");
        o.end("AuthorityKeyIdentifier");
        const kid = a.optional(ctx(0, false));
        if (kid) ext.authorityKeyIdentifier = kid.value.slice();
        break; // authorityCertIssuer/serial are not used for path building here
      }
      case OID.crlNumber:
        if (context !== "crl" && critical) unknownCritical.push(oid);
        break;
      default:
        if (critical) unknownCritical.push(oid);
    }
  }
  return Object.freeze({
    ...ext,
    ...(ext.extKeyUsage ? { extKeyUsage: Object.freeze(ext.extKeyUsage) } : {}),
    unknownCritical: Object.freeze(unknownCritical),
    all: Object.freeze(all),
  });
}

const MAX_CERT_BYTES = 64 * 1024;

export function parseCertificate(der: Uint8Array): Certificate {
  if (der.length > MAX_CERT_BYTES) throw new X509Error("bad-certificate", "certificate larger than 64 KiB");
  const bytes = der.slice();
  const outer = DerReader.of(bytes);
  const cert = outer.sequence("Certificate");
  outer.end("Certificate");
  const tbsTlv = cert.expect(TAG.SEQUENCE, "TBSCertificate");
  const sigAlgTlvStart = cert.peekTag();
  if (sigAlgTlvStart !== TAG.SEQUENCE) throw new X509Error("bad-certificate", "missing signatureAlgorithm");
  const outerAlgReader = cert;
  // Keep the raw outer AlgorithmIdentifier to compare with the TBS one (RFC 5280 §4.1.1.2).
  const algTlv = outerAlgReader.read();
  const signatureAlgorithm = parseSignatureAlgorithm(DerReader.of(algTlv.raw));
  const signature = cert.bitStringBytes("signatureValue");
  cert.end("Certificate");

  const tbs = DerReader.of(tbsTlv.value);
  let version: 1 | 2 | 3 = 1;
  const v = tbs.optional(ctx(0, true));
  if (v) {
    const vr = DerReader.of(v.value);
    const n = vr.smallInt("version");
    vr.end("version");
    if (n > 2) throw new X509Error("bad-certificate", `unknown certificate version ${n + 1}`);
    version = (n + 1) as 1 | 2 | 3;
  }
  const serialBytes = tbs.integerBytes("serialNumber");
  if (serialBytes.length > 21) throw new X509Error("bad-certificate", "serial number longer than 20 octets"); // RFC 5280 §4.1.2.2
  const innerAlg = tbs.expect(TAG.SEQUENCE, "signature");
  if (!bytesEqual(innerAlg.raw, algTlv.raw)) throw new X509Error("bad-certificate", "signature algorithm differs between TBSCertificate and Certificate");
  const issuer = parseName(tbs);
  const validity = tbs.sequence("Validity");
  const notBefore = readTime(validity, "notBefore");
  const notAfter = readTime(validity, "notAfter");
  validity.end("Validity");
  const subject = parseName(tbs);
  const spkiTlv = tbs.expect(TAG.SEQUENCE, "SubjectPublicKeyInfo");
  const spki = spkiTlv.raw;
  tbs.optional(ctx(1, false)); // issuerUniqueID
  tbs.optional(ctx(2, false)); // subjectUniqueID
  const extTlv = tbs.optional(ctx(3, true));
  tbs.end("TBSCertificate");
  if (extTlv && version !== 3) throw new X509Error("bad-certificate", "extensions in a non-v3 certificate");
  let extReader: DerReader | undefined;
  if (extTlv) {
    const er = DerReader.of(extTlv.value);
    extReader = er.sequence("Extensions");
    er.end("Extensions");
  }
  const extensions = parseExtensions(extReader, "certificate");
  const publicKey = parsePublicKey(spki);
  const pinBytes = hash("sha256", spki);

  return Object.freeze({
    der: bytes,
    tbsDer: tbsTlv.raw,
    version,
    serial: serialHex(serialBytes),
    issuer,
    subject,
    notBefore,
    notAfter,
    spki,
    publicKey,
    signatureAlgorithm,
    signature,
    extensions,
    spkiSha256: () => pinBytes.slice(),
    pinSha256: () => `pin-sha256:${Buffer.from(pinBytes).toString("base64")}`,
  });
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** All certificates in PEM text ("CERTIFICATE" blocks, in order) or one DER certificate. */
export function loadCertificates(input: PemOrDer): Certificate[] {
  if (!isPemText(input)) return [parseCertificate(input as Uint8Array)];
  const certs = parsePem(pemText(input))
    .filter((b) => b.label === "CERTIFICATE" || b.label === "X509 CERTIFICATE")
    .map((b) => parseCertificate(b.der));
  if (certs.length === 0) throw new X509Error("bad-pem", "no CERTIFICATE block found");
  return certs;
}

/** Whether the certificate's notAfter falls within `days` days from `now`. */
export function certificateExpiresWithin(cert: Certificate, days: number, now: Date = new Date()): boolean {
  return cert.notAfter.getTime() - now.getTime() <= days * 86_400_000;
}
