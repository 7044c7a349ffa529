// Value parsers for ocserv.conf options: each takes the cleaned value string and returns a typed
// value or a message (without the option name; the caller prefixes it). Where ocserv silently accepts
// garbage (READ_TF: anything but true/yes is false; strtol: garbage is 0) we reject it instead.

import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from "../wire/ip.ts";
import { fail, ok, parseIpAddress, netmaskToPrefix, parseRoute, parsePrefix, prefixToNetmask } from "./addr.ts";
import type { Parsed } from "./addr.ts";
import type {
  AcctMethod,
  AuthMethod,
  IpAddress,
  KkdcpEntry,
  NetPriority,
  PortProtocol,
  PortRestriction,
  Route,
  RouteEntry,
  SelectGroup,
  SyslogFacility,
} from "./types.ts";

export type { Parsed } from "./addr.ts";

export const INT_MAX = 2147483647;

export function parseBool(v: string): Parsed<boolean> {
  const l = v.toLowerCase();
  if (l === "true" || l === "yes") return ok(true);
  if (l === "false" || l === "no") return ok(false);
  return fail(`'${v}' is not a boolean (expected true, false, yes or no)`);
}

export function parseInt10(v: string, min: number, max: number): Parsed<number> {
  // strtol(value, NULL, 10) accepts an optional sign; we accept the same digits but nothing else.
  if (!/^[+-]?[0-9]+$/.test(v)) return fail(`'${v}' is not an integer`);
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min || n > max) return fail(`${v} is out of range (${min}-${max})`);
  return ok(n);
}

export function parseString(v: string): Parsed<string> {
  if (v.includes("\0")) return fail("value contains a NUL byte");
  return ok(v);
}

export function parseNonEmpty(v: string): Parsed<string> {
  if (v.length === 0) return fail("value is empty");
  return parseString(v);
}

/** File paths are checked for syntax only here; --test-config checks that they exist. */
export function parsePath(v: string): Parsed<string> {
  if (v.length === 0) return fail("path is empty");
  if (v.includes("\0")) return fail("path contains a NUL byte");
  if (v.length > 4095) return fail("path is longer than PATH_MAX (4095)");
  return ok(v);
}

/** A host name or IP literal for listen-host / udp-listen-host (resolved later with getaddrinfo). */
export function parseHost(v: string): Parsed<string> {
  if (parseIpAddress(v) !== null) return ok(v);
  if (v.length > 253 || !/^[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.?$/.test(v))
    return fail(`'${v}' is not an IP address or host name`);
  return ok(v);
}

export function parseIpAddr(v: string): Parsed<IpAddress> {
  const a = parseIpAddress(v);
  return a === null ? fail(`'${v}' is not an IPv4 or IPv6 address`) : ok(a);
}

export function parseIpv4Addr(v: string): Parsed<string> {
  const b = parseIpv4(v);
  return b === null ? fail(`'${v}' is not an IPv4 address`) : ok(formatIpv4(b));
}

export function parseIpv6Addr(v: string): Parsed<string> {
  const b = parseIpv6(v);
  return b === null ? fail(`'${v}' is not an IPv6 address`) : ok(formatIpv6(b));
}

/** `dns`: ocserv rejects the keyword `local` (check_cfg); we also require an address literal. */
export function parseDns(v: string): Parsed<IpAddress> {
  if (v.toLowerCase() === "local") return fail("'local' is not supported; give the address of a DNS server");
  return parseIpAddr(v);
}

/** A DNS domain for split-dns / default-domain entries. */
export function parseDomain(v: string): Parsed<string> {
  if (v.length === 0 || v.length > 253 || !/^[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_-]{1,63})*\.?$/.test(v))
    return fail(`'${v}' is not a domain name`);
  return ok(v);
}

export function parseDefaultDomain(v: string): Parsed<string> {
  const parts = v.split(/\s+/).filter((p) => p.length > 0);
  if (parts.length === 0) return fail("value is empty");
  for (const p of parts) {
    const d = parseDomain(p);
    if (!d.ok) return d;
  }
  return ok(parts.join(" "));
}

/** `route`: a route or the keyword `default`. */
export function parseRouteEntry(v: string): Parsed<RouteEntry> {
  if (v === "default") return ok("default");
  return parseRoute(v);
}

export function parseRouteOnly(v: string): Parsed<Route> {
  if (v === "default") return fail("'default' is only meaningful for 'route'");
  return parseRoute(v);
}

/** ipv4-network: `a.b.c.d`, `a.b.c.d/len` or `a.b.c.d/m.m.m.m`. */
export interface RawIpv4Network {
  readonly address: string;
  readonly prefix: number | null;
}
export function parseIpv4Network(v: string): Parsed<RawIpv4Network> {
  const slash = v.indexOf("/");
  const a = parseIpv4(slash < 0 ? v : v.slice(0, slash));
  if (a === null) return fail(`'${v}' is not an IPv4 network (expected a.b.c.d or a.b.c.d/prefix)`);
  if (slash < 0) return ok({ address: formatIpv4(a), prefix: null });
  const m = v.slice(slash + 1);
  const prefix = m.includes(".") ? netmaskToPrefix(m) : parsePrefix(m, 32);
  if (prefix === null) return fail(`'${v}' has an invalid prefix or netmask '${m}'`);
  return ok({ address: formatIpv4(a), prefix });
}

export function parseNetmask(v: string): Parsed<number> {
  const p = netmaskToPrefix(v);
  return p === null ? fail(`'${v}' is not a contiguous dotted netmask`) : ok(p);
}

export interface RawIpv6Network {
  readonly address: string;
  readonly prefix: number | null;
}
export function parseIpv6Network(v: string): Parsed<RawIpv6Network> {
  const slash = v.indexOf("/");
  const a = parseIpv6(slash < 0 ? v : v.slice(0, slash));
  if (a === null) return fail(`'${v}' is not an IPv6 network (expected addr/prefix)`);
  if (slash < 0) return ok({ address: formatIpv6(a), prefix: null });
  const prefix = parsePrefix(v.slice(slash + 1), 128);
  if (prefix === null) return fail(`'${v}' has an invalid prefix '${v.slice(slash + 1)}'`);
  return ok({ address: formatIpv6(a), prefix });
}

export { prefixToNetmask };

/** `select-group = name[Friendly label]` (ocserv config.c). */
export function parseSelectGroup(v: string): Parsed<SelectGroup> {
  const br = v.indexOf("[");
  if (br < 0) {
    if (v.length === 0) return fail("group name is empty");
    if (v.includes("]")) return fail(`'${v}' has ']' without '['`);
    return ok({ name: v, label: v });
  }
  if (!v.endsWith("]")) return fail(`'${v}' has '[' without a closing ']'`);
  const name = v.slice(0, br).trim();
  const label = v.slice(br + 1, -1).trim();
  if (name.length === 0) return fail("group name is empty");
  return ok({ name, label: label.length > 0 ? label : name });
}

/** net-priority: 0–6 (SO_PRIORITY) or a hex TOS `0xNN` (IP_TOS). */
export function parseNetPriority(v: string): Parsed<NetPriority> {
  if (/^0[xX][0-9a-fA-F]{1,2}$/.test(v)) return ok({ kind: "tos", value: parseInt(v.slice(2), 16) });
  if (/^[0-6]$/.test(v)) return ok({ kind: "priority", value: Number(v) });
  return fail(`'${v}' is not a priority 0-6 or a hexadecimal TOS 0x00-0xff`);
}

const PORT_PROTOCOLS: readonly PortProtocol[] = ["tcp", "udp", "sctp", "esp", "icmp", "icmpv6"];

/** restrict-user-to-ports: `tcp(443), udp(53), icmp()` or `!(tcp(22), ...)` (ocserv cfg_parse_ports). */
export function parsePortRestriction(v: string): Parsed<PortRestriction> {
  let s = v.trim();
  let negate = false;
  if (s.startsWith("!")) {
    negate = true;
    s = s.slice(1).trim();
    if (!s.startsWith("(") || !s.endsWith(")")) return fail(`'${v}': a negated list must be written !(...)`);
    s = s.slice(1, -1);
  }
  const rules: { protocol: PortProtocol; port: number | null }[] = [];
  const re = /^\s*([a-z0-9]+)\s*\(\s*([0-9]*)\s*\)\s*(,|$)/i;
  let rest = s;
  while (rest.trim().length > 0) {
    const m = re.exec(rest);
    if (m === null) return fail(`'${v}': expected entries like tcp(443), udp(53) or icmp()`);
    const proto = m[1]!.toLowerCase() as PortProtocol;
    if (!PORT_PROTOCOLS.includes(proto)) return fail(`'${v}': unknown protocol '${m[1]}'`);
    const portText = m[2]!;
    let port: number | null = null;
    if (portText.length > 0) {
      const p = parseInt10(portText, 1, 65535);
      if (!p.ok) return fail(`'${v}': port ${p.message}`);
      port = p.value;
    } else if (proto === "tcp" || proto === "udp" || proto === "sctp") {
      return fail(`'${v}': ${proto}() needs a port`);
    }
    rules.push({ protocol: proto, port });
    rest = rest.slice(m[0].length);
    if (m[3] === "," && rest.trim().length === 0) return fail(`'${v}': trailing ','`);
  }
  if (rules.length === 0) return fail(`'${v}': no ports listed`);
  return ok({ negate, rules });
}

/** kkdcp: `"PATH REALM proto@host:port"`, host may be `[v6]` (ocserv config.c parse_kkdcp_string). */
export function parseKkdcp(v: string): Parsed<KkdcpEntry> {
  const parts = v.split(/\s+/).filter((p) => p.length > 0);
  if (parts.length !== 3) return fail(`'${v}' is not 'PATH REALM PROTOCOL@HOST:PORT'`);
  const [path, realm, server] = parts as [string, string, string];
  if (!path.startsWith("/")) return fail(`'${v}': the path must start with '/'`);
  const m = /^(udp|tcp)@(\[[0-9a-fA-F:.]+\]|[^:@\[\]]+):([0-9]+)$/.exec(server);
  if (m === null) return fail(`'${v}': expected udp@HOST:PORT or tcp@HOST:PORT`);
  const port = parseInt10(m[3]!, 1, 65535);
  if (!port.ok) return fail(`'${v}': port ${port.message}`);
  let host = m[2]!;
  if (host.startsWith("[")) {
    host = host.slice(1, -1);
    if (parseIpv6(host) === null) return fail(`'${v}': '${host}' is not an IPv6 address`);
  }
  return ok({ path, realm, protocol: m[1] as "udp" | "tcp", host, port: port.value });
}

const FACILITIES: readonly SyslogFacility[] = [
  "daemon", "user", "auth", "authpriv",
  "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
];
export function parseSyslogFacility(v: string): Parsed<SyslogFacility> {
  const f = FACILITIES.find((x) => x === v.toLowerCase());
  return f === undefined ? fail(`'${v}' is not a syslog facility (${FACILITIES.join(", ")})`) : ok(f);
}

export function parseRekeyMethod(v: string): Parsed<"ssl" | "new-tunnel"> {
  if (v === "ssl" || v === "new-tunnel") return ok(v);
  return fail(`'${v}' is not a rekey method (expected ssl or new-tunnel)`);
}

/** cert-user-oid / cert-group-oid: a dotted OID, or SAN(rfc822name) (user only). */
export function parseOid(allowSan: boolean) {
  return (v: string): Parsed<string> => {
    if (allowSan && v === "SAN(rfc822name)") return ok(v);
    if (/^[0-2](\.(0|[1-9][0-9]*))+$/.test(v)) return ok(v);
    return fail(`'${v}' is not a dotted OID${allowSan ? " or SAN(rfc822name)" : ""}`);
  };
}

/**
 * tls-priorities: only the syntax of a GnuTLS priority string is checked here (':'-separated
 * keywords, no whitespace); the TLS module validates the keywords themselves.
 */
export function parseTlsPriorities(v: string): Parsed<string> {
  if (v.length === 0) return fail("value is empty");
  if (/[\s\x00-\x1f\x7f]/.test(v)) return fail(`'${v}' contains whitespace or control characters`);
  if (v.split(":").some((t) => t.length === 0)) return fail(`'${v}' has an empty keyword between ':'`);
  return ok(v);
}

/** A tun device name prefix; the kernel appends %d, so it must leave room within IFNAMSIZ (16). */
export function parseDevice(v: string): Parsed<string> {
  if (v.length === 0) return fail("value is empty");
  // Linux dev_valid_name(): no '/', ':' or whitespace; '%' would clash with the "%d" template.
  if (/[\s/:%]/.test(v) || v === "." || v === "..") return fail(`'${v}' is not a valid interface name`);
  if (v.length > 13) return fail(`'${v}' is too long for a tun device name prefix (at most 13 characters, IFNAMSIZ is 16 with '%d' and NUL)`);
  return ok(v);
}

export function parseBanner(v: string): Parsed<string> {
  if (Buffer.byteLength(v, "utf8") > 256) return fail(`is ${Buffer.byteLength(v, "utf8")} bytes; at most 256 are allowed`);
  return parseString(v);
}

/** A raw HTTP header line `Name: value` (custom-header, included-http-headers). */
export function parseHeaderLine(v: string): Parsed<string> {
  if (/[\r\n\0]/.test(v)) return fail("header contains CR, LF or NUL");
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+:/.test(v)) return fail(`'${v}' is not an HTTP header line 'Name: value'`);
  return ok(v);
}

/**
 * compression-algo-priority. sample.config documents an ordered list of names (`lz4:lzs`), while
 * ocserv's worker (switch_comp_priority) parses `NAME:PRIORITY` pairs (`lzs:95`); both are accepted
 * here and the raw string is kept for the compression module.
 */
export function parseCompressionPriority(v: string): Parsed<string> {
  const names = ["lz4", "oc-lz4", "lzs"];
  const parts = v.split(":");
  if (parts.every((p) => names.includes(p.toLowerCase()))) return ok(v);
  if (parts.length % 2 !== 0) return fail(`'${v}' is neither a list of methods (lz4:lzs) nor NAME:PRIORITY pairs (lzs:95)`);
  for (let i = 0; i < parts.length; i += 2) {
    if (!names.includes(parts[i]!.toLowerCase())) return fail(`'${parts[i]}' is not a compression method (lz4, oc-lz4 or lzs)`);
    const p = parseInt10(parts[i + 1]!, 0, INT_MAX);
    if (!p.ok) return fail(`priority ${p.message}`);
  }
  return ok(v);
}

// ---------------------------------------------------------------------------------------------
// auth / enable-auth / acct method strings (config-options.md §3; ocserv figure_auth_funcs and
// subconfig.c expand_brackets_string).

const METHOD_NAMES = ["pam", "gssapi", "radius", "plain", "certificate", "oidc"] as const;
type MethodName = (typeof METHOD_NAMES)[number];
const MAX_SUBOPTIONS = 5;

interface MethodString {
  readonly name: MethodName;
  /** The bracket contents, or null when there are no brackets. */
  readonly inner: string | null;
}

function splitMethod(v: string): Parsed<MethodString> {
  const lower = v.toLowerCase();
  // ocserv matches the name as a case-insensitive prefix; we additionally require that whatever
  // follows is empty or a [...] group, so "plainx" is an error instead of silently "plain".
  for (const name of METHOD_NAMES) {
    if (!lower.startsWith(name)) continue;
    const rest = v.slice(name.length).trim();
    if (rest.length === 0) return ok({ name, inner: null });
    if (!rest.startsWith("[") || !rest.endsWith("]"))
      return fail(`'${v}': expected ${name}[key=value,...]`);
    return ok({ name, inner: rest.slice(1, -1) });
  }
  return fail(`'${v}' is not an authentication method (${METHOD_NAMES.join(", ")})`);
}

type SubOptions = ReadonlyMap<string, string>;

function parseSubOptions(v: string, inner: string, allowed: readonly string[]): Parsed<SubOptions> {
  const out = new Map<string, string>();
  if (inner.trim().length === 0) return ok(out);
  const pairs = inner.split(",");
  if (pairs.length > MAX_SUBOPTIONS) return fail(`'${v}': at most ${MAX_SUBOPTIONS} sub-options are allowed`);
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq < 0) return fail(`'${v}': sub-option '${pair.trim()}' has no '='`);
    const key = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    if (!allowed.includes(key)) return fail(`'${v}': unknown sub-option '${key}' (allowed: ${allowed.join(", ")})`);
    if (out.has(key)) return fail(`'${v}': sub-option '${key}' given twice`);
    if (value.length === 0) return fail(`'${v}': sub-option '${key}' is empty`);
    out.set(key, value);
  }
  return ok(out);
}

function subBool(v: string, key: string, text: string): Parsed<boolean> {
  const b = parseBool(text);
  return b.ok ? b : fail(`'${v}': ${key}: ${b.message}`);
}

function subInt(v: string, key: string, text: string): Parsed<number> {
  const n = parseInt10(text, 0, INT_MAX);
  return n.ok ? n : fail(`'${v}': ${key}: ${n.message}`);
}

function groupSeparator(v: string, text: string | undefined): Parsed<";" | ","> {
  if (text === undefined || text === "semicolon") return ok(";");
  if (text === "comma") return ok(",");
  return fail(`'${v}': group-separator must be semicolon or comma`);
}

function parseRadius(v: string, inner: string | null, acct: boolean): Parsed<{ config: string; groupconfig: boolean; nasIdentifier?: string; groupSeparator: ";" | "," }> {
  if (inner === null) return fail(`'${v}': radius needs [config=FILE]`);
  // Legacy form radius[/path/radiusclient.conf,groupconfig].
  if (inner.startsWith("/") || inner.startsWith(".")) {
    const parts = inner.split(",").map((s) => s.trim());
    const rest = parts.slice(1);
    for (const r of rest) if (r !== "groupconfig") return fail(`'${v}': unknown legacy radius flag '${r}'`);
    return ok({ config: parts[0]!, groupconfig: rest.includes("groupconfig"), groupSeparator: ";" });
  }
  const allowed = acct ? ["config", "nas-identifier", "group-separator"] : ["config", "groupconfig", "nas-identifier", "group-separator"];
  const sub = parseSubOptions(v, inner, allowed);
  if (!sub.ok) return sub;
  const config = sub.value.get("config");
  if (config === undefined) return fail(`'${v}': radius needs config=FILE`);
  let groupconfig = false;
  const gc = sub.value.get("groupconfig");
  if (gc !== undefined) {
    const b = subBool(v, "groupconfig", gc);
    if (!b.ok) return b;
    groupconfig = b.value;
  }
  const sep = groupSeparator(v, sub.value.get("group-separator"));
  if (!sep.ok) return sep;
  const nas = sub.value.get("nas-identifier");
  return ok({ config, groupconfig, ...(nas !== undefined ? { nasIdentifier: nas } : {}), groupSeparator: sep.value });
}

export function parseAuthMethod(v: string): Parsed<AuthMethod> {
  const m = splitMethod(v);
  if (!m.ok) return m;
  const { name, inner } = m.value;
  switch (name) {
    case "certificate": {
      if (inner !== null && inner.trim().length > 0) return fail(`'${v}': certificate takes no sub-options`);
      return ok({ type: "certificate" });
    }
    case "plain": {
      if (inner === null) return fail(`'${v}': plain needs [passwd=FILE] or [otp=FILE]`);
      // Legacy plain[/path] or plain[./path]: recognised when the character after '[' is '/' or '.'.
      if (inner.startsWith("/") || inner.startsWith(".")) return ok({ type: "plain", passwd: inner.trim() });
      const sub = parseSubOptions(v, inner, ["passwd", "otp"]);
      if (!sub.ok) return sub;
      const passwd = sub.value.get("passwd");
      const otp = sub.value.get("otp");
      if (passwd === undefined && otp === undefined) return fail(`'${v}': plain needs passwd=FILE or otp=FILE`);
      return ok({ type: "plain", ...(passwd !== undefined ? { passwd } : {}), ...(otp !== undefined ? { otp } : {}) });
    }
    case "pam": {
      const sub = parseSubOptions(v, inner ?? "", ["service", "gid-min"]);
      if (!sub.ok) return sub;
      const gid = sub.value.get("gid-min");
      let gidMin: number | undefined;
      if (gid !== undefined) {
        const n = subInt(v, "gid-min", gid);
        if (!n.ok) return n;
        gidMin = n.value;
      }
      return ok({ type: "pam", service: sub.value.get("service") ?? "ocserv", ...(gidMin !== undefined ? { gidMin } : {}) });
    }
    case "radius": {
      const r = parseRadius(v, inner, false);
      if (!r.ok) return r;
      return ok({ type: "radius", ...r.value });
    }
    case "gssapi": {
      const sub = parseSubOptions(v, inner ?? "", ["keytab", "require-local-user-map", "tgt-freshness-time", "gid-min"]);
      if (!sub.ok) return sub;
      let requireLocalUserMap = true;
      const rl = sub.value.get("require-local-user-map");
      if (rl !== undefined) {
        const b = subBool(v, "require-local-user-map", rl);
        if (!b.ok) return b;
        requireLocalUserMap = b.value;
      }
      const out: { type: "gssapi"; keytab?: string; requireLocalUserMap: boolean; tgtFreshnessTime?: number; gidMin?: number } = {
        type: "gssapi",
        requireLocalUserMap,
      };
      const keytab = sub.value.get("keytab");
      if (keytab !== undefined) out.keytab = keytab;
      const tgt = sub.value.get("tgt-freshness-time");
      if (tgt !== undefined) {
        const n = subInt(v, "tgt-freshness-time", tgt);
        if (!n.ok) return n;
        out.tgtFreshnessTime = n.value;
      }
      const gid = sub.value.get("gid-min");
      if (gid !== undefined) {
        const n = subInt(v, "gid-min", gid);
        if (!n.ok) return n;
        out.gidMin = n.value;
      }
      return ok(out);
    }
    case "oidc": {
      const sub = parseSubOptions(v, inner ?? "", ["config"]);
      if (!sub.ok) return sub;
      const config = sub.value.get("config");
      if (config === undefined) return fail(`'${v}': oidc needs config=FILE`);
      return ok({ type: "oidc", config });
    }
  }
}

export function parseAcctMethod(v: string): Parsed<AcctMethod> {
  const m = splitMethod(v);
  if (!m.ok) return m;
  const { name, inner } = m.value;
  if (name === "radius") {
    const r = parseRadius(v, inner, true);
    if (!r.ok) return r;
    return ok({ type: "radius", config: r.value.config, ...(r.value.nasIdentifier !== undefined ? { nasIdentifier: r.value.nasIdentifier } : {}), groupSeparator: r.value.groupSeparator });
  }
  if (name === "pam") {
    const sub = parseSubOptions(v, inner ?? "", ["service"]);
    if (!sub.ok) return sub;
    return ok({ type: "pam", service: sub.value.get("service") ?? "ocserv" });
  }
  return fail(`'${v}' is not an accounting method (radius or pam)`);
}

/** Methods backed by a module (one per auth line set); certificate may be added on top (§3). */
export function isModuleMethod(m: AuthMethod): boolean {
  return m.type !== "certificate";
}

/** Methods that ask for a password; ocserv allows at most one across auth and enable-auth. */
export function isPasswordMethod(m: AuthMethod): boolean {
  return m.type === "plain" || m.type === "pam" || m.type === "radius";
}
