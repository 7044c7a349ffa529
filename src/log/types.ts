// The logging contract every module receives by injection. There is no global logger: src/cli.ts builds
// one with createLogger() and passes it (or a child) down.

/** Severity of one message; each sink maps it (syslog priority, stderr prefix). */
export type Severity = "error" | "warn" | "info" | "debug" | "trace";

export interface Logger {
  error(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  /** Shown from ocserv debug level 3 (DEBUG_DEBUG) up. */
  debug(message: string, ...args: unknown[]): void;
  /** Shown from ocserv debug level 4 (DEBUG_HTTP) up. */
  trace(message: string, ...args: unknown[]): void;
  /** A logger whose messages carry "prefix: " (e.g. "sec-mod", "worker 10.0.0.2"). */
  child(prefix: string): Logger;
  /**
   * The ocserv debug level in force (log-level, or -d): 1 basic, 2 info, 3 debug, 4 http, 5 transferred,
   * 8 sensitive, 9 TLS. Callers gate costly or sensitive detail on it, e.g. `if (log.level >= 9)` before
   * formatting TLS internals. Even at 8 ("sensitive") never log passwords, cookies or keys.
   */
  readonly level: number;
}

/** Where formatted lines go. `write` must never block the event loop for long and must never throw. */
export interface LogSink {
  write(severity: Severity, line: string): void;
  close(): void;
}
