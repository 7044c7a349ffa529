// Shared helpers for the X.509 interop tests: a temp dir and synchronous openssl/certtool runs.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export class TempDir {
  readonly dir: string;
  constructor(prefix: string) {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
  }
  path(name: string): string {
    return join(this.dir, name);
  }
  write(name: string, data: string | Uint8Array): string {
    const p = this.path(name);
    writeFileSync(p, data);
    return p;
  }
  read(name: string): Uint8Array {
    return new Uint8Array(readFileSync(this.path(name)));
  }
  text(name: string): string {
    return readFileSync(this.path(name), "utf8");
  }
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface RunResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a tool; throws with its stderr unless `allowFail`. */
export function run(cmd: string, args: string[], opts: { cwd?: string; input?: string; allowFail?: boolean } = {}): RunResult {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, input: opts.input, encoding: "utf8", timeout: 30_000 });
  const res = { status: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  if (res.status !== 0 && !opts.allowFail) throw new Error(`${cmd} ${args.join(" ")} failed (${res.status}): ${res.stderr}`);
  return res;
}

export const openssl = (args: string[], opts: { cwd?: string; input?: string; allowFail?: boolean } = {}) => run("openssl", args, opts);
export const certtool = (args: string[], opts: { cwd?: string; input?: string; allowFail?: boolean } = {}) => run("certtool", args, opts);
