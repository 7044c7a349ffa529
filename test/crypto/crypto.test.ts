import { test, expect, describe } from "bun:test";
import { spawnSync } from "node:child_process";
import {
  createAead,
  createCbc,
  createHash,
  createMac,
  CryptoError,
  generateKeyShare,
  hash,
  hashLength,
  hkdfExpand,
  hkdfExtract,
  hmac,
  randomBytes,
  tls12Prf,
  ecPrivateKey,
  ecPublicKey,
  ed25519PrivateKey,
  rsaPrivateKeyFromDer,
  rsaPublicKeyFromSpki,
  generateRsaPkcs8,
  randomEcScalar,
  randomEd25519Seed,
  schemeAllowedInTls13,
  samePublicKey,
} from "../../src/crypto/index.ts";
import { concatBytes, fromHex, toHex } from "../../src/wire/writer.ts";

const enc = (s: string) => new TextEncoder().encode(s);

describe("randomness", () => {
  test("randomBytes returns the requested length, including more than one getRandomValues chunk", () => {
    expect(randomBytes(0).length).toBe(0);
    const big = randomBytes(70000);
    expect(big.length).toBe(70000);
    // The tail past the first 64 KiB chunk is filled too (all-zero 4 KiB is ~impossible).
    expect(big.subarray(66000).some((b) => b !== 0)).toBe(true);
    expect(toHex(randomBytes(16))).not.toBe(toHex(randomBytes(16)));
  });
});

describe("hashes", () => {
  test("hash lengths match the algorithms", () => {
    expect([hashLength("sha1"), hashLength("sha256"), hashLength("sha384"), hashLength("sha512")]).toEqual([20, 32, 48, 64]);
  });
  test("sha256 of 'abc' matches FIPS 180-2", () => {
    expect(toHex(hash("sha256", enc("abc")))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(toHex(hash("sha1", enc("abc")))).toBe("a9993e364706816aba3e25717850c26c9cd0d89d");
  });
  test("a cloned transcript hash continues independently of the original", () => {
    const h = createHash("sha384").update(enc("ab"));
    const fork = h.clone();
    expect(toHex(fork.digest())).toBe(toHex(hash("sha384", enc("ab"))));
    h.update(enc("c"));
    expect(toHex(h.digest())).toBe(toHex(hash("sha384", enc("abc"))));
  });
  test("hmac over several parts equals RFC 4231 test case 2", () => {
    const mac = hmac("sha256", enc("Jefe"), enc("what do ya want "), enc("for nothing?"));
    expect(toHex(mac)).toBe("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  });
  test("record MAC (Bun.CryptoHasher) equals the handshake HMAC and is reusable across records", () => {
    for (const alg of ["sha1", "sha256", "sha384"] as const) {
      const key = randomBytes(hashLength(alg));
      const m = createMac(alg, key);
      const a = randomBytes(13);
      const b = randomBytes(100);
      expect(toHex(m.compute(a, b))).toBe(toHex(hmac(alg, key, a, b)));
      expect(toHex(m.compute(b))).toBe(toHex(hmac(alg, key, b)));
      expect(m.outputLength).toBe(hashLength(alg));
    }
  });
});

describe("HKDF (RFC 5869 appendix A)", () => {
  test("test case 1 gives the published PRK and OKM", () => {
    const ikm = new Uint8Array(22).fill(0x0b);
    const prk = hkdfExtract("sha256", fromHex("000102030405060708090a0b0c"), ikm);
    expect(toHex(prk)).toBe("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
    const okm = hkdfExpand("sha256", prk, fromHex("f0f1f2f3f4f5f6f7f8f9"), 42);
    expect(toHex(okm)).toBe("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
  });
  test("test case 3 with empty salt and info gives the published PRK and OKM", () => {
    const prk = hkdfExtract("sha256", new Uint8Array(0), new Uint8Array(22).fill(0x0b));
    expect(toHex(prk)).toBe("19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04");
    expect(toHex(hkdfExpand("sha256", prk, new Uint8Array(0), 42))).toBe(
      "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
    );
  });
  test("rejects an output longer than 255 hash lengths", () => {
    expect(() => hkdfExpand("sha256", new Uint8Array(32), new Uint8Array(0), 255 * 32 + 1)).toThrow(CryptoError);
  });
});

describe("TLS 1.2 PRF (RFC 5246 §5)", () => {
  test("P_SHA256 matches the well-known test vector", () => {
    const out = tls12Prf("sha256", fromHex("9bbe436ba940f017b17652849a71db35"), "test label", fromHex("a0ba9f936cda311827a6f796ffd5198c"), 100);
    expect(toHex(out)).toBe(
      "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66",
    );
  });
  test("P_SHA384 agrees with openssl's TLS1-PRF", () => {
    const secret = randomBytes(48);
    const seed = randomBytes(64);
    const r = spawnSync("openssl", [
      "kdf", "-keylen", "77", "-kdfopt", "digest:SHA384", "-kdfopt", `hexsecret:${toHex(secret)}`,
      "-kdfopt", `hexseed:${toHex(concatBytes(enc("master secret"), seed))}`, "TLS1-PRF",
    ], { encoding: "utf8" });
    expect(r.status).toBe(0);
    const theirs = r.stdout.trim().replace(/:/g, "").toLowerCase();
    expect(toHex(tls12Prf("sha384", secret, "master secret", seed, 77))).toBe(theirs);
  });
});

describe("AES-GCM (McGrew–Viega test vectors)", () => {
  const K = fromHex("feffe9928665731c6d6a8f9467308308");
  const IV = fromHex("cafebabefacedbaddecaf888");
  const P = fromHex(
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
  );
  const A = fromHex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  const C = "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091";
  const T = "5bc94fbc3221a5db94fae95ae7121a47";

  test("test case 4 seals to the published ciphertext and tag at an output offset", () => {
    const aead = createAead("aes-128-gcm", K);
    const out = new Uint8Array(5 + P.length + 16);
    expect(aead.seal(IV, A, P, out, 5)).toBe(P.length + 16);
    expect(toHex(out.subarray(5))).toBe(C + T);
  });
  test("opens the published record and rejects a flipped tag bit or wrong AAD without writing plaintext", () => {
    const aead = createAead("aes-128-gcm", K);
    const rec = fromHex(C + T);
    const out = new Uint8Array(P.length);
    expect(aead.open(IV, A, rec, out, 0)).toBe(P.length);
    expect(toHex(out)).toBe(toHex(P));
    const bad = rec.slice();
    bad[bad.length - 1]! ^= 1;
    const out2 = new Uint8Array(P.length);
    expect(aead.open(IV, A, bad, out2, 0)).toBe(-1);
    expect(out2.every((b) => b === 0)).toBe(true);
    expect(aead.open(IV, A.subarray(1), rec, out2, 0)).toBe(-1);
    expect(aead.open(IV, A, rec.subarray(0, 10), out2, 0)).toBe(-1);
  });
  test("AES-256-GCM test case 16 (with AAD) matches", () => {
    const k = fromHex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
    const aead = createAead("aes-256-gcm", k);
    const out = new Uint8Array(P.length + 16);
    aead.seal(IV, A, P, out, 0);
    expect(toHex(out)).toBe(
      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662" +
        "76fc6ece0f4e1768cddf8853bb2d551b",
    );
  });
  test("seals in place when the output aliases the plaintext", () => {
    const aead = createAead("aes-128-gcm", K);
    const buf = new Uint8Array(P.length + 16);
    buf.set(P);
    aead.seal(IV, A, buf.subarray(0, P.length), buf, 0);
    expect(toHex(buf)).toBe(C + T);
  });
  test("rejects a key of the wrong length", () => {
    expect(() => createAead("aes-256-gcm", K)).toThrow(CryptoError);
  });
});

describe("AES-CBC (NIST SP 800-38A F.2.1)", () => {
  test("encrypts and decrypts the published blocks without padding", () => {
    const cbc = createCbc("aes-128-cbc", fromHex("2b7e151628aed2a6abf7158809cf4f3c"));
    const iv = fromHex("000102030405060708090a0b0c0d0e0f");
    const pt = fromHex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
    const out = new Uint8Array(32);
    expect(cbc.encrypt(iv, pt, out, 0)).toBe(32);
    expect(toHex(out)).toBe("7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2");
    const back = new Uint8Array(32);
    cbc.decrypt(iv, out, back, 0);
    expect(toHex(back)).toBe(toHex(pt));
    expect(() => cbc.encrypt(iv, pt.subarray(0, 20), out, 0)).toThrow(CryptoError);
  });
});

describe("key exchange", () => {
  test("x25519 reproduces the RFC 7748 §6.1 shared secret", () => {
    const alice = generateKeyShare("x25519", fromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
    expect(toHex(alice.publicKey)).toBe("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    const shared = alice.computeSecret(fromHex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"));
    expect(toHex(shared)).toBe("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  });
  test("x25519 rejects a low-order peer point and a wrong-length share", () => {
    const s = generateKeyShare("x25519");
    expect(() => s.computeSecret(new Uint8Array(32))).toThrow(CryptoError);
    expect(() => s.computeSecret(new Uint8Array(31).fill(9))).toThrow(CryptoError);
    try {
      s.computeSecret(new Uint8Array(32));
    } catch (e) {
      expect((e as CryptoError).code).toBe("bad-peer-key");
    }
  });
  for (const group of ["x25519", "secp256r1", "secp384r1"] as const) {
    test(`two ${group} shares agree on the secret`, () => {
      const a = generateKeyShare(group);
      const b = generateKeyShare(group);
      expect(toHex(a.computeSecret(b.publicKey))).toBe(toHex(b.computeSecret(a.publicKey)));
    });
  }
  test("NIST shares are uncompressed points and off-curve or compressed peer points are refused", () => {
    const a = generateKeyShare("secp256r1");
    expect(a.publicKey.length).toBe(65);
    expect(a.publicKey[0]).toBe(4);
    const bad = a.publicKey.slice();
    bad[64]! ^= 1;
    expect(() => a.computeSecret(bad)).toThrow(CryptoError);
    const p384 = generateKeyShare("secp384r1");
    expect(p384.publicKey.length).toBe(97);
    expect(() => a.computeSecret(p384.publicKey)).toThrow(CryptoError);
    expect(() => a.computeSecret(new Uint8Array(65).fill(0).fill(4, 0, 1))).toThrow(CryptoError);
  });
  test("P-256 ECDH agrees with node:crypto's implementation", async () => {
    const { createECDH } = await import("node:crypto");
    const ours = generateKeyShare("secp256r1");
    const theirs = createECDH("prime256v1");
    theirs.generateKeys();
    const s1 = ours.computeSecret(new Uint8Array(theirs.getPublicKey()));
    const s2 = theirs.computeSecret(ours.publicKey);
    expect(toHex(s1)).toBe(toHex(new Uint8Array(s2)));
  });
});

describe("signature keys", () => {
  const msg = enc("the TLS 1.3 CertificateVerify content");
  test("ECDSA P-256 and P-384 keys sign with every listed scheme and verify; a changed message fails", () => {
    for (const curve of ["p256", "p384"] as const) {
      const k = ecPrivateKey(curve, randomEcScalar(curve));
      for (const s of k.schemes) {
        const sig = k.sign(s, msg);
        expect(sig[0]).toBe(0x30); // DER SEQUENCE
        expect(k.publicKey.verify(s, msg, sig)).toBe(true);
        expect(k.publicKey.verify(s, enc("other"), sig)).toBe(false);
      }
      expect(k.publicKey.verify("ed25519", msg, k.sign(k.schemes[0]!, msg))).toBe(false);
    }
  });
  test("Ed25519 signs and verifies, and rejects a corrupted signature", () => {
    const k = ed25519PrivateKey(randomEd25519Seed());
    const sig = k.sign("ed25519", msg);
    expect(sig.length).toBe(64);
    expect(k.publicKey.verify("ed25519", msg, sig)).toBe(true);
    sig[10]! ^= 1;
    expect(k.publicKey.verify("ed25519", msg, sig)).toBe(false);
    expect(() => k.sign("ecdsa_secp256r1_sha256", msg)).toThrow(CryptoError);
  });
  test("Ed25519 matches RFC 8032 §7.1 test 1", () => {
    const k = ed25519PrivateKey(fromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
    expect(toHex(k.publicKey.spki.subarray(-32))).toBe("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    expect(toHex(k.sign("ed25519", new Uint8Array(0)))).toBe(
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    );
  });
  test("RSA signs PKCS#1 v1.5 and PSS, decrypts PKCS#1 v1.5 and returns null on bad padding", () => {
    const k = rsaPrivateKeyFromDer(generateRsaPkcs8(2048), "pkcs8");
    expect(k.publicKey.bits).toBe(2048);
    for (const s of k.schemes) expect(k.publicKey.verify(s, msg, k.sign(s, msg))).toBe(true);
    const pub = rsaPublicKeyFromSpki(k.publicKey.spki);
    expect(samePublicKey(pub, k.publicKey)).toBe(true);
    expect(pub.verify("rsa_pss_rsae_sha256", enc("x"), k.sign("rsa_pss_rsae_sha256", msg))).toBe(false);
    const premaster = randomBytes(48);
    const ct = pub.encryptPkcs1!(premaster);
    expect(toHex(k.decryptPkcs1!(ct)!)).toBe(toHex(premaster));
    // Random ciphertexts essentially never carry valid 00 02 padding.
    expect(k.decryptPkcs1!(randomBytes(256).fill(0, 0, 1))).toBeNull();
    expect(k.decryptPkcs1!(ct.subarray(1))).toBeNull();
    expect(k.decryptPkcs1!(new Uint8Array(256).fill(0xff))).toBeNull();
  });
  test("only curve-matching ECDSA, PSS-RSAE and Ed25519 schemes are allowed in TLS 1.3", () => {
    expect(schemeAllowedInTls13("ecdsa_secp256r1_sha256", "ecdsa-p256")).toBe(true);
    expect(schemeAllowedInTls13("ecdsa_secp384r1_sha384", "ecdsa-p256")).toBe(false);
    expect(schemeAllowedInTls13("rsa_pkcs1_sha256", "rsa")).toBe(false);
    expect(schemeAllowedInTls13("rsa_pss_rsae_sha256", "rsa")).toBe(true);
    expect(schemeAllowedInTls13("ed25519", "ed25519")).toBe(true);
  });
  test("ecPublicKey refuses a point that is not on the curve", () => {
    const k = ecPrivateKey("p256", randomEcScalar("p256"));
    const pt = k.publicKey.spki.slice(-65);
    expect(samePublicKey(ecPublicKey("p256", pt), k.publicKey)).toBe(true);
    pt[40]! ^= 1;
    expect(() => ecPublicKey("p256", pt)).toThrow(CryptoError);
  });
});

describe("small RSA keys", () => {
  test("a 1024-bit RSA key does not offer PSS with SHA-512, which cannot fit its modulus", async () => {
    const { generateKeyPairSync } = await import("node:crypto");
    const der = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs8", format: "der" });
    const k = rsaPrivateKeyFromDer(new Uint8Array(der), "pkcs8");
    expect(k.schemes).not.toContain("rsa_pss_rsae_sha512");
    expect(k.schemes).toContain("rsa_pss_rsae_sha384");
    for (const s of k.schemes) expect(k.publicKey.verify(s, enc("m"), k.sign(s, enc("m")))).toBe(true);
  });
});
