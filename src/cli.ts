// The ocserv executable: the only module that touches process state (argv, environment, exit codes,
// signals, the working directory, daemonizing). Everything it decides with is computed by modules:
//   argv → parseArgv (src/process/argv.ts) → help | version | error | run
//   run + -t → preflight (src/preflight) → summary on stdout / file:line diagnostics on stderr, exit 0 | 1
//   run      → loadConfig → [daemon parent: re-exec detached, wait for READY, exit] →
//              dumpable, chdir, logger, pid file, signals → runServer(config, context)
// Only what -v, -h and argument errors need is imported up front; the rest (config parser, X.509,
// crypto, logging) is loaded on demand, which keeps `ocserv -v` at the cost of an empty program.
import { parseArgv, SYSLOG_FACILITY_CODES, type CliOptions } from "./process/argv.ts";
import { SHORT_USAGE, renderHelp } from "./process/usage.ts";
import { VERSION } from "./process/version.ts";
import { runAppletIfInvoked } from "./tools/dispatch.ts";
import { isWorkerProcess } from "./privsep/worker.ts";
import type { Readiness } from "./process/daemon.ts";
import type { LogSink, RootLogger } from "./log/index.ts";
import type { PidFile } from "./process/pidfile.ts";
import type { Config } from "./config/types.ts";

/** Writes and waits, so that process.exit() right after cannot cut the output short on a pipe. */
async function writeOut(fd: 1 | 2, text: string): Promise<void> {
  if (text === "") return;
  try {
    await Bun.write(fd === 1 ? Bun.stdout : Bun.stderr, text);
  } catch {
    // stdout/stderr closed: the exit status still tells the caller.
  }
}

/** The command that re-executes this program: the compiled binary itself, or bun + the script. */
function selfCommand(): string[] {
  const script = process.argv[1];
  // In a `bun build --compile` binary argv[1] is "/$bunfs/root/<name>", a path inside the executable.
  if (script === undefined || script.startsWith("/$bunfs/") || script.startsWith("B:/~BUN/")) return [process.execPath];
  return [process.execPath, script];
}

async function main(): Promise<number | null> {
  // A worker re-executed by main's WorkerPool (docs/privsep.md §4.2): recognised before argv or any
  // configuration is looked at. Its module graph is loaded here, while still root and before any
  // chroot; runWorker() drops privileges before it reads anything from the network.
  if (isWorkerProcess()) {
    const { runWorker } = await import("./server/split/worker-side.ts");
    return runWorker();
  }
  // Busybox-style: invoked as `ocpasswd` or `ocserv-certtool` (a link to this binary), run that tool.
  const appletExit = await runAppletIfInvoked(process.argv0, process.argv, process.env);
  if (appletExit !== null) return appletExit;
  const parsed = parseArgv(process.argv.slice(2));
  switch (parsed.kind) {
    case "help":
      await writeOut(1, await renderHelp(process.stdout.isTTY === true));
      return 0;
    case "version":
      await writeOut(1, `ocserv ${VERSION}\n`);
      return 0;
    case "error":
      await writeOut(2, `ocserv: ${parsed.message}\n${SHORT_USAGE}`);
      return 1;
    case "run":
      break;
    default: {
      const never: never = parsed;
      return never;
    }
  }
  const options = parsed.options;
  if (options.testConfig) return testConfig(options);
  return serve(options);
}

async function testConfig(options: CliOptions): Promise<number> {
  const [{ preflight, formatDiagnostic }, { loadConfig }] = await Promise.all([import("./preflight/index.ts"), import("./process/load-config.ts")]);
  const report = await preflight(options.config, { load: loadConfig, now: new Date() });
  const lines = [
    ...report.warnings.map((d) => formatDiagnostic(d, "warning")),
    ...report.errors.map((d) => formatDiagnostic(d, "error")),
  ];
  await writeOut(2, lines.map((l) => `${l}\n`).join(""));
  if (report.ok && report.summary !== null) {
    await writeOut(1, `${report.summary}\n`);
    return 0;
  }
  return 1;
}

async function serve(options: CliOptions): Promise<number | null> {
  const [{ DAEMON_CHILD_ENV, NO_READINESS, READY_FD, childArgv, openReadiness, spawnDaemon }, { loadConfig }, { formatDiagnostic }] = await Promise.all([
    import("./process/daemon.ts"), import("./process/load-config.ts"), import("./preflight/index.ts"),
  ]);
  const isDaemonChild = process.env[DAEMON_CHILD_ENV] === String(READY_FD);
  const readiness: Readiness = isDaemonChild ? openReadiness(READY_FD) : NO_READINESS;
  // Scripts the server runs must not believe they are the daemon child.
  delete process.env[DAEMON_CHILD_ENV];

  const loaded = await loadConfig(options.config);
  if (loaded.config === undefined || loaded.errors.length > 0) {
    const lines = [...loaded.warnings.map((d) => formatDiagnostic(d, "warning")), ...loaded.errors.map((d) => formatDiagnostic(d))];
    await writeOut(2, lines.map((l) => `${l}\n`).join(""));
    readiness.fail(lines.find((l) => !l.includes(": warning: ")) ?? "invalid configuration");
    return 1;
  }
  const config = loaded.config;
  // ocserv main.c checks this right after reading the configuration, before daemonizing or writing
  // anything: tun devices, privileged ports and privilege separation all need root.
  if (process.getuid?.() !== 0) {
    await writeOut(2, "ocserv: This server requires root access to operate.\n");
    readiness.fail("This server requires root access to operate.");
    return 1;
  }

  if (!options.foreground && !isDaemonChild) {
    const start = await spawnDaemon({ command: selfCommand(), argv: childArgv(options, process.cwd()), env: process.env, cwd: process.cwd() });
    if (start.kind === "ready") return 0;
    await writeOut(2, `ocserv: the server did not start: ${start.message}\n`);
    return 1;
  }
  return runInProcess(options, config, readiness, isDaemonChild);
}

async function runInProcess(options: CliOptions, config: Config, readiness: Readiness, isDaemonChild: boolean): Promise<number | null> {
  const [{ setDumpable }, { writePidFile }, { Lifecycle }, { runServer }, { loadConfig }, logModule] = await Promise.all([
    import("./process/libc.ts"), import("./process/pidfile.ts"), import("./process/lifecycle.ts"), import("./server/main.ts"),
    import("./process/load-config.ts"), import("./log/index.ts"),
  ]);
  // ocserv: non-dumpable unless -x, so no unprivileged ptrace or core file can read keys and cookies.
  try {
    setDumpable(options.traceable);
  } catch (e) {
    readiness.fail(String(e));
    await writeOut(2, `ocserv: ${String(e)}\n`);
    return 1;
  }
  if (isDaemonChild && !options.noChdir) process.chdir("/");

  const log = buildLogger(options, config, logModule);
  let pidFile: PidFile | null = null;
  const pidPath = options.pidFile ?? config.global["pid-file"];
  if (pidPath !== null) {
    try {
      pidFile = writePidFile(pidPath, process.pid);
    } catch (e) {
      log.error(String((e as Error).message));
      log.close();
      readiness.fail((e as Error).message);
      if (!isDaemonChild) await writeOut(2, `ocserv: ${(e as Error).message}\n`);
      return 1;
    }
  }
  const cleanup = () => {
    pidFile?.remove();
    log.close();
  };

  const lifecycle = new Lifecycle(log);
  const onStop = (signal: string) => {
    void lifecycle.shutdown(signal).then((first) => {
      if (!first) {
        // A second signal while stopping: stop waiting for the hooks.
        log.warn(`${signal} during shutdown: exiting now`);
        cleanup();
        process.exit(1);
      }
      log.info(`terminating on ${signal}`);
      cleanup();
      process.exit(0);
    });
  };
  process.on("SIGTERM", () => onStop("SIGTERM"));
  process.on("SIGINT", () => onStop("SIGINT"));
  // A bug that escapes the server still leaves no stale pid file, and says why in the log.
  const crash = (e: unknown) => {
    log.error(`fatal: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    cleanup();
    process.exit(1);
  };
  process.on("uncaughtException", crash);
  process.on("unhandledRejection", crash);
  process.on("SIGHUP", () => {
    log.info("reloading configuration (SIGHUP)");
    void lifecycle.reload();
  });

  const result = await runServer(config, {
    options,
    log,
    lifecycle,
    ready: () => readiness.ready(),
    reloadConfig: () => loadConfig(options.config),
    // Privilege separation (docs/privsep.md) runs whenever run-as-user is set; OCSERV_PRIVSEP=0 keeps one
    // process (a diagnostic escape hatch: the workers then stay root, as without run-as-user).
    splitRequested: process.env["OCSERV_PRIVSEP"] !== "0",
    selfCommand: selfCommand(),
    fatal: (message) => {
      log.error(`fatal: ${message}`);
      cleanup();
      process.exit(1);
    },
  });
  if (result.kind === "failed") {
    // Clean up before telling the parent, so that once it exits nothing of ours is left behind.
    cleanup();
    readiness.fail(result.message);
    if (!isDaemonChild) await writeOut(2, `ocserv: ${result.message}\n`);
    return result.exitCode;
  }
  return null;
}

function buildLogger(options: CliOptions, config: Config, m: typeof import("./log/index.ts")): RootLogger {
  const { createLogger, createStderrSink, createSyslogSink } = m;
  // ocserv: -d forces stderr logging; -e asks for it; syslog is the default and can be kept alongside
  // with an explicit -s.
  const toStderr = options.logStderr || options.debug !== null;
  const toSyslog = options.syslog || !toStderr;
  const sinks: LogSink[] = [];
  if (toStderr) sinks.push(createStderrSink(process.stderr, "ocserv", process.pid));
  if (toSyslog) {
    const facility = options.syslogFacility ?? config.global["syslog-facility"];
    try {
      sinks.push(createSyslogSink("ocserv", SYSLOG_FACILITY_CODES[facility]));
    } catch (e) {
      // No libc to log through: fall back to stderr rather than run blind.
      if (!toStderr) sinks.push(createStderrSink(process.stderr, "ocserv", process.pid));
      void writeOut(2, `ocserv: ${String(e)}; logging to stderr\n`);
    }
  }
  return createLogger({ level: options.debug ?? config.global["log-level"], sinks });
}

main().then(
  (code) => {
    if (code !== null) process.exit(code);
  },
  async (e: unknown) => {
    await writeOut(2, `ocserv: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
