// The closed set of TLS failures, and the one table that maps each to the alert we send
// (RFC 8446 §6.2, RFC 5246 §7.2.2). Handlers throw TlsError; only TlsServerConnection turns it into an
// alert record, so there is exactly one place that sends alerts.

export const AlertDescription = {
  close_notify: 0,
  unexpected_message: 10,
  bad_record_mac: 20,
  record_overflow: 22,
  handshake_failure: 40,
  bad_certificate: 42,
  unsupported_certificate: 43,
  certificate_revoked: 44,
  certificate_expired: 45,
  certificate_unknown: 46,
  illegal_parameter: 47,
  unknown_ca: 48,
  access_denied: 49,
  decode_error: 50,
  decrypt_error: 51,
  protocol_version: 70,
  insufficient_security: 71,
  internal_error: 80,
  inappropriate_fallback: 86,
  user_canceled: 90,
  no_renegotiation: 100,
  missing_extension: 109,
  unsupported_extension: 110,
  unrecognized_name: 112,
  certificate_required: 116,
} as const;
export type AlertDescription = keyof typeof AlertDescription;

const alertByCode = new Map<number, AlertDescription>(
  Object.entries(AlertDescription).map(([k, v]) => [v, k as AlertDescription]),
);
/** The alert name for a wire value, or null for a value we do not know (kept as a number by callers). */
export function alertName(code: number): AlertDescription | null {
  return alertByCode.get(code) ?? null;
}

export type TlsErrorCode =
  | "decode-failure" // a message or extension did not parse, or had trailing bytes
  | "unexpected-message" // a message or record type not allowed in the current state
  | "bad-record-mac" // record authentication (AEAD tag, CBC padding or HMAC) failed
  | "record-overflow" // a record longer than the protocol or the negotiated limit allows
  | "no-common-version" // the client offers no version our policy allows
  | "no-common-cipher-suite"
  | "no-common-group"
  | "no-usable-credentials" // no certificate/key fits the client's signature algorithms and suites
  | "missing-extension" // TLS 1.3 ClientHello without key_share/supported_groups/signature_algorithms
  | "illegal-parameter" // a well-formed value that is not allowed here
  | "bad-peer-key-share" // the client's ECDHE share is not a valid point
  | "incorrect-finished" // Finished verify_data differs (compared in constant time)
  | "incorrect-binder" // a resumption PSK binder differs (RFC 8446 §4.2.11)
  | "bad-certificate-verify" // the client's CertificateVerify signature does not verify
  | "bad-certificate" // the client's certificate cannot be parsed or has an unusable key
  | "certificate-required" // clientAuth "require" and the client sent no certificate
  | "certificate-rejected" // verifyClientChain refused the chain (alert chosen by the verifier)
  | "renegotiation-refused" // a ClientHello after the handshake (RFC 5746: we never renegotiate)
  | "insecure-renegotiation" // renegotiation_info present but not empty on an initial handshake
  | "unsupported-extension" // e.g. a cookie we never sent
  | "inappropriate-fallback" // RFC 7507: TLS_FALLBACK_SCSV from a client below our best version
  | "ems-resumption-mismatch" // RFC 7627 §5.3: an EMS session offered for resumption without EMS
  | "access-denied" // the application refused the peer after the handshake (ocserv: failed login or cookie)
  | "peer-alert" // the peer sent a fatal alert (nothing is sent back)
  | "internal";

const alertTable: Record<Exclude<TlsErrorCode, "peer-alert">, AlertDescription> = {
  "decode-failure": "decode_error",
  "unexpected-message": "unexpected_message",
  "bad-record-mac": "bad_record_mac",
  "record-overflow": "record_overflow",
  "no-common-version": "protocol_version",
  "no-common-cipher-suite": "handshake_failure",
  "no-common-group": "handshake_failure",
  "no-usable-credentials": "handshake_failure",
  "missing-extension": "missing_extension",
  "illegal-parameter": "illegal_parameter",
  "bad-peer-key-share": "illegal_parameter",
  "incorrect-finished": "decrypt_error",
  "incorrect-binder": "decrypt_error",
  "bad-certificate-verify": "decrypt_error",
  "bad-certificate": "bad_certificate",
  "certificate-required": "certificate_required",
  // the verifier picks the alert (bad_certificate, unknown_ca, certificate_expired, ...); this is the default
  "certificate-rejected": "bad_certificate",
  "renegotiation-refused": "no_renegotiation",
  "insecure-renegotiation": "handshake_failure",
  "unsupported-extension": "unsupported_extension",
  "ems-resumption-mismatch": "handshake_failure",
  "inappropriate-fallback": "inappropriate_fallback",
  "access-denied": "access_denied",
  internal: "internal_error",
};

export class TlsError extends Error {
  override readonly name = "TlsError";
  constructor(
    readonly code: TlsErrorCode,
    message: string,
    /** Only for "certificate-rejected" (the verifier's choice) and "peer-alert" (what the peer sent). */
    readonly alertOverride?: AlertDescription | number,
  ) {
    super(`${code}: ${message}`);
  }

  /** The alert to send for this error, or null when nothing must be sent (the peer already failed). */
  get alert(): AlertDescription | null {
    if (this.code === "peer-alert") return null;
    if (this.code === "certificate-rejected" && typeof this.alertOverride === "string") return this.alertOverride;
    return alertTable[this.code];
  }
}
