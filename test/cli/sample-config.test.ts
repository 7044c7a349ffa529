// Issue 2: the complete upstream sample.config passes --test-config once its file paths point at real
// files, and so does every commented-out `option = value` example in it, enabled one at a time (or, where
// ocserv itself would refuse the combination, it fails with the exact error). The per-user and per-group
// files hold what the sample describes as allowed there. Everything runs through the compiled binary.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, lookupOption, parseUserConfig } from "../../src/config/index.ts";
import { formatDiagnostic, preflight } from "../../src/preflight/index.ts";
import { BINARY, ROOT, ensureBinary, run, type RunResult } from "./helpers.ts";

const SAMPLE = readFileSync(join(ROOT, "test", "fixtures", "config", "sample.config"), "utf8");
const STATIC = join(ROOT, "test", "fixtures", "sample");

/**
 * Every file path in sample.config (active or in a commented-out example), keyed by option and the
 * sample's own value, and the fixture (relative to the lab directory) it is replaced with. Sub-options of
 * the auth/acct strings (passwd=, otp=, config=, keytab=) are listed under the option that holds them.
 */
const PATHS: readonly { readonly option: string; readonly from: string; readonly to: string }[] = [
  { option: "auth", from: "./sample.passwd", to: "sample.passwd" },
  { option: "auth", from: "./sample.otp", to: "sample.otp" },
  { option: "auth", from: "/etc/radiusclient/radiusclient.conf", to: "radiusclient.conf" },
  { option: "acct", from: "/etc/radiusclient/radiusclient.conf", to: "radiusclient.conf" },
  { option: "enable-auth", from: "/etc/key.tab", to: "key.tab" },
  { option: "socket-file", from: "/var/run/ocserv-socket", to: "run/ocserv-socket" },
  { option: "occtl-socket-file", from: "/var/run/occtl.socket", to: "run/occtl.socket" },
  { option: "pid-file", from: "/var/run/ocserv.pid", to: "run/ocserv.pid" },
  { option: "chroot-dir", from: "/var/lib/ocserv", to: "chroot" },
  { option: "server-cert", from: "../tests/certs/server-cert.pem", to: "server-cert.pem" },
  { option: "server-key", from: "../tests/certs/server-key.pem", to: "server-key.pem" },
  { option: "server-cert", from: "/etc/ocserv/server-cert.pem", to: "server-cert.pem" },
  { option: "server-key", from: "/etc/ocserv/server-key.pem", to: "server-key.pem" },
  { option: "server-cert", from: "../tests/certs/server-cert-secp521r1.pem", to: "server-cert-secp521r1.pem" },
  { option: "server-key", from: "../tests/certs/server-key-secp521r1.pem", to: "server-key-secp521r1.pem" },
  { option: "ca-cert", from: "../tests/certs/ca.pem", to: "ca.pem" },
  { option: "ca-cert", from: "/etc/ocserv/ca.pem", to: "ca.pem" },
  { option: "dh-params", from: "/etc/ocserv/dh.pem", to: "dh.pem" },
  { option: "pin-file", from: "/etc/ocserv/pin.txt", to: "pin.txt" },
  { option: "srk-pin-file", from: "/etc/ocserv/srkpin.txt", to: "srkpin.txt" },
  { option: "ocsp-response", from: "/etc/ocserv/ocsp.der", to: "ocsp.der" },
  { option: "crl", from: "/etc/ocserv/crl.pem", to: "crl.pem" },
  { option: "connect-script", from: "/usr/bin/myscript", to: "scripts/connect.sh" },
  { option: "disconnect-script", from: "/usr/bin/myscript", to: "scripts/disconnect.sh" },
  { option: "host-update-script", from: "/usr/bin/myhostnamescript", to: "scripts/host-update.sh" },
  { option: "config-per-user", from: "/etc/ocserv/config-per-user/", to: "per-user/" },
  { option: "config-per-group", from: "/etc/ocserv/config-per-group/", to: "per-group/" },
  { option: "default-user-config", from: "/etc/ocserv/defaults/user.conf", to: "defaults/user.conf" },
  { option: "default-group-config", from: "/etc/ocserv/defaults/group.conf", to: "defaults/group.conf" },
  { option: "user-profile", from: "profile.xml", to: "profile.xml" },
];

/**
 * Values that look like paths but name no file: kkdcp's first word is the HTTP path the server answers on
 * (sample.config: "SERVER-PATH KERBEROS-REALM PROTOCOL@SERVER:PORT").
 */
const NOT_FILES: readonly { readonly option: string; readonly token: string }[] = [
  { option: "kkdcp", token: "/KdcProxy" },
];

/** `option = value` lines, active or commented out ("#option = value"), whose name ocserv knows. */
const OPTION_LINE = /^(\s*#\s*|\s*)([a-z][a-z0-9_-]*)\s*=\s*(.*)$/;

/** Rewrites every path of the table in one line of the sample, by option. */
function rewriteLine(line: string, dir: string): string {
  const m = OPTION_LINE.exec(line);
  if (m === null) return line;
  const [, prefix, name, value] = m as unknown as [string, string, string, string];
  let out = value;
  for (const p of PATHS) {
    if (p.option !== name) continue;
    // join() keeps a trailing "/" (the sample writes the per-user directories with one).
    const to = join(dir, p.to);
    // Inside an auth string the path is a "key=value" sub-option; elsewhere it is the whole value.
    out = out.replace(new RegExp(`(^|=)${escapeRegExp(p.from)}(?=$|[,\\]\\s"])`), (_, lead: string) => lead + to);
  }
  return `${prefix}${name} = ${out}`;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

function rewrite(text: string, dir: string): string {
  return text.split("\n").map((l) => (OPTION_LINE.test(l) ? rewriteLine(l, dir) : l)).join("\n");
}

/**
 * Path-like tokens left in option lines (known option names only, so the krb5.conf excerpt in a comment is
 * not read as one) that are not inside the lab directory: "/abs", "./rel", "../rel", or a bare file name
 * with a file extension.
 */
function strayPaths(text: string, dir: string): string[] {
  const stray: string[] = [];
  const token = /(?<=^|[\s=[,"])(\.{0,2}\/[^\s,\]"]*|[\w.-]+\.(?:pem|der|crt|key|xml|conf|txt|tab|passwd|otp|sh|socket|pid))(?=$|[\s,\]"])/g;
  for (const line of text.split("\n")) {
    const m = OPTION_LINE.exec(line);
    if (m === null || lookupOption(m[2]!) === undefined) continue;
    for (const t of m[3]!.matchAll(token)) {
      const value = t[1]!;
      if (value.startsWith(dir + "/")) continue;
      if (NOT_FILES.some((n) => n.option === m[2] && n.token === value)) continue;
      stray.push(`${m[2]}: ${value}`);
    }
  }
  return stray;
}

function openssl(dir: string, args: string[]): void {
  const r = Bun.spawnSync({ cmd: ["openssl", ...args], cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  if (r.exitCode !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${r.stderr.toString()}`);
}

/** Certificates, keys, CRL, OCSP response and DH parameters made with openssl, plus the static fixtures. */
function makeFixtures(dir: string): void {
  const ec = (curve: string) => ["-newkey", "ec", "-pkeyopt", `ec_paramgen_curve:${curve}`, "-nodes"];
  openssl(dir, ["req", "-x509", ...ec("P-256"), "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "365", "-subj", "/CN=Sample CA"]);
  for (const [name, curve, serial] of [["server", "P-256", "2"], ["server-secp521r1", "P-521", "3"]] as const) {
    const cert = name === "server" ? "server-cert.pem" : "server-cert-secp521r1.pem";
    const key = name === "server" ? "server-key.pem" : "server-key-secp521r1.pem";
    openssl(dir, ["req", "-new", ...ec(curve), "-keyout", key, "-out", `${name}.csr`, "-subj", "/CN=www.example.com"]);
    openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-days", "365", "-set_serial", serial, "-out", cert]);
  }
  // A CRL and an OCSP response, both signed by the CA (openssl's "ca" and "ocsp" want an index database).
  writeFileSync(join(dir, "index.txt"), "");
  writeFileSync(join(dir, "openssl-ca.cnf"), [
    "[ca]", "default_ca = sample", "[sample]", `database = ${join(dir, "index.txt")}`, "crlnumber = " + join(dir, "crlnumber"),
    "default_md = sha256", "default_crl_days = 365", "",
  ].join("\n"));
  writeFileSync(join(dir, "crlnumber"), "01\n");
  openssl(dir, ["ca", "-config", "openssl-ca.cnf", "-gencrl", "-keyfile", "ca-key.pem", "-cert", "ca.pem", "-out", "crl.pem"]);
  openssl(dir, ["ocsp", "-issuer", "ca.pem", "-cert", "server-cert.pem", "-no_nonce", "-reqout", "ocsp-req.der"]);
  openssl(dir, ["ocsp", "-index", "index.txt", "-CA", "ca.pem", "-rsigner", "ca.pem", "-rkey", "ca-key.pem", "-reqin", "ocsp-req.der", "-respout", "ocsp.der", "-ndays", "1"]);
  openssl(dir, ["genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "dh_param:ffdhe2048", "-out", "dh.pem"]);
  writeFileSync(join(dir, "pin.txt"), "1234\n");
  writeFileSync(join(dir, "srkpin.txt"), "1234\n");
  // radiusclient.conf and key.tab exist so that the only complaint about radius/gssapi is their absence.
  writeFileSync(join(dir, "radiusclient.conf"), "authserver localhost\nacctserver localhost\nservers /dev/null\n");
  writeFileSync(join(dir, "key.tab"), new Uint8Array([0x05, 0x02]));
  mkdirSync(join(dir, "run"));
  mkdirSync(join(dir, "chroot"));
  mkdirSync(join(dir, "scripts"));
  for (const s of ["connect.sh", "disconnect.sh", "host-update.sh"]) {
    writeFileSync(join(dir, "scripts", s), "#!/bin/sh\nexit 0\n");
    chmodSync(join(dir, "scripts", s), 0o755);
  }
  cpSync(STATIC, dir, { recursive: true });
}

let dir: string;
let base: string;

beforeAll(async () => {
  await ensureBinary();
  dir = mkdtempSync(join(tmpdir(), "ocserv-sample-"));
  makeFixtures(dir);
  base = rewrite(SAMPLE, dir);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function check(name: string, text: string): Promise<RunResult> {
  const path = join(dir, name);
  writeFileSync(path, text);
  return run([BINARY, "-t", "-c", path], { cwd: dir });
}

describe("the upstream sample.config", () => {
  test("has every file path rewritten to a fixture, and none of the originals left", () => {
    expect(strayPaths(SAMPLE, dir).length).toBeGreaterThan(20);
    expect(strayPaths(base, dir)).toEqual([]);
    // Every table entry matched something: a stale row would hide a path the sample no longer has.
    for (const p of PATHS) expect(`${p.option}: ${SAMPLE.includes(p.from) ? "present" : "absent"}`).toBe(`${p.option}: present`);
  });

  test("passes --test-config with the one-line summary", async () => {
    const r = await check("sample.config", base);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("sample.config: configuration OK (2 vhosts, auth plain, tcp-port 443, udp-port 443)\n");
  });
});

// ---------------------------------------------------------------------------------------------------------
// The commented-out examples. Each is enabled in place (the "#" removed), so it lands in the section the
// sample puts it in. `ok` examples must pass alone and all together; the others fail the way ocserv fails.

type Expect =
  | { readonly kind: "ok" }
  /** Enabled together with the listed examples (a pair that only makes sense together). */
  | { readonly kind: "with"; readonly others: readonly string[] }
  /** Fails with this message, reported at the line holding `at` (default: the example's own line). */
  | { readonly kind: "error"; readonly message: string; readonly at?: string };

const OK: Expect = { kind: "ok" };
const ACTIVE_AUTH = 'auth = "plain[passwd=./sample.passwd]"';
/** config-options.md §3: "At most one method that has a module (plain, pam, radius, gssapi, oidc) is allowed". */
const MIX = (a: string, b: string): Extract<Expect, { kind: "error" }> => ({ kind: "error", message: `auth: cannot combine '${a}' and '${b}'; only certificate can be added to another method`, at: ACTIVE_AUTH });

/** Keyed by the example line exactly as sample.config writes it. */
const EXAMPLES: ReadonlyMap<string, Expect> = new Map<string, Expect>([
  // Added to the active plain auth line, these AND-compose; ocserv's invalid-configs test rejects
  // plain+pam and plain+radius, and one method given twice.
  ['#auth = "pam"', MIX("pam", "plain")],
  ['#auth = "pam[gid-min=1000]"', MIX("pam", "plain")],
  ['#auth = "plain[passwd=./sample.passwd,otp=./sample.otp]"', { kind: "error", message: "auth: 'plain' is given twice", at: ACTIVE_AUTH }],
  ['#auth = "certificate"', OK],
  ['#auth = "radius[config=/etc/radiusclient/radiusclient.conf,groupconfig=true]"', { ...MIX("plain", "radius"), at: undefined }],
  ['#enable-auth = "certificate"', OK],
  ['#enable-auth = "gssapi"', { kind: "error", message: "auth: auth method 'gssapi' is not supported in this build", at: ACTIVE_AUTH }],
  ['#enable-auth = "gssapi[keytab=/etc/key.tab,require-local-user-map=true,tgt-freshness-time=900]"', { kind: "error", message: "auth: auth method 'gssapi' is not supported in this build", at: ACTIVE_AUTH }],
  // ocserv: "unknown or unsupported accounting method" when RADIUS is not compiled in.
  ['#acct = "radius[config=/etc/radiusclient/radiusclient.conf]"', { kind: "error", message: "acct: unknown or unsupported accounting method: radius" }],
  // Templates, not values: "[IP|HOSTNAME]" and "SERVER-PATH ..." are placeholders (concrete forms below).
  ["#listen-host = [IP|HOSTNAME]", { kind: "error", message: "listen-host: '[IP|HOSTNAME]' is not an IP address or host name" }],
  ["#udp-listen-host = [IP|HOSTNAME]", { kind: "error", message: "udp-listen-host: '[IP|HOSTNAME]' is not an IP address or host name" }],
  ["#listen-host-is-dyndns = true", OK],
  ['# listen-netns = "foo"', OK],
  ["#occtl-socket-file = /var/run/occtl.socket", OK],
  ["#chroot-dir = /var/lib/ocserv", OK],
  // A second certificate/key pair: only meaningful together (src/config pairs them up by position).
  ["#server-cert = /etc/ocserv/server-cert.pem", { kind: "with", others: ["#server-key = /etc/ocserv/server-key.pem"] }],
  ["#server-key = /etc/ocserv/server-key.pem", { kind: "with", others: ["#server-cert = /etc/ocserv/server-cert.pem"] }],
  ["#dh-params = /etc/ocserv/dh.pem", OK],
  ["#pin-file = /etc/ocserv/pin.txt", OK],
  ["#srk-pin-file = /etc/ocserv/srkpin.txt", OK],
  ["#key-pin = 1234", OK],
  ["#srk-pin = 1234", OK],
  ["#ca-cert = /etc/ocserv/ca.pem", OK],
  ["#sec-mod-scale = 4", OK],
  ["#limit-worker-memory = true", OK],
  ['#banner = "Welcome"', OK],
  ['#pre-login-banner = "Welcome"', OK],
  ["#max-clients = 1024", OK],
  ["#listen-proxy-proto = true", OK],
  ["#stats-report-time = 360", OK],
  ["#server-drain-ms = 15000", OK],
  ["#ocsp-response = /etc/ocserv/ocsp.der", OK],
  ["#cert-group-oid = 2.5.4.11", OK],
  ["#crl = /etc/ocserv/crl.pem", OK],
  ["#compression = false", OK],
  ["#compression-algo-priority = lz4:lzs", OK],
  ["#no-compress-limit = 256", OK],
  ['#tls-priorities = "NORMAL:%SERVER_PRECEDENCE:%COMPAT:-RSA:-VERS-SSL3.0:-ARCFOUR-128"', OK],
  // config-options.md: "Incompatible with dtls-legacy", which the sample's cisco-client-compat = true implies.
  ["#match-tls-dtls-ciphers = true", { kind: "error", message: "match-tls-dtls-ciphers cannot be used with dtls-legacy (set dtls-legacy = false; cisco-client-compat implies it)" }],
  ["#idle-timeout = 1200", OK],
  ["#session-timeout = 86400", OK],
  ["#mobile-idle-timeout = 2400", OK],
  ["#ban-points-wrong-password = 10", OK],
  ["#ban-points-connection = 1", OK],
  ["#ban-points-kkdcp = 1", OK],
  ["#persistent-cookies = true", OK],
  ["#connect-script = /usr/bin/myscript", OK],
  ["#disconnect-script = /usr/bin/myscript", OK],
  ["#host-update-script = /usr/bin/myhostnamescript", OK],
  ["#use-utmp = true", OK],
  ["#syslog-facility = daemon", OK],
  ["#net-priority = 3", OK],
  ['#default-domain = "example.com one.example.com"', OK],
  ["#ipv4-network = 192.168.1.0/24", OK],
  ["#ipv6-network = fda9:4efe:7e3b:03ea::/48", OK],
  ["#ipv6-subnet-prefix = 128", OK],
  ["#ipv6-subnet-prefix = 64", OK],
  ["#tunnel-all-dns = true", OK],
  ["# dns = fc00::4be0", OK],
  ["#nbns = 192.168.1.3", OK],
  ["#split-dns = example.com", OK],
  ["#mtu = 1420", OK],
  ["#rx-data-per-sec = 40000", OK],
  ["#tx-data-per-sec = 40000", OK],
  ["#output-buffer = 10", OK],
  ["#route = fef4:db8:1000:1001::/64", OK],
  ["#route = default", OK],
  ["#no-udp = false", OK],
  ["#restrict-user-to-routes = true", OK],
  ['#restrict-user-to-ports = "tcp(443), tcp(80), udp(443), sctp(99), tcp(583), icmp(), icmpv6()"', OK],
  ['#restrict-user-to-ports = "!(tcp(443), tcp(80))"', OK],
  ["#expose-iroutes = true", OK],
  ["#select-group = group1", OK],
  ["#select-group = group2[My special group]", OK],
  ["#select-group-by-url = false", OK],
  ["#default-select-group = DEFAULT", OK],
  ["#auto-select-group = true", OK],
  ["#config-per-user = /etc/ocserv/config-per-user/", OK],
  ["#config-per-group = /etc/ocserv/config-per-group/", OK],
  ["#default-user-config = /etc/ocserv/defaults/user.conf", OK],
  ["#default-group-config = /etc/ocserv/defaults/group.conf", OK],
  ['#route-add-cmd = "ip route add %{R} dev %{D}"', OK],
  ['#route-del-cmd = "ip route delete %{R} dev %{D}"', OK],
  ["#proxy-url = http://example.com/", OK],
  ["#proxy-url = http://example.com/%{U}/", OK],
  ['#kkdcp = "SERVER-PATH KERBEROS-REALM PROTOCOL@SERVER:PORT"', { kind: "error", message: "kkdcp: 'SERVER-PATH KERBEROS-REALM PROTOCOL@SERVER:PORT': the path must start with '/'" }],
  // Accepted, with a warning: without GSSAPI ocserv skips kkdcp too.
  ['#kkdcp = "/KdcProxy KERBEROS.REALM udp@127.0.0.1:88"', OK],
  ['#kkdcp = "/KdcProxy KERBEROS.REALM tcp@127.0.0.1:88"', OK],
  ['#kkdcp = "/KdcProxy KERBEROS.REALM tcp@[::1]:88"', OK],
  ["#user-profile = profile.xml", OK],
  ["#dtls-psk = false", OK],
  ['#custom-header = "X-My-Header: hi there"', OK],
]);

/** Concrete forms of the sample's templates: "listen-host = [IP|HOSTNAME]" with an IP and a host name. */
const TEMPLATE_INSTANCES: readonly (readonly [string, string])[] = [
  ["#listen-host = [IP|HOSTNAME]", "listen-host = 127.0.0.1"],
  ["#listen-host = [IP|HOSTNAME]", "listen-host = localhost"],
  ["#udp-listen-host = [IP|HOSTNAME]", "udp-listen-host = ::1"],
];

/** Warnings that the `ok` examples may print (stderr, exit 0). */
const KKDCP_WARNING = "kkdcp: MS-KKDCP needs GSSAPI, which this build lacks; the option is ignored";

/** The commented-out `option = value` lines of the sample, by their text, with their 0-based line index. */
function commentedExamples(text: string): Map<string, number> {
  const found = new Map<string, number>();
  text.split("\n").forEach((line, i) => {
    const m = /^\s*#\s*([a-z][a-z0-9_-]*)\s*=/.exec(line);
    if (m !== null && lookupOption(m[1]!) !== undefined) found.set(line, i);
  });
  return found;
}

/** The rewritten configuration with the given examples (by original text) uncommented in place. */
function enable(examples: readonly string[], replace: ReadonlyMap<string, string> = new Map()): string {
  const index = commentedExamples(SAMPLE);
  const lines = base.split("\n");
  for (const ex of examples) {
    const i = index.get(ex);
    if (i === undefined) throw new Error(`not an example of the sample: ${ex}`);
    lines[i] = replace.get(ex) ?? lines[i]!.replace(/^\s*#\s*/, "");
  }
  return lines.join("\n");
}

/** 1-based line of `text` in the sample (for the expected file:line of an error). */
function lineOf(text: string): number {
  const i = SAMPLE.split("\n").indexOf(text);
  if (i < 0) throw new Error(`not a line of the sample: ${text}`);
  return i + 1;
}

async function inProcess(text: string, name: string): Promise<{ errors: string[]; warnings: string[] }> {
  const path = join(dir, name);
  writeFileSync(path, text);
  const r = await preflight(path, { load: loadConfig, now: new Date() });
  return { errors: r.errors.map((d) => formatDiagnostic(d)), warnings: r.warnings.map((d) => d.message) };
}

describe("the sample's commented-out examples", () => {
  test("are all listed in the expectation table, and the table lists nothing else", () => {
    expect([...commentedExamples(SAMPLE).keys()].sort()).toEqual([...EXAMPLES.keys()].sort());
  });

  test("each `ok` example passes on its own", async () => {
    let n = 0;
    for (const [ex, want] of EXAMPLES) {
      if (want.kind === "error") continue;
      const group = want.kind === "with" ? [ex, ...want.others] : [ex];
      const r = await inProcess(enable(group), `one-${n++}.conf`);
      expect({ ex, errors: r.errors }).toEqual({ ex, errors: [] });
      const allowed = ex.startsWith("#kkdcp") ? [KKDCP_WARNING] : [];
      expect({ ex, warnings: r.warnings }).toEqual({ ex, warnings: allowed });
    }
  });

  test("certificate both in auth and in enable-auth is refused", async () => {
    const r = await inProcess(enable(['#auth = "certificate"', '#enable-auth = "certificate"']), "cert-twice.conf");
    expect(r.errors).toEqual([`${join(dir, "cert-twice.conf")}:${lineOf('#enable-auth = "certificate"')}: enable-auth: 'certificate' is already enabled`]);
  });

  test("all `ok` examples enabled at once pass --test-config", async () => {
    // Less `enable-auth = "certificate"`, which repeats `auth = "certificate"` (the test above).
    const all = [...EXAMPLES].filter(([ex, want]) => want.kind !== "error" && ex !== '#enable-auth = "certificate"').map(([ex]) => ex);
    const r = await check("all-examples.conf", enable(all));
    expect(r.stderr).toBe(`${join(dir, "all-examples.conf")}:${lineOf('#kkdcp = "/KdcProxy KERBEROS.REALM udp@127.0.0.1:88"')}: warning: ${KKDCP_WARNING}\n`);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("all-examples.conf: configuration OK (2 vhosts, auth plain+certificate, tcp-port 443, udp-port 443)\n");
  });

  test("the examples ocserv would refuse fail --test-config with the exact error at the right line", async () => {
    const failing = [...EXAMPLES].filter((e): e is [string, Extract<Expect, { kind: "error" }>] => e[1].kind === "error");
    expect(failing.length).toBeGreaterThan(5);
    const results = await Promise.all(failing.map(([ex], i) => check(`fail-${i}.conf`, enable([ex]))));
    failing.forEach(([ex, want], i) => {
      const file = join(dir, `fail-${i}.conf`);
      const r = results[i]!;
      expect({ ex, code: r.code, stdout: r.stdout }).toEqual({ ex, code: 1, stdout: "" });
      expect({ ex, stderr: r.stderr }).toEqual({ ex, stderr: `${file}:${lineOf(want.at ?? ex)}: ${want.message}\n` });
    });
  });

  test("the listen-host templates pass once filled in with an address or a host name", async () => {
    for (const [i, [ex, concrete]] of TEMPLATE_INSTANCES.entries()) {
      const r = await inProcess(enable([ex], new Map([[ex, concrete]])), `template-${i}.conf`);
      expect({ concrete, errors: r.errors }).toEqual({ concrete, errors: [] });
    }
  });

  test("used instead of the active plain line, each auth example is accepted or refused as this build allows", async () => {
    const cases: readonly (readonly [string, string])[] = [
      ['#auth = "certificate"', "ok"],
      ['#auth = "plain[passwd=./sample.passwd,otp=./sample.otp]"', "ok"],
      ['#auth = "pam"', "auth: auth method 'pam' is not supported in this build"],
      ['#auth = "pam[gid-min=1000]"', "auth: auth method 'pam' is not supported in this build"],
      ['#auth = "radius[config=/etc/radiusclient/radiusclient.conf,groupconfig=true]"', "auth: auth method 'radius' is not supported in this build"],
    ];
    const activeLine = lineOf(ACTIVE_AUTH) - 1;
    for (const [i, [ex, want]] of cases.entries()) {
      const lines = enable([ex]).split("\n");
      lines[activeLine] = `#${lines[activeLine]!}`;
      const path = join(dir, `instead-${i}.conf`);
      const r = await inProcess(lines.join("\n"), `instead-${i}.conf`);
      expect({ ex, errors: r.errors }).toEqual({ ex, errors: want === "ok" ? [] : [`${path}:${lineOf(ex)}: ${want}`] });
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// Per-user and per-group files. sample.config lists the options those files may hold; the fixtures in
// test/fixtures/sample/{per-user,per-group,defaults} use each of them with the sample's own example values.

/** "dns, nbns, ipv?-network, ..., split-dns and session-timeout" from the sample, expanded. */
function optionsAllowedPerUser(text: string): string[] {
  const m = /The options allowed in the configuration files are ([\s\S]*?)\.\n/.exec(text);
  if (m === null) throw new Error("sample.config no longer lists the per-user options");
  return m[1]!.replace(/\n#/g, " ").replace(/\band\b/g, ",").split(",").map((s) => s.trim()).filter((s) => s !== "")
    .flatMap((s) => (s === "ipv?-network" ? ["ipv4-network", "ipv6-network"] : s === "rx/tx-data-per-sec" ? ["rx-data-per-sec", "tx-data-per-sec"] : [s]));
}

describe("per-user and per-group files", () => {
  test("the fixtures set every option the sample allows there, and parse without errors or warnings", () => {
    const allowed = optionsAllowedPerUser(SAMPLE);
    expect(allowed).toContain("session-timeout");
    expect(allowed.length).toBeGreaterThan(25);
    const files = ["per-user/test", "per-user/tost", "per-group/group1", "per-group/group2", "defaults/user.conf", "defaults/group.conf"];
    const used = new Set<string>();
    for (const f of files) {
      const text = readFileSync(join(STATIC, f), "utf8");
      const parsed = parseUserConfig(text, f);
      expect({ f, errors: parsed.errors, warnings: parsed.warnings }).toEqual({ f, errors: [], warnings: [] });
      for (const line of text.split("\n")) {
        const m = /^([a-z][a-z0-9-]*)\s*=/.exec(line);
        if (m !== null) used.add(m[1]!);
      }
    }
    expect(allowed.filter((o) => !used.has(o))).toEqual([]);
  });

  test("--test-config reads every file of config-per-user, config-per-group and the defaults", async () => {
    const r = await check("per-user.conf", enable([
      "#config-per-user = /etc/ocserv/config-per-user/", "#config-per-group = /etc/ocserv/config-per-group/",
      "#default-user-config = /etc/ocserv/defaults/user.conf", "#default-group-config = /etc/ocserv/defaults/group.conf",
    ]));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toStartWith("per-user.conf: configuration OK");
  });

  test("a broken per-user file is reported with its own file:line at the config-per-user line", async () => {
    const ex = "#config-per-user = /etc/ocserv/config-per-user/";
    const text = enable([ex]).replace(join(dir, "per-user/"), join(dir, "broken-per-user/"));
    const r = await check("broken-per-user.conf", text);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    const userFile = join(dir, "broken-per-user", "test");
    expect(r.stderr).toStartWith(`${join(dir, "broken-per-user.conf")}:${lineOf(ex)}: config-per-user: ${userFile}:3: `);
    expect(r.stderr).toContain("mtu");
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Fixes in src/preflight found by the sample (unit level, in process).

describe("preflight", () => {
  test("refuses an accounting method this build does not have, as ocserv does without RADIUS", async () => {
    const r = await inProcess(enable(['#acct = "radius[config=/etc/radiusclient/radiusclient.conf]"']), "acct.conf");
    expect(r.errors).toEqual([`${join(dir, "acct.conf")}:${lineOf('#acct = "radius[config=/etc/radiusclient/radiusclient.conf]"')}: acct: unknown or unsupported accounting method: radius`]);
  });

  test("warns that kkdcp is ignored, once per configuration", async () => {
    const r = await inProcess(enable(['#kkdcp = "/KdcProxy KERBEROS.REALM udp@127.0.0.1:88"', '#kkdcp = "/KdcProxy KERBEROS.REALM tcp@[::1]:88"']), "kkdcp.conf");
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([KKDCP_WARNING]);
  });
});

describe("starting the server", () => {
  test.skipIf(process.getuid?.() !== 0)("refuses an accounting method this build does not have, before listening", async () => {
    const ex = '#acct = "radius[config=/etc/radiusclient/radiusclient.conf]"';
    // A port of our own so that, were the check missing, the server would not take 443; killed if it starts.
    const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = probe.port;
    probe.stop(true);
    const text = enable([ex]).replace(/^tcp-port = 443$/m, `tcp-port = ${port}`).replace(/^udp-port = 443$/m, "udp-port = 0");
    const path = join(dir, "acct-start.conf");
    writeFileSync(path, text);
    const p = Bun.spawn({ cmd: [BINARY, "-f", "--log-stderr", "-c", path], cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    const guard = setTimeout(() => p.kill(), 4_000);
    const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
    clearTimeout(guard);
    expect(code).toBe(1);
    expect(stderr).toContain("default vhost: unknown or unsupported accounting method: radius");
  }, 15_000);
});
