// Per-vhost TLS settings, built from the configuration at start and at each reload: the server
// certificate chains and keys (several pairs), the tls-priorities policy, the client-certificate
// request, and the client-chain verifier (ca-cert + crl). The TLS core picks the vhost's settings
// from SNI through `selectBySni`.

import { readFileSync } from "node:fs";
import type { Config, VhostConfig } from "../config/types.ts";
import type { PrivateKey } from "../crypto/types.ts";
import { parsePriorities, type AlertDescription, type ClientChainVerdict, type TlsCredentials, type TlsPolicy } from "../tls/index.ts";
import { loadCertificates, loadCrls, loadPrivateKey, parseCertificate, verifyChain, type Certificate, type Crl } from "../x509/index.ts";
import type { ChainErrorCode } from "../x509/verify.ts";

export interface VhostTls {
  readonly vhost: VhostConfig;
  readonly credentials: TlsCredentials[];
  readonly policy: TlsPolicy;
  readonly clientAuth: "none" | "request" | "require";
  readonly verifyClientChain: (chain: Uint8Array[]) => ClientChainVerdict;
  /** DER of the first server certificate (its SHA-1 goes into the webvpnc cookie). */
  readonly serverCertificate: Uint8Array;
}

export class VhostTlsError extends Error {
  override readonly name = "VhostTlsError";
}

/** One table from chain-verification failure to the TLS alert the client sees. */
const ALERT_FOR: Record<ChainErrorCode, AlertDescription> = {
  "unknown-ca": "unknown_ca",
  "bad-signature": "bad_certificate",
  expired: "certificate_expired",
  "not-yet-valid": "certificate_expired",
  revoked: "certificate_revoked",
  "not-a-ca": "bad_certificate",
  "bad-key-usage": "unsupported_certificate",
  "bad-ext-key-usage": "unsupported_certificate",
  "unsupported-critical-extension": "unsupported_certificate",
  "path-too-long": "unknown_ca",
  "crl-bad-signature": "certificate_unknown",
  "crl-expired": "certificate_unknown",
};

/** Reads a certificate, CA or CRL file; a privsep worker substitutes the bytes main sent it. */
export type FileReader = (path: string, what: string) => Uint8Array;

function readFile(path: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new VhostTlsError(`cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

/** A key wrapper point: private-key operations stay behind the PrivateKey interface (sec-mod spirit). */
export type KeyLoader = (path: string) => PrivateKey;

export const loadKeyFile: KeyLoader = (path) => {
  try {
    return loadPrivateKey(readFile(path, "server-key"));
  } catch (e) {
    if (e instanceof VhostTlsError) throw e;
    throw new VhostTlsError(`server-key ${path}: ${(e as Error).message}`);
  }
};

function buildVhost(vhost: VhostConfig, onRejected: (vhost: VhostConfig, reason: string) => void, now: () => Date, loadKey: KeyLoader, read: FileReader): VhostTls {
  const o = vhost.options;
  const credentials: TlsCredentials[] = o["server-cert"].map((certPath, i) => {
    const keyPath = o["server-key"][i]!;
    let chain: Certificate[];
    try {
      chain = loadCertificates(read(certPath, "server-cert"));
    } catch (e) {
      if (e instanceof VhostTlsError) throw e;
      throw new VhostTlsError(`server-cert ${certPath}: ${(e as Error).message}`);
    }
    if (chain.length === 0) throw new VhostTlsError(`server-cert ${certPath}: no certificate found`);
    return { chain: chain.map((c) => c.der), key: loadKey(keyPath) };
  });
  const prio = parsePriorities(o["tls-priorities"]);
  if (!prio.ok) throw new VhostTlsError(`tls-priorities: ${prio.error}`);

  let anchors: Certificate[] = [];
  if (o["ca-cert"] !== null) {
    try {
      anchors = loadCertificates(read(o["ca-cert"], "ca-cert"));
    } catch (e) {
      if (e instanceof VhostTlsError) throw e;
      throw new VhostTlsError(`ca-cert ${o["ca-cert"]}: ${(e as Error).message}`);
    }
  }
  let crls: Crl[] = [];
  if (o.crl !== null) {
    try {
      crls = loadCrls(read(o.crl, "crl"));
    } catch (e) {
      if (e instanceof VhostTlsError) throw e;
      throw new VhostTlsError(`crl ${o.crl}: ${(e as Error).message}`);
    }
  }
  const verifyClientChain = (der: Uint8Array[]): ClientChainVerdict => {
    if (anchors.length === 0) return { ok: false, alert: "unknown_ca" };
    let chain: Certificate[];
    try {
      chain = der.map((d) => parseCertificate(d));
    } catch {
      return { ok: false, alert: "bad_certificate" };
    }
    const r = verifyChain(chain, anchors, { now: now(), crls, purpose: "client" });
    if (r.ok) return { ok: true };
    onRejected(vhost, r.message);
    return { ok: false, alert: ALERT_FOR[r.code] };
  };
  return Object.freeze({
    vhost,
    credentials,
    policy: prio.policy,
    clientAuth: vhost.certRequest,
    verifyClientChain,
    serverCertificate: credentials[0]!.chain[0]!,
  });
}

/** Loads the TLS settings of every vhost; throws VhostTlsError naming the file or option at fault. */
export function loadVhostTls(
  config: Config,
  onRejected: (vhost: VhostConfig, reason: string) => void,
  now: () => Date = () => new Date(),
  loadKey: KeyLoader = loadKeyFile,
  read: FileReader = readFile,
): ReadonlyMap<string | null, VhostTls> {
  const out = new Map<string | null, VhostTls>();
  for (const v of [config.defaultVhost, ...config.vhosts]) out.set(v.name, buildVhost(v, onRejected, now, loadKey, read));
  return out;
}
