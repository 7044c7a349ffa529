// Linux tun devices through bun:ffi, created the way ocserv's os_open_tun does (architecture.md §2):
//   open("/dev/net/tun", O_RDWR|O_NONBLOCK|O_CLOEXEC)
//   TUNSETIFF  IFF_TUN|IFF_NO_PI, name "<device>%d"; the kernel picks the number; read the name back
//   TUNSETPERSIST 0                 the device disappears when the fd closes
//   TUNSETOWNER / TUNSETGROUP       optional: run-as-user / run-as-group
// Packet flow: readiness callback (readiness.ts) → readBatch() drains with non-blocking read() into the
// caller's pooled buffers until EAGAIN → re-arm. write() is one non-blocking write() per IP packet;
// never FileSink or Bun.file().stream() (they merge packets, bun-runtime-notes.md §1).
//
// Re-arming coalesces wakeups the way NAPI does: an idle device waits on the epoll worker, so one
// interactive packet is seen within tens of microseconds; when wakeups come less than `busyPollMs`
// apart, the device switches to polling every `busyPollMs` with a timer (each poll then reads a whole
// batch for one wakeup), and goes back to the epoll worker as soon as a poll finds nothing. bench/tun.ts
// measured the CPU cost per packet at 50k pkts/s roughly halving this way.

import { ptr } from "bun:ffi";
import { checkInterfaceName, IFNAMSIZ, type OpenTunOptions, type TunDevice, type TunFactory } from "./device.ts";
import { EAGAIN, EINTR, TunError } from "./errors.ts";
import { cString, loadLibc, type Libc } from "./libc.ts";
import { createReadiness, type Readiness, type Watch } from "./readiness.ts";

const O_RDWR = 0o2;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const IFF_TUN = 0x0001;
const IFF_NO_PI = 0x1000;
const IFF_MULTI_QUEUE = 0x0100;
// _IOW('T', n, int) from <linux/if_tun.h>.
const TUNSETIFF = 0x400454ca;
const TUNSETPERSIST = 0x400454cb;
const TUNSETOWNER = 0x400454cc;
const TUNSETGROUP = 0x400454ce;
/** sizeof(struct ifreq) on Linux. */
const IFREQ_SIZE = 40;

class LinuxTunDevice implements TunDevice {
  private fdValue: number;
  private cb: (() => void) | null = null;
  private paused = false;
  /** Set when a readBatch() hit EAGAIN during the current dispatch. */
  private drained = false;
  private scheduled = false;
  private readonly watch: Watch;
  private readonly dispatchBound = () => this.dispatch();
  /** "interrupt": wait on the poller; "polling": a timer drains every busyPollMs (see file comment). */
  private mode: "interrupt" | "polling" = "interrupt";
  private lastWake = -Infinity;
  private readInDispatch = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly timerFire = () => {
    this.timer = null;
    this.dispatch();
    // A poll that found nothing: the burst is over, go back to waiting on the poller.
    if (this.readInDispatch === 0 && this.mode === "polling") {
      this.mode = "interrupt";
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = null;
      if (!this.paused && this.cb !== null && !this.closed) this.watch.arm();
    }
  };

  constructor(
    private readonly libc: Libc,
    readiness: Readiness,
    fd: number,
    readonly name: string,
    readonly index: number,
    private readonly busyPollMs: number,
    private readonly onClose: (d: LinuxTunDevice) => void,
  ) {
    this.fdValue = fd;
    this.watch = readiness.watch(fd, () => this.onPollerWake());
  }

  private onPollerWake(): void {
    const now = performance.now();
    if (this.busyPollMs > 0 && now - this.lastWake < this.busyPollMs) this.mode = "polling";
    this.lastWake = now;
    this.dispatch();
  }

  /** After EAGAIN: wait for the next packet in the current mode. */
  private rearm(): void {
    if (this.mode === "polling") {
      if (this.timer === null) this.timer = setTimeout(this.timerFire, this.busyPollMs);
    } else {
      this.watch.arm();
    }
  }

  get fd(): number {
    return this.fdValue;
  }
  get closed(): boolean {
    return this.fdValue < 0;
  }

  private dispatch(): void {
    this.scheduled = false;
    const cb = this.cb;
    if (cb === null || this.paused || this.closed) return;
    this.drained = false;
    this.readInDispatch = 0;
    cb();
    if (this.closed || this.paused || this.drained || this.cb === null) return;
    // The callback stopped before the queue was empty (a full batch): come back after other I/O had
    // its turn, without a round trip through the poller.
    this.scheduled = true;
    setImmediate(this.dispatchBound);
  }

  readBatch(bufs: readonly Uint8Array[], sizes: Int32Array, offset: number): number {
    const fd = this.fdValue;
    if (fd < 0) throw new TunError("closed", `${this.name} is closed`);
    const max = Math.min(bufs.length, sizes.length);
    const read = this.libc.fn.read;
    let n = 0;
    while (n < max) {
      const buf = bufs[n]!;
      const room = buf.length - offset;
      if (room <= 0 || offset < 0) throw new TunError("bad-buffer", `buffer ${n} has no room after offset ${offset}`);
      // ptr(buf, offset) is only used during this call while `buf` is held by the caller's array.
      const r = read(fd, ptr(buf, offset), room);
      if (r < 0) {
        const errno = this.libc.errno();
        if (errno === EINTR) continue;
        if (errno === EAGAIN) {
          this.drained = true;
          if (!this.paused && this.cb !== null) this.rearm();
          break;
        }
        throw new TunError("io-failed", `reading ${this.name}`, errno, "read");
      }
      sizes[n] = r;
      n++;
    }
    this.readInDispatch += n;
    return n;
  }

  write(packet: Uint8Array): boolean {
    const fd = this.fdValue;
    if (fd < 0) throw new TunError("closed", `${this.name} is closed`);
    for (;;) {
      const r = this.libc.fn.write(fd, packet, packet.length);
      if (r >= 0) return true;
      const errno = this.libc.errno();
      if (errno === EINTR) continue;
      if (errno === EAGAIN) return false;
      throw new TunError("io-failed", `writing ${packet.length} bytes to ${this.name}`, errno, "write");
    }
  }

  onReadable(cb: (() => void) | null): void {
    this.cb = cb;
    if (cb !== null && !this.paused && !this.closed) this.watch.arm();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.cb !== null && !this.closed && !this.scheduled) this.watch.arm();
  }

  close(): void {
    const fd = this.fdValue;
    if (fd < 0) return;
    this.fdValue = -1;
    this.cb = null;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.watch.cancel();
    this.libc.fn.close(fd);
    this.onClose(this);
  }
}

export interface LinuxTunFactoryOptions {
  /**
   * "epoll-worker" (default) or "timer" (see readiness.ts), or an existing Readiness to share with
   * other fd users (e.g. the ICMP pinger); a shared one is not closed by the factory.
   */
  readonly readiness?: "epoll-worker" | "timer" | Readiness;
  /** An already loaded libc (tests and the bench share one). */
  readonly libc?: Libc;
  /** Wakeups closer than this switch a device to timer polling at this period; 0 disables. Default 1. */
  readonly busyPollMs?: number;
}

/** The Linux factory can also adopt a tun fd opened by another process (privsep: main opens, the worker runs). */
export interface LinuxTunFactory extends TunFactory {
  /**
   * Wraps an attached tun descriptor received from main (already TUNSETIFF'd and non-blocking: the
   * flags live in the shared open file description). No ioctl is made: the worker may not have
   * CAP_NET_ADMIN, and the device is configured already. The device closes `fd` when closed.
   */
  adoptTun(fd: number, info: { readonly name: string; readonly index: number }): TunDevice;
}

export function createLinuxTunFactory(opts: LinuxTunFactoryOptions = {}): LinuxTunFactory {
  const libc = opts.libc ?? loadLibc();
  const shared = typeof opts.readiness === "object";
  const readiness: Readiness = typeof opts.readiness === "object" ? opts.readiness : createReadiness(libc, opts.readiness ?? "epoll-worker");
  const devices = new Set<LinuxTunDevice>();
  const busyPollMs = readiness.kind === "timer" ? 0 : (opts.busyPollMs ?? 1);
  if (!Number.isFinite(busyPollMs) || busyPollMs < 0) throw new TunError("bad-argument", `busyPollMs ${busyPollMs} is not a non-negative number`);
  const path = cString("/dev/net/tun");
  let closed = false;

  const fail = (fd: number, code: "ioctl-failed", msg: string, call: string): never => {
    const errno = libc.errno();
    libc.fn.close(fd);
    throw new TunError(code, msg, errno, call);
  };

  return {
    openTun(namePattern: string, o: OpenTunOptions = {}): TunDevice {
      if (closed) throw new TunError("closed", "the tun factory is closed");
      const bad = checkInterfaceName(namePattern);
      if (bad !== null) throw new TunError("bad-name", bad);
      const fd = libc.fn.open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC, 0);
      if (fd < 0) throw new TunError("open-failed", "cannot open /dev/net/tun", libc.errno(), "open");

      // struct ifreq: char ifr_name[IFNAMSIZ]; short ifr_flags (union at offset 16).
      const ifr = new Uint8Array(IFREQ_SIZE);
      for (let i = 0; i < namePattern.length; i++) ifr[i] = namePattern.charCodeAt(i);
      const flags = IFF_TUN | IFF_NO_PI | (o.multiQueue === true ? IFF_MULTI_QUEUE : 0);
      new DataView(ifr.buffer).setUint16(IFNAMSIZ, flags, true);
      if (libc.fn.ioctl(fd, TUNSETIFF, ifr) < 0) fail(fd, "ioctl-failed", `cannot create tun device "${namePattern}"`, "TUNSETIFF");
      let end = 0;
      while (end < IFNAMSIZ && ifr[end] !== 0) end++;
      const name = String.fromCharCode(...ifr.subarray(0, end));

      if (libc.fn.ioctl(fd, TUNSETPERSIST, null) < 0) {
        fail(fd, "ioctl-failed", `cannot make ${name} non-persistent`, "TUNSETPERSIST");
      }
      // A number passed as "ptr" travels as the integer argument these ioctls expect.
      if (o.owner !== undefined && libc.fn.ioctl(fd, TUNSETOWNER, o.owner as never) < 0) {
        fail(fd, "ioctl-failed", `cannot set the owner of ${name} to uid ${o.owner}`, "TUNSETOWNER");
      }
      if (o.group !== undefined && libc.fn.ioctl(fd, TUNSETGROUP, o.group as never) < 0) {
        fail(fd, "ioctl-failed", `cannot set the group of ${name} to gid ${o.group}`, "TUNSETGROUP");
      }
      const index = libc.fn.if_nametoindex(cString(name));
      if (index === 0) fail(fd, "ioctl-failed", `cannot find the index of ${name}`, "if_nametoindex");

      const dev = new LinuxTunDevice(libc, readiness, fd, name, index, busyPollMs, (d) => devices.delete(d));
      devices.add(dev);
      return dev;
    },
    adoptTun(fd: number, info: { readonly name: string; readonly index: number }): TunDevice {
      if (closed) throw new TunError("closed", "the tun factory is closed");
      if (!Number.isInteger(fd) || fd < 0) throw new TunError("bad-argument", `${fd} is not a descriptor`);
      const bad = checkInterfaceName(info.name);
      if (bad !== null || info.name.includes("%")) throw new TunError("bad-name", bad ?? `"${info.name}" is a pattern, not a device name`);
      const dev = new LinuxTunDevice(libc, readiness, fd, info.name, info.index, busyPollMs, (d) => devices.delete(d));
      devices.add(dev);
      return dev;
    },
    close(): void {
      if (closed) return;
      closed = true;
      for (const d of [...devices]) d.close();
      if (!shared) readiness.close();
    },
  };
}
