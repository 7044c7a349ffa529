// Per-user and per-group configuration files (config-options.md §4, ocserv sup-config/file.c).
// Same ini grammar as ocserv.conf, no sections, only the keys of §4 (others: warning, ignored).
// sec-mod reads them at every session open, so no reload is needed. Any parse error, an unreadable
// fallback file, or a name that could leave its directory rejects the session (ocserv 1.5.1).

import { constants } from "node:fs";
import { lstat, open, readdir } from "node:fs/promises";
import { join } from "node:path";
import { decodeConfigBytes, lexIni, sanitizeValue } from "./ini.ts";
import { canonicalName, lookupUserOption, userFileOptions, suggestOption } from "./options.ts";
import { deepFreeze, normaliseRoutes } from "./build.ts";
import { prefixToNetmask } from "./addr.ts";
import type { RawIpv4Network, RawIpv6Network } from "./values.ts";
import type { Diagnostic, Route, SessionSettings, UserFileOptions, VhostConfig, VhostOptions, VhostUserOptions } from "./types.ts";

/** Per-user files are small; anything bigger is refused rather than read. */
export const MAX_USER_FILE_BYTES = 64 * 1024;

export interface UserFileParse {
  readonly options?: UserFileOptions;
  readonly errors: readonly Diagnostic[];
  readonly warnings: readonly Diagnostic[];
}

export type UserFileResult =
  | {
      readonly kind: "ok";
      readonly options: UserFileOptions;
      /** The file actually read: the per-name file, the fallback, or null when there was none. */
      readonly source: string | null;
      readonly warnings: readonly Diagnostic[];
    }
  | UserFileRejection;

/** Why a per-user or per-group file rejects the session. */
export type UserFileRejectCode =
  | "invalid-name" // the user or group name could leave the directory ('/', '.', '..', NUL, empty)
  | "symlink" // the per-name file is a symbolic link (O_NOFOLLOW)
  | "not-regular" // a directory, FIFO, device...
  | "too-large" // over MAX_USER_FILE_BYTES
  | "unreadable" // open/read failed, or the file is not UTF-8
  | "fallback-missing" // default-user-config / default-group-config is set but absent
  | "parse-error"; // the file has errors (diagnostics say which)

export interface UserFileRejection {
  readonly kind: "rejected";
  readonly code: UserFileRejectCode;
  /** For logs; names the file but never its contents. */
  readonly reason: string;
  readonly diagnostics: readonly Diagnostic[];
}

export type SessionResult =
  | { readonly kind: "ok"; readonly settings: SessionSettings; readonly warnings: readonly Diagnostic[] }
  | UserFileRejection;

/** Keys whose values are lists: a group and a user file both setting one append (group first). */
const LIST_KEYS = new Set(userFileOptions().filter((o) => o.list).map((o) => canonicalName(o)));

/** Parses the text of one per-user or per-group file (no I/O). */
export function parseUserConfig(text: string, file: string): UserFileParse {
  const errors: Diagnostic[] = [];
  const warnings: Diagnostic[] = [];
  const ini = lexIni(text, file);
  errors.push(...ini.errors);
  const values = new Map<string, { line: number; value: unknown }[]>();
  const known = userFileOptions().map((o) => o.name);
  for (const section of ini.sections) {
    if (section.name !== null) {
      warnings.push({ file, line: section.line, message: `skipping section [${section.name}]: per-user and per-group files have no sections` });
      continue;
    }
    for (const e of section.entries) {
      const spec = lookupUserOption(e.name);
      if (spec === undefined) {
        const s = suggestOption(e.name, known);
        warnings.push({ file, line: e.line, option: e.name, message: `skipping unknown option '${e.name}'${s !== null ? `; did you mean '${s}'?` : ""}` });
        continue;
      }
      const parsed = spec.type.parse(spec.raw ? e.value : sanitizeValue(e.value));
      if (!parsed.ok) {
        errors.push({ file, line: e.line, option: e.name, message: `${e.name}: ${parsed.message}` });
        continue;
      }
      const key = canonicalName(spec);
      const occ = values.get(key);
      if (occ === undefined) values.set(key, [{ line: e.line, value: parsed.value }]);
      else if (spec.list) occ.push({ line: e.line, value: parsed.value });
      else occ[0] = { line: e.line, value: parsed.value }; // scalars: last wins
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, occ] of values) {
    if (key === "ipv4-network" || key === "ipv4-netmask" || key === "ipv6-network") continue;
    out[key] = LIST_KEYS.has(key) ? occ.map((o) => o.value) : occ[0]!.value;
  }
  if (out.route !== undefined) out.route = normaliseRoutes(out.route as VhostUserOptions["route"]);
  // Pools: in a user file the netmask must come with the network (file.c reads both fields; we
  // refuse a half-specified pool rather than guess the other half from the vhost).
  const net4 = values.get("ipv4-network")?.[0];
  const mask4 = values.get("ipv4-netmask")?.[0];
  if (net4 !== undefined || mask4 !== undefined) {
    const net = net4?.value as RawIpv4Network | undefined;
    const maskPrefix = mask4?.value as number | undefined;
    if (net === undefined) errors.push({ file, line: mask4!.line, option: "ipv4-netmask", message: "ipv4-netmask is set but ipv4-network is not" });
    else {
      const prefix = net.prefix ?? maskPrefix;
      if (prefix === undefined) errors.push({ file, line: net4!.line, option: "ipv4-network", message: "ipv4-network: no netmask; set ipv4-netmask or write the network as a.b.c.d/prefix" });
      else if (net.prefix !== null && maskPrefix !== undefined && net.prefix !== maskPrefix)
        errors.push({ file, line: mask4!.line, option: "ipv4-netmask", message: `ipv4-netmask ${prefixToNetmask(maskPrefix)} conflicts with the prefix /${net.prefix} of ipv4-network` });
      else out["ipv4-network"] = { address: net.address, prefix, netmask: prefixToNetmask(prefix) };
    }
  }
  const net6 = values.get("ipv6-network")?.[0];
  if (net6 !== undefined) {
    const net = net6.value as RawIpv6Network;
    if (net.prefix === null) errors.push({ file, line: net6.line, option: "ipv6-network", message: "ipv6-network: no prefix; write the network as addr/prefix" });
    else out["ipv6-network"] = { address: net.address, prefix: net.prefix };
  }
  if (errors.length > 0) return { errors, warnings };
  return { options: deepFreeze(out) as UserFileOptions, errors, warnings };
}

/**
 * Checks a user or group name used as a file name: it must stay inside its directory.
 * ocserv rejects '/', '.' and '..'; we also reject NUL, the empty name and names over NAME_MAX.
 */
export function checkConfigName(name: string): { ok: true } | { ok: false; reason: string } {
  if (name.length === 0) return { ok: false, reason: "empty name" };
  if (name === "." || name === "..") return { ok: false, reason: `'${name}' is not a valid name` };
  if (name.includes("/")) return { ok: false, reason: "name contains '/'" };
  if (name.includes("\0")) return { ok: false, reason: "name contains a NUL byte" };
  if (Buffer.byteLength(name, "utf8") > 255) return { ok: false, reason: "name is longer than 255 bytes" };
  return { ok: true };
}

type ReadResult = { kind: "ok"; text: string } | { kind: "missing" } | { kind: "error"; code: UserFileRejectCode; reason: string };

async function readSmallFile(path: string, noFollow: boolean): Promise<ReadResult> {
  if (noFollow) {
    // openat(dirfd, NAME, O_NOFOLLOW) in ocserv; lstat first so a symlink is named as such.
    try {
      const st = await lstat(path);
      if (st.isSymbolicLink()) return { kind: "error", code: "symlink", reason: "is a symbolic link" };
    } catch (e) {
      if ((e as { code?: string }).code === "ENOENT") return { kind: "missing" };
      return { kind: "error", code: "unreadable", reason: `cannot stat (${(e as { code?: string }).code ?? "EIO"})` };
    }
  }
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | (noFollow ? constants.O_NOFOLLOW : 0));
  } catch (e) {
    const code = (e as { code?: string }).code ?? "EIO";
    if (code === "ENOENT") return { kind: "missing" };
    if (code === "ELOOP") return { kind: "error", code: "symlink", reason: "is a symbolic link" };
    return { kind: "error", code: "unreadable", reason: `cannot open (${code})` };
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { kind: "error", code: "not-regular", reason: "is not a regular file" };
    if (st.size > MAX_USER_FILE_BYTES) return { kind: "error", code: "too-large", reason: `is larger than ${MAX_USER_FILE_BYTES} bytes` };
    const buf = new Uint8Array(st.size);
    let off = 0;
    while (off < buf.length) {
      const { bytesRead } = await fh.read(buf, off, buf.length - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    const dec = decodeConfigBytes(buf.subarray(0, off));
    return dec.ok ? { kind: "ok", text: dec.text } : { kind: "error", code: "unreadable", reason: dec.message };
  } catch (e) {
    return { kind: "error", code: "unreadable", reason: `cannot read (${(e as { code?: string }).code ?? "EIO"})` };
  } finally {
    await fh.close();
  }
}

/**
 * Loads `dir/name` (per-user or per-group file), falling back to `fallback` (default-user-config /
 * default-group-config) when it does not exist. With no directory, only the fallback is used.
 * The same function serves users and groups; see loadGroupConfig.
 */
export async function loadUserConfig(dir: string | null, name: string, fallback: string | null = null): Promise<UserFileResult> {
  const check = checkConfigName(name);
  if (!check.ok) return { kind: "rejected", code: "invalid-name", reason: `invalid configuration name: ${check.reason}`, diagnostics: [] };
  let path: string | null = null;
  let text: string | null = null;
  if (dir !== null) {
    const p = join(dir, name);
    const r = await readSmallFile(p, true);
    if (r.kind === "error") return { kind: "rejected", code: r.code, reason: `${p} ${r.reason}`, diagnostics: [] };
    if (r.kind === "ok") {
      path = p;
      text = r.text;
    }
  }
  if (text === null && fallback !== null) {
    const r = await readSmallFile(fallback, false);
    // A configured fallback that cannot be read rejects the session (ocserv 1.5.1).
    if (r.kind === "missing") return { kind: "rejected", code: "fallback-missing", reason: `${fallback} does not exist`, diagnostics: [] };
    if (r.kind === "error") return { kind: "rejected", code: r.code, reason: `${fallback} ${r.reason}`, diagnostics: [] };
    path = fallback;
    text = r.text;
  }
  if (text === null || path === null) return { kind: "ok", options: Object.freeze({}), source: null, warnings: [] };
  const parsed = parseUserConfig(text, path);
  if (parsed.options === undefined) return { kind: "rejected", code: "parse-error", reason: `${path} has errors`, diagnostics: parsed.errors };
  return { kind: "ok", options: parsed.options, source: path, warnings: parsed.warnings };
}

/** Per-group files: the same rules as per-user files. */
export const loadGroupConfig = loadUserConfig;

const VU_KEYS: readonly (keyof VhostUserOptions)[] = [
  "idle-timeout", "mobile-idle-timeout", "session-timeout", "keepalive", "dpd", "mobile-dpd", "deny-roaming",
  "max-same-clients", "stats-report-time", "ipv4-network", "ipv6-network", "ipv6-subnet-prefix", "dns", "nbns",
  "split-dns", "tunnel-all-dns", "route", "no-route", "mtu", "rx-data-per-sec", "tx-data-per-sec", "net-priority",
  "restrict-user-to-routes", "restrict-user-to-ports", "client-bypass-protocol", "no-udp", "user-profile",
];

/**
 * The effective settings of a session: the vhost's values, overlaid with the group file and then
 * the user file. Scalars: the user file wins over the group file, which wins over the vhost. Lists:
 * group entries then user entries (appended), which replace the vhost's list — except route and
 * no-route with append-routes, which are appended to the vhost's (ocserv apply_default_config).
 */
export function sessionSettings(vhost: VhostOptions, group: UserFileOptions | null, user: UserFileOptions | null): SessionSettings {
  const out: Record<string, unknown> = { iroute: [], "explicit-ipv4": null, "explicit-ipv6": null, hostname: null };
  for (const k of VU_KEYS) out[k] = vhost[k];
  const lists = new Map<string, unknown[]>();
  for (const file of [group, user]) {
    if (file === null) continue;
    for (const [k, v] of Object.entries(file)) {
      if (v === undefined) continue;
      if (LIST_KEYS.has(k)) lists.set(k, [...(lists.get(k) ?? []), ...(v as unknown[])]);
      else out[k] = v;
    }
  }
  for (const [k, v] of lists) {
    if ((k === "route" || k === "no-route") && vhost["append-routes"]) out[k] = [...vhost[k], ...v];
    else out[k] = v;
  }
  out.route = normaliseRoutes(out.route as VhostUserOptions["route"]);
  // mobile-dpd = 0 means "same as dpd", also when a file sets it.
  if (out["mobile-dpd"] === 0) out["mobile-dpd"] = out.dpd;
  return deepFreeze(out as unknown as SessionSettings);
}

/**
 * Loads the group file (when the session has a group) and the user file for a session on `vhost`,
 * and merges them. Callers must not use this with radius groupconfig=true (RADIUS supplies them).
 */
export async function loadSessionSettings(vhost: VhostConfig, username: string, group: string | null): Promise<SessionResult> {
  const o = vhost.options;
  const warnings: Diagnostic[] = [];
  let groupOptions: UserFileOptions | null = null;
  if (group !== null && (o["config-per-group"] !== null || o["default-group-config"] !== null)) {
    const g = await loadGroupConfig(o["config-per-group"], group, o["default-group-config"]);
    if (g.kind === "rejected") return g;
    groupOptions = g.options;
    warnings.push(...g.warnings);
  }
  let userOptions: UserFileOptions | null = null;
  if (o["config-per-user"] !== null || o["default-user-config"] !== null) {
    const u = await loadUserConfig(o["config-per-user"], username, o["default-user-config"]);
    if (u.kind === "rejected") return u;
    userOptions = u.options;
    warnings.push(...u.warnings);
  }
  return { kind: "ok", settings: sessionSettings(o, groupOptions, userOptions), warnings };
}

/** The iroutes of every per-user file, for expose-iroutes (ocserv append_routes()). */
export interface ExposedIroutes {
  readonly byUser: ReadonlyMap<string, readonly Route[]>;
  /** Files that could not be read or parsed; they contribute nothing. */
  readonly warnings: readonly Diagnostic[];
}

/** Upper bound on the files read from a config-per-user directory for expose-iroutes. */
export const MAX_EXPOSED_FILES = 10000;

/**
 * Reads every regular file in `dir` (symbolic links are skipped, as the per-user lookup refuses
 * them) and collects its iroutes. ocserv does this for expose-iroutes at each session open.
 */
export async function collectIroutes(dir: string): Promise<ExposedIroutes> {
  const byUser = new Map<string, readonly Route[]>();
  const warnings: Diagnostic[] = [];
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (e) {
    return { byUser, warnings: [{ file: dir, line: 0, message: `cannot list the directory (${(e as { code?: string }).code ?? "EIO"})` }] };
  }
  if (names.length > MAX_EXPOSED_FILES) {
    warnings.push({ file: dir, line: 0, message: `more than ${MAX_EXPOSED_FILES} files; only the first ${MAX_EXPOSED_FILES} are read for expose-iroutes` });
    names = names.slice(0, MAX_EXPOSED_FILES);
  }
  for (const name of names) {
    if (!checkConfigName(name).ok) continue;
    const path = join(dir, name);
    const r = await readSmallFile(path, true);
    if (r.kind === "missing") continue;
    if (r.kind === "error") {
      warnings.push({ file: path, line: 0, message: `skipped for expose-iroutes: ${r.reason}` });
      continue;
    }
    const parsed = parseUserConfig(r.text, path);
    if (parsed.options === undefined) {
      warnings.push({ file: path, line: 0, message: "skipped for expose-iroutes: the file has errors" });
      continue;
    }
    const iroutes = parsed.options.iroute;
    if (iroutes !== undefined && iroutes.length > 0) byUser.set(name, iroutes);
  }
  return deepFreeze({ byUser, warnings });
}

/** The exposed iroutes a session of `username` receives as routes: everyone else's. */
export function exposedRoutesFor(exposed: ExposedIroutes, username: string): Route[] {
  const out: Route[] = [];
  for (const [user, routes] of exposed.byUser) if (user !== username) out.push(...routes);
  return out;
}
