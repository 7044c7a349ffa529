import { describe, expect, test } from "bun:test";
import type { SessionSettings, VhostOptions } from "../../src/config/types.ts";
import type { TunnelTransport } from "../../src/server/contract.ts";
import { parseClientInfo, cleanHostname, classifyAgent } from "../../src/server/tunnel/client.ts";
import { buildConnectHead, rekeyFuzzFromBytes, substituteUserGroup, type ConnectResponseInput } from "../../src/server/tunnel/connect-response.ts";
import { LeaseHolder, type Ipv4Lease, type Ipv6Lease } from "../../src/server/tunnel/leases.ts";
import { computeMtu } from "../../src/server/tunnel/mtu.ts";
import { route, settingsOf, vhostOptions } from "./fixtures.ts";

const V4: Ipv4Lease = {
  family: 4,
  local: "192.168.1.1",
  remote: "192.168.1.77",
  netmask: "255.255.255.0",
  network: "192.168.1.0",
  prefix: 24,
  explicit: false,
};
const V6: Ipv6Lease = {
  family: 6,
  local: "fd00::1",
  remote: "fd00::5:0:0:9",
  subnet: "fd00::5:0:0:9",
  subnetPrefix: 128,
  network: "fd00::",
  networkPrefix: 64,
  explicit: false,
};

const TLS12: TunnelTransport["tls"] = { version: "TLS1.2", cipherSuite: "ECDHE-RSA-AES256-GCM-SHA384", safeRenegotiation: true };
const OPENCONNECT = "Open AnyConnect VPN Agent v9.12";

interface Case {
  vhost?: Partial<VhostOptions>;
  settings?: Partial<SessionSettings>;
  headers?: Record<string, string>;
  leases?: LeaseHolder;
  tls?: TunnelTransport["tls"];
  fuzz?: number;
  sinceAuth?: number;
  hostname?: string | null;
  dtls?: ConnectResponseInput["dtlsHeaders"];
}

function head(c: Case = {}): string[] {
  const vhost = vhostOptions(c.vhost);
  const settings = settingsOf(vhost, c.settings);
  const headers = new Map(Object.entries({ "User-Agent": OPENCONNECT, "X-CSTP-Full-IPv6-Capability": "true", ...c.headers }));
  const client = parseClientInfo(headers, OPENCONNECT);
  const leases = c.leases ?? new LeaseHolder(V4, null);
  const tls = c.tls ?? TLS12;
  const mtu = computeMtu({
    configuredMtu: settings.mtu,
    deviceMtu: 1500,
    clientBaseMtu: client.baseMtu,
    clientTunnelMtu: client.tunnelMtu,
    hasIpv6Lease: leases.ipv6 !== null,
    peerIsIpv6: false,
    cipherSuite: tls.cipherSuite,
  });
  const text = buildConnectHead({
    vhost,
    settings,
    routes: settings.route,
    client,
    username: "alice",
    group: "staff",
    leases,
    hostname: c.hostname === undefined ? client.hostname : c.hostname,
    mtu,
    tls,
    rekeyFuzz: c.fuzz ?? 10,
    secondsSinceAuth: c.sinceAuth ?? 0,
    headers,
    ...(c.dtls ? { dtlsHeaders: c.dtls } : {}),
  });
  expect(text.endsWith("\r\n\r\n")).toBe(true);
  return text.slice(0, -4).split("\r\n");
}

const TAIL = [
  "X-CSTP-Session-Timeout: 0",
  "X-CSTP-Session-Timeout-Remaining: 0",
  "X-CSTP-Disconnected-Timeout: none",
  "X-CSTP-Keep: true",
  "X-CSTP-TCP-Keepalive: true",
  "X-CSTP-License: accept",
];

describe("CONNECT response head", () => {
  test("an IPv4-only default-route session has every header in ocserv's order", () => {
    expect(head({ vhost: { dns: [{ family: 4, address: "8.8.8.8" }] }, headers: { "X-CSTP-Hostname": "laptop.example.com" } })).toEqual([
      "HTTP/1.1 200 CONNECTED",
      "X-CSTP-Version: 1",
      "X-CSTP-Server-Name: OpenConnect VPN Server",
      "X-CSTP-Hostname: laptop",
      "X-CSTP-DPD: 90",
      "X-CSTP-Address: 192.168.1.77",
      "X-CSTP-Netmask: 255.255.255.0",
      "X-CSTP-DNS: 8.8.8.8",
      "X-CSTP-Tunnel-All-DNS: true",
      "X-CSTP-Client-Bypass-Protocol: false",
      "X-CSTP-Keepalive: 32400",
      "X-CSTP-Idle-Timeout: none",
      "X-CSTP-Smartcard-Removal-Disconnect: true",
      "X-CSTP-Rekey-Time: 172810",
      "X-CSTP-Rekey-Method: new-tunnel",
      ...TAIL,
      "X-CSTP-Base-MTU: 1500",
      "X-CSTP-MTU: 1434",
    ]);
  });

  test("split routes are sent as Include lines with dotted masks and Tunnel-All-DNS follows the config", () => {
    const lines = head({
      vhost: {
        route: [route("10.0.0.0/8"), route("fd10::/48")],
        "no-route": [route("10.9.0.0/16")],
        "tunnel-all-dns": false,
        "split-dns": ["corp.example"],
        "default-domain": "example.com",
      },
      leases: new LeaseHolder(V4, V6),
    });
    expect(lines).toEqual([
      "HTTP/1.1 200 CONNECTED",
      "X-CSTP-Version: 1",
      "X-CSTP-Server-Name: OpenConnect VPN Server",
      "X-CSTP-DPD: 90",
      "X-CSTP-Default-Domain: example.com",
      "X-CSTP-Address: 192.168.1.77",
      "X-CSTP-Netmask: 255.255.255.0",
      "X-CSTP-Address-IP6: fd00::5:0:0:9/128",
      "X-CSTP-Split-DNS: corp.example",
      "X-CSTP-Split-Include: 10.0.0.0/255.0.0.0",
      "X-CSTP-Split-Include-IP6: fd10::/48",
      "X-CSTP-Tunnel-All-DNS: false",
      "X-CSTP-Client-Bypass-Protocol: false",
      "X-CSTP-Split-Exclude: 10.9.0.0/255.255.0.0",
      "X-CSTP-Keepalive: 32400",
      "X-CSTP-Idle-Timeout: none",
      "X-CSTP-Smartcard-Removal-Disconnect: true",
      "X-CSTP-Rekey-Time: 172810",
      "X-CSTP-Rekey-Method: new-tunnel",
      ...TAIL,
      "X-CSTP-Base-MTU: 1500",
      "X-CSTP-MTU: 1434",
    ]);
  });

  test("route = default sends no Split-Include and forces Tunnel-All-DNS true", () => {
    const lines = head({ vhost: { route: ["default"], "tunnel-all-dns": false } });
    expect(lines.some((l) => l.startsWith("X-CSTP-Split-Include"))).toBe(false);
    expect(lines).toContain("X-CSTP-Tunnel-All-DNS: true");
  });

  test("without Full-IPv6-Capability the IPv6 address goes out in the legacy form and IPv6 DNS and routes are dropped", () => {
    const lines = head({
      headers: { "X-CSTP-Full-IPv6-Capability": "false" },
      vhost: { dns: [{ family: 4, address: "10.0.0.53" }, { family: 6, address: "fd00::53" }], route: [route("10.0.0.0/8"), route("fd10::/48")] },
      leases: new LeaseHolder(V4, V6),
    });
    const i = lines.indexOf("X-CSTP-Address: fd00::5:0:0:9");
    expect(i).toBeGreaterThan(0);
    expect(lines[i + 1]).toBe("X-CSTP-Netmask: fd00::/128");
    expect(lines).toContain("X-CSTP-DNS: 10.0.0.53");
    expect(lines.join("\n")).not.toContain("fd00::53");
    expect(lines.join("\n")).not.toContain("fd10::/48");
    expect(lines.some((l) => l.startsWith("X-CSTP-Address-IP6"))).toBe(false);
  });

  test("an Address-Type of IPv6 only suppresses the IPv4 address and IPv4 DNS", () => {
    const lines = head({
      headers: { "X-CSTP-Address-Type": "IPv6" },
      vhost: { dns: [{ family: 4, address: "10.0.0.53" }, { family: 6, address: "fd00::53" }] },
      leases: new LeaseHolder(V4, V6),
    });
    expect(lines.join("\n")).not.toContain("192.168.1.77");
    expect(lines.join("\n")).not.toContain("10.0.0.53");
    expect(lines).toContain("X-CSTP-Address-IP6: fd00::5:0:0:9/128");
    expect(lines).toContain("X-CSTP-DNS: fd00::53");
  });

  test("IPv6 is not offered when the data MTU is below 1280", () => {
    const lines = head({ headers: { "X-CSTP-Base-MTU": "1300" }, leases: new LeaseHolder(V4, V6) });
    expect(lines.some((l) => l.includes("fd00::5:0:0:9"))).toBe(false);
    expect(lines).toContain("X-CSTP-Base-MTU: 1300");
    expect(lines).toContain("X-CSTP-MTU: 1234");
  });

  test("AnyConnect gets IPv6 DNS servers as X-CSTP-DNS-IP6, openconnect as X-CSTP-DNS", () => {
    const dns = [{ family: 4 as const, address: "10.0.0.53" }, { family: 6 as const, address: "fd00::53" }];
    const ac = head({ headers: { "User-Agent": "Cisco AnyConnect Secure Mobility Client 4.10" }, vhost: { dns }, leases: new LeaseHolder(V4, V6) });
    expect(ac).toContain("X-CSTP-DNS: 10.0.0.53");
    expect(ac).toContain("X-CSTP-DNS-IP6: fd00::53");
    const oc = head({ vhost: { dns }, leases: new LeaseHolder(V4, V6) });
    expect(oc).toContain("X-CSTP-DNS: fd00::53");
  });

  test("iOS AnyConnect with full IPv6 and split routes gets 2000::/3 before the routes", () => {
    const lines = head({
      headers: { "User-Agent": "Cisco AnyConnect VPN Agent for Apple iPhone 4.9" },
      vhost: { route: [route("10.0.0.0/8")] },
      leases: new LeaseHolder(V4, V6),
    });
    const i = lines.indexOf("X-CSTP-Split-Include-IP6: 2000::/3");
    expect(i).toBeGreaterThan(0);
    expect(lines[i + 1]).toBe("X-CSTP-Split-Include: 10.0.0.0/255.0.0.0");
    expect(head({ vhost: { route: [route("10.0.0.0/8")] } })).not.toContain("X-CSTP-Split-Include-IP6: 2000::/3");
  });

  test("OpenConnect v3 clients get no IPv6 routes", () => {
    const lines = head({ headers: { "User-Agent": "Open AnyConnect VPN Agent v3.02" }, vhost: { route: [route("fd10::/48"), route("10.0.0.0/8")] } });
    expect(lines.join("\n")).not.toContain("fd10::/48");
    expect(lines).toContain("X-CSTP-Split-Include: 10.0.0.0/255.0.0.0");
  });

  test("mobile clients get mobile-dpd and mobile-idle-timeout", () => {
    const lines = head({
      headers: { "X-AnyConnect-Identifier-Platform": "android" },
      vhost: { "idle-timeout": 1200, "mobile-idle-timeout": 2400, "mobile-dpd": 1800 },
    });
    expect(lines).toContain("X-CSTP-DPD: 1800");
    expect(lines).toContain("X-CSTP-Idle-Timeout: 2400");
    const desk = head({ vhost: { "idle-timeout": 1200, "mobile-idle-timeout": 2400 } });
    expect(desk).toContain("X-CSTP-DPD: 90");
    expect(desk).toContain("X-CSTP-Idle-Timeout: 1200");
  });

  test("dpd = 0 omits X-CSTP-DPD", () => {
    expect(head({ settings: { dpd: 0 } }).some((l) => l.startsWith("X-CSTP-DPD"))).toBe(false);
  });

  test("rekey: TLS 1.2 is always new-tunnel (we never renegotiate), TLS 1.3 ssl advertises a year, rekey-time 0 is none", () => {
    const noSafe = head({ tls: { ...TLS12, safeRenegotiation: false }, fuzz: -29 });
    expect(noSafe).toContain("X-CSTP-Rekey-Time: 172771");
    expect(noSafe).toContain("X-CSTP-Rekey-Method: new-tunnel");
    const safe = head({ tls: TLS12 });
    expect(safe).toContain("X-CSTP-Rekey-Method: new-tunnel");
    const t13 = head({ tls: { version: "TLS1.3", cipherSuite: "TLS_AES_128_GCM_SHA256", safeRenegotiation: false } });
    expect(t13).toContain("X-CSTP-Rekey-Time: 31536000");
    expect(t13).toContain("X-CSTP-Rekey-Method: ssl");
    const t13nt = head({ vhost: { "rekey-method": "new-tunnel" }, tls: { version: "TLS1.3", cipherSuite: "TLS_AES_128_GCM_SHA256", safeRenegotiation: false } });
    expect(t13nt).toContain("X-CSTP-Rekey-Method: new-tunnel");
    const off = head({ vhost: { "rekey-time": 0 } });
    expect(off.some((l) => l.startsWith("X-CSTP-Rekey-Time"))).toBe(false);
    expect(off).toContain("X-CSTP-Rekey-Method: none");
  });

  test("the rekey fuzz is ocserv's (int16) % 30", () => {
    expect(rekeyFuzzFromBytes(new Uint8Array([0, 45]))).toBe(15);
    expect(rekeyFuzzFromBytes(new Uint8Array([0xff, 0xff]))).toBe(-1);
    expect(rekeyFuzzFromBytes(new Uint8Array([0x80, 0x00]))).toBe(-32768 % 30);
  });

  test("session timeout and the time remaining since the original authentication", () => {
    const lines = head({ settings: { "session-timeout": 3600 }, sinceAuth: 600.7 });
    expect(lines).toContain("X-CSTP-Session-Timeout: 3600");
    expect(lines).toContain("X-CSTP-Session-Timeout-Remaining: 3000");
    expect(head({ settings: { "session-timeout": 100 }, sinceAuth: 500 })).toContain("X-CSTP-Session-Timeout-Remaining: 0");
  });

  test("proxy-url and custom headers get %{U} and %{G}; included headers come first; banner last", () => {
    const lines = head({
      vhost: {
        "proxy-url": "http://pac.example/%{U}.pac?g=%{G}",
        "custom-header": ["X-My-User: %{U}", "X-My-Group: %{G}"],
        "included-http-headers": ["Strict-Transport-Security: max-age=31536000"],
        banner: "Welcome",
        "idle-timeout": 600,
        "listen-host-is-dyndns": true,
      },
    });
    expect(lines[1]).toBe("Strict-Transport-Security: max-age=31536000");
    expect(lines).toContain("X-CSTP-MSIE-Proxy-Pac-URL: http://pac.example/alice.pac?g=staff");
    expect(lines).toContain("X-CSTP-Idle-Timeout: 600");
    expect(lines).toContain("X-CSTP-DynDNS: true");
    const lic = lines.indexOf("X-CSTP-License: accept");
    expect(lines.slice(lic + 1, lic + 3)).toEqual(["X-My-User: alice", "X-My-Group: staff"]);
    expect(lines[lines.length - 1]).toBe("X-CSTP-Banner: Welcome");
  });

  test("the DTLS hook's lines sit between the custom headers and the MTU headers", () => {
    let seen: { dpd: number; rekeyTime: number } | null = null;
    const lines = head({
      dtls: (ctx) => {
        seen = { dpd: ctx.dpd, rekeyTime: ctx.rekeyTime };
        return ["X-DTLS-Port: 443"];
      },
    });
    expect(seen!).toEqual({ dpd: 90, rekeyTime: 172810 });
    const i = lines.indexOf("X-DTLS-Port: 443");
    expect(lines[i - 1]).toBe("X-CSTP-License: accept");
    expect(lines[i + 1]).toBe("X-CSTP-Base-MTU: 1500");
  });

  test("the per-user hostname replaces the client's and CR/LF never reach the head", () => {
    expect(head({ hostname: "fixed" })).toContain("X-CSTP-Hostname: fixed");
    const lines = head({ vhost: { "custom-header": ["X-A: %{U}"] }, hostname: null });
    expect(lines.join("\n")).not.toContain("\r");
    expect(substituteUserGroup("%{U}/%{G}", "bob", null)).toBe("bob/");
  });
});

describe("client classification", () => {
  test("hostnames lose their domain, must be alphanumeric with dashes and shorter than 64 bytes", () => {
    expect(cleanHostname("laptop.corp.example")).toBe("laptop");
    expect(cleanHostname("10.1.2.3")).toBe("10.1.2.3");
    expect(cleanHostname("-bad")).toBeNull();
    expect(cleanHostname("bad_name")).toBeNull();
    expect(cleanHostname("a".repeat(63))).toBe("a".repeat(63));
    expect(cleanHostname("a".repeat(64))).toBeNull();
  });

  test("user agents are classified by prefix, case-insensitively", () => {
    expect(classifyAgent("Open AnyConnect VPN Agent v3.02").agent).toBe("openconnect-v3");
    expect(classifyAgent("open anyconnect vpn agent v9.12").agent).toBe("openconnect");
    expect(classifyAgent("AnyConnect-compatible OpenConnect VPN Agent v9").agent).toBe("openconnect");
    expect(classifyAgent("Cisco AnyConnect VPN Agent for Apple iPhone")).toEqual({ agent: "anyconnect", ios: true });
    expect(classifyAgent("AnyConnect Windows 4.10").agent).toBe("anyconnect");
    expect(classifyAgent("curl/8").agent).toBe("unknown");
  });

  test("Base-MTU above 16384 is ignored and the Address-Type header gates each family", () => {
    const c = parseClientInfo(new Map([["X-CSTP-Base-MTU", "20000"], ["X-CSTP-Address-Type", "IPv4"]]), "");
    expect(c.baseMtu).toBe(0);
    expect(c.noIpv4).toBe(false);
    expect(c.noIpv6).toBe(true);
    expect(parseClientInfo(new Map(), "").noIpv6).toBe(false);
  });
});
