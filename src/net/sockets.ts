// Sockets created through bun:ffi for the options Bun's own APIs lack (bun-runtime-notes.md §3, §4):
// SO_REUSEPORT on UDP (one socket per Worker sharing a port), SO_RCVBUF/SO_SNDBUF (the *FORCE variants
// as root, so net.core.rmem_max does not cap them), IP_MTU_DISCOVER / IPV6_MTU_DISCOVER (DTLS wants DF
// set and EMSGSIZE reported, RFC 6347 §4.1.1.1), and IPV6_V6ONLY. The fd is then adopted with
// `Bun.udpSocket({ fd })` or `Bun.listen({ fd })` (accepted by Bun though absent from its types),
// which takes ownership of it.

import { TunError } from "../tun/errors.ts";
import { parseIp } from "../wire/ip.ts";
import { loadLibc, type Libc } from "../tun/libc.ts";

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const SO_REUSEPORT = 15;
const SO_SNDBUFFORCE = 32;
const SO_RCVBUFFORCE = 33;
const IPPROTO_IP = 0;
const IP_MTU_DISCOVER = 10;
const IPPROTO_IPV6 = 41;
const IPV6_MTU_DISCOVER = 23;
const IPV6_V6ONLY = 26;

/** Values of IP_MTU_DISCOVER / IPV6_MTU_DISCOVER (<linux/in.h> IP_PMTUDISC_*). */
export const PMTUDISC = Object.freeze({ dont: 0, want: 1, do: 2, probe: 3 } as const);
export type PmtuDisc = keyof typeof PMTUDISC;

export interface SocketSpec {
  readonly type: "tcp" | "udp";
  /** Local address; "::" is dual-stack unless v6Only. */
  readonly address: string;
  /** 0 lets the kernel pick. */
  readonly port: number;
  readonly reusePort?: boolean;
  /** SO_REUSEADDR; defaults to true for TCP listeners (restart without TIME_WAIT bind failures). */
  readonly reuseAddr?: boolean;
  readonly receiveBuffer?: number;
  readonly sendBuffer?: number;
  readonly mtuDiscover?: PmtuDisc;
  readonly v6Only?: boolean;
  /** listen() backlog for TCP. */
  readonly backlog?: number;
}

export interface BoundSocket {
  readonly fd: number;
  /** The port actually bound (useful with port 0). */
  readonly port: number;
}

function sockaddr(address: string, port: number): { family: number; sa: Uint8Array } {
  const ip = parseIp(address);
  if (ip === null) throw new TunError("bad-argument", `"${address}" is not an IP address`);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TunError("bad-argument", `port ${port} is not in 0..65535`);
  if (ip.family === 4) {
    // struct sockaddr_in: family (host order), port (network order), address, 8 bytes of zero.
    const sa = new Uint8Array(16);
    const v = new DataView(sa.buffer);
    v.setUint16(0, AF_INET, true);
    v.setUint16(2, port, false);
    sa.set(ip.bytes, 4);
    return { family: AF_INET, sa };
  }
  // struct sockaddr_in6: family, port, flowinfo, address, scope id.
  const sa = new Uint8Array(28);
  const v = new DataView(sa.buffer);
  v.setUint16(0, AF_INET6, true);
  v.setUint16(2, port, false);
  sa.set(ip.bytes, 8);
  return { family: AF_INET6, sa };
}

function setInt(libc: Libc, fd: number, level: number, name: number, value: number, what: string): void {
  const v = new Int32Array([value]);
  if (libc.fn.setsockopt(fd, level, name, v, 4) < 0) {
    throw new TunError("io-failed", `cannot set ${what}`, libc.errno(), "setsockopt");
  }
}

/** Reads an int socket option (e.g. SO_RCVBUF, which Linux reports doubled). */
export function getSocketInt(fd: number, level: number, name: number, libc: Libc = loadLibc()): number {
  const v = new Int32Array(1);
  const len = new Uint32Array([4]);
  if (libc.fn.getsockopt(fd, level, name, v, len) < 0) throw new TunError("io-failed", "cannot read a socket option", libc.errno(), "getsockopt");
  return v[0]!;
}

export const SOCKOPT = Object.freeze({ SOL_SOCKET, SO_RCVBUF, SO_SNDBUF, SO_REUSEPORT, IPPROTO_IP, IP_MTU_DISCOVER, IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_V6ONLY });

/** Creates, configures and binds (and for TCP, listens on) a non-blocking socket; returns its fd. */
export function createBoundSocket(spec: SocketSpec, libc: Libc = loadLibc()): BoundSocket {
  const { family, sa } = sockaddr(spec.address, spec.port);
  const fn = libc.fn;
  const fd = fn.socket(family, (spec.type === "tcp" ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new TunError("io-failed", `cannot create a ${spec.type} socket`, libc.errno(), "socket");
  try {
    if (spec.reuseAddr ?? spec.type === "tcp") setInt(libc, fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
    if (spec.reusePort === true) setInt(libc, fd, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT");
    if (family === AF_INET6 && spec.v6Only !== undefined) setInt(libc, fd, IPPROTO_IPV6, IPV6_V6ONLY, spec.v6Only ? 1 : 0, "IPV6_V6ONLY");
    for (const [size, force, plain, what] of [
      [spec.receiveBuffer, SO_RCVBUFFORCE, SO_RCVBUF, "SO_RCVBUF"],
      [spec.sendBuffer, SO_SNDBUFFORCE, SO_SNDBUF, "SO_SNDBUF"],
    ] as const) {
      if (size === undefined) continue;
      if (!Number.isInteger(size) || size < 1024 || size > 1 << 30) throw new TunError("bad-argument", `${what} ${size} is not in 1024..2^30`);
      // The FORCE variant ignores rmem_max/wmem_max but needs CAP_NET_ADMIN; fall back to the capped one.
      const v = new Int32Array([size]);
      if (fn.setsockopt(fd, SOL_SOCKET, force, v, 4) < 0) setInt(libc, fd, SOL_SOCKET, plain, size, what);
    }
    if (spec.mtuDiscover !== undefined) {
      const v = PMTUDISC[spec.mtuDiscover];
      if (family === AF_INET6) {
        setInt(libc, fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, v, "IPV6_MTU_DISCOVER");
        // A dual-stack socket also carries IPv4 peers, so set the IPv4 option too where allowed.
        const v4 = new Int32Array([v]);
        fn.setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, v4, 4);
      } else {
        setInt(libc, fd, IPPROTO_IP, IP_MTU_DISCOVER, v, "IP_MTU_DISCOVER");
      }
    }
    if (fn.bind(fd, sa, sa.length) < 0) {
      throw new TunError("io-failed", `cannot bind ${spec.type} ${spec.address} port ${spec.port}`, libc.errno(), "bind");
    }
    if (spec.type === "tcp") {
      const backlog = spec.backlog ?? 1024;
      if (fn.listen(fd, backlog) < 0) throw new TunError("io-failed", `cannot listen on ${spec.address} port ${spec.port}`, libc.errno(), "listen");
    }
    const out = new Uint8Array(28);
    const len = new Uint32Array([out.length]);
    if (fn.getsockname(fd, out, len) < 0) throw new TunError("io-failed", "cannot read the bound address", libc.errno(), "getsockname");
    const port = new DataView(out.buffer).getUint16(2, false);
    return { fd, port };
  } catch (e) {
    fn.close(fd);
    throw e;
  }
}
