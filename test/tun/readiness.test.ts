// The readiness designs on their own, with an eventfd standing in for a tun fd (no root needed).

import { afterEach, describe, expect, test } from "bun:test";
import { TunError } from "../../src/tun/errors.ts";
import { loadLibc } from "../../src/tun/libc.ts";
import { createReadiness, EpollWorkerReadiness, type Readiness } from "../../src/tun/readiness.ts";

const libc = loadLibc();
const EFD_NONBLOCK = 0x800;
const EFD_CLOEXEC = 0x80000;

function eventfd() {
  const fd = libc.fn.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  const one = new BigUint64Array([1n]);
  const sink = new BigUint64Array(1);
  return {
    fd,
    signal: () => libc.fn.write(fd, one, 8),
    clear: () => libc.fn.read(fd, sink, 8),
    close: () => libc.fn.close(fd),
  };
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function calls(): { count: number; next: () => Promise<void>; fn: () => void } {
  const state = {
    count: 0,
    waiters: [] as (() => void)[],
  };
  return {
    get count() {
      return state.count;
    },
    next: () => new Promise<void>((r) => state.waiters.push(r)),
    fn: () => {
      state.count++;
      for (const w of state.waiters.splice(0)) w();
    },
  };
}

for (const kind of ["epoll-worker", "timer"] as const) {
  describe(`${kind} readiness`, () => {
    test("reports a readable fd once armed, and not again until re-armed", async () => {
      const r: Readiness = createReadiness(libc, kind);
      const e = eventfd();
      cleanups.push(() => r.close(), e.close);
      const c = calls();
      const w = r.watch(e.fd, c.fn);
      e.signal();
      const first = c.next();
      w.arm();
      await first;
      expect(c.count).toBe(1);
      if (kind === "epoll-worker") {
        // Still readable, but one-shot: no further callback without arm().
        await Bun.sleep(20);
        expect(c.count).toBe(1);
      }
      const second = c.next();
      w.arm();
      await second;
      expect(c.count).toBe(2);
      w.cancel();
    });

    test("makes no callback after cancel()", async () => {
      const r = createReadiness(libc, kind);
      const e = eventfd();
      cleanups.push(() => r.close(), e.close);
      const c = calls();
      const w = r.watch(e.fd, c.fn);
      w.arm();
      w.cancel();
      e.signal();
      await Bun.sleep(20);
      expect(c.count).toBe(0);
    });
  });
}

describe("epoll-worker readiness specifics", () => {
  test("an fd that is not readable gets no callback until it becomes readable", async () => {
    const r = createReadiness(libc, "epoll-worker");
    const e = eventfd();
    cleanups.push(() => r.close(), e.close);
    const c = calls();
    const w = r.watch(e.fd, c.fn);
    w.arm();
    await Bun.sleep(20);
    expect(c.count).toBe(0);
    const got = c.next();
    e.signal();
    await got;
    expect(c.count).toBe(1);
  });

  test("serves many fds from one worker, each reported when it alone becomes readable", async () => {
    const r = createReadiness(libc, "epoll-worker");
    const fds = Array.from({ length: 20 }, () => eventfd());
    cleanups.push(() => r.close(), ...fds.map((f) => f.close));
    const hits = new Array<number>(fds.length).fill(0);
    let total = 0;
    let wake: (() => void) | null = null;
    const watches = fds.map((f, i) =>
      r.watch(f.fd, () => {
        hits[i]!++;
        total++;
        wake?.();
      }),
    );
    for (const w of watches) w.arm();
    for (const i of [3, 17, 0]) fds[i]!.signal();
    while (total < 3) await new Promise<void>((res) => (wake = res));
    await Bun.sleep(10);
    expect(hits.map((h, i) => (h > 0 ? i : -1)).filter((i) => i >= 0)).toEqual([0, 3, 17]);
  });

  test("falls back to timer polling, and says why, when the worker cannot start", async () => {
    const r = new EpollWorkerReadiness(libc, ["no-such-libc.so.99"]);
    const e = eventfd();
    cleanups.push(() => r.close(), e.close);
    const c = calls();
    const w = r.watch(e.fd, c.fn);
    for (let i = 0; i < 200 && r.error === null; i++) await Bun.sleep(5);
    expect(r.error).toBeInstanceOf(TunError);
    expect(r.error?.code).toBe("poller-failed");
    const got = c.next();
    w.arm();
    await got;
    expect(c.count).toBeGreaterThanOrEqual(1);
  });
});
