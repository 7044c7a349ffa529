// Shared set-up for the applet tests: running the applets as processes (through `bun src/cli.ts` with
// OCSERV_APPLET, or through a link to the compiled binary), temporary directories, openssl.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "../..");
export const CLI = join(ROOT, "src", "cli.ts");

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: Record<string, string | undefined>;
  /** Bytes for stdin; stdin is closed (empty) when absent. */
  readonly stdin?: string;
  /** The argv[0] the child sees (exec -a); default: cmd[0]. */
  readonly argv0?: string;
}

export async function run(cmd: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...opts.env })) if (v !== undefined) env[k] = v;
  const p = Bun.spawn({
    cmd: [...cmd],
    cwd: opts.cwd ?? ROOT,
    env,
    stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
    stdout: "pipe",
    stderr: "pipe",
    ...(opts.argv0 !== undefined ? { argv0: opts.argv0 } : {}),
  });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

/** Runs an applet from the sources: `bun src/cli.ts ARGS` with OCSERV_APPLET=name. */
export function runApplet(name: "ocpasswd" | "ocserv-certtool", args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return run([process.execPath, CLI, ...args], { ...opts, env: { ...opts.env, OCSERV_APPLET: name } });
}

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `ocserv-tools-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function openssl(args: readonly string[], opts: { cwd?: string; stdin?: Uint8Array } = {}): { code: number; stdout: string; stderr: string } {
  const r = Bun.spawnSync({
    cmd: ["openssl", ...args],
    cwd: opts.cwd ?? ROOT,
    stdin: opts.stdin ?? "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}
