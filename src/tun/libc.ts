// The libc functions src/tun and src/net call through bun:ffi, loaded once per owner (no module-level
// state: whoever needs libc calls loadLibc() and keeps the object).
//
// FFI rules this file and its callers follow (bun-runtime-notes.md §1):
// * ptr(buf) returns a bare number and does NOT keep `buf` alive. Every buffer whose address is passed
//   is either passed as the TypedArray itself, or is held in a field of a long-lived object for as long
//   as the kernel may touch it (only during the call: none of these calls keep the pointer).
// * ssize_t results are declared i32: the values here are < 2 GiB, and -1 survives truncation, which
//   avoids BigInt results on the packet path.
// * errno is read through __errno_location() right after the failing call, on the same thread.

import { dlopen, read as ffiRead, type Pointer } from "bun:ffi";
import { TunError } from "./errors.ts";

const SYMBOLS = {
  open: { args: ["cstring", "i32", "u32"], returns: "i32" },
  close: { args: ["i32"], returns: "i32" },
  read: { args: ["i32", "ptr", "u64"], returns: "i32" },
  write: { args: ["i32", "ptr", "u64"], returns: "i32" },
  // ioctl and fcntl are variadic; the third argument is passed in a register either as a pointer or,
  // for TUNSETPERSIST/TUNSETOWNER and F_SETFL, as a plain integer (a number given as "ptr").
  ioctl: { args: ["i32", "u64", "ptr"], returns: "i32" },
  fcntl: { args: ["i32", "i32", "u64"], returns: "i32" },
  epoll_create1: { args: ["i32"], returns: "i32" },
  epoll_ctl: { args: ["i32", "i32", "i32", "ptr"], returns: "i32" },
  eventfd: { args: ["u32", "i32"], returns: "i32" },
  if_nametoindex: { args: ["cstring"], returns: "u32" },
  socket: { args: ["i32", "i32", "i32"], returns: "i32" },
  bind: { args: ["i32", "ptr", "u32"], returns: "i32" },
  listen: { args: ["i32", "i32"], returns: "i32" },
  getsockname: { args: ["i32", "ptr", "ptr"], returns: "i32" },
  sendto: { args: ["i32", "ptr", "u64", "i32", "ptr", "u32"], returns: "i32" },
  recvfrom: { args: ["i32", "ptr", "u64", "i32", "ptr", "ptr"], returns: "i32" },
  setsockopt: { args: ["i32", "i32", "i32", "ptr", "u32"], returns: "i32" },
  getsockopt: { args: ["i32", "i32", "i32", "ptr", "ptr"], returns: "i32" },
  setns: { args: ["i32", "i32"], returns: "i32" },
  __errno_location: { args: [], returns: "ptr" },
} as const;

export type LibcSymbols = ReturnType<typeof dlopen<typeof SYMBOLS>>["symbols"];

export interface Libc {
  readonly fn: LibcSymbols;
  /** errno of the calling thread (the JS thread), valid right after a call returned -1. */
  errno(): number;
}

// glibc first; "libc.so" is the usual dlopen name on musl (Alpine), see bun-runtime-notes.md §5.
const LIBC_NAMES = ["libc.so.6", "libc.so", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"] as const;

export function loadLibc(): Libc {
  if (process.platform !== "linux") throw new TunError("libc-unavailable", `tun devices need Linux, not ${process.platform}`);
  let lastError: unknown;
  for (const name of LIBC_NAMES) {
    try {
      const lib = dlopen(name, SYMBOLS);
      const fn = lib.symbols;
      // The errno location of this thread never changes, so it is looked up once.
      const loc = fn.__errno_location();
      if (loc === null) throw new Error("__errno_location returned NULL");
      const errnoPtr = Number(loc) as Pointer;
      return { fn, errno: () => ffiRead.i32(errnoPtr, 0) };
    } catch (e) {
      lastError = e;
    }
  }
  throw new TunError("libc-unavailable", `cannot load libc through bun:ffi (${String(lastError)})`);
}

/** A NUL-terminated copy of an ASCII string, for "cstring" arguments. */
export function cString(s: string): Uint8Array {
  const out = new Uint8Array(s.length + 1);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0x7f;
  return out;
}
