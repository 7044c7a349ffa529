// Object identifiers used by the X.509 profile (RFC 5280, RFC 3279, RFC 4055, RFC 5480, RFC 8410).

export const OID = Object.freeze({
  // Public key algorithms
  rsaEncryption: "1.2.840.113549.1.1.1",
  rsassaPss: "1.2.840.113549.1.1.10",
  ecPublicKey: "1.2.840.10045.2.1",
  ed25519: "1.3.101.112",
  prime256v1: "1.2.840.10045.3.1.7",
  secp384r1: "1.3.132.0.34",
  secp521r1: "1.3.132.0.35",
  // Signature algorithms
  sha1WithRSA: "1.2.840.113549.1.1.5",
  sha256WithRSA: "1.2.840.113549.1.1.11",
  sha384WithRSA: "1.2.840.113549.1.1.12",
  sha512WithRSA: "1.2.840.113549.1.1.13",
  ecdsaWithSha1: "1.2.840.10045.4.1",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  ecdsaWithSha384: "1.2.840.10045.4.3.3",
  ecdsaWithSha512: "1.2.840.10045.4.3.4",
  mgf1: "1.2.840.113549.1.1.8",
  sha1: "1.3.14.3.2.26",
  sha256: "2.16.840.1.101.3.4.2.1",
  sha384: "2.16.840.1.101.3.4.2.2",
  sha512: "2.16.840.1.101.3.4.2.3",
  // Encrypted PKCS#8
  pbes2: "1.2.840.113549.1.5.13",
  // Extensions (RFC 5280 §4.2)
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  crlNumber: "2.5.29.20",
  crlReason: "2.5.29.21",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  // Extended key usages
  anyExtendedKeyUsage: "2.5.29.37.0",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  // Attribute types (RFC 4519)
  CN: "2.5.4.3",
  SN: "2.5.4.4",
  serialNumber: "2.5.4.5",
  C: "2.5.4.6",
  L: "2.5.4.7",
  ST: "2.5.4.8",
  STREET: "2.5.4.9",
  O: "2.5.4.10",
  OU: "2.5.4.11",
  title: "2.5.4.12",
  GN: "2.5.4.42",
  UID: "0.9.2342.19200300.100.1.1",
  DC: "0.9.2342.19200300.100.1.25",
  emailAddress: "1.2.840.113549.1.9.1",
});

/** Short names for DN strings (RFC 4514 §3 plus the common ones OpenSSL/GnuTLS print). */
export const ATTRIBUTE_NAMES: Readonly<Record<string, string>> = Object.freeze({
  [OID.CN]: "CN",
  [OID.SN]: "SN",
  [OID.serialNumber]: "serialNumber",
  [OID.C]: "C",
  [OID.L]: "L",
  [OID.ST]: "ST",
  [OID.STREET]: "STREET",
  [OID.O]: "O",
  [OID.OU]: "OU",
  [OID.title]: "title",
  [OID.GN]: "GN",
  [OID.UID]: "UID",
  [OID.DC]: "DC",
  [OID.emailAddress]: "EMAIL",
});
