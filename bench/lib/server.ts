// Starting and stopping one VPN server (the reference ocserv or ours) inside the lab's server namespace.
// `ip netns exec` execs the server in place, so the pid Bun gets is the server's main process.

import { join } from "node:path";
import { type Lab, type CertKind, PORT } from "./lab-env.ts";
import { run, sleep, waitFor, isAlive } from "./exec.ts";
import { processTree } from "./procfs.ts";

export type ServerName = "ref" | "ours";

export interface ServerSpec {
  readonly name: ServerName;
  readonly bin: string;
  /** Arguments before `-f` (e.g. `--cpu-prof … src/cli.ts` when bin is bun itself). */
  readonly prefixArgs?: readonly string[];
  /** Arguments after `-f -c CONF` (ours: -e, log to stderr). */
  readonly extraArgs: readonly string[];
}

export interface RunningServer {
  readonly spec: ServerSpec;
  readonly pid: number;
  readonly dir: string;
  readonly log: string;
  stop(): Promise<void>;
}

export class ServerStartError extends Error {
  constructor(readonly server: ServerName, message: string) {
    super(message);
    this.name = "ServerStartError";
  }
}

function lastLines(path: string, n: number): Promise<string> {
  return Bun.file(path).text().then(
    (t) => t.trim().split("\n").slice(-n).join(" | "),
    () => "",
  );
}

/** Starts the server and waits (up to 10 s) until it listens on TCP 4443. Throws ServerStartError with
 *  the tail of its log when it exits or never listens. */
export async function startServer(lab: Lab, spec: ServerSpec, cert: CertKind, opts: { rawKey?: boolean; tag?: string } = {}): Promise<RunningServer> {
  const dir = await lab.prepareServerDir(opts.tag ?? spec.name, cert, opts.rawKey ?? false);
  const log = join(dir, `server-${Date.now()}.log`);
  const proc = Bun.spawn(["ip", "netns", "exec", lab.nsSrv, spec.bin, ...(spec.prefixArgs ?? []), "-f", "-c", join(dir, "ocserv.conf"), ...spec.extraArgs], {
    stdin: "ignore",
    stdout: Bun.file(log),
    stderr: Bun.file(log),
  });
  let exited = false;
  void proc.exited.then(() => {
    exited = true;
  });
  const listening = await waitFor(async () => {
    if (exited) return false;
    const r = await run(["ip", "netns", "exec", lab.nsSrv, "ss", "-Hltn", `sport = :${PORT}`]);
    return r.stdout.includes(`:${PORT}`) ? true : undefined;
  }, 10_000, 100);
  const stop = async (): Promise<void> => {
    // ocserv's main process terminates its workers and sec-mod on SIGTERM; anything left of the tree
    // after that is killed by pid.
    const tree = processTree(proc.pid);
    if (!exited) {
      proc.kill("SIGTERM");
      const done = await Promise.race([proc.exited.then(() => true), sleep(5000).then(() => false)]);
      if (!done) proc.kill("SIGKILL");
      await proc.exited;
    }
    for (const pid of tree) {
      if (pid !== proc.pid && isAlive(pid)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
      }
    }
    // The tun devices vanish with their fds, a moment after; the next server must start clean.
    await lab.waitLinksGone(lab.nsSrv, (n) => n.startsWith("vpns"), 5000);
  };
  if (listening !== true) {
    await stop();
    const why = exited ? `exited with code ${proc.exitCode}` : "not listening after 10 s";
    throw new ServerStartError(spec.name, `${spec.name} server ${why}: ${await lastLines(log, 3)}`);
  }
  return { spec, pid: proc.pid, dir, log, stop };
}
