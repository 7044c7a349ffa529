// MTU over DTLS with the real `openconnect` client (protocol.md §5.1): the data MTU the server advertises
// for a client's --base-mtu, full-size packets with DF crossing the tunnel at exactly that size, and
// try-mtu-discovery lowering the server's tun MTU when the path between the hosts is narrower than the
// link MTU the client claimed (the kernel refuses the server's DTLS datagrams with EMSGSIZE).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Lab, canRunE2E, run, sh, waitFor } from "./harness.ts";
import { openLab, udpByteCounter, withServer, type Certs } from "./helpers.ts";

const suite = canRunE2E && Bun.which("nft") !== null ? describe : describe.skip;

suite("MTU over DTLS", () => {
  let lab: Lab;
  let certs: Certs;
  let net: number;
  let udpBytesFromServer: () => Promise<number>;

  beforeAll(async () => {
    ({ lab, certs, net } = await openLab());
    lab.write("passwd", await lab.passwdLine("test", "secret"));
    // Count the server's UDP bytes arriving in the client namespace: what crossed DTLS towards the client.
    udpBytesFromServer = await udpByteCounter(lab.cliNs, "sport");
  }, 60_000);

  afterAll(async () => {
    await lab?.close();
  });

  async function linkMtus(ns: string): Promise<Map<string, number>> {
    const r = await run(["ip", "-n", ns, "-j", "link", "show"]);
    const out = new Map<string, number>();
    for (const l of JSON.parse(r.stdout) as { ifname: string; mtu: number }[]) out.set(l.ifname, l.mtu);
    return out;
  }

  /** The server's tun device (device = vpns → vpns0, ...) MTU. */
  async function serverTunMtu(): Promise<number | null> {
    for (const [name, mtu] of await linkMtus(lab.srvNs)) if (name.startsWith("vpns")) return mtu;
    return null;
  }

  /** Sets the MTU of the veth between the namespaces on both ends: the path MTU of the DTLS datagrams. */
  async function setPathMtu(mtu: number): Promise<void> {
    for (const ns of [lab.srvNs, lab.cliNs]) {
      for (const name of (await linkMtus(ns)).keys()) {
        if (name.startsWith("ve")) expect((await sh(`ip -n ${ns} link set ${name} mtu ${mtu}`)).code).toBe(0);
      }
    }
  }

  async function pingDf(ns: string, target: string, size: number, df: boolean): Promise<boolean> {
    const r = await run(["ip", "netns", "exec", ns, "ping", "-c", "2", "-i", "0.3", "-W", "2", "-s", String(size), ...(df ? ["-M", "do"] : []), target], { timeoutMs: 15_000 });
    return r.code === 0;
  }

  test("--base-mtu=1300 gives data MTU 1234 on both tun devices, and 1234-byte DF pings cross DTLS both ways", async () => {
    await withServer(lab, certs, "", async () => {
      const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--base-mtu=1300", "-v"] });
      expect(c.up).toBe(true);
      expect(await waitFor(() => c.log().includes("Established DTLS connection"), 5000)).toBe(true);
      // PSK with the TLS session's AES-GCM: 1300 − (1 + 37) − (20 + 8) = 1234 (protocol.md §5.1).
      expect(c.log()).toMatch(/X-CSTP-MTU: 1234/);
      expect(c.log()).toMatch(/X-CSTP-Base-MTU: 1300/);
      expect((await linkMtus(lab.cliNs)).get(c.iface)).toBe(1234);
      expect(await serverTunMtu()).toBe(1234);
      // 1234-byte IP packets (1206 bytes of ICMP payload) with DF: the largest that fit, in both directions.
      const before = await udpBytesFromServer();
      expect(await pingDf(lab.cliNs, `10.${net}.0.1`, 1234 - 28, true)).toBe(true);
      // The two full-size echo replies came back over DTLS, not CSTP.
      expect((await udpBytesFromServer()) - before).toBeGreaterThanOrEqual(2 * 1234);
      const clientIp = await lab.ifaceAddr(lab.cliNs, c.iface);
      expect(clientIp).not.toBeNull();
      expect(await pingDf(lab.srvNs, clientIp!, 1234 - 28, true)).toBe(true);
      // One byte more does not fit the tunnel.
      expect(await pingDf(lab.cliNs, `10.${net}.0.1`, 1234 - 27, true)).toBe(false);
      await c.stop();
    });
  }, 60_000);

  test("try-mtu-discovery: a path narrower than the claimed link MTU lowers the server's tun MTU, and big packets still get through", async () => {
    await setPathMtu(1200);
    try {
      await withServer(lab, certs, "try-mtu-discovery = true\n", async () => {
        // The client claims a 1500-byte link; the real path takes 1200-byte datagrams.
        const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--base-mtu=1500"] });
        expect(c.up).toBe(true);
        expect(await waitFor(() => c.log().includes("Established DTLS connection"), 5000)).toBe(true);
        const clientIp = await lab.ifaceAddr(lab.cliNs, c.iface);
        expect(clientIp).not.toBeNull();
        // Large pings from the server: its DTLS datagrams exceed 1200, the kernel refuses them (DF set), and
        // the server lowers the tun MTU until the kernel fragments the pings into pieces that fit.
        const passed = await waitFor(() => pingDf(lab.srvNs, clientIp!, 1400, false), 30_000, 200);
        expect(passed).toBe(true);
        const mtu = await serverTunMtu();
        expect(mtu).not.toBeNull();
        // Below what was advertised (1500 − 66 = 1434) and small enough for the path: 1200 − 66.
        expect(mtu!).toBeLessThan(1434);
        expect(mtu!).toBeLessThanOrEqual(1200 - 66);
        await c.stop();
      });
    } finally {
      await setPathMtu(1500);
    }
  }, 90_000);

  test("without try-mtu-discovery the same narrow path keeps the advertised tun MTU (the kernel fragments the datagrams)", async () => {
    await setPathMtu(1200);
    try {
      await withServer(lab, certs, "", async () => {
        const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--base-mtu=1500"] });
        expect(c.up).toBe(true);
        expect(await waitFor(() => c.log().includes("Established DTLS connection"), 5000)).toBe(true);
        const clientIp = await lab.ifaceAddr(lab.cliNs, c.iface);
        expect(await waitFor(() => pingDf(lab.srvNs, clientIp!, 1400, false), 15_000, 200)).toBe(true);
        expect(await serverTunMtu()).toBe(1434);
        await c.stop();
      });
    } finally {
      await setPathMtu(1500);
    }
  }, 60_000);
});
