// Going to the background without fork(). Bun cannot fork, so the parent re-executes itself (the compiled
// binary, or bun + the script) detached in a new session (setsid, via Bun.spawn's `detached`), with
// stdin/stdout/stderr on /dev/null and one extra pipe on fd 3. The child, told by DAEMON_CHILD_ENV that
// it is the daemon, starts the server and then writes "READY" on fd 3 and closes it; or "FAIL <reason>".
// The parent waits for that line (or for the child's exit) and exits 0 only on READY, so a daemon that
// cannot start is reported on the terminal that started it, with exit status 1 — as ocserv's daemon()
// parent cannot, but systemd Type=forking users expect.
import { closeSync, writeSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import type { CliOptions } from "./argv.ts";

export const DAEMON_CHILD_ENV = "OCSERV_DAEMON_CHILD";
/** The readiness pipe's fd number in the child: the first one after stdio. */
export const READY_FD = 3;
/** How long the parent waits for the child to report; a slow key load should fit well within it. */
export const READY_TIMEOUT_MS = 120_000;
const MAX_REPORT_BYTES = 4096;
const FAIL_EXIT_WAIT_MS = 5_000;

export type DaemonStart =
  | { readonly kind: "ready"; readonly pid: number }
  | { readonly kind: "failed"; readonly pid: number; readonly message: string };

/**
 * The child's argv: the same options with paths made absolute, because the child may chdir to "/" before
 * it reads them again. -f is not passed: DAEMON_CHILD_ENV marks the child instead.
 */
export function childArgv(options: CliOptions, cwd: string): string[] {
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(cwd, p));
  const argv = ["--config", abs(options.config)];
  if (options.pidFile !== null) argv.push("--pid-file", abs(options.pidFile));
  if (options.debug !== null) argv.push("--debug", String(options.debug));
  if (options.logStderr) argv.push("--log-stderr");
  if (options.syslog) argv.push("--syslog");
  if (options.syslogFacility !== null) argv.push("--syslog-facility", options.syslogFacility);
  if (options.noChdir) argv.push("--no-chdir");
  if (options.traceable) argv.push("--traceable");
  return argv;
}

export interface SpawnDaemonParams {
  /** The program and its leading arguments: [binary] or [bun, script]. */
  readonly command: readonly string[];
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly timeoutMs?: number;
}

/** Parent side: starts the detached child and waits for its report. */
export async function spawnDaemon(p: SpawnDaemonParams): Promise<DaemonStart> {
  const child = Bun.spawn({
    cmd: [...p.command, ...p.argv],
    env: { ...p.env, [DAEMON_CHILD_ENV]: String(READY_FD) },
    cwd: p.cwd,
    detached: true,
    stdio: ["ignore", "ignore", "ignore", "pipe"],
  });
  const readyFd = child.stdio[READY_FD];
  if (typeof readyFd !== "number") {
    child.kill("SIGKILL");
    return { kind: "failed", pid: child.pid, message: "could not create the readiness pipe" };
  }
  const report = readReport(readyFd);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((res) => {
    timer = setTimeout(() => res("timeout"), p.timeoutMs ?? READY_TIMEOUT_MS);
  });
  const outcome = await Promise.race([report, child.exited.then((code) => ({ exit: code })), timeout]);
  clearTimeout(timer);
  if (outcome === "timeout") {
    child.kill("SIGKILL");
    return { kind: "failed", pid: child.pid, message: "the server did not report readiness in time" };
  }
  if (outcome === "") {
    // The pipe closed without a report: the child died. Its exit status is the useful part.
    const code = await Promise.race([child.exited, Bun.sleep(FAIL_EXIT_WAIT_MS).then(() => null)]);
    const how = code === null ? "closed its readiness pipe" : `exited with status ${code}`;
    return { kind: "failed", pid: child.pid, message: `the server ${how} before it was ready` };
  }
  if (typeof outcome === "string") {
    if (outcome === "READY") {
      child.unref();
      return { kind: "ready", pid: child.pid };
    }
    const reason = outcome.startsWith("FAIL ") ? outcome.slice(5) : "the server stopped before it was ready";
    // The child exits right after a failure report; wait (briefly) so our exit means it is gone too.
    await Promise.race([child.exited, Bun.sleep(FAIL_EXIT_WAIT_MS)]);
    return { kind: "failed", pid: child.pid, message: reason };
  }
  return { kind: "failed", pid: child.pid, message: `the server exited with status ${outcome.exit} before it was ready` };
}

/** Reads the first line (bounded) the child writes on the pipe; "" at EOF without a line. */
async function readReport(fd: number): Promise<string> {
  const reader = Bun.file(fd).stream().getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    while (text.length < MAX_REPORT_BYTES) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      const nl = text.indexOf("\n");
      if (nl >= 0) return text.slice(0, nl);
    }
  } catch {
    // A read error means the child is gone; the exit status tells the rest.
  } finally {
    reader.releaseLock();
  }
  return text.slice(0, MAX_REPORT_BYTES);
}

/** Child side: the write end of the readiness pipe. Each method writes at most once, then closes. */
export interface Readiness {
  ready(): void;
  fail(message: string): void;
}

export function openReadiness(fd: number): Readiness {
  let open = true;
  const send = (line: string) => {
    if (!open) return;
    open = false;
    try {
      writeSync(fd, `${line.replace(/[\r\n]+/g, " ").slice(0, MAX_REPORT_BYTES - 2)}\n`);
    } catch {
      // The parent is gone (killed, or timed out): nobody is left to tell.
    }
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  };
  return { ready: () => send("READY"), fail: (m) => send(`FAIL ${m}`) };
}

/** A Readiness that does nothing: the foreground server has no parent waiting. */
export const NO_READINESS: Readiness = Object.freeze({ ready() {}, fail() {} });
