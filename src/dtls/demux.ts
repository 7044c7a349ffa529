// The DTLS endpoint behind one UDP socket (protocol.md §4.1, ocserv main.c forward_udp_to_owner):
//
//   datagram → length / version sanity (no allocation; a flood of garbage stops here)
//     ├─ epoch-0 handshake record holding a ClientHello:
//     │    all-zero client random → drop (GnuTLS 3.6.3–3.6.12 bug workaround)
//     │    lookup ID = App-ID extension 0xBB92 if present, else the legacy session_id (1..32 bytes)
//     │    → the registered session with that ID, or drop
//     └─ anything else → the session whose handshake or established peer is this address:port;
//          unknown port on a known IP → try the sessions of that IP (at most once per 3 s each),
//          and move the session there only if the record authenticates (roaming / NAT rebinding).
//
// Sans-I/O: `handleDatagram` and `onTimer` return datagrams to send, data packets to deliver and
// events; the clock and randomness are injected. A session registers at CONNECT with its 32-byte
// DTLS session ID (the App-ID in PSK mode) and its keying mode.

import { randomBytes } from "../crypto/index.ts";
import { toHex } from "../wire/writer.ts";
import { ContentType, encodeAlert } from "../tls/codec.ts";
import { Channel, samePeer, type DtlsEvent, type DtlsVersionName, type Outbox, type Peer, versionName } from "./channel.ts";
import type { DtlsMode, HandshakeContext } from "./handshake.ts";
import { HS_HEADER, clientHelloLookupId, isClientHelloStart } from "./handshake-codec.ts";
import { DTLS_HEADER, newCursor, plausibleVersion, readRecord } from "./record.ts";
import type { DtlsSuite } from "./suites.ts";

/** Sessions of one IP tried for an unknown source port before giving up (bounds the cost of spoofing). */
const MAX_ROAMING_CANDIDATES = 4;

export interface DtlsEndpointOptions {
  /** CSPRNG; defaults to crypto.getRandomValues. */
  readonly random?: (n: number) => Uint8Array;
  /** Milliseconds clock; defaults to Date.now. */
  readonly now?: () => number;
  /** Largest handshake datagram we build (link MTU minus IP/UDP headers); default 1200. */
  readonly maxDatagram?: number;
  /** Accept ClientHellos with an all-zero random (ocserv's OCSERV_ALLOW_BROKEN_CLIENTS). */
  readonly allowBrokenClients?: boolean;
}

export interface DtlsRegistration<T> {
  /** The 32 random bytes sent as X-DTLS-Session-ID (legacy) or X-DTLS-App-ID (PSK). */
  readonly sessionId: Uint8Array;
  readonly mode: DtlsMode;
  /** Anything the caller wants back with each packet and event (its tunnel, typically). */
  readonly owner: T;
  /** The data MTU (X-CSTP-MTU): DPD-REQs larger than this are MTU probes (§4.4). */
  readonly dataMtu: number;
  /** Probes up to this size raise dataMtu and are echoed in full (ocserv data_mtu_set); absent or 0: never. */
  readonly maxDataMtu?: number;
}

/** The caller's view of a registered session. */
export interface DtlsSessionHandle<T> {
  readonly sessionId: Uint8Array;
  readonly owner: T;
  /** True once a handshake completed and until the client closes DTLS. */
  readonly established: boolean;
  readonly peer: Peer | null;
  /** Time (the injected clock) of the last authenticated record: drives DPD and the UDP/TCP switch (§5.2, §5.4). */
  readonly lastReceivedAt: number;
  dataMtu: number;
  /** The ceiling for probe-raised data MTUs (see DtlsRegistration.maxDataMtu). */
  maxDataMtu: number;
}

export interface Datagram {
  readonly bytes: Uint8Array;
  readonly addr: string;
  readonly port: number;
}

export type DtlsResult<T> = Outbox<T>;

export interface DtlsStats {
  /** Datagrams dropped before touching any session (short, bad version, unknown ID or address). */
  dropped: number;
  /** Records that reached a session but did not authenticate or were replays. */
  rejected: number;
}

export interface DtlsEndpoint<T> {
  register(reg: DtlsRegistration<T>): DtlsSessionHandle<T>;
  /** Forgets the session; returns a close_notify for the client if DTLS was established. */
  unregister(h: DtlsSessionHandle<T>): Datagram[];
  /**
   * One datagram. With `out`, results are appended to it and it is returned (unless nothing matched):
   * a caller that consumes the results at once and empties the arrays reuses one outbox for every
   * datagram instead of allocating one per datagram.
   */
  handleDatagram(bytes: Uint8Array, addr: string, port: number, out?: Outbox<T>): DtlsResult<T>;
  /** Runs handshake retransmission timers that are due. */
  onTimer(): DtlsResult<T>;
  /** The earliest handshake retransmission deadline, or null. */
  nextDeadline(): number | null;
  /** One CSTP packet type + payload as one DTLS record; null when DTLS is not established. */
  send(h: DtlsSessionHandle<T>, type: number, payload: Uint8Array): Datagram | null;
  /** Bytes sealInto needs for a payload of n bytes, or -1 when DTLS cannot carry it now. */
  sealedLength(h: DtlsSessionHandle<T>, n: number): number;
  /**
   * send() into the caller's buffer (offset 0), for a send path that pools its buffers: returns the
   * record's length, or -1 when DTLS is not established (no peer either) or `out` is too short. The
   * datagram goes to h.peer.
   */
  sealInto(h: DtlsSessionHandle<T>, type: number, payload: Uint8Array, out: Uint8Array): number;
  /** Negotiated parameters; `description` is GnuTLS's gnutls_session_get_desc form that occtl shows, e.g. "(DTLS1.2)-(PSK)-(AES-256-GCM)". */
  describe(h: DtlsSessionHandle<T>): { version: DtlsVersionName; suite: string; description: string } | null;
  readonly stats: Readonly<DtlsStats>;
  readonly size: number;
}

const EMPTY_RESULT: DtlsResult<never> = Object.freeze({
  sendTo: Object.freeze([]) as unknown as DtlsResult<never>["sendTo"],
  deliver: Object.freeze([]) as unknown as DtlsResult<never>["deliver"],
  events: Object.freeze([]) as unknown as DtlsResult<never>["events"],
});

/** gnutls_session_get_desc: (version)-(kx)-(cipher)[-(mac)], the MAC only for non-AEAD ciphers. */
function describeSuite(version: DtlsVersionName, suite: DtlsSuite): string {
  const kx = suite.kx === "psk" ? "PSK" : suite.name.startsWith("TLS_ECDHE_RSA_") ? "ECDHE-RSA" : "RSA";
  const cipher = suite.cipher.toUpperCase();
  const mac = suite.mac === null ? "" : `-(${suite.mac.toUpperCase()})`;
  return `(${version})-(${kx})-(${cipher})${mac}`;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function allZero(b: Uint8Array): boolean {
  let v = 0;
  for (let i = 0; i < b.length; i++) v |= b[i]!;
  return v === 0;
}

export function createDtlsEndpoint<T>(opts: DtlsEndpointOptions = {}): DtlsEndpoint<T> {
  const random = opts.random ?? randomBytes;
  const now = opts.now ?? Date.now;
  const ctx: HandshakeContext = { random, maxDatagram: opts.maxDatagram ?? 1200 };
  const byId = new Map<string, Channel<T>>();
  /** addr → port → session, for the established peer and the handshake's peer. */
  const byAddr = new Map<string, Map<number, Channel<T>>>();
  const indexed = new Map<Channel<T>, Peer[]>();
  /** Sessions with a retransmission deadline, so timers never scan every session. */
  const timed = new Set<Channel<T>>();
  function track(ch: Channel<T>): void {
    if (ch.deadline !== null && byId.get(ch.idKey) === ch) timed.add(ch);
    else timed.delete(ch);
  }
  const stats: DtlsStats = { dropped: 0, rejected: 0 };
  const cursor = newCursor();

  function reindex(ch: Channel<T>): void {
    for (const p of indexed.get(ch) ?? []) {
      const m = byAddr.get(p.addr);
      if (m?.get(p.port) === ch) {
        m.delete(p.port);
        if (m.size === 0) byAddr.delete(p.addr);
      }
    }
    const peers: Peer[] = [];
    if (!byId.has(ch.idKey)) {
      indexed.delete(ch);
      return;
    }
    for (const p of [ch.peer, ch.slot?.peer ?? null]) {
      if (p === null || peers.some((q) => samePeer(p, q))) continue;
      peers.push(p);
      let m = byAddr.get(p.addr);
      if (m === undefined) byAddr.set(p.addr, (m = new Map()));
      m.set(p.port, ch);
    }
    indexed.set(ch, peers);
  }

  function fresh(): Outbox<T> {
    return { sendTo: [], deliver: [], events: [] };
  }

  /**
   * True when every ClientHello that starts in the datagram carries the session's ID. The ID lookup
   * above sees only a datagram's first record, and datagrams routed by address are not looked up at
   * all; without this, anyone able to spoof the client's address could start handshakes (with the
   * session's keys) that time out and end its DTLS. Reads headers only (data records allocate nothing).
   */
  function helloIdsMatch(ch: Channel<T>, d: Uint8Array): boolean {
    let off = 0;
    while (off < d.length) {
      const next = readRecord(d, off, cursor);
      if (next < 0) return true;
      if (cursor.epoch === 0 && cursor.type === ContentType.handshake && isClientHelloStart(d, cursor.start, cursor.end)) {
        const id = clientHelloLookupId(d, cursor.start, cursor.end);
        if (id === null || !sameBytes(id, ch.sessionId)) return false;
      }
      off = next;
    }
    return true;
  }

  function feed(ch: Channel<T>, d: Uint8Array, from: Peer, t: number, out: Outbox<T>): void {
    if (!helloIdsMatch(ch, d)) {
      stats.dropped++;
      return;
    }
    const before = ch.peer;
    const slotBefore = ch.slot;
    try {
      stats.rejected += ch.receiveDatagram(d, from, t, ctx, out, cursor);
    } catch {
      // Decoding errors are handled inside; anything else must not take the UDP socket down with it.
      stats.rejected++;
    }
    if (ch.peer !== before || ch.slot !== slotBefore) reindex(ch);
    track(ch);
  }

  const endpoint: DtlsEndpoint<T> = {
    get stats() {
      return stats;
    },
    get size() {
      return byId.size;
    },

    register(reg) {
      if (reg.sessionId.length < 1 || reg.sessionId.length > 32) throw new RangeError("DTLS session ID must be 1..32 bytes");
      const ch = new Channel<T>(reg.sessionId.slice(), reg.mode, reg.owner, reg.dataMtu, reg.maxDataMtu ?? 0);
      if (byId.has(ch.idKey)) throw new RangeError("DTLS session ID already registered");
      byId.set(ch.idKey, ch);
      return ch;
    },

    unregister(h) {
      const ch = h as Channel<T>;
      if (byId.get(ch.idKey) !== ch) return [];
      const out: Datagram[] = [];
      if (ch.current !== null && ch.peer !== null) {
        const alert = ch.seal(encodeAlert(1, 0), ContentType.alert); // close_notify
        if (alert !== null) out.push({ bytes: alert, addr: ch.peer.addr, port: ch.peer.port });
      }
      byId.delete(ch.idKey);
      reindex(ch);
      timed.delete(ch);
      ch.current = null;
      ch.slot = null;
      return out;
    },

    handleDatagram(d, addr, port, reuse) {
      // Cheap checks first: nothing below allocates until the datagram matches a session.
      if (d.length < DTLS_HEADER || !plausibleVersion(d[1]!, d[2]!)) {
        stats.dropped++;
        return EMPTY_RESULT;
      }
      const t = now();
      let ch: Channel<T> | undefined;
      if (d[0] === ContentType.handshake && d[3] === 0 && d[4] === 0) {
        const end = Math.min(d.length, DTLS_HEADER + ((d[11]! << 8) | d[12]!));
        const id = clientHelloLookupId(d, DTLS_HEADER, end);
        if (id !== null) {
          const rnd = d.subarray(DTLS_HEADER + HS_HEADER + 2, DTLS_HEADER + HS_HEADER + 34);
          if (!opts.allowBrokenClients && allZero(rnd)) {
            stats.dropped++;
            return EMPTY_RESULT;
          }
          ch = byId.get(toHex(id));
          if (ch === undefined) {
            stats.dropped++;
            return EMPTY_RESULT;
          }
          const out = reuse ?? fresh();
          feed(ch, d, { addr, port }, t, out);
          return out;
        }
      }
      ch = byAddr.get(addr)?.get(port);
      if (ch !== undefined) {
        const out = reuse ?? fresh();
        // The packet path: a datagram from the established peer reuses its (immutable) Peer object.
        const p = ch.peer;
        feed(ch, d, p !== null && p.port === port && p.addr === addr ? p : { addr, port }, t, out);
        return out;
      }
      // Roaming: same IP, new port (NAT rebinding), or a new address altogether is only reachable via
      // a ClientHello. Each session of this IP is tried at most once per REBIND_INTERVAL_MS.
      const sameIp = byAddr.get(addr);
      if (sameIp !== undefined && d[0] === ContentType.application_data) {
        let tried = 0;
        for (const cand of new Set(sameIp.values())) {
          if (tried++ >= MAX_ROAMING_CANDIDATES) break;
          if (cand.current === null || t - cand.lastRebindAt < 3000) continue;
          // A fresh outbox per candidate (also with `reuse`): a failed attempt's output is discarded.
          const out = fresh();
          const before = cand.peer;
          feed(cand, d, { addr, port }, t, out);
          if (cand.peer !== before) {
            if (reuse === undefined) return out;
            reuse.sendTo.push(...out.sendTo);
            reuse.deliver.push(...out.deliver);
            reuse.events.push(...out.events);
            return reuse;
          }
          cand.lastRebindAt = t; // a failed attempt also counts, as ocserv's udp_fd_receive_time does
        }
      }
      stats.dropped++;
      return EMPTY_RESULT;
    },

    onTimer() {
      const t = now();
      let out: Outbox<T> | null = null;
      for (const ch of [...timed]) {
        const dl = ch.deadline;
        if (dl !== null && dl > t) continue;
        out ??= fresh();
        const slotBefore = ch.slot;
        ch.onTimer(t, out);
        if (ch.slot !== slotBefore) reindex(ch);
        track(ch);
      }
      return out ?? EMPTY_RESULT;
    },

    nextDeadline() {
      let min: number | null = null;
      for (const ch of timed) {
        const dl = ch.deadline;
        if (dl !== null && (min === null || dl < min)) min = dl;
      }
      return min;
    },

    send(h, type, payload) {
      const ch = h as Channel<T>;
      if (ch.peer === null) return null;
      const bytes = ch.sealPacket(type, payload);
      return bytes === null ? null : { bytes, addr: ch.peer.addr, port: ch.peer.port };
    },

    sealedLength(h, n) {
      return (h as Channel<T>).sealedPacketLength(n);
    },

    sealInto(h, type, payload, out) {
      const ch = h as Channel<T>;
      if (ch.peer === null) return -1;
      return ch.sealPacketInto(type, payload, out);
    },

    describe(h) {
      const k = (h as Channel<T>).current;
      if (k === null) return null;
      const version = versionName(k.version);
      return { version, suite: k.suite.name, description: describeSuite(version, k.suite) };
    },
  };
  return endpoint;
}

export type { DtlsEvent, Peer, DtlsVersionName };
