import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { IcmpPinger } from "../../src/net/icmp.ts";
import { loadLibc } from "../../src/tun/libc.ts";
import { createLinuxTunFactory } from "../../src/tun/linux.ts";
import { RtNetlink } from "../../src/tun/netlink.ts";
import { createReadiness, type Readiness } from "../../src/tun/readiness.ts";
import { icmpEchoReply } from "../tun/packets.ts";
import { createTestNetns, type TestNetns } from "../tun/netns.ts";

describe("ICMP echo for ping-leases", () => {
  const libc = loadLibc();
  let ns: TestNetns;
  let readiness: Readiness;
  let pinger: IcmpPinger;
  beforeAll(() => {
    ns = createTestNetns("icmp");
    readiness = createReadiness(libc);
    pinger = new IcmpPinger(libc, readiness);
  });
  afterAll(() => {
    pinger.close();
    readiness.close();
    ns.dispose();
  });

  test("an address that answers (the namespace's loopback) is reported as in use", async () => {
    expect(await pinger.ping("127.0.0.1", 2000)).toBe(true);
  });

  test("a silent address behind a tun is reported free after the timeout, and an answering one in use", async () => {
    const factory = createLinuxTunFactory({ libc, readiness });
    const nl = RtNetlink.open(libc);
    const dev = factory.openTun("png%d");
    try {
      nl.configureTunnel(dev.index, { ipv4: { local: "10.55.0.1", peer: "10.55.0.2" } });
      expect(await pinger.ping("10.55.0.2", 150)).toBe(false);
      const bufs = [new Uint8Array(2048)];
      const sizes = new Int32Array(1);
      dev.onReadable(() => {
        while (dev.readBatch(bufs, sizes, 0) > 0) {
          const reply = icmpEchoReply(bufs[0]!.subarray(0, sizes[0]!));
          if (reply !== null) dev.write(reply);
        }
      });
      expect(await pinger.ping("10.55.0.2", 2000)).toBe(true);
    } finally {
      dev.close();
      factory.close();
      nl.close();
    }
  });

  test("rejects a non-IPv4 address", async () => {
    await expect(pinger.ping("fd00::1")).rejects.toThrow("not an IPv4 address");
  });
});
