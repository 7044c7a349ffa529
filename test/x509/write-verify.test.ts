import { test, expect, describe, beforeAll, afterAll } from "bun:test";
import {
  createCertificate,
  createCrl,
  generateKey,
  loadCertificates,
  parseCrl,
  verifyChain,
  X509Error,
  type Certificate,
  type KeyKind,
} from "../../src/x509/index.ts";
import type { PrivateKey } from "../../src/crypto/index.ts";
import { TempDir, certtool, openssl } from "./helpers.ts";

const DAY = 86_400_000;
// Five days ago (whole seconds), so that tools which only check against the real clock (certtool)
// see everything valid, while NOW (five days ahead) is passed explicitly to openssl and verifyChain.
const T0 = new Date(Math.floor(Date.now() / 1000) * 1000 - 5 * DAY);
const NOW = new Date(T0.getTime() + 10 * DAY);

interface Pki {
  rootKey: PrivateKey;
  root: Certificate;
  interKey: PrivateKey;
  inter: Certificate;
  leafKey: PrivateKey;
  leaf: Certificate;
}

function makePki(rootKind: KeyKind, interKind: KeyKind, leafKind: KeyKind): Pki {
  const rootKey = generateKey(rootKind).key;
  const root = createCertificate({
    subject: { CN: "Test Root", O: "Example" },
    subjectKey: rootKey,
    issuer: "self",
    serial: 1n,
    notBefore: T0,
    notAfter: new Date(T0.getTime() + 3650 * DAY),
    isCa: true,
    keyUsage: ["keyCertSign", "cRLSign"],
  }).cert;
  const interKey = generateKey(interKind).key;
  const inter = createCertificate({
    subject: { CN: "Test Intermediate", O: "Example" },
    subjectKey: interKey.publicKey,
    issuer: { cert: root, key: rootKey },
    serial: 2n,
    notBefore: T0,
    notAfter: new Date(T0.getTime() + 1000 * DAY),
    isCa: true,
    pathLen: 0,
    keyUsage: ["keyCertSign", "cRLSign"],
  }).cert;
  const leafKey = generateKey(leafKind).key;
  const leaf = createCertificate({
    subject: { CN: "Alice", O: "Example", OU: "staff", UID: "alice" },
    subjectKey: leafKey.publicKey,
    issuer: { cert: inter, key: interKey },
    notBefore: T0,
    notAfter: new Date(T0.getTime() + 365 * DAY),
    isCa: false,
    keyUsage: ["digitalSignature"],
    extKeyUsage: ["clientAuth"],
    emails: ["alice@example.com"],
    dnsNames: ["alice.example.com"],
    ipAddresses: ["10.1.2.3", "fd00::1"],
  }).cert;
  return { rootKey, root, interKey, inter, leafKey, leaf };
}

function code(r: ReturnType<typeof verifyChain>): string {
  return r.ok ? "ok" : r.code;
}

let tmp: TempDir;
let pki: Pki;
beforeAll(() => {
  tmp = new TempDir("x509-write-");
  pki = makePki("ecdsa-p384", "ecdsa-p256", "ed25519");
});
afterAll(() => tmp.remove());

describe("certificates we write are accepted by openssl and certtool", () => {
  const combos: [KeyKind, KeyKind, KeyKind][] = [
    ["rsa2048", "rsa2048", "rsa2048"],
    ["ecdsa-p256", "ecdsa-p384", "ecdsa-p256"],
    ["ed25519", "ecdsa-p256", "ed25519"],
  ];
  for (const [rk, ik, lk] of combos) {
    test(`a ${rk} → ${ik} → ${lk} chain passes openssl verify and certtool -i, and a CRL revokes the leaf`, () => {
      const p = makePki(rk, ik, lk);
      const d = tmp.dir;
      const tag = `${rk}-${ik}-${lk}`;
      tmp.write(`${tag}-root.pem`, toPem(p.root));
      tmp.write(`${tag}-inter.pem`, toPem(p.inter));
      tmp.write(`${tag}-leaf.pem`, toPem(p.leaf));
      const at = String(Math.floor(NOW.getTime() / 1000));
      const verify = (extra: string[]) =>
        openssl(
          ["verify", "-attime", at, "-purpose", "sslclient", "-CAfile", `${d}/${tag}-root.pem`, "-untrusted", `${d}/${tag}-inter.pem`, ...extra, `${d}/${tag}-leaf.pem`],
          { allowFail: true },
        );
      const ok = verify([]);
      expect(ok.stderr + ok.stdout).toContain(": OK");
      expect(ok.status).toBe(0);
      const info = certtool(["-i", "--infile", `${d}/${tag}-leaf.pem`]);
      expect(info.stdout).toContain("alice@example.com");
      expect(info.stdout).toContain("10.1.2.3");
      certtool(["-i", "--infile", `${d}/${tag}-root.pem`]);

      // CRLs from both CAs, the intermediate's revoking the leaf.
      const interCrl = createCrl({
        issuer: p.inter, key: p.interKey, revokedSerials: [p.leaf.serial, "0a"],
        thisUpdate: T0, nextUpdate: new Date(T0.getTime() + 30 * DAY), crlNumber: 7,
      });
      const rootCrl = createCrl({ issuer: p.root, key: p.rootKey, revokedSerials: [], thisUpdate: T0, nextUpdate: new Date(T0.getTime() + 30 * DAY), crlNumber: 1 });
      tmp.write(`${tag}-crls.pem`, interCrl.pem + rootCrl.pem);
      const revoked = verify(["-crl_check_all", "-CRLfile", `${d}/${tag}-crls.pem`]);
      expect(revoked.status).not.toBe(0);
      expect(revoked.stderr + revoked.stdout).toContain("revoked");
      const crlInfo = certtool(["--crl-info", "--infile", `${d}/${tag}-crls.pem`]);
      expect(crlInfo.stdout.toLowerCase()).toContain(p.leaf.serial.slice(0, 8));
      openssl(["crl", "-in", `${d}/${tag}-crls.pem`, "-noout", "-CAfile", `${d}/${tag}-inter.pem`]);
      tmp.write(`${tag}-inter-crl.pem`, interCrl.pem);
      const crlOk = certtool(["--verify-crl", "--load-ca-certificate", `${d}/${tag}-inter.pem`, "--infile", `${d}/${tag}-inter-crl.pem`], { allowFail: true });
      expect(crlOk.stdout).toContain("Verification output: Verified");
      expect(crlOk.status).toBe(0);
      // GnuTLS path validation of the whole chain (its own verifier, independent of OpenSSL's).
      tmp.write(`${tag}-chain.pem`, toPem(p.leaf) + toPem(p.inter));
      const gnutls = certtool(["--verify", "--load-ca-certificate", `${d}/${tag}-root.pem`, "--verify-purpose=1.3.6.1.5.5.7.3.2", "--infile", `${d}/${tag}-chain.pem`], { allowFail: true });
      expect(gnutls.stdout).toContain("Chain verification output: Verified");

      // And our own verifier agrees.
      expect(code(verifyChain([p.leaf, p.inter], [p.root], { now: NOW, purpose: "client" }))).toBe("ok");
      const crls = [parseCrl(interCrl.der), parseCrl(rootCrl.der)];
      expect(code(verifyChain([p.leaf, p.inter], [p.root], { now: NOW, crls, purpose: "client" }))).toBe("revoked");
    });
  }
});

function toPem(c: Certificate): string {
  const b64 = Buffer.from(c.der).toString("base64").replace(/(.{64})/g, "$1\n");
  return `-----BEGIN CERTIFICATE-----\n${b64.endsWith("\n") ? b64 : `${b64}\n`}-----END CERTIFICATE-----\n`;
}

describe("what we write reads back", () => {
  test("the leaf carries the requested names, usages and validity", () => {
    const { leaf, inter } = pki;
    expect(leaf.subject.toString()).toBe("UID=alice,CN=Alice,OU=staff,O=Example");
    expect(leaf.issuer.toString()).toBe(inter.subject.toString());
    expect(leaf.notBefore.getTime()).toBe(T0.getTime());
    expect(leaf.extensions.basicConstraints).toEqual({ cA: false });
    expect([...leaf.extensions.keyUsage!]).toEqual(["digitalSignature"]);
    expect(leaf.extensions.subjectAltName).toEqual({
      dnsNames: ["alice.example.com"], emails: ["alice@example.com"], ipAddresses: ["10.1.2.3", "fd00::1"], uris: [],
    });
    expect(Buffer.from(leaf.extensions.authorityKeyIdentifier!).equals(Buffer.from(inter.extensions.subjectKeyIdentifier!))).toBe(true);
    expect(inter.extensions.basicConstraints).toEqual({ cA: true, pathLen: 0 });
    expect(leaf.serial.length).toBe(32);
  });

  test("refuses to issue with a key that does not match the issuer certificate, or from a non-CA", () => {
    const k = generateKey("ecdsa-p256").key;
    const base = { subject: { CN: "x" }, subjectKey: k.publicKey, notBefore: T0, notAfter: NOW, isCa: false, keyUsage: ["digitalSignature"] as const };
    expect(() => createCertificate({ ...base, issuer: { cert: pki.root, key: k } })).toThrow(X509Error);
    expect(() => createCertificate({ ...base, issuer: { cert: pki.leaf, key: pki.leafKey } })).toThrow(X509Error);
    expect(() => createCertificate({ ...base, issuer: "self" })).toThrow(X509Error); // a public key cannot self-sign
  });

  test("a PEM file with several certificates loads in order", () => {
    const certs = loadCertificates(toPem(pki.leaf) + toPem(pki.inter));
    expect(certs.map((c) => c.serial)).toEqual([pki.leaf.serial, "02"]);
  });
});

describe("chain verification outcomes", () => {
  const opts = { now: NOW, purpose: "client" as const };

  test("a valid chain returns the path leaf → intermediate → root", () => {
    const r = verifyChain([pki.leaf, pki.inter], [pki.root], opts);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.path.map((c) => c.subject.first("2.5.4.3"))).toEqual(["Alice", "Test Intermediate", "Test Root"]);
  });

  test("the intermediate may also be configured as an anchor", () => {
    expect(code(verifyChain([pki.leaf], [pki.inter], opts))).toBe("ok");
  });

  test("a missing intermediate or a foreign CA gives unknown-ca", () => {
    expect(code(verifyChain([pki.leaf], [pki.root], opts))).toBe("unknown-ca");
    const other = makePki("ecdsa-p256", "ecdsa-p256", "ecdsa-p256");
    expect(code(verifyChain([pki.leaf, pki.inter], [other.inter], opts))).toBe("unknown-ca");
  });

  test("a CA with the same name but another key gives bad-signature", () => {
    const impostorKey = generateKey("ecdsa-p384").key;
    const impostor = createCertificate({
      subject: { CN: "Test Root", O: "Example" }, subjectKey: impostorKey, issuer: "self", notBefore: T0,
      notAfter: new Date(T0.getTime() + 100 * DAY), isCa: true, keyUsage: ["keyCertSign"],
    }).cert;
    expect(code(verifyChain([pki.leaf, pki.inter], [impostor], opts))).toBe("bad-signature");
  });

  test("a tampered signature gives bad-signature", () => {
    const der = pki.leaf.der.slice();
    der[der.length - 5]! ^= 0x01;
    const tampered = loadCertificates(der)[0]!;
    expect(code(verifyChain([tampered, pki.inter], [pki.root], opts))).toBe("bad-signature");
  });

  test("outside the validity period gives expired or not-yet-valid", () => {
    expect(code(verifyChain([pki.leaf, pki.inter], [pki.root], { ...opts, now: new Date(T0.getTime() + 400 * DAY) }))).toBe("expired");
    expect(code(verifyChain([pki.leaf, pki.inter], [pki.root], { ...opts, now: new Date(T0.getTime() - DAY) }))).toBe("not-yet-valid");
  });

  test("a leaf used as a CA gives not-a-ca", () => {
    const k = generateKey("ecdsa-p256").key;
    // Sign a certificate with the leaf key by hand-building it as if the leaf were a CA.
    const fakeIssuer = { ...pki.leaf, extensions: { ...pki.leaf.extensions, basicConstraints: { cA: true } } } as Certificate;
    const sub = createCertificate({
      subject: { CN: "Mallory" }, subjectKey: k.publicKey, issuer: { cert: fakeIssuer, key: pki.leafKey },
      notBefore: T0, notAfter: new Date(T0.getTime() + 30 * DAY), isCa: false, keyUsage: ["digitalSignature"],
    }).cert;
    expect(code(verifyChain([sub, pki.leaf, pki.inter], [pki.root], opts))).toBe("not-a-ca");
  });

  test("an intermediate below a pathLen 0 CA gives path-too-long", () => {
    const k = generateKey("ecdsa-p256").key;
    const sub = createCertificate({
      subject: { CN: "Sub CA" }, subjectKey: k.publicKey, issuer: { cert: pki.inter, key: pki.interKey },
      notBefore: T0, notAfter: new Date(T0.getTime() + 30 * DAY), isCa: true, keyUsage: ["keyCertSign"],
    }).cert;
    const leafKey = generateKey("ecdsa-p256").key;
    const leaf = createCertificate({
      subject: { CN: "Deep" }, subjectKey: leafKey.publicKey, issuer: { cert: sub, key: k },
      notBefore: T0, notAfter: new Date(T0.getTime() + 30 * DAY), isCa: false, keyUsage: ["digitalSignature"],
    }).cert;
    expect(code(verifyChain([leaf, sub, pki.inter], [pki.root], opts))).toBe("path-too-long");
  });

  test("a CA without keyCertSign, or a leaf without digitalSignature, gives bad-key-usage", () => {
    const caKey = generateKey("ecdsa-p256").key;
    const ca = createCertificate({
      subject: { CN: "CRL-only CA" }, subjectKey: caKey, issuer: "self", notBefore: T0, notAfter: new Date(T0.getTime() + 100 * DAY),
      isCa: true, keyUsage: ["cRLSign"],
    }).cert;
    const k = generateKey("ecdsa-p256").key;
    const leaf = createCertificate({
      subject: { CN: "u" }, subjectKey: k.publicKey, issuer: { cert: ca, key: caKey }, notBefore: T0,
      notAfter: new Date(T0.getTime() + 30 * DAY), isCa: false, keyUsage: ["digitalSignature"],
    }).cert;
    expect(code(verifyChain([leaf], [ca], opts))).toBe("bad-key-usage");
    const encOnly = createCertificate({
      subject: { CN: "enc" }, subjectKey: k.publicKey, issuer: { cert: pki.inter, key: pki.interKey }, notBefore: T0,
      notAfter: new Date(T0.getTime() + 30 * DAY), isCa: false, keyUsage: ["keyEncipherment"],
    }).cert;
    expect(code(verifyChain([encOnly, pki.inter], [pki.root], opts))).toBe("bad-key-usage");
  });

  test("a server-only certificate presented by a client gives bad-ext-key-usage", () => {
    const k = generateKey("ecdsa-p256").key;
    const srv = createCertificate({
      subject: { CN: "vpn.example.com" }, subjectKey: k.publicKey, issuer: { cert: pki.inter, key: pki.interKey }, notBefore: T0,
      notAfter: new Date(T0.getTime() + 30 * DAY), isCa: false, keyUsage: ["digitalSignature"], extKeyUsage: ["serverAuth"],
      dnsNames: ["vpn.example.com"],
    }).cert;
    expect(code(verifyChain([srv, pki.inter], [pki.root], opts))).toBe("bad-ext-key-usage");
    expect(code(verifyChain([srv, pki.inter], [pki.root], { ...opts, purpose: "server" }))).toBe("ok");
  });

  test("revocation: revoked, a CRL signed by another key, and an expired CRL", () => {
    const crl = (key: PrivateKey, issuer: Certificate, serials: string[], nextDays: number) =>
      parseCrl(createCrl({ issuer, key, revokedSerials: serials, thisUpdate: T0, nextUpdate: new Date(T0.getTime() + nextDays * DAY), crlNumber: 3 }).der);
    const chain = [pki.leaf, pki.inter];
    expect(code(verifyChain(chain, [pki.root], { ...opts, crls: [crl(pki.interKey, pki.inter, ["99"], 30)] }))).toBe("ok");
    expect(code(verifyChain(chain, [pki.root], { ...opts, crls: [crl(pki.interKey, pki.inter, [pki.leaf.serial], 30)] }))).toBe("revoked");
    expect(code(verifyChain(chain, [pki.root], { ...opts, crls: [crl(pki.rootKey, pki.root, ["02"], 30)] }))).toBe("revoked");
    // Same issuer name, signed by an impostor key.
    const impostorKey = generateKey("ecdsa-p256").key;
    const impostor = createCertificate({
      subject: { CN: "Test Intermediate", O: "Example" }, subjectKey: impostorKey, issuer: "self", notBefore: T0,
      notAfter: new Date(T0.getTime() + 100 * DAY), isCa: true, keyUsage: ["cRLSign"],
    }).cert;
    expect(code(verifyChain(chain, [pki.root], { ...opts, crls: [crl(impostorKey, impostor, [], 30)] }))).toBe("crl-bad-signature");
    expect(code(verifyChain(chain, [pki.root], { ...opts, crls: [crl(pki.interKey, pki.inter, [], 5)] }))).toBe("crl-expired");
  });

  test("a CRL signed by a CA whose keyUsage lacks cRLSign is not trusted (RFC 5280 §6.3.3 f)", () => {
    const caKey = generateKey("ecdsa-p256").key;
    const ca = createCertificate({
      subject: { CN: "Cert-only CA" }, subjectKey: caKey, issuer: "self", notBefore: T0, notAfter: new Date(T0.getTime() + 100 * DAY),
      isCa: true, keyUsage: ["keyCertSign"],
    }).cert;
    const k = generateKey("ecdsa-p256").key;
    const leaf = createCertificate({
      subject: { CN: "u" }, subjectKey: k.publicKey, issuer: { cert: ca, key: caKey }, notBefore: T0,
      notAfter: new Date(T0.getTime() + 30 * DAY), isCa: false, keyUsage: ["digitalSignature"],
    }).cert;
    const crl = parseCrl(createCrl({ issuer: ca, key: caKey, revokedSerials: [], thisUpdate: T0, nextUpdate: new Date(T0.getTime() + 30 * DAY), crlNumber: 1 }).der);
    expect(code(verifyChain([leaf], [ca], opts))).toBe("ok");
    expect(code(verifyChain([leaf], [ca], { ...opts, crls: [crl] }))).toBe("crl-bad-signature");
  });

  test("an empty chain is refused", () => {
    expect(code(verifyChain([], [pki.root], opts))).toBe("unknown-ca");
  });
});
