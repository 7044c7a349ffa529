// The option table: every name ocserv.conf accepts, in one place. It drives parsing (value type,
// list or scalar, raw value), validation (scope checks), the per-user key set, reload (reloadable)
// and the generated documentation (renderOptionTable). Sources: config-options.md §2 (defaults are
// the ocserv defaults, not sample.config values), sample.config [scope:] annotations, §4 (per-user).

import type { Scope } from "./types.ts";
import type { Parsed } from "./values.ts";
import {
  INT_MAX,
  parseAcctMethod,
  parseAuthMethod,
  parseBanner,
  parseBool,
  parseCompressionPriority,
  parseDefaultDomain,
  parseDevice,
  parseDns,
  parseDomain,
  parseHeaderLine,
  parseHost,
  parseInt10,
  parseIpAddr,
  parseIpv4Addr,
  parseIpv4Network,
  parseIpv6Addr,
  parseIpv6Network,
  parseKkdcp,
  parseNetmask,
  parseNetPriority,
  parseNonEmpty,
  parseOid,
  parsePath,
  parsePortRestriction,
  parseRekeyMethod,
  parseRouteEntry,
  parseRouteOnly,
  parseSelectGroup,
  parseString,
  parseSyslogFacility,
  parseTlsPriorities,
} from "./values.ts";

/** How a value is read. `label` names the type in docs and messages. */
export interface ValueType {
  readonly label: string;
  readonly parse: (value: string) => Parsed<unknown>;
}

export type OptionStatus =
  | { readonly kind: "active" }
  | { readonly kind: "alias"; readonly of: string; readonly deprecated: boolean }
  | { readonly kind: "removed"; readonly since: string } // a hard error (listen-clear-file)
  | { readonly kind: "deprecated" }; // accepted with a warning and ignored (session-control)

export interface OptionSpec {
  readonly name: string;
  readonly status: OptionStatus;
  readonly scope: Scope;
  /** Whether SIGHUP applies a new value; false for the (non-reloadable) scopes. */
  readonly reloadable: boolean;
  /** Lists append on repetition (and a vhost list replaces the inherited one); scalars: last wins. */
  readonly list: boolean;
  /** Keep the value as written: no quote stripping (ocserv: included-http-headers only). */
  readonly raw: boolean;
  /** Accepted in per-user / per-group files (config-options.md §4). */
  readonly perUser: boolean;
  readonly type: ValueType;
  /** The value when absent (lists: the empty list). Derived defaults are documented in `defaultText`. */
  readonly defaultValue: unknown;
  readonly defaultText: string;
  readonly doc: string;
}

const BOOL: ValueType = { label: "bool", parse: parseBool };
const STR: ValueType = { label: "string", parse: parseString };
const NONEMPTY: ValueType = { label: "string", parse: parseNonEmpty };
const PATH: ValueType = { label: "path", parse: parsePath };
const HOST: ValueType = { label: "host", parse: parseHost };
const int = (min: number, max: number): ValueType => ({ label: `int ${min}-${max}`, parse: (v) => parseInt10(v, min, max) });
const SECS = int(0, INT_MAX);
const PORT = int(1, 65535);
const t = (label: string, parse: (v: string) => Parsed<unknown>): ValueType => ({ label, parse });

interface Extra {
  readonly list?: boolean;
  readonly raw?: boolean;
  readonly perUser?: boolean;
}

function def(name: string, scope: Scope, type: ValueType, defaultValue: unknown, defaultText: string, doc: string, extra: Extra = {}): OptionSpec {
  const list = extra.list ?? false;
  return {
    name,
    status: { kind: "active" },
    scope,
    reloadable: scope !== "global-nr" && scope !== "vhost-nr",
    list,
    raw: extra.raw ?? false,
    perUser: extra.perUser ?? scope === "vhost-user",
    type,
    defaultValue: list ? [] : defaultValue,
    defaultText,
    doc,
  };
}

function alias(name: string, of: OptionSpec, deprecated: boolean): OptionSpec {
  return { ...of, name, status: { kind: "alias", of: of.name, deprecated }, doc: `${deprecated ? "Deprecated alias" : "Alias"} of ${of.name}.` };
}

function removed(name: string, since: string, doc: string): OptionSpec {
  return { name, status: { kind: "removed", since }, scope: "global", reloadable: false, list: false, raw: false, perUser: false, type: STR, defaultValue: null, defaultText: "-", doc };
}

function deprecated(name: string, doc: string): OptionSpec {
  return { name, status: { kind: "deprecated" }, scope: "global", reloadable: false, list: false, raw: false, perUser: false, type: STR, defaultValue: null, defaultText: "-", doc };
}

const G_NR = "global-nr" as const;
const G = "global" as const;
const V_NR = "vhost-nr" as const;
const V = "vhost" as const;
const VU = "vhost-user" as const;

// --- options that have aliases, declared first so the aliases can reference them -------------------
const DNS = def("dns", VU, t("ip address", parseDns), [], "none", "DNS servers sent as X-CSTP-DNS; the keyword 'local' is rejected.", { list: true });
const NBNS = def("nbns", VU, t("ip address", parseIpAddr), [], "none", "NBNS servers sent as X-CSTP-NBNS.", { list: true });
const USE_OCCTL = def("use-occtl", G, BOOL, false, "false", "Enable the occtl control socket.");
const ISOLATE = def("isolate-workers", G, BOOL, false, "false", "Apply seccomp and worker rlimits to workers.");
const BAN_TIME = def("ban-time", G, SECS, 300, "300", "Seconds an IP stays banned after exceeding max-ban-score.");

const TABLE: readonly OptionSpec[] = [
  // §2.1 Authentication, accounting, identity
  def("auth", V_NR, t("auth method", parseAuthMethod), [], "- (mandatory)", "Primary auth methods; several lines are AND-composed (one module method, plus certificate).", { list: true }),
  def("enable-auth", V_NR, t("auth method", parseAuthMethod), [], "none", "Alternative auth methods, OR-composed (at most 2).", { list: true }),
  def("acct", V_NR, t("acct method", parseAcctMethod), null, "none", "Accounting: radius[config=...,nas-identifier=...] or pam. Only one."),
  def("cert-user-oid", V, t("oid", parseOid(true)), null, "none (required with certificate auth)", "OID of the client certificate DN holding the username, or SAN(rfc822name)."),
  def("cert-group-oid", V, t("oid", parseOid(false)), null, "none", "OID of the client certificate DN holding the groups."),
  def("ca-cert", V_NR, PATH, null, "none", "CA used to verify client certificates."),
  def("crl", V, PATH, null, "none", "Certificate revocation list (PEM or DER), reloaded when the file changes."),
  def("select-group", V, t("group[label]", parseSelectGroup), [], "none", "Groups offered at login, as name[Friendly label].", { list: true }),
  def("default-select-group", V, NONEMPTY, null, "none", "Virtual group name meaning 'the user's default group'."),
  def("auto-select-group", V, BOOL, false, "false", "Fill the group list from the auth backend."),
  def("select-group-by-url", V, BOOL, false, "false (true with cisco-client-compat)", "A POST to /<group> selects that group."),
  def("config-per-user", V, PATH, null, "none", "Directory of per-user configuration files."),
  def("config-per-group", V, PATH, null, "none", "Directory of per-group configuration files."),
  def("default-user-config", V, PATH, null, "none", "Fallback file when there is no per-user file."),
  def("default-group-config", V, PATH, null, "none", "Fallback file when there is no per-group file."),
  def("expose-iroutes", V, BOOL, false, "false", "Push every user's iroutes as routes to the other clients."),
  def("always-require-cert", V, BOOL, true, "true", "Deprecated: false means cisco-client-compat = true."),

  // §2.2 Listening, processes, files, logging
  def("listen-host", G_NR, HOST, null, "all addresses", "Bind TCP (and UDP unless udp-listen-host) to this address or host name."),
  def("udp-listen-host", G_NR, HOST, null, "= listen-host", "Bind UDP to this address or host name."),
  def("listen-netns", G_NR, NONEMPTY, null, "none", "Create the listening sockets in this network namespace."),
  def("tcp-port", G_NR, PORT, 0, "- (mandatory)", "TCP port."),
  def("udp-port", G_NR, int(0, 65535), 0, "0 (no DTLS)", "UDP port; 0 disables DTLS."),
  def("listen-proxy-proto", G, BOOL, false, "false", "Expect a PROXY protocol v1/v2 header on each TCP connection."),
  def("listen-host-is-dyndns", V, BOOL, false, "false", "Send X-CSTP-DynDNS: true so the client re-resolves on reconnect."),
  def("run-as-user", G_NR, NONEMPTY, null, "none (stays root)", "User the workers run as; also owns the tun device."),
  def("run-as-group", G_NR, NONEMPTY, null, "none", "Group the workers run as."),
  def("socket-file", G_NR, PATH, null, "- (mandatory)", "Prefix of the sec-mod unix socket path."),
  def("occtl-socket-file", G_NR, PATH, "/var/run/occtl.socket", "/var/run/occtl.socket", "Unix socket used by occtl."),
  USE_OCCTL,
  def("chroot-dir", G_NR, PATH, null, "none", "Directory the workers chroot to."),
  def("pid-file", G_NR, PATH, null, "none", "PID file; -p on the command line wins."),
  def("sec-mod-scale", G_NR, int(0, 1024), 0, "0 (automatic)", "Number of sec-mod processes."),
  def("sec-mod-db-cleanup-time", G, SECS, 0, "0 (310 s)", "Interval of the sec-mod expired-cookie purge."),
  def("server-stats-reset-time", G_NR, SECS, 604800, "604800", "Period after which occtl statistics are reset."),
  def("log-level", G_NR, int(0, 9), 2, "2", "0/2 info, 1 basic, 3 debug, 4 http, 5 transferred, 8 sensitive, 9 TLS."),
  def("syslog-facility", G_NR, t("facility", parseSyslogFacility), "daemon", "daemon", "Syslog facility: daemon, user, auth, authpriv, local0..local7."),
  ISOLATE,
  def("limit-worker-memory", G, BOOL, true, "true", "Apply RLIMIT_DATA (baseline + 64 MB) to workers."),
  def("max-clients", G, SECS, 0, "0 (unlimited)", "Maximum number of connected clients."),
  def("rate-limit-ms", G, SECS, 0, "0", "Pause accept() this many ms while sec-mod is backlogged."),
  def("server-drain-ms", G, SECS, 0, "0", "On SIGTERM, wait this long after closing listeners before ending sessions."),
  def("use-utmp", G, BOOL, true, "true", "Write utmp/wtmp records per session."),
  def("debug-no-secmod-stats", V_NR, BOOL, false, "false", "Test only: workers do not send stats to sec-mod."),

  // §2.3 TLS / DTLS
  def("server-cert", V_NR, PATH, [], "- (mandatory)", "Server certificate (or sorted chain); repeat, paired in order with server-key.", { list: true }),
  def("server-key", V_NR, PATH, [], "- (mandatory)", "Server private key file or pkcs11:/tpmkey: URL; repeat, paired with server-cert.", { list: true }),
  def("dh-params", V_NR, PATH, null, "none", "DH parameters (legacy GnuTLS only)."),
  def("pin-file", V_NR, PATH, null, "none", "File with the PIN of a PKCS#11/TPM key."),
  def("srk-pin-file", V_NR, PATH, null, "none", "File with the TPM storage root key PIN."),
  def("key-pin", V_NR, STR, null, "none", "The key PIN given inline."),
  def("srk-pin", V_NR, STR, null, "none", "The TPM SRK PIN given inline."),
  def("ocsp-response", V, PATH, null, "none", "Stapled OCSP response (DER)."),
  def("tls-priorities", V, t("gnutls priority", parseTlsPriorities), null, "NORMAL:%SERVER_PRECEDENCE:%COMPAT (+:-VERS-TLS1.3 with cisco-client-compat)", "GnuTLS priority string for TLS (validated by the TLS module)."),
  def("match-tls-dtls-ciphers", V, BOOL, false, "false", "DTLS-PSK must use the TLS session's cipher; incompatible with dtls-legacy."),
  def("dtls-psk", G, BOOL, true, "true", "Allow the PSK-NEGOTIATE DTLS setup."),
  def("dtls-legacy", V, BOOL, true, "true", "Allow the legacy AnyConnect DTLS setup."),
  def("cisco-client-compat", V, BOOL, false, "false", "AnyConnect compatibility: implies dtls-legacy and select-group-by-url, no TLS 1.3 by default."),
  def("cisco-svc-client-compat", V, BOOL, false, "false", "Cisco IP-phone /svc mode: implies dtls-legacy, requires udp-port 0 or 443."),
  def("rekey-time", V, SECS, 172800, "172800", "Seconds between rekeys (X-CSTP-Rekey-Time); 0 disables."),
  def("rekey-method", V, t("ssl|new-tunnel", parseRekeyMethod), "new-tunnel", "new-tunnel (advertised when unset)", "ssl (renegotiation / TLS 1.3 KeyUpdate) or new-tunnel."),
  def("compression", V, BOOL, false, "false", "Allow LZS and LZ4 negotiation."),
  def("compression-algo-priority", G, t("name:prio", parseCompressionPriority), null, "oc-lz4:90:lzs:80", "Compression priorities as NAME:PRIORITY pairs (oc-lz4, lzs)."),
  def("no-compress-limit", V, int(0, 65535), 256, "256 (minimum 64)", "Packets this size or smaller are not compressed."),
  def("kkdcp", V, t("kkdcp", parseKkdcp), [], "none", "MS-KKDCP mapping 'PATH REALM proto@host:port'.", { list: true }),

  // §2.4 Timers, keepalive, bans, cookies
  def("auth-timeout", G, SECS, 240, "240", "Seconds a client may take before completing CONNECT."),
  def("idle-timeout", VU, SECS, 0, "0 (off)", "Disconnect after this many seconds without data traffic."),
  def("mobile-idle-timeout", VU, SECS, null, "= idle-timeout", "idle-timeout for mobile clients."),
  def("session-timeout", VU, SECS, 0, "0 (off)", "Hard session limit from the original authentication."),
  def("keepalive", VU, SECS, 32400, "32400", "Advertised X-CSTP-Keepalive / X-DTLS-Keepalive."),
  def("dpd", VU, SECS, 90, "90", "Dead peer detection interval (X-CSTP-DPD)."),
  def("mobile-dpd", VU, SECS, 1800, "1800 (0 = dpd)", "DPD for mobile clients."),
  def("switch-to-tcp-timeout", V, SECS, 25, "25", "Send over CSTP if no UDP has arrived for this many seconds."),
  def("try-mtu-discovery", G, BOOL, false, "false", "DPD-based MTU probing on DTLS."),
  def("cookie-timeout", V, SECS, 300, "300", "Seconds a session cookie survives after disconnect."),
  def("persistent-cookies", V, BOOL, false, "false", "Keep cookies after an explicit disconnect."),
  def("deny-roaming", VU, BOOL, false, "false", "The cookie is only valid from the authenticating IP."),
  def("max-same-clients", VU, SECS, 0, "0 (unlimited)", "Concurrent sessions per username."),
  def("max-ban-score", G, SECS, 80, "80 (0 disables)", "Ban threshold."),
  BAN_TIME,
  def("ban-reset-time", G, SECS, 1200, "1200", "Seconds after which ban points are forgotten."),
  def("ban-points-wrong-password", G, SECS, 10, "10", "Ban points per wrong password."),
  def("ban-points-connection", G, SECS, 1, "1", "Ban points per TCP connection."),
  def("ban-points-kkdcp", G, SECS, 1, "1", "Ban points per KKDCP POST."),
  def("stats-report-time", VU, SECS, 0, "0", "Seconds between worker statistics reports (RADIUS interim updates)."),

  // §2.5 Network settings sent to the client
  def("device", G, t("ifname", parseDevice), null, "- (mandatory)", "Tun device name prefix (the kernel appends a number)."),
  def("ipv4-network", VU, t("ipv4 network", parseIpv4Network), null, "none", "IPv4 pool: a.b.c.d with ipv4-netmask, or a.b.c.d/prefix."),
  def("ipv4-netmask", VU, t("netmask", parseNetmask), null, "none", "Dotted netmask of the IPv4 pool."),
  def("ipv6-network", VU, t("ipv6 network", parseIpv6Network), null, "none", "IPv6 pool addr/prefix."),
  def("ipv6-prefix", V, int(1, 128), null, "none", "Prefix length of ipv6-network when written without /len (undocumented)."),
  def("ipv6-subnet-prefix", VU, int(1, 128), 128, "128", "Size of the per-client IPv6 allocation."),
  DNS,
  NBNS,
  def("split-dns", VU, t("domain", parseDomain), [], "none", "Domains resolved through the VPN DNS (X-CSTP-Split-DNS).", { list: true }),
  def("default-domain", V, t("domains", parseDefaultDomain), null, "none", "X-CSTP-Default-Domain, space separated."),
  def("tunnel-all-dns", VU, BOOL, false, "false", "X-CSTP-Tunnel-All-DNS."),
  def("route", VU, t("route|default", parseRouteEntry), [], "none (default route)", "Routes sent to the client (X-CSTP-Split-Include), or 'default'.", { list: true }),
  def("no-route", VU, t("route", parseRouteOnly), [], "none", "Routes excluded from the VPN (X-CSTP-Split-Exclude).", { list: true }),
  def("append-routes", V, BOOL, false, "false", "Per-user/group routes are appended to the vhost routes instead of replacing them."),
  def("mtu", VU, int(0, 65535), 0, "0 (tun MTU)", "Upper bound of the link MTU."),
  def("predictable-ips", V, BOOL, true, "true", "Give a user the same IP when it is free."),
  def("ping-leases", G, BOOL, false, "false", "ICMP-ping an IPv4 before leasing it."),
  def("rx-data-per-sec", VU, int(0, Number.MAX_SAFE_INTEGER), 0, "0 (unlimited)", "Receive bandwidth limit in bytes/s."),
  def("tx-data-per-sec", VU, int(0, Number.MAX_SAFE_INTEGER), 0, "0 (unlimited)", "Transmit bandwidth limit in bytes/s."),
  def("output-buffer", V, int(0, 65535), 0, "0", "Socket send buffer in packets of link MTU size."),
  def("net-priority", VU, t("0-6|0xNN", parseNetPriority), null, "none", "SO_PRIORITY 0-6, or IP TOS as 0xNN."),
  def("restrict-user-to-routes", VU, BOOL, false, "false", "Restrict the user to its routes with the firewall script."),
  def("restrict-user-to-ports", VU, t("ports", parsePortRestriction), null, "none", "Restrict the user to ports: 'tcp(443), udp(53)' or '!(tcp(22))'."),
  def("client-bypass-protocol", VU, BOOL, false, "false", "X-CSTP-Client-Bypass-Protocol."),
  def("no-udp", VU, BOOL, false, "false", "Disable DTLS."),
  def("route-add-cmd", G, NONEMPTY, null, "none", "Shell command adding an iroute (%{R}, %{RI}, %{D})."),
  def("route-del-cmd", G, NONEMPTY, null, "none", "Shell command removing an iroute."),
  def("connect-script", G, PATH, null, "none", "Script run on connect; non-zero exit refuses the session."),
  def("disconnect-script", G, PATH, null, "none", "Script run on disconnect."),
  def("host-update-script", G, PATH, null, "none", "Script run when the client's hostname becomes known."),
  def("proxy-url", V, NONEMPTY, null, "none", "X-CSTP-MSIE-Proxy-Pac-URL (%{U}, %{G} replaced)."),
  def("custom-header", V, t("header", parseHeaderLine), [], "none", "Extra header lines in the CONNECT response.", { list: true }),
  def("included-http-headers", V, t("header", parseHeaderLine), [], "none", "Header lines added to every HTTP response (value kept raw).", { list: true, raw: true }),
  def("banner", V, t("string <= 256 bytes", parseBanner), null, "none", "Banner shown after login."),
  def("pre-login-banner", V, STR, null, "none", "Banner shown in the first login form."),
  def("user-profile", VU, PATH, null, "none", "AnyConnect XML profile served at /profiles/<file>."),
  def("camouflage", V, BOOL, false, "false", "Hide the VPN unless the URL carries ?<camouflage_secret>."),
  def("camouflage_secret", V, NONEMPTY, null, "none", "The camouflage secret query string."),
  def("camouflage_realm", V, NONEMPTY, null, "none", "Basic realm of the camouflage 401 (404 when unset)."),

  // Aliases, removed and deprecated names (config-options.md §2).
  alias("ipv4-dns", DNS, false),
  alias("ipv6-dns", DNS, false),
  alias("ipv4-nbns", NBNS, false),
  alias("ipv6-nbns", NBNS, false),
  alias("use-dbus", USE_OCCTL, true),
  alias("use-seccomp", ISOLATE, true),
  alias("min-reauth-time", BAN_TIME, true),
  removed("listen-clear-file", "1.1.2", "Removed in ocserv 1.1.2; plain HTTP listening is not supported."),
  deprecated("session-control", "Deprecated; ignored with a warning."),
  deprecated("cgroup", "Removed from ocserv; use systemd resource control. Ignored with a warning."),
];

/** Keys valid only in per-user / per-group files (config-options.md §4). */
const USER_ONLY: readonly OptionSpec[] = [
  def("iroute", VU, t("route", parseRouteOnly), [], "none", "Route behind this client, added with route-add-cmd.", { list: true }),
  def("explicit-ipv4", VU, t("ipv4 address", parseIpv4Addr), null, "none", "Fixed IPv4 address for the user (inside the pool)."),
  def("explicit-ipv6", VU, t("ipv6 address", parseIpv6Addr), null, "none", "Fixed IPv6 address for the user (inside the pool)."),
  def("hostname", VU, NONEMPTY, null, "none", "Overrides the X-CSTP-Hostname the client proposed."),
];

const BY_NAME: ReadonlyMap<string, OptionSpec> = new Map(TABLE.map((o) => [o.name, o]));
const USER_BY_NAME: ReadonlyMap<string, OptionSpec> = new Map(
  [...TABLE.filter((o) => o.perUser && (o.status.kind === "active" || o.status.kind === "alias")), ...USER_ONLY].map((o) => [o.name, o]),
);

/** Every option of the main configuration file, including aliases, removed and deprecated names. */
export function allOptions(): readonly OptionSpec[] {
  return TABLE;
}

/** Keys accepted in per-user / per-group files. */
export function userFileOptions(): readonly OptionSpec[] {
  return [...USER_BY_NAME.values()];
}

export function lookupOption(name: string): OptionSpec | undefined {
  return BY_NAME.get(name);
}

export function lookupUserOption(name: string): OptionSpec | undefined {
  return USER_BY_NAME.get(name);
}

/** The canonical name an option's value is stored under (aliases fold into their target). */
export function canonicalName(spec: OptionSpec): string {
  return spec.status.kind === "alias" ? spec.status.of : spec.name;
}

function levenshtein(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The closest known option name, if one is close enough to be a plausible typo. */
export function suggestOption(name: string, candidates: Iterable<string> = BY_NAME.keys()): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  const limit = Math.max(2, Math.floor(name.length / 3));
  for (const c of candidates) {
    const d = levenshtein(name.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return bestD <= limit ? best : null;
}

const SCOPE_TEXT: Record<Scope, string> = {
  "global-nr": "global (non-reloadable)",
  global: "global",
  "vhost-nr": "vhost (non-reloadable)",
  vhost: "vhost",
  "vhost-user": "vhost user",
};

/** Renders the option table as plain text (one option per line), for --help-config style docs. */
export function renderOptionTable(): string {
  const rows: string[][] = [["OPTION", "TYPE", "SCOPE", "DEFAULT", "DESCRIPTION"]];
  for (const o of [...TABLE, ...USER_ONLY]) {
    const userOnly = USER_ONLY.includes(o);
    const type = o.status.kind === "removed" ? "removed" : o.status.kind === "deprecated" ? "deprecated" : `${o.list ? "list of " : ""}${o.type.label}`;
    const scope = userOnly ? "per-user/group file only" : o.status.kind === "removed" || o.status.kind === "deprecated" ? "-" : SCOPE_TEXT[o.scope];
    rows.push([o.name, type, scope, o.defaultText, o.doc]);
  }
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i < 4 ? c.padEnd(widths[i]!) : c)).join("  ").trimEnd()).join("\n") + "\n";
}
