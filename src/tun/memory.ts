// An in-memory TunDevice for unit tests of the tunnel code (after wireguard-go's tuntest): the "kernel
// side" is a pair of queues. inject() plays the kernel routing a packet into the device (what
// readBatch returns); packets the tunnel writes come out of takeWritten()/onWritten. Readiness follows
// the same contract as the Linux device: callbacks are repeated (via setImmediate) until a readBatch
// finds the queue empty, and stop while paused. Bounded like the kernel's txqueuelen: inject() drops
// and returns false when the queue is full.

import { checkInterfaceName, type OpenTunOptions, type TunDevice, type TunFactory } from "./device.ts";
import { TunError } from "./errors.ts";

export interface MemoryTunOptions {
  /** Packets queued for reading before inject() drops (Linux default txqueuelen: 500). */
  readonly queueLength?: number;
  /** Packets accepted by write() before it returns false until takeWritten() drains them. */
  readonly writeCapacity?: number;
}

export class MemoryTun implements TunDevice {
  readonly fd = -1;
  private readonly inbound: Uint8Array[] = [];
  private readonly outbound: Uint8Array[] = [];
  private cb: (() => void) | null = null;
  private paused = false;
  private isClosed = false;
  private drained = false;
  private scheduled = false;
  private readonly queueLength: number;
  private readonly writeCapacity: number;
  /** Called with each written packet (a copy), after it is queued. */
  onWritten: ((packet: Uint8Array) => void) | null = null;

  constructor(
    readonly name: string,
    readonly index: number,
    opts: MemoryTunOptions = {},
    private readonly onClose: (t: MemoryTun) => void = () => {},
  ) {
    this.queueLength = opts.queueLength ?? 500;
    this.writeCapacity = opts.writeCapacity ?? Number.POSITIVE_INFINITY;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** The kernel side: queues a packet for readBatch (copied). False when the queue is full. */
  inject(packet: Uint8Array): boolean {
    if (this.isClosed) throw new TunError("closed", `${this.name} is closed`);
    if (this.inbound.length >= this.queueLength) return false;
    this.inbound.push(packet.slice());
    this.schedule();
    return true;
  }

  /** The kernel side: removes and returns every packet written so far. */
  takeWritten(): Uint8Array[] {
    return this.outbound.splice(0, this.outbound.length);
  }

  /** Packets waiting to be read. */
  get pending(): number {
    return this.inbound.length;
  }

  private schedule(): void {
    if (this.scheduled || this.cb === null || this.paused || this.isClosed || this.inbound.length === 0) return;
    this.scheduled = true;
    setImmediate(() => this.dispatch());
  }

  private dispatch(): void {
    this.scheduled = false;
    const cb = this.cb;
    if (cb === null || this.paused || this.isClosed) return;
    this.drained = false;
    cb();
    if (!this.drained) this.schedule();
    else if (this.inbound.length > 0) this.schedule();
  }

  readBatch(bufs: readonly Uint8Array[], sizes: Int32Array, offset: number): number {
    if (this.isClosed) throw new TunError("closed", `${this.name} is closed`);
    const max = Math.min(bufs.length, sizes.length);
    let n = 0;
    while (n < max) {
      const p = this.inbound[0];
      if (p === undefined) {
        this.drained = true;
        break;
      }
      const buf = bufs[n]!;
      const room = buf.length - offset;
      if (room <= 0 || offset < 0) throw new TunError("bad-buffer", `buffer ${n} has no room after offset ${offset}`);
      this.inbound.shift();
      // Like tun_put_user: a packet longer than the buffer is truncated.
      const len = Math.min(room, p.length);
      buf.set(p.subarray(0, len), offset);
      sizes[n] = len;
      n++;
    }
    return n;
  }

  write(packet: Uint8Array): boolean {
    if (this.isClosed) throw new TunError("closed", `${this.name} is closed`);
    if (this.outbound.length >= this.writeCapacity) return false;
    const copy = packet.slice();
    this.outbound.push(copy);
    this.onWritten?.(copy);
    return true;
  }

  onReadable(cb: (() => void) | null): void {
    this.cb = cb;
    this.schedule();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.schedule();
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.cb = null;
    this.inbound.length = 0;
    this.onClose(this);
  }
}

/** A TunFactory handing out MemoryTuns, expanding "%d" to the lowest unused number as the kernel does. */
export class MemoryTunFactory implements TunFactory {
  private readonly live = new Map<string, MemoryTun>();
  private nextIndex = 100;
  private isClosed = false;

  constructor(private readonly opts: MemoryTunOptions = {}) {}

  /** The devices currently open, by name. */
  get devices(): ReadonlyMap<string, MemoryTun> {
    return this.live;
  }

  openTun(namePattern: string, _opts: OpenTunOptions = {}): MemoryTun {
    if (this.isClosed) throw new TunError("closed", "the tun factory is closed");
    const bad = checkInterfaceName(namePattern);
    if (bad !== null) throw new TunError("bad-name", bad);
    let name = namePattern;
    if (namePattern.includes("%d")) {
      let i = 0;
      while (this.live.has(namePattern.replace("%d", String(i)))) i++;
      name = namePattern.replace("%d", String(i));
      if (name.length > 15) throw new TunError("bad-name", `no free name for "${namePattern}"`);
    } else if (this.live.has(name)) {
      // TUNSETIFF on an existing non-multiqueue tun owned by another fd fails with EBUSY.
      throw new TunError("ioctl-failed", `cannot create tun device "${name}"`, 16, "TUNSETIFF");
    }
    const t = new MemoryTun(name, this.nextIndex++, this.opts, (d) => this.live.delete(d.name));
    this.live.set(name, t);
    return t;
  }

  close(): void {
    this.isClosed = true;
    for (const t of [...this.live.values()]) t.close();
  }
}
