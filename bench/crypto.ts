// Crypto throughput on this machine: AEAD seal/open MB/s for 1400-byte records (the packet path)
// and ops/s for the handshake operations. Run: bun bench/crypto.ts
// Numbers vary 1.5–3x with scheduling on shared VMs (bun-runtime-notes); compare within a run.

import {
  createAead,
  createCbc,
  createMac,
  ecPrivateKey,
  ed25519PrivateKey,
  generateKeyShare,
  generateRsaPkcs8,
  randomBytes,
  randomEcScalar,
  randomEd25519Seed,
  rsaPrivateKeyFromDer,
  type PrivateKey,
  type SignatureScheme,
} from "../src/crypto/index.ts";

const RECORD = 1400;

function timeIt(label: string, minMs: number, op: () => void, bytesPerOp = 0): void {
  for (let i = 0; i < 50; i++) op(); // warm-up
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    for (let i = 0; i < 64; i++) op();
    n += 64;
    elapsed = performance.now() - start;
  } while (elapsed < minMs);
  const opsPerSec = (n * 1000) / elapsed;
  const mb = bytesPerOp > 0 ? `  ${((opsPerSec * bytesPerOp) / 1e6).toFixed(0)} MB/s` : "";
  console.log(`${label.padEnd(42)} ${opsPerSec.toFixed(0).padStart(9)} ops/s${mb}`);
}

for (const alg of ["aes-128-gcm", "aes-256-gcm"] as const) {
  const aead = createAead(alg, randomBytes(alg === "aes-128-gcm" ? 16 : 32));
  const nonce = randomBytes(12);
  const aad = randomBytes(13);
  const pt = randomBytes(RECORD);
  const rec = new Uint8Array(RECORD + 16);
  const back = new Uint8Array(RECORD);
  timeIt(`${alg} seal 1400 B`, 500, () => aead.seal(nonce, aad, pt, rec, 0), RECORD);
  aead.seal(nonce, aad, pt, rec, 0);
  timeIt(`${alg} open 1400 B`, 500, () => {
    if (aead.open(nonce, aad, rec, back, 0) < 0) throw new Error("open failed");
  }, RECORD);
}
{
  const cbc = createCbc("aes-128-cbc", randomBytes(16));
  const mac = createMac("sha1", randomBytes(20));
  const iv = randomBytes(16);
  const data = randomBytes(1408);
  const out = new Uint8Array(1408);
  timeIt("aes-128-cbc + hmac-sha1 encrypt 1400 B", 500, () => {
    mac.compute(data.subarray(0, 1388));
    cbc.encrypt(iv, data, out, 0);
  }, RECORD);
}

{
  const mac = createMac("sha256", randomBytes(32));
  const data = randomBytes(RECORD);
  timeIt("record HMAC-SHA256 1400 B", 400, () => mac.compute(data), RECORD);
}

const msg = randomBytes(130);
function signBench(name: string, key: PrivateKey, scheme: SignatureScheme): void {
  timeIt(`${name} sign`, 400, () => key.sign(scheme, msg));
  const sig = key.sign(scheme, msg);
  timeIt(`${name} verify`, 400, () => {
    if (!key.publicKey.verify(scheme, msg, sig)) throw new Error("verify failed");
  });
}
const rsa = rsaPrivateKeyFromDer(generateRsaPkcs8(2048), "pkcs8");
signBench("RSA-2048 PKCS#1 v1.5 sha256", rsa, "rsa_pkcs1_sha256");
signBench("RSA-2048 PSS sha256", rsa, "rsa_pss_rsae_sha256");
signBench("ECDSA P-256 sha256", ecPrivateKey("p256", randomEcScalar("p256")), "ecdsa_secp256r1_sha256");
signBench("ECDSA P-384 sha384", ecPrivateKey("p384", randomEcScalar("p384")), "ecdsa_secp384r1_sha384");
signBench("Ed25519", ed25519PrivateKey(randomEd25519Seed()), "ed25519");
for (const g of ["x25519", "secp256r1", "secp384r1"] as const) {
  const peer = generateKeyShare(g).publicKey;
  timeIt(`ECDHE ${g} (keygen + shared secret)`, 400, () => generateKeyShare(g).computeSecret(peer));
}
{
  const ct = rsa.publicKey.encryptPkcs1!(randomBytes(48));
  timeIt("RSA-2048 PKCS#1 decrypt (TLS 1.2 kex)", 400, () => rsa.decryptPkcs1!(ct));
}
