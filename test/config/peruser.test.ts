import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  checkConfigName,
  collectIroutes,
  exposedRoutesFor,
  formatDiagnostic,
  loadGroupConfig,
  loadSessionSettings,
  loadUserConfig,
  parseUserConfig,
  sessionSettings,
} from "../../src/config/index.ts";
import type { Config, Route, RouteEntry } from "../../src/config/index.ts";
import { BASE as MINIMAL_BASE, parseClean } from "./helpers.ts";

const FIX = join(import.meta.dir, "../fixtures/config");
const USERS = join(FIX, "per-user");
const GROUPS = join(FIX, "per-group");

const BASE = [
  MINIMAL_BASE,
  "route = 10.1.0.0/16",
  "no-route = 10.1.1.0/24",
  "dns = 192.168.1.1",
  "dpd = 90",
].join("\n");

const config = (extra = ""): Config => parseClean(`${BASE}\n${extra}`, "u.conf");

const texts = (rs: readonly RouteEntry[]) => rs.map((r) => (r === "default" ? r : r.text));

let tmp = "";
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "ocserv-peruser-"));
  mkdirSync(join(tmp, "users"));
  writeFileSync(join(tmp, "secret.conf"), "route = 0.0.0.0/0\n");
  writeFileSync(join(tmp, "users", "carol"), "dpd = 5\n");
  symlinkSync(join(tmp, "secret.conf"), join(tmp, "users", "mallory"));
  mkdirSync(join(tmp, "users", "adir"));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe("per-user file parsing", () => {
  test("a file with every key of §4 parses into typed values", async () => {
    const r = await loadUserConfig(USERS, "alice");
    expect(r.kind).toBe("ok");
    if (r.kind !== "ok") return;
    expect(r.source).toBe(join(USERS, "alice"));
    expect(r.warnings).toEqual([]);
    const o = r.options;
    expect(texts(o.route!)).toEqual(["10.20.0.0/255.255.0.0", "fd00:20::/64"]);
    expect(o["no-route"]!.map((x) => x.text)).toEqual(["10.20.5.0/255.255.255.0"]);
    expect(o.iroute!.map((x: Route) => x.text)).toEqual(["192.168.77.0/255.255.255.0"]);
    expect(o.dns).toEqual([{ family: 4, address: "10.20.0.53" }, { family: 6, address: "fd00:20::53" }]);
    expect(o["ipv4-network"]).toEqual({ address: "10.20.0.0", prefix: 16, netmask: "255.255.0.0" });
    expect(o["ipv6-network"]).toEqual({ address: "fd00:20::", prefix: 48 });
    expect(o["explicit-ipv4"]).toBe("10.20.0.10");
    expect(o.hostname).toBe("alice-laptop");
    expect(o["net-priority"]).toEqual({ kind: "tos", value: 0x20 });
    expect(o["no-udp"]).toBe(true);
    expect(o["deny-roaming"]).toBe(true);
    expect(o["restrict-user-to-ports"]?.rules).toHaveLength(3);
    expect(o["user-profile"]).toBe("profile.xml");
  });

  test("options that are not per-user keys are skipped with a warning", () => {
    const r = parseUserConfig("max-clients = 5\nroutes = 10.0.0.0/8\ndpd = 7\n", "f");
    expect(r.errors).toEqual([]);
    expect(r.options).toEqual({ dpd: 7 });
    expect(r.warnings.map(formatDiagnostic)).toEqual([
      "f:1: skipping unknown option 'max-clients'",
      "f:2: skipping unknown option 'routes'; did you mean 'route'?",
    ]);
  });

  test("a section in a per-user file is skipped with a warning", () => {
    const r = parseUserConfig("dpd = 1\n[vhost:x]\ndpd = 2\n", "f");
    expect(r.options).toEqual({ dpd: 1 });
    expect(r.warnings.map(formatDiagnostic)).toEqual(["f:2: skipping section [vhost:x]: per-user and per-group files have no sections"]);
  });

  test("parse errors reject the session, and all of them are reported", async () => {
    const r = await loadUserConfig(USERS, "broken");
    expect(r.kind === "rejected" && r.code).toBe("parse-error");
    if (r.kind !== "rejected") return;
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([
      `${join(USERS, "broken")}:1: route: '10.0.0.0' is not a route: expected ADDRESS/PREFIX or ADDRESS/NETMASK`,
      `${join(USERS, "broken")}:2: dpd: 'soon' is not an integer`,
    ]);
  });

  test("a half-specified IPv4 pool in a user file is an error", () => {
    expect(parseUserConfig("ipv4-network = 10.0.0.0\n", "f").errors.map(formatDiagnostic)).toEqual([
      "f:1: ipv4-network: no netmask; set ipv4-netmask or write the network as a.b.c.d/prefix",
    ]);
  });

  test("a missing file without a fallback gives no settings", async () => {
    const r = await loadUserConfig(USERS, "nobody-here");
    expect(r).toEqual({ kind: "ok", options: {}, source: null, warnings: [] });
  });

  test("a missing file uses the fallback file", async () => {
    const r = await loadGroupConfig(GROUPS, "staff", join(GROUPS, "default.conf"));
    expect(r.kind).toBe("ok");
    if (r.kind === "ok") {
      expect(r.source).toBe(join(GROUPS, "default.conf"));
      expect(texts(r.options.route!)).toEqual(["10.99.0.0/255.255.0.0"]);
    }
  });

  test("an unreadable fallback rejects the session", async () => {
    const r = await loadUserConfig(USERS, "nobody-here", join(tmp, "no-such-default.conf"));
    expect(r).toEqual({ kind: "rejected", code: "fallback-missing", reason: `${join(tmp, "no-such-default.conf")} does not exist`, diagnostics: [] });
  });
});

describe("per-user names cannot leave their directory", () => {
  for (const name of ["..", ".", "", "../secret.conf", "a/b", "/etc/passwd", "x\0y"]) {
    test(`rejects the name ${JSON.stringify(name)}`, async () => {
      expect(checkConfigName(name).ok).toBe(false);
      const r = await loadUserConfig(join(tmp, "users"), name, join(tmp, "secret.conf"));
      expect(r.kind === "rejected" && r.code).toBe("invalid-name");
    });
  }

  test("refuses a per-user file that is a symbolic link", async () => {
    const r = await loadUserConfig(join(tmp, "users"), "mallory");
    expect(r).toEqual({ kind: "rejected", code: "symlink", reason: `${join(tmp, "users", "mallory")} is a symbolic link`, diagnostics: [] });
  });

  test("refuses a per-user name that is a directory", async () => {
    const r = await loadUserConfig(join(tmp, "users"), "adir");
    expect(r).toEqual({ kind: "rejected", code: "not-regular", reason: `${join(tmp, "users", "adir")} is not a regular file`, diagnostics: [] });
  });

  test("refuses a per-user file larger than the bound", async () => {
    writeFileSync(join(tmp, "users", "huge"), `# ${"x".repeat(70 * 1024)}\n`);
    const r = await loadUserConfig(join(tmp, "users"), "huge");
    expect(r.kind === "rejected" && r.code).toBe("too-large");
    rmSync(join(tmp, "users", "huge"));
  });

  test("accepts ordinary names, including ones with dots", async () => {
    expect(checkConfigName("john.doe@example.com")).toEqual({ ok: true });
    const r = await loadUserConfig(join(tmp, "users"), "carol");
    expect(r.kind === "ok" && r.options.dpd).toBe(5);
  });
});

describe("merging vhost, group and user settings", () => {
  test("scalars: the user file wins over the group file, which wins over the vhost", () => {
    const c = config();
    const s = sessionSettings(c.defaultVhost.options, { dpd: 30, keepalive: 100 }, { dpd: 60 });
    expect(s.dpd).toBe(60);
    expect(s.keepalive).toBe(100);
    expect(s["cookie-timeout" as keyof typeof s]).toBeUndefined();
    expect(s["idle-timeout"]).toBe(0);
  });

  test("lists: group then user entries, replacing the vhost list", async () => {
    const c = config();
    const g = await loadGroupConfig(GROUPS, "admins");
    const u = await loadUserConfig(USERS, "alice");
    if (g.kind !== "ok" || u.kind !== "ok") throw new Error("fixtures did not load");
    const s = sessionSettings(c.defaultVhost.options, g.options, u.options);
    expect(texts(s.route)).toEqual(["10.30.0.0/255.255.0.0", "10.20.0.0/255.255.0.0", "fd00:20::/64"]);
    expect(s.dns.map((d) => d.address)).toEqual(["10.30.0.53", "10.20.0.53", "fd00:20::53"]);
    expect(s["no-route"].map((r) => r.text)).toEqual(["10.20.5.0/255.255.255.0"]);
    // mobile-dpd = 0 in the user file means "same as dpd" (the user's 60).
    expect(s["mobile-dpd"]).toBe(60);
    // The user file sets restrict-user-to-ports only: the port firewall applies, route restriction does not.
    expect(s["restrict-user-to-ports"]).not.toBeNull();
    expect(s["restrict-user-to-routes"]).toBe(false);
  });

  test("with append-routes, file routes are appended to the vhost routes", () => {
    const c = config("append-routes = true");
    const s = sessionSettings(c.defaultVhost.options, null, parseUserConfig("route = 10.9.0.0/16\nno-route = 10.9.9.0/24\n", "f").options!);
    expect(texts(s.route)).toEqual(["10.1.0.0/255.255.0.0", "10.9.0.0/255.255.0.0"]);
    expect(s["no-route"].map((r) => r.text)).toEqual(["10.1.1.0/255.255.255.0", "10.9.9.0/255.255.255.0"]);
  });

  test("route = default in a user file makes the default route", () => {
    const c = config();
    const s = sessionSettings(c.defaultVhost.options, null, parseUserConfig("route = default\n", "f").options!);
    expect(s.route).toEqual(["default"]);
  });

  test("without files the session gets the vhost's values", () => {
    const c = config();
    const s = sessionSettings(c.defaultVhost.options, null, null);
    expect(texts(s.route)).toEqual(["10.1.0.0/255.255.0.0"]);
    expect(s.iroute).toEqual([]);
    expect(s.hostname).toBeNull();
    expect(Object.isFrozen(s)).toBe(true);
  });

  test("loadSessionSettings reads the vhost's directories and merges group and user", async () => {
    const c = config(`config-per-user = ${USERS}\nconfig-per-group = ${GROUPS}`);
    const r = await loadSessionSettings(c.defaultVhost, "bob", "admins");
    expect(r.kind).toBe("ok");
    if (r.kind !== "ok") return;
    expect(r.settings.route).toEqual(["default"]);
    expect(r.settings.dpd).toBe(30);
    expect(r.settings["max-same-clients"]).toBe(1);
    const bad = await loadSessionSettings(c.defaultVhost, "../per-group/admins", null);
    expect(bad.kind).toBe("rejected");
  });
});

describe("expose-iroutes", () => {
  test("collects the iroutes of every per-user file and gives each user the others' routes", async () => {
    const exposed = await collectIroutes(USERS);
    expect([...exposed.byUser.keys()]).toEqual(["alice"]);
    expect(exposed.warnings.map(formatDiagnostic)).toEqual([`${join(USERS, "broken")}: skipped for expose-iroutes: the file has errors`]);
    expect(exposedRoutesFor(exposed, "bob").map((r) => r.text)).toEqual(["192.168.77.0/255.255.255.0"]);
    expect(exposedRoutesFor(exposed, "alice")).toEqual([]);
  });

  test("skips symbolic links in the directory", async () => {
    writeFileSync(join(tmp, "secret.conf"), "iroute = 10.66.0.0/16\n");
    const exposed = await collectIroutes(join(tmp, "users"));
    expect([...exposed.byUser.keys()]).toEqual([]);
    expect(exposed.warnings.map(formatDiagnostic)).toEqual([
      `${join(tmp, "users", "adir")}: skipped for expose-iroutes: is not a regular file`,
      `${join(tmp, "users", "mallory")}: skipped for expose-iroutes: is a symbolic link`,
    ]);
  });
});
