// The compiled executable, as deployed: flags, exit codes, --test-config output, daemon start-up.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BINARY, ROOT, ensureBinary, makeLab, run, type Lab } from "./helpers.ts";

let lab: Lab;
const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;

beforeAll(async () => {
  await ensureBinary();
  lab = makeLab();
});

afterAll(() => {
  lab.cleanup();
});

describe("flags", () => {
  test("-v prints the package.json version and exits 0", async () => {
    for (const flag of ["-v", "--version"]) {
      const r = await run([BINARY, flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`ocserv ${VERSION}\n`);
    }
  });

  test("-h prints every option without colour codes when piped and exits 0", async () => {
    const r = await run([BINARY, "-h"]);
    expect(r.code).toBe(0);
    for (const opt of ["--foreground", "--debug", "--config", "--test-config", "--pid-file", "--log-stderr", "--syslog", "--syslog-facility", "--no-chdir", "--traceable", "--help", "--version"]) {
      expect(r.stdout).toContain(opt);
    }
    expect(r.stdout).not.toContain("\u001b[");
  });

  test("a debug level above 9999 or not a number exits 1 with a short usage", async () => {
    for (const args of [["-d", "10000"], ["-d", "abc"], ["--debug=-1"]]) {
      const r = await run([BINARY, ...args]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("debug level must be a number between 0 and 9999");
      expect(r.stderr).toContain("Usage: ocserv");
      expect(r.stdout).toBe("");
    }
  });

  test("an unknown flag exits 1 with a short usage", async () => {
    const r = await run([BINARY, "--frobnicate"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("unrecognized option '--frobnicate'");
    expect(r.stderr).toContain("Try 'ocserv --help'");
  });

  test("a stray positional argument exits 1 with a short usage", async () => {
    const r = await run([BINARY, "-t", "-c", lab.config("valid.conf"), "surplus"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("unexpected argument 'surplus'");
    expect(r.stderr).toContain("Usage: ocserv");
  });

  test("--syslog-facility accepts local3 and rejects kern", async () => {
    const conf = lab.config("valid.conf");
    expect((await run([BINARY, "-t", "--syslog-facility=local3", "-c", conf])).code).toBe(0);
    const bad = await run([BINARY, "-t", "--syslog-facility", "kern", "-c", conf]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("unknown syslog facility 'kern'");
  });
});

describe("--test-config", () => {
  test("a valid configuration exits 0 with a one-line summary on stdout", async () => {
    const r = await run([BINARY, "-t", "-c", lab.config("valid.conf")]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toStartWith("valid.conf: configuration OK (2 vhosts, auth plain (or certificate), tcp-port 4443, udp-port 4443");
    expect(r.stdout.trimEnd().split("\n")).toHaveLength(1);
  });

  test("configuration errors exit 1 with every diagnostic as file:line: message", async () => {
    const conf = lab.config("errors.conf");
    const r = await run([BINARY, "--test-config", "--config", conf]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`${conf}:2: tcp-port`);
    expect(r.stderr).toContain(`${conf}:8: syslog-facility`);
  });

  test("a missing certificate file is reported at the line of the option naming it", async () => {
    const conf = lab.config("missing-cert.conf");
    const r = await run([BINARY, "-t", "-c", conf]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`${conf}:8: server-cert: ${lab.dir}/no-such-cert.pem: does not exist\n`);
  });

  test("wrong file contents, a bad passwd file, a missing directory and a non-executable script are all reported", async () => {
    const conf = lab.config("bad-files.conf");
    const r = await run([BINARY, "-t", "-c", conf]);
    expect(r.code).toBe(1);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(5);
    expect(lines[0]).toStartWith(`${conf}:1: plain passwd file ${lab.dir}/bad-ocpasswd:2: `);
    expect(lines[1]).toBe(`${conf}:7: server-cert: ${lab.dir}/server-key.pem: no certificate in the file (found "PRIVATE KEY")`);
    expect(lines[2]).toBe(`${conf}:8: server-key: ${lab.dir}/server-cert.pem: no private key in the file (found "CERTIFICATE")`);
    expect(lines[3]).toBe(`${conf}:9: connect-script: ${lab.dir}/not-executable.sh: not executable`);
    expect(lines[4]).toBe(`${conf}:10: config-per-user: ${lab.dir}/no-such-dir: does not exist`);
  });

  test("expired and soon-expiring certificates are warnings on stderr, and the check still passes", async () => {
    const conf = lab.config("warnings.conf");
    const r = await run([BINARY, "-t", "-c", conf]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("warnings.conf: configuration OK (1 vhost, auth plain, tcp-port 4443, no DTLS)\n");
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^${conf}:7: warning: server-cert: ${lab.dir}/expiring-cert.pem: certificate "CN=expiring.example.com" expires on \\d{4}-\\d\\d-\\d\\d \\(in 1[01] days\\)$`));
    expect(lines[1]).toBe(`${conf}:9: warning: server-cert: ${lab.dir}/expired-cert.pem: certificate "CN=expired.example.com" expired on 2021-01-01`);
  });

  test("a key that does not match its certificate, a bad tls-priorities, an unsupported auth method, a broken per-user file and an unknown run-as-user are errors", async () => {
    const conf = lab.config("mismatch.conf");
    const r = await run([BINARY, "-t", "-c", conf]);
    expect(r.code).toBe(1);
    // The wording after the option name belongs to src/auth, src/tls and src/config; check only its gist.
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(5);
    expect(lines[4]).toBe(`${conf}:10: run-as-user: no such user 'no-such-user-ocserv-test'`);
    expect(lines[0]).toStartWith(`${conf}:1: auth: `);
    expect(lines[0]).toContain("pam");
    expect(lines[1]).toBe(`${conf}:7: server-key: ${lab.dir}/other-key.pem does not match the certificate in ${lab.dir}/server-cert.pem`);
    expect(lines[2]).toStartWith(`${conf}:8: tls-priorities: `);
    expect(lines[2]).toContain("BOGUS-CIPHER");
    expect(lines[3]).toStartWith(`${conf}:9: config-per-user: ${lab.dir}/bad-users/bob:2: `);
    expect(lines[3]).toContain("not-a-route");
  });

  test("a socket-file directory that does not exist yet is a warning", async () => {
    const conf = lab.write("nosockdir.conf", readFileSync(lab.config("valid.conf"), "utf8").replace(/^socket-file = .*$/m, "socket-file = @DIR@/run/ocserv/sock"));
    const r = await run([BINARY, "-t", "-c", conf]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`${conf}:8: warning: socket-file: the directory ${lab.dir}/run/ocserv does not exist (yet)\n`);
  });

  test("a missing configuration file exits 1 naming the file", async () => {
    const path = join(lab.dir, "absent.conf");
    const r = await run([BINARY, "-t", "-c", path]);
    expect(r.code).toBe(1);
    expect(r.stderr).toStartWith(`${path}: `);
  });

  test("-p is accepted with -t and nothing is written", async () => {
    const conf = lab.config("valid.conf");
    const before = readdirSync(lab.dir).sort();
    const r = await run([BINARY, "-t", "-p", join(lab.dir, "cli.pid"), "-c", conf]);
    expect(r.code).toBe(0);
    expect(readdirSync(lab.dir).sort()).toEqual(before);
  });

  test("works under env -i from an empty directory with no tty, with a relative -c", async () => {
    const empty = mkdtempSync(join(tmpdir(), "ocserv-empty-"));
    try {
      const conf = lab.config("valid.conf");
      const r = await run(["env", "-i", BINARY, "-t", "-c", conf], { cwd: empty });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("configuration OK");
      const rel = await run(["env", "-i", BINARY, "-t", "-c", "valid.conf"], { cwd: lab.dir });
      expect(rel.code).toBe(0);
      expect(readdirSync(empty)).toEqual([]);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe("starting the server", () => {
  // A config identical to valid.conf but on `port`.
  function configOnPort(port: number): string {
    const text = readFileSync(lab.config("valid.conf"), "utf8").replace(/^tcp-port = \d+$/m, `tcp-port = ${port}`);
    const path = join(lab.dir, `port-${port}.conf`);
    writeFileSync(path, text);
    return path;
  }

  test("in the foreground, a server that cannot bind its port exits 1 and removes its pid file", async () => {
    const holder = Bun.listen({ hostname: "::", port: 0, socket: { data() {} } });
    try {
      const pid = join(lab.dir, "fg.pid");
      const r = await run([BINARY, "-f", "-e", "-p", pid, "-c", configOnPort(holder.port)]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`TCP port ${holder.port}`);
      expect(existsSync(pid)).toBe(false);
    } finally {
      holder.stop(true);
    }
  });

  test("as a daemon, the parent waits for the child and reports its failure with exit 1", async () => {
    const holder = Bun.listen({ hostname: "::", port: 0, socket: { data() {} } });
    try {
      const pid = join(lab.dir, "daemon.pid");
      const r = await run([BINARY, "-p", pid, "-c", configOnPort(holder.port)]);
      expect(r.code).toBe(1);
      expect(r.stderr).toStartWith(`ocserv: the server did not start: cannot listen on TCP port ${holder.port}`);
      expect(existsSync(pid)).toBe(false);
    } finally {
      holder.stop(true);
    }
  });

  test("as a daemon, the parent exits 0 once the child listens; SIGTERM stops it and removes the pid file", async () => {
    if (process.getuid?.() !== 0) return; // the server needs root for tun devices
    const probe = Bun.listen({ hostname: "::", port: 0, socket: { data() {} } });
    const port = probe.port;
    probe.stop(true);
    const pid = join(lab.dir, "running.pid");
    const r = await run([BINARY, "-p", pid, "-c", configOnPort(port)]);
    expect(r.code).toBe(0);
    expect(existsSync(pid)).toBe(true);
    const child = Number(readFileSync(pid, "utf8").trim());
    expect(child).not.toBe(process.pid);
    // The daemon accepts TCP connections on its port.
    const sock = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
    sock.end();
    process.kill(child, "SIGTERM");
    for (let i = 0; i < 50 && existsSync(pid); i++) await Bun.sleep(100);
    expect(existsSync(pid)).toBe(false);
  });

  test("like ocserv, the server refuses to start without root", async () => {
    if (process.getuid?.() !== 0 || Bun.which("setpriv") === null) return; // needs root to become nobody
    // A world-readable copy of the config in a directory nobody can enter.
    const dir = mkdtempSync(join(tmpdir(), "ocserv-nonroot-"));
    try {
      chmodSync(dir, 0o755);
      const conf = join(dir, "valid.conf");
      writeFileSync(conf, readFileSync(lab.config("valid.conf")), { mode: 0o644 });
      const r = await run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", BINARY, "-f", "-e", "-c", conf]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("This server requires root access to operate.");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("an invalid configuration stops the start before any daemon is spawned", async () => {
    const conf = lab.config("errors.conf");
    const r = await run([BINARY, "-c", conf]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${conf}:2: tcp-port`);
  });
});
