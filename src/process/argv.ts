// The ocserv command line (ocserv(8) OPTIONS; config.c `long_options` in ocserv). Pure: argv in, a typed
// result out; src/cli.ts acts on it.
//
// Why not citty's parser: citty (like mri) accepts unknown flags silently, has no notion of exit codes for
// bad input, and does not take getopt's short forms (`-d5`, `-cFILE`, bundles like `-fe`). ocserv uses
// getopt_long, so we parse strictly here and use citty only for the definitions and the --help text
// (src/process/usage.ts renders OPTION_DEFS with citty's renderUsage).
import type { ArgsDef } from "citty";
import type { SyslogFacility } from "../config/types.ts";

export type { SyslogFacility };

/** <syslog.h> facility codes (already shifted: LOG_DAEMON = 3<<3). */
export const SYSLOG_FACILITY_CODES: Readonly<Record<SyslogFacility, number>> = Object.freeze({
  user: 1 << 3, daemon: 3 << 3, auth: 4 << 3, authpriv: 10 << 3,
  local0: 16 << 3, local1: 17 << 3, local2: 18 << 3, local3: 19 << 3,
  local4: 20 << 3, local5: 21 << 3, local6: 22 << 3, local7: 23 << 3,
});

export function parseSyslogFacility(name: string): SyslogFacility | null {
  return Object.hasOwn(SYSLOG_FACILITY_CODES, name) ? (name as SyslogFacility) : null;
}

export const DEFAULT_CONFIG_PATH = "/etc/ocserv/ocserv.conf";
/** ocserv(8): "num must be between zero and 9999". */
export const MAX_DEBUG_LEVEL = 9999;

export interface CliOptions {
  readonly foreground: boolean;
  /** -d N; null when not given (the config's log-level applies). */
  readonly debug: number | null;
  readonly config: string;
  readonly testConfig: boolean;
  /** -p FILE; wins over the pid-file config key. */
  readonly pidFile: string | null;
  /** -e given. */
  readonly logStderr: boolean;
  /** -s given explicitly (syslog is also the default when neither -e nor -d is given). */
  readonly syslog: boolean;
  /** --syslog-facility; wins over the syslog-facility config key. */
  readonly syslogFacility: SyslogFacility | null;
  readonly noChdir: boolean;
  readonly traceable: boolean;
}

export type ArgvErrorCode = "unknown-option" | "missing-argument" | "unexpected-argument" | "bad-debug-level"
  | "bad-syslog-facility" | "empty-path" | "stray-argument";

export type ArgvResult =
  | { readonly kind: "run"; readonly options: CliOptions }
  | { readonly kind: "help" }
  | { readonly kind: "version" }
  | { readonly kind: "error"; readonly code: ArgvErrorCode; readonly message: string };

type OptionName = "foreground" | "debug" | "config" | "test-config" | "pid-file" | "log-stderr" | "syslog"
  | "syslog-facility" | "no-chdir" | "traceable" | "help" | "version";

interface OptionSpec { readonly name: OptionName; readonly short: string | null; readonly takesValue: boolean }

const SPECS: readonly OptionSpec[] = [
  { name: "foreground", short: "f", takesValue: false },
  { name: "debug", short: "d", takesValue: true },
  { name: "config", short: "c", takesValue: true },
  { name: "test-config", short: "t", takesValue: false },
  { name: "pid-file", short: "p", takesValue: true },
  { name: "log-stderr", short: "e", takesValue: false },
  { name: "syslog", short: "s", takesValue: false },
  { name: "syslog-facility", short: null, takesValue: true },
  { name: "no-chdir", short: null, takesValue: false },
  { name: "traceable", short: "x", takesValue: false },
  { name: "help", short: "h", takesValue: false },
  { name: "version", short: "v", takesValue: false },
];

/** The same options as citty definitions: the single source for the --help text. */
export const OPTION_DEFS = {
  foreground: { type: "boolean", alias: "f", description: "Do not fork server into background" },
  debug: { type: "string", alias: "d", valueHint: "num", description: "Enable verbose network debugging information (0 to 9999); logs to stderr" },
  config: { type: "string", alias: "c", valueHint: "FILE", description: `Configuration file for the server (default ${DEFAULT_CONFIG_PATH})` },
  "test-config": { type: "boolean", alias: "t", description: "Test the provided configuration file and exit" },
  "pid-file": { type: "string", alias: "p", valueHint: "FILE", description: "PID file for the server (wins over the pid-file key)" },
  "log-stderr": { type: "boolean", alias: "e", description: "Log to stderr" },
  syslog: { type: "boolean", alias: "s", description: "Log to syslog (default)" },
  "syslog-facility": { type: "string", valueHint: "NAME", description: "Syslog facility: daemon (default), user, auth, authpriv, local0 … local7" },
  "no-chdir": { type: "boolean", description: "Do not perform a chdir on daemonize" },
  traceable: { type: "boolean", alias: "x", description: "Allows the process to be traced and dumped (debugging only)" },
  help: { type: "boolean", alias: "h", description: "Display usage information and exit" },
  version: { type: "boolean", alias: "v", description: "Output version of program and exit" },
} as const satisfies ArgsDef;

const BY_LONG = new Map(SPECS.map((s) => [s.name as string, s]));
const BY_SHORT = new Map(SPECS.filter((s) => s.short !== null).map((s) => [s.short as string, s]));

function fail(code: ArgvErrorCode, message: string): ArgvResult {
  return { kind: "error", code, message };
}

/**
 * Parses argv without the program name (process.argv.slice(2) or the equivalent). Follows getopt_long:
 * `--opt=value` and `--opt value`, `-dN` and `-d N`, bundled short flags (`-fe`, `-fd3`), `--` ends
 * options. -h and -v act when they are reached (options after them are not examined), as getopt-based
 * ocserv exits from inside its option loop. Positional arguments are rejected after the loop (getopt
 * permutes them to the end). Long-option abbreviations are not accepted: only the exact man-page names.
 */
export function parseArgv(argv: readonly string[]): ArgvResult {
  const o = {
    foreground: false, debug: null as number | null, config: DEFAULT_CONFIG_PATH, testConfig: false,
    pidFile: null as string | null, logStderr: false, syslog: false,
    syslogFacility: null as SyslogFacility | null, noChdir: false, traceable: false,
  };
  const positionals: string[] = [];

  // Applies one option; returns a terminal result (help/version/error) or null to continue.
  const apply = (spec: OptionSpec, value: string | null, shown: string): ArgvResult | null => {
    switch (spec.name) {
      case "foreground": o.foreground = true; return null;
      case "test-config": o.testConfig = true; return null;
      case "log-stderr": o.logStderr = true; return null;
      case "syslog": o.syslog = true; return null;
      case "no-chdir": o.noChdir = true; return null;
      case "traceable": o.traceable = true; return null;
      case "help": return { kind: "help" };
      case "version": return { kind: "version" };
      case "debug": {
        const v = value ?? "";
        // Digits only (no sign, no spaces, no hex): strtol's leniency would accept "12abc".
        if (!/^[0-9]{1,9}$/.test(v) || Number(v) > MAX_DEBUG_LEVEL) {
          return fail("bad-debug-level", `${shown}: debug level must be a number between 0 and ${MAX_DEBUG_LEVEL}, got '${v}'`);
        }
        o.debug = Number(v);
        return null;
      }
      case "config":
      case "pid-file": {
        const v = value ?? "";
        if (v === "") return fail("empty-path", `${shown}: the file name is empty`);
        if (v.includes("\0")) return fail("empty-path", `${shown}: the file name contains a NUL byte`);
        if (spec.name === "config") o.config = v; else o.pidFile = v;
        return null;
      }
      case "syslog-facility": {
        const f = parseSyslogFacility(value ?? "");
        if (f === null) {
          return fail("bad-syslog-facility", `${shown}: unknown syslog facility '${value ?? ""}' (expected daemon, user, auth, authpriv or local0 … local7)`);
        }
        o.syslogFacility = f;
        return null;
      }
      default: {
        const never: never = spec.name;
        return never;
      }
    }
  };

  let i = 0;
  while (i < argv.length) {
    const arg = argv[i]!;
    i++;
    if (arg === "--") {
      positionals.push(...argv.slice(i));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      const spec = BY_LONG.get(name);
      if (spec === undefined) return fail("unknown-option", `unrecognized option '--${name}'`);
      let value: string | null = null;
      if (spec.takesValue) {
        if (eq >= 0) value = arg.slice(eq + 1);
        else if (i < argv.length) value = argv[i++]!;
        else return fail("missing-argument", `option '--${name}' requires an argument`);
      } else if (eq >= 0) {
        return fail("unexpected-argument", `option '--${name}' doesn't allow an argument`);
      }
      const r = apply(spec, value, `--${name}`);
      if (r !== null) return r;
      continue;
    }
    if (arg.startsWith("-") && arg.length > 1) {
      // A cluster of short options; one that takes a value consumes the rest of the cluster or the next arg.
      for (let k = 1; k < arg.length; k++) {
        const ch = arg[k]!;
        const spec = BY_SHORT.get(ch);
        if (spec === undefined) return fail("unknown-option", `invalid option -- '${ch}'`);
        let value: string | null = null;
        if (spec.takesValue) {
          if (k + 1 < arg.length) value = arg.slice(k + 1);
          else if (i < argv.length) value = argv[i++]!;
          else return fail("missing-argument", `option requires an argument -- '${ch}'`);
          k = arg.length;
        }
        const r = apply(spec, value, `-${ch}`);
        if (r !== null) return r;
      }
      continue;
    }
    positionals.push(arg);
  }
  if (positionals.length > 0) {
    return fail("stray-argument", `unexpected argument '${positionals[0]!}' (ocserv takes no positional arguments)`);
  }
  return { kind: "run", options: Object.freeze(o) };
}
