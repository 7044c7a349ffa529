// The MTU of one DTLS session after CONNECT (protocol.md §4.4, §5.1; ocserv worker-vpn.c link_mtu_set,
// data_mtu_set, mtu_discovery_init, mtu_not_ok, mtu_ok, and main-worker-cmd.c CMD_TUN_MTU).
//
//   link MTU  the size of a UDP datagram with its IP/UDP headers; what discovery moves.
//   data MTU  link MTU − (DTLS crypto overhead incl. the 1-byte packet type) − (IP + UDP headers): the
//             largest IP packet a DTLS record carries, and the tun device's MTU.
//
//   probe(n)        a DPD-REQ with n payload bytes > data MTU: the client is probing, so ocserv raises
//                   its estimate (data_mtu_set) to exactly n. Beyond `maxDataMtu` nothing changes (ocserv
//                   link_mtu_set ignores values beyond its buffer; main rejects a tun MTU beyond `mtu`).
//   tooLarge()      a DTLS datagram was refused as too large (EMSGSIZE; GnuTLS's GNUTLS_E_LARGE_PACKET),
//                   only with try-mtu-discovery (mtu_not_ok):
//                     IPv4: last_bad = link; if last_good was already MIN_MTU, discovery stops and the link
//                           MTU becomes MIN_MTU; otherwise, when last_good >= link, last_good =
//                           max(⌊2·link/3⌋, MIN_MTU); then link = last_good.
//                     IPv6: ocserv reads IPV6_PATHMTU from its connected per-worker socket. Our socket is
//                           shared and unconnected, where Linux answers that getsockopt with ENOTCONN, so
//                           we take ocserv's branch for an unreadable IPV6_PATHMTU: discovery stops and the
//                           link MTU becomes MIN_MTU.
//   fullSizeSent()  a datagram of 1 + data MTU bytes was accepted by the kernel, IPv4 with try-mtu-discovery
//                   only (mtu_ok): unless last_bad is link or link + 1, last_good = link and
//                   link = ⌊(link + last_bad)/2⌋ — a binary search between the last good and bad values.
//
// Pure: every method returns the change (new link and data MTU) or null; the caller applies it to the
// DTLS endpoint and, within tunMtuAccepted's bounds, to the tun device (ocserv's CMD_TUN_MTU).

import { MIN_MTU_IPV4, MIN_MTU_IPV6 } from "./mtu.ts";

/** RFC 791's minimum IPv4 MTU; ocserv main refuses a smaller tun MTU (RFC_791_MTU). */
export const RFC791_MTU = 68;
/** ocserv MAX_DTLS_MTU: main's upper bound for a tun MTU when `mtu` is not set. */
export const MAX_DTLS_MTU = 16384;

export interface SessionMtuOptions {
  /** The link MTU advertised at CONNECT (X-CSTP-Base-MTU). */
  readonly linkMtu: number;
  /** The data MTU advertised at CONNECT (X-CSTP-MTU / X-DTLS-MTU). */
  readonly dataMtu: number;
  /** MIN_MTU: 1280 with an IPv6 lease, else 800 (protocol.md §5.1). */
  readonly minMtu: number;
  /** The client's UDP peer is IPv6 (ocserv ws->proto). */
  readonly peerIsIpv6: boolean;
  /** try-mtu-discovery. */
  readonly discovery: boolean;
  /** The largest data MTU a probe may raise to (see maxProbeDataMtu). */
  readonly maxDataMtu: number;
}

export interface MtuChange {
  readonly previousLinkMtu: number;
  readonly linkMtu: number;
  readonly dataMtu: number;
  /** Why it changed, for the log. */
  readonly cause: "probe" | "too-large" | "recovery" | "discovery-disabled";
}

/**
 * The range ocserv main accepts for CMD_TUN_MTU: 68 … the configured `mtu`, or 16384 when it is 0.
 * (ocserv answers an out-of-range request with ERR_BAD_COMMAND; we leave the tun MTU as it is.)
 */
export function tunMtuAccepted(dataMtu: number, configuredMtu: number): boolean {
  const max = configuredMtu > 0 ? configuredMtu : MAX_DTLS_MTU;
  return Number.isInteger(dataMtu) && dataMtu >= RFC791_MTU && dataMtu <= max;
}

/**
 * The ceiling for probe-raised data MTUs: what main would accept as a tun MTU, and no more than the
 * tun read buffers hold (a larger tun MTU would truncate packets read into them).
 */
export function maxProbeDataMtu(configuredMtu: number, readCapacity: number): number {
  return Math.min(configuredMtu > 0 ? configuredMtu : MAX_DTLS_MTU, readCapacity);
}

export class SessionMtu {
  private link: number;
  /** Constant for the session: link − data. */
  private readonly overhead: number;
  private lastGood: number;
  private lastBad: number;
  private discovering: boolean;

  constructor(private readonly o: SessionMtuOptions) {
    if (!Number.isInteger(o.linkMtu) || !Number.isInteger(o.dataMtu) || o.dataMtu <= 0 || o.dataMtu > o.linkMtu) {
      throw new RangeError(`MTU ${o.dataMtu} (link ${o.linkMtu}) is not a valid pair`);
    }
    this.link = o.linkMtu;
    this.overhead = o.linkMtu - o.dataMtu;
    // mtu_discovery_init: both bounds start at the initial link MTU; an MTU already at or below
    // MIN_MTU leaves nothing to discover.
    this.lastGood = o.linkMtu;
    this.lastBad = o.linkMtu;
    this.discovering = o.discovery && o.linkMtu > o.minMtu;
  }

  get linkMtu(): number {
    return this.link;
  }

  get dataMtu(): number {
    return this.link - this.overhead;
  }

  /** True while try-mtu-discovery is in effect for this session. */
  get discoveryActive(): boolean {
    return this.discovering;
  }

  /** A DTLS DPD-REQ carrying `bytes` payload bytes arrived (ocserv parse_data → data_mtu_set). */
  probe(bytes: number): MtuChange | null {
    if (!Number.isInteger(bytes) || bytes <= this.dataMtu || bytes > this.o.maxDataMtu) return null;
    return this.setLink(bytes + this.overhead, "probe");
  }

  /** The kernel refused a DTLS datagram as too large (mtu_not_ok). */
  tooLarge(): MtuChange | null {
    if (!this.discovering) return null;
    const min = this.o.minMtu;
    if (this.o.peerIsIpv6) {
      this.discovering = false;
      return this.setLink(min, "discovery-disabled");
    }
    this.lastBad = this.link;
    if (this.lastGood === min) {
      this.discovering = false;
      return this.setLink(min, "discovery-disabled");
    }
    if (this.lastGood >= this.link) this.lastGood = Math.max(Math.floor((2 * this.link) / 3), min);
    return this.setLink(this.lastGood, "too-large");
  }

  /** A full-size datagram (1 + data MTU bytes) was sent (mtu_ok; IPv4 only, as in ocserv). */
  fullSizeSent(): MtuChange | null {
    if (!this.discovering || this.o.peerIsIpv6) return null;
    if (this.lastBad === this.link + 1 || this.lastBad === this.link) return null;
    this.lastGood = this.link;
    return this.setLink(Math.floor((this.link + this.lastBad) / 2), "recovery");
  }

  /** link_mtu_set: no change for the same value; a data MTU below 1 is never produced. */
  private setLink(link: number, cause: MtuChange["cause"]): MtuChange | null {
    if (link === this.link || link - this.overhead < 1) return null;
    const previousLinkMtu = this.link;
    this.link = link;
    return { previousLinkMtu, linkMtu: link, dataMtu: link - this.overhead, cause };
  }
}

/**
 * What the tunnel manager hands the DTLS side when it attaches a session, so MTU changes after CONNECT
 * reach the tun device (ocserv: the worker's CMD_TUN_MTU, which main applies with SIOCSIFMTU).
 */
export interface DtlsMtuContext {
  /** The link MTU advertised at CONNECT. */
  readonly linkMtu: number;
  /** MIN_MTU for this session (1280 with an IPv6 lease, else 800). */
  readonly minMtu: number;
  /** The client reached us over IPv6 (ocserv ws->proto). */
  readonly peerIsIpv6: boolean;
  /** The vhost's configured `mtu` (0 = unset): main's upper bound for a tun MTU. */
  readonly configuredMtu: number;
  /** The largest data MTU the data path can carry (tun read buffer size without the CSTP header). */
  readonly readCapacity: number;
  /** Sets the tun device's MTU; only called with values tunMtuAccepted allows. Throws on failure. */
  setTunMtu(mtu: number): void;
}

/** Builds a session's DtlsMtuContext from its CONNECT-time MTU (manager.ts calls this when it attaches DTLS). */
export function dtlsMtuContext(
  mtu: { readonly linkMtu: number; readonly dataMtu: number },
  a: {
    readonly hasIpv6Lease: boolean;
    readonly peerIsIpv6: boolean;
    readonly configuredMtu: number;
    readonly readCapacity: number;
    readonly setTunMtu: (mtu: number) => void;
  },
): DtlsMtuContext {
  return {
    linkMtu: mtu.linkMtu,
    minMtu: a.hasIpv6Lease ? MIN_MTU_IPV6 : MIN_MTU_IPV4,
    peerIsIpv6: a.peerIsIpv6,
    configuredMtu: a.configuredMtu,
    readCapacity: a.readCapacity,
    setTunMtu: a.setTunMtu,
  };
}
