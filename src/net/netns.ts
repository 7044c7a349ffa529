// Network namespace entry for `listen-netns` (ocserv.8: the server listens inside the named namespace
// created by `ip netns add`, which bind-mounts it at /var/run/netns/NAME). setns(2) with CLONE_NEWNET
// moves only the calling thread, which for Bun is the JS thread that creates sockets and tun devices
// through FFI and Bun.listen; threads started earlier keep their namespace.

import { TunError } from "../tun/errors.ts";
import { cString, loadLibc, type Libc } from "../tun/libc.ts";

const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
const CLONE_NEWNET = 0x40000000;

export interface NetnsHandle {
  /** Moves the thread back to the namespace it was in before enterNetns(). */
  restore(): void;
}

function checkName(name: string): void {
  // `ip netns` names are file names under /var/run/netns.
  if (name.length === 0 || name.length > 255 || name === "." || name === ".." || name.includes("/") || name.includes("\0")) {
    throw new TunError("bad-argument", `"${name}" is not a network namespace name`);
  }
}

function setnsPath(libc: Libc, path: string, what: string): void {
  const fd = libc.fn.open(cString(path), O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) throw new TunError("open-failed", `cannot open ${what}`, libc.errno(), "open");
  const r = libc.fn.setns(fd, CLONE_NEWNET);
  const errno = libc.errno();
  libc.fn.close(fd);
  if (r < 0) throw new TunError("ioctl-failed", `cannot enter ${what}`, errno, "setns");
}

/** Enters /var/run/netns/NAME on the calling thread; returns a handle that goes back. */
export function enterNetns(name: string, libc: Libc = loadLibc()): NetnsHandle {
  checkName(name);
  const self = libc.fn.open(cString("/proc/thread-self/ns/net"), O_RDONLY | O_CLOEXEC, 0);
  if (self < 0) throw new TunError("open-failed", "cannot open this thread's network namespace", libc.errno(), "open");
  try {
    setnsPath(libc, `/var/run/netns/${name}`, `network namespace "${name}"`);
  } catch (e) {
    libc.fn.close(self);
    throw e;
  }
  let done = false;
  return {
    restore(): void {
      if (done) return;
      done = true;
      const r = libc.fn.setns(self, CLONE_NEWNET);
      const errno = libc.errno();
      libc.fn.close(self);
      if (r < 0) throw new TunError("ioctl-failed", "cannot return to the original network namespace", errno, "setns");
    },
  };
}
