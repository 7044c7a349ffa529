// expose-iroutes (config-options.md §2.1, ocserv main-sec-mod-cmd.c append_routes): read every file in
// config-per-user, collect the `iroute`s, and offer them as routes to all other clients. ocserv reads
// the directory at each session open; so do we (the files are small and bounded by src/config).
// Files that fail to load are skipped here: they only reject their own user's sessions.

import { readdir } from "node:fs/promises";
import { loadUserConfig } from "../../config/peruser.ts";
import type { VhostConfig } from "../../config/types.ts";
import type { ExposedIroutes } from "./manager.ts";

/** Upper bound on the files read per CONNECT, so a huge directory cannot stall the server. */
const MAX_FILES = 4096;

export async function loadExposedIroutes(vhost: VhostConfig): Promise<readonly ExposedIroutes[]> {
  const dir = vhost.options["config-per-user"];
  if (dir === null) return [];
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: ExposedIroutes[] = [];
  for (const name of names.slice(0, MAX_FILES)) {
    if (name.startsWith(".")) continue;
    const r = await loadUserConfig(dir, name, null);
    if (r.kind !== "ok") continue;
    const routes = r.options.iroute ?? [];
    if (routes.length > 0) out.push({ username: name, routes });
  }
  return out;
}
