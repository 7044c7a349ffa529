import { describe, expect, test } from "bun:test";
import { formatDiagnostic, parseConfig } from "../../src/config/index.ts";
import { lexIni, sanitizeValue, decodeConfigBytes } from "../../src/config/ini.ts";
import { BASE, parseClean } from "./helpers.ts";

const ok = (text: string) => parseClean(text, "g.conf");

describe("inih grammar", () => {
  test("':' works as a separator like '='", () => {
    const c = ok(`${BASE}\nmax-clients : 12\ncookie-timeout:600`);
    expect(c.global["max-clients"]).toBe(12);
    expect(c.defaultVhost.options["cookie-timeout"]).toBe(600);
  });

  test("the separator is whichever of '=' and ':' comes first", () => {
    const c = ok(`${BASE}\nincluded-http-headers = X-Frame-Options: deny\ncustom-header : X-Test: a=b`);
    expect(c.defaultVhost.options["included-http-headers"]).toEqual(["X-Frame-Options: deny"]);
    expect(c.defaultVhost.options["custom-header"]).toEqual(["X-Test: a=b"]);
  });

  test("double quotes and surrounding whitespace are stripped from values", () => {
    const c = ok(`${BASE}\nbanner =   "Welcome to the VPN"   \ndefault-domain = "example.com one.example.com"`);
    expect(c.defaultVhost.options.banner).toBe("Welcome to the VPN");
    expect(c.defaultVhost.options["default-domain"]).toBe("example.com one.example.com");
  });

  test("included-http-headers keeps its quotes (the raw value)", () => {
    const c = ok(`${BASE}\nincluded-http-headers = Clear-Site-Data: "cache","cookies"`);
    expect(c.defaultVhost.options["included-http-headers"]).toEqual(['Clear-Site-Data: "cache","cookies"']);
  });

  test("'#' and ';' lines are comments, also when indented", () => {
    const c = ok(`# comment\n; another\n${BASE}\n   # indented comment\n\t; indented too\nmax-clients = 3`);
    expect(c.global["max-clients"]).toBe(3);
  });

  test("an inline '#' after whitespace starts a comment, but not inside a word", () => {
    const c = ok(`${BASE}\nmax-clients = 7 # seven\nproxy-url = http://example.com/#frag`);
    expect(c.global["max-clients"]).toBe(7);
    expect(c.defaultVhost.options["proxy-url"]).toBe("http://example.com/#frag");
  });

  test("an indented line continues the previous option with another value", () => {
    const c = ok(`${BASE}\nroute = 10.0.0.0/8\n   172.16.0.0/12\n\t192.168.0.0/255.255.0.0 # comment\nmax-clients = 1`);
    expect(c.defaultVhost.options.route.map((r) => (r === "default" ? r : r.text))).toEqual([
      "10.0.0.0/255.0.0.0",
      "172.16.0.0/255.240.0.0",
      "192.168.0.0/255.255.0.0",
    ]);
  });

  test("a continuation of a scalar option replaces its value (last wins)", () => {
    const c = ok(`${BASE}\nmax-clients = 1\n  2`);
    expect(c.global["max-clients"]).toBe(2);
  });

  test("a scalar given twice keeps the last value; a list given twice appends", () => {
    const c = ok(`${BASE}\ndpd = 10\ndns = 10.0.0.1\ndpd = 20\ndns = fd00::1`);
    expect(c.defaultVhost.options.dpd).toBe(20);
    expect(c.defaultVhost.options.dns).toEqual([
      { family: 4, address: "10.0.0.1" },
      { family: 6, address: "fd00::1" },
    ]);
  });

  test("a UTF-8 byte order mark at the start is skipped", () => {
    const bytes = new TextEncoder().encode(`\uFEFF${BASE}\nmax-clients = 9`);
    const dec = decodeConfigBytes(bytes);
    expect(dec.ok).toBe(true);
    if (dec.ok) expect(ok(dec.text).global["max-clients"]).toBe(9);
    expect(ok(`\uFEFF${BASE}`).global["tcp-port"]).toBe(443);
  });

  test("invalid UTF-8 is reported", () => {
    expect(decodeConfigBytes(new Uint8Array([0x61, 0xff, 0x62]))).toEqual({ ok: false, message: "file is not valid UTF-8" });
  });

  test("CRLF line endings are accepted", () => {
    const c = ok(`${BASE}\r\nmax-clients = 4\r\n`.replaceAll("\n", "\r\n").replaceAll("\r\r", "\r"));
    expect(c.global["max-clients"]).toBe(4);
  });

  test("a line of exactly 2046 bytes is accepted and one more byte is not", () => {
    const prefix = "pre-login-banner = ";
    const fits = prefix + "a".repeat(2046 - prefix.length);
    expect(ok(`${BASE}\n${fits}`).defaultVhost.options["pre-login-banner"]).toHaveLength(2046 - prefix.length);
    expect(parseConfig(`${BASE}\n${fits}a`, "g.conf").errors.map(formatDiagnostic)).toEqual(["g.conf:8: line is longer than 2046 bytes"]);
  });

  test("the lexer resets the continuation target at a section header", () => {
    const r = lexIni("route = 1.0.0.0/8\n[vhost:x]\n  2.0.0.0/8\n", "l.conf");
    expect(r.errors.map(formatDiagnostic)).toEqual(["l.conf:3: expected 'name = value': no '=' or ':' on this line"]);
  });

  test("sanitizeValue strips every leading and trailing quote and space, like ocserv", () => {
    expect(sanitizeValue(' " "a b" " ')).toBe("a b");
    expect(sanitizeValue('a"b')).toBe('a"b');
  });

  test("booleans accept true/false/yes/no in any case", () => {
    const c = ok(`${BASE}\nuse-occtl = YES\nping-leases = True\nuse-utmp = no\nisolate-workers = FALSE`);
    expect(c.global["use-occtl"]).toBe(true);
    expect(c.global["ping-leases"]).toBe(true);
    expect(c.global["use-utmp"]).toBe(false);
    expect(c.global["isolate-workers"]).toBe(false);
  });

  test("option names are case-sensitive, as in ocserv", () => {
    const r = parseConfig(`${BASE}\nMax-Clients = 4`, "g.conf");
    expect(r.warnings.map(formatDiagnostic)).toEqual(["g.conf:8: unknown option 'Max-Clients'; did you mean 'max-clients'?"]);
  });
});

describe("virtual hosts", () => {
  const VH = `${BASE}
cookie-timeout = 600
dns = 10.0.0.53
route = 10.0.0.0/8
route = 172.16.0.0/12
cisco-client-compat = true
[vhost:VPN.Example.com]
cookie-timeout = 900
route = 192.168.50.0/24
[vhost: other.example.com\t ]
auth = certificate
cert-user-oid = 2.5.4.3
`;

  test("a named vhost inherits every option it does not set", () => {
    const c = ok(VH);
    const v = c.vhostFor("vpn.example.com");
    expect(v.name).toBe("VPN.Example.com");
    expect(v.options.dns).toEqual([{ family: 4, address: "10.0.0.53" }]);
    expect(v.options.auth).toEqual([{ type: "plain", passwd: "/etc/ocserv/ocpasswd" }]);
    expect(v.options["server-cert"]).toEqual(["/etc/ocserv/server-cert.pem"]);
    expect(v.options["cisco-client-compat"]).toBe(true);
  });

  test("a vhost scalar overrides the inherited value", () => {
    const c = ok(VH);
    expect(c.vhostFor("vpn.example.com").options["cookie-timeout"]).toBe(900);
    expect(c.defaultVhost.options["cookie-timeout"]).toBe(600);
  });

  test("a vhost list replaces the inherited list instead of appending to it", () => {
    const c = ok(VH);
    const routes = c.vhostFor("vpn.example.com").options.route.map((r) => (r === "default" ? r : r.text));
    expect(routes).toEqual(["192.168.50.0/255.255.255.0"]);
    expect(c.defaultVhost.options.route).toHaveLength(2);
  });

  test("SNI matching is case-insensitive and falls back to the default vhost", () => {
    const c = ok(VH);
    expect(c.vhostFor("OTHER.EXAMPLE.COM").name).toBe("other.example.com");
    expect(c.vhostFor("unknown.example.com")).toBe(c.defaultVhost);
    expect(c.vhostFor(null)).toBe(c.defaultVhost);
    expect(c.vhosts.map((v) => v.name)).toEqual(["VPN.Example.com", "other.example.com"]);
  });

  test("the certificate request follows the vhost's auth methods", () => {
    const c = ok(VH);
    expect(c.defaultVhost.certRequest).toBe("none");
    // auth = certificate alone is REQUIRE, relaxed to REQUEST by cisco-client-compat (inherited).
    expect(c.vhostFor("other.example.com").certRequest).toBe("request");
    const strict = ok(`${BASE.replace('auth = "plain[passwd=/etc/ocserv/ocpasswd]"', "auth = certificate")}\ncert-user-oid = 2.5.4.3`);
    expect(strict.defaultVhost.certRequest).toBe("require");
    const both = ok(`${BASE}\nenable-auth = certificate\ncert-user-oid = SAN(rfc822name)`);
    expect(both.defaultVhost.certRequest).toBe("request");
  });

  test("a repeated [vhost:] header reopens the same vhost", () => {
    const c = ok(`${BASE}\n[vhost:a.example]\ndpd = 5\n[vhost:A.EXAMPLE]\nkeepalive = 6`);
    expect(c.vhosts).toHaveLength(1);
    expect(c.vhosts[0]!.options.dpd).toBe(5);
    expect(c.vhosts[0]!.options.keepalive).toBe(6);
  });

  test("a vhost's ipv4-netmask overrides the prefix of an inherited CIDR ipv4-network", () => {
    const c = ok(`${BASE}\n[vhost:a.example]\nipv4-netmask = 255.255.0.0`);
    expect(c.vhostFor("a.example").options["ipv4-network"]).toEqual({ address: "192.168.1.0", prefix: 16, netmask: "255.255.0.0" });
    expect(c.defaultVhost.options["ipv4-network"]?.prefix).toBe(24);
  });

  test("a vhost that sets auth does not inherit the default's enable-auth (one array of auth slots)", () => {
    const c = ok(`${BASE}\nenable-auth = certificate\ncert-user-oid = 2.5.4.3\n[vhost:a.example]\nauth = "pam"\n[vhost:b.example]\nbanner = hi`);
    expect(c.vhostFor("a.example").options.auth).toEqual([{ type: "pam", service: "ocserv" }]);
    expect(c.vhostFor("a.example").options["enable-auth"]).toEqual([]);
    expect(c.vhostFor("a.example").certRequest).toBe("none");
    expect(c.vhostFor("b.example").options["enable-auth"]).toEqual([{ type: "certificate" }]);
  });

  test("a vhost without tls-priorities uses the default vhost's string", () => {
    const c = ok(`${BASE}\ntls-priorities = NORMAL:-VERS-TLS1.0\n[vhost:a.example]\ncisco-client-compat = true\n[vhost:b.example]\ntls-priorities = SECURE256`);
    expect(c.vhostFor("a.example").options["tls-priorities"]).toBe("NORMAL:-VERS-TLS1.0");
    expect(c.vhostFor("b.example").options["tls-priorities"]).toBe("SECURE256");
  });
});

describe("defaults and derived values", () => {
  test("absent options take the ocserv defaults, not the sample.config values", () => {
    const c = ok(BASE);
    const g = c.global;
    const o = c.defaultVhost.options;
    expect(g["udp-port"]).toBe(0);
    expect(g["use-occtl"]).toBe(false);
    expect(g["use-utmp"]).toBe(true);
    expect(g["limit-worker-memory"]).toBe(true);
    expect(g["dtls-psk"]).toBe(true);
    expect(g["max-ban-score"]).toBe(80);
    expect(g["auth-timeout"]).toBe(240);
    expect(g["log-level"]).toBe(2);
    expect(g["syslog-facility"]).toBe("daemon");
    expect(g["occtl-socket-file"]).toBe("/var/run/occtl.socket");
    expect(g["server-stats-reset-time"]).toBe(604800);
    expect(o["cookie-timeout"]).toBe(300);
    expect(o["rekey-time"]).toBe(172800);
    expect(o["rekey-method"]).toBe("new-tunnel");
    expect(o.keepalive).toBe(32400);
    expect(o.dpd).toBe(90);
    expect(o["mobile-dpd"]).toBe(1800);
    expect(o["dtls-legacy"]).toBe(true);
    expect(o["predictable-ips"]).toBe(true);
    expect(o["ipv6-subnet-prefix"]).toBe(128);
    expect(o["no-compress-limit"]).toBe(256);
    expect(o["switch-to-tcp-timeout"]).toBe(25);
    expect(o["tls-priorities"]).toBe("NORMAL:%SERVER_PRECEDENCE:%COMPAT");
    expect(o.route).toEqual([]);
  });

  test("cisco-client-compat implies dtls-legacy, select-group-by-url and no TLS 1.3 by default", () => {
    const o = ok(`${BASE}\ncisco-client-compat = true\ndtls-legacy = false`).defaultVhost.options;
    expect(o["dtls-legacy"]).toBe(true);
    expect(o["select-group-by-url"]).toBe(true);
    expect(o["tls-priorities"]).toBe("NORMAL:%SERVER_PRECEDENCE:%COMPAT:-VERS-TLS1.3");
  });

  test("always-require-cert = false means cisco-client-compat = true", () => {
    const o = ok(`${BASE}\nalways-require-cert = false`).defaultVhost.options;
    expect(o["cisco-client-compat"]).toBe(true);
  });

  test("mobile-dpd = 0 takes dpd, and an unset mobile-idle-timeout takes idle-timeout", () => {
    const o = ok(`${BASE}\ndpd = 45\nmobile-dpd = 0\nidle-timeout = 1200`).defaultVhost.options;
    expect(o["mobile-dpd"]).toBe(45);
    expect(o["mobile-idle-timeout"]).toBe(1200);
  });

  test("no-compress-limit below 64 is raised to 64", () => {
    expect(ok(`${BASE}\nno-compress-limit = 10`).defaultVhost.options["no-compress-limit"]).toBe(64);
  });

  test("udp-listen-host defaults to listen-host", () => {
    const g = ok(`${BASE}\nlisten-host = 192.0.2.1`).global;
    expect(g["udp-listen-host"]).toBe("192.0.2.1");
    expect(ok(`${BASE}\nlisten-host = 192.0.2.1\nudp-listen-host = ::1`).global["udp-listen-host"]).toBe("::1");
  });

  test("route = default drops every other route", () => {
    const o = ok(`${BASE}\nroute = 10.0.0.0/8\nroute = default\nroute = 172.16.0.0/12`).defaultVhost.options;
    expect(o.route).toEqual(["default"]);
  });

  test("IPv4 routes are normalised to dotted masks and IPv6 routes stay CIDR", () => {
    const o = ok(`${BASE}\nroute = 10.1.0.0/16\nroute = FEF4:DB8:1000:1001:0:0:0:0/64\nno-route = 10.1.5.0/255.255.255.0`).defaultVhost.options;
    expect(o.route).toEqual([
      { family: 4, address: "10.1.0.0", prefix: 16, text: "10.1.0.0/255.255.0.0" },
      { family: 6, address: "fef4:db8:1000:1001::", prefix: 64, text: "fef4:db8:1000:1001::/64" },
    ]);
    expect(o["no-route"]).toEqual([{ family: 4, address: "10.1.5.0", prefix: 24, text: "10.1.5.0/255.255.255.0" }]);
  });

  test("ipv4-network with a dotted ipv4-netmask gives the pool and its prefix", () => {
    const o = ok(`${BASE.replace("ipv4-network = 192.168.1.0/24", "ipv4-network = 10.8.0.0")}\nipv4-netmask = 255.255.252.0`).defaultVhost.options;
    expect(o["ipv4-network"]).toEqual({ address: "10.8.0.0", prefix: 22, netmask: "255.255.252.0" });
  });

  test("ipv6-prefix supplies the prefix of an ipv6-network written without one", () => {
    const o = ok(`${BASE}\nipv6-network = fd00:1::\nipv6-prefix = 48\nipv6-subnet-prefix = 64`).defaultVhost.options;
    expect(o["ipv6-network"]).toEqual({ address: "fd00:1::", prefix: 48 });
  });

  test("restrict-user-to-ports does not turn on restrict-user-to-routes (ocserv sets no OCSERV_RESTRICT_TO_ROUTES for it)", () => {
    const o = ok(`${BASE}\nrestrict-user-to-ports = "!(tcp(22), icmp())"`).defaultVhost.options;
    expect(o["restrict-user-to-routes"]).toBe(false);
    expect(o["restrict-user-to-ports"]).toEqual({ negate: true, rules: [{ protocol: "tcp", port: 22 }, { protocol: "icmp", port: null }] });
  });

  test("auth method strings parse into typed methods, with the legacy forms", () => {
    const c = ok(`${BASE.replace('auth = "plain[passwd=/etc/ocserv/ocpasswd]"', 'auth = "PAM[service=vpn, gid-min=1000]"')}
enable-auth = "gssapi[keytab=/etc/krb5.keytab,require-local-user-map=false,tgt-freshness-time=900]"
acct = "radius[/etc/radcli/radiusclient.conf]"`);
    const o = c.defaultVhost.options;
    expect(o.auth).toEqual([{ type: "pam", service: "vpn", gidMin: 1000 }]);
    expect(o["enable-auth"]).toEqual([{ type: "gssapi", keytab: "/etc/krb5.keytab", requireLocalUserMap: false, tgtFreshnessTime: 900 }]);
    expect(o.acct).toEqual({ type: "radius", config: "/etc/radcli/radiusclient.conf", groupSeparator: ";" });
    const legacy = ok(BASE.replace('"plain[passwd=/etc/ocserv/ocpasswd]"', '"plain[./sample.passwd]"'));
    expect(legacy.defaultVhost.options.auth).toEqual([{ type: "plain", passwd: "./sample.passwd" }]);
    const radius = ok(BASE.replace('"plain[passwd=/etc/ocserv/ocpasswd]"', '"radius[config=/r.conf,groupconfig=true,nas-identifier=vpn1,group-separator=comma]"'));
    expect(radius.defaultVhost.options.auth).toEqual([{ type: "radius", config: "/r.conf", groupconfig: true, nasIdentifier: "vpn1", groupSeparator: "," }]);
  });

  test("plain and certificate combine in auth (AND)", () => {
    const o = ok(`${BASE}\nauth = certificate\ncert-user-oid = 0.9.2342.19200300.100.1.1`).defaultVhost.options;
    expect(o.auth.map((m) => m.type)).toEqual(["plain", "certificate"]);
  });

  test("select-group entries carry their labels", () => {
    const o = ok(`${BASE}\nselect-group = group1\nselect-group = group2[My special group]`).defaultVhost.options;
    expect(o["select-group"]).toEqual([
      { name: "group1", label: "group1" },
      { name: "group2", label: "My special group" },
    ]);
  });

  test("tls-priorities is checked for syntax only, and an injected validator can reject it", () => {
    expect(parseConfig(`${BASE}\ntls-priorities = "NORMAL: %COMPAT"`, "g.conf").errors.map(formatDiagnostic)).toEqual([
      "g.conf:8: tls-priorities: 'NORMAL: %COMPAT' contains whitespace or control characters",
    ]);
    expect(ok(`${BASE}\ntls-priorities = NONSENSE:+WHATEVER`).defaultVhost.options["tls-priorities"]).toBe("NONSENSE:+WHATEVER");
    const validate = (p: string): string | null => (p.includes("NONSENSE") ? "unknown keyword 'NONSENSE'" : null);
    const r = parseConfig(`${BASE}\ntls-priorities = NONSENSE\n[vhost:a.example]\ntls-priorities = NORMAL\n[vhost:b.example]\ndpd = 1`, "g.conf", { validateTlsPriorities: validate });
    // b.example inherits the bad string from line 8: one diagnostic, not one per vhost.
    expect(r.errors.map(formatDiagnostic)).toEqual(["g.conf:8: tls-priorities: unknown keyword 'NONSENSE'"]);
    const defaults = parseConfig(BASE, "g.conf", { validateTlsPriorities: (p) => (p === "NORMAL:%SERVER_PRECEDENCE:%COMPAT" ? null : "no") });
    expect(defaults.errors).toEqual([]);
  });

  test("camouflage without a secret is a warning", () => {
    const r = parseConfig(`${BASE}\ncamouflage = true`, "g.conf");
    expect(r.errors).toEqual([]);
    expect(r.warnings.map(formatDiagnostic)).toEqual(["g.conf:8: camouflage is enabled but camouflage_secret is not set; no client can reach the VPN"]);
  });

  test("the configuration is deeply frozen", () => {
    const c = ok(`${BASE}\nroute = 10.0.0.0/8`);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.global)).toBe(true);
    expect(Object.isFrozen(c.defaultVhost.options)).toBe(true);
    expect(Object.isFrozen(c.defaultVhost.options.route)).toBe(true);
    expect(Object.isFrozen(c.defaultVhost.options.route[0])).toBe(true);
    expect(Object.isFrozen(c.defaultVhost.options.auth[0])).toBe(true);
    expect(() => {
      (c.global as { "max-clients": number })["max-clients"] = 5;
    }).toThrow();
  });
});
