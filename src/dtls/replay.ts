// RFC 6479 anti-replay window (the shape of wireguard-go's replay.Filter), sized for DTLS record
// sequence numbers (48 bits, exact in a JS number). A ring of 32-bit blocks: moving the window forward
// clears whole blocks instead of shifting bits, so each check and update is O(1) apart from the blocks
// skipped by a jump. RFC 6347 §4.1.2.6: a record is checked before it is authenticated, and the
// window is updated only after authentication, so forged records cannot move it.

const BLOCK_BITS = 32;
const RING_BLOCKS = 64; // a power of two
const BLOCK_MASK = RING_BLOCKS - 1;
/** Sequence numbers this far below the highest accepted one are rejected as too old. */
export const REPLAY_WINDOW_SIZE = (RING_BLOCKS - 1) * BLOCK_BITS;

export class ReplayWindow {
  private readonly ring = new Uint32Array(RING_BLOCKS);
  private highest = -1;

  /** True if `seq` is new and inside the window (nothing is recorded). */
  check(seq: number): boolean {
    if (seq > this.highest) return true;
    if (this.highest - seq >= REPLAY_WINDOW_SIZE) return false;
    const block = Math.floor(seq / BLOCK_BITS) & BLOCK_MASK;
    return (this.ring[block]! & (1 << seq % BLOCK_BITS)) === 0;
  }

  /** Records `seq` as received; call only after the record authenticated and `check` passed. */
  update(seq: number): void {
    const index = Math.floor(seq / BLOCK_BITS);
    if (seq > this.highest) {
      const current = this.highest < 0 ? -1 : Math.floor(this.highest / BLOCK_BITS);
      const diff = Math.min(index - current, RING_BLOCKS);
      for (let i = 1; i <= diff; i++) this.ring[(current + i) & BLOCK_MASK] = 0;
      this.highest = seq;
    }
    this.ring[index & BLOCK_MASK] = this.ring[index & BLOCK_MASK]! | (1 << seq % BLOCK_BITS);
  }

  reset(): void {
    this.ring.fill(0);
    this.highest = -1;
  }
}
