// Interface configuration by rtnetlink (RFC 3549; <linux/rtnetlink.h>) over a NETLINK_ROUTE socket
// opened through bun:ffi, so no `ip` process is spawned per session. Each request carries NLM_F_ACK
// and is answered synchronously by the kernel (rtnetlink runs in the sender's context), so the call
// sends, then reads until the NLMSG_ERROR acknowledging its sequence number; a non-zero error there
// becomes TunError("netlink-rejected") with the errno and, when the kernel sent one, its extended-ACK
// text (NETLINK_EXT_ACK).
//
// What ocserv's set_network_info does with ioctls (architecture.md §2) maps to:
//   ip addr add <local> peer <client> dev X      → addAddress(ix, {address: local, peer: client, prefixLength: 32})
//   ip link set X mtu M up                         → setLink(ix, {mtu: M, up: true})
//   ip -6 addr add <local6>/128 dev X              → addAddress(ix, {address: local6, prefixLength: 128})
//   ip -6 route add <client6>/<p> dev X metric 1   → addRoute({destination: client6, prefixLength: p, index: ix, metric: 1})
//
// Netlink integers are in host byte order; this file assumes a little-endian host (x86-64, arm64).

import { Reader } from "../wire/reader.ts";
import { Writer } from "../wire/writer.ts";
import { TunError } from "./errors.ts";
import { parseIp, type IpAddress } from "../wire/ip.ts";
import { loadLibc, type Libc } from "./libc.ts";

const AF_UNSPEC = 0;
const AF_INET = 2;
const AF_INET6 = 10;
const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;
const SOL_NETLINK = 270;
const NETLINK_EXT_ACK = 11;
const NETLINK_CAP_ACK = 10;

const NLMSG_HDRLEN = 16;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;
/** In an NLMSG_ERROR: extended-ACK TLVs follow the (capped) original header. */
const NLM_F_ACK_TLVS = 0x200;
/** In an NLMSG_ERROR: only the original header was echoed (NETLINK_CAP_ACK), not its payload. */
const NLM_F_CAPPED = 0x100;
const NLMSGERR_ATTR_MSG = 1;

const RTM_NEWLINK = 16;
const RTM_GETLINK = 18;
const RTM_NEWADDR = 20;
const RTM_DELADDR = 21;
const RTM_NEWROUTE = 24;
const RTM_DELROUTE = 25;

const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;

const IFF_UP = 0x1;
const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3;
const RT_SCOPE_UNIVERSE = 0;
const RT_SCOPE_LINK = 253;
const RTN_UNICAST = 1;

/** Large enough for any reply to the requests made here (a RTM_NEWLINK dump of one link is ~1.5 KB). */
const RECV_SIZE = 32 * 1024;

export interface AddressSpec {
  /** The local address. */
  readonly address: string;
  /** 32 for an IPv4 point-to-point address, 128 for ocserv's IPv6 address. */
  readonly prefixLength: number;
  /** The point-to-point peer (IFA_ADDRESS), as `ip addr add L peer P`. */
  readonly peer?: string;
}

export interface RouteSpec {
  readonly destination: string;
  readonly prefixLength: number;
  /** Output interface index. */
  readonly index: number;
  readonly metric?: number;
  readonly gateway?: string;
}

export interface LinkInfo {
  readonly index: number;
  readonly name: string;
  readonly mtu: number;
  readonly up: boolean;
  /** The interface flags (IFF_*). */
  readonly flags: number;
}

/** What ocserv configures on a new tun device (set_network_info + CMD_TUN_MTU). */
export interface TunnelAddressing {
  readonly mtu?: number;
  /** IPv4: local = the network address | 1, peer = the client's lease. */
  readonly ipv4?: { readonly local: string; readonly peer: string };
  /** IPv6: local/128, plus a route to client/subnetPrefix with metric 1. */
  readonly ipv6?: { readonly local: string; readonly client: string; readonly subnetPrefix: number };
}

function addr(text: string, what: string): IpAddress {
  const a = parseIp(text);
  if (a === null) throw new TunError("bad-argument", `${what} "${text}" is not an IP address`);
  return a;
}

function checkPrefix(a: IpAddress, prefix: number, what: string): void {
  const max = a.family === 4 ? 32 : 128;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) {
    throw new TunError("bad-argument", `${what} prefix length ${prefix} is not in 0..${max}`);
  }
}

function le16(w: Writer, v: number): void {
  w.u8(v & 0xff).u8((v >>> 8) & 0xff);
}
function le32(w: Writer, v: number): void {
  w.u8(v & 0xff).u8((v >>> 8) & 0xff).u8((v >>> 16) & 0xff).u8((v >>> 24) & 0xff);
}
function rdLe16(r: Reader): number {
  const b = r.bytesView(2);
  return b[0]! | (b[1]! << 8);
}
function rdLe32(r: Reader): number {
  const b = r.bytesView(4);
  return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
}

/** A netlink message under construction: header placeholder, fixed body, then rtattrs. */
class NlMessage {
  readonly w = new Writer(128);
  constructor(type: number, flags: number, seq: number) {
    le32(this.w, 0); // nlmsg_len, patched in finish()
    le16(this.w, type);
    le16(this.w, flags);
    le32(this.w, seq);
    le32(this.w, 0); // nlmsg_pid: 0 addresses the kernel
  }
  attr(type: number, data: Uint8Array): this {
    le16(this.w, 4 + data.length);
    le16(this.w, type);
    this.w.bytes(data);
    while (this.w.length % 4 !== 0) this.w.u8(0); // RTA_ALIGN
    return this;
  }
  attrU32(type: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    return this.attr(type, b);
  }
  finish(): Uint8Array {
    const out = this.w.finish();
    new DataView(out.buffer).setUint32(0, out.length, true);
    return out;
  }
}

export class RtNetlink {
  private fd: number;
  private seq: number;
  /** Receive buffer and kernel address; fields, so they outlive each FFI call that uses them. */
  private readonly rbuf = new Uint8Array(RECV_SIZE);
  private readonly kernel = new Uint8Array(12);

  private constructor(
    private readonly libc: Libc,
    fd: number,
  ) {
    this.fd = fd;
    // Random start so replies to another process's socket can never be mistaken for ours.
    this.seq = crypto.getRandomValues(new Uint32Array(1))[0]! & 0x3fff_ffff;
    new DataView(this.kernel.buffer).setUint16(0, AF_NETLINK, true);
  }

  /** Opens a NETLINK_ROUTE socket in the calling thread's network namespace. */
  static open(libc: Libc = loadLibc()): RtNetlink {
    const fn = libc.fn;
    const fd = fn.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) throw new TunError("netlink-failed", "cannot open a netlink socket", libc.errno(), "socket");
    const sa = new Uint8Array(12);
    new DataView(sa.buffer).setUint16(0, AF_NETLINK, true);
    if (fn.bind(fd, sa, sa.length) < 0) {
      const errno = libc.errno();
      fn.close(fd);
      throw new TunError("netlink-failed", "cannot bind the netlink socket", errno, "bind");
    }
    // The kernel answers at once; the timeout only guards against a lost reply hanging the server.
    const tv = new BigInt64Array([2n, 0n]);
    fn.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16);
    const one = new Int32Array([1]);
    // Best effort: older kernels lack these; errors then arrive without text and with the full request.
    fn.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, one, 4);
    fn.setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, one, 4);
    return new RtNetlink(libc, fd);
  }

  close(): void {
    if (this.fd >= 0) this.libc.fn.close(this.fd);
    this.fd = -1;
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) & 0x7fff_ffff;
    return this.seq;
  }

  /**
   * Sends one request and collects the reply messages (type, body) until the ACK for its sequence
   * number. Throws TunError("netlink-rejected") when the kernel refused it.
   */
  private transact(msg: Uint8Array, seq: number, what: string): { type: number; body: Uint8Array }[] {
    const fn = this.libc.fn;
    if (this.fd < 0) throw new TunError("closed", "the netlink socket is closed");
    for (;;) {
      const n = fn.sendto(this.fd, msg, msg.length, 0, this.kernel, this.kernel.length);
      if (n === msg.length) break;
      const errno = this.libc.errno();
      if (n < 0 && errno === 4) continue;
      throw new TunError("netlink-failed", `sending ${what}`, errno, "sendto");
    }
    const replies: { type: number; body: Uint8Array }[] = [];
    for (;;) {
      const n = fn.recvfrom(this.fd, this.rbuf, this.rbuf.length, 0, null, null);
      if (n < 0) {
        const errno = this.libc.errno();
        if (errno === 4) continue;
        throw new TunError("netlink-failed", `waiting for the answer to ${what}`, errno, "recvfrom");
      }
      const r = new Reader(this.rbuf, 0, n);
      while (r.remaining >= NLMSG_HDRLEN) {
        const start = r.offset;
        const len = rdLe32(r);
        if (len < NLMSG_HDRLEN || len - 4 > r.remaining) throw new TunError("netlink-failed", `malformed netlink reply to ${what}`);
        const type = rdLe16(r);
        const flags = rdLe16(r);
        const mseq = rdLe32(r);
        rdLe32(r); // pid
        const body = r.sub(len - NLMSG_HDRLEN);
        // NLMSG_ALIGN: messages in one datagram start on 4-byte boundaries.
        const pad = ((start + len + 3) & ~3) - (start + len);
        if (pad > 0 && r.remaining >= pad) r.skip(pad);
        if (mseq !== seq) continue; // a stale reply to an earlier, timed-out request
        if (type === NLMSG_ERROR) {
          const error = rdLe32(body) | 0;
          if (error === 0) return replies;
          throw new TunError("netlink-rejected", `${what}${extAckText(body, flags)}`, -error, netlinkName(msg));
        }
        if (type === NLMSG_DONE) return replies;
        replies.push({ type, body: body.rest().slice() });
      }
    }
  }

  private addrMessage(type: number, flags: number, index: number, spec: AddressSpec): { msg: Uint8Array; seq: number } {
    const local = addr(spec.address, "address");
    checkPrefix(local, spec.prefixLength, "address");
    const peer = spec.peer === undefined ? local : addr(spec.peer, "peer");
    if (peer.family !== local.family) throw new TunError("bad-argument", "the address and its peer are of different families");
    const seq = this.nextSeq();
    const m = new NlMessage(type, flags, seq);
    // struct ifaddrmsg
    m.w.u8(local.family === 4 ? AF_INET : AF_INET6).u8(spec.prefixLength).u8(0).u8(RT_SCOPE_UNIVERSE);
    le32(m.w, index);
    // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point links
    // (equal to IFA_LOCAL otherwise), as iproute2 sends them.
    m.attr(IFA_LOCAL, local.bytes).attr(IFA_ADDRESS, peer.bytes);
    return { msg: m.finish(), seq };
  }

  /** `ip addr add ADDRESS[/PREFIX] [peer PEER] dev <index>`; EEXIST if it is already there. */
  addAddress(index: number, spec: AddressSpec): void {
    const { msg, seq } = this.addrMessage(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, index, spec);
    this.transact(msg, seq, `adding address ${spec.address} to interface ${index}`);
  }

  /** `ip addr del ...`; EADDRNOTAVAIL if it is not there. */
  deleteAddress(index: number, spec: AddressSpec): void {
    const { msg, seq } = this.addrMessage(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK, index, spec);
    this.transact(msg, seq, `deleting address ${spec.address} from interface ${index}`);
  }

  /** `ip link set dev <index> [mtu M] [up|down]`. */
  setLink(index: number, opts: { readonly mtu?: number; readonly up?: boolean }): void {
    if (opts.mtu !== undefined && (!Number.isInteger(opts.mtu) || opts.mtu < 68 || opts.mtu > 65535)) {
      throw new TunError("bad-argument", `MTU ${opts.mtu} is not in 68..65535`);
    }
    const seq = this.nextSeq();
    const m = new NlMessage(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq);
    // struct ifinfomsg: family, pad, type, index, flags, change (only IFF_UP is changed).
    m.w.u8(AF_UNSPEC).u8(0);
    le16(m.w, 0);
    le32(m.w, index);
    le32(m.w, opts.up === true ? IFF_UP : 0);
    le32(m.w, opts.up === undefined ? 0 : IFF_UP);
    if (opts.mtu !== undefined) m.attrU32(IFLA_MTU, opts.mtu);
    this.transact(m.finish(), seq, `setting link ${index}`);
  }

  private routeMessage(type: number, flags: number, spec: RouteSpec): { msg: Uint8Array; seq: number } {
    const dst = addr(spec.destination, "route destination");
    checkPrefix(dst, spec.prefixLength, "route");
    const gw = spec.gateway === undefined ? null : addr(spec.gateway, "gateway");
    if (gw !== null && gw.family !== dst.family) throw new TunError("bad-argument", "the gateway and destination are of different families");
    const seq = this.nextSeq();
    const m = new NlMessage(type, flags, seq);
    // struct rtmsg. A device route without a gateway is link-scoped for IPv4, as `ip route` makes it;
    // IPv6 routes are always universe-scoped.
    const scope = dst.family === 4 && gw === null ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
    m.w.u8(dst.family === 4 ? AF_INET : AF_INET6).u8(spec.prefixLength).u8(0).u8(0);
    m.w.u8(RT_TABLE_MAIN).u8(RTPROT_BOOT).u8(scope).u8(RTN_UNICAST);
    le32(m.w, 0);
    // The destination is the network: host bits beyond the prefix are cleared, as the kernel requires.
    const net = dst.bytes.slice();
    for (let bit = spec.prefixLength; bit < net.length * 8; bit++) net[bit >> 3]! &= ~(0x80 >> (bit & 7));
    m.attr(RTA_DST, net).attrU32(RTA_OIF, spec.index);
    if (gw !== null) m.attr(RTA_GATEWAY, gw.bytes);
    if (spec.metric !== undefined) m.attrU32(RTA_PRIORITY, spec.metric);
    return { msg: m.finish(), seq };
  }

  /** `ip route add DEST/PREFIX dev <index> [via GW] [metric M]`. */
  addRoute(spec: RouteSpec): void {
    const { msg, seq } = this.routeMessage(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, spec);
    this.transact(msg, seq, `adding route ${spec.destination}/${spec.prefixLength}`);
  }

  /** `ip route del DEST/PREFIX dev <index> ...`. */
  deleteRoute(spec: RouteSpec): void {
    const { msg, seq } = this.routeMessage(RTM_DELROUTE, NLM_F_REQUEST | NLM_F_ACK, spec);
    this.transact(msg, seq, `deleting route ${spec.destination}/${spec.prefixLength}`);
  }

  /** Reads an interface's index, name, MTU and flags (RTM_GETLINK by index or by name). */
  getLink(which: number | string): LinkInfo {
    const seq = this.nextSeq();
    const m = new NlMessage(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, seq);
    m.w.u8(AF_UNSPEC).u8(0);
    le16(m.w, 0);
    le32(m.w, typeof which === "number" ? which : 0);
    le32(m.w, 0);
    le32(m.w, 0);
    if (typeof which === "string") {
      if (which.length === 0 || which.length > 15) throw new TunError("bad-argument", `"${which}" is not an interface name`);
      const name = new Uint8Array(which.length + 1);
      for (let i = 0; i < which.length; i++) name[i] = which.charCodeAt(i) & 0x7f;
      m.attr(IFLA_IFNAME, name);
    }
    const replies = this.transact(m.finish(), seq, `reading link ${which}`);
    const reply = replies.find((x) => x.type === RTM_NEWLINK);
    if (reply === undefined) throw new TunError("netlink-failed", `no link information for ${which}`);
    return parseLink(reply.body);
  }

  /**
   * Configures a fresh tun device as ocserv does: MTU and up, the IPv4 point-to-point address, the
   * IPv6 /128 address and the route to the client's IPv6 subnet with metric 1. As in ocserv, an IPv6
   * failure is reported separately (the session may continue with IPv4 only).
   */
  configureTunnel(index: number, a: TunnelAddressing): { ipv6Error: TunError | null } {
    this.setLink(index, a.mtu === undefined ? { up: true } : { mtu: a.mtu, up: true });
    if (a.ipv4 !== undefined) this.addAddress(index, { address: a.ipv4.local, peer: a.ipv4.peer, prefixLength: 32 });
    if (a.ipv6 === undefined) return { ipv6Error: null };
    try {
      this.addAddress(index, { address: a.ipv6.local, prefixLength: 128 });
      this.addRoute({ destination: a.ipv6.client, prefixLength: a.ipv6.subnetPrefix, index, metric: 1 });
      return { ipv6Error: null };
    } catch (e) {
      if (e instanceof TunError) return { ipv6Error: e };
      throw e;
    }
  }
}

function parseLink(body: Uint8Array): LinkInfo {
  const r = new Reader(body);
  r.u8(); // family
  r.u8(); // pad
  rdLe16(r); // type
  const index = rdLe32(r);
  const flags = rdLe32(r);
  rdLe32(r); // change
  let name = "";
  let mtu = 0;
  while (r.remaining >= 4) {
    const len = rdLe16(r);
    const type = rdLe16(r) & 0x3fff; // strip NLA_F_NESTED / NLA_F_NET_BYTEORDER
    if (len < 4) throw new TunError("netlink-failed", "malformed link attribute");
    const data = r.sub(len - 4);
    if (type === IFLA_MTU) mtu = rdLe32(data);
    else if (type === IFLA_IFNAME) {
      const b = data.rest();
      let end = 0;
      while (end < b.length && b[end] !== 0) end++;
      name = String.fromCharCode(...b.subarray(0, end));
    }
    const pad = ((len + 3) & ~3) - len;
    if (pad > 0) r.skip(Math.min(pad, r.remaining));
  }
  return { index, name, mtu, up: (flags & IFF_UP) !== 0, flags };
}

/** The text of an extended ACK (NLMSGERR_ATTR_MSG), prefixed for appending to the message. */
function extAckText(body: Reader, flags: number): string {
  if ((flags & NLM_F_ACK_TLVS) === 0) return "";
  try {
    // The original request follows the error code: its header only when capped (NETLINK_CAP_ACK),
    // otherwise the whole message; the TLVs come after it.
    const origLen = rdLe32(body);
    body.skip((flags & NLM_F_CAPPED) !== 0 ? NLMSG_HDRLEN - 4 : Math.max(((origLen + 3) & ~3) - 4, NLMSG_HDRLEN - 4));
    while (body.remaining >= 4) {
      const len = rdLe16(body);
      const type = rdLe16(body) & 0x3fff;
      if (len < 4) return "";
      const data = body.sub(Math.min(len - 4, body.remaining));
      if (type === NLMSGERR_ATTR_MSG) {
        const b = data.rest();
        let end = 0;
        while (end < b.length && b[end] !== 0) end++;
        return ` (${new TextDecoder().decode(b.subarray(0, end))})`;
      }
      const pad = ((len + 3) & ~3) - len;
      if (pad > 0) body.skip(Math.min(pad, body.remaining));
    }
  } catch {
    // A malformed ext-ack only loses the text; the errno is still reported.
  }
  return "";
}

function netlinkName(msg: Uint8Array): string {
  const type = msg[4]! | (msg[5]! << 8);
  switch (type) {
    case RTM_NEWLINK:
      return "RTM_NEWLINK";
    case RTM_GETLINK:
      return "RTM_GETLINK";
    case RTM_NEWADDR:
      return "RTM_NEWADDR";
    case RTM_DELADDR:
      return "RTM_DELADDR";
    case RTM_NEWROUTE:
      return "RTM_NEWROUTE";
    case RTM_DELROUTE:
      return "RTM_DELROUTE";
    default:
      return `netlink type ${type}`;
  }
}
