// A throwaway network namespace for tests that need root: created with `ip netns add`, entered by the
// test's JS thread with setns (src/net/netns.ts), and deleted afterwards. Devices and sockets the test
// makes live there, so nothing touches the host's interfaces.

import { enterNetns, type NetnsHandle } from "../../src/net/netns.ts";

export interface TestNetns {
  readonly name: string;
  /** Runs a command inside the namespace; returns its exit code and output. */
  run(argv: string[]): { code: number; stdout: string; stderr: string };
  /** `ip -j ...` inside the namespace, parsed. */
  ipJson(args: string[]): unknown;
  dispose(): void;
}

function sh(argv: string[]): { code: number; stdout: string; stderr: string } {
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

export function createTestNetns(tag: string): TestNetns {
  const rnd = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(36);
  const name = `ocs-${tag}-${process.pid}-${rnd}`;
  const add = sh(["ip", "netns", "add", name]);
  if (add.code !== 0) throw new Error(`ip netns add ${name}: ${add.stderr}`);
  sh(["ip", "-n", name, "link", "set", "lo", "up"]);
  let handle: NetnsHandle | null = null;
  try {
    handle = enterNetns(name);
  } catch (e) {
    sh(["ip", "netns", "del", name]);
    throw e;
  }
  let disposed = false;
  return {
    name,
    run: (argv) => sh(["ip", "netns", "exec", name, ...argv]),
    ipJson: (args) => JSON.parse(sh(["ip", "-n", name, "-j", ...args]).stdout || "null"),
    dispose(): void {
      if (disposed) return;
      disposed = true;
      handle?.restore();
      sh(["ip", "netns", "del", name]);
    },
  };
}
