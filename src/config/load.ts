// Loading ocserv.conf from disk, formatting diagnostics, and reload support.
// loadConfig() always builds a new frozen Config; SIGHUP handling swaps it whole after
// applyReload() has put back the values of non-reloadable options (config-options.md §5).

import { readFile, stat } from "node:fs/promises";
import { decodeConfigBytes } from "./ini.ts";
import { deepFreeze, makeConfig, parseConfigText } from "./build.ts";
import type { ParseOptions } from "./build.ts";
import { allOptions } from "./options.ts";
import type { Config, ConfigResult, Diagnostic, GlobalOptions, VhostConfig, VhostOptions } from "./types.ts";

/** A configuration file larger than this is refused (ocserv.conf files are a few tens of KB). */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/** "file:line: message"; a whole-file diagnostic (line 0) is "file: message". */
export function formatDiagnostic(d: Diagnostic): string {
  return d.line > 0 ? `${d.file}:${d.line}: ${d.message}` : `${d.file}: ${d.message}`;
}

/** Parses configuration text (no I/O). */
export function parseConfig(text: string, file: string, opts: ParseOptions = {}): ConfigResult {
  return parseConfigText(text, file, opts);
}

/** Reads and parses a configuration file; I/O problems are reported as diagnostics, never thrown. */
export async function loadConfig(path: string, opts: ParseOptions = {}): Promise<ConfigResult> {
  let bytes: Uint8Array;
  try {
    const st = await stat(path);
    if (!st.isFile()) return { errors: [{ file: path, line: 0, message: "not a regular file" }], warnings: [] };
    if (st.size > MAX_CONFIG_BYTES) return { errors: [{ file: path, line: 0, message: `file is larger than ${MAX_CONFIG_BYTES} bytes` }], warnings: [] };
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as { code?: string }).code ?? "EIO";
    return { errors: [{ file: path, line: 0, message: `cannot read the file (${code})` }], warnings: [] };
  }
  const text = decodeConfigBytes(bytes);
  if (!text.ok) return { errors: [{ file: path, line: 0, message: text.message }], warnings: [] };
  return parseConfigText(text.text, path, opts);
}

/** A non-reloadable option whose value differs between two configurations. */
export interface NonReloadableChange {
  /** null for a global option or the default vhost; otherwise the vhost name. */
  readonly vhost: string | null;
  readonly option: string;
}

const NR_GLOBAL = allOptions().filter((o) => o.status.kind === "active" && o.scope === "global-nr").map((o) => o.name as keyof GlobalOptions);
const NR_VHOST = allOptions().filter((o) => o.status.kind === "active" && o.scope === "vhost-nr").map((o) => o.name as keyof VhostOptions);

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function findVhost(c: Config, name: string | null): VhostConfig | undefined {
  if (name === null) return c.defaultVhost;
  return c.vhosts.find((v) => v.name !== null && v.name.toLowerCase() === name.toLowerCase());
}

/**
 * The non-reloadable options (global-nr, vhost-nr) that differ between `old` and `next`. Vhosts that
 * are new in `next` are not reported: their non-reloadable options take effect at once.
 */
export function nonReloadableChanges(old: Config, next: Config): NonReloadableChange[] {
  const out: NonReloadableChange[] = [];
  for (const k of NR_GLOBAL) if (!same(old.global[k], next.global[k])) out.push({ vhost: null, option: k });
  for (const vh of [next.defaultVhost, ...next.vhosts]) {
    const before = findVhost(old, vh.name);
    if (before === undefined) continue;
    for (const k of NR_VHOST) if (!same(before.options[k], vh.options[k])) out.push({ vhost: vh.name, option: k });
  }
  return out;
}

/**
 * The configuration to run after a reload: `next`, except that non-reloadable options keep their
 * value from `old` until restart (ocserv reads them only at first start). Returns the changes that
 * were held back so the caller can log them.
 */
export function applyReload(old: Config, next: Config): { config: Config; heldBack: NonReloadableChange[] } {
  const heldBack = nonReloadableChanges(old, next);
  if (heldBack.length === 0) return { config: next, heldBack };
  const global = { ...next.global } as Record<string, unknown>;
  for (const k of NR_GLOBAL) global[k] = old.global[k];
  const keep = (vh: VhostConfig): VhostConfig => {
    const before = findVhost(old, vh.name);
    if (before === undefined) return vh;
    const options = { ...vh.options } as Record<string, unknown>;
    for (const k of NR_VHOST) options[k] = before.options[k];
    // certRequest follows auth, which is non-reloadable: keep it with auth.
    return { name: vh.name, options: options as unknown as VhostOptions, certRequest: before.certRequest };
  };
  const config = makeConfig(next.file, global as unknown as GlobalOptions, keep(next.defaultVhost), next.vhosts.map(keep));
  return { config: deepFreeze(config), heldBack };
}
