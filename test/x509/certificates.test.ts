import { test, expect, describe, beforeAll, afterAll } from "bun:test";
import {
  parseCertificate,
  loadCertificates,
  loadCrls,
  loadPrivateKey,
  parsePem,
  verifyChain,
  userFromCertificate,
  groupsFromCertificate,
  keyMatchesCertificate,
  certificateExpiresWithin,
  X509Error,
} from "../../src/x509/index.ts";
import { existsSync, readFileSync } from "node:fs";
import { verifySignature } from "../../src/x509/algorithms.ts";
import { DerReader, TAG } from "../../src/x509/asn1.ts";
import { parseName } from "../../src/x509/name.ts";
import { oid, seq, setOf, tlv } from "../../src/x509/der-writer.ts";
import { TempDir, certtool, openssl } from "./helpers.ts";

let tmp: TempDir;

beforeAll(() => {
  tmp = new TempDir("x509-certs-");
  const d = tmp.dir;
  // An openssl-made CA (P-384) and a client certificate (RSA) with the usual ocserv fields.
  openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", `${d}/ca-key.pem`]);
  openssl([
    "req", "-new", "-x509", "-key", `${d}/ca-key.pem`, "-out", `${d}/ca.pem`, "-days", "30", "-sha384",
    "-subj", "/C=US/O=Big Corp/CN=VPN CA",
    "-addext", "basicConstraints=critical,CA:TRUE,pathlen:1", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", `${d}/user-key.pem`]);
  openssl(["req", "-new", "-key", `${d}/user-key.pem`, "-out", `${d}/user.csr`, "-subj", "/O=Big Corp/OU=admins/OU=staff/CN=Alice Example/UID=alice"]);
  tmp.write("user.ext", [
    "basicConstraints=CA:FALSE",
    "keyUsage=critical,digitalSignature",
    "extendedKeyUsage=clientAuth",
    "subjectAltName=email:alice@example.com,DNS:alice.example.com,IP:192.0.2.7,IP:2001:db8::1",
    "subjectKeyIdentifier=hash",
    "authorityKeyIdentifier=keyid",
    "",
  ].join("\n"));
  openssl([
    "x509", "-req", "-in", `${d}/user.csr`, "-CA", `${d}/ca.pem`, "-CAkey", `${d}/ca-key.pem`, "-set_serial", "0x00ab12",
    "-days", "10", "-sha256", "-extfile", `${d}/user.ext`, "-out", `${d}/user.pem`,
  ]);
  openssl(["x509", "-in", `${d}/user.pem`, "-outform", "DER", "-out", `${d}/user.der`]);
  // A client certificate from the same CA with an unknown critical extension.
  tmp.write("critical.ext", "keyUsage=critical,digitalSignature\n1.3.6.1.4.1.99999.1=critical,ASN1:UTF8String:hello\n");
  openssl([
    "x509", "-req", "-in", `${d}/user.csr`, "-CA", `${d}/ca.pem`, "-CAkey", `${d}/ca-key.pem`, "-set_serial", "77",
    "-days", "5", "-extfile", `${d}/critical.ext`, "-out", `${d}/critical.pem`,
  ]);

  // An RSA CA that signs with RSASSA-PSS (RFC 4055) and a P-256 client certificate under it.
  const pss = ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32", "-sha256"];
  openssl([
    "req", "-new", "-x509", "-key", `${d}/user-key.pem`, "-out", `${d}/pss-ca.pem`, "-days", "30", ...pss, "-subj", "/CN=PSS CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
  ]);
  openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", `${d}/pss-leaf-key.pem`]);
  openssl(["req", "-new", "-key", `${d}/pss-leaf-key.pem`, "-out", `${d}/pss-leaf.csr`, "-subj", "/CN=pss user"]);
  openssl([
    "x509", "-req", "-in", `${d}/pss-leaf.csr`, "-CA", `${d}/pss-ca.pem`, "-CAkey", `${d}/user-key.pem`, "-set_serial", "5",
    "-days", "5", ...pss, "-out", `${d}/pss-leaf.pem`,
  ]);

  // A certtool CA, user and CRL, following the ocserv man page.
  certtool(["--generate-privkey", "--key-type=ecdsa", "--outfile", `${d}/gt-ca-key.pem`]);
  tmp.write("gt-ca.tmpl", 'cn = "GnuTLS VPN CA"\norganization = "Big Corp"\nserial = 1\nexpiration_days = 30\nca\nsigning_key\ncert_signing_key\ncrl_signing_key\n');
  certtool(["--generate-self-signed", "--load-privkey", `${d}/gt-ca-key.pem`, "--template", `${d}/gt-ca.tmpl`, "--outfile", `${d}/gt-ca.pem`]);
  for (const [name, serial] of [["bob", 2], ["carol", 3]] as const) {
    certtool(["--generate-privkey", "--outfile", `${d}/gt-${name}-key.pem`]);
    tmp.write(`gt-${name}.tmpl`, `cn = "${name}"\nuid = "${name}"\nunit = "vpn"\nserial = ${serial}\nexpiration_days = 20\nsigning_key\ntls_www_client\nemail = "${name}@example.org"\n`);
    certtool([
      "--generate-certificate", "--load-privkey", `${d}/gt-${name}-key.pem`, "--load-ca-certificate", `${d}/gt-ca.pem`,
      "--load-ca-privkey", `${d}/gt-ca-key.pem`, "--template", `${d}/gt-${name}.tmpl`, "--outfile", `${d}/gt-${name}.pem`,
    ]);
  }
  tmp.write("crl.tmpl", "crl_next_update = 7\ncrl_number = 5\n");
  certtool([
    "--generate-crl", "--load-ca-privkey", `${d}/gt-ca-key.pem`, "--load-ca-certificate", `${d}/gt-ca.pem`,
    "--load-certificate", `${d}/gt-carol.pem`, "--template", `${d}/crl.tmpl`, "--outfile", `${d}/gt-crl.pem`,
  ]);
});
afterAll(() => tmp.remove());

function opensslField(args: string[], file: string): string {
  return openssl(["x509", "-in", tmp.path(file), "-noout", ...args]).stdout.trim();
}

describe("certificates made by openssl", () => {
  test("parses version, serial, names, validity and the signature algorithm as openssl reports them", () => {
    const [cert] = loadCertificates(tmp.text("user.pem"));
    expect(cert!.version).toBe(3);
    expect(cert!.serial).toBe(opensslField(["-serial"], "user.pem").replace("serial=", "").toLowerCase().replace(/^0+/, ""));
    expect(cert!.subject.toString()).toBe("UID=alice,CN=Alice Example,OU=staff,OU=admins,O=Big Corp");
    expect(cert!.issuer.toString()).toBe("CN=VPN CA,O=Big Corp,C=US");
    const notAfter = opensslField(["-enddate"], "user.pem").replace("notAfter=", "");
    expect(cert!.notAfter.getTime()).toBe(new Date(notAfter).getTime());
    expect(cert!.signatureAlgorithm.name).toBe("ecdsa-with-SHA256");
    expect(cert!.publicKey.type).toBe("rsa");
  });

  test("decodes the extensions: basicConstraints, keyUsage, extKeyUsage, SAN, SKI and AKI", () => {
    const cert = parseCertificate(tmp.read("user.der"));
    const ca = loadCertificates(tmp.text("ca.pem"))[0]!;
    const e = cert.extensions;
    expect(e.basicConstraints).toEqual({ cA: false });
    expect([...e.keyUsage!]).toEqual(["digitalSignature"]);
    expect(e.extKeyUsage).toEqual(["1.3.6.1.5.5.7.3.2"]);
    expect(e.subjectAltName!.emails).toEqual(["alice@example.com"]);
    expect(e.subjectAltName!.dnsNames).toEqual(["alice.example.com"]);
    expect(e.subjectAltName!.ipAddresses).toEqual(["192.0.2.7", "2001:db8::1"]);
    expect(e.unknownCritical).toEqual([]);
    expect(Buffer.from(e.authorityKeyIdentifier!).equals(Buffer.from(ca.extensions.subjectKeyIdentifier!))).toBe(true);
    expect(ca.extensions.basicConstraints).toEqual({ cA: true, pathLen: 1 });
    expect([...ca.extensions.keyUsage!].sort()).toEqual(["cRLSign", "keyCertSign"]);
  });

  test("spkiSha256 is the pin-sha256 value openssl computes from the public key", () => {
    const d = tmp.dir;
    openssl(["x509", "-in", `${d}/user.pem`, "-pubkey", "-noout", "-out", `${d}/user.pub.pem`]);
    openssl(["pkey", "-pubin", "-in", `${d}/user.pub.pem`, "-outform", "DER", "-out", `${d}/user.pub.der`]);
    openssl(["dgst", "-sha256", "-binary", "-out", `${d}/pin.bin`, `${d}/user.pub.der`]);
    const cert = parseCertificate(tmp.read("user.der"));
    expect(Buffer.from(cert.spkiSha256()).equals(Buffer.from(tmp.read("pin.bin")))).toBe(true);
    expect(cert.pinSha256()).toBe(`pin-sha256:${Buffer.from(tmp.read("pin.bin")).toString("base64")}`);
  });

  test("the chain verifies for a client and fails for a server purpose (extKeyUsage clientAuth only)", () => {
    const user = loadCertificates(tmp.text("user.pem"));
    const ca = loadCertificates(tmp.text("ca.pem"));
    const now = new Date(Date.now() + 60_000);
    const ok = verifyChain(user, ca, { now, purpose: "client" });
    expect(ok.ok).toBe(true);
    if (ok.ok) expect(ok.path.map((c) => c.subject.first("2.5.4.3"))).toEqual(["Alice Example", "VPN CA"]);
    const srv = verifyChain(user, ca, { now, purpose: "server" });
    expect(srv.ok ? "ok" : srv.code).toBe("bad-ext-key-usage");
  });

  test("an unknown critical extension is flagged and makes the certificate fail verification", () => {
    const cert = loadCertificates(tmp.text("critical.pem"))[0]!;
    expect(cert.extensions.unknownCritical).toEqual(["1.3.6.1.4.1.99999.1"]);
    const ca = loadCertificates(tmp.text("ca.pem"));
    const r = verifyChain([cert], ca, { now: new Date(Date.now() + 60_000), purpose: "client" });
    expect(r.ok ? "ok" : r.code).toBe("unsupported-critical-extension");
  });

  test("RSASSA-PSS signatures with explicit parameters verify, and a tampered one does not", () => {
    const ca = loadCertificates(tmp.text("pss-ca.pem"));
    const leaf = loadCertificates(tmp.text("pss-leaf.pem"));
    expect(leaf[0]!.signatureAlgorithm).toMatchObject({ kind: "rsa-pss", hash: "sha256", saltLength: 32 });
    expect(verifyChain(leaf, ca, { now: new Date(Date.now() + 60_000), purpose: "client" }).ok).toBe(true);
    const der = leaf[0]!.der.slice();
    der[der.length - 1]! ^= 0x40;
    const r = verifyChain([parseCertificate(der)], ca, { now: new Date(Date.now() + 60_000), purpose: "client" });
    expect(r.ok ? "ok" : r.code).toBe("bad-signature");
  });

  test("identity comes from cert-user-oid (UID, CN or SAN(rfc822name)) and groups from every OU", () => {
    const cert = loadCertificates(tmp.text("user.pem"))[0]!;
    expect(userFromCertificate(cert, "0.9.2342.19200300.100.1.1")).toBe("alice");
    expect(userFromCertificate(cert, "2.5.4.3")).toBe("Alice Example");
    expect(userFromCertificate(cert, "SAN(rfc822name)")).toBe("alice@example.com");
    expect(userFromCertificate(cert, "2.5.4.7")).toBeNull();
    expect(groupsFromCertificate(cert, "2.5.4.11")).toEqual(["admins", "staff"]);
    expect(() => userFromCertificate(cert, "not-an-oid")).toThrow(X509Error);
    const ca = loadCertificates(tmp.text("ca.pem"))[0]!;
    expect(userFromCertificate(ca, "SAN(rfc822name)")).toBeNull();
  });

  test("keyMatchesCertificate tells the certified key from another key", () => {
    const cert = loadCertificates(tmp.text("user.pem"))[0]!;
    expect(keyMatchesCertificate(loadPrivateKey(tmp.text("user-key.pem")), cert)).toBe(true);
    expect(keyMatchesCertificate(loadPrivateKey(tmp.text("ca-key.pem")), cert)).toBe(false);
  });

  test("certificateExpiresWithin compares notAfter with a window of days", () => {
    const cert = loadCertificates(tmp.text("user.pem"))[0]!;
    expect(certificateExpiresWithin(cert, 11)).toBe(true);
    expect(certificateExpiresWithin(cert, 9)).toBe(false);
  });

  test("rejects a certificate with trailing bytes, a bad length or a truncated body", () => {
    const der = tmp.read("user.der");
    const trailing = new Uint8Array(der.length + 1);
    trailing.set(der);
    expect(() => parseCertificate(trailing)).toThrow(X509Error);
    expect(() => parseCertificate(der.subarray(0, der.length - 1))).toThrow(X509Error);
    const badLen = der.slice();
    badLen[1] = 0x80; // indefinite length is not DER
    expect(() => parseCertificate(badLen)).toThrow(X509Error);
  });
});

describe("certificates and CRLs made by certtool (the ocserv man page recipe)", () => {
  test("the CRL parses with issuer, dates, number and revoked serials, and its signature verifies", () => {
    const [crl] = loadCrls(tmp.text("gt-crl.pem"));
    const ca = loadCertificates(tmp.text("gt-ca.pem"))[0]!;
    const carol = loadCertificates(tmp.text("gt-carol.pem"))[0]!;
    expect(crl!.issuer.toString()).toBe(ca.subject.toString());
    expect(crl!.crlNumber).toBe("05");
    expect([...crl!.revokedSerials]).toEqual([carol.serial]);
    expect(crl!.nextUpdate!.getTime()).toBeGreaterThan(crl!.thisUpdate.getTime());
    expect(crl!.verify(ca.publicKey)).toBe(true);
    const otherKey = loadCertificates(tmp.text("ca.pem"))[0]!.publicKey;
    expect(crl!.verify(otherKey)).toBe(false);
  });

  test("a valid user passes, a revoked user fails with 'revoked', and user names come from the UID", () => {
    const ca = loadCertificates(tmp.text("gt-ca.pem"));
    const crls = loadCrls(tmp.text("gt-crl.pem"));
    const now = new Date(Date.now() + 60_000);
    const bob = loadCertificates(tmp.text("gt-bob.pem"));
    const carol = loadCertificates(tmp.text("gt-carol.pem"));
    expect(verifyChain(bob, ca, { now, crls, purpose: "client" }).ok).toBe(true);
    const r = verifyChain(carol, ca, { now, crls, purpose: "client" });
    expect(r.ok ? "ok" : r.code).toBe("revoked");
    expect(verifyChain(carol, ca, { now, purpose: "client" }).ok).toBe(true);
    expect(userFromCertificate(bob[0]!, "0.9.2342.19200300.100.1.1")).toBe("bob");
    expect(userFromCertificate(bob[0]!, "SAN(rfc822name)")).toBe("bob@example.org");
  });

  test("a CRL past its nextUpdate makes verification fail with 'crl-expired'", () => {
    const ca = loadCertificates(tmp.text("gt-ca.pem"));
    const crls = loadCrls(tmp.text("gt-crl.pem"));
    const bob = loadCertificates(tmp.text("gt-bob.pem"));
    const r = verifyChain(bob, ca, { now: new Date(Date.now() + 8 * 86_400_000), crls, purpose: "client" });
    expect(r.ok ? "ok" : r.code).toBe("crl-expired");
  });
});

describe("names", () => {
  test("decodes BMPString, TeletexString, PrintableString and IA5String values", () => {
    const bmp = new Uint8Array(Buffer.from("Zoë Ĝ", "utf16le").swap16());
    const name = seq(
      setOf(seq(oid("2.5.4.6"), tlv(TAG.PRINTABLE_STRING, new TextEncoder().encode("DE")))),
      setOf(seq(oid("2.5.4.10"), tlv(TAG.TELETEX_STRING, new Uint8Array([0x4d, 0xfc, 0x6c, 0x6c, 0x65, 0x72])))),
      setOf(seq(oid("2.5.4.3"), tlv(TAG.BMP_STRING, bmp))),
      setOf(seq(oid("1.2.840.113549.1.9.1"), tlv(TAG.IA5_STRING, new TextEncoder().encode("z@example.de")))),
    );
    const n = parseName(DerReader.of(name));
    expect(n.first("2.5.4.3")).toBe("Zoë Ĝ");
    expect(n.first("2.5.4.10")).toBe("Müller");
    expect(n.toString()).toBe("EMAIL=z@example.de,CN=Zoë Ĝ,O=Müller,C=DE");
  });

  test("escapes RFC 4514 special characters in the string form", () => {
    const name = seq(setOf(seq(oid("2.5.4.3"), tlv(TAG.UTF8_STRING, new TextEncoder().encode("Doe, John+1")))));
    expect(parseName(DerReader.of(name)).toString()).toBe("CN=Doe\\, John\\+1");
  });

  test("PEM with text around the blocks parses every block in order", () => {
    const pem = `Bag Attributes\n${tmp.text("ca.pem")}junk\n${tmp.text("user.pem")}`;
    expect(parsePem(pem).map((b) => b.label)).toEqual(["CERTIFICATE", "CERTIFICATE"]);
    expect(() => parsePem("-----BEGIN CERTIFICATE-----\nAAA*\n-----END CERTIFICATE-----\n")).toThrow(X509Error);
    expect(() => parsePem("-----BEGIN CERTIFICATE-----\nAAAA\n")).toThrow(X509Error);
  });
});

describe("real-world certificates", () => {
  const bundle = "/etc/ssl/certs/ca-certificates.crt";
  test.skipIf(!existsSync(bundle))("every root in the system CA bundle parses and its self-signature verifies", () => {
    const certs = loadCertificates(readFileSync(bundle, "utf8"));
    expect(certs.length).toBeGreaterThan(50);
    const unverified = certs.filter((c) => !c.subject.equals(c.issuer) || !verifySignature(c.publicKey, c.signatureAlgorithm, c.tbsDer, c.signature));
    expect(unverified.map((c) => c.subject.toString())).toEqual([]);
    // And a wrong key never verifies: each root's signature checked with the next root's key
    // (skipping re-issued roots that keep the same key).
    const crossed = certs.filter((c, i) => {
      const next = certs[(i + 1) % certs.length]!;
      return !Buffer.from(next.spki).equals(Buffer.from(c.spki)) && verifySignature(next.publicKey, c.signatureAlgorithm, c.tbsDer, c.signature);
    });
    expect(crossed.length).toBe(0);
  });
});
