import { describe, expect, test } from "bun:test";
import { parsePriorities, type TlsPolicy } from "../../src/tls/index.ts";
import { suiteById } from "../../src/tls/suites.ts";

function ok(s: string): TlsPolicy {
  const r = parsePriorities(s);
  if (!r.ok) throw new Error(r.error);
  return r.policy;
}
const names = (p: TlsPolicy): string[] => p.cipherSuites.map((id) => suiteById(id)!.name);

describe("parsePriorities", () => {
  test("NORMAL enables TLS 1.3 and 1.2 with AEAD first, ECDHE before RSA key exchange, and no SHA-256 CBC", () => {
    const p = ok("NORMAL");
    expect(p.versions).toEqual(["TLS1.3", "TLS1.2"]);
    const n = names(p);
    expect(n.slice(0, 2)).toEqual(["TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256"]);
    expect(n.indexOf("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")).toBeLessThan(n.indexOf("TLS_RSA_WITH_AES_128_GCM_SHA256"));
    expect(n).toContain("TLS_RSA_WITH_AES_128_CBC_SHA");
    expect(n).not.toContain("TLS_RSA_WITH_AES_128_CBC_SHA256");
    expect(n.some((x) => x.includes("PSK"))).toBe(false);
    expect(p.serverPrecedence).toBe(false);
    expect(p.extendedMasterSecret).toBe(true);
    expect(p.safeRenegotiation).toBe(true);
  });

  test("accepts the sample ocserv.conf strings", () => {
    const a = ok("NORMAL:%SERVER_PRECEDENCE:%COMPAT:-VERS-SSL3.0:-VERS-TLS1.0:-VERS-TLS1.1");
    expect(a.serverPrecedence).toBe(true);
    const b = ok("NORMAL:%SERVER_PRECEDENCE:%COMPAT:-RSA:-VERS-SSL3.0:-ARCFOUR-128");
    expect(names(b).some((x) => x.startsWith("TLS_RSA_"))).toBe(false);
    const c = ok("NONE:%SERVER_PRECEDENCE:%COMPAT:+VERS-TLS-ALL:+SIGN-ALL:+COMP-ALL:+RSA:+SHA1:+AES-256-CBC");
    expect(names(c)).toEqual(["TLS_RSA_WITH_AES_256_CBC_SHA"]);
    // no TLS 1.3 suite is enabled, so TLS 1.3 is not offered at all
    expect(c.versions).toEqual(["TLS1.2"]);
  });

  test("-VERS-TLS1.3 leaves only TLS 1.2 suites", () => {
    const p = ok("NORMAL:-VERS-TLS1.3");
    expect(p.versions).toEqual(["TLS1.2"]);
    expect(names(p).every((n) => !n.startsWith("TLS_AES_"))).toBe(true);
  });

  test("-VERS-ALL:+VERS-TLS1.2 and -CIPHER-ALL:+AES-128-GCM narrow the set", () => {
    const p = ok("NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM");
    expect(names(p)).toEqual([
      "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
      "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
      "TLS_RSA_WITH_AES_128_GCM_SHA256",
    ]);
  });

  test("PERFORMANCE prefers AES-128 and PFS drops RSA key exchange", () => {
    expect(names(ok("PERFORMANCE"))[0]).toBe("TLS_AES_128_GCM_SHA256");
    expect(names(ok("PFS")).some((n) => n.startsWith("TLS_RSA_"))).toBe(false);
  });

  test("SECURE256 keeps only 256-bit ciphers and P-384", () => {
    const p = ok("SECURE256");
    expect(names(p).every((n) => n.includes("256"))).toBe(true);
    expect(p.groups).toEqual(["secp384r1"]);
  });

  test("group, signature and flag tokens are applied", () => {
    const p = ok("NORMAL:-GROUP-ALL:+GROUP-SECP256R1:+CURVE-X25519:-SIGN-ALL:+SIGN-ECDSA-SECP256R1-SHA256:%NO_SESSION_HASH:%DISABLE_SAFE_RENEGOTIATION:%NO_TICKETS");
    expect(p.groups).toEqual(["secp256r1", "x25519"]);
    expect(p.signatureSchemes).toEqual(["ecdsa_secp256r1_sha256"]);
    expect(p.extendedMasterSecret).toBe(false);
    expect(p.safeRenegotiation).toBe(false);
    expect(p.sessionTickets).toBe(false);
  });

  test("removing things we never implement is accepted", () => {
    const p = ok("NORMAL:-3DES-CBC:-CAMELLIA-128-CBC:-CAMELLIA-256-CBC:-ARCFOUR-128:-CHACHA20-POLY1305:-DHE-RSA:-GROUP-FFDHE2048");
    expect(p.cipherSuites.length).toBeGreaterThan(0);
  });

  test("accepts a further keyword as an addition (SECURE256:+SECURE128)", () => {
    const p = ok("SECURE256:+SECURE128:-VERS-TLS-ALL:+VERS-TLS1.2");
    expect(p.versions).toEqual(["TLS1.2"]);
    expect(names(p)).toContain("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
    expect(p.groups).toContain("x25519");
  });

  test("names an unknown token in the error", () => {
    const r = parsePriorities("NORMAL:-VERS-TLS9.9");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain("-VERS-TLS9.9");
    const k = parsePriorities("NORMALL");
    expect(k.ok).toBe(false);
    if (!k.ok) expect(k.error).toContain("NORMALL");
    const f = parsePriorities("NORMAL:%BOGUS_FLAG");
    if (!f.ok) expect(f.error).toContain("%BOGUS_FLAG");
    expect(f.ok).toBe(false);
  });

  test("a string that enables nothing we implement is an error", () => {
    const r = parsePriorities("NONE:+VERS-TLS-ALL:+CHACHA20-POLY1305:+AEAD:+ECDHE-RSA");
    expect(r.ok).toBe(false);
  });

  test("the policy is frozen", () => {
    const p = ok("NORMAL");
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(p.cipherSuites)).toBe(true);
  });
});
