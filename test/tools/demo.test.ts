// examples/demo.sh, run for real in --check mode (set up the state directory, then `ocserv -t -c`),
// against the sources through a wrapper script and against the compiled binary.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parsePasswdFile, verifyCrypt } from "../../src/auth/index.ts";
import { loadCertificates } from "../../src/x509/index.ts";
import { ensureBinary } from "../cli/helpers.ts";
import { CLI, ROOT, openssl, run, tempDir } from "./helpers.ts";

const DEMO = join(ROOT, "examples", "demo.sh");
const tmp = tempDir("demo");
afterAll(() => tmp.cleanup());

/** A stand-in for the binary that runs the sources: applets are chosen by OCSERV_APPLET there. */
const wrapper = join(tmp.dir, "ocserv-from-source");
writeFileSync(wrapper, `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`);
chmodSync(wrapper, 0o755);

function demo(ocserv: string, state: string, extraEnv: Record<string, string> = {}) {
  return run(["sh", DEMO, "--check"], {
    env: { OCSERV: ocserv, OCSERV_DEMO_DIR: state, OCSERV_DEMO_HOST: "vpn.demo.test", OCSERV_DEMO_PORT: "4555", ...extraEnv },
  });
}

function checkState(state: string, stdout: string): void {
  for (const f of ["ca.pem", "ca-key.pem", "server.pem", "server-key.pem", "ocpasswd", "demo-password", "ocserv.conf"]) {
    expect(existsSync(join(state, f))).toBe(true);
  }
  for (const f of ["ca-key.pem", "server-key.pem", "ocpasswd", "demo-password"]) expect(statSync(join(state, f)).mode & 0o777).toBe(0o600);
  expect(statSync(state).mode & 0o777).toBe(0o700);

  // The configuration points into the state directory and uses the chosen port.
  const conf = readFileSync(join(state, "ocserv.conf"), "utf8");
  expect(conf).not.toContain("/var/lib/ocserv-demo");
  expect(conf).toContain(`auth = "plain[passwd=${state}/ocpasswd]"`);
  expect(conf).toContain(`server-cert = ${state}/server.pem`);
  expect(conf).toMatch(/^tcp-port = 4555$/m);
  expect(conf).toMatch(/^udp-port = 4555$/m);

  // The server certificate chains to the CA and names the host.
  expect(openssl(["verify", "-CAfile", join(state, "ca.pem"), join(state, "server.pem")]).code).toBe(0);
  const cert = loadCertificates(readFileSync(join(state, "server.pem")))[0]!;
  expect(cert.extensions.subjectAltName?.dnsNames).toEqual(["vpn.demo.test"]);

  // The printed password logs the demo user in.
  const password = readFileSync(join(state, "demo-password"), "utf8").trim();
  expect(stdout).toContain(`password:  ${password}`);
  const e = parsePasswdFile(readFileSync(join(state, "ocpasswd"), "utf8"), "ocpasswd").entries.get("demo")!;
  if (e.password.kind !== "crypt") throw new Error("expected a crypt hash");
  expect(verifyCrypt(e.password.hash, password)).toBe(true);

  // The connect line pins the server key.
  expect(stdout).toContain(`openconnect --user demo --servercert ${cert.pinSha256()} https://vpn.demo.test:4555`);
}

describe("demo.sh from the sources", () => {
  const state = join(tmp.dir, "state-src");

  test("creates the CA, server certificate, user and configuration, and the configuration passes ocserv -t", async () => {
    const r = await demo(wrapper, state);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("configuration OK");
    checkState(state, r.stdout);
  });

  test("a second run keeps everything it made and prints the same pin", async () => {
    const cert = readFileSync(join(state, "server.pem"), "utf8");
    const passwd = readFileSync(join(state, "ocpasswd"), "utf8");
    const r = await demo(wrapper, state);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain("creating");
    expect(readFileSync(join(state, "server.pem"), "utf8")).toBe(cert);
    expect(readFileSync(join(state, "ocpasswd"), "utf8")).toBe(passwd);
    checkState(state, r.stdout);
  });

  test("a given password and an IP address as the host are used", async () => {
    const s = join(tmp.dir, "state-ip");
    const r = await demo(wrapper, s, { OCSERV_DEMO_PASSWORD: "demo-pass-123", OCSERV_DEMO_HOST: "192.0.2.44" });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("password:  demo-pass-123");
    expect(r.stdout).toContain("https://192.0.2.44:4555");
    const cert = loadCertificates(readFileSync(join(s, "server.pem")))[0]!;
    expect(cert.extensions.subjectAltName?.ipAddresses).toEqual(["192.0.2.44"]);
  });

  test("bad settings stop the script before anything is created", async () => {
    const s = join(tmp.dir, "state-bad");
    let r = await demo(wrapper, s, { OCSERV_DEMO_PORT: "44x" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("OCSERV_DEMO_PORT must be a number");
    r = await demo(join(tmp.dir, "no-such-binary"), s);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("is not an executable file");
    expect(existsSync(s)).toBe(false);
  });
});

describe("demo.sh with the compiled binary", () => {
  let binary = "";
  beforeAll(async () => {
    binary = await ensureBinary();
  }, 120_000);

  test("sets up the state directory with the binary's own applets and passes ocserv -t", async () => {
    const state = join(tmp.dir, "state-bin");
    // OCSERV_APPLET in the caller's environment must not disturb the compiled binary (it ignores it).
    const r = await demo(binary, state, { OCSERV_APPLET: "ocpasswd" });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("configuration OK");
    checkState(state, r.stdout);
  });
});

// The demo's files are ocserv's own formats: upstream ocserv (Debian's package, installed in CI) accepts
// the configuration, serves the certificate, and checks the password file, and the real openconnect
// logs in with exactly the pin and password demo.sh prints. Needs root for the network namespace.
const have = (cmd: string) => Bun.spawnSync({ cmd: ["sh", "-c", `command -v ${cmd}`] }).exitCode === 0;
const upstreamOcserv = have("ocserv") && have("openconnect") && have("ip") && process.getuid?.() === 0;

describe.skipIf(!upstreamOcserv)("demo.sh output with upstream ocserv and openconnect", () => {
  const state = join(tmp.dir, "state-upstream");
  const ns = `octools-${process.pid}`;
  let server: ReturnType<typeof Bun.spawn> | null = null;
  afterAll(async () => {
    server?.kill();
    await server?.exited;
    Bun.spawnSync({ cmd: ["ip", "netns", "del", ns] });
  });

  test("upstream ocserv -t accepts the generated configuration", async () => {
    const r = await demo(wrapper, state, { OCSERV_DEMO_HOST: "127.0.0.1", OCSERV_DEMO_PASSWORD: "upstream-check-pw" });
    expect(r.code).toBe(0);
    const t = await run(["ocserv", "-t", "-c", join(state, "ocserv.conf")]);
    expect(t.stderr).not.toContain("unknown option");
    expect(t.code).toBe(0);
  });

  test("openconnect logs in to upstream ocserv with the printed pin and password, and a wrong password fails", async () => {
    expect(Bun.spawnSync({ cmd: ["ip", "netns", "add", ns] }).exitCode).toBe(0);
    Bun.spawnSync({ cmd: ["ip", "-n", ns, "link", "set", "lo", "up"] });
    server = Bun.spawn({ cmd: ["ip", "netns", "exec", ns, "ocserv", "-f", "-c", join(state, "ocserv.conf")], stdout: "ignore", stderr: "ignore" });
    const pin = loadCertificates(readFileSync(join(state, "server.pem")))[0]!.pinSha256();
    const login = (password: string) =>
      run(["ip", "netns", "exec", ns, "openconnect", "--non-inter", "--user", "demo", "--passwd-on-stdin", "--servercert", pin,
        "--authenticate", "https://127.0.0.1:4555"], { stdin: `${password}\n` });
    let r = await login("upstream-check-pw");
    for (let i = 0; i < 40 && r.stdout.includes("COOKIE=") === false && r.stderr.includes("Failed to connect"); i++) {
      await Bun.sleep(250);
      r = await login("upstream-check-pw");
    }
    expect(r.stdout).toContain("COOKIE=");
    expect(r.stdout).toContain(`FINGERPRINT='${pin}'`);
    const wrong = await login("not-the-password");
    expect(wrong.code).not.toBe(0);
    expect(wrong.stdout).not.toContain("COOKIE=");
  }, 30_000);
});
