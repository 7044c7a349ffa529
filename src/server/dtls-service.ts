// The UDP side of the server: one socket on udp-port, the DTLS endpoint that demultiplexes its
// datagrams to sessions (protocol.md §4.1), and the per-CONNECT plan the tunnel manager asks for.
//
//   datagram → endpoint.handleDatagram → sendTo (handshake flights, DPD answers) queued on the socket
//                                      → deliver (packets) → Tunnel.fromDtls
//                                      → events → Tunnel.udpEstablished / udpLost / end
//   tun → Tunnel.fromTun → channel.send → endpoint.send → queued; one sendMany per task (microtask flush)
//   a timer at endpoint.nextDeadline() drives handshake retransmission.

import type { Config, SessionSettings, VhostConfig } from "../config/types.ts";
import { randomBytes } from "../crypto/index.ts";
import {
  PSK_EXPORTER_LABEL,
  createDtlsEndpoint,
  dtlsModeFor,
  dtlsResponseHeaders,
  selectDtlsMode,
  type DtlsEndpoint,
  type DtlsEvent,
  type DtlsResult,
  type DtlsSelection,
  type DtlsSessionHandle,
} from "../dtls/index.ts";
import type { Logger } from "../log/types.ts";
import type { UdpEndpoint } from "../net/index.ts";
import { openBatchUdp } from "../net/udp-batch.ts";
import type { ConnectRequest, TunnelTransport } from "./contract.ts";
import { bindDtlsSocket, dtlsPmtuMode } from "./dtls-socket.ts";
import type { DtlsIntegration, DtlsPlan } from "./tunnel/manager.ts";
import { SessionMtu, maxProbeDataMtu, tunMtuAccepted, type DtlsMtuContext, type MtuChange } from "./tunnel/mtu-discovery.ts";
import type { Tunnel } from "./tunnel/tunnel.ts";

/** CSTP packet types (protocol.md §3). */
const DATA = 0;
const DPD_REQ = 3;
/** Pooled send buffers: one tun read batch (up to 64 packets) fits without an early flush. */
const SEND_RING = 64;

/** One session's MTU after CONNECT (probes, try-mtu-discovery), when the manager gave an MTU context. */
interface MtuSession {
  readonly mtu: SessionMtu;
  readonly ctx: DtlsMtuContext;
  readonly handle: DtlsSessionHandle<Tunnel>;
  /** The peer its datagrams last went to, to find the session of a datagram the kernel refused. */
  peerKey: string | null;
}

/**
 * The DTLS mode of one CONNECT (protocol.md §4.2–4.3), or null for none. Pure: main (which writes the
 * X-DTLS-* headers) and a privsep worker (which runs the endpoint) compute the same selection from the
 * same inputs and session ID.
 */
export function selectDtls(
  config: Config,
  req: Pick<ConnectRequest, "headers"> & { readonly transport: Pick<TunnelTransport, "tls"> },
  vhost: VhostConfig,
  settings: Pick<SessionSettings, "no-udp">,
  sessionId: Uint8Array,
): DtlsSelection | null {
  const g = config.global;
  const o = vhost.options;
  return selectDtlsMode({
    headers: req.headers,
    udpPort: g["udp-port"],
    noUdp: settings["no-udp"],
    dtlsPsk: g["dtls-psk"],
    dtlsLegacy: o["dtls-legacy"],
    matchTlsDtlsCiphers: o["match-tls-dtls-ciphers"],
    tlsCipherSuite: req.transport.tls.cipherSuite,
    sessionId,
  });
}

/** The X-DTLS-* header lines for a selection (DtlsPlan.headers). */
export function dtlsHeadersFor(config: Config, vhost: VhostConfig, sel: DtlsSelection): DtlsPlan["headers"] {
  const udpPort = config.global["udp-port"];
  const rekeyMethod = vhost.options["rekey-method"];
  return (c) =>
    dtlsResponseHeaders(sel, {
      dpd: c.dpd,
      udpPort,
      rekeyTime: c.rekeyTime,
      rekeyMethod,
      keepalive: c.settings.keepalive,
      dataMtu: c.mtu.dataMtu,
    });
}

export class DtlsService implements DtlsIntegration {
  private readonly endpoint: DtlsEndpoint<Tunnel>;
  private udp: UdpEndpoint | null = null;
  private flushScheduled = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** try-mtu-discovery as the socket was opened with (IP_PMTUDISC_DO); a reload does not change the socket. */
  private pmtuDiscovery = false;
  private readonly mtuByTunnel = new Map<Tunnel, MtuSession>();
  /** peer "addr|port" → session, for EMSGSIZE reports (only sessions with discovery on). */
  private readonly mtuByPeer = new Map<string, MtuSession>();
  /** Sessions that sent a full-size datagram in the current batch (ocserv mtu_ok, applied after the flush). */
  private readonly fullSize = new Set<MtuSession>();
  /** One outbox for every received datagram: apply() consumes it at once and onDatagram empties it. */
  private readonly rx: DtlsResult<Tunnel> = { sendTo: [], deliver: [], events: [] };
  private lastRawAddr = "";
  private lastPeerAddr = "";
  /** Send buffers for the datagrams of the current batch (sendBuffer); ringUsed of them are queued. */
  private readonly ring: Uint8Array[] = [];
  private ringUsed = 0;
  private readonly flushBound = () => {
    this.flushScheduled = false;
    // Nothing inside flush() seals, and once it returns no queued datagram refers to the ring.
    this.ringUsed = 0;
    this.udp?.flush();
    if (this.fullSize.size > 0) {
      for (const m of this.fullSize) this.applyMtu(m, m.mtu.fullSizeSent());
      this.fullSize.clear();
    }
  };

  private constructor(
    private readonly config: () => Config,
    private readonly log: Logger,
  ) {
    this.endpoint = createDtlsEndpoint<Tunnel>({ random: randomBytes, now: Date.now });
  }

  /**
   * Opens the UDP socket on udp-listen-host:udp-port; null when udp-port is 0 (no DTLS). With `fd`, the
   * socket main bound is adopted instead (a privsep worker cannot bind a privileged port).
   */
  static async start(config: () => Config, log: Logger, opts: { readonly fd?: number } = {}): Promise<DtlsService | null> {
    const g = config().global;
    if (g["udp-port"] === 0) return null;
    const svc = new DtlsService(config, log);
    const handler = {
      datagram: (d: Uint8Array, port: number, addr: string) => svc.onDatagram(d, port, addr),
      // ICMP port-unreachable from a client that went away surfaces here; it concerns no session.
      error: () => {},
      sendFailed: (code: string, _d: Uint8Array, port: number, addr: string) => svc.onSendFailed(code, port, addr),
    };
    // The socket's IP_MTU_DISCOVER mode (main binds it with bindDtlsSocket in privsep mode too).
    svc.pmtuDiscovery = dtlsPmtuMode(g) === "do";
    // The socket is read with recvmmsg in batches and written with sendmmsg (udp-batch.ts): Bun's own
    // UDP receive costs a callback and a buffer per datagram, and it must not also read this fd.
    if (opts.fd !== undefined) {
      svc.udp = openBatchUdp({ fd: opts.fd }, handler);
      return svc;
    }
    const fd = bindDtlsSocket(g);
    if (fd === null) return null;
    svc.udp = openBatchUdp({ fd }, handler);
    log.info(`listening (UDP) on ${g["udp-listen-host"] ?? "*"}:${g["udp-port"]}`);
    return svc;
  }

  plan(req: ConnectRequest, vhost: VhostConfig, settings: SessionSettings): DtlsPlan | null {
    // ocserv makes a new 32-byte DTLS session ID for every CONNECT (protocol.md §1.5 step 3).
    const sel = selectDtls(this.config(), req, vhost, settings, randomBytes(32));
    if (sel === null) return null;
    return {
      cryptoOverhead: sel.cryptoOverhead,
      headers: dtlsHeadersFor(this.config(), vhost, sel),
      attach: (tunnel, dataMtu, mtu) => this.attachSelection(sel, req.transport, tunnel, dataMtu, mtu),
    };
  }

  /**
   * Registers a session's DTLS with the endpoint and gives the Tunnel its UDP channel. A privsep worker
   * calls this directly with the selection main's CONNECT answer implies (src/server/split).
   *
   * With `mtu`, the session follows ocserv after CONNECT: client MTU probes raise the data MTU and the
   * tun MTU (§4.4), and with try-mtu-discovery a datagram the kernel refuses as too large lowers them
   * (§5.1, mtu-discovery.ts). Without it the data MTU stays as advertised and probes get 1-byte answers.
   */
  attachSelection(
    sel: DtlsSelection,
    transport: Pick<TunnelTransport, "exportKeyingMaterial">,
    tunnel: Tunnel,
    dataMtu: number,
    mtu?: DtlsMtuContext,
  ): { detach(): void } {
    // The PSK is the CSTP session's exporter (protocol.md §4.2); legacy modes carry their own secret.
    const psk = sel.kind === "psk" ? transport.exportKeyingMaterial(PSK_EXPORTER_LABEL, null, 32) : null;
    const maxDataMtu = mtu ? Math.max(dataMtu, maxProbeDataMtu(mtu.configuredMtu, mtu.readCapacity)) : dataMtu;
    const handle = this.endpoint.register({ sessionId: sel.sessionId, mode: dtlsModeFor(sel, psk), owner: tunnel, dataMtu, maxDataMtu });
    const m: MtuSession | null = mtu
      ? {
          mtu: new SessionMtu({
            linkMtu: mtu.linkMtu,
            dataMtu,
            minMtu: mtu.minMtu,
            peerIsIpv6: mtu.peerIsIpv6,
            discovery: this.pmtuDiscovery,
            maxDataMtu,
          }),
          ctx: mtu,
          handle,
          peerKey: null,
        }
      : null;
    if (m !== null) this.mtuByTunnel.set(tunnel, m);
    tunnel.attachUdp({
      send: (type, buf, offset, len) => {
        // A packet over the data MTU goes over CSTP, as GnuTLS refuses it (GNUTLS_E_LARGE_PACKET) and
        // ocserv retries over TLS (worker-vpn.c tun_mainloop).
        if (len > handle.dataMtu) return false;
        // Server DPD over DTLS is padded with zeros to data MTU + 1 bytes (ocserv periodic_check), so it
        // also tests the path MTU.
        const payload = type === DPD_REQ && len === 0 ? new Uint8Array(handle.dataMtu) : buf.subarray(offset, offset + len);
        const peer = handle.peer;
        if (peer === null || this.udp === null) return false;
        const need = this.endpoint.sealedLength(handle, payload.length);
        if (need < 0) return false;
        const out = this.sendBuffer(need);
        const n = this.endpoint.sealInto(handle, type, payload, out);
        if (n < 0) return false;
        this.udp.queue(out.subarray(0, n), peer.port, peer.addr);
        if (m !== null && m.mtu.discoveryActive) this.trackSend(m, peer.addr, peer.port, type === DATA && len >= handle.dataMtu);
        this.scheduleFlush();
        return true;
      },
    });
    return {
      detach: () => {
        if (m !== null) this.forgetMtu(tunnel, m);
        for (const d of this.endpoint.unregister(handle)) this.udp?.queue(d.bytes, d.port, d.addr);
        this.scheduleFlush();
      },
    };
  }

  /**
   * A pooled buffer of at least `need` bytes for one outgoing record. The UDP adapter needs queued
   * datagrams unchanged until flush() returns (it copies any it keeps for retry), so the ring is
   * reused after every flush; a batch larger than the ring is flushed early rather than allocating.
   */
  private sendBuffer(need: number): Uint8Array {
    if (this.ringUsed === SEND_RING) this.flushBound();
    const i = this.ringUsed++;
    let b = this.ring[i];
    if (b === undefined || b.length < need) {
      b = new Uint8Array(Math.max(need, 2048));
      this.ring[i] = b;
    }
    return b;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(this.flushBound);
  }

  private onDatagram(bytes: Uint8Array, port: number, addr: string): void {
    // Dual-stack sockets report IPv4 peers as ::ffff:a.b.c.d; sessions compare plain addresses. The
    // last mapping is remembered, so a stream of datagrams from one peer does not slice a string each.
    let peer = addr;
    if (addr === this.lastRawAddr) peer = this.lastPeerAddr;
    else if (addr.startsWith("::ffff:") && addr.includes(".")) {
      peer = addr.slice(7);
      this.lastRawAddr = addr;
      this.lastPeerAddr = peer;
    }
    const rx = this.rx;
    try {
      this.apply(this.endpoint.handleDatagram(bytes, peer, port, rx));
    } catch (e) {
      // A throw here would escape into Bun's socket callback and end the process, and every session
      // with it. Whatever went wrong concerns one datagram: log it (rate-limited by the logger), go on.
      this.log.error(`DTLS: datagram from ${peer}:${port} dropped: ${(e as Error).message}`);
    } finally {
      rx.sendTo.length = 0;
      rx.deliver.length = 0;
      rx.events.length = 0;
    }
  }

  private apply(r: DtlsResult<Tunnel>): void {
    if (r.sendTo.length > 0 && this.udp !== null) {
      for (const d of r.sendTo) this.udp.queue(d.bytes, d.port, d.addr);
      this.scheduleFlush();
    }
    for (const d of r.deliver) d.owner.fromDtls(d.type, d.payload);
    for (const e of r.events) this.onEvent(e.owner, e.event);
    this.rearm();
  }

  private onEvent(tunnel: Tunnel, event: DtlsEvent): void {
    switch (event.kind) {
      case "established":
        tunnel.udpEstablished();
        this.log.debug?.(`DTLS established (${event.version}, ${event.suite})`);
        return;
      case "handshake-failed":
      case "closed":
        tunnel.udpLost();
        return;
      case "disconnect":
        tunnel.fromDtls(5, event.reason === null ? new Uint8Array(0) : Uint8Array.of(event.reason));
        return;
      case "peer-moved":
        // Roaming or NAT rebinding: the record authenticated under the session's keys (§4.1).
        this.log.info(`DTLS peer moved to ${event.peer.addr}:${event.peer.port}`);
        return;
      case "dpd": {
        // The endpoint already raised handle.dataMtu for a probe within bounds and echoed it in full.
        const m = event.probe ? this.mtuByTunnel.get(tunnel) : undefined;
        if (m !== undefined) this.applyMtu(m, m.mtu.probe(event.bytes));
        return;
      }
    }
  }

  /**
   * Remembers where a discovering session's datagrams go, and whether this one was a full-size DATA
   * packet: ocserv calls mtu_ok only for tun data that filled the data MTU (tun_mainloop).
   */
  private trackSend(m: MtuSession, addr: string, port: number, fullSize: boolean): void {
    const key = `${addr}|${port}`;
    if (m.peerKey !== key) {
      if (m.peerKey !== null && this.mtuByPeer.get(m.peerKey) === m) this.mtuByPeer.delete(m.peerKey);
      m.peerKey = key;
      this.mtuByPeer.set(key, m);
    }
    if (fullSize) this.fullSize.add(m);
  }

  /**
   * The kernel refused a datagram. EMSGSIZE (IP_PMTUDISC_DO and larger than the path MTU it knows) is
   * ocserv's GNUTLS_E_LARGE_PACKET: mtu_not_ok. The datagram is lost; ocserv would have resent that one
   * packet over TLS, but the refusal surfaces only when the batch is flushed, after the plaintext is gone.
   */
  private onSendFailed(code: string, port: number, addr: string): void {
    if (code !== "EMSGSIZE") return;
    const m = this.mtuByPeer.get(`${addr}|${port}`);
    if (m === undefined) return;
    this.fullSize.delete(m);
    this.applyMtu(m, m.mtu.tooLarge());
  }

  /** Applies an MTU change: the endpoint's data MTU, then the tun device (ocserv CMD_TUN_MTU, bounded as main). */
  private applyMtu(m: MtuSession, change: MtuChange | null): void {
    if (change === null) return;
    m.handle.dataMtu = change.dataMtu;
    if (!m.mtu.discoveryActive && m.peerKey !== null) {
      if (this.mtuByPeer.get(m.peerKey) === m) this.mtuByPeer.delete(m.peerKey);
      m.peerKey = null;
    }
    // ocserv's messages: mtu_not_ok logs at info, link_mtu_set at debug.
    if (change.cause === "too-large") this.log.info(`MTU ${change.previousLinkMtu} is too large, switching to ${change.linkMtu}`);
    else if (change.cause === "discovery-disabled") this.log.info(`could not calculate a sufficient MTU; disabling MTU discovery (link MTU ${change.linkMtu})`);
    else this.log.debug(`setting connection link MTU to ${change.linkMtu} (data MTU ${change.dataMtu}, ${change.cause})`);
    if (!tunMtuAccepted(change.dataMtu, m.ctx.configuredMtu)) {
      // ocserv main refuses such a CMD_TUN_MTU ("worker process invalid MTU").
      this.log.warn(`invalid tun MTU ${change.dataMtu} (accepted: 68..${m.ctx.configuredMtu || 16384}); tun MTU unchanged`);
      return;
    }
    try {
      m.ctx.setTunMtu(change.dataMtu);
    } catch (e) {
      this.log.warn(`DTLS: cannot set tun MTU ${change.dataMtu}: ${(e as Error).message}`);
    }
  }

  private forgetMtu(tunnel: Tunnel, m: MtuSession): void {
    if (this.mtuByTunnel.get(tunnel) === m) this.mtuByTunnel.delete(tunnel);
    if (m.peerKey !== null && this.mtuByPeer.get(m.peerKey) === m) this.mtuByPeer.delete(m.peerKey);
    this.fullSize.delete(m);
  }

  private rearm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const at = this.endpoint.nextDeadline();
    if (at === null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      try {
        this.apply(this.endpoint.onTimer());
      } catch (e) {
        this.log.error(`DTLS: retransmission timer failed: ${(e as Error).message}`);
      }
    }, Math.max(0, at - Date.now()));
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.udp?.flush();
    this.udp?.close();
    this.udp = null;
  }
}
