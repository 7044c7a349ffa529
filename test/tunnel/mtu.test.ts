import { describe, expect, test } from "bun:test";
import { computeMtu, dtlsRecordOverhead, isIpv6Peer, type MtuInput } from "../../src/server/tunnel/mtu.ts";

const base: MtuInput = {
  configuredMtu: 0,
  deviceMtu: 1500,
  clientBaseMtu: 0,
  clientTunnelMtu: 0,
  hasIpv6Lease: false,
  peerIsIpv6: false,
  cipherSuite: "TLS_AES_256_GCM_SHA384",
};

describe("MTU computation (protocol.md §5.1)", () => {
  test("IPv4 peer, AES-GCM, device MTU 1500 gives data MTU 1434", () => {
    expect(computeMtu(base)).toEqual({ linkMtu: 1500, dataMtu: 1434, ipv6Allowed: true });
  });

  test("a legacy AES-CBC-SHA1 overhead gives 1406", () => {
    expect(computeMtu({ ...base, cipherSuite: "ECDHE-RSA-AES128-SHA" }).dataMtu).toBe(1406);
    expect(computeMtu({ ...base, dtlsCryptoOverhead: 65 }).dataMtu).toBe(1406);
  });

  test("an IPv6 peer pays 20 more bytes of IP header", () => {
    expect(computeMtu({ ...base, peerIsIpv6: true }).dataMtu).toBe(1414);
  });

  test("ChaCha20-Poly1305 costs 29 bytes per record", () => {
    expect(computeMtu({ ...base, cipherSuite: "TLS_CHACHA20_POLY1305_SHA256" }).dataMtu).toBe(1500 - 30 - 28);
  });

  test("the configured mtu wins over the device MTU", () => {
    expect(computeMtu({ ...base, configuredMtu: 1400 }).linkMtu).toBe(1400);
    expect(computeMtu({ ...base, deviceMtu: 0 }).linkMtu).toBe(1500);
  });

  test("X-CSTP-Base-MTU lowers the link MTU, but not below MIN_MTU", () => {
    expect(computeMtu({ ...base, clientBaseMtu: 1406 }).linkMtu).toBe(1406);
    expect(computeMtu({ ...base, clientBaseMtu: 700 }).linkMtu).toBe(1500);
    expect(computeMtu({ ...base, clientBaseMtu: 900 }).linkMtu).toBe(900);
    // With an IPv6 lease MIN_MTU is 1280.
    expect(computeMtu({ ...base, clientBaseMtu: 900, hasIpv6Lease: true }).linkMtu).toBe(1500);
    expect(computeMtu({ ...base, clientBaseMtu: 1600 }).linkMtu).toBe(1500);
  });

  test("legacy X-CSTP-MTU adds IP/UDP and 66 bytes, only without a base MTU", () => {
    expect(computeMtu({ ...base, clientTunnelMtu: 1300 }).linkMtu).toBe(1300 + 28 + 66);
    expect(computeMtu({ ...base, clientTunnelMtu: 1300, clientBaseMtu: 1450 }).linkMtu).toBe(1450);
    expect(computeMtu({ ...base, clientTunnelMtu: 1300, peerIsIpv6: true }).linkMtu).toBe(1300 + 48 + 66);
  });

  test("IPv6 is not allowed when the data MTU drops below 1280", () => {
    expect(computeMtu({ ...base, hasIpv6Lease: true, clientBaseMtu: 1300 }).ipv6Allowed).toBe(false);
    expect(computeMtu({ ...base, hasIpv6Lease: true }).ipv6Allowed).toBe(true);
    expect(computeMtu({ ...base, clientBaseMtu: 1300 }).ipv6Allowed).toBe(true);
  });

  test("record overheads follow the measured GnuTLS table", () => {
    expect(dtlsRecordOverhead("TLS_AES_128_GCM_SHA256")).toBe(37);
    expect(dtlsRecordOverhead("DES-CBC3-SHA")).toBe(49);
    expect(dtlsRecordOverhead("AES256-SHA")).toBe(65);
    expect(dtlsRecordOverhead("mystery")).toBe(65);
  });

  test("IPv4-mapped peers count as IPv4", () => {
    expect(isIpv6Peer("::ffff:192.0.2.1")).toBe(false);
    expect(isIpv6Peer("2001:db8::1")).toBe(true);
    expect(isIpv6Peer("192.0.2.1")).toBe(false);
  });
});
