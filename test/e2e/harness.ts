// End-to-end harness: two private network namespaces joined by a veth pair (server side and client
// side), the compiled server in one, the real `openconnect` client in the other. Everything a test
// creates (namespaces, temp dirs, processes) is torn down by `lab.close()`. Only addresses inside these
// namespaces are ever used as targets.

import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "../..");
export const BINARY = join(ROOT, "dist/ocserv");

export const canRunE2E =
  process.getuid?.() === 0 && Bun.which("openconnect") !== null && Bun.which("ip") !== null && existsSync(BINARY);

let labCounter = 0;

export interface CmdResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function run(cmd: string[], opts: { stdin?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<CmdResult> {
  const proc = Bun.spawn(cmd, {
    stdin: opts.stdin !== undefined ? new TextEncoder().encode(opts.stdin) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: opts.env ?? (process.env as Record<string, string>),
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), opts.timeoutMs ?? 20_000);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

export async function sh(script: string, timeoutMs = 20_000): Promise<CmdResult> {
  return run(["bash", "-c", script], { timeoutMs });
}

export async function waitFor(pred: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 100): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await pred()) return true;
    await Bun.sleep(stepMs);
  }
  return false;
}

export interface Server {
  proc: ReturnType<typeof Bun.spawn>;
  log(): string;
  stop(): Promise<void>;
}

export interface Client {
  pid: number | null;
  log(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export class Lab {
  readonly srvNs: string;
  readonly cliNs: string;
  readonly srvIp: string;
  readonly cliIp: string;
  readonly dir: string;
  private servers: Server[] = [];
  private clients: Client[] = [];
  private static next = 0;

  private constructor(readonly id: number) {
    const tag = `${process.pid % 10000}-${id}`;
    this.srvNs = `oce-s-${tag}`;
    this.cliNs = `oce-c-${tag}`;
    const net = 200 + (id % 50);
    this.srvIp = `10.${net}.0.1`;
    this.cliIp = `10.${net}.0.2`;
    this.dir = mkdtempSync(join(tmpdir(), "ocserv-e2e-"));
  }

  static async create(): Promise<Lab> {
    const lab = new Lab(++labCounter + Lab.next++);
    const s = lab.srvNs;
    const c = lab.cliNs;
    const vs = `ve${lab.id}s${process.pid % 1000}`;
    const vc = `ve${lab.id}c${process.pid % 1000}`;
    const r = await sh(`set -e
      ip netns add ${s}; ip netns add ${c}
      ip link add ${vs} type veth peer name ${vc}
      ip link set ${vs} netns ${s}; ip link set ${vc} netns ${c}
      ip -n ${s} addr add ${lab.srvIp}/24 dev ${vs}; ip -n ${c} addr add ${lab.cliIp}/24 dev ${vc}
      ip -n ${s} link set lo up; ip -n ${c} link set lo up
      ip -n ${s} link set ${vs} up; ip -n ${c} link set ${vc} up`);
    if (r.code !== 0) {
      await lab.close();
      throw new Error(`netns setup failed: ${r.stderr}`);
    }
    return lab;
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  write(name: string, text: string): string {
    const p = this.path(name);
    writeFileSync(p, text);
    return p;
  }

  /** CA, RSA server certificate for srvIp, and helpers for user certificates, made with openssl. */
  async makeCerts(): Promise<{ ca: string; caKey: string; cert: string; key: string; pin: string }> {
    const d = this.dir;
    const r = await sh(`set -e; cd ${d}
      openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca-cert.pem -days 30 -subj "/CN=Test CA" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
      openssl req -newkey rsa:2048 -nodes -keyout server-key.pem -out server.csr -subj "/CN=vpn.test" 2>/dev/null
      printf 'subjectAltName=IP:${this.srvIp},DNS:vpn.test\\nextendedKeyUsage=serverAuth\\n' > server.ext
      openssl x509 -req -in server.csr -CA ca-cert.pem -CAkey ca-key.pem -CAcreateserial -out server-cert.pem -days 30 -extfile server.ext 2>/dev/null
      openssl x509 -in server-cert.pem -noout -pubkey | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64 > pin.txt`);
    if (r.code !== 0) throw new Error(`cert generation failed: ${r.stderr}`);
    return {
      ca: this.path("ca-cert.pem"),
      caKey: this.path("ca-key.pem"),
      cert: this.path("server-cert.pem"),
      key: this.path("server-key.pem"),
      pin: readFileSync(this.path("pin.txt"), "utf8").trim(),
    };
  }

  /** A client certificate signed by the lab CA (or another CA), with UID and CN set to `user`. */
  async makeUserCert(user: string, opts: { caCert?: string; caKey?: string; name?: string } = {}): Promise<{ cert: string; key: string }> {
    const name = opts.name ?? user;
    const ca = opts.caCert ?? this.path("ca-cert.pem");
    const caKey = opts.caKey ?? this.path("ca-key.pem");
    const r = await sh(`set -e; cd ${this.dir}
      openssl req -newkey rsa:2048 -nodes -keyout ${name}-key.pem -out ${name}.csr -subj "/CN=${user}/UID=${user}" 2>/dev/null
      printf 'extendedKeyUsage=clientAuth\\nkeyUsage=critical,digitalSignature\\n' > client.ext
      openssl x509 -req -in ${name}.csr -CA ${ca} -CAkey ${caKey} -CAcreateserial -out ${name}-cert.pem -days 30 -extfile client.ext 2>/dev/null`);
    if (r.code !== 0) throw new Error(`user cert failed: ${r.stderr}`);
    return { cert: this.path(`${name}-cert.pem`), key: this.path(`${name}-key.pem`) };
  }

  async passwdLine(user: string, password: string, groups = "*"): Promise<string> {
    const r = await run(["openssl", "passwd", "-6", "-salt", "e2esalt", password]);
    return `${user}:${groups}:${r.stdout.trim()}\n`;
  }

  async startServer(configText: string, extraArgs: string[] = [], env?: Record<string, string>): Promise<Server> {
    const conf = this.write("ocserv.conf", configText);
    const logPath = this.path(`server-${this.servers.length}.log`);
    const proc = Bun.spawn(["ip", "netns", "exec", this.srvNs, BINARY, "-f", "-e", "-c", conf, ...extraArgs], {
      ...(env !== undefined ? { env: { ...(process.env as Record<string, string>), ...env } } : {}),
      stdout: Bun.file(logPath),
      stderr: Bun.file(logPath),
      stdin: "ignore",
    });
    const server: Server = {
      proc,
      log: () => (existsSync(logPath) ? readFileSync(logPath, "utf8") : ""),
      stop: async () => {
        proc.kill("SIGTERM");
        const t = setTimeout(() => proc.kill("SIGKILL"), 3000);
        await proc.exited;
        clearTimeout(t);
      },
    };
    this.servers.push(server);
    const port = /^tcp-port\s*=\s*(\d+)/m.exec(configText)?.[1] ?? "443";
    const up = await waitFor(async () => {
      if (proc.exitCode !== null) return true;
      const r = await run(["ip", "netns", "exec", this.srvNs, "ss", "-ltnH", `sport = :${port}`]);
      return r.stdout.includes(`:${port}`);
    }, 10_000);
    if (!up || proc.exitCode !== null) throw new Error(`server did not start (exit ${proc.exitCode}):\n${server.log()}`);
    return server;
  }

  /**
   * Runs openconnect in the client namespace in the background (-b) and waits until it has brought the
   * tunnel up (or failed). `args` are extra openconnect arguments.
   */
  async connect(opts: { user?: string; password?: string; pin: string; args?: string[]; iface?: string; stdin?: string; url?: string }): Promise<Client & { code: number; up: boolean; iface: string }> {
    const n = this.clients.length;
    const iface = opts.iface ?? `oc${n}`;
    const pidFile = this.path(`oc-${n}.pid`);
    const logPath = this.path(`client-${n}.log`);
    const args = [
      "ip", "netns", "exec", this.cliNs, "openconnect",
      "--servercert", `pin-sha256:${opts.pin}`,
      `--interface=${iface}`, "-b", `--pid-file=${pidFile}`, "--non-inter",
      "--script", join(ROOT, "test/e2e/vpnc-script.sh"),
      ...(opts.user !== undefined ? [`--user=${opts.user}`] : []),
      ...(opts.password !== undefined ? ["--passwd-on-stdin"] : []),
      ...(opts.args ?? []),
      opts.url ?? `https://${this.srvIp}:4443`,
    ];
    const stdin = opts.stdin ?? (opts.password !== undefined ? `${opts.password}\n` : undefined);
    // With -b the backgrounded client keeps its stdout and stderr open, so they go to a file, not a pipe.
    const proc = Bun.spawn(args, {
      stdin: stdin !== undefined ? new TextEncoder().encode(stdin) : "ignore",
      stdout: Bun.file(logPath),
      stderr: Bun.file(logPath),
      env: { ...(process.env as Record<string, string>), E2E_DIR: this.dir },
    });
    const killer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
    const r = { code: await proc.exited };
    clearTimeout(killer);
    const up = r.code === 0 && (await waitFor(async () => (await this.ifaceAddr(this.cliNs, iface)) !== null, 5000));
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8").trim()) : null;
    const client = {
      pid,
      iface,
      code: r.code,
      up,
      log: () => readFileSync(logPath, "utf8"),
      stop: async (signal: NodeJS.Signals = "SIGTERM") => {
        if (pid === null) return;
        try {
          process.kill(pid, signal);
        } catch {}
        await waitFor(() => {
          try {
            process.kill(pid, 0);
            return false;
          } catch {
            return true;
          }
        }, 5000);
      },
    };
    this.clients.push(client);
    return client;
  }

  /** The environment openconnect handed the vpnc-script for `iface` (what the server sent). */
  vpncEnv(iface: string): Record<string, string> {
    const p = this.path(`vpnc-${iface}.env`);
    if (!existsSync(p)) return {};
    const out: Record<string, string> = {};
    for (const line of readFileSync(p, "utf8").split("\n")) {
      const i = line.indexOf("=");
      if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
    }
    return out;
  }

  async ifaceAddr(ns: string, iface: string, family: 4 | 6 = 4): Promise<string | null> {
    const r = await run(["ip", "-n", ns, `-${family}`, "-j", "addr", "show", "dev", iface]);
    if (r.code !== 0) return null;
    try {
      const j = JSON.parse(r.stdout) as { addr_info?: { local: string; scope: string }[] }[];
      const a = j[0]?.addr_info?.find((x) => x.scope !== "link");
      return a?.local ?? null;
    } catch {
      return null;
    }
  }

  async ping(ns: string, target: string, count = 2): Promise<boolean> {
    const v6 = target.includes(":");
    const r = await run(["ip", "netns", "exec", ns, "ping", ...(v6 ? ["-6"] : []), "-c", String(count), "-i", "0.2", "-W", "2", target], { timeoutMs: 15_000 });
    return r.code === 0;
  }

  async links(ns: string): Promise<string[]> {
    const r = await run(["ip", "-n", ns, "-j", "link", "show"]);
    try {
      return (JSON.parse(r.stdout) as { ifname: string }[]).map((l) => l.ifname);
    } catch {
      return [];
    }
  }

  async close(): Promise<void> {
    for (const c of this.clients) await c.stop("SIGKILL").catch(() => {});
    for (const s of this.servers) await s.stop().catch(() => {});
    await sh(`ip netns del ${this.srvNs} 2>/dev/null; ip netns del ${this.cliNs} 2>/dev/null; true`);
    if (!process.env.KEEP_E2E) rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A minimal server configuration for the lab; `extra` lines are appended (later keys win for scalars,
 * list keys append). `auth` replaces the default plain-password method (auth lines are AND-composed).
 */
export function baseConfig(lab: Lab, certs: { cert: string; key: string; ca: string }, extra = "", auth: string[] = [`plain[passwd=${lab.path("passwd")}]`]): string {
  return `${auth.map((a) => `auth = "${a}"`).join("\n")}
tcp-port = 4443
udp-port = 4443
socket-file = ${lab.path("ocserv-socket")}
server-cert = ${certs.cert}
server-key = ${certs.key}
ca-cert = ${certs.ca}
device = vpns
ipv4-network = 10.${labNet(lab)}.0.0
ipv4-netmask = 255.255.255.0
dns = 10.${labNet(lab)}.0.1
route = 10.${labNet(lab) + 1}.0.0/255.255.255.0
keepalive = 32400
dpd = 90
mobile-dpd = 1800
cookie-timeout = 300
max-clients = 16
max-same-clients = 2
isolate-workers = false
${extra}
`;
}

export function labNet(lab: Lab): number {
  return 100 + (lab.id % 50) * 2;
}
