// One error type for everything under src/tun: a closed set of codes, each naming what failed, plus the
// errno the kernel returned (when there was one) and the call that returned it.

export type TunErrorCode =
  /** libc could not be loaded through bun:ffi (not Linux, or an unknown libc name). */
  | "libc-unavailable"
  /** The interface name or pattern is not a valid Linux interface name (IFNAMSIZ, characters). */
  | "bad-name"
  /** open("/dev/net/tun") failed (module not loaded, no permission). */
  | "open-failed"
  /** An ioctl on the tun fd failed (TUNSETIFF name clash, EPERM for TUNSETOWNER, ...). */
  | "ioctl-failed"
  /** read() or write() on the tun fd failed with something other than EAGAIN. */
  | "io-failed"
  /** The device was used after close(). */
  | "closed"
  /** epoll/eventfd setup or control failed. */
  | "poller-failed"
  /** A packet does not fit the buffer space given to readBatch. */
  | "bad-buffer"
  /** The kernel answered a netlink request with NLMSG_ERROR (errno set). */
  | "netlink-rejected"
  /** A netlink socket operation failed or timed out, or the reply was malformed. */
  | "netlink-failed"
  /** An address, prefix or MTU given to the configuration API is not valid. */
  | "bad-argument";

export class TunError extends Error {
  override readonly name = "TunError";
  constructor(
    readonly code: TunErrorCode,
    message: string,
    /** errno from the failing call, 0 when none. */
    readonly errno = 0,
    /** The syscall or netlink request that failed, for logs. */
    readonly call = "",
  ) {
    super(errno !== 0 ? `${message}: ${call} failed (${errnoName(errno)})` : message);
  }
}

// The few errno values this code reacts to or that users commonly hit; others print as numbers.
export const EPERM = 1;
export const ENOENT = 2;
export const EINTR = 4;
export const EIO = 5;
export const EBADF = 9;
export const EAGAIN = 11;
export const EACCES = 13;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENODEV = 19;
export const EINVAL = 22;
export const EADDRNOTAVAIL = 99;
export const ESRCH = 3;

const NAMES: Readonly<Record<number, string>> = Object.freeze({
  1: "EPERM",
  2: "ENOENT",
  3: "ESRCH",
  4: "EINTR",
  5: "EIO",
  9: "EBADF",
  11: "EAGAIN",
  13: "EACCES",
  16: "EBUSY",
  17: "EEXIST",
  19: "ENODEV",
  22: "EINVAL",
  24: "EMFILE",
  90: "EMSGSIZE",
  93: "EPROTONOSUPPORT",
  95: "EOPNOTSUPP",
  98: "EADDRINUSE",
  99: "EADDRNOTAVAIL",
  101: "ENETUNREACH",
  110: "ETIMEDOUT",
});

export function errnoName(errno: number): string {
  return NAMES[errno] ?? `errno ${errno}`;
}
