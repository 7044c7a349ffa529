// A UDP endpoint that owns an FFI-made socket fd and moves datagrams in batches: recvmmsg() to receive
// and sendmmsg() to send, both MSG_DONTWAIT, through bun:ffi. It has the same surface as openUdp()
// (UdpEndpoint / UdpHandler), so the DTLS service can use either.
//
// Why not Bun.udpSocket: Bun's receive path costs about 1.8 µs of CPU per datagram (one JS callback and
// one new buffer each), which made DTLS upload cost ~1.7× ocserv's CPU per Gbit. Bun has no way to stop
// reading a socket it adopted (udp.Socket has no pause(); its loop polls the fd and calls recvmmsg
// itself), and a second socket on the same port would need SO_REUSEPORT and would get a share of the
// incoming datagrams. So the fd is never given to Bun: both directions go through FFI on the one socket,
// which also keeps every datagram delivered exactly once and the source port of replies unchanged.
//
// Receive: the tun reader's design (src/tun/readiness.ts, src/tun/linux.ts). An epoll Worker reports
// readiness (one-shot); the main thread calls recvmmsg(fd, msgvec, 32, MSG_DONTWAIT) into buffers built
// once, repeats until EAGAIN or a bound per wakeup (then yields with setImmediate so other I/O runs),
// and re-arms. Peer addresses are turned into strings through a cache keyed by the raw sockaddr bytes,
// so a known peer costs no string per datagram.
//
// Send: queue() collects, flush() issues sendmmsg over preallocated mmsghdr/iovec/sockaddr arrays (the
// iovecs point at the caller's buffers, which must stay unchanged until flush() returns, as with
// openUdp). A refused datagram (EMSGSIZE under IP_PMTUDISC_DO, ENETUNREACH, ...) is reported through
// sendFailed and skipped; under backpressure (EAGAIN) the rest is copied to a bounded retry queue that a
// 1 ms timer retries (readiness here is only for reading).
//
// FFI lifetime (bun-runtime-notes.md §1): every buffer whose address is written into a struct is held
// in a field of the endpoint for its whole life; caller buffers are referenced only during flush().

import { dlopen, ptr, read as ffiRead, type Pointer } from "bun:ffi";
import { TunError } from "../tun/errors.ts";
import { loadLibc, type Libc } from "../tun/libc.ts";
import { createReadiness, type Readiness, type Watch } from "../tun/readiness.ts";
import { formatIpv4, formatIpv6, parseIp } from "../wire/ip.ts";
import { NetError } from "./errors.ts";
import type { UdpEndpoint, UdpHandler } from "./udp.ts";

const AF_INET = 2;
const AF_INET6 = 10;
const MSG_DONTWAIT = 0x40;
/** msg_flags: the datagram was longer than the buffer. */
const MSG_TRUNC = 0x20;
const EINTR = 4;
const EAGAIN = 11;
/** Errno values a UDP send can report for one datagram, by name (as Bun's err.code spells them). */
const SEND_ERRNO: Readonly<Record<number, string>> = {
  1: "EPERM",
  13: "EACCES",
  22: "EINVAL",
  90: "EMSGSIZE",
  97: "EAFNOSUPPORT",
  99: "EADDRNOTAVAIL",
  101: "ENETUNREACH",
  111: "ECONNREFUSED",
  113: "EHOSTUNREACH",
};
/** Receive errors that concern one peer (a queued ICMP error), not the socket. */
const RECV_TRANSIENT = new Set([111 /* ECONNREFUSED */, 113 /* EHOSTUNREACH */, 101 /* ENETUNREACH */, 90 /* EMSGSIZE */, 12 /* ENOMEM */, 105 /* ENOBUFS */]);

/** 64-bit Linux layouts (x86-64 and aarch64 agree): struct iovec, struct msghdr, struct mmsghdr. */
const IOVEC = 16;
const MSGHDR = 56;
const MMSGHDR = 64;
const SOCKADDR = 28; // sizeof(struct sockaddr_in6); a sockaddr_in (16) fits.
/** Datagrams per recvmmsg / sendmmsg call. */
export const BATCH = 32;
/** recvmmsg calls per wakeup before yielding to other I/O. */
const ROUNDS = 8;
/** Receive buffer per datagram: the largest UDP payload, so nothing is ever truncated. */
const SLOT = 65536;
/** Peer address strings kept (bounded: spoofed sources cannot grow it without limit). */
const ADDR_CACHE_MAX = 4096;

const SYMBOLS = {
  recvmmsg: { args: ["i32", "ptr", "u32", "i32", "ptr"], returns: "i32" },
  sendmmsg: { args: ["i32", "ptr", "u32", "i32"], returns: "i32" },
  __errno_location: { args: [], returns: "ptr" },
} as const;
const LIBC_NAMES = ["libc.so.6", "libc.so", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"] as const;

function loadMmsg(): { fn: ReturnType<typeof dlopen<typeof SYMBOLS>>["symbols"]; errno: () => number } {
  let last: unknown;
  for (const name of LIBC_NAMES) {
    try {
      const fn = dlopen(name, SYMBOLS).symbols;
      const loc = fn.__errno_location();
      if (loc === null) throw new Error("__errno_location returned NULL");
      const p = Number(loc) as Pointer;
      return { fn, errno: () => ffiRead.i32(p, 0) };
    } catch (e) {
      last = e;
    }
  }
  throw new TunError("libc-unavailable", `cannot load recvmmsg/sendmmsg through bun:ffi (${String(last)})`);
}

/** Writes a pointer (a number from ptr()) as a little-endian u64 without a BigInt. */
function setPtr(v: DataView, off: number, p: number): void {
  v.setUint32(off, p >>> 0, true);
  v.setUint32(off + 4, Math.floor(p / 0x1_0000_0000), true);
}

/** A cached peer address: the raw bytes it was made from and its text. */
interface AddrEntry {
  readonly fam: number;
  readonly w0: number;
  readonly w1: number;
  readonly w2: number;
  readonly w3: number;
  readonly text: string;
}

/** A destination's sockaddr bytes (port not set), by the address text callers pass to queue(). */
interface DestEntry {
  readonly family: number;
  readonly sa: Uint8Array;
}

export interface BatchUdpOptions {
  /** A bound, non-blocking UDP socket (createBoundSocket); the endpoint owns it and closes it. */
  readonly fd: number;
  /** Datagrams kept for retry after backpressure (default 1024). */
  readonly maxRetry?: number;
  /** A shared libc / readiness (tests); by default one of each is made and owned. */
  readonly libc?: Libc;
  readonly readiness?: Readiness;
}

export interface BatchUdpEndpoint extends UdpEndpoint {
  /** Datagrams received so far (for tests and stats). */
  readonly received: number;
}

class BatchUdp implements BatchUdpEndpoint {
  readonly port: number;
  readonly hostname: string;
  private readonly family: number;
  private fd: number;
  private readonly mm = loadMmsg();
  private readonly ownReadiness: boolean;
  private readonly readiness: Readiness;
  private readonly watch: Watch;
  // Receive side: built once, addresses written once (the buffers are fields: ptr() lifetime).
  private readonly rxData = new Uint8Array(SLOT * BATCH);
  private readonly rxNames = new Uint8Array(SOCKADDR * BATCH);
  private readonly rxNamesView = new DataView(this.rxNames.buffer);
  private readonly rxIov = new Uint8Array(IOVEC * BATCH);
  private readonly rxVec = new Uint8Array(MMSGHDR * BATCH);
  private readonly rxVecView = new DataView(this.rxVec.buffer);
  private readonly addrCache = new Map<number, AddrEntry>();
  // Send side: the mmsghdr array and the per-slot sockaddrs are fixed; iov bases change per flush.
  private readonly txNames = new Uint8Array(SOCKADDR * BATCH);
  private readonly txIov = new Uint8Array(IOVEC * BATCH);
  private readonly txIovView = new DataView(this.txIov.buffer);
  private readonly txVec = new Uint8Array(MMSGHDR * BATCH);
  private readonly txVecView = new DataView(this.txVec.buffer);
  private readonly destCache = new Map<string, DestEntry>();
  /** Flat [data, port, address, ...], as openUdp keeps it. */
  private readonly batch: (Uint8Array | number | string)[] = [];
  private readonly retry: (Uint8Array | number | string)[] = [];
  private readonly maxRetry: number;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private droppedCount = 0;
  private receivedCount = 0;
  private readonly drainBound = () => this.drain();
  private readonly retryBound = () => {
    this.retryTimer = null;
    if (this.fd >= 0) this.sendRetry();
  };

  constructor(
    opts: BatchUdpOptions,
    private readonly libc: Libc,
    private readonly handler: UdpHandler,
  ) {
    this.fd = opts.fd;
    this.maxRetry = opts.maxRetry ?? 1024;
    const sa = new Uint8Array(SOCKADDR);
    const len = new Uint32Array([SOCKADDR]);
    if (libc.fn.getsockname(opts.fd, sa, len) < 0) throw new TunError("io-failed", "cannot read the UDP socket's address", libc.errno(), "getsockname");
    const v = new DataView(sa.buffer);
    this.family = v.getUint16(0, true);
    if (this.family !== AF_INET && this.family !== AF_INET6) throw new NetError("bad-argument", `fd ${opts.fd} is not an IPv4/IPv6 socket`);
    this.port = v.getUint16(2, false);
    this.hostname = this.family === AF_INET ? formatIpv4(sa.subarray(4, 8)) : formatIpv6(sa.subarray(8, 24));
    this.buildVectors();
    this.ownReadiness = opts.readiness === undefined;
    this.readiness = opts.readiness ?? createReadiness(libc);
    this.watch = this.readiness.watch(opts.fd, this.drainBound);
    this.watch.arm();
  }

  private buildVectors(): void {
    const rv = this.rxVecView;
    const iv = new DataView(this.rxIov.buffer);
    const dataBase = ptr(this.rxData);
    const nameBase = ptr(this.rxNames);
    const iovBase = ptr(this.rxIov);
    for (let i = 0; i < BATCH; i++) {
      setPtr(iv, i * IOVEC, dataBase + i * SLOT);
      iv.setUint32(i * IOVEC + 8, SLOT, true);
      const m = i * MMSGHDR;
      setPtr(rv, m, nameBase + i * SOCKADDR);
      rv.setUint32(m + 8, SOCKADDR, true);
      setPtr(rv, m + 16, iovBase + i * IOVEC);
      rv.setUint32(m + 24, 1, true);
    }
    const tv = this.txVecView;
    const txName = ptr(this.txNames);
    const txIov = ptr(this.txIov);
    for (let i = 0; i < BATCH; i++) {
      const m = i * MMSGHDR;
      setPtr(tv, m, txName + i * SOCKADDR);
      setPtr(tv, m + 16, txIov + i * IOVEC);
      tv.setUint32(m + 24, 1, true);
    }
  }

  get dropped(): number {
    return this.droppedCount;
  }
  get received(): number {
    return this.receivedCount;
  }

  /** Readiness callback: reads up to ROUNDS batches, then re-arms (EAGAIN) or yields (more waiting). */
  private drain(): void {
    const fd = this.fd;
    if (fd < 0) return;
    const rv = this.rxVecView;
    const data = this.rxData;
    for (let round = 0; round < ROUNDS; round++) {
      // The kernel overwrites msg_namelen with the peer's length; give each slot the full size back.
      for (let i = 0; i < BATCH; i++) rv.setUint32(i * MMSGHDR + 8, SOCKADDR, true);
      const n = this.mm.fn.recvmmsg(fd, this.rxVec, BATCH, MSG_DONTWAIT, null);
      if (n < 0) {
        const errno = this.mm.errno();
        if (errno === EINTR || RECV_TRANSIENT.has(errno)) continue;
        if (errno === EAGAIN) {
          this.watch.arm();
          return;
        }
        this.fail(new TunError("io-failed", "receiving UDP datagrams", errno, "recvmmsg"));
        return;
      }
      this.receivedCount += n;
      for (let i = 0; i < n; i++) {
        const m = i * MMSGHDR;
        const len = rv.getUint32(m + 56, true);
        const truncated = (rv.getInt32(m + 48, true) & MSG_TRUNC) !== 0;
        const port = this.rxNamesView.getUint16(i * SOCKADDR + 2, false);
        const addr = this.peerText(i * SOCKADDR);
        const off = i * SLOT;
        try {
          this.handler.datagram(data.subarray(off, off + Math.min(len, SLOT)), port, addr, truncated);
        } catch (e) {
          // A throw would leave the socket unarmed and end all receiving; it concerns one datagram.
          this.handler.error?.(e instanceof Error ? e : new Error(String(e)));
        }
        // The handler may have closed the endpoint.
        if (this.fd < 0) return;
      }
      if (n < BATCH) {
        this.watch.arm();
        return;
      }
    }
    // Still more queued: come back after other I/O had its turn, without a trip through the poller.
    setImmediate(this.drainBound);
  }

  /** The text of the peer address in rxNames at `off`, from the cache when this peer was seen before. */
  private peerText(off: number): string {
    const v = this.rxNamesView;
    const fam = v.getUint16(off, true);
    let w0: number, w1: number, w2: number, w3: number;
    if (fam === AF_INET) {
      w0 = 0;
      w1 = 0;
      w2 = 0;
      w3 = v.getUint32(off + 4, true);
    } else {
      w0 = v.getUint32(off + 8, true);
      w1 = v.getUint32(off + 12, true);
      w2 = v.getUint32(off + 16, true);
      w3 = v.getUint32(off + 20, true);
    }
    // The family is part of the key: 1.2.3.4 on an IPv4 socket and ::ffff:1.2.3.4 have different texts.
    // Entries are checked in full, so a colliding key only costs a rebuild.
    const key = (w0 ^ w1 ^ w2 ^ w3 ^ fam) >>> 0;
    const hit = this.addrCache.get(key);
    if (hit !== undefined && hit.w3 === w3 && hit.w2 === w2 && hit.w1 === w1 && hit.w0 === w0 && hit.fam === fam) {
      return hit.text;
    }
    let text: string;
    if (fam === AF_INET) text = formatIpv4(this.rxNames.subarray(off + 4, off + 8));
    else {
      const b = this.rxNames.subarray(off + 8, off + 24);
      // Bun (and node) report a dual-stack socket's IPv4 peers as ::ffff:a.b.c.d; keep that text.
      let mapped = b[10] === 0xff && b[11] === 0xff;
      for (let i = 0; i < 10 && mapped; i++) if (b[i] !== 0) mapped = false;
      text = mapped ? `::ffff:${formatIpv4(b.subarray(12, 16))}` : formatIpv6(b);
    }
    if (this.addrCache.size >= ADDR_CACHE_MAX) this.addrCache.clear();
    this.addrCache.set(key, { fam, w0, w1, w2, w3, text });
    return text;
  }

  private fail(err: Error): void {
    this.handler.error?.(err);
    this.close();
  }

  queue(data: Uint8Array, port: number, address: string): void {
    this.batch.push(data, port, address);
  }

  flush(): number {
    const batch = this.batch;
    if (batch.length === 0) return 0;
    if (this.fd < 0) throw new NetError("closed", "flush on a closed UDP socket");
    // Older datagrams first: anything still waiting from a previous congestion goes ahead.
    if (this.retry.length > 0) this.sendRetry();
    let sent = 0;
    if (this.retry.length === 0) sent = this.sendList(batch, batch.length / 3);
    for (let i = sent * 3; i < batch.length; i += 3) {
      if (this.retry.length / 3 >= this.maxRetry) {
        this.droppedCount++;
        continue;
      }
      // The caller reuses its buffers after flush(), so a datagram that waits is copied.
      this.retry.push((batch[i] as Uint8Array).slice(), batch[i + 1]!, batch[i + 2]!);
    }
    batch.length = 0;
    if (this.retry.length > 0 && this.retryTimer === null) this.retryTimer = setTimeout(this.retryBound, 1);
    return sent;
  }

  private sendRetry(): void {
    const retry = this.retry;
    const n = this.sendList(retry, retry.length / 3);
    retry.splice(0, n * 3);
    if (retry.length > 0 && this.retryTimer === null) this.retryTimer = setTimeout(this.retryBound, 1);
  }

  /** Sends the first `count` datagrams of a flat list; returns how many were consumed (sent or refused). */
  private sendList(list: (Uint8Array | number | string)[], count: number): number {
    let i = 0;
    while (i < count) {
      const k = this.fill(list, i, Math.min(BATCH, count - i));
      if (k === 0) {
        // The first one has an address the socket cannot reach (e.g. IPv6 on an IPv4 socket).
        this.handler.sendFailed?.("EAFNOSUPPORT", list[i * 3] as Uint8Array, list[i * 3 + 1] as number, list[i * 3 + 2] as string);
        i++;
        continue;
      }
      const r = this.mm.fn.sendmmsg(this.fd, this.txVec, k, MSG_DONTWAIT);
      if (r < 0) {
        const errno = this.mm.errno();
        if (errno === EINTR) continue;
        if (errno === EAGAIN) return i;
        // sendmmsg fails only when the first datagram is refused; report it, skip it, go on.
        this.handler.sendFailed?.(SEND_ERRNO[errno] ?? `E${errno}`, list[i * 3] as Uint8Array, list[i * 3 + 1] as number, list[i * 3 + 2] as string);
        i++;
        continue;
      }
      i += r;
      // A short count with no error: the next one is tried again, and then fails or hits EAGAIN.
    }
    return i;
  }

  /**
   * Points tx slots at up to `max` datagrams from list index `from`; stops before one whose address
   * the socket cannot take. Returns the number of slots filled.
   */
  private fill(list: (Uint8Array | number | string)[], from: number, max: number): number {
    const tv = this.txVecView;
    const iv = this.txIovView;
    const names = this.txNames;
    let k = 0;
    for (; k < max; k++) {
      const j = (from + k) * 3;
      const data = list[j] as Uint8Array;
      const port = list[j + 1] as number;
      const dest = this.dest(list[j + 2] as string);
      if (dest === null || !Number.isInteger(port) || port < 0 || port > 65535) break;
      const off = k * SOCKADDR;
      names.set(dest.sa, off);
      names[off + 2] = port >>> 8;
      names[off + 3] = port & 0xff;
      tv.setUint32(k * MMSGHDR + 8, dest.sa.length, true);
      // The datagram is held by `list` for the whole sendmmsg call.
      setPtr(iv, k * IOVEC, data.length === 0 ? 0 : ptr(data));
      iv.setUint32(k * IOVEC + 8, data.length, true);
      iv.setUint32(k * IOVEC + 12, 0, true);
    }
    return k;
  }

  /** The sockaddr for an address text, built once per address; null if this socket cannot send there. */
  private dest(address: string): DestEntry | null {
    const hit = this.destCache.get(address);
    if (hit !== undefined) return hit;
    const ip = parseIp(address);
    if (ip === null) return null;
    let e: DestEntry;
    if (this.family === AF_INET) {
      if (ip.family !== 4) return null;
      const sa = new Uint8Array(16);
      sa[0] = AF_INET & 0xff;
      sa.set(ip.bytes, 4);
      e = { family: AF_INET, sa };
    } else {
      const sa = new Uint8Array(SOCKADDR);
      sa[0] = AF_INET6 & 0xff;
      if (ip.family === 4) {
        // A dual-stack socket reaches IPv4 peers through their mapped address (RFC 4291 §2.5.5.2).
        sa[18] = 0xff;
        sa[19] = 0xff;
        sa.set(ip.bytes, 20);
      } else {
        sa.set(ip.bytes, 8);
      }
      e = { family: AF_INET6, sa };
    }
    if (this.destCache.size >= ADDR_CACHE_MAX) this.destCache.clear();
    this.destCache.set(address, e);
    return e;
  }

  close(): void {
    const fd = this.fd;
    if (fd < 0) return;
    this.fd = -1;
    this.batch.length = 0;
    this.retry.length = 0;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.watch.cancel();
    if (this.ownReadiness) this.readiness.close();
    this.libc.fn.close(fd);
  }
}

/**
 * Takes over a bound UDP socket fd (see file comment): received datagrams go to handler.datagram as a
 * view valid only during the call; queue()/flush() send with sendmmsg. The fd must not also be given
 * to Bun.udpSocket, or Bun would consume part of the incoming datagrams.
 */
export function openBatchUdp(opts: BatchUdpOptions, handler: UdpHandler): BatchUdpEndpoint {
  const maxRetry = opts.maxRetry ?? 1024;
  if (!Number.isInteger(maxRetry) || maxRetry < 0) throw new NetError("bad-argument", `maxRetry ${maxRetry} is not a count`);
  if (!Number.isInteger(opts.fd) || opts.fd < 0) throw new NetError("bad-argument", `fd ${opts.fd} is not a descriptor`);
  return new BatchUdp(opts, opts.libc ?? loadLibc(), handler);
}
