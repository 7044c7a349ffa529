// One error type for PEM/DER/certificate/key/CRL parsing, with a closed set of codes.

export type X509ErrorCode =
  | "bad-pem" // malformed PEM armour or base64
  | "bad-der" // malformed DER (lengths, tags, trailing bytes)
  | "bad-certificate" // well-formed DER that is not a valid certificate
  | "bad-crl"
  | "bad-key" // malformed or inconsistent key
  | "encrypted-key" // encrypted PKCS#8 / PEM with Proc-Type: ENCRYPTED (not supported)
  | "unsupported-algorithm" // a key or signature algorithm we do not implement
  | "no-key" // no private key found in the input
  | "bad-input"; // bad arguments to a writer

export class X509Error extends Error {
  override readonly name = "X509Error";
  constructor(
    readonly code: X509ErrorCode,
    message: string,
  ) {
    super(message);
  }
}
