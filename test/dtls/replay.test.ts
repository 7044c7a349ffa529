import { test, expect, describe } from "bun:test";
import { ReplayWindow, REPLAY_WINDOW_SIZE } from "../../src/dtls/replay.ts";

function accept(w: ReplayWindow, seq: number): boolean {
  if (!w.check(seq)) return false;
  w.update(seq);
  return true;
}

describe("RFC 6479 replay window", () => {
  test("accepts each sequence number once, in any order inside the window", () => {
    const w = new ReplayWindow();
    for (const s of [0, 5, 3, 4, 1, 2, 100, 99, 64, 63]) expect(accept(w, s)).toBe(true);
    for (const s of [0, 5, 3, 4, 1, 2, 100, 99, 64, 63]) expect(accept(w, s)).toBe(false);
  });

  test("rejects numbers that fell out of the window after a jump", () => {
    const w = new ReplayWindow();
    expect(accept(w, 10)).toBe(true);
    expect(accept(w, 10 + REPLAY_WINDOW_SIZE + 50)).toBe(true);
    expect(accept(w, 11)).toBe(false); // never seen, but too old
    expect(accept(w, 10 + REPLAY_WINDOW_SIZE + 49)).toBe(true);
  });

  test("a jump larger than the ring clears stale bits so old positions read as unseen", () => {
    const w = new ReplayWindow();
    for (let s = 0; s < 100; s++) accept(w, s);
    const far = 1_000_000;
    expect(accept(w, far)).toBe(true);
    // same ring slots as 0..99, but these are new numbers inside the window
    const base = far - (far % 2048) + 50; // ring position of the old 50, inside the window
    expect(w.check(base)).toBe(true);
    expect(accept(w, far - 1)).toBe(true);
  });

  test("works for 48-bit sequence numbers beyond 2^32", () => {
    const w = new ReplayWindow();
    const big = 2 ** 47 + 12345;
    expect(accept(w, big)).toBe(true);
    expect(accept(w, big)).toBe(false);
    expect(accept(w, big - 1)).toBe(true);
    expect(accept(w, big + 33)).toBe(true);
    expect(accept(w, big - 1)).toBe(false);
  });

  test("check alone does not record: a forged record cannot burn a sequence number", () => {
    const w = new ReplayWindow();
    expect(w.check(7)).toBe(true);
    expect(w.check(7)).toBe(true);
    w.update(7);
    expect(w.check(7)).toBe(false);
  });
});
