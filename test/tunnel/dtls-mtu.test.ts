import { test, expect, describe } from "bun:test";
import { randomBytes } from "../../src/crypto/index.ts";
import { PacketType, type DtlsSelection } from "../../src/dtls/index.ts";
import { DtlsService } from "../../src/server/dtls-service.ts";
import type { Logger } from "../../src/log/types.ts";
import { enterNetns } from "../../src/net/netns.ts";
import { createBoundSocket } from "../../src/net/sockets.ts";
import { openUdp } from "../../src/net/udp.ts";
import type { Tunnel, UdpChannel } from "../../src/server/tunnel/tunnel.ts";
import { DTLS1_2, TestClient } from "../dtls/client.ts";
import { configOf, globalOptions, vhostOptions } from "./fixtures.ts";

const quiet: Logger = {
  error() {},
  warn() {},
  info() {},
  debug() {},
  trace() {},
  child: () => quiet,
  level: 1,
} as unknown as Logger;

/** A DtlsService on loopback with one PSK session whose tun MTU changes are recorded. */
async function setup(o: { configuredMtu?: number } = {}) {
  const port = await (async () => {
    const s = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
    const p = s.port;
    s.close();
    return p;
  })();
  const config = configOf(vhostOptions(), globalOptions({ "udp-port": port, "udp-listen-host": "127.0.0.1" }));
  const svc = (await DtlsService.start(() => config, quiet))!;
  const key = randomBytes(32);
  const sessionId = randomBytes(32);
  const sel: DtlsSelection = { kind: "psk", sessionId, allowedSuites: null, cryptoOverhead: 37 };
  let channel: UdpChannel | null = null;
  const tunnel = {
    attachUdp: (c: UdpChannel) => (channel = c),
    udpEstablished() {},
    udpLost() {},
    fromDtls() {},
  } as unknown as Tunnel;
  const tunMtus: number[] = [];
  // IPv4 PSK with AES-256-GCM: link 1300 ↔ data 1234.
  const attached = svc.attachSelection(sel, { exportKeyingMaterial: () => key }, tunnel, 1234, {
    linkMtu: 1300,
    minMtu: 800,
    peerIsIpv6: false,
    configuredMtu: o.configuredMtu ?? 0,
    readCapacity: 1500,
    setTunMtu: (m) => tunMtus.push(m),
  });
  const client = new TestClient({ kind: "psk", version: DTLS1_2, sessionId, psk: key, suites: [0x00a9] });
  const inbox: Uint8Array[] = [];
  const sock = await Bun.udpSocket({
    hostname: "127.0.0.1",
    port: 0,
    binaryType: "uint8array",
    socket: { data: (_s, d) => void inbox.push(d.slice()) },
  });
  /** Sends datagrams to the service and returns what comes back within a short while. */
  async function exchange(ds: Uint8Array[]): Promise<Uint8Array[]> {
    for (const d of ds) sock.send(d, port, "127.0.0.1");
    for (let i = 0; i < 50 && inbox.length === 0; i++) await Bun.sleep(10);
    await Bun.sleep(20);
    return inbox.splice(0);
  }
  // Handshake until the client has nothing more to send.
  let out = client.hello();
  for (let round = 0; round < 10 && out.length > 0; round++) {
    const back = await exchange(out);
    out = back.flatMap((d) => client.receive(d).send);
  }
  return {
    client,
    exchange,
    tunMtus,
    channel: () => channel!,
    close() {
      attached.detach();
      svc.close();
      sock.close();
    },
  };
}

describe("the DTLS service applies MTU probes to the session and the tun device (protocol.md §4.4)", () => {
  test("a DPD-REQ larger than the data MTU is echoed in full and sets the tun MTU to its size", async () => {
    const s = await setup();
    try {
      const probe = new Uint8Array(1400).fill(9);
      const back = await s.exchange([s.client.send(PacketType.DPD_REQ, probe)]);
      const data = back.flatMap((d) => s.client.receive(d).data);
      expect(data).toEqual([{ type: PacketType.DPD_RESP, payload: probe }]);
      expect(s.tunMtus).toEqual([1400]);
      // Packets up to the new data MTU now go over DTLS; one byte more falls back to CSTP.
      const buf = new Uint8Array(8 + 1401);
      expect(s.channel().send(PacketType.DATA, buf, 8, 1400)).toBe(true);
      expect(s.channel().send(PacketType.DATA, buf, 8, 1401)).toBe(false);
    } finally {
      s.close();
    }
  });

  test("a probe beyond the configured mtu leaves the tun alone and gets a 1-byte answer", async () => {
    const s = await setup({ configuredMtu: 1300 });
    try {
      const back = await s.exchange([s.client.send(PacketType.DPD_REQ, new Uint8Array(1301))]);
      expect(back.flatMap((d) => s.client.receive(d).data)).toEqual([{ type: PacketType.DPD_RESP, payload: new Uint8Array(0) }]);
      expect(s.tunMtus).toEqual([]);
      // A probe within it still raises: 1234 → 1300.
      await s.exchange([s.client.send(PacketType.DPD_REQ, new Uint8Array(1300))]);
      expect(s.tunMtus).toEqual([1300]);
    } finally {
      s.close();
    }
  });

  test("a DPD-REQ within the data MTU changes nothing", async () => {
    const s = await setup();
    try {
      const back = await s.exchange([s.client.send(PacketType.DPD_REQ, new Uint8Array(100))]);
      expect(back.flatMap((d) => s.client.receive(d).data)).toHaveLength(1);
      expect(s.tunMtus).toEqual([]);
    } finally {
      s.close();
    }
  });
});

describe("try-mtu-discovery through the DTLS service: the kernel's EMSGSIZE lowers the MTU (protocol.md §5.1)", () => {
  // A namespace whose loopback has MTU 1280: every datagram the service sends to the client there
  // travels a 1280-byte path, and the service's socket has IP_PMTUDISC_DO.
  test("a refused full-size datagram lowers the tun MTU to two thirds, and full-size sends search back up", async () => {
    const ns = `ocs-dmtu-${process.pid}`;
    expect(Bun.spawnSync(["ip", "netns", "add", ns]).exitCode).toBe(0);
    try {
      expect(Bun.spawnSync(["ip", "-n", ns, "link", "set", "lo", "mtu", "1280", "up"]).exitCode).toBe(0);
      const h = enterNetns(ns);
      let serverFd: number;
      let clientFd: number;
      let serverPort: number;
      try {
        const b = createBoundSocket({ type: "udp", address: "127.0.0.1", port: 0, mtuDiscover: "do" });
        serverFd = b.fd;
        serverPort = b.port;
        clientFd = createBoundSocket({ type: "udp", address: "127.0.0.1", port: 0 }).fd;
      } finally {
        h.restore();
      }
      const config = configOf(vhostOptions(), globalOptions({ "udp-port": serverPort, "udp-listen-host": "127.0.0.1", "try-mtu-discovery": true }));
      const svc = (await DtlsService.start(() => config, quiet, { fd: serverFd }))!;
      const inbox: Uint8Array[] = [];
      const cli = await openUdp({ fd: clientFd }, { datagram: (d) => void inbox.push(d.slice()) });
      const key = randomBytes(32);
      const sessionId = randomBytes(32);
      let channel: UdpChannel | null = null;
      const tunnel = { attachUdp: (c: UdpChannel) => (channel = c), udpEstablished() {}, udpLost() {}, fromDtls() {} } as unknown as Tunnel;
      const tunMtus: number[] = [];
      const attached = svc.attachSelection({ kind: "psk", sessionId, allowedSuites: null, cryptoOverhead: 37 }, { exportKeyingMaterial: () => key }, tunnel, 1434, {
        linkMtu: 1500,
        minMtu: 800,
        peerIsIpv6: false,
        configuredMtu: 0,
        readCapacity: 1500,
        setTunMtu: (m) => tunMtus.push(m),
      });
      try {
        const client = new TestClient({ kind: "psk", version: DTLS1_2, sessionId, psk: key, suites: [0x00a9] });
        let out = client.hello();
        for (let round = 0; round < 10 && out.length > 0; round++) {
          for (const d of out) cli.queue(d, serverPort, "127.0.0.1");
          cli.flush();
          for (let i = 0; i < 50 && inbox.length === 0; i++) await Bun.sleep(10);
          await Bun.sleep(20);
          out = inbox.splice(0).flatMap((d) => client.receive(d).send);
        }
        const buf = new Uint8Array(8 + 1500);
        /** One full-size DATA packet at the current data MTU, then the flush (a microtask) runs. */
        const sendFull = async (): Promise<void> => {
          const mtu = tunMtus.at(-1) ?? 1434;
          expect(channel!.send(PacketType.DATA, buf, 8, mtu)).toBe(true);
          await Bun.sleep(5);
        };
        await sendFull(); // 1434 + 38 + 28 = 1500 > 1280: refused → link 1000, data 934
        expect(tunMtus).toEqual([934]);
        await sendFull(); // accepted → link (1000 + 1500) / 2 = 1250, data 1184
        await sendFull(); // 1250 fits → link 1375, data 1309
        await sendFull(); // 1375 > 1280: refused → back to the last good link 1250, data 1184
        expect(tunMtus).toEqual([934, 1184, 1309, 1184]);
        // What got through was the full-size packets that fit.
        const got = inbox.splice(0).flatMap((d) => client.receive(d).data.map((x) => x.payload.length));
        expect(got).toEqual([934, 1184]);
      } finally {
        attached.detach();
        svc.close();
        cli.close();
      }
    } finally {
      Bun.spawnSync(["ip", "netns", "del", ns]);
    }
  });
});
