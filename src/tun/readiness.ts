// How the event loop learns that a tun fd has packets, without a thread per device and without
// blocking the loop. Bun cannot poll an arbitrary fd, so (measured in bench/tun.ts):
//
//   epoll-worker: ONE epoll fd holds every tun fd with EPOLLIN|EPOLLONESHOT. One Worker blocks in
//     epoll_wait() and posts the ids of the ready fds (one message per wakeup, a batch of ids, never
//     per packet). The main thread drains each fd with non-blocking read() until EAGAIN and then
//     re-arms it with epoll_ctl(EPOLL_CTL_MOD), which is safe from another thread. ONESHOT means a busy
//     fd costs one message per drain, not per packet; re-arming is level-triggered, so a packet that
//     arrived between the last read and the re-arm is reported at once. Packets never cross threads.
//     The worker is woken for shutdown through an eventfd in the same epoll set, because
//     worker.terminate() does not interrupt a blocking FFI call (bun-runtime-notes.md §1).
//   timer: re-arming schedules a drain with setTimeout(1). Used as the baseline in the bench and as
//     a fallback where Workers are unavailable; it adds about a millisecond of latency per wakeup.

import { dlopen, read as ffiRead } from "bun:ffi";
import { TunError } from "./errors.ts";
import type { Libc } from "./libc.ts";

export interface Watch {
  /** Asks for one callback once the fd is readable (immediately if it already is). */
  arm(): void;
  /** Stops watching; must be called before the fd is closed. */
  cancel(): void;
}

export interface Readiness {
  readonly kind: "epoll-worker" | "timer";
  watch(fd: number, onReady: () => void): Watch;
  close(): void;
}

const EPOLL_CLOEXEC = 0x80000;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EPOLL_CTL_MOD = 3;
const EPOLLIN = 0x001;
const EPOLLONESHOT = 1 << 30;
const EFD_NONBLOCK = 0x800;
const EFD_CLOEXEC = 0x80000;
/** Most ready fds handled per epoll_wait (and per message). */
const MAX_EVENTS = 256;
/** The id reserved for the shutdown eventfd. */
const WAKE_ID = 0;

/** struct epoll_event is packed on x86-64 (12 bytes, data at 4) and naturally aligned elsewhere. */
function epollEventLayout(): { size: number; dataOffset: number } {
  return process.arch === "x64" ? { size: 12, dataOffset: 4 } : { size: 16, dataOffset: 8 };
}

interface WorkerParams {
  readonly epfd: number;
  readonly wakeId: number;
  readonly maxEvents: number;
  readonly evSize: number;
  readonly dataOffset: number;
  readonly libNames: readonly string[];
}

/**
 * The worker's body. It is serialised with Function.prototype.toString() into a blob-URL module (so it
 * survives `bun build --compile` without a second entry point); it must not refer to anything outside
 * its parameters. Posts Int32Array batches of ready ids, {error} on failure, or "stopped".
 */
function epollWorkerMain(dl: typeof dlopen, rd: typeof ffiRead, p: WorkerParams): void {
  const symbols = {
    epoll_wait: { args: ["i32", "ptr", "i32", "i32"], returns: "i32" },
    __errno_location: { args: [], returns: "ptr" },
  } as const;
  let lib: ReturnType<typeof dl<typeof symbols>> | null = null;
  for (const name of p.libNames) {
    try {
      lib = dl(name, symbols);
      break;
    } catch {
      // try the next libc name
    }
  }
  if (lib === null) {
    postMessage({ error: -1 });
    return;
  }
  const errnoPtr = lib.symbols.__errno_location();
  const events = new Uint8Array(p.evSize * p.maxEvents);
  const view = new DataView(events.buffer);
  for (;;) {
    const n = lib.symbols.epoll_wait(p.epfd, events, p.maxEvents, -1);
    if (n < 0) {
      const errno = errnoPtr === null ? -1 : rd.i32(errnoPtr, 0);
      if (errno === 4 /* EINTR */) continue;
      postMessage({ error: errno });
      return;
    }
    let stop = false;
    const ids = new Int32Array(n);
    let k = 0;
    for (let i = 0; i < n; i++) {
      const id = view.getUint32(i * p.evSize + p.dataOffset, true);
      if (id === p.wakeId) stop = true;
      else ids[k++] = id;
    }
    if (k > 0) {
      const batch = k === n ? ids : ids.slice(0, k);
      postMessage(batch, [batch.buffer]);
    }
    if (stop) {
      postMessage("stopped");
      return;
    }
  }
}

interface Entry {
  readonly fd: number;
  readonly onReady: () => void;
}

export class EpollWorkerReadiness implements Readiness {
  readonly kind = "epoll-worker" as const;
  private readonly epfd: number;
  private readonly wakefd: number;
  private readonly worker: Worker;
  private readonly entries = new Map<number, Entry>();
  private nextId = WAKE_ID + 1;
  private closed = false;
  private readonly layout = epollEventLayout();
  /** The struct epoll_event passed to epoll_ctl; a field so it outlives every call (ptr() trap). */
  private readonly ev: Uint8Array;
  private readonly evView: DataView;
  private readonly wakeBuf = new BigUint64Array([1n]);
  private readonly workerUrl: string;
  /** Set when the worker died: watches then degrade to the timer design rather than stall. */
  private failure: TunError | null = null;

  constructor(
    private readonly libc: Libc,
    libNames: readonly string[] = ["libc.so.6", "libc.so", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"],
  ) {
    this.ev = new Uint8Array(this.layout.size);
    this.evView = new DataView(this.ev.buffer);
    const fn = libc.fn;
    this.epfd = fn.epoll_create1(EPOLL_CLOEXEC);
    if (this.epfd < 0) throw new TunError("poller-failed", "cannot create the epoll set", libc.errno(), "epoll_create1");
    this.wakefd = fn.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (this.wakefd < 0) {
      const errno = libc.errno();
      fn.close(this.epfd);
      throw new TunError("poller-failed", "cannot create the wakeup eventfd", errno, "eventfd");
    }
    this.ctl(EPOLL_CTL_ADD, this.wakefd, EPOLLIN, WAKE_ID);
    const params: WorkerParams = {
      epfd: this.epfd,
      wakeId: WAKE_ID,
      maxEvents: MAX_EVENTS,
      evSize: this.layout.size,
      dataOffset: this.layout.dataOffset,
      libNames,
    };
    const source =
      `import { dlopen, read } from "bun:ffi";\n` +
      `(${epollWorkerMain.toString()})(dlopen, read, ${JSON.stringify(params)});\n`;
    const url = URL.createObjectURL(new Blob([source], { type: "application/javascript" }));
    this.workerUrl = url;
    this.worker = new Worker(url);
    // The URL stays valid until close(): the worker loads it asynchronously, and revoking it at once
    // races with that load ("Module not found 'blob:...'").
    this.worker.onmessage = (e: MessageEvent<unknown>) => this.onMessage(e.data);
    this.worker.onerror = (e: ErrorEvent) => this.fail(new TunError("poller-failed", `the epoll worker failed: ${e.message}`));
    // Only registered fds keep the process alive.
    this.worker.unref();
  }

  private ctl(op: number, fd: number, events: number, id: number): number {
    const v = this.evView;
    v.setUint32(0, events >>> 0, true);
    v.setUint32(this.layout.dataOffset, id, true);
    v.setUint32(this.layout.dataOffset + 4, 0, true);
    return this.libc.fn.epoll_ctl(this.epfd, op, fd, this.ev);
  }

  private onMessage(data: unknown): void {
    if (data instanceof Int32Array) {
      for (let i = 0; i < data.length; i++) this.entries.get(data[i]!)?.onReady();
      return;
    }
    if (data === "stopped") {
      this.worker.terminate();
      this.libc.fn.close(this.epfd);
      this.libc.fn.close(this.wakefd);
      URL.revokeObjectURL(this.workerUrl);
      return;
    }
    const errno = typeof data === "object" && data !== null && "error" in data ? Number(data.error) : -1;
    this.fail(new TunError("poller-failed", "the epoll worker stopped", errno, "epoll_wait"));
  }

  /** Why the worker stopped, if it did; the readiness then runs in the slower timer mode. */
  get error(): TunError | null {
    return this.failure;
  }

  private fail(err: TunError): void {
    if (this.failure !== null || this.closed) return;
    this.failure = err;
    // Every armed watch may be waiting for a notice that will never come: poll them all once; from
    // now on arm() schedules a timer (see watch()).
    for (const e of this.entries.values()) setTimeout(e.onReady, 1);
  }

  watch(fd: number, onReady: () => void): Watch {
    if (this.closed) throw new TunError("closed", "the readiness poller is closed");
    const id = this.nextId;
    // Ids are u32 and never reused within a poller's life, so a stale notice for a closed fd (already
    // in flight when it was cancelled) can never reach a new device that got the same fd number.
    this.nextId = this.nextId >= 0x7fff_ffff ? WAKE_ID + 1 : this.nextId + 1;
    // Registered disarmed (events 0 with ONESHOT): the device arms it when it wants a callback.
    if (this.ctl(EPOLL_CTL_ADD, fd, EPOLLONESHOT, id) < 0) {
      throw new TunError("poller-failed", `cannot watch fd ${fd}`, this.libc.errno(), "epoll_ctl(ADD)");
    }
    this.entries.set(id, { fd, onReady });
    if (this.entries.size === 1) this.worker.ref();
    let active = true;
    return {
      arm: () => {
        if (!active) return;
        if (this.failure !== null) {
          setTimeout(() => active && onReady(), 1);
          return;
        }
        if (this.ctl(EPOLL_CTL_MOD, fd, EPOLLIN | EPOLLONESHOT, id) < 0) {
          throw new TunError("poller-failed", `cannot re-arm fd ${fd}`, this.libc.errno(), "epoll_ctl(MOD)");
        }
      },
      cancel: () => {
        if (!active) return;
        active = false;
        this.ctl(EPOLL_CTL_DEL, fd, 0, id);
        this.entries.delete(id);
        if (this.entries.size === 0) this.worker.unref();
      },
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [id, e] of this.entries) {
      this.ctl(EPOLL_CTL_DEL, e.fd, 0, id);
    }
    this.entries.clear();
    if (this.failure !== null) {
      // No worker is waiting on the epoll set any more; release everything now.
      this.worker.terminate();
      this.libc.fn.close(this.epfd);
      this.libc.fn.close(this.wakefd);
      URL.revokeObjectURL(this.workerUrl);
      return;
    }
    // The worker sees the eventfd, posts "stopped", and the fds are closed in onMessage; keep the
    // worker referenced until then so the close completes.
    this.worker.ref();
    if (this.libc.fn.write(this.wakefd, this.wakeBuf, 8) !== 8) {
      // Cannot wake it: terminate takes effect when the worker next returns from epoll_wait.
      this.worker.terminate();
    }
  }
}

export class TimerReadiness implements Readiness {
  readonly kind = "timer" as const;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();

  watch(_fd: number, onReady: () => void): Watch {
    let timer: ReturnType<typeof setTimeout> | null = null;
    let active = true;
    const fire = () => {
      if (timer !== null) this.timers.delete(timer);
      timer = null;
      if (active) onReady();
    };
    return {
      arm: () => {
        if (!active || timer !== null) return;
        timer = setTimeout(fire, 1);
        this.timers.add(timer);
      },
      cancel: () => {
        active = false;
        if (timer !== null) {
          clearTimeout(timer);
          this.timers.delete(timer);
          timer = null;
        }
      },
    };
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}


/** The readiness design for fds watched from the main thread; "epoll-worker" unless told otherwise. */
export function createReadiness(libc: Libc, kind: "epoll-worker" | "timer" = "epoll-worker"): Readiness {
  return kind === "timer" ? new TimerReadiness() : new EpollWorkerReadiness(libc);
}
