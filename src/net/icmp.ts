// ICMP echo for `ping-leases` (config-options.md: ICMP-ping a candidate IPv4 before leasing it; a
// candidate that answers is skipped, architecture.md §3). Uses a raw IPPROTO_ICMP socket made through
// bun:ffi (the server runs as root; unprivileged ping sockets are usually disabled by
// net.ipv4.ping_group_range, and Bun refuses to adopt raw sockets), watched by the same Readiness as
// the tun devices, so waiting for a reply never blocks the event loop.
//
// Echo request/reply per RFC 792; replies are matched on identifier (random per pinger) and sequence.

import { ptr } from "bun:ffi";
import { EAGAIN, EINTR, TunError } from "../tun/errors.ts";
import { parseIp } from "../wire/ip.ts";
import type { Libc } from "../tun/libc.ts";
import type { Readiness, Watch } from "../tun/readiness.ts";

const AF_INET = 2;
const SOCK_RAW = 3;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const IPPROTO_ICMP = 1;

function checksum(b: Uint8Array, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i + 1 < end; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if ((end - start) & 1) sum += b[end - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

interface Pending {
  readonly resolve: (answered: boolean) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

export class IcmpPinger {
  private fd: number;
  private readonly watch: Watch;
  private readonly id: number;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  /** Fields so they outlive each FFI call (ptr() trap, bun-runtime-notes.md §1). */
  private readonly rbuf = new Uint8Array(1500);
  private readonly req = new Uint8Array(16);
  private readonly sa = new Uint8Array(16);

  constructor(
    private readonly libc: Libc,
    readiness: Readiness,
  ) {
    this.fd = libc.fn.socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
    if (this.fd < 0) throw new TunError("open-failed", "cannot open a raw ICMP socket", libc.errno(), "socket");
    this.id = crypto.getRandomValues(new Uint16Array(1))[0]!;
    this.watch = readiness.watch(this.fd, () => this.onReadable());
    new DataView(this.sa.buffer).setUint16(0, AF_INET, true);
  }

  /** Sends one echo request; resolves true if the address answers within timeoutMs. */
  ping(address: string, timeoutMs = 1000): Promise<boolean> {
    if (this.fd < 0) return Promise.reject(new TunError("closed", "the pinger is closed"));
    const ip = parseIp(address);
    if (ip === null || ip.family !== 4) return Promise.reject(new TunError("bad-argument", `"${address}" is not an IPv4 address`));
    this.seq = (this.seq + 1) & 0xffff;
    const seq = this.seq;
    const r = this.req;
    r.fill(0);
    r[0] = 8; // echo request
    r[4] = this.id >> 8;
    r[5] = this.id & 0xff;
    r[6] = seq >> 8;
    r[7] = seq & 0xff;
    crypto.getRandomValues(r.subarray(8));
    const c = checksum(r, 0, r.length);
    r[2] = c >> 8;
    r[3] = c & 0xff;
    this.sa.set(ip.bytes, 4);
    if (this.libc.fn.sendto(this.fd, r, r.length, 0, this.sa, this.sa.length) < 0) {
      // Unreachable or unroutable: nothing can answer, which is what ping-leases wants to know.
      return Promise.resolve(false);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        resolve(false);
      }, timeoutMs);
      this.pending.set(seq, { resolve, timer });
      this.watch.arm();
    });
  }

  private onReadable(): void {
    const fd = this.fd;
    if (fd < 0) return;
    for (;;) {
      const n = this.libc.fn.recvfrom(fd, ptr(this.rbuf), this.rbuf.length, 0, null, null);
      if (n < 0) {
        const errno = this.libc.errno();
        if (errno === EINTR) continue;
        if (errno === EAGAIN) break;
        break;
      }
      // A raw IPv4 socket delivers the IP header first.
      const b = this.rbuf;
      if (n < 20) continue;
      const ihl = (b[0]! & 0xf) * 4;
      if (n < ihl + 8 || b[ihl] !== 0 /* echo reply */) continue;
      const id = (b[ihl + 4]! << 8) | b[ihl + 5]!;
      const seq = (b[ihl + 6]! << 8) | b[ihl + 7]!;
      if (id !== this.id) continue;
      const p = this.pending.get(seq);
      if (p === undefined) continue;
      this.pending.delete(seq);
      clearTimeout(p.timer);
      p.resolve(true);
    }
    if (this.pending.size > 0) this.watch.arm();
  }

  close(): void {
    if (this.fd < 0) return;
    this.watch.cancel();
    this.libc.fn.close(this.fd);
    this.fd = -1;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.resolve(false);
    }
    this.pending.clear();
  }
}
