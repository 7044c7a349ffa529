// User and group names from a client certificate, as ocserv's cert-user-oid / cert-group-oid
// (src/worker-auth.c get_cert_names): the first subject DN value of the OID is the user name, or
// the first rfc822Name SAN with "SAN(rfc822name)"; groups are all values of the group OID.

import { samePublicKey, type PrivateKey } from "../crypto/index.ts";
import type { Certificate } from "./certificate.ts";
import { X509Error } from "./errors.ts";

const SAN_EMAIL = "san(rfc822name)";

function checkOid(oid: string): void {
  if (!/^\d+(\.\d+)+$/.test(oid)) throw new X509Error("bad-input", `"${oid}" is not a dotted OID`);
}

/** The user name under cert-user-oid, or null when the certificate does not carry one. */
export function userFromCertificate(cert: Certificate, oid: string): string | null {
  if (oid.toLowerCase() === SAN_EMAIL) return cert.extensions.subjectAltName?.emails[0] ?? null;
  checkOid(oid);
  return cert.subject.first(oid) ?? null;
}

/** Every value of the cert-group-oid attribute across the subject's RDNs, in order. */
export function groupsFromCertificate(cert: Certificate, oid: string): string[] {
  checkOid(oid);
  return cert.subject.values(oid);
}

/** Whether the private key is the one certified (ocserv refuses mismatched server-cert/server-key). */
export function keyMatchesCertificate(key: PrivateKey, cert: Certificate): boolean {
  return samePublicKey(key.publicKey, cert.publicKey);
}
