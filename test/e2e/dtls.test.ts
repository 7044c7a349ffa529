// The real `openconnect` client's DTLS modes against the compiled server. Each test shows the client
// establishing DTLS and traffic crossing the UDP channel (an nftables counter on the server's UDP port
// in the server namespace), plus the fallbacks: UDP blocked mid-session, and the client's UDP source
// port changing mid-session (NAT rebinding).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Lab, canRunE2E, run, sh, waitFor, type Server } from "./harness.ts";
import { iperfMbps, openLab, udpByteCounter, withServer as serveDuring, type Certs } from "./helpers.ts";

const suite = canRunE2E && Bun.which("nft") !== null ? describe : describe.skip;

suite("openconnect over DTLS", () => {
  let lab: Lab;
  let certs: Certs;
  let net: number;
  let udpBytes: () => Promise<number>;

  beforeAll(async () => {
    ({ lab, certs, net } = await openLab());
    lab.write("passwd", await lab.passwdLine("test", "secret"));
    // Count UDP bytes reaching the server's port inside the server namespace.
    udpBytes = await udpByteCounter(lab.srvNs, "dport");
  }, 60_000);

  afterAll(async () => {
    await lab?.close();
  });

  const withServer = <T>(extra: string, body: (server: Server) => Promise<T>): Promise<T> => serveDuring(lab, certs, extra, body);

  const iperf = (reverse: boolean): Promise<number> => iperfMbps(lab, `10.${net}.0.1`, reverse);

  const modes: [string, string[], RegExp][] = [
    ["PSK-NEGOTIATE (openconnect's default)", [], /\(DTLS1\.2\)-\(PSK\)-\(AES-(128|256)-GCM\)/],
    ["legacy OC-DTLS1_2-AES256-GCM", ["--dtls-ciphers=OC-DTLS1_2-AES256-GCM"], /\(DTLS1\.2\)-\(RSA\)-\(AES-256-GCM\)/],
    ["legacy OC-DTLS1_2-AES128-GCM", ["--dtls-ciphers=OC-DTLS1_2-AES128-GCM"], /\(DTLS1\.2\)-\(RSA\)-\(AES-128-GCM\)/],
    ["legacy DTLS 0.9 AES256-SHA", ["--dtls-ciphers=AES256-SHA"], /\(DTLS0\.9\)-\(RSA\)-\(AES-256-CBC\)-\(SHA1\)/],
    ["legacy DTLS 0.9 AES128-SHA", ["--dtls-ciphers=AES128-SHA"], /\(DTLS0\.9\)-\(RSA\)-\(AES-128-CBC\)-\(SHA1\)/],
  ];

  for (const [name, args, suiteRe] of modes) {
    test(`${name}: DTLS is established and ping and iperf3 cross the UDP channel`, async () => {
      await withServer("", async () => {
        const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args });
        expect(c.up).toBe(true);
        expect(await waitFor(() => c.log().includes("Established DTLS connection"), 5000)).toBe(true);
        expect(c.log()).toMatch(suiteRe);
        const before = await udpBytes();
        expect(await lab.ping(lab.cliNs, `10.${net}.0.1`, 3)).toBe(true);
        expect(await iperf(false)).toBeGreaterThan(1);
        expect(await iperf(true)).toBeGreaterThan(1);
        // The bulk of the upload went over UDP: at least a few megabytes more than before.
        expect((await udpBytes()) - before).toBeGreaterThan(2_000_000);
        await c.stop();
      });
    }, 60_000);
  }

  test("UDP blocked mid-session: traffic keeps flowing over TLS", async () => {
    await withServer("dpd = 2\nswitch-to-tcp-timeout = 2\n", async () => {
      const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--force-dpd=2"] });
      expect(c.up).toBe(true);
      expect(await waitFor(() => c.log().includes("Established DTLS connection"), 5000)).toBe(true);
      expect(await lab.ping(lab.cliNs, `10.${net}.0.1`, 2)).toBe(true);
      // Drop all UDP between the hosts, in the client namespace.
      const block = await sh(`ip netns exec ${lab.cliNs} nft -f - <<'EOF'
table inet block {
  chain out { type filter hook output priority 0; udp dport 4443 drop; }
  chain in { type filter hook input priority 0; udp sport 4443 drop; }
}
EOF`);
      expect(block.code).toBe(0);
      try {
        // Within a few DPD periods both sides fall back to CSTP; ping must then succeed again.
        const ok = await waitFor(() => lab.ping(lab.cliNs, `10.${net}.0.1`, 1), 20_000, 500);
        expect(ok).toBe(true);
        expect(await lab.ping(lab.srvNs, (await lab.ifaceAddr(lab.cliNs, c.iface))!, 2)).toBe(true);
        expect(await iperf(true)).toBeGreaterThan(1);
      } finally {
        await sh(`ip netns exec ${lab.cliNs} nft delete table inet block`);
      }
      await c.stop();
    });
  }, 90_000);

  test("the client's UDP source port changes mid-session: the session follows it and stays on DTLS", async () => {
    await withServer("", async (server) => {
      const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: [] });
      expect(c.up).toBe(true);
      expect(await waitFor(() => c.log().includes("Established DTLS connection"), 5000)).toBe(true);
      expect(await lab.ping(lab.cliNs, `10.${net}.0.1`, 2)).toBe(true);
      // The client's UDP socket towards the server.
      const ss = await run(["ip", "netns", "exec", lab.cliNs, "ss", "-unHp", "dst", `${lab.srvIp}:4443`]);
      const local = /\s(\S+):(\d+)\s+\S+:4443\s/.exec(ss.stdout);
      expect(local).not.toBeNull();
      const port = Number(local![2]);
      const moved = port === 40404 ? 40405 : 40404;
      // Stateless rewrite, like a NAT that rebinds: outgoing source port → `moved`, replies back.
      const nat = await sh(`ip netns exec ${lab.cliNs} nft -f - <<'EOF'
table ip rebind {
  chain out { type filter hook output priority -300; udp dport 4443 udp sport ${port} udp sport set ${moved}; }
  chain in { type filter hook prerouting priority -300; udp sport 4443 udp dport ${moved} udp dport set ${port}; }
}
EOF`);
      expect(nat.code).toBe(0);
      try {
        const before = await udpBytes();
        expect(await waitFor(() => lab.ping(lab.cliNs, `10.${net}.0.1`, 1), 10_000, 300)).toBe(true);
        expect(await iperf(true)).toBeGreaterThan(1);
        expect(await iperf(false)).toBeGreaterThan(1);
        expect((await udpBytes()) - before).toBeGreaterThan(2_000_000);
        // The server followed the session to the new port.
        expect(server.log()).toContain(`DTLS peer moved to ${lab.cliIp}:${moved}`);
      } finally {
        await sh(`ip netns exec ${lab.cliNs} nft delete table ip rebind`);
      }
      await c.stop();
    });
  }, 90_000);
});
