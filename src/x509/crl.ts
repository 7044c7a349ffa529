// Certificate revocation lists (RFC 5280 §5).

import type { PublicKey } from "../crypto/index.ts";
import { DerReader, TAG, ctx, readTime } from "./asn1.ts";
import { parseSignatureAlgorithm, verifySignature, type SignatureAlgorithm } from "./algorithms.ts";
import { parseExtensions, serialHex, type Extensions } from "./certificate.ts";
import { X509Error } from "./errors.ts";
import { parseName, type Name } from "./name.ts";
import { OID } from "./oids.ts";
import { isPemText, parsePem, pemText, type PemOrDer } from "./pem.ts";

export interface RevokedEntry {
  readonly serial: string;
  readonly revocationDate: Date;
}

export interface Crl {
  readonly der: Uint8Array;
  readonly tbsDer: Uint8Array;
  readonly issuer: Name;
  readonly thisUpdate: Date;
  readonly nextUpdate?: Date;
  readonly revoked: readonly RevokedEntry[];
  /** Serial hex (as Certificate.serial) → entry. */
  readonly revokedSerials: ReadonlySet<string>;
  /** cRLNumber (RFC 5280 §5.2.3) as hex, if present. */
  readonly crlNumber?: string;
  readonly signatureAlgorithm: SignatureAlgorithm;
  readonly signature: Uint8Array;
  readonly extensions: Extensions;
  /** Whether the CRL's signature verifies with the given issuer key. */
  verify(issuerKey: PublicKey): boolean;
}

const MAX_CRL_BYTES = 32 * 1024 * 1024;

export function parseCrl(der: Uint8Array): Crl {
  if (der.length > MAX_CRL_BYTES) throw new X509Error("bad-crl", "CRL larger than 32 MiB");
  const bytes = der.slice();
  const outer = DerReader.of(bytes);
  const list = outer.sequence("CertificateList");
  outer.end("CertificateList");
  const tbsTlv = list.expect(TAG.SEQUENCE, "TBSCertList");
  const algTlv = list.expect(TAG.SEQUENCE, "signatureAlgorithm");
  const signatureAlgorithm = parseSignatureAlgorithm(DerReader.of(algTlv.raw));
  const signature = list.bitStringBytes("signatureValue");
  list.end("CertificateList");

  const tbs = DerReader.of(tbsTlv.value);
  if (tbs.peekTag() === TAG.INTEGER) {
    const v = tbs.smallInt("version");
    if (v !== 1) throw new X509Error("bad-crl", `unknown CRL version ${v + 1}`);
  }
  const inner = tbs.expect(TAG.SEQUENCE, "signature");
  if (!bytesEqual(inner.raw, algTlv.raw)) throw new X509Error("bad-crl", "signature algorithm differs between TBSCertList and CertificateList");
  const issuer = parseName(tbs);
  const thisUpdate = readTime(tbs, "thisUpdate");
  const nt = tbs.peekTag();
  const nextUpdate = nt === TAG.UTC_TIME || nt === TAG.GENERALIZED_TIME ? readTime(tbs, "nextUpdate") : undefined;
  const revoked: RevokedEntry[] = [];
  if (tbs.peekTag() === TAG.SEQUENCE) {
    const rc = tbs.sequence("revokedCertificates");
    while (!rc.done) {
      const e = rc.sequence("revoked certificate");
      const serial = serialHex(e.integerBytes("userCertificate"));
      const revocationDate = readTime(e, "revocationDate");
      let entryExt: DerReader | undefined;
      if (!e.done) entryExt = e.sequence("crlEntryExtensions");
      e.end("revoked certificate");
      const ee = parseExtensions(entryExt, "crl");
      // RFC 5280 §5.3: an unknown critical entry extension (e.g. certificateIssuer for indirect
      // CRLs) changes the entry's meaning; we cannot honour it.
      const unknown = ee.unknownCritical.filter((o) => o !== OID.crlReason);
      if (unknown.length > 0) throw new X509Error("bad-crl", `unsupported critical CRL entry extension ${unknown[0]}`);
      revoked.push(Object.freeze({ serial, revocationDate }));
    }
  }
  let extReader: DerReader | undefined;
  const extTlv = tbs.optional(ctx(0, true));
  if (extTlv) {
    const er = DerReader.of(extTlv.value);
    extReader = er.sequence("crlExtensions");
    er.end("crlExtensions");
  }
  tbs.end("TBSCertList");
  const extensions = parseExtensions(extReader, "crl");
  let crlNumber: string | undefined;
  const num = extensions.all.find((e) => e.oid === OID.crlNumber);
  if (num) {
    const nr = DerReader.of(num.value);
    crlNumber = serialHex(nr.integerBytes("CRLNumber"));
    nr.end("CRLNumber");
  }
  const tbsDer = tbsTlv.raw;
  return Object.freeze({
    der: bytes,
    tbsDer,
    issuer,
    thisUpdate,
    ...(nextUpdate ? { nextUpdate } : {}),
    revoked: Object.freeze(revoked),
    revokedSerials: new Set(revoked.map((r) => r.serial)),
    ...(crlNumber !== undefined ? { crlNumber } : {}),
    signatureAlgorithm,
    signature,
    extensions,
    verify: (issuerKey: PublicKey) => verifySignature(issuerKey, signatureAlgorithm, tbsDer, signature),
  });
}

/** All CRLs in PEM text ("X509 CRL" blocks) or one DER CRL. */
export function loadCrls(input: PemOrDer): Crl[] {
  if (!isPemText(input)) return [parseCrl(input as Uint8Array)];
  const crls = parsePem(pemText(input))
    .filter((b) => b.label === "X509 CRL")
    .map((b) => parseCrl(b.der));
  if (crls.length === 0) throw new X509Error("bad-pem", "no X509 CRL block found");
  return crls;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
