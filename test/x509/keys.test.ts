import { test, expect, describe, beforeAll, afterAll } from "bun:test";
import { loadPrivateKey, parsePublicKey, parsePem, X509Error, generateKey, createCertificate, verifyChain } from "../../src/x509/index.ts";
import type { PrivateKey, SignatureScheme } from "../../src/crypto/index.ts";
import { TempDir, certtool, openssl } from "./helpers.ts";
import { readFileSync } from "node:fs";

let tmp: TempDir;
const msg = new TextEncoder().encode("client hello transcript hash stand-in");

beforeAll(() => {
  tmp = new TempDir("x509-keys-");
  const d = tmp.dir;
  openssl(["genrsa", "-traditional", "-out", `${d}/rsa-pkcs1.pem`, "2048"]);
  openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", `${d}/rsa-pkcs8.pem`]);
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-out", `${d}/p256-sec1.pem`]);
  openssl(["ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", `${d}/p384-sec1.pem`]);
  openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", `${d}/p256-pkcs8.pem`]);
  openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", `${d}/p384-pkcs8.pem`]);
  openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521", "-out", `${d}/p521-pkcs8.pem`]);
  openssl(["ecparam", "-name", "secp521r1", "-genkey", "-noout", "-out", `${d}/p521-sec1.pem`]);
  openssl(["genpkey", "-algorithm", "ed25519", "-out", `${d}/ed25519.pem`]);
  openssl(["genpkey", "-algorithm", "ed25519", "-aes256", "-pass", "pass:secret", "-out", `${d}/encrypted.pem`]);
  openssl(["genrsa", "-traditional", "-aes128", "-passout", "pass:secret", "-out", `${d}/rsa-legacy-enc.pem`, "1024"]);
  openssl(["pkey", "-in", `${d}/p256-pkcs8.pem`, "-outform", "DER", "-out", `${d}/p256-pkcs8.der`]);
  openssl(["ec", "-in", `${d}/p384-sec1.pem`, "-outform", "DER", "-out", `${d}/p384-sec1.der`]);
  openssl(["rsa", "-in", `${d}/rsa-pkcs1.pem`, "-traditional", "-outform", "DER", "-out", `${d}/rsa-pkcs1.der`]);
  for (const k of ["rsa-pkcs1", "rsa-pkcs8", "p256-sec1", "p384-sec1", "p256-pkcs8", "p384-pkcs8", "p521-pkcs8", "p521-sec1", "ed25519"]) {
    openssl(["pkey", "-in", `${d}/${k}.pem`, "-pubout", "-out", `${d}/${k}.pub.pem`]);
  }
});
afterAll(() => tmp.remove());

/** openssl's verdict on our signature. */
function opensslVerifies(keyName: string, scheme: SignatureScheme, sig: Uint8Array): boolean {
  const d = tmp.dir;
  tmp.write("msg.bin", msg);
  tmp.write("sig.bin", sig);
  const pub = `${d}/${keyName}.pub.pem`;
  if (scheme === "ed25519") {
    return openssl(["pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", `${d}/msg.bin`, "-sigfile", `${d}/sig.bin`], { allowFail: true }).status === 0;
  }
  const hash = scheme.endsWith("sha1") ? "sha1" : scheme.endsWith("sha384") ? "sha384" : scheme.endsWith("sha512") ? "sha512" : "sha256";
  const pss = scheme.startsWith("rsa_pss") ? ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"] : [];
  return openssl(["dgst", `-${hash}`, ...pss, "-verify", pub, "-signature", `${d}/sig.bin`, `${d}/msg.bin`], { allowFail: true }).status === 0;
}

describe("private keys from openssl", () => {
  const cases: [string, PrivateKey["type"], number][] = [
    ["rsa-pkcs1", "rsa", 2048],
    ["rsa-pkcs8", "rsa", 2048],
    ["p256-sec1", "ecdsa-p256", 256],
    ["p384-sec1", "ecdsa-p384", 384],
    ["p256-pkcs8", "ecdsa-p256", 256],
    ["p384-pkcs8", "ecdsa-p384", 384],
    ["p521-pkcs8", "ecdsa-p521", 521],
    ["p521-sec1", "ecdsa-p521", 521],
    ["ed25519", "ed25519", 256],
  ];
  for (const [name, type, bits] of cases) {
    test(`${name} loads, and every scheme it lists produces signatures openssl accepts`, () => {
      const key = loadPrivateKey(tmp.text(`${name}.pem`));
      expect(key.type).toBe(type);
      expect(key.publicKey.bits).toBe(bits);
      // The public half equals the one openssl derives from the same file.
      const spki = parsePem(tmp.text(`${name}.pub.pem`))[0]!.der;
      expect(Buffer.from(parsePublicKey(spki).spki).equals(Buffer.from(key.publicKey.spki))).toBe(true);
      for (const scheme of key.schemes) {
        const sig = key.sign(scheme, msg);
        expect(opensslVerifies(name, scheme, sig)).toBe(true);
        expect(parsePublicKey(spki).verify(scheme, msg, sig)).toBe(true);
      }
    });
  }

  test("DER keys in PKCS#8, SEC 1 and PKCS#1 form load without PEM armour", () => {
    expect(loadPrivateKey(tmp.read("p256-pkcs8.der")).type).toBe("ecdsa-p256");
    expect(loadPrivateKey(tmp.read("p384-sec1.der")).type).toBe("ecdsa-p384");
    expect(loadPrivateKey(tmp.read("rsa-pkcs1.der")).type).toBe("rsa");
  });

  test("signatures made by openssl verify with the parsed public key, and fail on a changed message", () => {
    const d = tmp.dir;
    tmp.write("m.bin", msg);
    for (const [name, scheme, args] of [
      ["p384-pkcs8", "ecdsa_secp384r1_sha384", ["dgst", "-sha384"]],
      ["rsa-pkcs8", "rsa_pss_rsae_sha256", ["dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"]],
      ["rsa-pkcs1", "rsa_pkcs1_sha512", ["dgst", "-sha512"]],
    ] as const) {
      openssl([...args, "-sign", `${d}/${name}.pem`, "-out", `${d}/s.bin`, `${d}/m.bin`]);
      const pub = parsePublicKey(parsePem(tmp.text(`${name}.pub.pem`))[0]!.der);
      expect(pub.verify(scheme, msg, tmp.read("s.bin"))).toBe(true);
      expect(pub.verify(scheme, msg.subarray(1), tmp.read("s.bin"))).toBe(false);
    }
    openssl(["pkeyutl", "-sign", "-inkey", `${d}/ed25519.pem`, "-rawin", "-in", `${d}/m.bin`, "-out", `${d}/s.bin`]);
    const edPub = parsePublicKey(parsePem(tmp.text("ed25519.pub.pem"))[0]!.der);
    expect(edPub.verify("ed25519", msg, tmp.read("s.bin"))).toBe(true);
  });

  test("RSA PKCS#1 v1.5 decryption recovers what openssl encrypted", () => {
    const d = tmp.dir;
    const secret = crypto.getRandomValues(new Uint8Array(48));
    tmp.write("pm.bin", secret);
    openssl(["pkeyutl", "-encrypt", "-pubin", "-inkey", `${d}/rsa-pkcs8.pub.pem`, "-in", `${d}/pm.bin`, "-out", `${d}/ct.bin`]);
    const key = loadPrivateKey(tmp.text("rsa-pkcs8.pem"));
    expect(Buffer.from(key.decryptPkcs1!(tmp.read("ct.bin"))!).equals(Buffer.from(secret))).toBe(true);
  });

  test("encrypted PKCS#8 and legacy encrypted PEM keys are refused with a clear error", () => {
    for (const f of ["encrypted.pem", "rsa-legacy-enc.pem"]) {
      try {
        loadPrivateKey(tmp.text(f));
        throw new Error("loaded an encrypted key");
      } catch (e) {
        expect(e).toBeInstanceOf(X509Error);
        expect((e as X509Error).code).toBe("encrypted-key");
      }
    }
  });

  test("input without a key block, or a truncated key, gives an X509Error", () => {
    expect(() => loadPrivateKey(tmp.text("p256-pkcs8.pub.pem"))).toThrow(X509Error);
    const der = tmp.read("p256-pkcs8.der");
    expect(() => loadPrivateKey(der.subarray(0, der.length - 3))).toThrow(X509Error);
  });
});

describe("P-521", () => {
  test("a P-521 CA key from openssl issues a certificate that openssl and our verifier accept", () => {
    const caKey = loadPrivateKey(tmp.text("p521-pkcs8.pem"));
    const notBefore = new Date(Date.now() - 60_000);
    const notAfter = new Date(Date.now() + 86_400_000);
    const ca = createCertificate({ subject: { CN: "P-521 CA" }, subjectKey: caKey, issuer: "self", notBefore, notAfter, isCa: true, keyUsage: ["keyCertSign"] });
    const leafKey = loadPrivateKey(tmp.text("p256-pkcs8.pem"));
    const leaf = createCertificate({
      subject: { CN: "leaf" }, subjectKey: leafKey.publicKey, issuer: { cert: ca.cert, key: caKey }, notBefore, notAfter,
      isCa: false, keyUsage: ["digitalSignature"], extKeyUsage: ["clientAuth"],
    });
    expect(leaf.cert.signatureAlgorithm.name).toBe("ecdsa-with-SHA512");
    const caPath = tmp.write("p521-ca.pem", ca.pem);
    const leafPath = tmp.write("p521-leaf.pem", leaf.pem);
    expect(openssl(["verify", "-CAfile", caPath, leafPath]).stdout).toContain("OK");
    expect(verifyChain([leaf.cert], [ca.cert], { now: new Date(), purpose: "client" }).ok).toBe(true);
  });
});

describe("generated keys", () => {
  for (const kind of ["rsa2048", "ecdsa-p256", "ecdsa-p384", "ed25519"] as const) {
    test(`${kind} PKCS#8 PEM is accepted by openssl and reloads to the same key`, () => {
      const { key, pem } = generateKey(kind);
      expect(pem.startsWith("-----BEGIN PRIVATE KEY-----")).toBe(true);
      const p = tmp.write(`gen-${kind}.pem`, pem);
      openssl(["pkey", "-in", p, "-check", "-noout"], { allowFail: kind === "ed25519" }); // -check is unsupported for ed25519
      const pub = openssl(["pkey", "-in", p, "-pubout", "-outform", "DER", "-out", `${p}.pub.der`]);
      expect(pub.status).toBe(0);
      expect(Buffer.from(tmp.read(`gen-${kind}.pem.pub.der`)).equals(Buffer.from(key.publicKey.spki))).toBe(true);
      const again = loadPrivateKey(pem);
      const sig = again.sign(again.schemes[0]!, msg);
      expect(key.publicKey.verify(again.schemes[0]!, msg, sig)).toBe(true);
    });
  }
});

describe("keys written by GnuTLS certtool", () => {
  test("an RSA-3072 key with several KiB of text before its PEM block loads, as ocserv users' keys do", () => {
    const path = `${tmp.dir}/certtool-rsa3072.pem`;
    certtool(["--generate-privkey", "--bits", "3072", "--outfile", path]);
    const bytes = new Uint8Array(readFileSync(path));
    // The regression: the PEM block starts past the first 4 KiB.
    expect(new TextDecoder().decode(bytes).indexOf("-----BEGIN ")).toBeGreaterThan(4096);
    const key = loadPrivateKey(bytes);
    expect(key.type).toBe("rsa");
    expect(key.publicKey.bits).toBe(3072);
  });

  test("DER input is still recognised by its structure", () => {
    const der = new Uint8Array(readFileSync(`${tmp.dir}/p256-pkcs8.der`));
    expect(loadPrivateKey(der).type).toBe("ecdsa-p256");
  });
});
