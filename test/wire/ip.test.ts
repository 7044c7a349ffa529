import { describe, expect, test } from "bun:test";
import { formatIp, formatIpBytes, formatIpv6, ipv4OfMapped, parseIp, parseIpv4, parseIpv6 } from "../../src/wire/ip.ts";

const v6 = (text: string): string | null => {
  const b = parseIpv6(text);
  return b === null ? null : formatIpv6(b);
};

describe("IPv4 parsing", () => {
  test("accepts dotted quads at both ends of the octet range", () => {
    expect(Array.from(parseIpv4("0.0.0.0")!)).toEqual([0, 0, 0, 0]);
    expect(Array.from(parseIpv4("255.255.255.255")!)).toEqual([255, 255, 255, 255]);
    expect(Array.from(parseIpv4("192.0.2.1")!)).toEqual([192, 0, 2, 1]);
  });

  test("rejects leading zeros, which inet_pton treats as ambiguous octal", () => {
    expect(parseIpv4("192.0.2.01")).toBeNull();
    expect(parseIpv4("010.0.0.1")).toBeNull();
    expect(parseIpv4("00.0.0.0")).toBeNull();
  });

  test("rejects octets above 255, wrong part counts, signs, spaces and empty parts", () => {
    for (const bad of ["256.0.0.1", "1.2.3", "1.2.3.4.5", "1..2.3", "+1.2.3.4", " 1.2.3.4", "1.2.3.4 ", "1.2.3.0x4", "", "1.2.3.4/32"]) {
      expect(parseIpv4(bad)).toBeNull();
    }
  });
});

describe("IPv6 parsing and RFC 5952 formatting", () => {
  test("parses the full, compressed and mixed RFC 4291 §2.2 forms to the same bytes", () => {
    const full = parseIpv6("2001:0db8:0000:0000:0000:0000:0000:0001")!;
    expect(Array.from(parseIpv6("2001:db8::1")!)).toEqual(Array.from(full));
    expect(Array.from(parseIpv6("2001:DB8:0:0:0:0:0:1")!)).toEqual(Array.from(full));
    expect(Array.from(parseIpv6("::ffff:192.0.2.1")!)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1]);
    expect(Array.from(parseIpv6("1:2:3:4:5:6:1.2.3.4")!.subarray(10))).toEqual([0, 6, 1, 2, 3, 4]);
  });

  test("formats lower case without leading zeros and compresses the longest zero run, the first on ties", () => {
    expect(v6("2001:0DB8:0000:0000:0000:0000:0000:0001")).toBe("2001:db8::1");
    expect(v6("2001:db8:0:0:1:0:0:1")).toBe("2001:db8::1:0:0:1");
    expect(v6("2001:0:0:1:0:0:0:1")).toBe("2001:0:0:1::1");
    expect(v6("0:0:0:0:0:0:0:0")).toBe("::");
    expect(v6("0:0:0:0:0:0:0:1")).toBe("::1");
    expect(v6("1:0:0:0:0:0:0:0")).toBe("1::");
  });

  test("does not compress a single zero group (RFC 5952 §4.2.2)", () => {
    expect(v6("2001:db8:0:1:1:1:1:1")).toBe("2001:db8:0:1:1:1:1:1");
    expect(v6("2001:db8::1:1:1:1:1")).toBe("2001:db8:0:1:1:1:1:1");
  });

  test("writes IPv4-mapped addresses in hex groups, as the config and CONNECT headers expect", () => {
    expect(v6("::ffff:192.0.2.1")).toBe("::ffff:c000:201");
    expect(v6("::192.0.2.1")).toBe("::c000:201");
  });

  test("rejects two '::', a '::' with no zero group to stand for, bad groups, zone ids and brackets", () => {
    for (const bad of [
      "1::2::3",
      "1:2:3:4::5:6:7:8",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:8:9",
      "12345::1",
      "g::1",
      ":1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:",
      "fe80::1%eth0",
      "[::1]",
      "::1.2.3",
      "::1.2.3.04",
      "1:2:3:4:5:6:7:1.2.3.4",
      "1.2.3.4",
      "",
      "1:".repeat(30) + "1",
    ]) {
      expect(parseIpv6(bad)).toBeNull();
    }
  });
});

describe("family-agnostic helpers", () => {
  test("parseIp picks the family from the text and formatIp round-trips it canonically", () => {
    const a = parseIp("192.0.2.7")!;
    expect(a.family).toBe(4);
    expect(formatIp(a)).toBe("192.0.2.7");
    const b = parseIp("FD00:0::0:1")!;
    expect(b.family).toBe(6);
    expect(formatIp(b)).toBe("fd00::1");
    expect(parseIp("192.0.2")).toBeNull();
    expect(parseIp("::g")).toBeNull();
  });

  test("formatIpBytes formats 4- and 16-byte addresses and refuses other lengths", () => {
    expect(formatIpBytes(new Uint8Array([10, 0, 0, 1]))).toBe("10.0.0.1");
    expect(formatIpBytes(parseIpv6("2001:db8::5")!)).toBe("2001:db8::5");
    expect(formatIpBytes(new Uint8Array(5))).toBeNull();
    expect(formatIpBytes(new Uint8Array(0))).toBeNull();
  });

  test("ipv4OfMapped extracts the IPv4 address of ::ffff:0:0/96 only", () => {
    expect(Array.from(ipv4OfMapped(parseIpv6("::ffff:198.51.100.9")!)!)).toEqual([198, 51, 100, 9]);
    expect(ipv4OfMapped(parseIpv6("::198.51.100.9")!)).toBeNull();
    expect(ipv4OfMapped(parseIpv6("64:ff9b::198.51.100.9")!)).toBeNull();
    expect(ipv4OfMapped(new Uint8Array([198, 51, 100, 9]))).toBeNull();
  });
});
