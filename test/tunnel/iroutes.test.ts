import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadExposedIroutes } from "../../src/server/tunnel/iroutes.ts";
import { vhostOptions } from "./fixtures.ts";

const dir = mkdtempSync(join(tmpdir(), "tunnel-iroutes-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("expose-iroutes collects every per-user file's iroutes and skips files that do not load", async () => {
  writeFileSync(join(dir, "bob"), "iroute = 10.60.0.0/16\niroute = 10.61.0.0/255.255.0.0\n");
  writeFileSync(join(dir, "carol"), "dns = 10.0.0.53\n");
  writeFileSync(join(dir, "broken"), "iroute = not-a-route\n");
  const got = await loadExposedIroutes({ name: null, options: vhostOptions({ "config-per-user": dir }), certRequest: "none" });
  expect(got.map((e) => [e.username, e.routes.map((r) => r.text)])).toEqual([["bob", ["10.60.0.0/255.255.0.0", "10.61.0.0/255.255.0.0"]]]);
  expect(await loadExposedIroutes({ name: null, options: vhostOptions(), certRequest: "none" })).toEqual([]);
});
