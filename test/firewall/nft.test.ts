// The real runner against the real nft, inside a network namespace this test creates and deletes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FirewallError, SessionFirewall, createNftRunner, findNft, firewallPolicy, type FirewallPolicy } from "../../src/server/firewall/index.ts";
import { route } from "../tunnel/fixtures.ts";

const nft = findNft();
const canRun = process.getuid?.() === 0 && nft !== null && Bun.which("ip") !== null;
const ns = `ocfw-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), "ocserv-fw-"));
// A stand-in "nft" that runs the real one inside our namespace, so createNftRunner is tested as is.
const wrapper = join(dir, "nft");

async function sh(cmd: string[]): Promise<{ code: number; out: string }> {
  const p = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out: out + err };
}

async function ruleset(): Promise<string> {
  return (await sh(["ip", "netns", "exec", ns, nft ?? "nft", "list", "ruleset"])).out;
}

function policy(): FirewallPolicy {
  const p = firewallPolicy({
    restrictToRoutes: true,
    ports: { negate: true, rules: [{ protocol: "tcp", port: 22 }, { protocol: "icmpv6", port: null }] },
    routes: [route("10.1.0.0/16"), route("10.1.2.0/24"), route("fd00::/64")],
    noRoutes: [route("10.1.99.0/24")],
    dns: [{ family: 4, address: "10.1.0.53" }, { family: 6, address: "fd00::53" }],
  });
  if (p === null) throw new Error("expected a policy");
  return p;
}

describe.skipIf(!canRun)("nft runner in a private network namespace", () => {
  beforeAll(async () => {
    expect((await sh(["ip", "netns", "add", ns])).code).toBe(0);
    writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns} ${nft} "$@"\n`);
    chmodSync(wrapper, 0o755);
  });
  afterAll(async () => {
    await sh(["ip", "netns", "del", ns]);
    rmSync(dir, { recursive: true, force: true });
  });

  test("nft accepts the generated batches: install two devices, remove one, remove it again, reset", async () => {
    const fw = new SessionFirewall(createNftRunner(wrapper));
    await fw.install("vpns3", policy());
    await fw.install("vpns4", policy());
    let text = await ruleset();
    expect(text).toContain("chain in-vpns3");
    expect(text).toContain("chain in-vpns4");
    expect(text).toContain('"vpns3" : jump in-vpns3');
    expect(text).toContain("tcp dport 22 reject");
    // The base chains hold their vmap rules once, however many installs ran.
    expect(text.split("iifname vmap @in-dev").length - 1).toBe(2);

    await fw.remove("vpns3");
    text = await ruleset();
    expect(text).not.toContain("vpns3");
    expect(text).toContain("chain in-vpns4");

    await fw.remove("vpns3"); // already gone: still succeeds
    await fw.reset();
    expect(await ruleset()).not.toContain("ocserv");
  });

  test("a batch nft refuses becomes a FirewallError carrying nft's message", async () => {
    const fw = new SessionFirewall(createNftRunner(wrapper));
    const runner = createNftRunner(wrapper);
    let err: unknown = null;
    try {
      await runner.apply("add rule inet nosuchtable nosuchchain drop\n");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FirewallError);
    expect((err as FirewallError).code).toBe("nft-failed");
    expect((err as FirewallError).message).toContain("nosuchtable");
    // The queue keeps working after a failure.
    await fw.install("vpns5", policy());
    await fw.reset();
  });
});
