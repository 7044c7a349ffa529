// IP leases for tunnels (architecture.md §3, ocserv ip-lease.c).
//
// One LeaseTable per server holds every address in use, keyed by the IPv4 address or by the client's
// IPv6 subnet (candidate & subnet mask). Candidates are tried in ocserv's order, 16 tries in all:
//   try 1      the seed: a stable hash of the username (predictable-ips) or random;
//   tries 2-6  SHA1(previous candidate), truncated;
//   tries 7-16 random.
// Each candidate is masked into the pool and rejected if it is the network, broadcast or local
// (network|1) address, or already leased; with ping-leases, IPv4 candidates that answer a ping are
// skipped too. Explicit addresses (explicit-ipv4/-ipv6) are checked the same way but, as in ocserv,
// not entered into the table. A reconnect with the same cookie steals the old tunnel's leases.
// The table is sans-I/O apart from the injected prober; randomness and hashing are injected.

import { createHash } from "node:crypto";
import type { Ipv4Network, Ipv6Network } from "../../config/types.ts";
import {
  formatIPv4,
  formatIPv6,
  ipv4FromBytes,
  ipv4Mask,
  ipv6FromBytes,
  ipv6Mask,
  parseIPv4,
  parseIPv6,
  type IPv4,
  type IPv6,
} from "./ip.ts";

export type LeaseErrorCode =
  /** Neither ipv4-network nor ipv6-network is configured for this session. */
  | "no-network"
  /** The pool is malformed (prefix too long to hold a client, subnet prefix not inside the network). */
  | "bad-pool"
  /** 16 candidates were all unusable (pool exhausted or unlucky). */
  | "exhausted"
  /** explicit-ipv4 / explicit-ipv6 is not a usable address of the pool, or is in use. */
  | "bad-explicit";

export class LeaseError extends Error {
  override readonly name = "LeaseError";
  constructor(
    readonly code: LeaseErrorCode,
    readonly family: 4 | 6 | null,
    message: string,
  ) {
    super(message);
  }
}

export interface Ipv4Lease {
  readonly family: 4;
  /** The server's side of the point-to-point link: network | 1, shared by every session of the pool. */
  readonly local: string;
  /** The client's address. */
  readonly remote: string;
  /** Dotted netmask of the pool, as sent in X-CSTP-Netmask. */
  readonly netmask: string;
  readonly network: string;
  readonly prefix: number;
  readonly explicit: boolean;
}

export interface Ipv6Lease {
  readonly family: 6;
  /** network | ::1, configured as a /128 on the tun device. */
  readonly local: string;
  /** The client's address; the client owns the whole /subnetPrefix around it. */
  readonly remote: string;
  /** The client's subnet base (remote & subnet mask), the destination of the tun route. */
  readonly subnet: string;
  readonly subnetPrefix: number;
  readonly network: string;
  readonly networkPrefix: number;
  readonly explicit: boolean;
}

/** The leases of one tunnel. Ownership moves on steal; release() of a stale holder is a no-op. */
export class LeaseHolder {
  constructor(
    readonly ipv4: Ipv4Lease | null,
    readonly ipv6: Ipv6Lease | null,
  ) {}
}

/** A table entry held while a ping-leases probe runs, so concurrent CONNECTs skip the candidate. */
class Reservation {
  readonly reserved: string[] = [];
}

export interface LeaseRequest {
  readonly username: string;
  readonly ipv4Network: Ipv4Network | null;
  readonly ipv6Network: Ipv6Network | null;
  readonly ipv6SubnetPrefix: number;
  readonly explicitIpv4: string | null;
  readonly explicitIpv6: string | null;
  /** predictable-ips: seed the first candidate from the username. */
  readonly predictable: boolean;
  /** Leases stolen from a tunnel of the same cookie: kept as they are (ocserv steal_ip_leases). */
  readonly stolen?: LeaseHolder | null;
}

export interface LeaseDeps {
  /** CSPRNG bytes. */
  random(n: number): Uint8Array;
  /** ping-leases: resolves true when the IPv4 address answers (so it is in use). null = off. */
  readonly probe?: ((address: string) => Promise<boolean>) | null;
}

const TRIES = 16;
const SHA1_TRIES_END = 6;

function sha1(b: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha1").update(b).digest());
}

/** The predictable-ips seed. ocserv uses ccan hash_any; any stable hash keeps a user's address stable. */
function usernameSeed(username: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(username, "utf8").digest()).subarray(0, 4);
}

export class LeaseTable {
  private readonly inUse = new Map<string, LeaseHolder | Reservation>();

  constructor(private readonly deps: LeaseDeps) {}

  /** Number of table entries (explicit leases are not entered). */
  get size(): number {
    return this.inUse.size;
  }

  isLeased(address: string): boolean {
    const v4 = parseIPv4(address);
    if (v4 !== null) return this.inUse.has(key4(v4));
    const v6 = parseIPv6(address);
    if (v6 === null) return false;
    for (const h of this.inUse.values()) if (h instanceof LeaseHolder && h.ipv6 && parseIPv6(h.ipv6.remote) === v6) return true;
    return false;
  }

  /** Leases addresses for a new tunnel; throws LeaseError (→ 503 "Server configuration error"). */
  async allocate(req: LeaseRequest): Promise<LeaseHolder> {
    if (req.ipv4Network === null && req.ipv6Network === null && !req.stolen?.ipv4 && !req.stolen?.ipv6) {
      throw new LeaseError("no-network", null, "no ipv4-network or ipv6-network is configured");
    }
    const seed = req.predictable ? usernameSeed(req.username) : this.deps.random(4);
    const stolen = req.stolen && this.owns(req.stolen) ? req.stolen : null;
    // Reserve while probing so that two concurrent CONNECTs cannot pick the same address.
    let ipv4 = stolen?.ipv4 ?? null;
    let ipv6 = stolen?.ipv6 ?? null;
    const placeholder = new Reservation();
    try {
      if (ipv4 === null && req.ipv4Network !== null) {
        ipv4 = req.explicitIpv4 !== null
          ? this.explicit4(req.ipv4Network, req.explicitIpv4)
          : await this.pick4(req.ipv4Network, seed, placeholder);
      }
      if (ipv6 === null && req.ipv6Network !== null) {
        ipv6 = req.explicitIpv6 !== null
          ? this.explicit6(req.ipv6Network, req.ipv6SubnetPrefix, req.explicitIpv6)
          : this.pick6(req.ipv6Network, req.ipv6SubnetPrefix, seed);
      }
    } finally {
      // pick4 removes its reservation itself; this only matters if the probe threw.
      for (const k of placeholder.reserved) if (this.inUse.get(k) === placeholder) this.inUse.delete(k);
    }
    const result = new LeaseHolder(ipv4, ipv6);
    if (ipv4 && !ipv4.explicit) this.inUse.set(key4(parseIPv4(ipv4.remote)!), result);
    if (ipv6 && !ipv6.explicit) this.inUse.set(key6(parseIPv6(ipv6.subnet)!), result);
    return result;
  }

  /** Moves `old`'s leases to a new holder (cookie reuse): the old tunnel's release() then frees nothing. */
  steal(old: LeaseHolder): LeaseHolder {
    const next = new LeaseHolder(old.ipv4, old.ipv6);
    for (const k of keysOf(old)) if (this.inUse.get(k) === old) this.inUse.set(k, next);
    return next;
  }

  /** Frees a holder's IPv6 lease (its tun setup failed; ocserv continues with IPv4 only). */
  dropIpv6(holder: LeaseHolder): LeaseHolder {
    const next = new LeaseHolder(holder.ipv4, null);
    for (const k of keysOf(holder)) {
      if (this.inUse.get(k) !== holder) continue;
      if (k.startsWith("6:")) this.inUse.delete(k);
      else this.inUse.set(k, next);
    }
    return next;
  }

  /** Frees the addresses still owned by this holder. Idempotent. */
  release(holder: LeaseHolder): void {
    this.dropOwner(holder);
  }

  private owns(holder: LeaseHolder): boolean {
    if (holder.ipv4 && !holder.ipv4.explicit && this.inUse.get(key4(parseIPv4(holder.ipv4.remote)!)) !== holder) return false;
    if (holder.ipv6 && !holder.ipv6.explicit && this.inUse.get(key6(parseIPv6(holder.ipv6.subnet)!)) !== holder) return false;
    return true;
  }

  private dropOwner(holder: LeaseHolder): void {
    for (const k of keysOf(holder)) if (this.inUse.get(k) === holder) this.inUse.delete(k);
  }

  private pool4(net: Ipv4Network): { network: IPv4; mask: IPv4; local: IPv4; broadcast: IPv4 } {
    const addr = parseIPv4(net.address);
    if (addr === null || net.prefix < 0 || net.prefix > 30) {
      throw new LeaseError("bad-pool", 4, `IPv4 pool ${net.address}/${net.prefix} cannot hold a client`);
    }
    const mask = ipv4Mask(net.prefix);
    const network = (addr & mask) >>> 0;
    return { network, mask, local: (network | 1) >>> 0, broadcast: (network | ~mask) >>> 0 };
  }

  private lease4(net: Ipv4Network, remote: IPv4, explicit: boolean): Ipv4Lease {
    const p = this.pool4(net);
    return Object.freeze({
      family: 4 as const,
      local: formatIPv4(p.local),
      remote: formatIPv4(remote),
      netmask: formatIPv4(p.mask),
      network: formatIPv4(p.network),
      prefix: net.prefix,
      explicit,
    });
  }

  private explicit4(net: Ipv4Network, text: string): Ipv4Lease {
    const p = this.pool4(net);
    const a = parseIPv4(text);
    if (a === null || ((a & p.mask) >>> 0) !== p.network || a === p.network || a === p.broadcast || a === p.local) {
      throw new LeaseError("bad-explicit", 4, `explicit-ipv4 ${text} is not a usable address of ${net.address}/${net.prefix}`);
    }
    if (this.inUse.has(key4(a))) throw new LeaseError("bad-explicit", 4, `explicit-ipv4 ${text} is in use`);
    return this.lease4(net, a, true);
  }

  private async pick4(net: Ipv4Network, seed: Uint8Array, placeholder: Reservation): Promise<Ipv4Lease> {
    const p = this.pool4(net);
    let raw: Uint8Array = seed.slice(0, 4);
    for (let i = 1; i <= TRIES; i++) {
      if (i > 1) raw = i <= SHA1_TRIES_END ? sha1(raw).slice(0, 4) : this.deps.random(4);
      const c = (p.network | (ipv4FromBytes(raw) & ~p.mask)) >>> 0;
      if (c === p.network || c === p.broadcast || c === p.local || this.inUse.has(key4(c))) continue;
      if (this.deps.probe) {
        this.inUse.set(key4(c), placeholder);
        placeholder.reserved.push(key4(c));
        const answered = await this.deps.probe(formatIPv4(c));
        this.inUse.delete(key4(c));
        if (answered || this.inUse.has(key4(c))) continue;
      }
      return this.lease4(net, c, false);
    }
    throw new LeaseError("exhausted", 4, `no free IPv4 address in ${net.address}/${net.prefix}`);
  }

  private pool6(net: Ipv6Network, subnetPrefix: number): { network: IPv6; mask: IPv6; sub: IPv6; local: IPv6 } {
    const addr = parseIPv6(net.address);
    if (addr === null || net.prefix < 0 || net.prefix >= 128 || subnetPrefix <= net.prefix || subnetPrefix > 128) {
      throw new LeaseError("bad-pool", 6, `IPv6 pool ${net.address}/${net.prefix} cannot hold /${subnetPrefix} clients`);
    }
    const mask = ipv6Mask(net.prefix);
    const network = addr & mask;
    return { network, mask, sub: ipv6Mask(subnetPrefix), local: network | 1n };
  }

  private lease6(net: Ipv6Network, subnetPrefix: number, remote: IPv6, explicit: boolean): Ipv6Lease {
    const p = this.pool6(net, subnetPrefix);
    return Object.freeze({
      family: 6 as const,
      local: formatIPv6(p.local),
      remote: formatIPv6(remote),
      subnet: formatIPv6(remote & p.sub),
      subnetPrefix,
      network: formatIPv6(p.network),
      networkPrefix: net.prefix,
      explicit,
    });
  }

  /** A client subnet is unusable if it holds the network address or the local address. */
  private bad6(p: { network: IPv6; mask: IPv6; sub: IPv6; local: IPv6 }, c: IPv6): boolean {
    const k = c & p.sub;
    return (c & p.mask) !== p.network || k === (p.local & p.sub) || k === (p.network & p.sub) || this.inUse.has(key6(k));
  }

  private explicit6(net: Ipv6Network, subnetPrefix: number, text: string): Ipv6Lease {
    const p = this.pool6(net, subnetPrefix);
    const a = parseIPv6(text);
    if (a === null || this.bad6(p, a)) {
      throw new LeaseError("bad-explicit", 6, `explicit-ipv6 ${text} is not a free address of ${net.address}/${net.prefix}`);
    }
    return this.lease6(net, subnetPrefix, a, true);
  }

  private pick6(net: Ipv6Network, subnetPrefix: number, seed: Uint8Array): Ipv6Lease {
    const p = this.pool6(net, subnetPrefix);
    let raw: Uint8Array = seed;
    for (let i = 1; i <= TRIES; i++) {
      // ocserv: the first IPv6 try is SHA1(seed) over the full 16 bytes.
      raw = i <= SHA1_TRIES_END ? sha1(raw).slice(0, 16) : this.deps.random(16);
      const c = p.network | (ipv6FromBytes(raw) & ~p.mask & ipv6Mask(128));
      if (this.bad6(p, c)) continue;
      return this.lease6(net, subnetPrefix, c, false);
    }
    throw new LeaseError("exhausted", 6, `no free IPv6 subnet in ${net.address}/${net.prefix}`);
  }
}

/** The table keys a holder's non-explicit leases live under. */
function keysOf(h: LeaseHolder): string[] {
  const out: string[] = [];
  if (h.ipv4 && !h.ipv4.explicit) out.push(key4(parseIPv4(h.ipv4.remote)!));
  if (h.ipv6 && !h.ipv6.explicit) out.push(key6(parseIPv6(h.ipv6.subnet)!));
  return out;
}

function key4(a: IPv4): string {
  return `4:${a}`;
}
function key6(subnet: IPv6): string {
  return `6:${subnet.toString(16)}`;
}
