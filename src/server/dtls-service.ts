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
} from "../dtls/index.ts";
import type { Logger } from "../log/types.ts";
import { openUdp, type UdpEndpoint } from "../net/index.ts";
import type { ConnectRequest } from "./contract.ts";
import type { DtlsIntegration, DtlsPlan } from "./tunnel/manager.ts";
import type { Tunnel } from "./tunnel/tunnel.ts";

export class DtlsService implements DtlsIntegration {
  private readonly endpoint: DtlsEndpoint<Tunnel>;
  private udp: UdpEndpoint | null = null;
  private flushScheduled = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly flushBound = () => {
    this.flushScheduled = false;
    this.udp?.flush();
  };

  private constructor(
    private readonly config: () => Config,
    private readonly log: Logger,
  ) {
    this.endpoint = createDtlsEndpoint<Tunnel>({ random: randomBytes, now: Date.now });
  }

  /** Opens the UDP socket on udp-listen-host:udp-port; null when udp-port is 0 (no DTLS). */
  static async start(config: () => Config, log: Logger): Promise<DtlsService | null> {
    const g = config().global;
    if (g["udp-port"] === 0) return null;
    const svc = new DtlsService(config, log);
    const host = g["udp-listen-host"] ?? "::";
    const handler = {
      datagram: (d: Uint8Array, port: number, addr: string) => svc.onDatagram(d, port, addr),
      // ICMP port-unreachable from a client that went away surfaces here; it concerns no session.
      error: () => {},
    };
    try {
      svc.udp = await openUdp({ hostname: host, port: g["udp-port"] }, handler);
    } catch (e) {
      if (g["udp-listen-host"] !== null) throw e;
      svc.udp = await openUdp({ hostname: "0.0.0.0", port: g["udp-port"] }, handler);
    }
    log.info(`listening (UDP) on ${g["udp-listen-host"] ?? "*"}:${g["udp-port"]}`);
    return svc;
  }

  plan(req: ConnectRequest, vhost: VhostConfig, settings: SessionSettings): DtlsPlan | null {
    const g = this.config().global;
    const o = vhost.options;
    // ocserv makes a new 32-byte DTLS session ID for every CONNECT (protocol.md §1.5 step 3).
    const sessionId = randomBytes(32);
    const sel = selectDtlsMode({
      headers: req.headers,
      udpPort: g["udp-port"],
      noUdp: settings["no-udp"],
      dtlsPsk: g["dtls-psk"],
      dtlsLegacy: o["dtls-legacy"],
      matchTlsDtlsCiphers: o["match-tls-dtls-ciphers"],
      tlsCipherSuite: req.transport.tls.cipherSuite,
      sessionId,
    });
    if (sel === null) return null;
    const transport = req.transport;
    return {
      cryptoOverhead: sel.cryptoOverhead,
      headers: (c) =>
        dtlsResponseHeaders(sel, {
          dpd: c.dpd,
          udpPort: g["udp-port"],
          rekeyTime: c.rekeyTime,
          rekeyMethod: o["rekey-method"],
          keepalive: c.settings.keepalive,
          dataMtu: c.mtu.dataMtu,
        }),
      attach: (tunnel, dataMtu) => {
        // The PSK is the CSTP session's exporter (protocol.md §4.2); legacy modes carry their own secret.
        const psk = sel.kind === "psk" ? transport.exportKeyingMaterial(PSK_EXPORTER_LABEL, null, 32) : null;
        const handle = this.endpoint.register({ sessionId: sel.sessionId, mode: dtlsModeFor(sel, psk), owner: tunnel, dataMtu });
        tunnel.attachUdp({
          send: (type, buf, offset, len) => {
            const d = this.endpoint.send(handle, type, buf.subarray(offset, offset + len));
            if (d === null || this.udp === null) return false;
            this.udp.queue(d.bytes, d.port, d.addr);
            this.scheduleFlush();
            return true;
          },
        });
        return {
          detach: () => {
            for (const d of this.endpoint.unregister(handle)) this.udp?.queue(d.bytes, d.port, d.addr);
            this.scheduleFlush();
          },
        };
      },
    };
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(this.flushBound);
  }

  private onDatagram(bytes: Uint8Array, port: number, addr: string): void {
    // Dual-stack sockets report IPv4 peers as ::ffff:a.b.c.d; sessions compare plain addresses.
    const peer = addr.startsWith("::ffff:") && addr.includes(".") ? addr.slice(7) : addr;
    try {
      this.apply(this.endpoint.handleDatagram(bytes, peer, port));
    } catch (e) {
      // A throw here would escape into Bun's socket callback and end the process, and every session
      // with it. Whatever went wrong concerns one datagram: log it (rate-limited by the logger), go on.
      this.log.error(`DTLS: datagram from ${peer}:${port} dropped: ${(e as Error).message}`);
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
      case "dpd":
        return;
    }
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
