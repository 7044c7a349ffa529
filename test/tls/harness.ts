// Test-only helpers: certificates made by openssl in a temp dir, and a loopback TCP server
// (Bun.listen) that drives TlsServerConnection and echoes application data.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadPrivateKey } from "../../src/x509/keys.ts";
import { parsePem } from "../../src/x509/pem.ts";
import { TlsServerConnection, parsePriorities, type TlsCredentials, type TlsServerConfig } from "../../src/tls/index.ts";

export type KeyKind = "rsa" | "p256" | "p384" | "ed25519";

export interface CertFiles {
  dir: string;
  cert: (k: KeyKind) => string;
  key: (k: KeyKind) => string;
  creds: (k: KeyKind) => TlsCredentials;
  caCert: string;
  clientCert: string;
  clientKey: string;
  cleanup: () => void;
}

function run(cmd: string[], cwd: string): void {
  const r = Bun.spawnSync(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed: ${r.stderr.toString()}`);
}

export function makeCerts(): CertFiles {
  const dir = mkdtempSync(join(tmpdir(), "tls-test-"));
  const genArgs: Record<KeyKind, string[]> = {
    rsa: ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    p256: ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    p384: ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
    ed25519: ["-algorithm", "ED25519"],
  };
  for (const k of Object.keys(genArgs) as KeyKind[]) {
    run(["openssl", "genpkey", ...genArgs[k], "-out", `${k}.key`], dir);
    run(["openssl", "req", "-new", "-x509", "-key", `${k}.key`, "-out", `${k}.crt`, "-days", "2", "-subj", `/CN=localhost`, "-addext", "subjectAltName=DNS:localhost"], dir);
  }
  // a CA and a client certificate it issued
  run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ca.key"], dir);
  run(["openssl", "req", "-new", "-x509", "-key", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=Test CA"], dir);
  run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "client.key"], dir);
  run(["openssl", "req", "-new", "-key", "client.key", "-out", "client.csr", "-subj", "/CN=alice"], dir);
  run(["openssl", "x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "client.crt", "-days", "2"], dir);
  const der = (file: string): Uint8Array[] => parsePem(readFileSync(join(dir, file), "utf8")).map((b) => b.der);
  return {
    dir,
    cert: (k) => join(dir, `${k}.crt`),
    key: (k) => join(dir, `${k}.key`),
    creds: (k) => ({ chain: der(`${k}.crt`), key: loadPrivateKey(readFileSync(join(dir, `${k}.key`), "utf8")) }),
    caCert: join(dir, "ca.crt"),
    clientCert: join(dir, "client.crt"),
    clientKey: join(dir, "client.key"),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function policy(s = "NORMAL") {
  const p = parsePriorities(s);
  if (!p.ok) throw new Error(p.error);
  return p.policy;
}

export interface RunningServer {
  port: number;
  connections: TlsServerConnection[];
  stop: () => void;
}

/**
 * Serves TLS on loopback. Each decrypted record is answered by `respond` (default: echo). `onEstablished`
 * runs once per connection when the handshake completes.
 */
export function serve(
  config: TlsServerConfig,
  opts: {
    respond?: (conn: TlsServerConnection, data: Uint8Array) => void;
    onEstablished?: (conn: TlsServerConnection) => void;
  } = {},
): RunningServer {
  const connections: TlsServerConnection[] = [];
  const server = Bun.listen<{ tls: TlsServerConnection; announced: boolean }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(sock) {
        const tls = new TlsServerConnection(config);
        connections.push(tls);
        sock.data = { tls, announced: false };
      },
      data(sock, bytes) {
        const { tls } = sock.data;
        tls.receive(new Uint8Array(bytes));
        if (tls.state === "established" && !sock.data.announced) {
          sock.data.announced = true;
          opts.onEstablished?.(tls);
        }
        for (let d = tls.readApplicationData(); d !== null; d = tls.readApplicationData()) {
          if (opts.respond) opts.respond(tls, d);
          else tls.write(d);
        }
        const out = tls.takeOutgoing();
        if (out !== null) sock.write(out);
        if (tls.state === "closed") sock.end();
      },
    },
  });
  return { port: server.port, connections, stop: () => server.stop(true) };
}

export interface ProcResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a client process, writing each element of `input` to its stdin (with a pause between them so
 * that s_client sees its `k`/`K` commands as separate reads). stdin stays open until the process exits
 * (our echo responder closes the connection, which ends the clients); killed after timeoutMs.
 */
export async function runClient(cmd: string[], input: string | string[], timeoutMs = 8000, stdinDelayMs = 0): Promise<ProcResult> {
  const p = Bun.spawn(cmd, { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => p.kill(), timeoutMs);
  const parts = typeof input === "string" ? [input] : input;
  for (const part of parts) {
    if (stdinDelayMs > 0) await Bun.sleep(stdinDelayMs);
    try {
      p.stdin.write(part);
      await p.stdin.flush();
    } catch {
      break; // the client already exited
    }
  }
  void p.exited.then(() => {
    try {
      p.stdin.end();
    } catch {
      /* already closed */
    }
  });
  const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  const code = await p.exited;
  clearTimeout(timer);
  return { code, stdout, stderr };
}

export { writeFileSync };
