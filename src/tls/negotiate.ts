// Negotiation choices shared by both versions: cipher suite, credentials and signature scheme, the
// schemes we accept from clients, the client's certificate chain, and GnuTLS-style descriptions.

import { signatureSchemeInfo } from "../crypto/index.ts";
import type { NamedGroup, PrivateKey, PublicKey, SignatureScheme } from "../crypto/types.ts";
import { schemeId, type ClientHello } from "./codec.ts";
import { TlsError } from "./errors.ts";
import { certificatePublicKey } from "./peer-key.ts";
import type { TlsPolicy } from "./priorities.ts";
import type { EffectiveConfig, PeerChain, TlsCredentials } from "./state.ts";
import { suiteById, type CipherSuite } from "./suites.ts";

export function chooseSuite(ch: ClientHello, policy: TlsPolicy, usable: (c: CipherSuite) => boolean): CipherSuite {
  const ours = policy.cipherSuites.map((id) => suiteById(id)).filter((c): c is CipherSuite => c !== null && usable(c));
  if (policy.serverPrecedence) {
    for (const c of ours) if (ch.cipherSuites.includes(c.id)) return c;
  } else {
    for (const id of ch.cipherSuites) {
      const c = ours.find((x) => x.id === id);
      if (c !== undefined) return c;
    }
  }
  throw new TlsError("no-common-cipher-suite", "no cipher suite in common");
}

/** The credentials and scheme to sign with: the first pair (config order) with a scheme the client accepts. */
export function chooseCredentials(
  creds: readonly TlsCredentials[],
  clientSchemes: readonly number[],
  policy: TlsPolicy,
  allowed: (scheme: SignatureScheme, key: PrivateKey) => boolean,
): { cred: TlsCredentials; scheme: SignatureScheme } | null {
  for (const cred of creds) {
    for (const scheme of cred.key.schemes) {
      if (!policy.signatureSchemes.includes(scheme)) continue;
      if (!clientSchemes.includes(schemeId(scheme))) continue;
      if (!allowed(scheme, cred.key)) continue;
      return { cred, scheme };
    }
  }
  return null;
}

/** Schemes we can verify a client signature with, for CertificateRequest. */
export function clientSchemes(policy: TlsPolicy, tls13: boolean): SignatureScheme[] {
  return policy.signatureSchemes.filter((s) => {
    const k = signatureSchemeInfo(s).kind;
    // we verify with the client's leaf key: no PSS-only keys, and no P-521 (not a KeyType we parse)
    if (!tls13) return k !== "rsa-pss-pss" && s !== "ecdsa_secp521r1_sha512";
    return k === "rsa-pss-rsae" || k === "ecdsa" || k === "ed25519" ? !s.endsWith("sha1") && s !== "ecdsa_secp521r1_sha512" : false;
  });
}

export function acceptPeerChain(cfg: EffectiveConfig, chain: Uint8Array[]): PeerChain {
  let key: PublicKey;
  try {
    key = certificatePublicKey(chain[0]!);
  } catch (e) {
    throw new TlsError("bad-certificate", `client certificate: ${(e as Error).message}`);
  }
  const verdict = cfg.verifyClientChain?.(chain) ?? { ok: true };
  if (!verdict.ok) throw new TlsError("certificate-rejected", "client certificate chain rejected", verdict.alert);
  return { chain, key };
}

/**
 * The client chain of a session offered for resumption (TLS 1.2 session ID or TLS 1.3 ticket), run
 * through the current verifier again: a CA, CRL or vhost change since the full handshake applies to
 * resumption too, so a chain that no longer verifies never comes back as an authenticated identity.
 * `{ peer: null }`: the session had no client certificate; `null`: do not resume (full handshake).
 */
export function revalidatePeerChain(cfg: EffectiveConfig, chain: readonly Uint8Array[]): { peer: PeerChain | null } | null {
  if (chain.length === 0) return { peer: null };
  try {
    return { peer: acceptPeerChain(cfg, [...chain]) };
  } catch {
    // a rejected or unparsable chain, or a verifier that failed: the session is simply not resumable
    return null;
  }
}


const GNUTLS_GROUP: Record<NamedGroup, string> = { x25519: "X25519", secp256r1: "SECP256R1", secp384r1: "SECP384R1" };

/** GnuTLS's name for a signature scheme (the 1.2 ECDSA code points name only the hash). */
function gnutlsSignName(s: SignatureScheme, version: "TLS1.2" | "TLS1.3"): string {
  const info = signatureSchemeInfo(s);
  const h = s.slice(s.lastIndexOf("_") + 1).toUpperCase();
  switch (info.kind) {
    case "rsa-pkcs1":
      return `RSA-${h}`;
    case "rsa-pss-rsae":
      return `RSA-PSS-RSAE-${h}`;
    case "rsa-pss-pss":
      return `RSA-PSS-${h}`;
    case "ecdsa":
      if (version === "TLS1.2" || info.curve === null) return `ECDSA-${h}`;
      return `ECDSA-${info.curve === "ecdsa-p256" ? "SECP256R1" : info.curve === "ecdsa-p384" ? "SECP384R1" : "SECP521R1"}-${h}`;
    case "ed25519":
      return "EdDSA-Ed25519";
    default: {
      const never: never = info;
      return never;
    }
  }
}

/** gnutls_session_get_desc() format, e.g. "(TLS1.3-X.509)-(ECDHE-X25519)-(RSA-PSS-RSAE-SHA256)-(AES-256-GCM)". */
export function describe(version: "TLS1.2" | "TLS1.3", suite: CipherSuite, group: NamedGroup | undefined, scheme: SignatureScheme | undefined): string {
  const parts = [`(${version}-X.509)`];
  parts.push(suite.kx === "rsa" ? "(RSA)" : `(ECDHE-${group !== undefined ? GNUTLS_GROUP[group] : "UNKNOWN"})`);
  if (scheme !== undefined) parts.push(`(${gnutlsSignName(scheme, version)})`);
  parts.push(`(${suite.cipher.toUpperCase()})`);
  if (suite.mac !== null) parts.push(`(${suite.mac.toUpperCase()})`);
  return parts.join("-");
}
