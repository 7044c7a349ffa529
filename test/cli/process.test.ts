import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { childArgv, spawnDaemon } from "../../src/process/daemon.ts";
import { parseArgv, type CliOptions } from "../../src/process/argv.ts";
import { writePidFile, PidFileError } from "../../src/process/pidfile.ts";
import { Lifecycle } from "../../src/process/lifecycle.ts";
import { setDumpable } from "../../src/process/libc.ts";
import { createLogger } from "../../src/log/index.ts";

const dir = mkdtempSync(join(tmpdir(), "ocserv-process-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const quiet = createLogger({ level: 2, sinks: [] });
const CHILD = join(import.meta.dir, "daemon-child.fixture.ts");

function opts(argv: string[]): CliOptions {
  const r = parseArgv(argv);
  if (r.kind !== "run") throw new Error("bad argv");
  return r.options;
}

describe("pid file", () => {
  test("holds the pid and a newline, and is removed by its owner", () => {
    const path = join(dir, "a.pid");
    const pf = writePidFile(path, 12345);
    expect(readFileSync(path, "utf8")).toBe("12345\n");
    pf.remove();
    expect(existsSync(path)).toBe(false);
  });

  test("is left alone when another process has rewritten it", () => {
    const path = join(dir, "b.pid");
    const pf = writePidFile(path, 111);
    writeFileSync(path, "222\n");
    pf.remove();
    expect(readFileSync(path, "utf8")).toBe("222\n");
  });

  test("refuses to write through a symlink", () => {
    const target = join(dir, "victim");
    writeFileSync(target, "keep");
    const link = join(dir, "link.pid");
    symlinkSync(target, link);
    expect(() => writePidFile(link, 1)).toThrow(PidFileError);
    expect(readFileSync(target, "utf8")).toBe("keep");
  });

  test("reports a directory that does not exist", () => {
    expect(() => writePidFile(join(dir, "nope", "x.pid"), 1)).toThrow("cannot write pid file");
  });
});

describe("lifecycle", () => {
  test("shutdown runs hooks last-registered first, once, and reports a repeated request", async () => {
    const order: string[] = [];
    const lc = new Lifecycle(quiet);
    lc.onShutdown(() => void order.push("listeners"));
    lc.onShutdown(async (why) => void order.push(`sessions:${why}`));
    expect(await lc.shutdown("SIGTERM")).toBe(true);
    expect(await lc.shutdown("SIGINT")).toBe(false);
    expect(order).toEqual(["sessions:SIGTERM", "listeners"]);
    expect(lc.state).toEqual({ kind: "stopping", reason: "SIGTERM" });
  });

  test("a failing hook does not stop the others", async () => {
    const ran: string[] = [];
    const lc = new Lifecycle(quiet);
    lc.onReload(() => { throw new Error("bad"); });
    lc.onReload(() => void ran.push("second"));
    await lc.reload();
    expect(ran).toEqual(["second"]);
  });

  test("reload is ignored while stopping", async () => {
    let reloads = 0;
    const lc = new Lifecycle(quiet);
    lc.onReload(() => void reloads++);
    await lc.shutdown("SIGTERM");
    await lc.reload();
    expect(reloads).toBe(0);
  });
});

describe("daemon start", () => {
  test("the child argv has absolute paths and every option but -f", () => {
    const argv = childArgv(opts(["-f", "-c", "conf/x.conf", "-p", "run.pid", "-d", "4", "-e", "--syslog-facility=local2", "--no-chdir", "-x"]), "/srv");
    expect(argv).toEqual(["--config", "/srv/conf/x.conf", "--pid-file", "/srv/run.pid", "--debug", "4", "--log-stderr", "--syslog-facility", "local2", "--no-chdir", "--traceable"]);
    expect(parseArgv(argv).kind).toBe("run");
  });

  test("a child that reports READY is detached in its own session and left running", async () => {
    const marker = join(dir, "ready.marker");
    const start = await spawnDaemon({ command: [process.execPath, CHILD], argv: ["ready", marker], env: process.env, cwd: dir });
    expect(start.kind).toBe("ready");
    try {
      // setsid(): the child leads its own session (field 6 of /proc/PID/stat is the session id).
      const stat = readFileSync(`/proc/${start.pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      expect(Number(fields[3])).toBe(start.pid);
      expect(readFileSync(marker, "utf8")).toBe(`${start.pid} ${dir}\n`);
    } finally {
      process.kill(start.pid, "SIGKILL");
    }
  });

  test("a child that reports FAIL gives its reason on one line", async () => {
    const start = await spawnDaemon({ command: [process.execPath, CHILD], argv: ["fail"], env: process.env, cwd: dir });
    expect(start).toMatchObject({ kind: "failed", message: "no listener second line" });
  });

  test("a child that exits without a report gives its exit status", async () => {
    const start = await spawnDaemon({ command: [process.execPath, CHILD], argv: ["exit"], env: process.env, cwd: dir });
    expect(start).toMatchObject({ kind: "failed", message: "the server exited with status 7 before it was ready" });
  });

  test("a child that never reports is killed after the timeout", async () => {
    const start = await spawnDaemon({ command: [process.execPath, CHILD], argv: ["hang"], env: process.env, cwd: dir, timeoutMs: 300 });
    expect(start).toMatchObject({ kind: "failed", message: "the server did not report readiness in time" });
    await Bun.sleep(100);
    const stat = `/proc/${start.pid}/stat`;
    const alive = existsSync(stat) && !readFileSync(stat, "utf8").includes(") Z "); // a zombie is dead
    expect(alive).toBe(false);
  });
});

describe("prctl", () => {
  test("PR_SET_DUMPABLE is applied and read back", () => {
    expect(setDumpable(false)).toBe(false);
    expect(setDumpable(true)).toBe(true);
  });
});
