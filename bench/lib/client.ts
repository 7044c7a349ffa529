// One openconnect session from the lab's client namespace. openconnect -b authenticates, brings the
// tunnel up (runs the vpnc-script) and only then forks into the background, so the foreground process's
// lifetime is the connect time: authentication + CSTP CONNECT + tunnel configured.

import { join } from "node:path";
import { readFileSync } from "node:fs";
import { type Lab, SERVER_ADDR, PORT, USER, PASSWORD } from "./lab-env.ts";
import { run, waitFor, terminate } from "./exec.ts";

export type Mode = "dtls" | "tls";

export interface Session {
  readonly iface: string;
  /** The backgrounded openconnect's pid (from its pid file). */
  readonly pid: number;
  readonly connectSeconds: number;
  readonly log: string;
  disconnect(): Promise<void>;
}

export type ConnectResult = { readonly ok: true; readonly session: Session } | { readonly ok: false; readonly error: string };

function readLog(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

export async function connect(lab: Lab, opts: { mode: Mode; iface: string; pin: string; dir: string }): Promise<ConnectResult> {
  const log = join(opts.dir, `client-${opts.iface}-${opts.mode}-${Date.now()}.log`);
  const pidFile = join(opts.dir, `oc-${opts.iface}.pid`);
  const argv = [
    "ip", "netns", "exec", lab.nsCli, "sh", "-c", 'exec openconnect "$@" >"$OC_LOG" 2>&1', "openconnect",
    ...(opts.mode === "tls" ? ["--no-dtls"] : []),
    `--user=${USER}`, "--passwd-on-stdin", `--servercert=pin-sha256:${opts.pin}`,
    `--interface=${opts.iface}`, `--script=/bin/sh ${lab.paths.vpncScript}`,
    "-b", `--pid-file=${pidFile}`, `https://${SERVER_ADDR}:${PORT}`,
  ];
  const t0 = performance.now();
  const r = await run(argv, { stdin: `${PASSWORD}\n`, timeoutMs: 20_000, env: { OC_LOG: log } });
  const connectSeconds = (performance.now() - t0) / 1000;
  const pid = await waitFor(() => {
    try {
      const n = Number(readFileSync(pidFile, "utf8").trim());
      return Number.isInteger(n) && n > 1 ? n : undefined;
    } catch {
      return undefined;
    }
  }, 2000);
  if (r.code !== 0 || pid === undefined) {
    if (pid !== undefined) await terminate(pid);
    const tail = readLog(log).trim().split("\n").slice(-2).join(" | ");
    return { ok: false, error: r.timedOut ? `openconnect timed out: ${tail}` : `openconnect exit ${r.code}: ${tail}` };
  }
  const session: Session = {
    iface: opts.iface,
    pid,
    connectSeconds,
    log,
    // SIGTERM makes openconnect send the BYE packet and log out, as a user's disconnect would.
    disconnect: async () => {
      await terminate(pid);
      await lab.waitLinksGone(lab.nsCli, (n) => n === opts.iface, 3000);
    },
  };
  return { ok: true, session };
}

export function clientLog(s: Session): string {
  return readLog(s.log);
}

/** The TLS suite openconnect reports for the HTTPS/CSTP connection, e.g.
 *  "(TLS1.3)-(ECDHE-X25519)-(RSA-PSS-RSAE-SHA256)-(AES-256-GCM)". */
export function tlsSuite(s: Session): string | undefined {
  return /Connected to HTTPS on \S+ with ciphersuite (.*)$/m.exec(clientLog(s))?.[1]?.trim();
}

/** Waits up to timeoutMs for openconnect to report DTLS up. Returns the suite line, or the reason it
 *  gave for not using DTLS (e.g. "No DTLS address", "DTLS handshake failed") prefixed by
 *  "DTLS not established". */
export async function waitForDtls(s: Session, timeoutMs: number): Promise<{ established: boolean; line: string }> {
  const found = await waitFor(() => {
    const m = /Established DTLS connection.*$/m.exec(clientLog(s));
    return m ? m[0].trim() : undefined;
  }, timeoutMs, 50);
  if (found) return { established: true, line: found };
  const why = /^(No DTLS address|Set up UDP failed.*|DTLS handshake failed.*|.*DTLS.*(?:fail|error|timeout).*)$/im.exec(clientLog(s));
  return { established: false, line: `DTLS not established${why ? `: ${why[0].trim()}` : ""}` };
}
