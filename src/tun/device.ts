// The narrow edge between the tunnel code and a tun device (after wireguard-go's tun.Device): packets
// are read in batches into caller-owned pooled buffers at a caller-chosen offset (header room for
// in-place CSTP/DTLS framing and encryption), and written one whole IP packet at a time.
//
// Readiness is edge-style and level-correct: onReadable's callback runs when packets may be waiting;
// the device keeps calling it (yielding to the event loop between calls) until a readBatch() finds the
// queue empty, unless pause() was called. While paused the kernel queue fills and then drops, which is
// the intended backpressure when the peer's socket is congested (the tun's txqueuelen bounds it).

export interface TunDevice {
  /** The kernel's name for the device, read back after creation (e.g. "vpns0"). */
  readonly name: string;
  /** The interface index (for netlink configuration). */
  readonly index: number;
  /** The file descriptor, or -1 for an in-memory device. */
  readonly fd: number;
  readonly closed: boolean;

  /**
   * Reads up to `bufs.length` packets; packet i lands at `bufs[i][offset..]` and its length in
   * `sizes[i]`. Returns how many were read; 0 means none were waiting (EAGAIN). Never blocks.
   * A packet longer than `bufs[i].length - offset` is truncated by the kernel, so buffers must have
   * room for the device MTU; `sizes[i]` then reports the truncated length.
   */
  readBatch(bufs: readonly Uint8Array[], sizes: Int32Array, offset: number): number;

  /** Writes one IP packet. Returns false when the kernel would block (the packet is dropped). */
  write(packet: Uint8Array): boolean;

  /** Sets (or clears, with null) the readiness callback; see the file comment for the contract. */
  onReadable(cb: (() => void) | null): void;
  /** Stops readiness callbacks (backpressure); packets stay queued in the kernel. */
  pause(): void;
  /** Resumes callbacks; fires one soon if packets are already waiting. */
  resume(): void;

  /** Closes the fd; a non-persistent Linux device disappears. Idempotent. */
  close(): void;
}

export interface OpenTunOptions {
  /** TUNSETOWNER: uid allowed to use the device (ocserv's run-as-user). */
  readonly owner?: number;
  /** TUNSETGROUP: gid allowed to use the device (ocserv's run-as-group). */
  readonly group?: number;
  /** IFF_MULTI_QUEUE, for one queue per worker. */
  readonly multiQueue?: boolean;
}

export interface TunFactory {
  /**
   * Creates a tun device from a name pattern such as "vpns%d" (the kernel picks vpns0, vpns1, ...),
   * as ocserv's os_open_tun does (architecture.md §2).
   */
  openTun(namePattern: string, opts?: OpenTunOptions): TunDevice;
  /** Closes every device and the readiness machinery. */
  close(): void;
}

/** Linux IFNAMSIZ is 16 including the terminating NUL. */
export const IFNAMSIZ = 16;

/**
 * Checks an interface name or "%d" pattern as the kernel's dev_valid_name would, plus a conservative
 * character set (ocserv's `device` option ends up here, so the error names the option's value).
 */
export function checkInterfaceName(pattern: string): string | null {
  if (pattern.length === 0) return "the device name is empty";
  // "%d" expands to at least one digit, so the pattern's own length is the minimum name length.
  if (pattern.length > IFNAMSIZ - 1) return `"${pattern}" is longer than ${IFNAMSIZ - 1} bytes`;
  if (pattern === "." || pattern === "..") return `"${pattern}" is not a valid interface name`;
  if (!/^[A-Za-z0-9_.\-]*(%d)?[A-Za-z0-9_.\-]*$/.test(pattern)) {
    return `"${pattern}" has characters other than letters, digits, '_', '.', '-' and one "%d"`;
  }
  return null;
}
