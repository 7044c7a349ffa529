// From ini entries to the frozen Config: option lookup and scope checks, value parsing, vhost
// inheritance, ocserv defaults and derived values, then the cross-option checks of ocserv's
// check_cfg() (config-options.md §1.2, §3). Every problem becomes a Diagnostic; all are collected.

import { lexIni, sanitizeValue } from "./ini.ts";
import type { IniSection } from "./ini.ts";
import { canonicalName, lookupOption, suggestOption } from "./options.ts";
import type { OptionSpec } from "./options.ts";
import { prefixToNetmask } from "./addr.ts";
import { isPasswordMethod } from "./values.ts";
import type { RawIpv4Network, RawIpv6Network } from "./values.ts";
import type {
  AcctMethod,
  AuthMethod,
  CertRequest,
  Config,
  ConfigResult,
  Diagnostic,
  GlobalOptions,
  Ipv4Network,
  Ipv6Network,
  RouteEntry,
  SelectGroup,
  VhostConfig,
  VhostOptions,
  VhostUserOptions,
} from "./types.ts";

/** One occurrence of an option in a section: the parsed value and where it was written. */
export interface Occurrence {
  readonly line: number;
  readonly value: unknown;
}

/** Parsed values of one section, by canonical option name, in file order. */
export type SectionValues = Map<string, Occurrence[]>;

export const DEFAULT_TLS_PRIORITIES = "NORMAL:%SERVER_PRECEDENCE:%COMPAT";

/** Deeply freezes plain data (objects, arrays); functions and primitives are left as they are. */
export function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === "object" && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}

/** Read access to a section's values with the table's defaults. */
export class Values {
  constructor(
    readonly map: SectionValues,
    private readonly lookup: (name: string) => OptionSpec | undefined = lookupOption,
  ) {}

  has(name: string): boolean {
    return (this.map.get(name)?.length ?? 0) > 0;
  }
  /** The line of the last occurrence, or `fallback` when the option is absent. */
  line(name: string, fallback = 0): number {
    const occ = this.map.get(name);
    return occ !== undefined && occ.length > 0 ? occ[occ.length - 1]!.line : fallback;
  }
  get<T>(name: string): T {
    const occ = this.map.get(name);
    if (occ !== undefined && occ.length > 0) return occ[occ.length - 1]!.value as T;
    const spec = this.lookup(name);
    if (spec === undefined) throw new Error(`internal: no option ${name}`);
    return spec.defaultValue as T;
  }
  list<T>(name: string): T[] {
    return (this.map.get(name) ?? []).map((o) => o.value as T);
  }
  occurrences(name: string): readonly Occurrence[] {
    return this.map.get(name) ?? [];
  }
}

export interface Collector {
  readonly file: string;
  readonly errors: Diagnostic[];
  readonly warnings: Diagnostic[];
}

export function err(c: Collector, line: number, message: string, option?: string): void {
  c.errors.push(option === undefined ? { file: c.file, line, message } : { file: c.file, line, option, message });
}

export function warn(c: Collector, line: number, message: string, option?: string): void {
  c.warnings.push(option === undefined ? { file: c.file, line, message } : { file: c.file, line, option, message });
}

/**
 * Parses the entries of one section into `into`. `inVhost` names the [vhost:] section, or is null
 * for the top level. Unknown names are warnings (ocserv: "skipping unknown option"), with the
 * closest known name suggested.
 */
function collectSection(c: Collector, section: IniSection, inVhost: string | null, into: SectionValues): void {
  for (const e of section.entries) {
    const spec = lookupOption(e.name);
    if (spec === undefined) {
      const s = suggestOption(e.name);
      warn(c, e.line, `unknown option '${e.name}'${s !== null ? `; did you mean '${s}'?` : ""}`, e.name);
      continue;
    }
    switch (spec.status.kind) {
      case "removed":
        err(c, e.line, `'${e.name}' was removed in ocserv ${spec.status.since} and is not supported`, e.name);
        continue;
      case "deprecated":
        warn(c, e.line, `'${e.name}' is deprecated and ignored`, e.name);
        continue;
      case "alias":
        if (spec.status.deprecated) warn(c, e.line, `'${e.name}' is deprecated; use '${spec.status.of}'`, e.name);
        break;
      case "active":
        break;
    }
    if (inVhost !== null && (spec.scope === "global" || spec.scope === "global-nr")) {
      // ocserv ≥ 1.4.2 makes a global option inside a [vhost:] section a hard error.
      err(c, e.line, `'${e.name}' is a global option and cannot be set in [vhost:${inVhost}]`, e.name);
      continue;
    }
    const value = spec.raw ? e.value : sanitizeValue(e.value);
    const parsed = spec.type.parse(value);
    if (!parsed.ok) {
      err(c, e.line, `${e.name}: ${parsed.message}`, e.name);
      continue;
    }
    const key = canonicalName(spec);
    const occ = into.get(key);
    if (spec.list) {
      if (occ === undefined) into.set(key, [{ line: e.line, value: parsed.value }]);
      else occ.push({ line: e.line, value: parsed.value });
    } else {
      if (key === "acct" && occ !== undefined) {
        err(c, e.line, "acct: only one accounting method can be specified", e.name);
        continue;
      }
      // Scalars: the last value wins (ocserv overwrites); keep the history for line numbers.
      if (occ === undefined) into.set(key, [{ line: e.line, value: parsed.value }]);
      else occ.push({ line: e.line, value: parsed.value });
    }
  }
}

// --- derived values -------------------------------------------------------------------------------

/** `route`: `default` anywhere means the default route, and ocserv then drops every route (§1.2). */
export function normaliseRoutes(routes: readonly RouteEntry[]): RouteEntry[] {
  return routes.includes("default") ? ["default"] : [...routes];
}

/**
 * The IPv4 pool from ipv4-network (optionally CIDR) and ipv4-netmask. ocserv keeps one netmask field
 * that both write, so the later line wins; that is how a [vhost:] ipv4-netmask overrides an inherited
 * CIDR network. Two contradicting netmasks written in the same section are an error here. `ownFrom`
 * is the first line of the section being built (0 for the top level).
 */
function ipv4Pool(c: Collector, v: Values, ownFrom: number): Ipv4Network | null {
  const net = v.get<RawIpv4Network | null>("ipv4-network");
  const maskPrefix = v.get<number | null>("ipv4-netmask");
  if (net === null) {
    if (maskPrefix !== null) err(c, v.line("ipv4-netmask"), "ipv4-netmask is set but ipv4-network is not", "ipv4-netmask");
    return null;
  }
  let prefix = net.prefix;
  if (prefix !== null && maskPrefix !== null && prefix !== maskPrefix) {
    const netLine = v.line("ipv4-network");
    const maskLine = v.line("ipv4-netmask");
    if ((netLine >= ownFrom) === (maskLine >= ownFrom)) {
      err(c, maskLine, `ipv4-netmask ${prefixToNetmask(maskPrefix)} conflicts with the prefix /${prefix} of ipv4-network`, "ipv4-netmask");
      return null;
    }
    prefix = maskLine > netLine ? maskPrefix : prefix;
  }
  prefix ??= maskPrefix;
  if (prefix === null) {
    err(c, v.line("ipv4-network"), "ipv4-network: no netmask; set ipv4-netmask or write the network as a.b.c.d/prefix", "ipv4-network");
    return null;
  }
  return { address: net.address, prefix, netmask: prefixToNetmask(prefix) };
}

function ipv6Pool(c: Collector, v: Values, allowIpv6Prefix: boolean): Ipv6Network | null {
  const net = v.get<RawIpv6Network | null>("ipv6-network");
  if (net === null) return null;
  let prefix = net.prefix;
  if (prefix === null && allowIpv6Prefix) prefix = v.get<number | null>("ipv6-prefix");
  if (prefix === null) {
    err(c, v.line("ipv6-network"), "ipv6-network: no prefix; write the network as addr/prefix", "ipv6-network");
    return null;
  }
  return { address: net.address, prefix };
}

/** Builds the vhost-user part of an options object (shared with the per-user merge). */
function vhostUserOptions(c: Collector, v: Values, ownFrom: number): VhostUserOptions {
  const dpd = v.get<number>("dpd");
  const mobileDpd = v.get<number>("mobile-dpd");
  const idle = v.get<number>("idle-timeout");
  const ports = v.get<VhostUserOptions["restrict-user-to-ports"]>("restrict-user-to-ports");
  return {
    "idle-timeout": idle,
    "mobile-idle-timeout": v.get<number | null>("mobile-idle-timeout") ?? idle,
    "session-timeout": v.get("session-timeout"),
    keepalive: v.get("keepalive"),
    dpd,
    "mobile-dpd": mobileDpd === 0 ? dpd : mobileDpd,
    "deny-roaming": v.get("deny-roaming"),
    "max-same-clients": v.get("max-same-clients"),
    "stats-report-time": v.get("stats-report-time"),
    "ipv4-network": ipv4Pool(c, v, ownFrom),
    "ipv6-network": ipv6Pool(c, v, true),
    "ipv6-subnet-prefix": v.get("ipv6-subnet-prefix"),
    dns: v.list("dns"),
    nbns: v.list("nbns"),
    "split-dns": v.list("split-dns"),
    "tunnel-all-dns": v.get("tunnel-all-dns"),
    route: normaliseRoutes(v.list("route")),
    "no-route": v.list("no-route"),
    mtu: v.get("mtu"),
    "rx-data-per-sec": v.get("rx-data-per-sec"),
    "tx-data-per-sec": v.get("tx-data-per-sec"),
    "net-priority": v.get("net-priority"),
    // restrict-user-to-ports brings in the firewall on its own (src/server/firewall) but, as in ocserv,
    // does not turn on restrict-user-to-routes (no OCSERV_RESTRICT_TO_ROUTES for the scripts).
    "restrict-user-to-routes": v.get<boolean>("restrict-user-to-routes"),
    "restrict-user-to-ports": ports,
    "client-bypass-protocol": v.get("client-bypass-protocol"),
    "no-udp": v.get("no-udp"),
    "user-profile": v.get("user-profile"),
  };
}

/** ocserv cert_req: REQUIRE if auth is exactly certificate (REQUEST with cisco-client-compat). */
function certRequestFor(auth: readonly AuthMethod[], enable: readonly AuthMethod[], cisco: boolean): CertRequest {
  if (auth.length === 1 && auth[0]!.type === "certificate") return cisco ? "request" : "require";
  if ([...auth, ...enable].some((m) => m.type === "certificate")) return "request";
  return "none";
}

function vhostOptions(c: Collector, v: Values, inheritedTls: string | null, ownFrom: number): VhostOptions {
  const alwaysRequireCert = v.get<boolean>("always-require-cert");
  // always-require-cert = false is the old spelling of cisco-client-compat = true.
  const cisco = v.get<boolean>("cisco-client-compat") || !alwaysRequireCert;
  const svc = v.get<boolean>("cisco-svc-client-compat");
  const setTls = v.get<string | null>("tls-priorities");
  const tls = setTls ?? inheritedTls ?? (cisco ? `${DEFAULT_TLS_PRIORITIES}:-VERS-TLS1.3` : DEFAULT_TLS_PRIORITIES);
  return {
    ...vhostUserOptions(c, v, ownFrom),
    auth: v.list<AuthMethod>("auth"),
    "enable-auth": v.list<AuthMethod>("enable-auth"),
    acct: v.get<AcctMethod | null>("acct"),
    "ca-cert": v.get("ca-cert"),
    "server-cert": v.list("server-cert"),
    "server-key": v.list("server-key"),
    "dh-params": v.get("dh-params"),
    "pin-file": v.get("pin-file"),
    "srk-pin-file": v.get("srk-pin-file"),
    "key-pin": v.get("key-pin"),
    "srk-pin": v.get("srk-pin"),
    "debug-no-secmod-stats": v.get("debug-no-secmod-stats"),
    "cert-user-oid": v.get("cert-user-oid"),
    "cert-group-oid": v.get("cert-group-oid"),
    crl: v.get("crl"),
    "select-group": v.list("select-group"),
    "default-select-group": v.get("default-select-group"),
    "auto-select-group": v.get("auto-select-group"),
    "select-group-by-url": v.get<boolean>("select-group-by-url") || cisco,
    "config-per-user": v.get("config-per-user"),
    "config-per-group": v.get("config-per-group"),
    "default-user-config": v.get("default-user-config"),
    "default-group-config": v.get("default-group-config"),
    "expose-iroutes": v.get("expose-iroutes"),
    "listen-host-is-dyndns": v.get("listen-host-is-dyndns"),
    "ocsp-response": v.get("ocsp-response"),
    "tls-priorities": tls,
    "match-tls-dtls-ciphers": v.get("match-tls-dtls-ciphers"),
    "dtls-legacy": v.get<boolean>("dtls-legacy") || cisco || svc,
    "cisco-client-compat": cisco,
    "cisco-svc-client-compat": svc,
    "rekey-time": v.get("rekey-time"),
    "rekey-method": v.get("rekey-method"),
    compression: v.get("compression"),
    "no-compress-limit": Math.max(64, v.get<number>("no-compress-limit")),
    kkdcp: v.list("kkdcp"),
    "switch-to-tcp-timeout": v.get("switch-to-tcp-timeout"),
    "cookie-timeout": v.get("cookie-timeout"),
    "persistent-cookies": v.get("persistent-cookies"),
    "default-domain": v.get("default-domain"),
    "append-routes": v.get("append-routes"),
    "predictable-ips": v.get("predictable-ips"),
    "output-buffer": v.get("output-buffer"),
    "proxy-url": v.get("proxy-url"),
    "custom-header": v.list("custom-header"),
    "included-http-headers": v.list("included-http-headers"),
    banner: v.get("banner"),
    "pre-login-banner": v.get("pre-login-banner"),
    camouflage: v.get("camouflage"),
    camouflage_secret: v.get("camouflage_secret"),
    camouflage_realm: v.get("camouflage_realm"),
  };
}

function globalOptions(v: Values): GlobalOptions {
  const listenHost = v.get<string | null>("listen-host");
  return {
    "listen-host": listenHost,
    "udp-listen-host": v.get<string | null>("udp-listen-host") ?? listenHost,
    "listen-netns": v.get("listen-netns"),
    "tcp-port": v.get("tcp-port"),
    "udp-port": v.get("udp-port"),
    "run-as-user": v.get("run-as-user"),
    "run-as-group": v.get("run-as-group"),
    "socket-file": v.get<string | null>("socket-file") ?? "",
    "occtl-socket-file": v.get("occtl-socket-file"),
    "chroot-dir": v.get("chroot-dir"),
    "pid-file": v.get("pid-file"),
    "sec-mod-scale": v.get("sec-mod-scale"),
    "server-stats-reset-time": v.get("server-stats-reset-time"),
    "log-level": v.get("log-level"),
    "syslog-facility": v.get("syslog-facility"),
    "listen-proxy-proto": v.get("listen-proxy-proto"),
    "use-occtl": v.get("use-occtl"),
    "sec-mod-db-cleanup-time": v.get("sec-mod-db-cleanup-time"),
    "isolate-workers": v.get("isolate-workers"),
    "limit-worker-memory": v.get("limit-worker-memory"),
    "max-clients": v.get("max-clients"),
    "rate-limit-ms": v.get("rate-limit-ms"),
    "server-drain-ms": v.get("server-drain-ms"),
    "use-utmp": v.get("use-utmp"),
    "dtls-psk": v.get("dtls-psk"),
    "auth-timeout": v.get("auth-timeout"),
    "try-mtu-discovery": v.get("try-mtu-discovery"),
    "max-ban-score": v.get("max-ban-score"),
    "ban-time": v.get("ban-time"),
    "ban-reset-time": v.get("ban-reset-time"),
    "ban-points-wrong-password": v.get("ban-points-wrong-password"),
    "ban-points-connection": v.get("ban-points-connection"),
    "ban-points-kkdcp": v.get("ban-points-kkdcp"),
    device: v.get<string | null>("device") ?? "",
    "ping-leases": v.get("ping-leases"),
    "route-add-cmd": v.get("route-add-cmd"),
    "route-del-cmd": v.get("route-del-cmd"),
    "connect-script": v.get("connect-script"),
    "disconnect-script": v.get("disconnect-script"),
    "host-update-script": v.get("host-update-script"),
    "compression-algo-priority": v.get("compression-algo-priority"),
  };
}

// --- cross-option checks --------------------------------------------------------------------------

function checkGlobal(c: Collector, v: Values): void {
  if (!v.has("tcp-port")) err(c, 0, "tcp-port is mandatory", "tcp-port");
  if (!v.has("socket-file")) err(c, 0, "socket-file is mandatory", "socket-file");
  if (!v.has("device")) err(c, 0, "device is mandatory", "device");
}

/** Auth composition rules (config-options.md §3, ocserv figure_auth_funcs and invalid-configs). */
function checkAuth(c: Collector, v: Values, where: string, headerLine: number): void {
  const auth = v.occurrences("auth");
  const enable = v.occurrences("enable-auth");
  if (auth.length === 0) {
    err(c, headerLine, `auth is mandatory${where}`, "auth");
    return;
  }
  let module: AuthMethod | null = null;
  const seen = new Set<string>();
  for (const o of auth) {
    const m = o.value as AuthMethod;
    if (seen.has(m.type)) {
      err(c, o.line, `auth: '${m.type}' is given twice`, "auth");
      continue;
    }
    seen.add(m.type);
    if (m.type !== "certificate") {
      if (module !== null) {
        err(c, o.line, `auth: cannot combine '${module.type}' and '${m.type}'; only certificate can be added to another method`, "auth");
        continue;
      }
      module = m;
    }
  }
  // ocserv has 4 auth slots but fails once the counter reaches 4: auth plus at most 2 alternatives.
  if (enable.length > 2) err(c, enable[2]!.line, "enable-auth: at most 2 alternative methods can be given", "enable-auth");
  let password: AuthMethod | null = module !== null && isPasswordMethod(module) ? module : null;
  for (const o of enable) {
    const m = o.value as AuthMethod;
    if (seen.has(m.type)) {
      err(c, o.line, `enable-auth: '${m.type}' is already enabled`, "enable-auth");
      continue;
    }
    seen.add(m.type);
    if (isPasswordMethod(m)) {
      if (password !== null) {
        err(c, o.line, `enable-auth: cannot combine the password methods '${password.type}' and '${m.type}'`, "enable-auth");
        continue;
      }
      password = m;
    }
  }
}

function checkVhost(c: Collector, v: Values, o: VhostOptions, g: GlobalOptions, name: string | null, headerLine: number): void {
  const where = name === null ? "" : ` (in [vhost:${name}] or inherited)`;
  checkAuth(c, v, where, headerLine);
  const certs = o["server-cert"].length;
  const keys = o["server-key"].length;
  if (certs === 0) err(c, headerLine, `server-cert is mandatory${where}`, "server-cert");
  if (keys === 0) err(c, headerLine, `server-key is mandatory${where}`, "server-key");
  if (certs > 0 && keys > 0 && certs !== keys)
    err(c, v.line("server-key"), `server-cert is given ${certs} times but server-key ${keys} times; they must pair up`, "server-key");
  if (o["ipv4-network"] === null && o["ipv6-network"] === null && !v.has("ipv4-network") && !v.has("ipv6-network"))
    err(c, headerLine, `ipv4-network or ipv6-network is mandatory${where}`, "ipv4-network");
  const methods = [...o.auth, ...o["enable-auth"]];
  if (methods.some((m) => m.type === "certificate") && o["cert-user-oid"] === null)
    err(c, v.line("auth", headerLine), "cert-user-oid is mandatory when certificate authentication is used", "cert-user-oid");
  const v6 = o["ipv6-network"];
  if (v6 !== null && o["ipv6-subnet-prefix"] <= v6.prefix) {
    const line = v.has("ipv6-subnet-prefix") ? v.line("ipv6-subnet-prefix") : v.line("ipv6-network");
    err(c, line, `ipv6-subnet-prefix (${o["ipv6-subnet-prefix"]}) must be greater than the prefix of ipv6-network (${v6.prefix})`, "ipv6-subnet-prefix");
  }
  if (o["match-tls-dtls-ciphers"] && o["dtls-legacy"])
    err(c, v.line("match-tls-dtls-ciphers"), "match-tls-dtls-ciphers cannot be used with dtls-legacy (set dtls-legacy = false; cisco-client-compat implies it)", "match-tls-dtls-ciphers");
  if (o["cisco-svc-client-compat"] && g["udp-port"] !== 0 && g["udp-port"] !== 443)
    err(c, v.line("cisco-svc-client-compat"), `cisco-svc-client-compat requires udp-port to be 0 or 443 (it is ${g["udp-port"]})`, "cisco-svc-client-compat");
  const groupconfig = methods.find((m) => m.type === "radius" && m.groupconfig);
  if (groupconfig !== undefined) {
    for (const k of ["config-per-user", "config-per-group"] as const)
      if (o[k] !== null) err(c, v.line(k), `${k} cannot be used with radius groupconfig=true (RADIUS supplies the per-user configuration)`, k);
  }
  for (const occ of v.occurrences("select-group")) {
    const sg = occ.value as SelectGroup;
    if (Buffer.byteLength(sg.name, "utf8") >= 64) warn(c, occ.line, `select-group: '${sg.name}' is 64 bytes or longer and can never be selected`, "select-group");
  }
  if (o.camouflage && o.camouflage_secret === null)
    warn(c, v.line("camouflage"), "camouflage is enabled but camouflage_secret is not set; no client can reach the VPN", "camouflage");
}

// --- assembly ------------------------------------------------------------------------------------

function makeConfig(file: string, global: GlobalOptions, defaultVhost: VhostConfig, vhosts: VhostConfig[]): Config {
  const byName = new Map<string, VhostConfig>();
  for (const vh of vhosts) if (vh.name !== null) byName.set(vh.name.toLowerCase(), vh);
  const config: Config = {
    file,
    global,
    defaultVhost,
    vhosts,
    // ocserv find_vhost(): strcasecmp on the SNI name; no SNI or no match → the default vhost.
    vhostFor(sni: string | null): VhostConfig {
      if (sni === null) return defaultVhost;
      return byName.get(sni.toLowerCase()) ?? defaultVhost;
    },
  };
  return deepFreeze(config);
}

/** Assembles a Config from already-parsed option values; exported for reload. */
export { makeConfig };

function dedupe(ds: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return ds.filter((d) => {
    const k = `${d.line}\0${d.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function sortByLine(ds: Diagnostic[]): Diagnostic[] {
  return ds.map((d, i) => [d, i] as const).sort((a, b) => a[0].line - b[0].line || a[1] - b[1]).map(([d]) => d);
}

/** Hooks other modules supply to validate values this layer stores without interpreting. */
export interface ParseOptions {
  /**
   * Validates a GnuTLS priority string (src/tls provides it). Returns null when the string is
   * acceptable, else a message; the message is reported at the tls-priorities line.
   */
  readonly validateTlsPriorities?: (priorities: string) => string | null;
}

function checkTls(c: Collector, v: Values, o: VhostOptions, opts: ParseOptions): void {
  if (opts.validateTlsPriorities === undefined) return;
  const problem = opts.validateTlsPriorities(o["tls-priorities"]);
  if (problem !== null) err(c, v.line("tls-priorities"), `tls-priorities: ${problem}`, "tls-priorities");
}

/** Parses ocserv.conf text. `file` is used in diagnostics and recorded in the Config. */
export function parseConfigText(text: string, file: string, opts: ParseOptions = {}): ConfigResult {
  const c: Collector = { file, errors: [], warnings: [] };
  const ini = lexIni(text, file);
  c.errors.push(...ini.errors);

  const top: SectionValues = new Map();
  // Named vhosts in file order; a repeated [vhost:X] header (case-insensitive) reopens X, like
  // ocserv's find_vhost() lookup when it meets the header.
  const named = new Map<string, { name: string; line: number; values: SectionValues }>();
  for (const section of ini.sections) {
    if (section.name === null) {
      collectSection(c, section, null, top);
      continue;
    }
    if (!section.name.startsWith("vhost:")) {
      warn(c, section.line, `skipping unknown section [${section.name}]`);
      continue;
    }
    // ocserv trims the name; IDNA mapping (gnutls_idna_map) is not done: names are matched as ASCII.
    const name = section.name.slice("vhost:".length).trim();
    if (name.length === 0) {
      err(c, section.line, "[vhost:] section has an empty name");
      continue;
    }
    let entry = named.get(name.toLowerCase());
    if (entry === undefined) {
      entry = { name, line: section.line, values: new Map() };
      named.set(name.toLowerCase(), entry);
    }
    collectSection(c, section, name, entry.values);
  }

  const topValues = new Values(top);
  checkGlobal(c, topValues);
  const global = globalOptions(topValues);
  const defaultOptions = vhostOptions(c, topValues, null, 0);
  checkVhost(c, topValues, defaultOptions, global, null, 0);
  checkTls(c, topValues, defaultOptions, opts);
  const defaultVhost: VhostConfig = {
    name: null,
    options: defaultOptions,
    certRequest: certRequestFor(defaultOptions.auth, defaultOptions["enable-auth"], defaultOptions["cisco-client-compat"]),
  };

  const vhosts: VhostConfig[] = [];
  for (const { name, line, values } of named.values()) {
    // Inheritance: a named vhost starts from the default vhost's values and its own occurrences
    // replace them. For LIST options this REPLACES the inherited list (a vhost `route` list is the
    // vhost's whole route list). ocserv 1.5 appends instead, as a side effect of deep-copying the
    // default ReloadableConfig (config-options.md §1.1 calls it unintended); replacing is the only
    // way a vhost can drop an inherited route, DNS server or header.
    const merged: SectionValues = new Map([...top, ...values]);
    // auth and enable-auth fill one array of auth slots in ocserv, inherited as a whole only when
    // the vhost sets neither (vhost_inherit_static_config).
    if (values.has("auth") || values.has("enable-auth")) {
      if (!values.has("auth")) merged.delete("auth");
      if (!values.has("enable-auth")) merged.delete("enable-auth");
    }
    const v = new Values(merged);
    const inheritedTls = values.has("tls-priorities") ? null : defaultOptions["tls-priorities"];
    const options = vhostOptions(c, v, inheritedTls, line);
    checkVhost(c, v, options, global, name, line);
    checkTls(c, v, options, opts);
    vhosts.push({ name, options, certRequest: certRequestFor(options.auth, options["enable-auth"], options["cisco-client-compat"]) });
  }

  const errors = sortByLine(dedupe(c.errors));
  const warnings = sortByLine(dedupe(c.warnings));
  if (errors.length > 0) return { errors, warnings };
  return { config: makeConfig(file, global, defaultVhost, vhosts), errors, warnings };
}

