// createNftRunner against stand-in "nft" scripts: what it passes, and how each failure surfaces.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FirewallError, createNftRunner, findNft } from "../../src/server/firewall/index.ts";

const dir = mkdtempSync(join(tmpdir(), "ocserv-nft-runner-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function script(name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

async function failure(p: Promise<void>): Promise<FirewallError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof FirewallError) return e;
    throw e;
  }
  throw new Error("expected a FirewallError");
}

describe("createNftRunner", () => {
  test("passes the batch on stdin to `nft -f -`", async () => {
    const out = join(dir, "seen");
    const nft = script("nft-ok", `echo "$@" > ${out}.args; cat > ${out}`);
    await createNftRunner(nft).apply("add table inet ocserv\n");
    expect(readFileSync(`${out}.args`, "utf8")).toBe("-f -\n");
    expect(readFileSync(out, "utf8")).toBe("add table inet ocserv\n");
  });

  test("turns a non-zero exit into nft-failed with nft's message", async () => {
    const nft = script("nft-err", `cat >/dev/null; echo "Error: Could not process rule: No such file or directory" >&2; exit 1`);
    const e = await failure(createNftRunner(nft).apply("x\n"));
    expect(e.code).toBe("nft-failed");
    expect(e.message).toBe("nft exited with 1: Error: Could not process rule: No such file or directory");
  });

  test("kills an nft that does not finish and fails the batch", async () => {
    const nft = script("nft-hang", "exec sleep 30");
    const e = await failure(createNftRunner(nft, 200).apply("x\n"));
    expect(e.code).toBe("nft-failed");
    expect(e.message).toContain("did not finish");
  });

  test("reports a missing nft as nft-missing", async () => {
    const e = await failure(createNftRunner(null).apply("x\n"));
    expect(e.code).toBe("nft-missing");
    expect(findNft([join(dir, "no-such-nft")])).toBeNull();
  });
});
