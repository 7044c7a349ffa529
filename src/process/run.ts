// The seam between the command line and the server. src/cli.ts loads and checks the configuration, sets
// up logging, daemonizes and writes the pid file, then calls runServer(config, context).
//
// The server module, src/server/main.ts, exports the RunServer that src/cli.ts calls.
import type { Config, ConfigResult } from "../config/types.ts";
import type { Logger } from "../log/types.ts";
import type { CliOptions } from "./argv.ts";
import type { LifecycleRegistry } from "./lifecycle.ts";

export interface ServerContext {
  readonly options: CliOptions;
  readonly log: Logger;
  /** Register shutdown (SIGTERM/SIGINT) and reload (SIGHUP) callbacks here. */
  readonly lifecycle: LifecycleRegistry;
  /**
   * Call once the listeners are bound and the server accepts clients. In daemon mode this lets the
   * waiting parent exit 0; before it, a failure makes the parent exit 1 with the reason.
   */
  ready(): void;
  /** Loads the configuration again from the same file (for the SIGHUP reload hook). */
  reloadConfig(): Promise<ConfigResult>;
  /** Privilege separation when run-as-user is set (false only with the OCSERV_PRIVSEP=0 escape hatch). */
  readonly splitRequested?: boolean;
  /** The command that re-executes this program (privsep workers); absent in tests that run in-process. */
  readonly selfCommand?: readonly string[];
  /** A running server can no longer work (e.g. its workers keep dying): log, clean up, exit 1. */
  fatal?(message: string): void;
}

export type ServerResult =
  /** Started; the process lives until a shutdown hook finishes. */
  | { readonly kind: "running" }
  /** Could not start: the process exits with `exitCode` after logging `message`. */
  | { readonly kind: "failed"; readonly exitCode: number; readonly message: string };

export type RunServer = (config: Config, context: ServerContext) => Promise<ServerResult>;
