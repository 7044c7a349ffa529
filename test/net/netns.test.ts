import { describe, expect, test } from "bun:test";
import { readlinkSync } from "node:fs";
import { enterNetns } from "../../src/net/netns.ts";
import { TunError } from "../../src/tun/errors.ts";

describe("listen-netns: entering a named network namespace", () => {
  test("moves the JS thread into /var/run/netns/NAME and back", () => {
    const name = `ocs-nsn-${process.pid}`;
    expect(Bun.spawnSync(["ip", "netns", "add", name]).exitCode).toBe(0);
    try {
      const before = readlinkSync("/proc/thread-self/ns/net");
      const h = enterNetns(name);
      const inside = readlinkSync("/proc/thread-self/ns/net");
      h.restore();
      const after = readlinkSync("/proc/thread-self/ns/net");
      expect(inside).not.toBe(before);
      expect(after).toBe(before);
      const target = Bun.spawnSync(["ip", "netns", "exec", name, "readlink", "/proc/self/ns/net"]).stdout.toString().trim();
      expect(inside).toBe(target);
    } finally {
      Bun.spawnSync(["ip", "netns", "del", name]);
    }
  });

  test("a missing namespace is an open-failed TunError with ENOENT", () => {
    let err: unknown;
    try {
      enterNetns(`ocs-missing-${process.pid}`);
    } catch (e) {
      err = e;
    }
    expect((err as TunError).code).toBe("open-failed");
    expect((err as TunError).errno).toBe(2);
  });

  test("rejects names that would escape /var/run/netns", () => {
    for (const bad of ["../etc", "a/b", "", ".."]) {
      expect(() => enterNetns(bad)).toThrow(TunError);
    }
  });
});
