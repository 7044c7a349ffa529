// Small process helpers for the lab benchmark: run a command to completion with a deadline, and sleep.

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

export interface RunOptions {
  readonly timeoutMs?: number;
  readonly stdin?: string;
  readonly env?: Record<string, string | undefined>;
}

/** Runs argv, collects its output, and kills it (SIGKILL) if it outlives timeoutMs (default 30 s), so
 *  one stuck tool cannot hang the whole benchmark. */
export async function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const proc = Bun.spawn([...argv], {
    stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
    stdout: "pipe",
    stderr: "pipe",
    env: opts.env ? { ...process.env, ...opts.env } : process.env,
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, opts.timeoutMs ?? 30_000);
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  return { code: timedOut ? null : code, stdout, stderr, timedOut };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls check() every stepMs until it returns a value (not undefined) or timeoutMs passes. */
export async function waitFor<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs: number, stepMs = 50): Promise<T | undefined> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (performance.now() >= end) return undefined;
    await sleep(stepMs);
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Sends SIGTERM, waits up to graceMs for the process to go, then SIGKILLs it. */
export async function terminate(pid: number, graceMs = 3000): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  const gone = await waitFor(() => (isAlive(pid) ? undefined : true), graceMs);
  if (!gone) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}
