import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyReload, formatDiagnostic, loadConfig, nonReloadableChanges } from "../../src/config/index.ts";
import type { Config } from "../../src/config/index.ts";
import { BASE, parseClean } from "./helpers.ts";

const cfg = (extra: string): Config => parseClean(`${BASE}\n${extra}`, "r.conf");

test("reports the non-reloadable options that changed, globally and per vhost", () => {
  const old = cfg("max-clients = 10\n[vhost:a.example]\nca-cert = /a.pem");
  const next = cfg("tcp-port = 8443\nlog-level = 3\nmax-clients = 20\n[vhost:a.example]\nca-cert = /b.pem\ncookie-timeout = 1\n[vhost:new.example]\nca-cert = /n.pem");
  expect(nonReloadableChanges(old, next)).toEqual([
    { vhost: null, option: "tcp-port" },
    { vhost: null, option: "log-level" },
    { vhost: "a.example", option: "ca-cert" },
  ]);
});

test("identical configurations have no non-reloadable changes", () => {
  expect(nonReloadableChanges(cfg("dns = 10.0.0.1"), cfg("dns = 10.0.0.1"))).toEqual([]);
});

test("a reload applies reloadable options and keeps the old non-reloadable ones", () => {
  const old = cfg("max-clients = 10");
  const next = cfg('tcp-port = 8443\nmax-clients = 20\nauth = "certificate"\ncert-user-oid = 2.5.4.3\n[vhost:n.example]\nauth = "certificate"\ndpd = 1');
  const { config, heldBack } = applyReload(old, next);
  expect(heldBack.map((h) => h.option)).toEqual(["tcp-port", "auth"]);
  expect(config.global["tcp-port"]).toBe(443);
  expect(config.global["max-clients"]).toBe(20);
  expect(config.defaultVhost.options.auth).toEqual([{ type: "plain", passwd: "/etc/ocserv/ocpasswd" }]);
  expect(config.defaultVhost.certRequest).toBe("none");
  expect(config.defaultVhost.options["cert-user-oid"]).toBe("2.5.4.3");
  // A vhost that is new on reload takes all its values at once.
  expect(config.vhostFor("N.EXAMPLE").options.auth).toEqual([{ type: "certificate" }]);
  expect(config.vhostFor("n.example").options.dpd).toBe(1);
  expect(Object.isFrozen(config.global)).toBe(true);
  expect(old.global["max-clients"]).toBe(10);
});

test("loadConfig builds a new Config from the file each time it is called", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ocserv-reload-"));
  try {
    const file = join(dir, "ocserv.conf");
    writeFileSync(file, `${BASE}\nmax-clients = 1\n`);
    const a = await loadConfig(file);
    writeFileSync(file, `${BASE}\nmax-clients = 2\n`);
    const b = await loadConfig(file);
    expect(a.config!.global["max-clients"]).toBe(1);
    expect(b.config!.global["max-clients"]).toBe(2);
    expect(a.config).not.toBe(b.config);
    const missing = await loadConfig(join(dir, "absent.conf"));
    expect(missing.errors.map(formatDiagnostic)).toEqual([`${join(dir, "absent.conf")}: cannot read the file (ENOENT)`]);
    expect(missing.config).toBeUndefined();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
