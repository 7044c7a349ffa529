import { describe, expect, test } from "bun:test";
import { netmaskToPrefix, parseIpAddress, parseRoute, prefixToNetmask } from "../../src/config/index.ts";

describe("address literals", () => {
  test("IPv4 dotted quads are accepted and leading zeros are rejected like inet_pton", () => {
    expect(parseIpAddress("192.0.2.1")).toEqual({ family: 4, address: "192.0.2.1" });
    expect(parseIpAddress("192.0.2.01")).toBeNull();
    expect(parseIpAddress("192.0.2")).toBeNull();
    expect(parseIpAddress("192.0.2.1.5")).toBeNull();
    expect(parseIpAddress("256.0.0.1")).toBeNull();
  });

  test("IPv6 literals are normalised per RFC 5952", () => {
    expect(parseIpAddress("2001:DB8:0:0:0:0:0:1")).toEqual({ family: 6, address: "2001:db8::1" });
    expect(parseIpAddress("2001:db8:0:1:0:0:0:1")?.address).toBe("2001:db8:0:1::1");
    expect(parseIpAddress("2001:0:0:1:0:0:0:1")?.address).toBe("2001:0:0:1::1");
    expect(parseIpAddress("2001:db8:1:1:1:1:0:1")?.address).toBe("2001:db8:1:1:1:1:0:1");
    expect(parseIpAddress("::")?.address).toBe("::");
    expect(parseIpAddress("::1")?.address).toBe("::1");
    expect(parseIpAddress("::ffff:192.0.2.1")?.address).toBe("::ffff:c000:201");
    expect(parseIpAddress("64:ff9b::192.0.2.33")?.address).toBe("64:ff9b::c000:221");
  });

  test("malformed IPv6 literals are rejected", () => {
    for (const bad of ["1::2::3", "1:2:3:4:5:6:7:8:9", "12345::", ":1", "1:", "g::1", "1:2:3:4:5:6:7::8:9", "::1.2.3", "1:2:3:4:5:6:7:1.2.3.4"]) {
      expect(parseIpAddress(bad)).toBeNull();
    }
    expect(parseIpAddress("1:2:3:4:5:6:7::")?.address).toBe("1:2:3:4:5:6:7:0");
  });

  test("netmasks convert to prefixes only when contiguous", () => {
    expect(netmaskToPrefix("255.255.255.0")).toBe(24);
    expect(netmaskToPrefix("0.0.0.0")).toBe(0);
    expect(netmaskToPrefix("255.255.255.255")).toBe(32);
    expect(netmaskToPrefix("255.0.255.0")).toBeNull();
    expect(prefixToNetmask(22)).toBe("255.255.252.0");
    expect(prefixToNetmask(0)).toBe("0.0.0.0");
  });

  test("routes keep their host bits and use the ocserv wire form", () => {
    expect(parseRoute("10.1.2.3/8")).toEqual({ ok: true, value: { family: 4, address: "10.1.2.3", prefix: 8, text: "10.1.2.3/255.0.0.0" } });
    // ocserv rewrites 0.0.0.0/0 to 0.0.0.0/0.0.0.0 before its default-route test, so it stays a route.
    expect(parseRoute("0.0.0.0/0")).toEqual({ ok: true, value: { family: 4, address: "0.0.0.0", prefix: 0, text: "0.0.0.0/0.0.0.0" } });
    expect(parseRoute("::/0")).toEqual({ ok: true, value: { family: 6, address: "::", prefix: 0, text: "::/0" } });
    expect(parseRoute("10.0.0.0/08").ok).toBe(false);
    expect(parseRoute("fd00::/64/1").ok).toBe(false);
  });
});
