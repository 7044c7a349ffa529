// The lab: two network namespaces (server 10.66.0.1, client 10.66.0.2) made by the shared
// /work/shared/lab/netns.sh, certificates made by the shared certs.sh, and ref.conf rendered for each
// server. The shared scripts are used by path (repo root's parent /shared/lab), never copied, so the lab
// stays the one the lead and bench.sh use.
//
// Namespace names carry our pid so a run of bench.sh (which uses ocl-srv/ocl-cli) or a second lab run
// cannot collide with ours; netns.sh takes the names from NS_SRV/NS_CLI.

import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { run, sleep, waitFor } from "./exec.ts";

export const SERVER_ADDR = "10.66.0.1";
export const PORT = 4443;
export const USER = "test";
export const PASSWORD = "secret";

export type CertKind = "rsa" | "ecdsa";

export interface LabPaths {
  readonly repo: string;
  readonly sharedLab: string;
  readonly work: string;
  readonly certs: string;
  readonly vpncScript: string;
}

export function labPaths(repo: string, work: string): LabPaths {
  return {
    repo,
    sharedLab: resolve(repo, "..", "shared", "lab"),
    work,
    certs: join(work, "certs"),
    vpncScript: resolve(repo, "bench", "lib", "vpnc-script.sh"),
  };
}

export class LabError extends Error {
  constructor(readonly code: "lab-setup" | "lab-certs", message: string) {
    super(message);
    this.name = "LabError";
  }
}

export class Lab {
  readonly nsSrv: string;
  readonly nsCli: string;
  private up = false;

  constructor(readonly paths: LabPaths) {
    this.nsSrv = `ocl-srv-b${process.pid}`;
    this.nsCli = `ocl-cli-b${process.pid}`;
  }

  private get nsEnv(): Record<string, string> {
    return { NS_SRV: this.nsSrv, NS_CLI: this.nsCli };
  }

  /** Creates the namespaces and the certificates. Throws LabError when the namespaces do not come up
   *  with their addresses (netns.sh itself does not stop on errors). */
  async setUp(): Promise<void> {
    mkdirSync(this.paths.work, { recursive: true });
    this.up = true;
    const r = await run([join(this.paths.sharedLab, "netns.sh"), "up"], { env: this.nsEnv, timeoutMs: 15_000 });
    const addr = await run(["ip", "-n", this.nsSrv, "-4", "-o", "addr", "show", "dev", "ocl-s"]);
    if (!addr.stdout.includes(`${SERVER_ADDR}/24`)) {
      throw new LabError("lab-setup", `netns.sh up did not give ${this.nsSrv} its address: ${r.stderr.trim() || addr.stderr.trim()}`);
    }
    const c = await run([join(this.paths.sharedLab, "certs.sh"), this.paths.certs], { timeoutMs: 60_000 });
    if (c.code !== 0 || !existsSync(join(this.paths.certs, "server-key.pem"))) {
      throw new LabError("lab-certs", `certs.sh failed: ${c.stderr.trim()}`);
    }
    // certtool writes a human-readable dump of the key before the PEM block. GnuTLS (the reference
    // server) skips it; our PEM loader currently does not when the dump is longer than 4 KiB (a
    // 3072-bit RSA key), so both servers get the same key re-encoded as plain PKCS#8 PEM. Same key
    // material, so the comparison is unaffected; the loader bug is reported separately.
    for (const k of ["server-key", "server-ec-key"]) {
      const p = await run(["openssl", "pkey", "-in", join(this.paths.certs, `${k}.pem`), "-out", join(this.paths.certs, `${k}.plain.pem`)]);
      if (p.code !== 0) throw new LabError("lab-certs", `openssl pkey ${k}: ${p.stderr.trim()}`);
    }
  }

  pin(kind: CertKind): string {
    return readFileSync(join(this.paths.certs, kind === "rsa" ? "server-pin.txt" : "server-ec-pin.txt"), "utf8").trim();
  }

  /** A work directory for one server instance with ref.conf rendered into it (and the passwd file). */
  async prepareServerDir(name: string, cert: CertKind, rawKey = false): Promise<string> {
    const dir = join(this.paths.work, `${name}-${cert}`);
    mkdirSync(dir, { recursive: true });
    const certs = this.paths.certs;
    let conf = readFileSync(join(this.paths.sharedLab, "ref.conf"), "utf8").replaceAll("@DIR@", dir).replaceAll("@CERTS@", certs);
    const base = cert === "rsa" ? "server" : "server-ec";
    const [certFile, keyFile] = [`${base}-cert.pem`, rawKey ? `${base}-key.pem` : `${base}-key.plain.pem`];
    conf = conf
      .replace(/^server-cert = .*$/m, `server-cert = ${join(certs, certFile)}`)
      .replace(/^server-key = .*$/m, `server-key = ${join(certs, keyFile)}`);
    writeFileSync(join(dir, "ocserv.conf"), conf);
    if (!existsSync(join(dir, "passwd"))) {
      // Same hash format as bench.sh: SHA-256 crypt, which both servers verify through crypt(3) rules.
      const h = await run(["openssl", "passwd", "-5", "-salt", "labsalt", PASSWORD]);
      writeFileSync(join(dir, "passwd"), `${USER}:*:${h.stdout.trim()}\n`);
    }
    return dir;
  }

  /** The IPv4 address the server gave its own end of the first tun device (the iperf3 target), found
   *  the way bench.sh does: any address in the server namespace not on lo or the veth. */
  async serverTunAddress(): Promise<string | undefined> {
    const r = await run(["ip", "-n", this.nsSrv, "-4", "-o", "addr", "show"]);
    for (const line of r.stdout.split("\n")) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || f[1] === "lo" || f[1]!.startsWith("ocl-")) continue;
      const a = f[3]!.split("/")[0];
      if (a) return a;
    }
    return undefined;
  }

  /** Whether the route to target from the client namespace goes through iface (the vpnc-script has
   *  run and the tunnel is the path), polled for up to timeoutMs. */
  async waitRoute(target: string, iface: string, timeoutMs: number): Promise<boolean> {
    const ok = await waitFor(async () => {
      const r = await run(["ip", "-n", this.nsCli, "-4", "route", "get", target]);
      return r.stdout.includes(` dev ${iface} `) ? true : undefined;
    }, timeoutMs);
    return ok === true;
  }

  /** Waits until no link whose name passes test is left in ns: a tun device outlives its process for a
   *  moment while the kernel unregisters it, and a stale one would lend its address or its name to
   *  the next run. */
  async waitLinksGone(ns: string, test: (name: string) => boolean, timeoutMs: number): Promise<boolean> {
    const ok = await waitFor(async () => {
      const r = await run(["ip", "-n", ns, "-o", "link", "show"]);
      // "7: vpns0: <POINTOPOINT,…" or "3: ocl-s@if2: <…"
      const names = r.stdout.split("\n").map((l) => l.split(":")[1]?.trim().split("@")[0] ?? "");
      return names.some((n) => n !== "" && test(n)) ? undefined : true;
    }, timeoutMs);
    return ok === true;
  }

  /** Kills every process still inside the two namespaces (only ever ones this run started: the
   *  namespaces are ours and private), then removes the namespaces. Safe to call twice. */
  async tearDown(keepWork: boolean): Promise<void> {
    if (!this.up) return;
    this.up = false;
    for (const sig of ["SIGTERM", "SIGKILL"] as const) {
      let any = false;
      for (const ns of [this.nsCli, this.nsSrv]) {
        const r = await run(["ip", "netns", "pids", ns]);
        for (const s of r.stdout.split(/\s+/)) {
          const pid = Number(s);
          if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) continue;
          try {
            process.kill(pid, sig);
            any = true;
          } catch {
            // gone already
          }
        }
      }
      if (!any) break;
      await sleep(sig === "SIGTERM" ? 1500 : 300);
    }
    await run([join(this.paths.sharedLab, "netns.sh"), "down"], { env: this.nsEnv });
    if (!keepWork) rmSync(this.paths.work, { recursive: true, force: true });
  }
}
