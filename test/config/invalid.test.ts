import { describe, expect, test } from "bun:test";
import { formatDiagnostic, parseConfig } from "../../src/config/index.ts";
import { BASE } from "./helpers.ts";


function errorsOf(text: string): string[] {
  return parseConfig(text, "t.conf").errors.map(formatDiagnostic);
}

function without(option: string): string {
  return BASE.split("\n").filter((l) => !l.startsWith(`${option} `)).join("\n");
}

test("the base configuration used by these tests is valid", () => {
  const r = parseConfig(BASE, "t.conf");
  expect(r.errors).toEqual([]);
  expect(r.config).toBeDefined();
});

// [description, extra lines appended to BASE (starting at line 8), expected diagnostics]
const CASES: readonly (readonly [string, string, readonly string[]])[] = [
  ["a boolean that is not true/false/yes/no", "use-occtl = maybe", ["t.conf:8: use-occtl: 'maybe' is not a boolean (expected true, false, yes or no)"]],
  ["an integer with trailing garbage", "max-clients = 12abc", ["t.conf:8: max-clients: '12abc' is not an integer"]],
  ["a negative integer where counts start at 0", "max-clients = -1", ["t.conf:8: max-clients: -1 is out of range (0-2147483647)"]],
  ["a TCP port above 65535", "tcp-port = 70000", ["t.conf:8: tcp-port: 70000 is out of range (1-65535)"]],
  ["a TCP port of 0", "tcp-port = 0", ["t.conf:8: tcp-port: 0 is out of range (1-65535)"]],
  ["a log level above 9", "log-level = 10", ["t.conf:8: log-level: 10 is out of range (0-9)"]],
  ["an unknown syslog facility", "syslog-facility = kern", ["t.conf:8: syslog-facility: 'kern' is not a syslog facility (daemon, user, auth, authpriv, local0, local1, local2, local3, local4, local5, local6, local7)"]],
  ["an unknown rekey method", "rekey-method = renegotiate", ["t.conf:8: rekey-method: 'renegotiate' is not a rekey method (expected ssl or new-tunnel)"]],
  ["net-priority above 6", "net-priority = 7", ["t.conf:8: net-priority: '7' is not a priority 0-6 or a hexadecimal TOS 0x00-0xff"]],
  ["net-priority with a 3-digit hex TOS", "net-priority = 0x100", ["t.conf:8: net-priority: '0x100' is not a priority 0-6 or a hexadecimal TOS 0x00-0xff"]],
  ["dns = local", "dns = local", ["t.conf:8: dns: 'local' is not supported; give the address of a DNS server"]],
  ["a DNS server that is not an address", "dns = dns.example.com", ["t.conf:8: dns: 'dns.example.com' is not an IPv4 or IPv6 address"]],
  ["a route without a prefix", "route = 10.0.0.0", ["t.conf:8: route: '10.0.0.0' is not a route: expected ADDRESS/PREFIX or ADDRESS/NETMASK"]],
  ["a route with a non-contiguous netmask", "route = 10.0.0.0/255.0.255.0", ["t.conf:8: route: '10.0.0.0/255.0.255.0' has an invalid IPv4 netmask or prefix '255.0.255.0'"]],
  ["an IPv4 route with prefix 33", "route = 10.0.0.0/33", ["t.conf:8: route: '10.0.0.0/33' has an invalid IPv4 netmask or prefix '33'"]],
  ["an IPv6 route with prefix 129", "route = fd00::/129", ["t.conf:8: route: 'fd00::/129' has an invalid IPv6 prefix '129'"]],
  ["a route whose address is not an IP", "route = example.com/24", ["t.conf:8: route: 'example.com' in 'example.com/24' is not an IPv4 or IPv6 address"]],
  ["an IPv4 octet above 255", "route = 10.0.0.256/24", ["t.conf:8: route: '10.0.0.256' in '10.0.0.256/24' is not an IPv4 or IPv6 address"]],
  ["no-route = default", "no-route = default", ["t.conf:8: no-route: 'default' is only meaningful for 'route'"]],
  ["a non-contiguous ipv4-netmask", "ipv4-netmask = 255.255.0.255", ["t.conf:8: ipv4-netmask: '255.255.0.255' is not a contiguous dotted netmask"]],
  ["ipv4-netmask contradicting the CIDR prefix", "ipv4-netmask = 255.255.0.0", ["t.conf:8: ipv4-netmask 255.255.0.0 conflicts with the prefix /24 of ipv4-network"]],
  ["ipv6-subnet-prefix not longer than the network prefix", "ipv6-network = fd00::/64\nipv6-subnet-prefix = 64", ["t.conf:9: ipv6-subnet-prefix (64) must be greater than the prefix of ipv6-network (64)"]],
  ["ipv6-network without a prefix", "ipv6-network = fd00::", ["t.conf:8: ipv6-network: no prefix; write the network as addr/prefix"]],
  ["match-tls-dtls-ciphers with the default dtls-legacy", "match-tls-dtls-ciphers = true", ["t.conf:8: match-tls-dtls-ciphers cannot be used with dtls-legacy (set dtls-legacy = false; cisco-client-compat implies it)"]],
  ["match-tls-dtls-ciphers with cisco-client-compat", "dtls-legacy = false\ncisco-client-compat = true\nmatch-tls-dtls-ciphers = true", ["t.conf:10: match-tls-dtls-ciphers cannot be used with dtls-legacy (set dtls-legacy = false; cisco-client-compat implies it)"]],
  ["cisco-svc-client-compat with udp-port 4443", "udp-port = 4443\ncisco-svc-client-compat = true", ["t.conf:9: cisco-svc-client-compat requires udp-port to be 0 or 443 (it is 4443)"]],
  ["a banner over 256 bytes", `banner = ${"x".repeat(257)}`, ["t.conf:8: banner: is 257 bytes; at most 256 are allowed"]],
  ["a device name too long for IFNAMSIZ", "device = averyverylongname", ["t.conf:8: device: 'averyverylongname' is too long for a tun device name prefix (at most 13 characters, IFNAMSIZ is 16 with '%d' and NUL)"]],
  ["a device name with a slash", "device = vpn/0", ["t.conf:8: device: 'vpn/0' is not a valid interface name"]],
  ["listen-clear-file, removed in 1.1.2", "listen-clear-file = /run/clear.sock", ["t.conf:8: 'listen-clear-file' was removed in ocserv 1.1.2 and is not supported"]],
  ["plain combined with pam", 'auth = "pam"', ["t.conf:8: auth: cannot combine 'plain' and 'pam'; only certificate can be added to another method"]],
  ["plain combined with radius", 'auth = "radius[config=/etc/radcli/radiusclient.conf]"', ["t.conf:8: auth: cannot combine 'plain' and 'radius'; only certificate can be added to another method"]],
  ["plain with enable-auth = pam", 'enable-auth = "pam"', ["t.conf:8: enable-auth: cannot combine the password methods 'plain' and 'pam'"]],
  ["plain with enable-auth = radius", 'enable-auth = "radius[config=/etc/radcli/radiusclient.conf]"', ["t.conf:8: enable-auth: cannot combine the password methods 'plain' and 'radius'"]],
  ["three enable-auth alternatives", 'enable-auth = certificate\nenable-auth = gssapi\nenable-auth = "oidc[config=/etc/oidc.json]"\ncert-user-oid = 2.5.4.3', ["t.conf:10: enable-auth: at most 2 alternative methods can be given"]],
  ["certificate auth without cert-user-oid", 'auth = "certificate"', ["t.conf:8: cert-user-oid is mandatory when certificate authentication is used"]],
  ["a malformed cert-user-oid", "cert-user-oid = CN", ["t.conf:8: cert-user-oid: 'CN' is not a dotted OID or SAN(rfc822name)"]],
  ["an auth sub-option without '='", 'auth = "certificate"\nenable-auth = "gssapi[keytab]"', ["t.conf:8: cert-user-oid is mandatory when certificate authentication is used", "t.conf:9: enable-auth: 'gssapi[keytab]': sub-option 'keytab' has no '='"]],
  ["an unknown auth sub-option", 'enable-auth = "gssapi[keytab=/k,color=blue]"', ["t.conf:8: enable-auth: 'gssapi[keytab=/k,color=blue]': unknown sub-option 'color' (allowed: keytab, require-local-user-map, tgt-freshness-time, gid-min)"]],
  ["more than five auth sub-options", 'enable-auth = "gssapi[keytab=/k,gid-min=1,tgt-freshness-time=9,require-local-user-map=true,keytab=/x,gid-min=2]"', ["t.conf:8: enable-auth: 'gssapi[keytab=/k,gid-min=1,tgt-freshness-time=9,require-local-user-map=true,keytab=/x,gid-min=2]': at most 5 sub-options are allowed"]],
  ["an unknown auth method", 'enable-auth = "ldap"', ["t.conf:8: enable-auth: 'ldap' is not an authentication method (pam, gssapi, radius, plain, certificate, oidc)"]],
  ["plain without a password file", 'acct = "pam"\nenable-auth = "plain"', ["t.conf:9: enable-auth: 'plain': plain needs [passwd=FILE] or [otp=FILE]"]],
  ["radius without config", 'acct = "radius[nas-identifier=x]"', ["t.conf:8: acct: 'radius[nas-identifier=x]': radius needs config=FILE"]],
  ["acct with groupconfig (an auth-only sub-option)", 'acct = "radius[config=/r,groupconfig=true]"', ["t.conf:8: acct: 'radius[config=/r,groupconfig=true]': unknown sub-option 'groupconfig' (allowed: config, nas-identifier, group-separator)"]],
  ["acct given twice", 'acct = "pam"\nacct = "radius[config=/r]"', ["t.conf:9: acct: only one accounting method can be specified"]],
  ["acct = certificate", 'acct = "certificate"', ["t.conf:8: acct: 'certificate' is not an accounting method (radius or pam)"]],
  ["a radius group-separator other than semicolon/comma", 'acct = "radius[config=/r,group-separator=colon]"', ["t.conf:8: acct: 'radius[config=/r,group-separator=colon]': group-separator must be semicolon or comma"]],
  ["config-per-user with radius groupconfig", 'enable-auth = "radius[config=/r,groupconfig=true]"\nconfig-per-user = /etc/ocserv/users/', ["t.conf:8: enable-auth: cannot combine the password methods 'plain' and 'radius'", "t.conf:9: config-per-user cannot be used with radius groupconfig=true (RADIUS supplies the per-user configuration)"]],
  ["restrict-user-to-ports with an unknown protocol", 'restrict-user-to-ports = "tcp(443), gre()"', ["t.conf:8: restrict-user-to-ports: 'tcp(443), gre()': unknown protocol 'gre'"]],
  ["restrict-user-to-ports with tcp() but no port", 'restrict-user-to-ports = "tcp()"', ["t.conf:8: restrict-user-to-ports: 'tcp()': tcp() needs a port"]],
  ["restrict-user-to-ports with a port above 65535", 'restrict-user-to-ports = "udp(65536)"', ["t.conf:8: restrict-user-to-ports: 'udp(65536)': port 65536 is out of range (1-65535)"]],
  ["a negated port list without parentheses", 'restrict-user-to-ports = "!tcp(22)"', ["t.conf:8: restrict-user-to-ports: '!tcp(22)': a negated list must be written !(...)"]],
  ["a kkdcp entry with an unknown transport", 'kkdcp = "/KdcProxy EXAMPLE.COM sctp@127.0.0.1:88"', ["t.conf:8: kkdcp: '/KdcProxy EXAMPLE.COM sctp@127.0.0.1:88': expected udp@HOST:PORT or tcp@HOST:PORT"]],
  ["a listen-host that is neither address nor name", "listen-host = 10.0.0.1:443", ["t.conf:8: listen-host: '10.0.0.1:443' is not an IP address or host name"]],
  ["a select-group with an unclosed label", "select-group = admins[Administrators", ["t.conf:8: select-group: 'admins[Administrators' has '[' without a closing ']'"]],
  ["a line with no separator", "max-clients 16", ["t.conf:8: expected 'name = value': no '=' or ':' on this line"]],
  ["a section header without ']'", "[vhost:example.com", ["t.conf:8: section header has no closing ']'"]],
  ["an empty vhost name", "[vhost:  ]", ["t.conf:8: [vhost:] section has an empty name"]],
  ["a line longer than inih's buffer", `banner = ${"y".repeat(2100)}`, ["t.conf:8: line is longer than 2046 bytes"]],
  ["an empty path", 'ca-cert = ""', ["t.conf:8: ca-cert: path is empty"]],
  ["a custom-header that is not a header line", 'custom-header = "not a header"', ["t.conf:8: custom-header: 'not a header' is not an HTTP header line 'Name: value'"]],
  ["ipv6-subnet-prefix of 0", "ipv6-subnet-prefix = 0", ["t.conf:8: ipv6-subnet-prefix: 0 is out of range (1-128)"]],
  ["the same auth method twice", 'auth = "plain[passwd=/other]"', ["t.conf:8: auth: 'plain' is given twice"]],
  ["a global option inside a vhost", "[vhost:a.example.com]\nmax-clients = 10", ["t.conf:9: 'max-clients' is a global option and cannot be set in [vhost:a.example.com]"]],
  ["a non-reloadable global option inside a vhost", "[vhost:a.example.com]\ntcp-port = 8443", ["t.conf:9: 'tcp-port' is a global option and cannot be set in [vhost:a.example.com]"]],
  ["server-key given more often than server-cert in a vhost", "[vhost:b.example.com]\nserver-cert = /b.pem\nserver-key = /b.key\nserver-key = /b2.key", ["t.conf:11: server-cert is given 1 times but server-key 2 times; they must pair up"]],
  ["a vhost switching to certificate auth without cert-user-oid", '[vhost:c.example.com]\nauth = "certificate"', ["t.conf:9: cert-user-oid is mandatory when certificate authentication is used"]],
  ["an invalid compression-algo-priority", "compression-algo-priority = zstd:10", ["t.conf:8: compression-algo-priority: 'zstd' is not a compression method (lz4, oc-lz4 or lzs)"]],
];

describe("invalid configurations are rejected with file:line: message", () => {
  for (const [what, extra, expected] of CASES) {
    test(`rejects ${what}`, () => {
      expect(errorsOf(`${BASE}\n${extra}\n`)).toEqual([...expected]);
    });
  }
});

test("there are at least 40 invalid-configuration cases", () => {
  expect(CASES.length).toBeGreaterThanOrEqual(40);
});

describe("mandatory options", () => {
  test("reports a missing auth", () => {
    expect(errorsOf(without("auth"))).toEqual(["t.conf: auth is mandatory"]);
  });
  test("reports a missing tcp-port", () => {
    expect(errorsOf(without("tcp-port"))).toEqual(["t.conf: tcp-port is mandatory"]);
  });
  test("reports a missing socket-file", () => {
    expect(errorsOf(without("socket-file"))).toEqual(["t.conf: socket-file is mandatory"]);
  });
  test("reports a missing device", () => {
    expect(errorsOf(without("device"))).toEqual(["t.conf: device is mandatory"]);
  });
  test("reports a missing server-cert", () => {
    expect(errorsOf(without("server-cert"))).toEqual(["t.conf: server-cert is mandatory"]);
  });
  test("reports a missing address pool", () => {
    expect(errorsOf(without("ipv4-network"))).toEqual(["t.conf: ipv4-network or ipv6-network is mandatory"]);
  });
  test("accepts an IPv6-only pool", () => {
    expect(errorsOf(`${without("ipv4-network")}\nipv6-network = fd00::/48\nipv6-subnet-prefix = 64`)).toEqual([]);
  });
  test("reports an ipv4-network without any netmask", () => {
    expect(errorsOf(`${without("ipv4-network")}\nipv4-network = 10.1.0.0`)).toEqual([
      "t.conf:7: ipv4-network: no netmask; set ipv4-netmask or write the network as a.b.c.d/prefix",
    ]);
  });
  test("a named vhost without auth is an error when there is none to inherit", () => {
    const r = errorsOf(`${without("auth")}\n[vhost:x.example.com]\nbanner = hi`);
    expect(r).toEqual(["t.conf: auth is mandatory", "t.conf:7: auth is mandatory (in [vhost:x.example.com] or inherited)"]);
  });
});

test("reports every error in the file, in line order, not just the first", () => {
  const text = [
    "tcp-port = 99999",
    "use-occtl = perhaps",
    'auth = "plain[passwd=/p]"',
    "socket-file = /s",
    "device = vpns",
    "server-cert = /c",
    "server-key = /k",
    "ipv4-network = 10.0.0.0/8",
    "dns = local",
    "[vhost:v.example.com]",
    "device = other",
    "route = 1.2.3.4",
  ].join("\n");
  const r = parseConfig(text, "multi.conf");
  expect(r.config).toBeUndefined();
  expect(r.errors.map(formatDiagnostic)).toEqual([
    "multi.conf: tcp-port is mandatory",
    "multi.conf:1: tcp-port: 99999 is out of range (1-65535)",
    "multi.conf:2: use-occtl: 'perhaps' is not a boolean (expected true, false, yes or no)",
    "multi.conf:9: dns: 'local' is not supported; give the address of a DNS server",
    "multi.conf:11: 'device' is a global option and cannot be set in [vhost:v.example.com]",
    "multi.conf:12: route: '1.2.3.4' is not a route: expected ADDRESS/PREFIX or ADDRESS/NETMASK",
  ]);
  expect(r.errors.find((d) => d.line === 2)?.option).toBe("use-occtl");
});

describe("warnings", () => {
  test("an unknown option is a warning naming the closest known option", () => {
    const r = parseConfig(`${BASE}\nmax-client = 4\n`, "t.conf");
    expect(r.errors).toEqual([]);
    expect(r.config).toBeDefined();
    expect(r.warnings.map(formatDiagnostic)).toEqual(["t.conf:8: unknown option 'max-client'; did you mean 'max-clients'?"]);
    expect(r.config!.global["max-clients"]).toBe(0);
  });
  test("an unknown option far from every known name gets no suggestion", () => {
    const r = parseConfig(`${BASE}\nfrobnicate-the-widgets = 1\n`, "t.conf");
    expect(r.warnings.map(formatDiagnostic)).toEqual(["t.conf:8: unknown option 'frobnicate-the-widgets'"]);
  });
  test("deprecated names warn, and aliases still set the canonical option", () => {
    const r = parseConfig(`${BASE}\nsession-control = true\nuse-dbus = true\nmin-reauth-time = 60\n`, "t.conf");
    expect(r.errors).toEqual([]);
    expect(r.warnings.map(formatDiagnostic)).toEqual([
      "t.conf:8: 'session-control' is deprecated and ignored",
      "t.conf:9: 'use-dbus' is deprecated; use 'use-occtl'",
      "t.conf:10: 'min-reauth-time' is deprecated; use 'ban-time'",
    ]);
    expect(r.config!.global["use-occtl"]).toBe(true);
    expect(r.config!.global["ban-time"]).toBe(60);
  });
  test("an unknown section is skipped with a warning and its options are ignored", () => {
    const r = parseConfig(`${BASE}\n[global]\nmax-clients = 5\n`, "t.conf");
    expect(r.errors).toEqual([]);
    expect(r.warnings.map(formatDiagnostic)).toEqual(["t.conf:8: skipping unknown section [global]"]);
    expect(r.config!.global["max-clients"]).toBe(0);
  });
  test("a select-group name of 64 bytes or more warns that it can never be selected", () => {
    const r = parseConfig(`${BASE}\nselect-group = ${"g".repeat(64)}\n`, "t.conf");
    expect(r.errors).toEqual([]);
    expect(r.warnings.map(formatDiagnostic)).toEqual([`t.conf:8: select-group: '${"g".repeat(64)}' is 64 bytes or longer and can never be selected`]);
  });
});
