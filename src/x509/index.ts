// X.509 for the VPN server: PEM/DER, keys, certificates, CRLs, chain verification, identity
// extraction (cert-user-oid / cert-group-oid) and writing certificates and CRLs.
// Built on src/wire (bytes) and src/crypto (all key math); imports no crypto backend itself.

export { X509Error, type X509ErrorCode } from "./errors.ts";
export { parsePem, toPem, type PemBlock, type PemOrDer } from "./pem.ts";
export { loadPrivateKey, parsePublicKey, generateKey, type KeyKind } from "./keys.ts";
export { Name, type Attribute, type NameSpec } from "./name.ts";
export type { SignatureAlgorithm } from "./algorithms.ts";
export {
  parseCertificate,
  loadCertificates,
  certificateExpiresWithin,
  KEY_USAGE_BITS,
  type Certificate,
  type Extensions,
  type KeyUsageName,
  type RawExtension,
  type SubjectAltName,
} from "./certificate.ts";
export { parseCrl, loadCrls, type Crl, type RevokedEntry } from "./crl.ts";
export { verifyChain, type ChainErrorCode, type ChainResult, type VerifyOptions } from "./verify.ts";
export { userFromCertificate, groupsFromCertificate, keyMatchesCertificate } from "./identity.ts";
export { createCertificate, createCrl, parseIpAddress, type CertificateOptions, type CrlOptions } from "./create.ts";
