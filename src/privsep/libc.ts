// libc calls that privilege separation needs and Bun does not expose, through bun:ffi (Linux, glibc or musl).
//
// Why the glibc wrappers and not raw syscalls: setuid/setgid/setgroups in glibc (and musl) broadcast the
// credential change to every thread of the process (SIGSETXID), whereas the raw syscalls change only the
// calling thread. Bun runs helper threads (GC, thread pool, I/O); a raw setuid would leave them root.
//
// FFI lifetime rule (bun-runtime-notes.md §1): ptr(buf) does not keep `buf` alive. Every buffer whose
// address is written into another buffer (msghdr → iovec → payload, msghdr → cmsg) is held by a local
// that is read again after the call, so it is reachable for the whole call.
import { dlopen, FFIType, ptr, read, type Pointer } from "bun:ffi";

export type LibcErrorCode =
  | "libc-unavailable"
  | "syscall-failed"
  | "would-block"
  | "truncated"
  | "no-such-user"
  | "no-such-group"
  | "bad-argument";

export class LibcError extends Error {
  override readonly name = "LibcError";
  constructor(
    readonly code: LibcErrorCode,
    message: string,
    /** errno of the failed call, when there was one. */
    readonly errno = 0,
  ) {
    super(message);
  }
}

const LIBC_NAMES = ["libc.so.6", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"] as const;

const SYMBOLS = {
  __errno_location: { args: [], returns: FFIType.ptr },
  socketpair: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  sendmsg: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i64 },
  recvmsg: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i64 },
  write: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
  read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
  poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
  fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  setgroups: { args: [FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
  getgroups: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  setgid: { args: [FFIType.u32], returns: FFIType.i32 },
  setuid: { args: [FFIType.u32], returns: FFIType.i32 },
  getuid: { args: [], returns: FFIType.u32 },
  geteuid: { args: [], returns: FFIType.u32 },
  getgid: { args: [], returns: FFIType.u32 },
  getegid: { args: [], returns: FFIType.u32 },
  getpwnam: { args: [FFIType.cstring], returns: FFIType.ptr },
  getgrnam: { args: [FFIType.cstring], returns: FFIType.ptr },
  chroot: { args: [FFIType.cstring], returns: FFIType.i32 },
  chdir: { args: [FFIType.cstring], returns: FFIType.i32 },
  // prctl is variadic in C; five integer arguments is the kernel's fixed form and ABI-safe.
  prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
  setrlimit: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  getrlimit: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
} as const;

function load() {
  for (const name of LIBC_NAMES) {
    try {
      return dlopen(name, SYMBOLS).symbols;
    } catch {
      // try the next name
    }
  }
  return null;
}

/** Loaded once at import; an immutable binding (null when no libc could be opened). */
const libcSymbols = load();

function lib(): NonNullable<typeof libcSymbols> {
  if (libcSymbols === null) throw new LibcError("libc-unavailable", "cannot load libc");
  return libcSymbols;
}

function errno(): number {
  const p = lib().__errno_location();
  return p === null ? 0 : read.i32(p, 0);
}

function fail(call: string): never {
  const e = errno();
  throw new LibcError("syscall-failed", `${call} failed (errno ${e})`, e);
}

function cstr(s: string): Uint8Array {
  if (s.includes("\0")) throw new LibcError("bad-argument", "string contains NUL");
  return new TextEncoder().encode(s + "\0");
}

// Linux constants (asm-generic; identical on x86_64 and aarch64).
const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_SEQPACKET = 5;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const F_DUPFD_CLOEXEC = 1030;
const SCM_RIGHTS = 1;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const MSG_CTRUNC = 0x8;
const MSG_TRUNC = 0x20;
const MSG_CMSG_CLOEXEC = 0x40000000;
export const EAGAIN = 11;
export const EINTR = 4;
export const EPERM = 1;
const POLLIN = 0x1;
const POLLOUT = 0x4;
const PR_SET_DUMPABLE = 4;
const PR_GET_DUMPABLE = 3;
const PR_SET_NO_NEW_PRIVS = 38;
const PR_GET_NO_NEW_PRIVS = 39;
const RLIMIT_NPROC = 6;
const F_GETFD = 1;

// struct msghdr (LP64): name 0, namelen 8, iov 16, iovlen 24, control 32, controllen 40, flags 48; size 56.
const MSGHDR_SIZE = 56;
// struct cmsghdr: cmsg_len (size_t) 0, level 8, type 12, data 16. CMSG_SPACE(sizeof(int)) = 24.
const CMSG_HDR = 16;
const CMSG_SPACE_ONE_FD = 24;
const CMSG_LEN_ONE_FD = CMSG_HDR + 4;

export type SocketKind = "stream" | "seqpacket";

/** socketpair(AF_UNIX, kind | SOCK_CLOEXEC): both ends close-on-exec, so only fds handed over explicitly reach a child. */
export function socketPair(kind: SocketKind): [number, number] {
  const sv = new Int32Array(2);
  const rc = lib().socketpair(AF_UNIX, (kind === "stream" ? SOCK_STREAM : SOCK_SEQPACKET) | SOCK_CLOEXEC, 0, sv);
  if (rc !== 0) fail("socketpair");
  return [sv[0]!, sv[1]!];
}

export function closeFd(fd: number): void {
  // close() errors (EINTR/EIO) leave the fd closed on Linux; nothing useful to do with them.
  lib().close(fd);
}

/** A close-on-exec duplicate of `fd` (fcntl F_DUPFD_CLOEXEC): main hands a copy away and keeps its own. */
export function dupFd(fd: number): number {
  const r = lib().fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (r < 0) fail("fcntl(F_DUPFD_CLOEXEC)");
  return r;
}

/** True if `fd` is an open descriptor of this process. */
export function fdIsOpen(fd: number): boolean {
  return lib().fcntl(fd, F_GETFD, 0) >= 0;
}

/**
 * Reads the buffers after an FFI call whose arguments hold their addresses, so that they are reachable
 * (not collectable) until the call has returned. The sum is checked so the reads cannot be optimised away.
 */
function keepAlive(...bufs: ArrayBufferView[]): void {
  let total = 0;
  for (const b of bufs) total += b.byteLength;
  if (total < 0) throw new Error("unreachable");
}

function pointerOf(buf: Uint8Array): number {
  return buf.length === 0 ? 0 : (ptr(buf) as number);
}

/**
 * Sends one message (one SOCK_SEQPACKET record) with `payload` and, if `fd` is not null, that descriptor
 * as SCM_RIGHTS. Never blocks: a full peer queue is LibcError("would-block"). MSG_NOSIGNAL turns a dead
 * peer into EPIPE instead of SIGPIPE.
 */
export function sendWithFd(sock: number, payload: Uint8Array, fd: number | null): void {
  if (payload.length === 0) throw new LibcError("bad-argument", "sendWithFd needs a non-empty payload");
  const iov = new BigUint64Array(2);
  iov[0] = BigInt(pointerOf(payload));
  iov[1] = BigInt(payload.length);
  const hdr = new Uint8Array(MSGHDR_SIZE);
  const hv = new DataView(hdr.buffer);
  hv.setBigUint64(16, BigInt(ptr(iov) as number), true);
  hv.setBigUint64(24, 1n, true);
  const cmsg = new Uint8Array(CMSG_SPACE_ONE_FD);
  if (fd !== null) {
    const cv = new DataView(cmsg.buffer);
    cv.setBigUint64(0, BigInt(CMSG_LEN_ONE_FD), true);
    cv.setInt32(8, SOL_SOCKET, true);
    cv.setInt32(12, SCM_RIGHTS, true);
    cv.setInt32(16, fd, true);
    hv.setBigUint64(32, BigInt(ptr(cmsg) as number), true);
    hv.setBigUint64(40, BigInt(CMSG_SPACE_ONE_FD), true);
  }
  const n = Number(lib().sendmsg(sock, hdr, MSG_DONTWAIT | MSG_NOSIGNAL));
  keepAlive(payload, iov, cmsg, hdr);
  if (n < 0) {
    const e = errno();
    if (e === EAGAIN) throw new LibcError("would-block", "sendmsg would block", e);
    throw new LibcError("syscall-failed", `sendmsg failed (errno ${e})`, e);
  }
  if (n !== payload.length) throw new LibcError("truncated", `sendmsg sent ${n} of ${payload.length} bytes`);
}

export interface Received {
  readonly payload: Uint8Array;
  /** The descriptor that came with the message (close-on-exec), owned by the caller; null if none. */
  readonly fd: number | null;
}

/**
 * Receives one message from a SOCK_SEQPACKET socket without blocking. Returns null when the queue is
 * empty, and {payload: empty} at end of stream (peer closed). A message longer than `maxPayload` or
 * with more control data than one fd is an error, and any fd it carried is closed.
 */
export function recvWithFd(sock: number, maxPayload: number): Received | null {
  const buf = new Uint8Array(maxPayload + 1);
  const iov = new BigUint64Array(2);
  iov[0] = BigInt(ptr(buf) as number);
  iov[1] = BigInt(buf.length);
  const cmsg = new Uint8Array(CMSG_SPACE_ONE_FD);
  const hdr = new Uint8Array(MSGHDR_SIZE);
  const hv = new DataView(hdr.buffer);
  hv.setBigUint64(16, BigInt(ptr(iov) as number), true);
  hv.setBigUint64(24, 1n, true);
  hv.setBigUint64(32, BigInt(ptr(cmsg) as number), true);
  hv.setBigUint64(40, BigInt(CMSG_SPACE_ONE_FD), true);
  const n = Number(lib().recvmsg(sock, hdr, MSG_DONTWAIT | MSG_CMSG_CLOEXEC));
  keepAlive(buf, iov, cmsg, hdr);
  if (n < 0) {
    const e = errno();
    if (e === EAGAIN) return null;
    throw new LibcError("syscall-failed", `recvmsg failed (errno ${e})`, e);
  }
  const flags = hv.getInt32(48, true);
  const controlLen = Number(hv.getBigUint64(40, true));
  // Collect every descriptor the kernel installed, so that none can leak whatever the sender did
  // (two fds fit in the same 24-byte control buffer without MSG_CTRUNC).
  const fds: number[] = [];
  if (controlLen >= CMSG_HDR) {
    const cv = new DataView(cmsg.buffer);
    const len = Math.min(Number(cv.getBigUint64(0, true)), controlLen);
    if (cv.getInt32(8, true) === SOL_SOCKET && cv.getInt32(12, true) === SCM_RIGHTS) {
      for (let off = CMSG_HDR; off + 4 <= len; off += 4) fds.push(cv.getInt32(off, true));
    }
  }
  if ((flags & (MSG_TRUNC | MSG_CTRUNC)) !== 0 || n > maxPayload || fds.length > 1) {
    for (const f of fds) closeFd(f);
    throw new LibcError("truncated", "received message exceeds the allowed size or fd count");
  }
  const fd = fds[0] ?? null;
  return { payload: buf.slice(0, n), fd };
}

/** poll() on one fd for readability (or writability); false on timeout. Retries EINTR. */
export function waitFd(fd: number, what: "read" | "write", timeoutMs: number): boolean {
  const pfd = new Int32Array(2);
  pfd[0] = fd;
  pfd[1] = what === "read" ? POLLIN : POLLOUT; // events (short) | revents (short) << 16
  for (;;) {
    const rc = lib().poll(pfd, 1n, timeoutMs);
    if (rc > 0) return true;
    if (rc === 0) return false;
    if (errno() !== EINTR) fail("poll");
  }
}

/**
 * Blocking write of all of `data` (the fd must be blocking, or waitFd is used between partial writes).
 * For the worker's synchronous key requests only; never used on event-loop-owned sockets.
 */
export function writeAllBlocking(fd: number, data: Uint8Array, timeoutMs: number): void {
  let off = 0;
  while (off < data.length) {
    const part = data.subarray(off);
    const n = Number(lib().write(fd, part, BigInt(part.length)));
    if (n > 0) {
      off += n;
      continue;
    }
    const e = errno();
    if (n < 0 && e === EINTR) continue;
    if (n < 0 && e === EAGAIN) {
      if (!waitFd(fd, "write", timeoutMs)) throw new LibcError("would-block", "write timed out", e);
      continue;
    }
    throw new LibcError("syscall-failed", `write failed (errno ${e})`, e);
  }
}

/** One read() into `buf`; waits up to `timeoutMs` for readability first. Returns 0 at end of stream. */
export function readBlocking(fd: number, buf: Uint8Array, timeoutMs: number): number {
  for (;;) {
    if (!waitFd(fd, "read", timeoutMs)) throw new LibcError("would-block", "read timed out", EAGAIN);
    const n = Number(lib().read(fd, buf, BigInt(buf.length)));
    if (n >= 0) return n;
    const e = errno();
    if (e !== EINTR && e !== EAGAIN) throw new LibcError("syscall-failed", `read failed (errno ${e})`, e);
  }
}

// ---- identities -------------------------------------------------------------------------------------

export interface Ids {
  readonly uid: number;
  readonly euid: number;
  readonly gid: number;
  readonly egid: number;
  readonly groups: readonly number[];
}

export function currentIds(): Ids {
  const l = lib();
  const n = l.getgroups(0, null);
  if (n < 0) fail("getgroups");
  const groups = new Uint32Array(Math.max(n, 1));
  const m = n === 0 ? 0 : l.getgroups(n, groups);
  if (m < 0) fail("getgroups");
  return { uid: l.getuid(), euid: l.geteuid(), gid: l.getgid(), egid: l.getegid(), groups: [...groups.subarray(0, m)] };
}

/** Resolves a user name with getpwnam (NSS): its uid and primary gid. Must run before chroot. */
export function lookupUser(name: string): { uid: number; gid: number } {
  const p = lib().getpwnam(cstr(name));
  if (p === null) throw new LibcError("no-such-user", `user "${name}" does not exist`);
  // struct passwd (LP64): pw_name 0, pw_passwd 8, pw_uid 16, pw_gid 20.
  return { uid: read.u32(p as Pointer, 16), gid: read.u32(p as Pointer, 20) };
}

/** Resolves a group name with getgrnam (NSS). Must run before chroot. */
export function lookupGroup(name: string): number {
  const p = lib().getgrnam(cstr(name));
  if (p === null) throw new LibcError("no-such-group", `group "${name}" does not exist`);
  // struct group (LP64): gr_name 0, gr_passwd 8, gr_gid 16.
  return read.u32(p as Pointer, 16);
}

export function setGroups(gids: readonly number[]): void {
  const arr = new Uint32Array(gids.length === 0 ? 1 : gids.length);
  arr.set(gids);
  if (lib().setgroups(BigInt(gids.length), arr) !== 0) fail("setgroups");
}

export function setGid(gid: number): void {
  if (lib().setgid(gid) !== 0) fail("setgid");
}

export function setUid(uid: number): void {
  if (lib().setuid(uid) !== 0) fail("setuid");
}

/** setuid() that is expected to fail; returns the errno (0 if it unexpectedly succeeded). */
export function trySetUid(uid: number): number {
  return lib().setuid(uid) === 0 ? 0 : errno();
}

export function chroot(dir: string): void {
  if (lib().chroot(cstr(dir)) !== 0) fail(`chroot(${dir})`);
}

export function chdir(dir: string): void {
  if (lib().chdir(cstr(dir)) !== 0) fail(`chdir(${dir})`);
}

/** PR_SET_NO_NEW_PRIVS: execve can no longer gain privileges (setuid binaries, file caps). Irreversible. */
export function setNoNewPrivs(): void {
  if (lib().prctl(PR_SET_NO_NEW_PRIVS, 1n, 0n, 0n, 0n) !== 0) fail("prctl(PR_SET_NO_NEW_PRIVS)");
}

export function getNoNewPrivs(): boolean {
  return lib().prctl(PR_GET_NO_NEW_PRIVS, 0n, 0n, 0n, 0n) === 1;
}

export function setDumpable(dumpable: boolean): void {
  if (lib().prctl(PR_SET_DUMPABLE, dumpable ? 1n : 0n, 0n, 0n, 0n) !== 0) fail("prctl(PR_SET_DUMPABLE)");
}

export function getDumpable(): boolean {
  return lib().prctl(PR_GET_DUMPABLE, 0n, 0n, 0n, 0n) === 1;
}

/**
 * setrlimit(RLIMIT_NPROC, {0, 0}): this uid may create no more processes *or threads*. Not used by
 * dropPrivileges: Bun creates helper threads lazily and aborts when it cannot (measured: a worker with
 * this limit crashed on its first large allocation). Kept for a future seccomp-less hardening experiment.
 */
export function forbidNewProcesses(): void {
  const lim = new BigUint64Array(2);
  if (lib().setrlimit(RLIMIT_NPROC, lim) !== 0) fail("setrlimit(RLIMIT_NPROC)");
}

export function getNprocLimit(): { soft: bigint; hard: bigint } {
  const lim = new BigUint64Array(2);
  if (lib().getrlimit(RLIMIT_NPROC, lim) !== 0) fail("getrlimit(RLIMIT_NPROC)");
  return { soft: lim[0]!, hard: lim[1]! };
}
