// Certificate path validation for client (and server) certificates: a simplified RFC 5280 §6
// profile matching what ocserv gets from gnutls_x509_trust_list_verify_crt2 with CRLs loaded:
// signature chain to a configured CA, validity, basicConstraints (cA, pathLen), keyUsage,
// extKeyUsage, unknown critical extensions and revocation against CRLs signed by the issuer.
// Not implemented (listed in the report): name constraints, policy processing, OCSP.

import { verifySignature } from "./algorithms.ts";
import type { Certificate } from "./certificate.ts";
import type { Crl } from "./crl.ts";
import { OID } from "./oids.ts";

export type ChainErrorCode =
  | "unknown-ca"
  | "bad-signature"
  | "expired"
  | "not-yet-valid"
  | "revoked"
  | "not-a-ca"
  | "bad-key-usage"
  | "bad-ext-key-usage"
  | "unsupported-critical-extension"
  | "path-too-long"
  | "crl-bad-signature"
  | "crl-expired";

export type ChainResult =
  | { readonly ok: true; readonly path: readonly Certificate[] }
  | { readonly ok: false; readonly code: ChainErrorCode; readonly message: string };

export interface VerifyOptions {
  readonly now: Date;
  readonly crls?: readonly Crl[];
  readonly purpose: "client" | "server";
  /** Longest accepted path, leaf and anchor included (default 10). */
  readonly maxDepth?: number;
}

function fail(code: ChainErrorCode, message: string): ChainResult {
  return Object.freeze({ ok: false, code, message });
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function signedBy(cert: Certificate, issuer: Certificate): boolean {
  return verifySignature(issuer.publicKey, cert.signatureAlgorithm, cert.tbsDer, cert.signature);
}

/** Candidates whose subject matches the certificate's issuer, those whose SKI matches its AKI first. */
function candidates(cert: Certificate, pool: readonly Certificate[]): Certificate[] {
  const named = pool.filter((c) => c.subject.equals(cert.issuer));
  const aki = cert.extensions.authorityKeyIdentifier;
  if (aki === undefined) return named;
  const score = (c: Certificate) => {
    const ski = c.extensions.subjectKeyIdentifier;
    return ski !== undefined && bytesEqual(ski, aki) ? 0 : 1;
  };
  return [...named].sort((a, b) => score(a) - score(b));
}

type Built = { ok: true; path: Certificate[] } | { ok: false; code: ChainErrorCode; message: string };

/** Builds leaf → … → anchor from the presented chain and the anchors (greedy, signature-checked). */
function buildPath(chain: readonly Certificate[], anchors: readonly Certificate[], maxDepth: number): Built {
  const leaf = chain[0]!;
  const path: Certificate[] = [leaf];
  const used = new Set<Certificate>([leaf]);
  for (;;) {
    const current = path[path.length - 1]!;
    // A presented certificate that is itself a configured anchor ends the path.
    if (anchors.some((a) => bytesEqual(a.der, current.der))) return { ok: true, path };
    if (path.length >= maxDepth) return { ok: false, code: "path-too-long", message: `no trust anchor within ${maxDepth} certificates` };
    let sawName = false;
    const fromAnchors = candidates(current, anchors);
    sawName ||= fromAnchors.length > 0;
    const anchor = fromAnchors.find((a) => signedBy(current, a));
    if (anchor) {
      path.push(anchor);
      return { ok: true, path };
    }
    const fromChain = candidates(current, chain.filter((c) => !used.has(c)));
    sawName ||= fromChain.length > 0;
    const next = fromChain.find((c) => signedBy(current, c));
    if (next) {
      path.push(next);
      used.add(next);
      continue;
    }
    if (sawName) {
      return { ok: false, code: "bad-signature", message: `the signature on "${current.subject}" does not verify with the key of any issuer named "${current.issuer}"` };
    }
    return { ok: false, code: "unknown-ca", message: `"${current.subject}" is issued by "${current.issuer}", which is not a configured CA` };
  }
}

export function verifyChain(chain: readonly Certificate[], anchors: readonly Certificate[], opts: VerifyOptions): ChainResult {
  if (chain.length === 0) return fail("unknown-ca", "no certificate presented");
  const built = buildPath(chain, anchors, opts.maxDepth ?? 10);
  if (!built.ok) return fail(built.code, built.message);
  const path = built.path;
  const now = opts.now.getTime();
  const purposeOid = opts.purpose === "client" ? OID.clientAuth : OID.serverAuth;
  const last = path.length - 1;

  for (let i = 0; i <= last; i++) {
    const cert = path[i]!;
    const isAnchor = i === last; // buildPath only succeeds on reaching an anchor
    const name = `"${cert.subject}"`;
    // RFC 5280 §6.1.3 (a)(2); anchors too, as GnuTLS and OpenSSL do.
    if (now < cert.notBefore.getTime()) return fail("not-yet-valid", `${name} is not valid before ${cert.notBefore.toISOString()}`);
    if (now > cert.notAfter.getTime()) return fail("expired", `${name} expired on ${cert.notAfter.toISOString()}`);
    const ext = cert.extensions;
    if (!isAnchor && ext.unknownCritical.length > 0) {
      return fail("unsupported-critical-extension", `${name} has an unsupported critical extension ${ext.unknownCritical[0]}`);
    }
    if (i > 0) {
      // RFC 5280 §6.1.4 (k): intermediates must assert cA. A trust anchor without basicConstraints
      // (X.509 v1 roots) is accepted, one that says cA=false is not.
      const bc = ext.basicConstraints;
      const v1Anchor = isAnchor && bc === undefined && cert.version !== 3;
      if (!v1Anchor && bc?.cA !== true) return fail("not-a-ca", `${name} is not a CA certificate but issued "${path[i - 1]!.subject}"`);
      // §6.1.4 (n)
      if (ext.keyUsage !== undefined && !ext.keyUsage.has("keyCertSign")) {
        return fail("bad-key-usage", `${name} is not allowed to sign certificates (keyUsage lacks keyCertSign)`);
      }
      // §6.1.4 (m): pathLen counts the intermediates below this CA.
      if (bc?.pathLen !== undefined && i - 1 > bc.pathLen) {
        return fail("path-too-long", `${name} allows ${bc.pathLen} intermediate certificate(s) below it, the path has ${i - 1}`);
      }
    } else if (ext.keyUsage !== undefined) {
      // RFC 5280 §4.2.1.3: TLS authentication signs with the leaf key; a TLS 1.2 RSA key exchange
      // server key enciphers instead.
      const ok = ext.keyUsage.has("digitalSignature") || (opts.purpose === "server" && ext.keyUsage.has("keyEncipherment"));
      if (!ok) return fail("bad-key-usage", `${name} keyUsage does not allow digitalSignature`);
    }
    // RFC 5280 §4.2.1.12; applied to intermediates as well, as OpenSSL and GnuTLS do.
    const eku = ext.extKeyUsage;
    if (!isAnchor && eku !== undefined && !eku.includes(purposeOid) && !eku.includes(OID.anyExtendedKeyUsage)) {
      return fail("bad-ext-key-usage", `${name} extKeyUsage does not allow ${opts.purpose === "client" ? "clientAuth" : "serverAuth"}`);
    }
  }

  // Revocation: each non-anchor certificate against the CRLs its issuer signed (RFC 5280 §6.3).
  const crls = opts.crls ?? [];
  for (let i = 0; i < last; i++) {
    const cert = path[i]!;
    const issuer = path[i + 1]!;
    const named = crls.filter((c) => c.issuer.equals(cert.issuer));
    if (named.length === 0) continue;
    // RFC 5280 §6.3.3 (f): an issuer whose keyUsage lacks cRLSign cannot vouch for a CRL, even one
    // its key signed; such a CRL is as unusable as a forged one (fail closed, as for a bad signature).
    const ku = issuer.extensions.keyUsage;
    if (ku !== undefined && !ku.has("cRLSign")) {
      return fail("crl-bad-signature", `the CRL for "${cert.issuer}" is signed by a CA whose keyUsage lacks cRLSign`);
    }
    const valid = named.filter((c) => c.verify(issuer.publicKey));
    if (valid.length === 0) return fail("crl-bad-signature", `the CRL for "${cert.issuer}" is not signed by its CA`);
    for (const crl of valid) {
      if (crl.nextUpdate !== undefined && now > crl.nextUpdate.getTime()) {
        return fail("crl-expired", `the CRL for "${cert.issuer}" expired on ${crl.nextUpdate.toISOString()}`);
      }
      if (crl.revokedSerials.has(cert.serial)) return fail("revoked", `"${cert.subject}" (serial ${cert.serial}) is revoked`);
    }
  }
  return Object.freeze({ ok: true, path: Object.freeze(path) });
}
