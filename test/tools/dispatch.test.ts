import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, symlinkSync, linkSync } from "node:fs";
import { join } from "node:path";
import { chooseApplet } from "../../src/tools/dispatch.ts";
import { parsePasswdFile, verifyCrypt } from "../../src/auth/index.ts";
import { ensureBinary } from "../cli/helpers.ts";
import { CLI, run, tempDir } from "./helpers.ts";

describe("choosing the applet from the invocation", () => {
  const compiled = ["bun", "/$bunfs/root/ocserv"];
  test("a compiled binary runs the applet named by argv[0]'s basename", () => {
    expect(chooseApplet("ocpasswd", compiled, {})).toEqual({ kind: "applet", name: "ocpasswd" });
    expect(chooseApplet("/usr/bin/ocpasswd", compiled, {})).toEqual({ kind: "applet", name: "ocpasswd" });
    expect(chooseApplet("./ocserv-certtool", compiled, {})).toEqual({ kind: "applet", name: "ocserv-certtool" });
  });

  test("a compiled binary under any other name is the server, and ignores OCSERV_APPLET", () => {
    for (const argv0 of ["ocserv", "/usr/sbin/ocserv", "ocserv-linux-arm64", "ocpasswd.old", "OCPASSWD"]) {
      expect(chooseApplet(argv0, compiled, { OCSERV_APPLET: "ocpasswd" })).toEqual({ kind: "server" });
    }
  });

  test("from the sources, OCSERV_APPLET names the applet and argv[0] ('bun') does not matter", () => {
    const script = ["/usr/bin/bun", "/src/cli.ts"];
    expect(chooseApplet("bun", script, {})).toEqual({ kind: "server" });
    expect(chooseApplet("bun", script, { OCSERV_APPLET: "" })).toEqual({ kind: "server" });
    expect(chooseApplet("ocpasswd", script, {})).toEqual({ kind: "server" });
    expect(chooseApplet("bun", script, { OCSERV_APPLET: "ocserv-certtool" })).toEqual({ kind: "applet", name: "ocserv-certtool" });
    expect(chooseApplet("bun", script, { OCSERV_APPLET: "occtl" }).kind).toBe("error");
  });
});

describe("applets from the sources", () => {
  test("an unknown OCSERV_APPLET is an error, not the server", async () => {
    const r = await run([process.execPath, CLI, "-v"], { env: { OCSERV_APPLET: "occtl" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("OCSERV_APPLET=occtl: unknown applet");
  });

  test("without OCSERV_APPLET the server's own flags are unchanged", async () => {
    const r = await run([process.execPath, CLI, "-v"], { env: { OCSERV_APPLET: undefined } });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ocserv /);
  });
});

describe("applets in the compiled binary", () => {
  const tmp = tempDir("dispatch");
  let binary = "";
  beforeAll(async () => {
    binary = await ensureBinary();
    symlinkSync(binary, join(tmp.dir, "ocpasswd"));
    linkSync(binary, join(tmp.dir, "ocserv-certtool"));
  }, 120_000);
  afterAll(() => tmp.cleanup());

  test("a symlink named ocpasswd runs ocpasswd", async () => {
    const file = join(tmp.dir, "passwd");
    const r = await run([join(tmp.dir, "ocpasswd"), "-c", file, "-g", "vpn", "linked"], { stdin: "via-link\n" });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const e = parsePasswdFile(readFileSync(file, "utf8"), file).entries.get("linked")!;
    expect(e.groups).toEqual(["vpn"]);
    if (e.password.kind !== "crypt") throw new Error("expected a crypt hash");
    expect(verifyCrypt(e.password.hash, "via-link")).toBe(true);
  });

  test("a hard link named ocserv-certtool runs the certificate tool", async () => {
    const r = await run([join(tmp.dir, "ocserv-certtool"), "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: ocserv-certtool COMMAND");
  });

  test("the name given as argv[0] by the caller decides, as with exec -a", async () => {
    const r = await run([binary, "-h"], { argv0: "ocpasswd" });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: ocpasswd");
  });

  test("the binary under its own name stays the server even with OCSERV_APPLET set", async () => {
    const r = await run([binary, "-v"], { env: { OCSERV_APPLET: "ocpasswd" } });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ocserv /);
  });
});
