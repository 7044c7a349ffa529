// TLS benchmark: full TLS 1.3 handshakes per second (RSA-2048 and ECDSA P-256 server keys) and record
// seal/open throughput, beside node:tls doing the same work in the same run (node:tls is used here
// only as a yardstick). Run: bun bench/tls.ts
//
// Ours: server + the test-only client in memory (the client skips certificate verification, node's
// client does not verify either: rejectUnauthorized=false). node:tls: server and client over loopback TCP.

import * as nodeTls from "node:tls";
import { readFileSync } from "node:fs";
import { createAead, randomBytes } from "../src/crypto/index.ts";
import { TlsServerConnection, parsePriorities, type TlsServerConfig } from "../src/tls/index.ts";
import { OutputBuffer, Tls13Protection } from "../src/tls/record.ts";
import { ContentType } from "../src/tls/codec.ts";
import { TestClient13 } from "../test/tls/client13.ts";
import { makeCerts, type KeyKind } from "../test/tls/harness.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const certs = makeCerts();
const p = parsePriorities("NORMAL");
if (!p.ok) throw new Error(p.error);
const policy = p.policy;

function oursHandshakes(kind: KeyKind): number {
  const config: TlsServerConfig = { credentials: [certs.creds(kind)], policy, clientAuth: "none" };
  const end = performance.now() + SECONDS * 1000;
  let n = 0;
  while (performance.now() < end) {
    const c = new TestClient13(new TlsServerConnection(config));
    c.server.receive(c.clientHello());
    c.pump();
    c.server.receive(c.finished());
    if (c.server.state !== "established") throw new Error("handshake failed");
    n++;
  }
  return n / SECONDS;
}

async function nodeHandshakes(kind: KeyKind): Promise<number> {
  const server = nodeTls.createServer({ key: readFileSync(certs.key(kind)), cert: readFileSync(certs.cert(kind)), minVersion: "TLSv1.3" }, (s) => s.end());
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const end = performance.now() + SECONDS * 1000;
  let n = 0;
  while (performance.now() < end) {
    await new Promise<void>((resolve, reject) => {
      const s = nodeTls.connect({ port, host: "127.0.0.1", rejectUnauthorized: false, minVersion: "TLSv1.3", ecdhCurve: "X25519" }, () => {
        s.destroy();
        resolve();
      });
      s.on("error", reject);
    });
    n++;
  }
  server.close();
  return n / SECONDS;
}

function oursRecords(): { seal: number; open: number } {
  const key = randomBytes(16);
  const iv = randomBytes(12);
  const w = new Tls13Protection(createAead("aes-128-gcm", key), iv);
  const r = new Tls13Protection(createAead("aes-128-gcm", key), iv);
  const data = randomBytes(16384);
  const out = new OutputBuffer(64 * 1024);
  const records: Uint8Array[] = [];
  let bytes = 0;
  let t0 = performance.now();
  while (performance.now() - t0 < SECONDS * 500) {
    const { buf, offset } = out.reserve(w.maxRecordSize(data.length));
    out.commit(w.seal(ContentType.application_data, data, buf, offset));
    const rec = out.take()!;
    if (records.length < 2000) records.push(rec);
    bytes += data.length;
  }
  const seal = bytes / ((performance.now() - t0) / 1000) / 1e6;
  bytes = 0;
  t0 = performance.now();
  let i = 0;
  while (i < records.length) {
    const rec = records[i++]!;
    bytes += r.open(rec[0]!, 0x0303, rec.subarray(5)).plaintext.length;
  }
  const open = bytes / ((performance.now() - t0) / 1000) / 1e6;
  return { seal, open };
}

async function nodeThroughput(): Promise<number> {
  const server = nodeTls.createServer({ key: readFileSync(certs.key("p256")), cert: readFileSync(certs.cert("p256")) }, (s) => {
    s.on("data", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  let received = 0;
  const chunk = randomBytes(16384);
  const result = await new Promise<number>((resolve) => {
    const s = nodeTls.connect({ port, host: "127.0.0.1", rejectUnauthorized: false, ciphers: "TLS_AES_128_GCM_SHA256" }, () => {
      const t0 = performance.now();
      const pump = () => {
        while (performance.now() - t0 < SECONDS * 1000) {
          received += chunk.length;
          if (!s.write(chunk)) {
            s.once("drain", pump);
            return;
          }
        }
        s.end();
        resolve(received / ((performance.now() - t0) / 1000) / 1e6);
      };
      pump();
    });
  });
  server.close();
  return result;
}

const rows: string[] = [];
for (const kind of ["rsa", "p256"] as const) {
  const label = kind === "rsa" ? "RSA-2048" : "ECDSA P-256";
  const ours = oursHandshakes(kind);
  const theirs = await nodeHandshakes(kind);
  rows.push(`full TLS 1.3 handshakes/s, ${label}: ours ${ours.toFixed(0)} (in memory, incl. client) | node:tls ${theirs.toFixed(0)} (loopback, incl. client)`);
}
const rec = oursRecords();
const nt = await nodeThroughput();
rows.push(`AES-128-GCM 16 KiB records: ours seal ${rec.seal.toFixed(0)} MB/s, open ${rec.open.toFixed(0)} MB/s | node:tls seal+open+loopback ${nt.toFixed(0)} MB/s`);
console.log(rows.join("\n"));
certs.cleanup();
process.exit(0);
