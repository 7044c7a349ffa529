import { describe, expect, test } from "bun:test";
import { LeaseError, LeaseTable, type LeaseRequest } from "../../src/server/tunnel/leases.ts";
import { formatIPv6, parseIPv4, parseIPv6 } from "../../src/server/tunnel/ip.ts";
import { counterRandom, ipv4Net } from "./fixtures.ts";

function req(o: Partial<LeaseRequest> = {}): LeaseRequest {
  return {
    username: "alice",
    ipv4Network: ipv4Net("10.10.0.0/16"),
    ipv6Network: null,
    ipv6SubnetPrefix: 128,
    explicitIpv4: null,
    explicitIpv6: null,
    predictable: true,
    ...o,
  };
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    return e instanceof LeaseError ? e.code : String(e);
  }
}

describe("IPv4 leases", () => {
  test("predictable-ips gives a user the same address again once it was released", async () => {
    const t = new LeaseTable({ random: counterRandom() });
    const a = await t.allocate(req());
    t.release(a);
    const b = await t.allocate(req());
    expect(b.ipv4!.remote).toBe(a.ipv4!.remote);
    const other = await t.allocate(req({ username: "bob" }));
    expect(other.ipv4!.remote).not.toBe(b.ipv4!.remote);
  });

  test("the local address is network|1 and the lease lies inside the pool", async () => {
    const t = new LeaseTable({ random: counterRandom() });
    const a = await t.allocate(req());
    expect(a.ipv4!.local).toBe("10.10.0.1");
    expect(a.ipv4!.netmask).toBe("255.255.0.0");
    const v = parseIPv4(a.ipv4!.remote)!;
    expect(v >>> 16).toBe((10 << 8) | 10);
  });

  test("a second session of the same user gets a different address (SHA1 chain)", async () => {
    const t = new LeaseTable({ random: counterRandom() });
    const a = await t.allocate(req());
    const b = await t.allocate(req());
    expect(b.ipv4!.remote).not.toBe(a.ipv4!.remote);
    expect(t.size).toBe(2);
  });

  test("a /30 pool holds exactly one client; the next allocation fails as exhausted", async () => {
    // Random candidates all end in 2, so the random tries (7-16) are bound to reach the one usable host.
    const t = new LeaseTable({ random: (n) => new Uint8Array(n).fill(2) });
    const a = await t.allocate(req({ ipv4Network: ipv4Net("10.0.0.0/30") }));
    // network .0, local .1, broadcast .3: only .2 is usable.
    expect(a.ipv4!.remote).toBe("10.0.0.2");
    expect(await code(t.allocate(req({ username: "bob", ipv4Network: ipv4Net("10.0.0.0/30") })))).toBe("exhausted");
  });

  test("a pool that cannot hold a client is a configuration error", async () => {
    const t = new LeaseTable({ random: counterRandom() });
    expect(await code(t.allocate(req({ ipv4Network: ipv4Net("10.0.0.0/31") })))).toBe("bad-pool");
    expect(await code(t.allocate(req({ ipv4Network: null })))).toBe("no-network");
  });

  test("explicit-ipv4 is honoured, not entered into the table, and checked against the pool", async () => {
    const t = new LeaseTable({ random: counterRandom() });
    const a = await t.allocate(req({ explicitIpv4: "10.10.5.5" }));
    expect(a.ipv4!.remote).toBe("10.10.5.5");
    expect(a.ipv4!.explicit).toBe(true);
    expect(t.size).toBe(0);
    expect(await code(t.allocate(req({ explicitIpv4: "10.11.0.5" })))).toBe("bad-explicit");
    expect(await code(t.allocate(req({ explicitIpv4: "10.10.0.1" })))).toBe("bad-explicit");
    expect(await code(t.allocate(req({ explicitIpv4: "10.10.255.255" })))).toBe("bad-explicit");
    expect(await code(t.allocate(req({ explicitIpv4: "10.10.0.0" })))).toBe("bad-explicit");
  });

  test("an explicit address already leased to someone else is refused", async () => {
    const t = new LeaseTable({ random: counterRandom() });
    const a = await t.allocate(req());
    expect(await code(t.allocate(req({ username: "bob", explicitIpv4: a.ipv4!.remote })))).toBe("bad-explicit");
  });

  test("ping-leases skips candidates that answer", async () => {
    const probed: string[] = [];
    const plain = await new LeaseTable({ random: counterRandom() }).allocate(req());
    const t = new LeaseTable({
      random: counterRandom(),
      probe: async (a) => {
        probed.push(a);
        return a === plain.ipv4!.remote;
      },
    });
    const got = await t.allocate(req());
    expect(probed[0]).toBe(plain.ipv4!.remote);
    expect(got.ipv4!.remote).not.toBe(plain.ipv4!.remote);
  });

  test("release frees the address, and releasing twice is harmless", async () => {
    const t = new LeaseTable({ random: counterRandom() });
    const a = await t.allocate(req());
    expect(t.isLeased(a.ipv4!.remote)).toBe(true);
    t.release(a);
    t.release(a);
    expect(t.isLeased(a.ipv4!.remote)).toBe(false);
    expect(t.size).toBe(0);
  });

  test("a stolen lease moves to the new tunnel and the old tunnel's release frees nothing", async () => {
    const t = new LeaseTable({ random: counterRandom() });
    const old = await t.allocate(req({ predictable: false }));
    const stolen = t.steal(old);
    t.release(old);
    expect(t.isLeased(old.ipv4!.remote)).toBe(true);
    const next = await t.allocate(req({ predictable: false, stolen }));
    expect(next.ipv4!.remote).toBe(old.ipv4!.remote);
    t.release(next);
    expect(t.size).toBe(0);
  });
});

describe("IPv6 leases", () => {
  const v6 = { address: "fd00:1:2:3::", prefix: 64 };

  test("each client gets a subnet of ipv6-subnet-prefix that does not hold the local address", async () => {
    const t = new LeaseTable({ random: counterRandom() });
    const a = await t.allocate(req({ ipv4Network: null, ipv6Network: v6, ipv6SubnetPrefix: 96 }));
    const l = a.ipv6!;
    expect(l.local).toBe("fd00:1:2:3::1");
    expect(l.subnetPrefix).toBe(96);
    const remote = parseIPv6(l.remote)!;
    const subnet = parseIPv6(l.subnet)!;
    expect(remote >> 64n).toBe(parseIPv6("fd00:1:2:3::")! >> 64n);
    expect(subnet).toBe((remote >> 32n) << 32n);
    expect(subnet).not.toBe(parseIPv6("fd00:1:2:3::")!);
  });

  test("two clients never share an IPv6 subnet", async () => {
    const t = new LeaseTable({ random: counterRandom() });
    const r = req({ ipv4Network: null, ipv6Network: v6, ipv6SubnetPrefix: 96 });
    const a = await t.allocate(r);
    const b = await t.allocate(r);
    expect(a.ipv6!.subnet).not.toBe(b.ipv6!.subnet);
  });

  test("explicit-ipv6 inside the pool is used; the local subnet is refused", async () => {
    const t = new LeaseTable({ random: counterRandom() });
    const a = await t.allocate(req({ ipv6Network: v6, explicitIpv6: "fd00:1:2:3::abcd" }));
    expect(a.ipv6!.remote).toBe("fd00:1:2:3::abcd");
    expect(await code(t.allocate(req({ ipv6Network: v6, explicitIpv6: "fd00:1:2:3::1" })))).toBe("bad-explicit");
    expect(await code(t.allocate(req({ ipv6Network: v6, explicitIpv6: "fd00:9::1" })))).toBe("bad-explicit");
  });

  test("a subnet prefix not longer than the network prefix is a configuration error", async () => {
    const t = new LeaseTable({ random: counterRandom() });
    expect(await code(t.allocate(req({ ipv4Network: null, ipv6Network: v6, ipv6SubnetPrefix: 64 })))).toBe("bad-pool");
  });

  test("dropIpv6 keeps the IPv4 lease and frees the IPv6 one", async () => {
    const t = new LeaseTable({ random: counterRandom() });
    const a = await t.allocate(req({ ipv6Network: v6 }));
    const b = t.dropIpv6(a);
    expect(b.ipv6).toBeNull();
    expect(t.isLeased(a.ipv6!.remote)).toBe(false);
    expect(t.isLeased(a.ipv4!.remote)).toBe(true);
    t.release(b);
    expect(t.size).toBe(0);
  });

  test("addresses are formatted per RFC 5952", () => {
    expect(formatIPv6(parseIPv6("FD00:0:0:0:0:0:0:1")!)).toBe("fd00::1");
    expect(formatIPv6(parseIPv6("2001:db8:0:1:1:1:1:1")!)).toBe("2001:db8:0:1:1:1:1:1");
    expect(formatIPv6(parseIPv6("::ffff:192.0.2.1")!)).toBe("::ffff:c000:201");
    expect(parseIPv6("1::2::3")).toBeNull();
    expect(parseIPv6("12345::")).toBeNull();
  });
});
