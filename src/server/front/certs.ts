// The client certificate's identity for the auth backend (ocserv worker-auth.c get_cert_names):
// the user from cert-user-oid (a DN attribute, or SAN(rfc822name)), the groups from cert-group-oid.
// The chain was verified during the TLS handshake; this only reads names out of the leaf.

import type { VhostConfig } from "../../config/types.ts";
import type { CertIdentity } from "../../auth/types.ts";
import { groupsFromCertificate, parseCertificate, userFromCertificate } from "../../x509/index.ts";

/** Null when there is no leaf, it does not parse, cert-user-oid is unset, or the leaf has no user. */
export function certificateIdentity(vhost: VhostConfig, chain: readonly Uint8Array[]): CertIdentity | null {
  const leaf = chain[0];
  const userOid = vhost.options["cert-user-oid"];
  if (leaf === undefined || userOid === null) return null;
  try {
    const cert = parseCertificate(leaf);
    const user = userFromCertificate(cert, userOid);
    if (user === null || user === "") return null;
    const groupOid = vhost.options["cert-group-oid"];
    const groups = groupOid === null ? [] : groupsFromCertificate(cert, groupOid);
    return Object.freeze({ user, groups: Object.freeze([...groups]) });
  } catch {
    // ocserv answers "Could not read certificate"; the backend sees no certificate and says so.
    return null;
  }
}
