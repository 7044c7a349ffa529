import { test, expect } from "bun:test";
import { createHmac } from "node:crypto";
import { tls10Prf, md5 } from "../../src/crypto/index.ts";

// An independent P_hash on node:crypto HMAC, to check the TLS 1.0 PRF used by DTLS 1.0 and 0.9.
function pHash(alg: string, secret: Uint8Array, seed: Uint8Array, n: number): Buffer {
  const out: Buffer[] = [];
  let a: Buffer = createHmac(alg, secret).update(seed).digest();
  let len = 0;
  while (len < n) {
    const b = createHmac(alg, secret).update(a).update(seed).digest();
    out.push(b);
    len += b.length;
    a = createHmac(alg, secret).update(a).digest();
  }
  return Buffer.concat(out).subarray(0, n);
}

test("the TLS 1.0 PRF is P_MD5 over the first half XOR P_SHA1 over the second (odd length shares a byte)", () => {
  for (const len of [48, 47, 32]) {
    const secret = Uint8Array.from({ length: len }, (_, i) => (i * 7 + 3) & 0xff);
    const seed = new TextEncoder().encode("key expansion" + "x".repeat(64));
    const half = Math.ceil(len / 2);
    const a = pHash("md5", secret.subarray(0, half), seed, 104);
    const b = pHash("sha1", secret.subarray(len - half), seed, 104);
    const want = Buffer.alloc(104);
    for (let i = 0; i < 104; i++) want[i] = a[i]! ^ b[i]!;
    const got = tls10Prf(secret, "key expansion", new TextEncoder().encode("x".repeat(64)), 104);
    expect(Buffer.from(got).toString("hex")).toBe(want.toString("hex"));
  }
});

test("md5 matches the RFC 1321 test vector", () => {
  expect(Buffer.from(md5(new TextEncoder().encode("abc"))).toString("hex")).toBe("900150983cd24fb0d6963f7d28e17f72");
});
