import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkDnsName, parseDays, parseKeyType, serverAltNames, validity } from "../../src/tools/certtool.ts";
import { loadCertificates, loadCrls, groupsFromCertificate, userFromCertificate } from "../../src/x509/index.ts";
import { openssl, runApplet, tempDir, type RunResult } from "./helpers.ts";

const tmp = tempDir("certtool");
const p = (name: string) => join(tmp.dir, name);
const certtool = (args: readonly string[]) => runApplet("ocserv-certtool", args, { cwd: tmp.dir });

function ok(r: RunResult): RunResult {
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`);
  return r;
}

const hasGnutlsCerttool = Bun.spawnSync({ cmd: ["sh", "-c", "command -v certtool"] }).exitCode === 0;

/** openconnect's pin: base64(SHA-256(DER SubjectPublicKeyInfo)), computed with openssl alone. */
function opensslPin(certPath: string): string {
  const pub = openssl(["x509", "-in", certPath, "-noout", "-pubkey"]);
  const der = Bun.spawnSync({ cmd: ["openssl", "pkey", "-pubin", "-outform", "der"], stdin: new TextEncoder().encode(pub.stdout), stdout: "pipe" });
  const digest = Bun.spawnSync({ cmd: ["openssl", "dgst", "-sha256", "-binary"], stdin: der.stdout, stdout: "pipe" });
  return `pin-sha256:${Buffer.from(digest.stdout).toString("base64")}`;
}

beforeAll(async () => {
  ok(await certtool(["ca", "--cn", "Test VPN CA", "--org", "Example", "--out-cert", "ca.pem", "--out-key", "ca-key.pem"]));
  ok(await certtool([
    "server", "--ca", "ca.pem", "--ca-key", "ca-key.pem", "--cn", "vpn.example.com", "--dns", "vpn2.example.com",
    "--ip", "192.0.2.10", "--ip", "2001:db8::1", "--out-cert", "server.pem", "--out-key", "server-key.pem",
  ]));
  ok(await certtool([
    "server", "--ca", "ca.pem", "--ca-key", "ca-key.pem", "--cn", "rsa.example.com", "--key-type", "rsa2048",
    "--out-cert", "server-rsa.pem", "--out-key", "server-rsa-key.pem",
  ]));
  ok(await certtool([
    "client", "--ca", "ca.pem", "--ca-key", "ca-key.pem", "--uid", "alice", "--cn", "Alice Example", "--ou", "staff",
    "--email", "alice@example.com", "--out-cert", "alice.pem", "--out-key", "alice-key.pem",
  ]));
  ok(await certtool(["client", "--ca", "ca.pem", "--ca-key", "ca-key.pem", "--uid", "bob", "--out-cert", "bob.pem", "--out-key", "bob-key.pem"]));
  ok(await certtool(["crl", "--ca", "ca.pem", "--ca-key", "ca-key.pem", "--revoke", "bob.pem", "--out", "crl.pem"]));
});
afterAll(() => tmp.cleanup());

describe("ocserv-certtool output", () => {
  test("the CA, server and client certificates pass openssl verify against the CA", () => {
    const r = openssl(["verify", "-CAfile", "ca.pem", "server.pem", "server-rsa.pem", "alice.pem", "bob.pem"], { cwd: tmp.dir });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n")).toEqual(["server.pem: OK", "server-rsa.pem: OK", "alice.pem: OK", "bob.pem: OK"]);
  });

  test("with the CRL, the revoked client is rejected and the other passes", () => {
    const good = openssl(["verify", "-crl_check", "-CAfile", "ca.pem", "-CRLfile", "crl.pem", "alice.pem"], { cwd: tmp.dir });
    expect(good.code).toBe(0);
    const revoked = openssl(["verify", "-crl_check", "-CAfile", "ca.pem", "-CRLfile", "crl.pem", "bob.pem"], { cwd: tmp.dir });
    expect(revoked.code).not.toBe(0);
    expect(revoked.stdout + revoked.stderr).toContain("certificate revoked");
  });

  test("the server certificate is usable for TLS server auth, the client one for client auth", () => {
    expect(openssl(["verify", "-purpose", "sslserver", "-CAfile", "ca.pem", "server.pem"], { cwd: tmp.dir }).code).toBe(0);
    expect(openssl(["verify", "-purpose", "sslclient", "-CAfile", "ca.pem", "alice.pem"], { cwd: tmp.dir }).code).toBe(0);
    expect(openssl(["verify", "-purpose", "sslserver", "-CAfile", "ca.pem", "alice.pem"], { cwd: tmp.dir }).code).not.toBe(0);
  });

  test("the server certificate names the CN, the extra DNS names and the IP addresses", () => {
    const cert = loadCertificates(readFileSync(p("server.pem")))[0]!;
    expect(cert.extensions.subjectAltName?.dnsNames).toEqual(["vpn.example.com", "vpn2.example.com"]);
    expect(cert.extensions.subjectAltName?.ipAddresses).toEqual(["192.0.2.10", "2001:db8::1"]);
    expect(cert.extensions.basicConstraints?.cA).toBe(false);
    expect([...(cert.extensions.keyUsage ?? [])]).toEqual(["digitalSignature"]);
    const rsa = loadCertificates(readFileSync(p("server-rsa.pem")))[0]!;
    expect(rsa.publicKey.type).toBe("rsa");
    expect([...(rsa.extensions.keyUsage ?? [])].sort()).toEqual(["digitalSignature", "keyEncipherment"]);
    expect(openssl(["x509", "-in", "server.pem", "-noout", "-checkhost", "vpn2.example.com"], { cwd: tmp.dir }).stdout).toContain("does match");
  });

  test("the client certificate carries the user name and group where ocserv's cert-user-oid and cert-group-oid look", () => {
    const cert = loadCertificates(readFileSync(p("alice.pem")))[0]!;
    expect(userFromCertificate(cert, "0.9.2342.19200300.100.1.1")).toBe("alice");
    expect(userFromCertificate(cert, "2.5.4.3")).toBe("Alice Example");
    expect(userFromCertificate(cert, "SAN(rfc822name)")).toBe("alice@example.com");
    expect(groupsFromCertificate(cert, "2.5.4.11")).toEqual(["staff"]);
  });

  test("private keys are written 0600 and certificates 0644", () => {
    for (const k of ["ca-key.pem", "server-key.pem", "server-rsa-key.pem", "alice-key.pem", "bob-key.pem"]) {
      expect(statSync(p(k)).mode & 0o777).toBe(0o600);
    }
    for (const c of ["ca.pem", "server.pem", "alice.pem", "crl.pem"]) expect(statSync(p(c)).mode & 0o777).toBe(0o644);
  });

  test("openssl reads the private keys and each matches its certificate", () => {
    for (const [key, cert] of [["ca-key.pem", "ca.pem"], ["server-key.pem", "server.pem"], ["server-rsa-key.pem", "server-rsa.pem"]] as const) {
      const fromKey = openssl(["pkey", "-in", key, "-pubout"], { cwd: tmp.dir });
      const fromCert = openssl(["x509", "-in", cert, "-noout", "-pubkey"], { cwd: tmp.dir });
      expect(fromKey.code).toBe(0);
      expect(fromKey.stdout).toBe(fromCert.stdout);
    }
  });

  test.skipIf(!hasGnutlsCerttool)("GnuTLS certtool -i parses every certificate and the CRL", () => {
    for (const c of ["ca.pem", "server.pem", "server-rsa.pem", "alice.pem"]) {
      const r = Bun.spawnSync({ cmd: ["certtool", "-i", "--infile", c], cwd: tmp.dir, stdout: "pipe", stderr: "pipe" });
      expect(r.exitCode).toBe(0);
      expect(r.stdout.toString()).toContain("X.509 Certificate Information:");
    }
    const crl = Bun.spawnSync({ cmd: ["certtool", "--crl-info", "--infile", "crl.pem"], cwd: tmp.dir, stdout: "pipe", stderr: "pipe" });
    expect(crl.exitCode).toBe(0);
    expect(crl.stdout.toString()).toContain("Revoked certificates (1)");
    const chain = Bun.spawnSync({ cmd: ["certtool", "--verify", "--load-ca-certificate", "ca.pem", "--infile", "server.pem"], cwd: tmp.dir, stdout: "pipe", stderr: "pipe" });
    expect(chain.exitCode).toBe(0);
  });

  test("pin prints the pin-sha256 openssl computes from the certificate's public key", async () => {
    for (const c of ["server.pem", "server-rsa.pem"]) {
      const r = ok(await certtool(["pin", c]));
      expect(r.stdout).toBe(`${opensslPin(p(c))}\n`);
      expect(ok(await certtool(["pin", "--cert", c])).stdout).toBe(r.stdout);
    }
  });
});

describe("ocserv-certtool CRL updates", () => {
  test("--crl carries earlier revocations over and the CRL number increases", async () => {
    ok(await certtool(["client", "--ca", "ca.pem", "--ca-key", "ca-key.pem", "--uid", "carol", "--out-cert", "carol.pem", "--out-key", "carol-key.pem"]));
    const before = loadCrls(readFileSync(p("crl.pem")))[0]!;
    ok(await certtool(["crl", "--ca", "ca.pem", "--ca-key", "ca-key.pem", "--crl", "crl.pem", "--revoke", "carol.pem", "--out", "crl.pem"]));
    const after = loadCrls(readFileSync(p("crl.pem")))[0]!;
    expect(after.revokedSerials.size).toBe(2);
    expect(BigInt(`0x${after.crlNumber}`)).toBeGreaterThan(BigInt(`0x${before.crlNumber}`));
    for (const who of ["bob.pem", "carol.pem"]) {
      expect(openssl(["verify", "-crl_check", "-CAfile", "ca.pem", "-CRLfile", "crl.pem", who], { cwd: tmp.dir }).code).not.toBe(0);
    }
    expect(openssl(["verify", "-crl_check", "-CAfile", "ca.pem", "-CRLfile", "crl.pem", "alice.pem"], { cwd: tmp.dir }).code).toBe(0);
  });

  test("an empty CRL (nothing revoked) verifies and revokes nothing", async () => {
    ok(await certtool(["crl", "--ca", "ca.pem", "--ca-key", "ca-key.pem", "--out", "empty-crl.pem"]));
    expect(loadCrls(readFileSync(p("empty-crl.pem")))[0]!.revoked.length).toBe(0);
    expect(openssl(["verify", "-crl_check", "-CAfile", "ca.pem", "-CRLfile", "empty-crl.pem", "bob.pem"], { cwd: tmp.dir }).code).toBe(0);
  });

  test("--revoke-serial revokes by serial number", async () => {
    const serial = loadCertificates(readFileSync(p("alice.pem")))[0]!.serial;
    ok(await certtool(["crl", "--ca", "ca.pem", "--ca-key", "ca-key.pem", "--revoke-serial", serial.toUpperCase(), "--out", "serial-crl.pem"]));
    expect(openssl(["verify", "-crl_check", "-CAfile", "ca.pem", "-CRLfile", "serial-crl.pem", "alice.pem"], { cwd: tmp.dir }).code).not.toBe(0);
  });
});

describe("ocserv-certtool refusals", () => {
  test("existing outputs are not replaced without --force, and are with it", async () => {
    const before = readFileSync(p("ca-key.pem"), "utf8");
    const r = await certtool(["ca", "--out-cert", "ca.pem", "--out-key", "ca-key.pem"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("already exists (use --force");
    expect(readFileSync(p("ca-key.pem"), "utf8")).toBe(before);

    ok(await certtool(["ca", "--out-cert", "ca2.pem", "--out-key", "ca2-key.pem"]));
    const old = readFileSync(p("ca2-key.pem"), "utf8");
    ok(await certtool(["ca", "--out-cert", "ca2.pem", "--out-key", "ca2-key.pem", "--force"]));
    expect(readFileSync(p("ca2-key.pem"), "utf8")).not.toBe(old);
    expect(statSync(p("ca2-key.pem")).mode & 0o777).toBe(0o600);
  });

  test("a CA key that does not belong to the CA certificate is refused", async () => {
    const r = await certtool(["server", "--ca", "ca.pem", "--ca-key", "ca2-key.pem", "--cn", "x.example.com", "--out-cert", "x.pem", "--out-key", "x-key.pem"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("the CA key does not belong to the CA certificate");
  });

  test("a certificate from another CA cannot be revoked by this one", async () => {
    const r = await certtool(["crl", "--ca", "ca2.pem", "--ca-key", "ca2-key.pem", "--revoke", "bob.pem", "--out", "other-crl.pem"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("was not issued by this CA");
  });

  test("a leaf certificate cannot act as the CA", async () => {
    const r = await certtool(["client", "--ca", "server.pem", "--ca-key", "server-key.pem", "--uid", "x", "--out-cert", "x.pem", "--out-key", "x-key.pem"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("is not a CA certificate");
  });

  test("--load-key certifies an existing key, so the server pin survives a renewal", async () => {
    ok(await certtool(["server", "--ca", "ca.pem", "--ca-key", "ca-key.pem", "--cn", "vpn.example.com", "--load-key", "server-key.pem", "--out-cert", "renewed.pem"]));
    expect(ok(await certtool(["pin", "renewed.pem"])).stdout).toBe(ok(await certtool(["pin", "server.pem"])).stdout);
  });

  test("bad command lines and inputs fail with exit 1 and a message", async () => {
    const cases: [string[], string][] = [
      [[], "a command is required"],
      [["frobnicate"], "unknown command 'frobnicate'"],
      [["ca", "--out-cert", "a.pem"], "--out-key is required"],
      [["ca", "--bogus"], "unknown option '--bogus'"],
      [["ca", "--uid", "x", "--out-cert", "a.pem", "--out-key", "b.pem"], "ca does not take --uid"],
      [["ca", "--key-type", "dsa", "--out-cert", "a.pem", "--out-key", "b.pem"], "unknown --key-type 'dsa'"],
      [["ca", "--days", "0", "--out-cert", "a.pem", "--out-key", "b.pem"], "--days must be a whole number"],
      [["ca", "--out-cert", "same.pem", "--out-key", "same.pem"], "must be different"],
      [["server", "--ca", "ca.pem", "--ca-key", "ca-key.pem", "--cn", "bad_name!", "--out-cert", "a.pem", "--out-key", "b.pem"], "not a valid DNS name"],
      [["server", "--ca", "ca.pem", "--ca-key", "ca-key.pem", "--cn", "ok.example.com", "--ip", "300.1.1.1", "--out-cert", "a.pem", "--out-key", "b.pem"], "not an IPv4 or IPv6 address"],
      [["server", "--ca", "missing.pem", "--ca-key", "ca-key.pem", "--cn", "a.example.com", "--out-cert", "a.pem", "--out-key", "b.pem"], "cannot read CA certificate"],
      [["client", "--ca", "ca.pem", "--ca-key", "ca-key.pem", "--uid", "a", "--ou", "g1", "--ou", "g2", "--out-cert", "a.pem", "--out-key", "b.pem"], "given more than once"],
      [["crl", "--ca", "ca.pem", "--ca-key", "ca-key.pem", "--out", "alice.pem"], "exists and is not a PEM CRL"],
      [["crl", "--ca", "ca.pem", "--ca-key", "ca-key.pem", "--out", "./ca-key.pem"], "must not be the CA certificate or key"],
      [["ca", "--load-key", "ca-key.pem", "--out-key", "k.pem", "--out-cert", "c.pem"], "--out-key is not used with --load-key"],
      [["pin"], "a certificate file is required"],
      [["pin", "ca-key.pem"], "no CERTIFICATE block found"],
    ];
    for (const [args, message] of cases) {
      const r = await certtool(args);
      expect({ args, code: r.code }).toEqual({ args, code: 1 });
      expect(r.stderr).toContain(message);
    }
  });

  test("-h and --version exit 0", async () => {
    expect(ok(await certtool(["-h"])).stdout).toContain("Usage: ocserv-certtool COMMAND");
    expect(ok(await certtool(["--version"])).stdout).toMatch(/^ocserv-certtool .*\d+\.\d+\.\d+\n$/);
  });
});

describe("ocserv-certtool option values", () => {
  test("key types and days are parsed strictly", () => {
    expect(parseKeyType(null)).toBe("ecdsa-p256");
    expect(parseKeyType("rsa3072")).toBe("rsa3072");
    expect(() => parseKeyType("rsa1024")).toThrow();
    expect(parseDays(null, 7)).toBe(7);
    expect(parseDays("3650", 7)).toBe(3650);
    for (const bad of ["-1", "1.5", "0", "36501", "ten", ""]) expect(() => parseDays(bad, 7)).toThrow();
  });

  test("DNS names are LDH labels with an optional leading wildcard", () => {
    expect(checkDnsName("VPN.Example.com")).toBe("vpn.example.com");
    expect(checkDnsName("*.example.com")).toBe("*.example.com");
    expect(checkDnsName("router")).toBe("router");
    for (const bad of ["-a.example.com", "a..b", "*.com", "a.*.com", "under_score.com", "1.2.3.4", "a b"]) {
      expect(() => checkDnsName(bad)).toThrow();
    }
  });

  test("the server SAN puts an IP address CN among the IPs and drops duplicates", () => {
    expect(serverAltNames("192.0.2.1", ["vpn.example.com"], ["192.0.2.1", "2001:DB8::1", "2001:db8:0::1"])).toEqual({
      dnsNames: ["vpn.example.com"],
      ipAddresses: ["192.0.2.1", "2001:DB8::1"],
    });
    expect(serverAltNames("vpn.example.com", ["VPN.example.com"], [])).toEqual({ dnsNames: ["vpn.example.com"], ipAddresses: [] });
  });

  test("validity starts an hour early and a leaf never outlives its CA", () => {
    const now = new Date("2030-01-01T00:00:00Z");
    const v = validity(now, 10, null);
    expect(v.notBefore.toISOString()).toBe("2029-12-31T23:00:00.000Z");
    expect(v.notAfter.toISOString()).toBe("2030-01-11T00:00:00.000Z");
    const ca = loadCertificates(readFileSync(p("ca.pem")))[0]!;
    const clipped = validity(new Date(ca.notAfter.getTime() - 86_400_000), 825, ca);
    expect(clipped.clipped).toBe(true);
    expect(clipped.notAfter.getTime()).toBe(ca.notAfter.getTime());
    expect(() => validity(new Date(ca.notAfter.getTime() + 1000), 1, ca)).toThrow("expired");
  });
});

// A damaged key file is named in the error, so the admin knows which file to look at.
test("a corrupt CA key file is reported with its name", async () => {
  writeFileSync(p("corrupt-key.pem"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
  const r = await certtool(["server", "--ca", "ca.pem", "--ca-key", "corrupt-key.pem", "--cn", "a.example.com", "--out-cert", "a.pem", "--out-key", "b.pem"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("CA key 'corrupt-key.pem'");
});
