// net-priority and output-buffer on an accepted TCP connection (config-options.md §2.5; ocserv's worker
// calls set_net_priority() and sets SO_SNDBUF on its connection fd at CONNECT).
//
// Bun does not expose the fd of a socket it accepted, so the fd is found by its addresses: every fd
// under /proc/self/fd is asked getsockname(); the TCP one whose local address and port match, and whose
// getpeername() matches the peer, is the connection. getsockname() on each fd answers "is it a socket"
// (ENOTSOCK otherwise) in the same single syscall a readlink("socket:[inode]") would cost, so no readlink.
// The walk is O(open fds) and runs only for sessions whose settings are not the defaults.
//
// FFI rules (bun-runtime-notes.md §1): the sockaddr and length buffers are fields of the long-lived
// SocketOptions object and are passed as TypedArrays (not ptr() numbers), so they stay alive for the call.

import { dlopen, read as ffiRead, type Pointer } from "bun:ffi";
import { readdirSync } from "node:fs";
import type { NetPriority } from "../config/types.ts";
import { parseIp } from "../wire/ip.ts";
import type { SocketTuner } from "../server/tunnel/manager.ts";
import type { TunnelTransport } from "../server/contract.ts";

const AF_INET = 2;
const AF_INET6 = 10;
const SOL_SOCKET = 1;
const SO_TYPE = 3;
const SO_SNDBUF = 7;
const SO_PRIORITY = 12;
const SOCK_STREAM = 1;
const IPPROTO_IP = 0;
const IP_TOS = 1;
const IPPROTO_IPV6 = 41;
const IPV6_TCLASS = 67;
/** sizeof(struct sockaddr_storage). */
const SOCKADDR_STORAGE = 128;

const SYMBOLS = {
  getsockname: { args: ["i32", "ptr", "ptr"], returns: "i32" },
  getpeername: { args: ["i32", "ptr", "ptr"], returns: "i32" },
  setsockopt: { args: ["i32", "i32", "i32", "ptr", "u32"], returns: "i32" },
  getsockopt: { args: ["i32", "i32", "i32", "ptr", "ptr"], returns: "i32" },
  __errno_location: { args: [], returns: "ptr" },
} as const;

// glibc first; "libc.so" is the usual name on musl (bun-runtime-notes.md §5).
const LIBC_NAMES = ["libc.so.6", "libc.so", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"] as const;

export type SockoptErrorCode =
  /** libc could not be loaded (not Linux, or no libc found). */
  | "libc-unavailable"
  /** An address given to findTcpSocketFd is not an IP address. */
  | "bad-address"
  /** No fd of this process is the TCP connection with these addresses (or /proc is not mounted). */
  | "not-found"
  /** setsockopt() or getsockopt() failed; `errno` holds the reason. */
  | "sockopt-failed";

export class SockoptError extends Error {
  override readonly name = "SockoptError";
  constructor(
    readonly code: SockoptErrorCode,
    message: string,
    readonly errno: number = 0,
  ) {
    super(message);
  }
}

export interface SocketAddress {
  readonly address: string;
  readonly port: number;
}

/** The 16-byte form of an address: IPv4 as ::ffff:a.b.c.d, so v4, v6 and v4-mapped compare alike. */
function mapped(address: string): Uint8Array | null {
  // A zone ("fe80::1%eth0") does not take part in the match; the port pair is specific enough.
  const pct = address.indexOf("%");
  const ip = parseIp(pct >= 0 ? address.slice(0, pct) : address);
  if (ip === null) return null;
  if (ip.family === 6) return ip.bytes;
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out.set(ip.bytes, 12);
  return out;
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/**
 * libc socket-option calls for connections Bun accepted. Create one per process (it loads libc and
 * compiles the FFI stubs) and keep it; it holds no per-connection state.
 */
export class SocketOptions implements SocketTuner {
  private readonly fn: ReturnType<typeof dlopen<typeof SYMBOLS>>["symbols"];
  private readonly errnoPtr: Pointer;
  private readonly sa = new Uint8Array(SOCKADDR_STORAGE);
  private readonly saView = new DataView(this.sa.buffer);
  private readonly len = new Uint32Array(1);
  private readonly int = new Int32Array(1);

  constructor() {
    if (process.platform !== "linux") throw new SockoptError("libc-unavailable", `socket options need Linux, not ${process.platform}`);
    let lastError: unknown = null;
    for (const name of LIBC_NAMES) {
      try {
        const fn = dlopen(name, SYMBOLS).symbols;
        const loc = fn.__errno_location();
        if (loc === null) throw new Error("__errno_location returned NULL");
        this.fn = fn;
        this.errnoPtr = Number(loc) as Pointer;
        return;
      } catch (e) {
        lastError = e;
      }
    }
    throw new SockoptError("libc-unavailable", `cannot load libc: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
  }

  private errno(): number {
    return ffiRead.i32(this.errnoPtr, 0);
  }

  /**
   * The fd of this process's TCP connection with these local and remote addresses, or null. Addresses
   * may be IPv4, IPv6 or v4-mapped ("::ffff:1.2.3.4") on either side, and match a socket of either family.
   */
  findTcpSocketFd(local: SocketAddress, remote: SocketAddress): number | null {
    const wantLocal = mapped(local.address);
    const wantRemote = mapped(remote.address);
    if (wantLocal === null) throw new SockoptError("bad-address", `'${local.address}' is not an IP address`);
    if (wantRemote === null) throw new SockoptError("bad-address", `'${remote.address}' is not an IP address`);
    let names: string[];
    try {
      names = readdirSync("/proc/self/fd");
    } catch {
      return null;
    }
    for (const name of names) {
      const fd = Number(name);
      if (!Number.isInteger(fd) || fd < 0) continue;
      if (!this.addressIs(fd, "local", wantLocal, local.port)) continue;
      if (!this.addressIs(fd, "peer", wantRemote, remote.port)) continue;
      if (this.getInt(fd, SOL_SOCKET, SO_TYPE) !== SOCK_STREAM) continue;
      return fd;
    }
    return null;
  }

  /** The family of the socket (AF_INET or AF_INET6) and whether its peer is an IPv4 (or v4-mapped) address. */
  private peerIsIpv4(fd: number): boolean {
    this.len[0] = SOCKADDR_STORAGE;
    if (this.fn.getpeername(fd, this.sa, this.len) !== 0) throw new SockoptError("sockopt-failed", `getpeername(${fd}) failed`, this.errno());
    const family = this.saView.getUint16(0, true);
    return family === AF_INET || (family === AF_INET6 && isV4Mapped(this.sa.subarray(8, 24)));
  }

  private addressIs(fd: number, which: "local" | "peer", want: Uint8Array, port: number): boolean {
    this.len[0] = SOCKADDR_STORAGE;
    const rc = which === "local" ? this.fn.getsockname(fd, this.sa, this.len) : this.fn.getpeername(fd, this.sa, this.len);
    if (rc !== 0) return false; // ENOTSOCK, or ENOTCONN for a listener
    const family = this.saView.getUint16(0, true);
    // sin_port / sin6_port are in network byte order (RFC 3493 §3.3).
    if (this.saView.getUint16(2, false) !== port) return false;
    if (family === AF_INET) {
      if (!isV4Mapped(want)) return false;
      for (let i = 0; i < 4; i++) if (this.sa[4 + i] !== want[12 + i]) return false;
      return true;
    }
    if (family === AF_INET6) {
      for (let i = 0; i < 16; i++) if (this.sa[8 + i] !== want[i]) return false;
      return true;
    }
    return false;
  }

  /**
   * net-priority: a priority 0–6 is SO_PRIORITY (ocserv stores value+1 and sets value); a TOS byte is
   * IP_TOS, or IPV6_TCLASS when the peer is a real IPv6 address (an AF_INET6 socket talking to a
   * v4-mapped peer sends IPv4 packets, whose TOS comes from IP_TOS).
   */
  setPriority(fd: number, p: NetPriority): void {
    switch (p.kind) {
      case "priority":
        this.setInt(fd, SOL_SOCKET, SO_PRIORITY, p.value, "SO_PRIORITY");
        return;
      case "tos":
        if (this.peerIsIpv4(fd)) this.setInt(fd, IPPROTO_IP, IP_TOS, p.value, "IP_TOS");
        else this.setInt(fd, IPPROTO_IPV6, IPV6_TCLASS, p.value, "IPV6_TCLASS");
        return;
      default: {
        const never: never = p;
        return never;
      }
    }
  }

  /** SO_SNDBUF (the kernel doubles the value for its bookkeeping: getsockopt reads back 2 × bytes). */
  setSendBuffer(fd: number, bytes: number): void {
    if (!Number.isInteger(bytes) || bytes <= 0 || bytes > 0x7fffffff) throw new SockoptError("sockopt-failed", `SO_SNDBUF ${bytes}: not a positive 32-bit size`);
    this.setInt(fd, SOL_SOCKET, SO_SNDBUF, bytes, "SO_SNDBUF");
  }

  /** getsockopt() of an int option. */
  getInt(fd: number, level: number, option: number): number {
    this.len[0] = 4;
    this.int[0] = 0;
    if (this.fn.getsockopt(fd, level, option, this.int, this.len) !== 0) {
      throw new SockoptError("sockopt-failed", `getsockopt(${fd}, ${level}, ${option}) failed`, this.errno());
    }
    return this.int[0]!;
  }

  private setInt(fd: number, level: number, option: number, value: number, name: string): void {
    this.int[0] = value;
    if (this.fn.setsockopt(fd, level, option, this.int, 4) !== 0) {
      const errno = this.errno();
      throw new SockoptError("sockopt-failed", `setsockopt(${name} = ${value}) failed (errno ${errno})`, errno);
    }
  }

  /** The manager's hook: finds the connection's fd and applies what is set. Throws SockoptError. */
  apply(transport: TunnelTransport, opts: { readonly priority: NetPriority | null; readonly sendBuffer: number }): void {
    if (transport.localPort === undefined) throw new SockoptError("not-found", "the transport does not report its local port");
    const fd = this.findTcpSocketFd(
      { address: transport.localAddress, port: transport.localPort },
      { address: transport.remoteAddress, port: transport.remotePort },
    );
    if (fd === null) {
      throw new SockoptError("not-found", `no TCP socket ${transport.localAddress}:${transport.localPort} <-> ${transport.remoteAddress}:${transport.remotePort} among this process's fds`);
    }
    if (opts.priority !== null) this.setPriority(fd, opts.priority);
    if (opts.sendBuffer > 0) this.setSendBuffer(fd, opts.sendBuffer);
  }
}

/** Socket option numbers, for tests and callers reading values back with getInt(). */
export const SOCKOPT_NUMBERS = Object.freeze({ SOL_SOCKET, SO_SNDBUF, SO_PRIORITY, SO_TYPE, IPPROTO_IP, IP_TOS, IPPROTO_IPV6, IPV6_TCLASS } as const);
