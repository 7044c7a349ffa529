// The public key of a peer's leaf certificate, for checking its CertificateVerify. Chain validation
// is the caller's (TlsServerConfig.verifyClientChain); this only needs the SubjectPublicKeyInfo.

import type { PublicKey } from "../crypto/types.ts";
import { parseCertificate } from "../x509/certificate.ts";

export function certificatePublicKey(der: Uint8Array): PublicKey {
  return parseCertificate(der).publicKey;
}
