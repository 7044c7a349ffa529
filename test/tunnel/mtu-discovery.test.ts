import { test, expect, describe } from "bun:test";
import { MAX_DTLS_MTU, SessionMtu, dtlsMtuContext, maxProbeDataMtu, tunMtuAccepted, type SessionMtuOptions } from "../../src/server/tunnel/mtu-discovery.ts";

// IPv4, PSK with AES-256-GCM over TLS: overhead 38 + 28 = 66, so link 1500 ↔ data 1434 (protocol.md §5.1).
const base: SessionMtuOptions = { linkMtu: 1500, dataMtu: 1434, minMtu: 800, peerIsIpv6: false, discovery: true, maxDataMtu: 1500 };

describe("client MTU probes (protocol.md §4.4, ocserv data_mtu_set)", () => {
  test("a DPD-REQ larger than the data MTU raises the data MTU to exactly its size, keeping the overhead", () => {
    const m = new SessionMtu({ ...base, discovery: false, linkMtu: 1300, dataMtu: 1234 });
    expect(m.probe(1400)).toEqual({ previousLinkMtu: 1300, linkMtu: 1466, dataMtu: 1400, cause: "probe" });
    expect(m.dataMtu).toBe(1400);
    expect(m.linkMtu).toBe(1466);
  });

  test("a DPD-REQ no larger than the data MTU changes nothing", () => {
    const m = new SessionMtu(base);
    expect(m.probe(1434)).toBeNull();
    expect(m.probe(10)).toBeNull();
    expect(m.dataMtu).toBe(1434);
  });

  test("a probe beyond the ceiling is ignored rather than clamped, as ocserv's link_mtu_set ignores it", () => {
    const m = new SessionMtu({ ...base, maxDataMtu: 1450 });
    expect(m.probe(1451)).toBeNull();
    expect(m.dataMtu).toBe(1434);
    expect(m.probe(1450)?.dataMtu).toBe(1450);
  });

  test("the ceiling is main's tun bound (mtu, else 16384) and no more than the tun read buffers", () => {
    expect(maxProbeDataMtu(0, 1500)).toBe(1500);
    expect(maxProbeDataMtu(0, 20000)).toBe(MAX_DTLS_MTU);
    expect(maxProbeDataMtu(1400, 1500)).toBe(1400);
  });

  test("main accepts a tun MTU within 68 … mtu, or 68 … 16384 when mtu is unset (CMD_TUN_MTU)", () => {
    expect(tunMtuAccepted(68, 0)).toBe(true);
    expect(tunMtuAccepted(67, 0)).toBe(false);
    expect(tunMtuAccepted(16384, 0)).toBe(true);
    expect(tunMtuAccepted(16385, 0)).toBe(false);
    expect(tunMtuAccepted(1400, 1400)).toBe(true);
    expect(tunMtuAccepted(1401, 1400)).toBe(false);
  });
});

describe("try-mtu-discovery (protocol.md §5.1, ocserv mtu_not_ok / mtu_ok)", () => {
  test("a datagram refused as too large lowers the link MTU to two thirds", () => {
    const m = new SessionMtu(base);
    expect(m.tooLarge()).toEqual({ previousLinkMtu: 1500, linkMtu: 1000, dataMtu: 934, cause: "too-large" });
  });

  test("lowering never goes below MIN_MTU, and at MIN_MTU discovery stops", () => {
    const m = new SessionMtu({ ...base, linkMtu: 1000, dataMtu: 934 });
    expect(m.tooLarge()?.linkMtu).toBe(800); // max(666, 800)
    expect(m.discoveryActive).toBe(true);
    // last_good is now MIN_MTU: the next refusal gives up and pins the link MTU at MIN_MTU.
    expect(m.tooLarge()).toBeNull(); // already at 800: link_mtu_set has nothing to change
    expect(m.discoveryActive).toBe(false);
    expect(m.linkMtu).toBe(800);
    expect(m.tooLarge()).toBeNull();
    expect(m.fullSizeSent()).toBeNull();
  });

  test("full-size sends then move back up by halving the distance to the last bad value", () => {
    const m = new SessionMtu(base);
    m.tooLarge(); // bad 1500, good 1000
    expect(m.fullSizeSent()).toEqual({ previousLinkMtu: 1000, linkMtu: 1250, dataMtu: 1184, cause: "recovery" });
    expect(m.fullSizeSent()?.linkMtu).toBe(1375);
    expect(m.fullSizeSent()?.linkMtu).toBe(1437);
    // A refusal at 1437: last_good (1375) is below it, so the link MTU returns to the last good value.
    expect(m.tooLarge()?.linkMtu).toBe(1375);
    expect(m.fullSizeSent()?.linkMtu).toBe(1406); // ⌊(1375 + 1437) / 2⌋
  });

  test("the search stops one below the last bad value", () => {
    const m = new SessionMtu(base);
    m.tooLarge();
    let steps = 0;
    while (m.fullSizeSent() !== null) steps++;
    expect(steps).toBeLessThan(12);
    expect(m.linkMtu).toBe(1499);
    expect(m.fullSizeSent()).toBeNull();
  });

  test("before any refusal a full-size send changes nothing (last good and bad both equal the link MTU)", () => {
    const m = new SessionMtu(base);
    expect(m.fullSizeSent()).toBeNull();
    expect(m.linkMtu).toBe(1500);
  });

  test("without try-mtu-discovery refusals and full-size sends change nothing, but probes still do", () => {
    const m = new SessionMtu({ ...base, discovery: false });
    expect(m.tooLarge()).toBeNull();
    expect(m.fullSizeSent()).toBeNull();
    expect(m.discoveryActive).toBe(false);
    expect(m.probe(1450)?.dataMtu).toBe(1450);
  });

  test("an initial MTU at or below MIN_MTU disables discovery (mtu_discovery_init)", () => {
    const m = new SessionMtu({ ...base, linkMtu: 800, dataMtu: 734 });
    expect(m.discoveryActive).toBe(false);
    expect(m.tooLarge()).toBeNull();
  });

  test("an IPv6 peer, whose path MTU cannot be read from the shared socket, drops to MIN_MTU and stops", () => {
    const m = new SessionMtu({ ...base, peerIsIpv6: true, minMtu: 1280, linkMtu: 1500, dataMtu: 1414 });
    expect(m.fullSizeSent()).toBeNull(); // mtu_ok is IPv4-only
    expect(m.tooLarge()).toEqual({ previousLinkMtu: 1500, linkMtu: 1280, dataMtu: 1194, cause: "discovery-disabled" });
    expect(m.discoveryActive).toBe(false);
  });

  test("a data MTU larger than the link MTU is refused at construction", () => {
    expect(() => new SessionMtu({ ...base, dataMtu: 1501 })).toThrow(RangeError);
  });

  test("the manager's context uses MIN_MTU 1280 with an IPv6 lease and 800 without", () => {
    const set = (): void => {};
    const a = { peerIsIpv6: false, configuredMtu: 0, readCapacity: 1500, setTunMtu: set };
    expect(dtlsMtuContext({ linkMtu: 1500, dataMtu: 1434 }, { ...a, hasIpv6Lease: true }).minMtu).toBe(1280);
    expect(dtlsMtuContext({ linkMtu: 1500, dataMtu: 1434 }, { ...a, hasIpv6Lease: false }).minMtu).toBe(800);
  });
});
