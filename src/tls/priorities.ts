// GnuTLS priority strings (ocserv `tls-priorities`, gnutls_priority_init(3)) mapped onto what we
// implement. A keyword starts the list (NORMAL, PERFORMANCE, SECURE128, ...); then "+X" adds, "-X" or
// "!X" removes, "%FLAG" sets a flag. Removing something we never implement is accepted; adding it is
// accepted too (GnuTLS also silently skips what the other side lacks) but has no effect. A token we do
// not recognise at all is an error naming it, so typos in a config do not silently weaken it.

import type { NamedGroup, SignatureScheme } from "../crypto/types.ts";
import { CIPHER_SUITES, type BulkCipher, type KeyExchange } from "./suites.ts";

export type TlsVersion = "TLS1.2" | "TLS1.3";

export interface TlsPolicy {
  /** Enabled versions, best first. */
  readonly versions: readonly TlsVersion[];
  /** Enabled cipher suite ids in preference order. */
  readonly cipherSuites: readonly number[];
  readonly groups: readonly NamedGroup[];
  readonly signatureSchemes: readonly SignatureScheme[];
  /** %SERVER_PRECEDENCE: our suite order wins over the client's. */
  readonly serverPrecedence: boolean;
  /** False with %NO_TICKETS: no TLS 1.3 session tickets are issued or accepted. */
  readonly sessionTickets: boolean;
  /** %NO_SESSION_HASH disables RFC 7627 extended master secret. */
  readonly extendedMasterSecret: boolean;
  /** %DISABLE_SAFE_RENEGOTIATION: do not send renegotiation_info (RFC 5746). */
  readonly safeRenegotiation: boolean;
}

type Mac = "SHA1" | "SHA256" | "SHA384" | "AEAD";

const IMPLEMENTED_CIPHERS = ["AES-256-GCM", "AES-128-GCM", "AES-256-CBC", "AES-128-CBC"] as const;
const OTHER_CIPHERS = [
  "AES-128-CCM", "AES-256-CCM", "AES-128-CCM-8", "AES-256-CCM-8", "CHACHA20-POLY1305", "CAMELLIA-128-GCM",
  "CAMELLIA-256-GCM", "CAMELLIA-128-CBC", "CAMELLIA-256-CBC", "3DES-CBC", "ARCFOUR-128", "ARCFOUR-40", "ARCFOUR",
  "NULL", "AES-192-CBC", "GOST28147-TC26Z-CNT", "GOST28147-CPA-CFB", "RC2-40", "DES-CBC", "AES-128-SIV", "AES-256-SIV",
  "AES-192-GCM",
];
const IMPLEMENTED_MACS: readonly Mac[] = ["AEAD", "SHA1", "SHA256", "SHA384"];
const OTHER_MACS = ["MD5", "SHA512", "UMAC-96", "UMAC-128", "GOST28147-TC26Z-IMIT", "STREEBOG-256", "STREEBOG-512", "SHA224"];
const IMPLEMENTED_KX: readonly KeyExchange[] = ["ecdhe-ecdsa", "ecdhe-rsa", "rsa"];
const KX_NAMES: Record<string, KeyExchange> = { "ECDHE-ECDSA": "ecdhe-ecdsa", "ECDHE-RSA": "ecdhe-rsa", RSA: "rsa" };
const OTHER_KX = [
  "DHE-RSA", "DHE-DSS", "PSK", "DHE-PSK", "ECDHE-PSK", "RSA-PSK", "ANON-DH", "ANON-ECDH", "SRP", "SRP-RSA", "SRP-DSS",
  "RSA-EXPORT", "VKO-GOST-12",
];
const GROUP_NAMES: Record<string, NamedGroup> = { X25519: "x25519", SECP256R1: "secp256r1", SECP384R1: "secp384r1" };
const OTHER_GROUPS = ["SECP521R1", "SECP192R1", "SECP224R1", "X448", "FFDHE2048", "FFDHE3072", "FFDHE4096", "FFDHE6144", "FFDHE8192", "GC256B", "GC512A"];
const SIGN_NAMES: Record<string, SignatureScheme[]> = {
  "RSA-SHA1": ["rsa_pkcs1_sha1"],
  "RSA-SHA256": ["rsa_pkcs1_sha256"],
  "RSA-SHA384": ["rsa_pkcs1_sha384"],
  "RSA-SHA512": ["rsa_pkcs1_sha512"],
  "RSA-PSS-SHA256": ["rsa_pss_pss_sha256", "rsa_pss_rsae_sha256"],
  "RSA-PSS-SHA384": ["rsa_pss_pss_sha384", "rsa_pss_rsae_sha384"],
  "RSA-PSS-SHA512": ["rsa_pss_pss_sha512", "rsa_pss_rsae_sha512"],
  "RSA-PSS-RSAE-SHA256": ["rsa_pss_rsae_sha256"],
  "RSA-PSS-RSAE-SHA384": ["rsa_pss_rsae_sha384"],
  "RSA-PSS-RSAE-SHA512": ["rsa_pss_rsae_sha512"],
  "ECDSA-SHA1": ["ecdsa_sha1"],
  "ECDSA-SHA256": ["ecdsa_secp256r1_sha256"],
  "ECDSA-SHA384": ["ecdsa_secp384r1_sha384"],
  "ECDSA-SHA512": ["ecdsa_secp521r1_sha512"],
  "ECDSA-SECP256R1-SHA256": ["ecdsa_secp256r1_sha256"],
  "ECDSA-SECP384R1-SHA384": ["ecdsa_secp384r1_sha384"],
  "ECDSA-SECP521R1-SHA512": ["ecdsa_secp521r1_sha512"],
  "EDDSA-ED25519": ["ed25519"],
};
const OTHER_SIGNS = [
  "RSA-MD5", "RSA-SHA224", "RSA-RMD160", "DSA-SHA1", "DSA-SHA224", "DSA-SHA256", "DSA-SHA384", "DSA-SHA512", "ECDSA-SHA224",
  "EDDSA-ED448", "GOSTR341001", "GOSTR341012-256", "GOSTR341012-512", "RSA-SHA3-224", "RSA-SHA3-256", "RSA-SHA3-384",
  "RSA-SHA3-512", "ECDSA-SHA3-224", "ECDSA-SHA3-256", "ECDSA-SHA3-384", "ECDSA-SHA3-512", "DSA-SHA3-224", "DSA-SHA3-256",
  "DSA-SHA3-384", "DSA-SHA3-512",
];
const ALL_SIGNS: readonly SignatureScheme[] = [
  "rsa_pss_rsae_sha256", "rsa_pss_rsae_sha384", "rsa_pss_rsae_sha512", "rsa_pss_pss_sha256", "rsa_pss_pss_sha384",
  "rsa_pss_pss_sha512", "ecdsa_secp256r1_sha256", "ecdsa_secp384r1_sha384", "ecdsa_secp521r1_sha512", "ed25519",
  "rsa_pkcs1_sha256", "rsa_pkcs1_sha384", "rsa_pkcs1_sha512", "rsa_pkcs1_sha1", "ecdsa_sha1",
];
const FLAGS = new Set([
  "COMPAT", "DUMBFW", "NO_EXTENSIONS", "NO_TICKETS", "NO_TICKETS_TLS12", "NO_SESSION_HASH", "SERVER_PRECEDENCE",
  "SSL3_RECORD_VERSION", "LATEST_RECORD_VERSION", "STATELESS_COMPRESSION", "NO_ETM", "FORCE_ETM",
  "DISABLE_SAFE_RENEGOTIATION", "UNSAFE_RENEGOTIATION", "PARTIAL_RENEGOTIATION", "SAFE_RENEGOTIATION",
  "DISABLE_WILDCARDS", "VERIFY_ALLOW_SIGN_RSA_MD5", "VERIFY_ALLOW_X509_V1_CA_CRT", "VERIFY_DISABLE_CRL_CHECKS",
  "VERIFY_ALLOW_BROKEN", "VERIFY_ALLOW_SIGN_WITH_SHA1", "NO_STATUS_REQUEST", "ALLOW_SMALL_RECORDS", "FALLBACK_SCSV",
  "NEW_PADDING", "DEBUG_ALLOW_KEY_USAGE_VIOLATIONS", "NO_SHUFFLE_EXTENSIONS", "FORCE_ETM", "PROFILE_LOW",
  "PROFILE_LEGACY", "PROFILE_MEDIUM", "PROFILE_HIGH", "PROFILE_ULTRA", "PROFILE_FUTURE", "PROFILE_SUITEB128",
  "PROFILE_SUITEB192", "PROFILE_VERY_WEAK",
]);

interface Draft {
  versions: TlsVersion[];
  ciphers: string[];
  macs: Mac[];
  kx: KeyExchange[];
  groups: NamedGroup[];
  signs: SignatureScheme[];
  flags: Set<string>;
}

function keyword(k: string): Draft | null {
  const base = (): Draft => ({
    versions: ["TLS1.3", "TLS1.2"],
    ciphers: ["AES-256-GCM", "AES-128-GCM", "AES-256-CBC", "AES-128-CBC"],
    macs: ["AEAD", "SHA1"],
    kx: ["ecdhe-ecdsa", "ecdhe-rsa", "rsa"],
    groups: ["x25519", "secp256r1", "secp384r1"],
    signs: [...ALL_SIGNS],
    flags: new Set(),
  });
  switch (k) {
    case "NORMAL":
    case "LEGACY":
    case "SECURE128":
    case "SECURE":
      return base();
    case "PERFORMANCE":
      return { ...base(), ciphers: ["AES-128-GCM", "AES-256-GCM", "AES-128-CBC", "AES-256-CBC"] };
    case "PFS":
      return { ...base(), kx: ["ecdhe-ecdsa", "ecdhe-rsa"] };
    case "SECURE192":
    case "SECURE256":
      // 192-bit security: 256-bit ciphers, P-384, SHA-384 or stronger signatures
      return {
        ...base(),
        ciphers: ["AES-256-GCM", "AES-256-CBC"],
        macs: ["AEAD", "SHA1", "SHA384"],
        groups: ["secp384r1"],
        signs: ALL_SIGNS.filter((s) => /384|512|ed25519/.test(s)),
      };
    case "SUITEB128":
      return { ...base(), ciphers: ["AES-128-GCM", "AES-256-GCM"], kx: ["ecdhe-ecdsa"], groups: ["secp256r1", "secp384r1"], signs: ["ecdsa_secp256r1_sha256", "ecdsa_secp384r1_sha384"] };
    case "SUITEB192":
      return { ...base(), ciphers: ["AES-256-GCM"], kx: ["ecdhe-ecdsa"], groups: ["secp384r1"], signs: ["ecdsa_secp384r1_sha384"] };
    case "NONE":
      return { versions: [], ciphers: [], macs: [], kx: [], groups: [], signs: [], flags: new Set() };
    default:
      return null;
  }
}

function edit<T>(list: T[], items: readonly T[], add: boolean): void {
  for (const it of items) {
    const i = list.indexOf(it);
    if (add && i < 0) list.push(it);
    if (!add && i >= 0) list.splice(i, 1);
  }
}

/** Parses a GnuTLS priority string into a frozen policy, or names the first token not understood. */
export function parsePriorities(s: string): { ok: true; policy: TlsPolicy } | { ok: false; error: string } {
  const tokens = s.trim().split(":").map((t) => t.trim());
  const first = tokens.shift() ?? "";
  if (first.startsWith("@")) return { ok: false, error: `system priority "${first}" is not supported` };
  const d = keyword(first.toUpperCase());
  if (d === null) return { ok: false, error: `unknown priority keyword "${first}"` };
  for (const tok of tokens) {
    if (tok === "") continue;
    const op = tok[0]!;
    const name = tok.slice(1).toUpperCase();
    if (op === "%") {
      if (!FLAGS.has(name)) return { ok: false, error: `unknown priority flag "${tok}"` };
      d.flags.add(name);
      continue;
    }
    if (op !== "+" && op !== "-" && op !== "!") {
      // GnuTLS allows a second keyword only at the start; anything else is malformed
      return { ok: false, error: `priority token "${tok}" must start with +, -, ! or %` };
    }
    const add = op === "+";
    if (!applyToken(d, name, add)) return { ok: false, error: `unknown priority token "${tok}"` };
  }
  const enabled: TlsVersion[] = (["TLS1.3", "TLS1.2"] as const).filter((v) => d.versions.includes(v));
  const suites: number[] = [];
  for (const v of enabled) {
    for (const cipher of d.ciphers) {
      const bulk = cipher.toLowerCase() as BulkCipher;
      for (const c of CIPHER_SUITES) {
        if (c.version !== v || c.cipher !== bulk) continue;
        if (v === "TLS1.2") {
          if (!d.kx.includes(c.kx)) continue;
          const mac: Mac = c.mac === null ? "AEAD" : c.mac === "sha1" ? "SHA1" : c.mac === "sha256" ? "SHA256" : "SHA384";
          if (!d.macs.includes(mac)) continue;
        }
        suites.push(c.id);
      }
    }
  }
  // TLS 1.2 order: by cipher, then key exchange in the policy's order (ECDHE before RSA by default)
  const kxRank = (id: number): number => {
    const c = CIPHER_SUITES.find((x) => x.id === id)!;
    return c.version === "TLS1.3" ? -1 : d.kx.indexOf(c.kx);
  };
  const cipherRank = (id: number): number => d.ciphers.indexOf(CIPHER_SUITES.find((x) => x.id === id)!.cipher.toUpperCase());
  const versionRank = (id: number): number => (CIPHER_SUITES.find((x) => x.id === id)!.version === "TLS1.3" ? 0 : 1);
  suites.sort((a, b) => versionRank(a) - versionRank(b) || kxRank(a) - kxRank(b) || cipherRank(a) - cipherRank(b));
  // A version with nothing to negotiate is not offered (e.g. NONE:+VERS-TLS-ALL:+RSA:+SHA1:+AES-256-CBC
  // enables no TLS 1.3 suite; choosing 1.3 for such a client would only end in handshake_failure).
  const versions = enabled.filter((v) =>
    suites.some((id) => CIPHER_SUITES.find((c) => c.id === id)!.version === v) && (v === "TLS1.2" || d.groups.length > 0),
  );
  if (versions.length === 0) return { ok: false, error: `priority string "${s}" enables no TLS version we implement (TLS1.2, TLS1.3)` };
  if (suites.length === 0) return { ok: false, error: `priority string "${s}" enables no cipher suite we implement` };
  const policy: TlsPolicy = Object.freeze({
    versions: Object.freeze(versions),
    cipherSuites: Object.freeze(suites),
    groups: Object.freeze([...d.groups]),
    signatureSchemes: Object.freeze([...d.signs]),
    serverPrecedence: d.flags.has("SERVER_PRECEDENCE"),
    sessionTickets: !d.flags.has("NO_TICKETS"),
    extendedMasterSecret: !d.flags.has("NO_SESSION_HASH"),
    safeRenegotiation: !d.flags.has("DISABLE_SAFE_RENEGOTIATION"),
  });
  return { ok: true, policy };
}

function applyToken(d: Draft, name: string, add: boolean): boolean {
  // GnuTLS allows a further keyword as an addition, e.g. "SECURE256:+SECURE128"
  const kw = name !== "NONE" ? keyword(name) : null;
  if (kw !== null) {
    if (!add) return false;
    edit(d.versions, kw.versions, true);
    edit(d.ciphers, kw.ciphers, true);
    edit(d.macs, kw.macs, true);
    edit(d.kx, kw.kx, true);
    edit(d.groups, kw.groups, true);
    edit(d.signs, kw.signs, true);
    return true;
  }
  // versions
  if (name === "VERS-ALL" || name === "VERS-TLS-ALL") return edit(d.versions, ["TLS1.3", "TLS1.2"], add), true;
  if (name === "VERS-TLS1.3") return edit(d.versions, ["TLS1.3"], add), true;
  if (name === "VERS-TLS1.2") return edit(d.versions, ["TLS1.2"], add), true;
  if (["VERS-TLS1.1", "VERS-TLS1.0", "VERS-SSL3.0", "VERS-DTLS-ALL", "VERS-DTLS1.0", "VERS-DTLS1.2", "VERS-DTLS0.9"].includes(name))
    return true; // not TLS versions we speak over TCP (DTLS is configured separately)
  // ciphers
  if (name === "CIPHER-ALL") return edit(d.ciphers, IMPLEMENTED_CIPHERS, add), true;
  if ((IMPLEMENTED_CIPHERS as readonly string[]).includes(name)) return edit(d.ciphers, [name], add), true;
  if (OTHER_CIPHERS.includes(name)) return true;
  // MACs
  if (name === "MAC-ALL") return edit(d.macs, IMPLEMENTED_MACS, add), true;
  if ((IMPLEMENTED_MACS as readonly string[]).includes(name)) return edit(d.macs, [name as Mac], add), true;
  if (OTHER_MACS.includes(name)) return true;
  // key exchange
  if (name === "KX-ALL") return edit(d.kx, IMPLEMENTED_KX, add), true;
  const kx = KX_NAMES[name];
  if (kx !== undefined) return edit(d.kx, [kx], add), true;
  if (OTHER_KX.includes(name)) return true;
  // groups (CURVE-* is the older spelling of GROUP-*)
  if (name === "GROUP-ALL" || name === "CURVE-ALL" || name === "GROUP-EC-ALL")
    return edit(d.groups, ["x25519", "secp256r1", "secp384r1"], add), true;
  if (name === "GROUP-DH-ALL" || name === "GROUP-GOST-ALL") return true;
  const g = name.replace(/^(GROUP|CURVE)-/, "");
  if (g !== name) {
    const ng = GROUP_NAMES[g];
    if (ng !== undefined) return edit(d.groups, [ng], add), true;
    return OTHER_GROUPS.includes(g);
  }
  // signatures
  if (name === "SIGN-ALL") return edit(d.signs, ALL_SIGNS, add), true;
  if (name.startsWith("SIGN-")) {
    const sn = name.slice(5);
    const ss = SIGN_NAMES[sn];
    if (ss !== undefined) return edit(d.signs, ss, add), true;
    return OTHER_SIGNS.includes(sn);
  }
  // compression and certificate types: we only do NULL compression and X.509
  if (name.startsWith("COMP-") || name.startsWith("CTYPE-")) return true;
  return false;
}
