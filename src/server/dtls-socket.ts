// The DTLS UDP socket, made through FFI because Bun.udpSocket cannot set IP_MTU_DISCOVER
// (bun-runtime-notes.md §3): ocserv gives its UDP sockets IP_PMTUDISC_DONT (and IPV6_MTU_DISCOVER
// likewise) unless try-mtu-discovery is on, in which case IP_PMTUDISC_DO, so that the kernel refuses
// datagrams larger than the path MTU with EMSGSIZE instead of fragmenting them (ocserv set_mtu_disc,
// protocol.md §5.1). Both main (single process) and privsep's main bind it with this function.

import type { GlobalOptions } from "../config/types.ts";
import { createBoundSocket, type PmtuDisc } from "../net/index.ts";

/** ocserv set_mtu_disc: DO with try-mtu-discovery, DONT otherwise. */
export function dtlsPmtuMode(g: Pick<GlobalOptions, "try-mtu-discovery">): PmtuDisc {
  return g["try-mtu-discovery"] ? "do" : "dont";
}

/**
 * Binds udp-listen-host:udp-port, or dual-stack "::" (IPv4 peers as ::ffff:a.b.c.d) falling back to
 * 0.0.0.0 where IPv6 is unavailable; returns the fd for openBatchUdp({ fd }), or null when udp-port is 0.
 */
export function bindDtlsSocket(g: Pick<GlobalOptions, "udp-port" | "udp-listen-host" | "try-mtu-discovery">): number | null {
  if (g["udp-port"] === 0) return null;
  const mtuDiscover = dtlsPmtuMode(g);
  const host = g["udp-listen-host"];
  if (host !== null) return createBoundSocket({ type: "udp", address: host, port: g["udp-port"], mtuDiscover }).fd;
  try {
    return createBoundSocket({ type: "udp", address: "::", port: g["udp-port"], v6Only: false, mtuDiscover }).fd;
  } catch {
    return createBoundSocket({ type: "udp", address: "0.0.0.0", port: g["udp-port"], mtuDiscover }).fd;
  }
}
