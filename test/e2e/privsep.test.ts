// Privilege separation end to end: the compiled server with run-as-user = nobody runs as a root main
// process and an unprivileged worker; the real
// openconnect client logs in, brings the tunnel up and passes traffic through the worker. Also checked:
// who runs as what, that the worker cannot read the server key, that a SIGKILLed worker's tun devices are
// released and its clients reconnect, SIGHUP, and that main gives up (exit 1) when workers keep dying.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { Lab, baseConfig, canRunE2E, labNet, run, waitFor, type Server } from "./harness.ts";
import { udpByteCounter } from "./helpers.ts";

const suite = canRunE2E && Bun.which("iperf3") !== null && Bun.which("nft") !== null ? describe : describe.skip;

interface ProcIds {
  uid: number;
  gid: number;
  noNewPrivs: number;
}

function procIds(pid: number): ProcIds {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(s)?.[1] ?? "-1");
  return { uid: field("Uid"), gid: field("Gid"), noNewPrivs: field("NoNewPrivs") };
}

async function workerPids(server: Server): Promise<number[]> {
  const r = await run(["pgrep", "-P", String(server.proc.pid)]);
  return r.stdout
    .trim()
    .split("\n")
    .filter((l) => l !== "")
    .map(Number);
}

suite("privilege separation (run-as-user = nobody)", () => {
  let lab: Lab;
  let certs: Awaited<ReturnType<Lab["makeCerts"]>>;
  let net: number;
  let udpBytes: () => Promise<number>;

  beforeAll(async () => {
    lab = await Lab.create();
    certs = await lab.makeCerts();
    chmodSync(certs.key, 0o600);
    net = labNet(lab);
    lab.write("passwd", (await lab.passwdLine("test", "secret")) + (await lab.passwdLine("other", "pw2")));
    // Count UDP bytes reaching the server's port inside the server namespace.
    udpBytes = await udpByteCounter(lab.srvNs, "dport");
  }, 60_000);

  afterAll(async () => {
    await lab?.close();
  });

  const config = (extra = "", auth?: string[]) => baseConfig(lab, certs, `run-as-user = nobody\n${extra}`, auth);

  async function withServer<T>(extra: string, body: (server: Server) => Promise<T>, auth?: string[]): Promise<T> {
    const server = await lab.startServer(config(extra, auth));
    try {
      expect(await waitFor(() => server.log().includes("worker ready"), 5000)).toBe(true);
      return await body(server);
    } catch (e) {
      console.error(server.log());
      throw e;
    } finally {
      await server.stop();
    }
  }

  async function iperf(reverse: boolean): Promise<number> {
    const srv = Bun.spawn(["ip", "netns", "exec", lab.srvNs, "iperf3", "-s", "-1", "-B", `10.${net}.0.1`], { stdout: "ignore", stderr: "ignore" });
    await Bun.sleep(400);
    const r = await run(["ip", "netns", "exec", lab.cliNs, "iperf3", "-J", "-t", "2", ...(reverse ? ["-R"] : []), "-c", `10.${net}.0.1`], { timeoutMs: 20_000 });
    await srv.exited;
    try {
      return (JSON.parse(r.stdout).end.sum_received.bits_per_second as number) / 1e6;
    } catch {
      return 0;
    }
  }

  async function tunLinks(): Promise<string[]> {
    return (await lab.links(lab.srvNs)).filter((l) => l.startsWith("vpns"));
  }

  /** ifindex of each vpns* device in the server namespace (a re-created vpns0 gets a new index). */
  async function tunIndexes(): Promise<number[]> {
    const r = await run(["ip", "-n", lab.srvNs, "-j", "link", "show"]);
    try {
      return (JSON.parse(r.stdout) as { ifname: string; ifindex: number }[]).filter((l) => l.ifname.startsWith("vpns")).map((l) => l.ifindex);
    } catch {
      return [];
    }
  }

  test("the worker runs as nobody with no_new_privs while main stays root, and it cannot read the server key", async () => {
    await withServer("", async (server) => {
      expect(procIds(server.proc.pid).uid).toBe(0);
      const workers = await workerPids(server);
      expect(workers.length).toBe(1);
      const w = procIds(workers[0]!);
      expect(w.uid).toBe(65534);
      expect(w.gid).toBe(65534);
      expect(w.noNewPrivs).toBe(1);
      // The key file is root's alone; a process with the worker's credentials cannot open it.
      const st = statSync(certs.key);
      expect(st.uid).toBe(0);
      expect(st.mode & 0o077).toBe(0);
      const asWorker = await run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "cat", certs.key]);
      expect(asWorker.code).not.toBe(0);
      expect(asWorker.stdout).not.toContain("PRIVATE KEY");
    });
  }, 60_000);

  const dtlsModes: [string, string[], RegExp][] = [
    ["PSK-NEGOTIATE", [], /\(DTLS1\.2\)-\(PSK\)-\(AES-(128|256)-GCM\)/],
    ["legacy OC-DTLS1_2-AES256-GCM", ["--dtls-ciphers=OC-DTLS1_2-AES256-GCM"], /\(DTLS1\.2\)-\(RSA\)-\(AES-256-GCM\)/],
  ];
  for (const [name, args, suiteRe] of dtlsModes) {
    test(`${name} DTLS runs in the worker: ping and iperf3 cross the UDP channel`, async () => {
      await withServer("", async (server) => {
        expect(server.log()).toContain("DTLS on the UDP socket");
        const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args });
        expect(c.up).toBe(true);
        expect(await waitFor(() => c.log().includes("Established DTLS connection"), 5000)).toBe(true);
        expect(c.log()).toMatch(suiteRe);
        const before = await udpBytes();
        expect(await lab.ping(lab.cliNs, `10.${net}.0.1`, 3)).toBe(true);
        expect(await iperf(false)).toBeGreaterThan(1);
        expect(await iperf(true)).toBeGreaterThan(1);
        expect((await udpBytes()) - before).toBeGreaterThan(2_000_000);
        await c.stop();
      });
    }, 60_000);
  }

  test("a password login through the worker brings the tunnel up, and ping and iperf3 pass both ways over TLS", async () => {
    await withServer("", async (server) => {
      const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--no-dtls"] });
      expect(c.up).toBe(true);
      // Main authenticated (it holds the passwd file); the worker served the connection.
      expect(server.log()).toMatch(/ocserv\[\d+\]: user 'test' authenticated/);
      expect(server.log()).toMatch(/ocserv-worker\[\d+\]: .*user 'test' authenticated/);
      expect(await lab.ping(lab.cliNs, `10.${net}.0.1`, 3)).toBe(true);
      expect(await iperf(false)).toBeGreaterThan(1);
      expect(await iperf(true)).toBeGreaterThan(1);
      // main gave the device to run-as-user (TUNSETOWNER), as ocserv does.
      const [dev] = await tunLinks();
      expect((await run(["ip", "netns", "exec", lab.srvNs, "cat", `/sys/class/net/${dev}/owner`])).stdout.trim()).toBe("65534");
      // A wrong password is refused by main.
      const bad = await lab.connect({ user: "test", password: "wrong", pin: certs.pin });
      expect(bad.up).toBe(false);
      await c.stop();
      // The client's BYE ends the session: main releases the tun device.
      expect(await waitFor(async () => (await tunLinks()).length === 0, 5000)).toBe(true);
    });
  }, 90_000);

  test("a SIGKILLed worker's tun devices are released, a new worker starts, and the client reconnects with its cookie", async () => {
    await withServer("", async (server) => {
      const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin });
      expect(c.up).toBe(true);
      const before = await tunIndexes();
      expect(before.length).toBe(1);
      const [old] = await workerPids(server);
      process.kill(old!, "SIGKILL");
      // The replacement is up once it says so (it is root for a moment after the spawn, before its drop).
      expect(await waitFor(() => (server.log().match(/worker ready/g) ?? []).length === 2, 5000)).toBe(true);
      const [fresh] = await workerPids(server);
      expect(fresh).not.toBe(old);
      expect(procIds(fresh!).uid).toBe(65534);
      // The old device went with the worker; the client reconnects (same cookie) and gets a new one.
      expect(await waitFor(async () => !(await tunIndexes()).includes(before[0]!), 5000)).toBe(true);
      expect(server.log()).toMatch(/session \S+ of test on vpns\d+ ended: error/);
      expect(await waitFor(() => lab.ping(lab.cliNs, `10.${net}.0.1`, 1), 20_000, 500)).toBe(true);
      expect(c.log()).toMatch(/Got CONNECT response: HTTP\/1\.1 200 CONNECTED[\s\S]*Got CONNECT response: HTTP\/1\.1 200 CONNECTED/);
      await c.stop();
    });
  }, 90_000);

  test("SIGHUP reaches the workers: new connections get the new routes and running tunnels keep going", async () => {
    await withServer("", async (server) => {
      const a = await lab.connect({ user: "test", password: "secret", pin: certs.pin });
      expect(a.up).toBe(true);
      expect(lab.vpncEnv(a.iface).CISCO_SPLIT_INC_0_ADDR).toBe(`10.${net + 1}.0.0`);
      lab.write("ocserv.conf", config().replace(/^route = .*$/m, `route = 10.${net + 9}.0.0/255.255.0.0`));
      server.proc.kill("SIGHUP");
      expect(await waitFor(() => /ocserv-worker\[\d+\]: configuration reloaded/.test(server.log()), 5000)).toBe(true);
      const b = await lab.connect({ user: "other", password: "pw2", pin: certs.pin });
      expect(b.up).toBe(true);
      expect(lab.vpncEnv(b.iface).CISCO_SPLIT_INC_0_ADDR).toBe(`10.${net + 9}.0.0`);
      expect(await lab.ping(lab.cliNs, `10.${net}.0.1`, 2)).toBe(true);
      await a.stop();
      await b.stop();
    });
  }, 90_000);

  test("with chroot-dir the worker lives in an empty directory and still serves TLS, DTLS and the socket options", async () => {
    const jail = lab.path("jail");
    mkdirSync(jail, { mode: 0o755 });
    await withServer(`chroot-dir = ${jail}\nnet-priority = 3\noutput-buffer = 10\n`, async (server) => {
      const [w] = await workerPids(server);
      expect(readlinkSync(`/proc/${w}/root`)).toBe(jail);
      const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin });
      expect(c.up).toBe(true);
      expect(await waitFor(() => c.log().includes("Established DTLS connection"), 5000)).toBe(true);
      expect(await lab.ping(lab.cliNs, `10.${net}.0.1`, 2)).toBe(true);
      await c.stop();
    });
  }, 60_000);

  test("net-priority and output-buffer are applied by the worker, on the connection it holds", async () => {
    await withServer("net-priority = 3\noutput-buffer = 10\n", async (server) => {
      const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--no-dtls"] });
      expect(c.up).toBe(true);
      expect(await lab.ping(lab.cliNs, `10.${net}.0.1`, 2)).toBe(true);
      expect(server.log()).not.toContain("cannot apply net-priority/output-buffer");
      await c.stop();
    });
  }, 60_000);

  test("connect-script and disconnect-script run in main, as root, with the session's values", async () => {
    const connect = lab.write("connect.sh", `#!/bin/sh\n{ env | sort; echo UID_IS=$(id -u); } > ${lab.path("split-connect.txt")}\nexit 0\n`);
    const disconnect = lab.write("disconnect.sh", `#!/bin/sh\n{ env | sort; echo UID_IS=$(id -u); } > ${lab.path("split-disconnect.txt")}\nexit 0\n`);
    chmodSync(connect, 0o755);
    chmodSync(disconnect, 0o755);
    await withServer(`connect-script = ${connect}\ndisconnect-script = ${disconnect}\n`, async () => {
      const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--no-dtls"] });
      expect(c.up).toBe(true);
      const env = readFileSync(lab.path("split-connect.txt"), "utf8");
      expect(env).toContain("USERNAME=test\n");
      expect(env).toContain("REASON=connect\n");
      expect(env).toMatch(/DEVICE=vpns\d+\n/);
      expect(env).toContain(`IP_REAL=${lab.cliIp}\n`);
      expect(env).toContain("UID_IS=0\n");
      expect(await lab.ping(lab.cliNs, `10.${net}.0.1`, 2)).toBe(true);
      await c.stop();
      expect(await waitFor(() => existsSync(lab.path("split-disconnect.txt")) && readFileSync(lab.path("split-disconnect.txt"), "utf8").includes("UID_IS="), 5000)).toBe(true);
      expect(readFileSync(lab.path("split-disconnect.txt"), "utf8")).toContain("REASON=disconnect\n");
    });
  }, 60_000);

  test("a connect-script that exits non-zero refuses the session through the worker", async () => {
    const script = lab.write("deny.sh", "#!/bin/sh\nexit 1\n");
    chmodSync(script, 0o755);
    await withServer(`connect-script = ${script}\n`, async () => {
      const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--no-dtls"] });
      expect(c.up).toBe(false);
      expect(await tunLinks()).toEqual([]);
    });
  }, 60_000);

  test("the worker drops a client that stops answering DPD, and main releases its device", async () => {
    await withServer("dpd = 2\nmobile-dpd = 2\n", async () => {
      const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--no-dtls"] });
      expect(c.up).toBe(true);
      await c.stop("SIGSTOP");
      const gone = await waitFor(async () => (await tunLinks()).length === 0, 20_000, 250);
      if (c.pid !== null) process.kill(c.pid, "SIGCONT");
      expect(gone).toBe(true);
      await c.stop("SIGKILL");
    });
  }, 60_000);

  test("an idle tunnel is closed after idle-timeout", async () => {
    await withServer("idle-timeout = 3\n", async (server) => {
      const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--no-dtls"] });
      expect(c.up).toBe(true);
      expect(await waitFor(async () => (await tunLinks()).length === 0, 20_000, 250)).toBe(true);
      expect(server.log()).toMatch(/ended: idle-timeout/);
      await c.stop("SIGKILL");
    });
  }, 60_000);

  test("a client certificate verified by the worker logs in without a password", async () => {
    const user = await lab.makeUserCert("test");
    await withServer(
      "cert-user-oid = 0.9.2342.19200300.100.1.1\n",
      async () => {
        const c = await lab.connect({ pin: certs.pin, args: ["--no-dtls", `--certificate=${user.cert}`, `--sslkey=${user.key}`] });
        expect(c.up).toBe(true);
        expect(await lab.ping(lab.cliNs, `10.${net}.0.1`, 2)).toBe(true);
        await c.stop();
      },
      ["certificate"],
    );
  }, 60_000);

  test("a second CONNECT with a live tunnel's cookie takes it over: main ends the old tunnel in the worker", async () => {
    await withServer("", async (server) => {
      const auth = await run(
        ["ip", "netns", "exec", lab.cliNs, "openconnect", "--authenticate", "--non-inter", "--passwd-on-stdin", "--user=test",
          "--servercert", `pin-sha256:${certs.pin}`, `https://${lab.srvIp}:4443`],
        { stdin: "secret\n", timeoutMs: 20_000 },
      );
      expect(auth.code).toBe(0);
      const cookie = /^COOKIE='?([^'\n]+)'?$/m.exec(auth.stdout)?.[1];
      expect(cookie).toBeDefined();
      const first = await lab.connect({ pin: certs.pin, args: ["--no-dtls", "--cookie-on-stdin"], stdin: `${cookie}\n` });
      expect(first.up).toBe(true);
      const addr1 = await lab.ifaceAddr(lab.cliNs, first.iface);
      // The first client goes quiet (its TCP connection stays open), as after a network change.
      await first.stop("SIGSTOP");
      const second = await lab.connect({ pin: certs.pin, args: ["--no-dtls", "--cookie-on-stdin"], stdin: `${cookie}\n` });
      try {
        expect(second.up).toBe(true);
        expect(await lab.ifaceAddr(lab.cliNs, second.iface)).toBe(addr1);
        expect(server.log()).toMatch(/ended: user-reconnect/);
        expect(await waitFor(async () => (await tunLinks()).length === 1, 5000)).toBe(true);
        expect(await lab.ping(lab.cliNs, `10.${net}.0.1`, 2)).toBe(true);
      } finally {
        if (first.pid !== null) process.kill(first.pid, "SIGCONT");
        await first.stop("SIGKILL");
        await second.stop();
      }
    });
  }, 60_000);

  test("max-same-clients is enforced by main across connections", async () => {
    await withServer("max-same-clients = 1\n", async () => {
      const a = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--no-dtls"] });
      expect(a.up).toBe(true);
      const b = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--no-dtls"] });
      expect(b.up).toBe(false);
      const other = await lab.connect({ user: "other", password: "pw2", pin: certs.pin, args: ["--no-dtls"] });
      expect(other.up).toBe(true);
      await a.stop();
      await other.stop();
    });
  }, 60_000);

  test("OCSERV_PRIVSEP=0 keeps one process even with run-as-user", async () => {
    const server = await lab.startServer(config(), [], { OCSERV_PRIVSEP: "0" });
    try {
      const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin });
      expect(c.up).toBe(true);
      expect(await workerPids(server)).toEqual([]);
      expect(server.log()).not.toContain("worker ready");
      await c.stop();
    } finally {
      await server.stop();
    }
  }, 60_000);

  test("main exits with status 1 when its workers keep dying", async () => {
    const server = await lab.startServer(config());
    try {
      expect(await waitFor(() => server.log().includes("worker ready"), 5000)).toBe(true);
      for (let i = 0; i < 8 && server.proc.exitCode === null; i++) {
        const pids = await workerPids(server);
        for (const p of pids) process.kill(p, "SIGKILL");
        await waitFor(async () => server.proc.exitCode !== null || ((await workerPids(server)).length > 0 && !(await workerPids(server)).some((p) => pids.includes(p))), 3000);
      }
      expect(await waitFor(() => server.proc.exitCode !== null, 5000)).toBe(true);
      expect(server.proc.exitCode).toBe(1);
    } catch (e) {
      console.error(server.log());
      throw e;
    } finally {
      await server.stop();
    }
  }, 60_000);
});
