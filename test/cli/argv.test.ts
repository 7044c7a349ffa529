import { describe, expect, test } from "bun:test";
import { DEFAULT_CONFIG_PATH, parseArgv, type ArgvResult, type CliOptions } from "../../src/process/argv.ts";

function options(r: ArgvResult): CliOptions {
  if (r.kind !== "run") throw new Error(`expected run, got ${JSON.stringify(r)}`);
  return r.options;
}

function errorCode(r: ArgvResult): string {
  if (r.kind !== "error") throw new Error(`expected an error, got ${JSON.stringify(r)}`);
  return r.code;
}

describe("parseArgv", () => {
  test("no arguments gives the man page defaults", () => {
    const o = options(parseArgv([]));
    expect(o).toEqual({
      foreground: false, debug: null, config: DEFAULT_CONFIG_PATH, testConfig: false, pidFile: null,
      logStderr: false, syslog: false, syslogFacility: null, noChdir: false, traceable: false,
    });
  });

  test("every long boolean flag sets its option", () => {
    const o = options(parseArgv(["--foreground", "--test-config", "--log-stderr", "--syslog", "--no-chdir", "--traceable"]));
    expect([o.foreground, o.testConfig, o.logStderr, o.syslog, o.noChdir, o.traceable]).toEqual([true, true, true, true, true, true]);
  });

  test("every short boolean flag sets its option, alone or bundled", () => {
    const o = options(parseArgv(["-f", "-tesx"]));
    expect([o.foreground, o.testConfig, o.logStderr, o.syslog, o.traceable]).toEqual([true, true, true, true, true]);
  });

  test("accepts --opt=value and --opt value", () => {
    expect(options(parseArgv(["--config=/a.conf"])).config).toBe("/a.conf");
    expect(options(parseArgv(["--config", "/b.conf"])).config).toBe("/b.conf");
    expect(options(parseArgv(["--pid-file=/run/x.pid"])).pidFile).toBe("/run/x.pid");
    expect(options(parseArgv(["--debug", "3"])).debug).toBe(3);
    expect(options(parseArgv(["--syslog-facility", "local7"])).syslogFacility).toBe("local7");
  });

  test("accepts -dN, -d N, -cFILE and -c FILE", () => {
    expect(options(parseArgv(["-d5"])).debug).toBe(5);
    expect(options(parseArgv(["-d", "9999"])).debug).toBe(9999);
    expect(options(parseArgv(["-c/etc/x.conf"])).config).toBe("/etc/x.conf");
    expect(options(parseArgv(["-c", "rel.conf"])).config).toBe("rel.conf");
    expect(options(parseArgv(["-fd3"])).debug).toBe(3);
  });

  test("a value that looks like an option is still the value, as with getopt", () => {
    expect(options(parseArgv(["-c", "-weird.conf"])).config).toBe("-weird.conf");
  });

  test("rejects debug levels outside 0 to 9999 and non-numbers", () => {
    for (const bad of ["10000", "abc", "-1", "+3", "3x", "", " 3", "0x10", "1e3"]) {
      expect(errorCode(parseArgv(["-d", bad]))).toBe("bad-debug-level");
    }
    expect(errorCode(parseArgv(["--debug=99999999999"]))).toBe("bad-debug-level");
    expect(options(parseArgv(["-d", "0"])).debug).toBe(0);
  });

  test("rejects unknown long and short options", () => {
    expect(errorCode(parseArgv(["--bogus"]))).toBe("unknown-option");
    expect(errorCode(parseArgv(["-q"]))).toBe("unknown-option");
    expect(errorCode(parseArgv(["-fq"]))).toBe("unknown-option");
    // No getopt-style abbreviations: only the exact names of the man page.
    expect(errorCode(parseArgv(["--fore"]))).toBe("unknown-option");
  });

  test("rejects a stray positional argument, also after --", () => {
    expect(errorCode(parseArgv(["extra"]))).toBe("stray-argument");
    expect(errorCode(parseArgv(["-f", "--", "-t"]))).toBe("stray-argument");
  });

  test("rejects an option missing its value", () => {
    expect(errorCode(parseArgv(["-c"]))).toBe("missing-argument");
    expect(errorCode(parseArgv(["--pid-file"]))).toBe("missing-argument");
    expect(errorCode(parseArgv(["-f", "-d"]))).toBe("missing-argument");
  });

  test("rejects a value given to a flag that takes none", () => {
    expect(errorCode(parseArgv(["--foreground=yes"]))).toBe("unexpected-argument");
  });

  test("rejects empty file names", () => {
    expect(errorCode(parseArgv(["--config="]))).toBe("empty-path");
    expect(errorCode(parseArgv(["-p", ""]))).toBe("empty-path");
  });

  test("accepts exactly the syslog facilities of the man page", () => {
    for (const f of ["daemon", "user", "auth", "authpriv", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"]) {
      expect(options(parseArgv([`--syslog-facility=${f}`])).syslogFacility).toBe(f as CliOptions["syslogFacility"]);
    }
    for (const bad of ["kern", "local8", "DAEMON", "", "mail"]) {
      expect(errorCode(parseArgv([`--syslog-facility=${bad}`]))).toBe("bad-syslog-facility");
    }
  });

  test("-h and -v act when reached, before later bad options", () => {
    expect(parseArgv(["-h", "--bogus"]).kind).toBe("help");
    expect(parseArgv(["--version", "extra"]).kind).toBe("version");
    expect(parseArgv(["--bogus", "-h"]).kind).toBe("error");
    expect(parseArgv(["-fv"]).kind).toBe("version");
  });

  test("the last value of a repeated option wins", () => {
    const o = options(parseArgv(["-c", "/a", "-c", "/b", "-d1", "-d2"]));
    expect(o.config).toBe("/b");
    expect(o.debug).toBe(2);
  });
});
