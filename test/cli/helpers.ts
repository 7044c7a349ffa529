// Shared set-up for the CLI tests: the compiled binary (built once if missing), and a temporary directory
// with certificates made by openssl and the fixture configurations rendered into it.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createCertificate, createCrl, generateKey, loadCertificates, loadPrivateKey } from "../../src/x509/index.ts";

export const ROOT = resolve(import.meta.dir, "../..");
export const BINARY = join(ROOT, "dist", "ocserv");
const FIXTURES = join(ROOT, "test", "fixtures", "cli");

/** The newest modification time under a directory (source files only). */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".ts")) continue;
    newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/**
 * Builds dist/ocserv if it is missing or older than the sources (scripts/test.ts builds it before the
 * suite; a bare `bun test` may find a stale one).
 */
export async function ensureBinary(): Promise<string> {
  const stale = !existsSync(BINARY)
    || statSync(BINARY).mtimeMs < Math.max(newestMtime(join(ROOT, "src")), statSync(join(ROOT, "package.json")).mtimeMs);
  if (stale) {
    const p = Bun.spawn({ cmd: [process.execPath, join(ROOT, "scripts", "build.ts")], cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
    if ((await p.exited) !== 0) throw new Error("building dist/ocserv failed");
  }
  return BINARY;
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function run(cmd: readonly string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<RunResult> {
  const p = Bun.spawn({
    cmd: [...cmd],
    cwd: opts.cwd ?? ROOT,
    env: opts.env ?? (process.env as Record<string, string>),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

function openssl(dir: string, args: string[]): void {
  const r = Bun.spawnSync({ cmd: ["openssl", ...args], cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  if (r.exitCode !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${r.stderr.toString()}`);
}

export interface Lab {
  readonly dir: string;
  /** Renders test/fixtures/cli/<name> into the lab directory; returns its path. */
  config(name: string): string;
  /** Writes a configuration from text (with @DIR@ replaced); returns its path. */
  write(name: string, text: string): string;
  cleanup(): void;
}

export function makeLab(): Lab {
  const dir = mkdtempSync(join(tmpdir(), "ocserv-cli-"));
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  openssl(dir, ["req", "-x509", ...ec, "-keyout", "ca-key.pem", "-out", "ca-cert.pem", "-days", "365", "-subj", "/CN=Test CA"]);
  openssl(dir, ["req", "-new", ...ec, "-keyout", "server-key.pem", "-out", "server.csr", "-subj", "/CN=vpn.example.com"]);
  openssl(dir, ["x509", "-req", "-in", "server.csr", "-CA", "ca-cert.pem", "-CAkey", "ca-key.pem", "-days", "365", "-set_serial", "2", "-out", "server-cert.pem"]);
  openssl(dir, ["req", "-x509", ...ec, "-keyout", "other-key.pem", "-out", "other-cert.pem", "-days", "365", "-subj", "/CN=other.example.com"]);
  // Expires in 10 days: inside the 30-day warning window.
  openssl(dir, ["req", "-x509", ...ec, "-keyout", "expiring-key.pem", "-out", "expiring-cert.pem", "-days", "10", "-subj", "/CN=expiring.example.com"]);
  // Already expired: openssl 3.0 cannot back-date, so this one comes from src/x509.
  const expired = generateKey("ecdsa-p256");
  writeFileSync(join(dir, "expired-key.pem"), expired.pem);
  writeFileSync(join(dir, "expired-cert.pem"), createCertificate({
    subject: { CN: "expired.example.com" }, subjectKey: expired.key, issuer: "self",
    notBefore: new Date("2020-01-01T00:00:00Z"), notAfter: new Date("2021-01-01T00:00:00Z"),
    isCa: false, keyUsage: ["digitalSignature"], extKeyUsage: ["serverAuth"],
  }).pem);
  const ca = { cert: loadCertificates(readFileSync(join(dir, "ca-cert.pem"), "utf8"))[0]!, key: loadPrivateKey(readFileSync(join(dir, "ca-key.pem"), "utf8")) };
  const now = Date.now();
  writeFileSync(join(dir, "crl.pem"), createCrl({
    issuer: ca.cert, key: ca.key, revokedSerials: [5n], crlNumber: 1,
    thisUpdate: new Date(now - 3_600_000), nextUpdate: new Date(now + 30 * 86_400_000),
  }).pem);
  mkdirSync(join(dir, "users"));
  writeFileSync(join(dir, "users", "alice"), "route = 10.1.0.0/16\nno-udp = true\n");
  mkdirSync(join(dir, "bad-users"));
  writeFileSync(join(dir, "bad-users", "alice"), "route = 10.1.0.0/16\n");
  writeFileSync(join(dir, "bad-users", "bob"), "dpd = 90\nroute = not-a-route\n");
  const hash = Bun.spawnSync({ cmd: ["openssl", "passwd", "-5", "-salt", "saltsaltsalt", "secret"] }).stdout.toString().trim();
  writeFileSync(join(dir, "ocpasswd"), `alice:users:${hash}\nbob:*:${hash}\n`);
  writeFileSync(join(dir, "bad-ocpasswd"), `alice:users:${hash}\ncarol:users:$9$nonsense\n`);
  writeFileSync(join(dir, "connect.sh"), "#!/bin/sh\nexit 0\n");
  chmodSync(join(dir, "connect.sh"), 0o755);
  writeFileSync(join(dir, "not-executable.sh"), "#!/bin/sh\nexit 0\n");
  chmodSync(join(dir, "not-executable.sh"), 0o644);
  const render = (text: string) => text.replaceAll("@DIR@", dir);
  return {
    dir,
    config(name) {
      const out = join(dir, name);
      writeFileSync(out, render(readFileSync(join(FIXTURES, name), "utf8")));
      return out;
    },
    write(name, text) {
      const out = join(dir, name);
      writeFileSync(out, render(text));
      return out;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
