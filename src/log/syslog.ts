// The syslog sink: libc openlog/syslog through bun:ffi, as ocserv logs (ident "ocserv", LOG_PID).
// syslog(3) sends one datagram to /dev/log; with no syslog daemon listening glibc drops it silently,
// which is what we want from a server (no LOG_CONS: never write to the console).
//
// The message is always passed as the argument of a constant "%s" format, never as the format itself,
// so a '%' in a username or a header cannot become a format-string attack.
//
// ptr() lifetime: bun:ffi's ptr() does not keep a buffer alive (bun-runtime-notes.md, gotcha 1), and
// openlog() keeps the ident pointer for the life of the process. So the ident, the format and the message
// buffer are fields of the sink object, which the logger holds until close().
import { dlopen, FFIType, ptr, type Pointer } from "bun:ffi";
import type { LogSink, Severity } from "./types.ts";

/** <syslog.h> priorities. */
const LOG_ERR = 3;
const LOG_WARNING = 4;
const LOG_INFO = 6;
const LOG_DEBUG = 7;
const LOG_PID = 0x01;
const LOG_NDELAY = 0x08;

const PRIORITY: Readonly<Record<Severity, number>> = Object.freeze({
  error: LOG_ERR, warn: LOG_WARNING, info: LOG_INFO, debug: LOG_DEBUG, trace: LOG_DEBUG,
});

/** Longest message passed to syslog(); the rest is cut (syslog datagrams are bounded anyway). */
const MAX_MESSAGE = 4096;

/** glibc first; the musl names for a musl build of the binary (bun-runtime-notes.md §5). */
const LIBC_NAMES = ["libc.so.6", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"] as const;

function openLibc() {
  const symbols = {
    openlog: { args: [FFIType.ptr, FFIType.i32, FFIType.i32], returns: FFIType.void },
    // Variadic in C; with integer/pointer arguments only, the fixed-argument call is ABI-compatible on
    // x86-64 and arm64 Linux.
    syslog: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.void },
    closelog: { args: [], returns: FFIType.void },
  } as const;
  let lastError: unknown = null;
  for (const name of LIBC_NAMES) {
    try {
      return dlopen(name, symbols);
    } catch (e) {
      lastError = e;
    }
  }
  throw new SyslogError("libc-unavailable", `cannot load libc for syslog: ${String(lastError)}`);
}

export class SyslogError extends Error {
  constructor(readonly code: "libc-unavailable", message: string) {
    super(message);
    this.name = "SyslogError";
  }
}

/** `facility` is the shifted <syslog.h> code (SYSLOG_FACILITY_CODES in src/process/argv.ts). */
export function createSyslogSink(ident: string, facility: number): LogSink {
  const lib = openLibc();
  const encoder = new TextEncoder();
  // NUL-terminated C strings, kept referenced by this closure for as long as the sink lives.
  const identBuf = encoder.encode(`${ident}\0`);
  const formatBuf = encoder.encode("%s\0");
  const messageBuf = new Uint8Array(MAX_MESSAGE + 1);
  const identPtr: Pointer = ptr(identBuf);
  const formatPtr: Pointer = ptr(formatBuf);
  const messagePtr: Pointer = ptr(messageBuf);
  lib.symbols.openlog(identPtr, LOG_PID | LOG_NDELAY, facility);
  let open = true;
  return {
    write(severity: Severity, line: string): void {
      if (!open) return;
      const { written } = encoder.encodeInto(line, messageBuf.subarray(0, MAX_MESSAGE));
      messageBuf[written] = 0;
      lib.symbols.syslog(facility | PRIORITY[severity], formatPtr, messagePtr);
    },
    close(): void {
      if (!open) return;
      open = false;
      lib.symbols.closelog();
      lib.close();
      // Keep the buffers reachable until after closelog(): glibc may still hold identPtr until then.
      void identBuf.length;
    },
  };
}
