// prctl(PR_SET_DUMPABLE) through bun:ffi. ocserv makes itself non-dumpable unless -x/--traceable is given,
// so that an unprivileged user cannot ptrace the server or read a core file holding keys and cookies.
import { dlopen, FFIType } from "bun:ffi";

const PR_SET_DUMPABLE = 4;
const PR_GET_DUMPABLE = 3;
const LIBC_NAMES = ["libc.so.6", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"] as const;

export class LibcError extends Error {
  constructor(readonly code: "libc-unavailable" | "prctl-failed", message: string) {
    super(message);
    this.name = "LibcError";
  }
}

function openPrctl() {
  for (const name of LIBC_NAMES) {
    try {
      // prctl is variadic in C; five integer arguments is the kernel's fixed form and ABI-safe.
      return dlopen(name, {
        prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
      });
    } catch {
      // try the next name
    }
  }
  throw new LibcError("libc-unavailable", "cannot load libc for prctl");
}

/** Sets whether the process may be traced and dumped; returns the value read back. */
export function setDumpable(dumpable: boolean): boolean {
  const lib = openPrctl();
  try {
    const rc = lib.symbols.prctl(PR_SET_DUMPABLE, dumpable ? 1n : 0n, 0n, 0n, 0n);
    if (rc !== 0) throw new LibcError("prctl-failed", `prctl(PR_SET_DUMPABLE) returned ${rc}`);
    return lib.symbols.prctl(PR_GET_DUMPABLE, 0n, 0n, 0n, 0n) === 1;
  } finally {
    lib.close();
  }
}
