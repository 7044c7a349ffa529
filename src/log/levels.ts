// ocserv debug levels (log-level key, -d flag; ocserv.8 / config-options.md §2.2) and their mapping onto
// consola's numeric levels (0 error, 1 warn, 3 info, 4 debug, 5 trace).
import type { Severity } from "./types.ts";

export const OCSERV_LEVEL = Object.freeze({
  basic: 1, info: 2, debug: 3, http: 4, transferred: 5, sensitive: 8, tls: 9,
});

/** ocserv's default when neither log-level nor -d is given. */
export const DEFAULT_OCSERV_LEVEL = OCSERV_LEVEL.info;

/** consola level numbers for our severities. */
export const CONSOLA_LEVEL: Readonly<Record<Severity, number>> = Object.freeze({
  error: 0, warn: 1, info: 3, debug: 4, trace: 5,
});

/**
 * The consola threshold for an ocserv level: 0, 1 and 2 show info and above (ocserv treats 0 as its
 * default, 2); 3 adds debug; 4 and above add trace (http, transferred, sensitive, TLS), which callers
 * refine with Logger.level.
 */
export function consolaLevelFor(ocservLevel: number): number {
  if (ocservLevel >= OCSERV_LEVEL.http) return CONSOLA_LEVEL.trace;
  if (ocservLevel >= OCSERV_LEVEL.debug) return CONSOLA_LEVEL.debug;
  return CONSOLA_LEVEL.info;
}

/** Inverse of CONSOLA_LEVEL for what a reporter receives (consola's "log" level 2 is shown as info). */
export function severityOfConsolaLevel(level: number): Severity {
  if (level <= 0) return "error";
  if (level === 1) return "warn";
  if (level <= 3) return "info";
  if (level === 4) return "debug";
  return "trace";
}
