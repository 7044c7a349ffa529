// MTU computation at CONNECT (protocol.md §5.1, ocserv worker-vpn.c connect_handler / calc_mtu_values).
//
//   mtu       = per-user/vhost `mtu` if > 0, else the tun device's MTU (1500 on a fresh Linux tun)
//   MIN_MTU   = 1280 with an IPv6 lease, else 800
//   base      = X-CSTP-Base-MTU: if >= MIN_MTU, mtu = min(mtu, base); if below, ignored (#717)
//   legacy    = X-CSTP-MTU (only without Base-MTU): link = tunnel + IP/UDP (28|48) + 66; if >= MIN_MTU, mtu = min(mtu, link)
//   link MTU  = mtu
//   data MTU  = link - dtls_crypto_overhead - dtls_proto_overhead
//   IPv6 is not offered when data MTU < 1280.
//
// DTLS is not implemented yet. Until it is, the crypto overhead is the one ocserv uses for
// PSK-NEGOTIATE (1 type byte + GnuTLS's DTLS record estimate for the TLS session's cipher), so the
// data MTU already equals what a DTLS-capable server would advertise and does not change when DTLS
// arrives. The DTLS code can pass its own overhead (legacy suites) through `dtlsCryptoOverhead`.

export const MIN_MTU_IPV4 = 800;
export const MIN_MTU_IPV6 = 1280;
export const IPV6_MIN_DATA_MTU = 1280;
/** The worst-case DTLS overhead ocserv assumes for the legacy X-CSTP-MTU: 1 + 65 (DTLS1.0 AES-128-CBC-SHA1). */
const LEGACY_DTLS_OVERHEAD = 66;
const DEFAULT_DEVICE_MTU = 1500;

/**
 * GnuTLS's estimated DTLS record overhead (header + explicit IV/nonce + tag/MAC + maximum padding)
 * for the cipher of a TLS suite name, measured with GnuTLS 3.7.9 (protocol.md §5.1 table). Unknown
 * suites get the worst case ocserv uses (AES-128-CBC-SHA1).
 */
export function dtlsRecordOverhead(cipherSuite: string): number {
  const s = cipherSuite.toUpperCase();
  if (s.includes("GCM") || s.includes("CCM")) return 37; // 13 header + 8 nonce + 16 tag
  if (s.includes("CHACHA20")) return 29; // 13 header + 16 tag
  if (s.includes("3DES") || s.includes("DES-CBC3") || s.includes("DES_EDE")) return 49; // 13 + 8 IV + 20 MAC + 8 pad
  const mac = s.endsWith("SHA384") ? 48 : s.endsWith("SHA256") ? 32 : 20;
  return 13 + 16 + mac + 16; // CBC: 13 header + 16 IV + MAC + 16 pad
}

export interface MtuInput {
  /** Per-user (else vhost) `mtu`; 0 means "use the device MTU". */
  readonly configuredMtu: number;
  /** The tun device's current MTU, or 0 when unknown. */
  readonly deviceMtu: number;
  /** X-CSTP-Base-MTU (0 when absent/ignored). */
  readonly clientBaseMtu: number;
  /** Legacy X-CSTP-MTU (0 when absent). */
  readonly clientTunnelMtu: number;
  readonly hasIpv6Lease: boolean;
  /** The client reached us over IPv6 (IPv4-mapped addresses count as IPv4). */
  readonly peerIsIpv6: boolean;
  /** The TLS session's cipher suite name. */
  readonly cipherSuite: string;
  /** Overrides the DTLS crypto overhead (without the 1-byte type) once DTLS picks a legacy suite. */
  readonly dtlsCryptoOverhead?: number;
}

export interface MtuResult {
  readonly linkMtu: number;
  readonly dataMtu: number;
  /** False when an IPv6 lease exists but the data MTU is below 1280 (IPv6 is then not offered). */
  readonly ipv6Allowed: boolean;
}

export function computeMtu(input: MtuInput): MtuResult {
  let mtu = input.configuredMtu > 0 ? input.configuredMtu : input.deviceMtu > 0 ? input.deviceMtu : DEFAULT_DEVICE_MTU;
  const minMtu = input.hasIpv6Lease ? MIN_MTU_IPV6 : MIN_MTU_IPV4;
  const protoOverhead = (input.peerIsIpv6 ? 40 : 20) + 8;
  if (input.clientBaseMtu > 0) {
    if (input.clientBaseMtu >= minMtu) mtu = Math.min(mtu, input.clientBaseMtu);
  } else if (input.clientTunnelMtu > 0) {
    const link = input.clientTunnelMtu + protoOverhead + LEGACY_DTLS_OVERHEAD;
    if (link >= minMtu) mtu = Math.min(mtu, link);
  }
  const crypto = 1 + (input.dtlsCryptoOverhead ?? dtlsRecordOverhead(input.cipherSuite));
  const dataMtu = Math.max(0, mtu - crypto - protoOverhead);
  return Object.freeze({
    linkMtu: mtu,
    dataMtu,
    ipv6Allowed: !(input.hasIpv6Lease && dataMtu < IPV6_MIN_DATA_MTU),
  });
}

/** True for IPv6 peers, false for IPv4 and IPv4-mapped (::ffff:a.b.c.d) addresses. */
export function isIpv6Peer(address: string): boolean {
  return address.includes(":") && !/^::ffff:[0-9.]+$/i.test(address);
}
