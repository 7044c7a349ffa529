import { describe, expect, test } from "bun:test";
import type { DisconnectReason } from "../../src/server/contract.ts";
import { writeCstpHeader } from "../../src/server/tunnel/cstp.ts";
import { ByteBudget, Tunnel, countsAsData, type TunnelOptions } from "../../src/server/tunnel/tunnel.ts";
import { FakeTimers, FakeTransport } from "./fixtures.ts";

function frame(type: number, payload: Uint8Array | number[] = []): Uint8Array {
  const p = payload instanceof Uint8Array ? payload : new Uint8Array(payload);
  const b = new Uint8Array(8 + p.length);
  writeCstpHeader(b, 0, type, p.length);
  b.set(p, 8);
  return b;
}

/** A minimal IPv4 header with the given protocol (1 ICMP, 6 TCP, 17 UDP). */
function ipv4(proto: number, size = 40): Uint8Array {
  const p = new Uint8Array(size);
  p[0] = 0x45;
  p[9] = proto;
  return p;
}

class RecordingTun {
  written: Uint8Array[] = [];
  accept = true;
  write(packet: Uint8Array): boolean {
    if (!this.accept) return false;
    this.written.push(packet.slice());
    return true;
  }
}

function setup(o: Partial<TunnelOptions> = {}) {
  const timers = new FakeTimers();
  const transport = new FakeTransport();
  const tun = new RecordingTun();
  const ends: DisconnectReason[] = [];
  const tunnel = new Tunnel({
    transport,
    tun,
    timers,
    dpd: 90,
    idleTimeout: 0,
    sessionTimeout: 0,
    authTime: timers.now(),
    rxPerSec: 0,
    txPerSec: 0,
    maxPayload: 1756,
    onEnd: (r) => ends.push(r),
    ...o,
  });
  return { timers, transport, tun, ends, tunnel };
}

describe("DTLS from the client", () => {
  test("a DATA packet larger than maxPayload is dropped, also while the tun is blocked, without throwing", () => {
    const { tunnel, tun, ends } = setup({ maxPayload: 1756 });
    tunnel.attachUdp({ send: () => true });
    tunnel.fromDtls(0, ipv4(17, 9000));
    expect(tun.written.length).toBe(0);
    // The tun refuses a packet (EAGAIN): the tunnel holds it and is blocked.
    tun.accept = false;
    tunnel.fromDtls(0, ipv4(17, 1500));
    // An oversized packet now must not overflow the held-packet buffer (RangeError before the fix).
    expect(() => tunnel.fromDtls(0, ipv4(17, 16000))).not.toThrow();
    expect(tunnel.stats.droppedIn).toBe(2);
    expect(ends).toEqual([]);
  });
});

describe("CSTP from the client", () => {
  test("DATA goes to the tun device unchanged", () => {
    const { tunnel, tun } = setup();
    const p = ipv4(17);
    tunnel.receiveRecord(frame(0, p));
    expect(tun.written).toEqual([p]);
    expect(tunnel.stats.bytesIn).toBe(40);
  });

  test("empty DATA packets are ignored", () => {
    const { tunnel, tun } = setup();
    tunnel.receiveRecord(frame(0));
    expect(tun.written).toEqual([]);
  });

  test("a DPD request is echoed with the same bytes and type 4", () => {
    const { tunnel, transport } = setup();
    tunnel.receiveRecord(frame(3, [0xaa, 0xbb, 0xcc]));
    expect(transport.records).toEqual([new Uint8Array([0x53, 0x54, 0x46, 1, 0, 3, 4, 0, 0xaa, 0xbb, 0xcc])]);
  });

  test("BYE with reason 0xb0 is a user disconnect, 0x91 or none a reconnect, anything else an error", () => {
    for (const [payload, reason] of [
      [[0xb0], "user-disconnect"],
      [[0x91], "user-reconnect"],
      [[], "user-reconnect"],
      [[0x01], "error"],
    ] as const) {
      const { tunnel, ends, transport } = setup();
      tunnel.receiveRecord(frame(5, [...payload]));
      expect(ends).toEqual([reason]);
      expect(transport.closed).toBe(1);
      // We never answer a BYE with our own.
      expect(transport.records).toEqual([]);
    }
  });

  test("a bad magic closes the tunnel as an error", () => {
    const { tunnel, ends, transport, tun } = setup();
    const f = frame(0, ipv4(6));
    f[0] = 0x48;
    tunnel.receiveRecord(f);
    expect(ends).toEqual(["error"]);
    expect(transport.closed).toBe(1);
    expect(tun.written).toEqual([]);
  });

  test("COMPRESSED without negotiated compression closes the tunnel", () => {
    const { tunnel, ends } = setup();
    tunnel.receiveRecord(frame(8, [1, 2, 3]));
    expect(ends).toEqual(["error"]);
  });

  test("packets that share or span records are all delivered", () => {
    const { tunnel, tun } = setup();
    const a = frame(0, ipv4(6, 30));
    const b = frame(0, ipv4(17, 50));
    const both = new Uint8Array(a.length + b.length);
    both.set(a);
    both.set(b, a.length);
    tunnel.receiveRecord(both.subarray(0, 45));
    tunnel.receiveRecord(both.subarray(45));
    expect(tun.written.map((p) => p.length)).toEqual([30, 50]);
  });

  test("a tun write that would block pauses the transport until the packet is written", () => {
    const { tunnel, tun, transport, timers } = setup();
    tun.accept = false;
    tunnel.receiveRecord(frame(0, ipv4(6)));
    expect(transport.paused).toBe(1);
    // While blocked, further DATA is dropped rather than queued.
    tunnel.receiveRecord(frame(0, ipv4(17)));
    expect(tunnel.stats.droppedIn).toBe(1);
    timers.advance(5);
    expect(tun.written).toEqual([]);
    tun.accept = true;
    timers.advance(5);
    expect(tun.written.map((p) => p[9])).toEqual([6]);
    expect(transport.resumed).toBe(1);
  });

  test("rx-data-per-sec drops packets over the budget", () => {
    const { tunnel, tun, timers } = setup({ rxPerSec: 100 });
    for (let i = 0; i < 4; i++) tunnel.receiveRecord(frame(0, ipv4(17, 40)));
    expect(tun.written.length).toBe(2);
    expect(tunnel.stats.droppedIn).toBe(2);
    timers.advance(1000);
    tunnel.receiveRecord(frame(0, ipv4(17, 40)));
    expect(tun.written.length).toBe(3);
  });
});

describe("tun to client", () => {
  test("a packet read at offset 8 is framed in place and sent as one record", () => {
    const { tunnel, transport } = setup();
    const buf = new Uint8Array(8 + 1500);
    buf.set(ipv4(6, 60), 8);
    tunnel.fromTun(buf, 60);
    expect(transport.records.length).toBe(1);
    const r = transport.records[0]!;
    expect(r.length).toBe(68);
    expect([...r.subarray(0, 8)]).toEqual([0x53, 0x54, 0x46, 1, 0, 60, 0, 0]);
    expect(r[8]).toBe(0x45);
    expect(tunnel.stats.bytesOut).toBe(60);
  });

  test("tx-data-per-sec drops packets over the budget", () => {
    const { tunnel, transport } = setup({ txPerSec: 100 });
    const buf = new Uint8Array(8 + 1500);
    buf.set(ipv4(6, 60), 8);
    tunnel.fromTun(buf, 60);
    tunnel.fromTun(buf, 60);
    expect(transport.records.length).toBe(1);
    expect(tunnel.stats.droppedOut).toBe(1);
  });

  test("a congested transport pauses the tun reader until it is writable again", () => {
    const flow = { paused: 0, resumed: 0, pause() { this.paused++; }, resume() { this.resumed++; } };
    const { tunnel, transport } = setup({ tunReader: flow });
    tunnel.afterTunBatch();
    expect(flow.paused).toBe(0);
    (transport as { congested?: boolean }).congested = true;
    tunnel.afterTunBatch();
    tunnel.afterTunBatch();
    expect(flow.paused).toBe(1);
    tunnel.transportWritable();
    expect(flow.resumed).toBe(1);
  });

  test("a failing tun write ends the tunnel as an error", () => {
    const { tunnel, ends, tun } = setup();
    tun.write = () => {
      throw new Error("EIO");
    };
    tunnel.receiveRecord(frame(0, ipv4(6)));
    expect(ends).toEqual(["error"]);
  });

  test("nothing is sent after the tunnel ended", () => {
    const { tunnel, transport } = setup();
    tunnel.end("server-disconnect");
    const n = transport.records.length;
    const buf = new Uint8Array(8 + 100);
    buf.set(ipv4(6, 60), 8);
    tunnel.fromTun(buf, 60);
    expect(transport.records.length).toBe(n);
  });
});

describe("timers", () => {
  test("DPD: a request after 2×dpd of silence, teardown after 3×dpd with the cookie kept", () => {
    const { tunnel, transport, timers, ends } = setup({ dpd: 60 });
    timers.advance(119_000);
    tunnel.periodicCheck();
    expect(transport.records).toEqual([]);
    timers.advance(2_000);
    tunnel.periodicCheck();
    expect(transport.records).toEqual([new Uint8Array([0x53, 0x54, 0x46, 1, 0, 0, 3, 0])]);
    // Not repeated on the next check.
    timers.advance(10_000);
    tunnel.periodicCheck();
    expect(transport.records.length).toBe(1);
    timers.advance(50_000);
    tunnel.periodicCheck();
    expect(ends).toEqual(["dpd-timeout"]);
    expect(transport.closed).toBe(1);
    // The server says goodbye with an empty DISCONNECT.
    expect(transport.records.at(-1)).toEqual(new Uint8Array([0x53, 0x54, 0x46, 1, 0, 0, 5, 0]));
  });

  test("any received packet, a keepalive included, resets DPD", () => {
    const { tunnel, timers, ends } = setup({ dpd: 60 });
    for (let i = 0; i < 10; i++) {
      timers.advance(100_000);
      tunnel.receiveRecord(frame(7));
      tunnel.periodicCheck();
    }
    expect(ends).toEqual([]);
  });

  test("idle-timeout ignores ICMP but counts other data in both directions", () => {
    const { tunnel, timers, ends } = setup({ dpd: 0, idleTimeout: 300 });
    timers.advance(200_000);
    tunnel.receiveRecord(frame(0, ipv4(6)));
    timers.advance(200_000);
    const buf = new Uint8Array(8 + 100);
    buf.set(ipv4(17, 40), 8);
    tunnel.fromTun(buf, 40);
    timers.advance(200_000);
    tunnel.receiveRecord(frame(0, ipv4(1)));
    tunnel.periodicCheck();
    expect(ends).toEqual([]);
    timers.advance(101_000);
    tunnel.periodicCheck();
    expect(ends).toEqual(["idle-timeout"]);
  });

  test("session-timeout counts from the original authentication", () => {
    const timers0 = new FakeTimers();
    const { tunnel, timers, ends } = setup({ sessionTimeout: 3600, authTime: timers0.now() - 3500_000, dpd: 0 });
    timers.advance(90_000);
    tunnel.periodicCheck();
    expect(ends).toEqual([]);
    timers.advance(20_000);
    tunnel.periodicCheck();
    expect(ends).toEqual(["session-timeout"]);
  });

  test("the transport closing ends the tunnel once, as an error", () => {
    const { tunnel, ends, transport } = setup();
    tunnel.transportClosed();
    tunnel.transportClosed();
    tunnel.end("server-disconnect");
    expect(ends).toEqual(["error"]);
    expect(transport.closed).toBe(0);
  });
});

describe("helpers", () => {
  test("countsAsData skips ICMP, IGMP and ICMPv6", () => {
    expect(countsAsData(ipv4(1), 0, 40)).toBe(false);
    expect(countsAsData(ipv4(2), 0, 40)).toBe(false);
    expect(countsAsData(ipv4(6), 0, 40)).toBe(true);
    const v6 = new Uint8Array(40);
    v6[0] = 0x60;
    v6[6] = 58;
    expect(countsAsData(v6, 0, 40)).toBe(false);
    v6[6] = 17;
    expect(countsAsData(v6, 0, 40)).toBe(true);
  });

  test("the byte budget refills over time up to one second's worth", () => {
    const b = new ByteBudget(1000, 0);
    expect(b.allow(1000, 0)).toBe(true);
    expect(b.allow(1, 0)).toBe(false);
    expect(b.allow(500, 500)).toBe(true);
    expect(b.allow(1000, 100_000)).toBe(true);
    expect(b.allow(1, 100_000)).toBe(false);
    expect(new ByteBudget(0, 0).allow(1e9, 0)).toBe(true);
  });
});

describe("TLS 1.3 rekey", () => {
  test("with a rekey time the server asks for a KeyUpdate once per period, and never without one", () => {
    const { tunnel, transport, timers } = setup({ tlsRekeyTime: 60, dpd: 0 });
    timers.advance(59_000);
    tunnel.periodicCheck();
    expect(transport.keyUpdates).toBe(0);
    timers.advance(1_000);
    tunnel.periodicCheck();
    expect(transport.keyUpdates).toBe(1);
    tunnel.periodicCheck();
    expect(transport.keyUpdates).toBe(1);
    timers.advance(60_000);
    tunnel.periodicCheck();
    expect(transport.keyUpdates).toBe(2);
    const off = setup({ dpd: 0 });
    off.timers.advance(10 * 86_400_000);
    off.tunnel.periodicCheck();
    expect(off.transport.keyUpdates).toBe(0);
  });
});

describe("the DTLS channel", () => {
  class RecordingUdp {
    sent: { type: number; data: Uint8Array }[] = [];
    accept = true;
    send(type: number, buf: Uint8Array, offset: number, len: number): boolean {
      if (!this.accept) return false;
      this.sent.push({ type, data: buf.slice(offset, offset + len) });
      return true;
    }
  }
  function tunPacket(p: Uint8Array): Uint8Array {
    const b = new Uint8Array(8 + p.length);
    b.set(p, 8);
    return b;
  }

  test("tun packets go over DTLS once it is established, and over CSTP before", () => {
    const { tunnel, transport } = setup();
    const udp = new RecordingUdp();
    tunnel.attachUdp(udp);
    const p = ipv4(17);
    tunnel.fromTun(tunPacket(p), p.length);
    expect(transport.records.length).toBe(1);
    tunnel.udpEstablished();
    tunnel.fromTun(tunPacket(p), p.length);
    expect(udp.sent).toEqual([{ type: 0, data: p }]);
    expect(transport.records.length).toBe(1);
  });

  test("DATA on CSTP while DTLS is active moves output back to CSTP until DTLS is heard again", () => {
    const { tunnel, transport, tun } = setup();
    const udp = new RecordingUdp();
    tunnel.attachUdp(udp);
    tunnel.udpEstablished();
    const p = ipv4(17);
    tunnel.receiveRecord(frame(0, p));
    tunnel.fromTun(tunPacket(p), p.length);
    expect(udp.sent.length).toBe(0);
    expect(transport.records.length).toBe(1);
    tunnel.fromDtls(0, p);
    expect(tun.written.length).toBe(2);
    tunnel.fromTun(tunPacket(p), p.length);
    expect(udp.sent.length).toBe(1);
  });

  test("no UDP for switch-to-tcp-timeout sends over CSTP; a refused DTLS send falls back too", () => {
    const { tunnel, transport, timers } = setup({ switchToTcpTimeout: 25 });
    const udp = new RecordingUdp();
    tunnel.attachUdp(udp);
    tunnel.udpEstablished();
    const p = ipv4(17);
    timers.advance(26_000);
    tunnel.fromTun(tunPacket(p), p.length);
    expect(udp.sent.length).toBe(0);
    expect(transport.records.length).toBe(1);
    tunnel.fromDtls(7, new Uint8Array(0)); // a keepalive: UDP is alive again
    udp.accept = false;
    tunnel.fromTun(tunPacket(p), p.length);
    expect(transport.records.length).toBe(2);
  });

  test("a DISCONNECT over DTLS ends the tunnel with the BYE reason", () => {
    const { tunnel, ends } = setup();
    tunnel.attachUdp(new RecordingUdp());
    tunnel.udpEstablished();
    tunnel.fromDtls(5, Uint8Array.of(0xb0));
    expect(ends).toEqual(["user-disconnect"]);
  });

  test("UDP silence past 2×dpd sends a DTLS DPD request and past 3×dpd gives up on DTLS", () => {
    const { tunnel, transport, timers } = setup({ dpd: 10 });
    const udp = new RecordingUdp();
    tunnel.attachUdp(udp);
    tunnel.udpEstablished();
    timers.advance(21_000);
    tunnel.receiveRecord(frame(7)); // CSTP stays alive
    tunnel.periodicCheck();
    expect(udp.sent.map((s) => s.type)).toEqual([3]);
    timers.advance(10_000);
    tunnel.receiveRecord(frame(7));
    tunnel.periodicCheck();
    const p = ipv4(17);
    tunnel.fromTun(tunPacket(p), p.length);
    expect(udp.sent.length).toBe(1);
    expect(transport.records.at(-1)![6]).toBe(0);
  });
});
