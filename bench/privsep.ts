// Remote signing round trip: a worker (dropped to nobody) signs through main, blocking (sync, what
// PrivateKey.sign() forces today) and over the event-loop channel (async), against signing in-process.
// Run as root: bun bench/privsep.ts [rounds]
import { join } from "node:path";
import { spawnWorker } from "../src/privsep/spawn.ts";
import { createKeyService } from "../src/privsep/key-service.ts";
import { lookupUser } from "../src/privsep/libc.ts";
import { ecPrivateKey, randomEcScalar, rsaPrivateKeyFromDer, generateRsaPkcs8 } from "../src/crypto/keys.ts";
import type { PrivateKey, SignatureScheme } from "../src/crypto/types.ts";
import { T } from "../test/privsep/fixtures/types.ts";

const rounds = Number(process.argv[2] ?? 2000);
const enc = new TextEncoder();
const dec = new TextDecoder();
const nobody = lookupUser("nobody");
const keys: PrivateKey[] = [ecPrivateKey("p256", randomEcScalar("p256")), rsaPrivateKeyFromDer(generateRsaPkcs8(2048), "pkcs8")];
const service = createKeyService(keys);
const w = await spawnWorker({
  command: [process.execPath, join(import.meta.dir, "..", "test", "privsep", "fixtures", "worker.ts")],
  plan: { uid: nobody.uid, gid: nobody.gid, chroot: null, dumpable: false },
  listenFds: [],
  keys: service,
  onRequest: service.handle,
});

// A TLS 1.3 CertificateVerify input (the only shape main signs besides a TLS 1.2 ServerKeyExchange).
const message = new Uint8Array(64 + 33 + 1 + 32).fill(0x20);
message.set(enc.encode("TLS 1.3, server CertificateVerify"), 64);
message[97] = 0;

async function remote(key: number, scheme: SignatureScheme, mode: "sync" | "async", n: number): Promise<number> {
  const body = enc.encode(JSON.stringify({ key, scheme, message: [...message], rounds: n, mode }));
  const ans = JSON.parse(dec.decode((await w.control.request(T.Sign, body)).body)) as { ns: number };
  return ans.ns / n / 1000;
}

function local(key: number, scheme: SignatureScheme, n: number): number {
  const t0 = Bun.nanoseconds();
  for (let i = 0; i < n; i++) keys[key]!.sign(scheme, message);
  return (Bun.nanoseconds() - t0) / n / 1000;
}

for (const mode of ["sync", "async"] as const) {
  const n = rounds * 5;
  const body = enc.encode(JSON.stringify({ rounds: 200, mode }));
  await w.control.request(T.RoundTrip, body); // warm up
  const ans = JSON.parse(dec.decode((await w.control.request(T.RoundTrip, enc.encode(JSON.stringify({ rounds: n, mode })))).body)) as { ns: number };
  console.log(`request round trip (key info), ${mode.padEnd(5)}: ${(ans.ns / n / 1000).toFixed(1)} µs`);
}

const cases: [number, SignatureScheme, number][] = [
  [0, "ecdsa_secp256r1_sha256", rounds],
  [1, "rsa_pss_rsae_sha256", Math.max(10, Math.floor(rounds / 10))],
];
console.log(`remote signing, µs per signature (worker as uid ${nobody.uid})`);
console.log("scheme                    local   remote-sync  remote-async  sync overhead");
for (const [k, scheme, n] of cases) {
  await remote(k, scheme, "sync", Math.min(n, 50)); // warm up
  const l = local(k, scheme, n);
  const s = await remote(k, scheme, "sync", n);
  const a = await remote(k, scheme, "async", n);
  console.log(`${scheme.padEnd(24)} ${l.toFixed(1).padStart(7)} ${s.toFixed(1).padStart(12)} ${a.toFixed(1).padStart(13)} ${(s - l).toFixed(1).padStart(14)}`);
}
w.kill("SIGTERM");
await w.exited;
