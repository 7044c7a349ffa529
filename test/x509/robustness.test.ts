import { test, expect, describe, beforeAll } from "bun:test";
import { createCertificate, createCrl, generateKey, loadPrivateKey, parseCertificate, parseCrl, parsePublicKey, X509Error } from "../../src/x509/index.ts";
import { seq, oid, bitString } from "../../src/x509/der-writer.ts";

// Deterministic xorshift so a failure reproduces.
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

function mutations(der: Uint8Array, count: number, seed: number): Uint8Array[] {
  const next = rng(seed);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const m = der.slice();
    const n = 1 + (next() % 3);
    for (let j = 0; j < n; j++) m[next() % m.length] = next() & 0xff;
    out.push(next() % 4 === 0 ? m.subarray(0, next() % m.length) : m);
  }
  return out;
}

function onlyTypedErrors(parse: () => unknown): void {
  try {
    parse();
  } catch (e) {
    if (!(e instanceof X509Error)) throw new Error(`untyped error: ${(e as Error).name}: ${(e as Error).message}`);
  }
}

let certDer: Uint8Array;
let crlDer: Uint8Array;
let keyDers: Uint8Array[];

beforeAll(() => {
  const { key, pem } = generateKey("ecdsa-p256");
  const now = new Date(Date.UTC(2026, 0, 1));
  const later = new Date(Date.UTC(2027, 0, 1));
  const made = createCertificate({
    subject: { CN: "Fuzz", O: "Example", UID: "fuzz" }, subjectKey: key, issuer: "self", notBefore: now, notAfter: later,
    isCa: true, pathLen: 1, keyUsage: ["keyCertSign", "cRLSign", "digitalSignature"], extKeyUsage: ["clientAuth"],
    dnsNames: ["a.example"], emails: ["f@example.com"], ipAddresses: ["192.0.2.1"],
  });
  certDer = made.der;
  crlDer = createCrl({ issuer: made.cert, key, revokedSerials: ["01", "02"], thisUpdate: now, nextUpdate: later, crlNumber: 9 }).der;
  const edPem = generateKey("ed25519").pem;
  keyDers = [pem, edPem].map((p) => new Uint8Array(Buffer.from(p.split("\n").filter((l) => !l.startsWith("-----")).join(""), "base64")));
});

describe("malformed input gives X509Error and nothing else", () => {
  test("thousands of mutated certificates either parse or throw X509Error", () => {
    expect(parseCertificate(certDer).subject.first("2.5.4.3")).toBe("Fuzz");
    for (const m of mutations(certDer, 3000, 1)) onlyTypedErrors(() => parseCertificate(m));
  });
  test("mutated CRLs either parse or throw X509Error", () => {
    expect(parseCrl(crlDer).revokedSerials.has("02")).toBe(true);
    for (const m of mutations(crlDer, 2000, 2)) onlyTypedErrors(() => parseCrl(m));
  });
  test("mutated PKCS#8 keys either load or throw X509Error", () => {
    for (const [i, der] of keyDers.entries()) for (const m of mutations(der, 1000, 3 + i)) onlyTypedErrors(() => loadPrivateKey(m));
  });
  test("a secp256k1 public key is reported as an unsupported algorithm", () => {
    const spki = seq(seq(oid("1.2.840.10045.2.1"), oid("1.3.132.0.10")), bitString(new Uint8Array(65).fill(4, 0, 1)));
    try {
      parsePublicKey(spki);
      throw new Error("accepted secp256k1");
    } catch (e) {
      expect((e as X509Error).code).toBe("unsupported-algorithm");
    }
  });
});
