import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { allOptions, formatDiagnostic, loadConfig, lookupOption, renderOptionTable, userFileOptions } from "../../src/config/index.ts";
import { sanitizeValue } from "../../src/config/ini.ts";

const SAMPLE = join(import.meta.dir, "../fixtures/config/sample.config");
const sampleText = readFileSync(SAMPLE, "utf8");

/** Option-looking lines of sample.config, commented out or not: `name = value` or `#name = value`. */
function sampleOptionLines(): { name: string; value: string; commented: boolean; line: number }[] {
  const out: { name: string; value: string; commented: boolean; line: number }[] = [];
  sampleText.split("\n").forEach((l, i) => {
    // At most one space after '#': deeper-indented comment text (the krb5.conf example) is prose.
    const m = /^(#)? ?([a-z][a-z0-9_-]*)\s*=\s*(.*)$/.exec(l);
    if (m !== null) out.push({ commented: m[1] !== undefined, name: m[2]!, value: m[3]!, line: i + 1 });
  });
  return out;
}

describe("the upstream sample.config", () => {
  test("parses with no errors and no warnings", async () => {
    const r = await loadConfig(SAMPLE);
    expect(r.errors.map(formatDiagnostic)).toEqual([]);
    expect(r.warnings.map(formatDiagnostic)).toEqual([]);
    expect(r.config).toBeDefined();
  });

  test("gives the values written in it", async () => {
    const c = (await loadConfig(SAMPLE)).config!;
    expect(c.file).toBe(SAMPLE);
    expect(c.global["tcp-port"]).toBe(443);
    expect(c.global["udp-port"]).toBe(443);
    expect(c.global["run-as-user"]).toBe("nobody");
    expect(c.global["max-clients"]).toBe(16);
    expect(c.global["rate-limit-ms"]).toBe(100);
    expect(c.global.device).toBe("vpns");
    expect(c.global["isolate-workers"]).toBe(true);
    const o = c.defaultVhost.options;
    expect(o.auth).toEqual([{ type: "plain", passwd: "./sample.passwd" }]);
    expect(o["max-same-clients"]).toBe(2);
    expect(o["ipv4-network"]).toEqual({ address: "192.168.1.0", prefix: 24, netmask: "255.255.255.0" });
    expect(o.dns).toEqual([{ family: 4, address: "192.168.1.2" }]);
    expect(o.route.map((r) => (r === "default" ? r : r.text))).toEqual(["10.10.10.0/255.255.255.0", "192.168.0.0/255.255.0.0"]);
    expect(o["no-route"].map((r) => r.text)).toEqual(["192.168.5.0/255.255.255.0"]);
    expect(o["rekey-method"]).toBe("ssl");
    expect(o["cert-user-oid"]).toBe("0.9.2342.19200300.100.1.1");
    expect(o["cisco-client-compat"]).toBe(true);
    expect(o.camouflage_secret).toBe("mysecretkey");
    expect(o.camouflage_realm).toBe("Restricted Content");
    expect(o["tls-priorities"]).toBe("NORMAL:%SERVER_PRECEDENCE:%COMPAT:-VERS-SSL3.0:-VERS-TLS1.0:-VERS-TLS1.1");
  });

  test("its [vhost:www.example.com] example overrides auth, certificates and pool and inherits the rest", async () => {
    const c = (await loadConfig(SAMPLE)).config!;
    const v = c.vhostFor("www.example.com");
    expect(v.name).toBe("www.example.com");
    expect(v.options.auth).toEqual([{ type: "certificate" }]);
    expect(v.options["server-cert"]).toEqual(["../tests/certs/server-cert-secp521r1.pem"]);
    expect(v.options["server-key"]).toEqual(["../tests/certs/server-key-secp521r1.pem"]);
    expect(v.options["ipv4-network"]).toEqual({ address: "192.168.2.0", prefix: 24, netmask: "255.255.255.0" });
    expect(v.options["included-http-headers"]).toHaveLength(13);
    expect(v.options["included-http-headers"][6]).toBe('Clear-Site-Data: "cache","cookies","storage"');
    expect(v.options.dns).toEqual([{ family: 4, address: "192.168.1.2" }]);
    expect(v.options["max-same-clients"]).toBe(2);
    expect(v.certRequest).toBe("request");
    expect(c.defaultVhost.options["included-http-headers"]).toEqual([]);
  });

  test("every option name it mentions, commented out or not, is in the option table", () => {
    const names = [...new Set(sampleOptionLines().map((l) => l.name))];
    expect(names.length).toBeGreaterThanOrEqual(110);
    expect(names.filter((n) => lookupOption(n) === undefined)).toEqual([]);
  });

  test("the option after every [scope:] annotation is in the table with that scope", () => {
    const lines = sampleText.split("\n");
    const scopeText: Record<string, string> = {
      "global (non-reloadable)": "global-nr",
      global: "global",
      "vhost (non-reloadable)": "vhost-nr",
      vhost: "vhost",
      "vhost user": "vhost-user",
    };
    let checked = 0;
    const mismatches: string[] = [];
    lines.forEach((l, i) => {
      const m = /^# \[scope: (.*)\]$/.exec(l);
      if (m === null) return;
      const next = lines.slice(i + 1).find((x) => /^#? ?[a-z]/.test(x));
      const name = /^#? ?([a-z][a-z0-9_-]*)\s*=/.exec(next ?? "")?.[1];
      if (name === undefined) return;
      checked++;
      const spec = lookupOption(name);
      // user-profile: sample.config says "vhost user" and sup-config parses it per user (§2.5).
      if (spec === undefined || spec.scope !== scopeText[m[1]!]) mismatches.push(`${name}: ${m[1]} vs ${spec?.scope}`);
    });
    expect(checked).toBeGreaterThanOrEqual(100);
    expect(mismatches).toEqual([]);
  });

  test("every commented-out example value in it is accepted by its option's parser", () => {
    // Placeholders that document syntax rather than give a value.
    const placeholders = new Set(["[IP|HOSTNAME]", '"SERVER-PATH KERBEROS-REALM PROTOCOL@SERVER:PORT"']);
    const rejected: string[] = [];
    let checked = 0;
    for (const l of sampleOptionLines()) {
      if (!l.commented || placeholders.has(l.value)) continue;
      const spec = lookupOption(l.name)!;
      const r = spec.type.parse(spec.raw ? l.value : sanitizeValue(l.value));
      checked++;
      if (!r.ok) rejected.push(`line ${l.line}: ${l.name} = ${l.value}: ${r.message}`);
    }
    expect(checked).toBeGreaterThanOrEqual(60);
    expect(rejected).toEqual([]);
  });
});

describe("the option table", () => {
  test("lists the extra names of config-options.md: aliases, undocumented, removed and deprecated", () => {
    for (const n of ["ipv4-dns", "ipv6-dns", "ipv4-nbns", "ipv6-nbns", "use-dbus", "use-seccomp", "min-reauth-time", "ipv6-prefix", "append-routes", "always-require-cert", "listen-clear-file", "session-control", "sec-mod-db-cleanup-time", "debug-no-secmod-stats"]) {
      expect(lookupOption(n)?.name).toBe(n);
    }
    expect(lookupOption("use-dbus")!.status).toEqual({ kind: "alias", of: "use-occtl", deprecated: true });
    expect(lookupOption("listen-clear-file")!.status.kind).toBe("removed");
  });

  test("marks the non-reloadable options of config-options.md §5 as such", () => {
    for (const n of ["auth", "enable-auth", "acct", "tcp-port", "udp-port", "listen-host", "run-as-user", "run-as-group", "socket-file", "chroot-dir", "sec-mod-scale", "log-level", "syslog-facility", "server-stats-reset-time"]) {
      expect(lookupOption(n)!.reloadable).toBe(false);
    }
    for (const n of ["route", "dns", "max-clients", "ban-time", "crl", "tls-priorities", "connect-script"]) expect(lookupOption(n)!.reloadable).toBe(true);
  });

  test("per-user files accept exactly the keys of config-options.md §4", () => {
    const expected = [
      "no-udp", "restrict-user-to-routes", "tunnel-all-dns", "deny-roaming", "route", "no-route", "iroute", "split-dns",
      "dns", "ipv4-dns", "ipv6-dns", "nbns", "ipv4-nbns", "ipv6-nbns", "ipv4-network", "ipv4-netmask", "ipv6-network",
      "ipv6-subnet-prefix", "explicit-ipv4", "explicit-ipv6", "hostname", "rx-data-per-sec", "tx-data-per-sec",
      "stats-report-time", "session-timeout", "mtu", "dpd", "mobile-dpd", "idle-timeout", "mobile-idle-timeout",
      "keepalive", "max-same-clients", "net-priority", "user-profile", "client-bypass-protocol", "restrict-user-to-ports",
    ];
    expect(userFileOptions().map((o) => o.name).sort()).toEqual(expected.sort());
  });

  test("the rendered documentation has a line for every option", () => {
    const text = renderOptionTable();
    const lines = text.split("\n");
    expect(lines[0]).toMatch(/^OPTION\s+TYPE\s+SCOPE\s+DEFAULT\s+DESCRIPTION$/);
    for (const o of allOptions()) expect(lines.some((l) => l.startsWith(`${o.name} `))).toBe(true);
    expect(lines.find((l) => l.startsWith("max-clients "))).toMatch(/int 0-2147483647\s+global\s+0 \(unlimited\)\s+Maximum number/);
    expect(lines.find((l) => l.startsWith("iroute "))).toContain("per-user/group file only");
  });
});
