// The one contract every TunDevice implementation passes: the Linux device (linux.test.ts) and the
// in-memory double (memory.test.ts). The harness abstracts only the "kernel side": how a packet is
// made to arrive on the device, and how a packet written to the device is observed.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { TunDevice, TunFactory } from "../../src/tun/device.ts";
import { TunError } from "../../src/tun/errors.ts";
import { buildIpv4Udp, parseIpv4, parseUdp } from "./packets.ts";

export interface TunLink {
  /** The device's local address and the peer's (point-to-point). */
  readonly local: string;
  readonly peer: string;
  /** A UDP port on `local` that receives what the device writes. */
  readonly localPort: number;
  /** Makes the kernel side route UDP datagrams to `peer:port` into the device. */
  sendToDevice(payloads: readonly Uint8Array[], port: number): Promise<void>;
  /** Resolves with the payloads of the first `count` UDP datagrams delivered to `local:localPort`. */
  receiveFromDevice(count: number): Promise<Uint8Array[]>;
}

export interface TunHarness {
  readonly factory: TunFactory;
  /** Makes `dev` usable (addresses, link up) and returns its kernel side. */
  attach(dev: TunDevice): Promise<TunLink>;
  dispose(): void;
}

const MTU_BUF = 2048;

function pool(n: number): { bufs: Uint8Array[]; sizes: Int32Array } {
  return { bufs: Array.from({ length: n }, () => new Uint8Array(MTU_BUF)), sizes: new Int32Array(n) };
}

/** Collects UDP payloads to `port` read from `dev` through its readiness callback, until `count`. */
function collect(dev: TunDevice, port: number, count: number, batch = 8, offset = 0): Promise<Uint8Array[]> {
  const { bufs, sizes } = pool(batch);
  const got: Uint8Array[] = [];
  return new Promise((resolve) => {
    dev.onReadable(() => {
      const n = dev.readBatch(bufs, sizes, offset);
      for (let i = 0; i < n; i++) {
        const ip = parseIpv4(bufs[i]!.subarray(offset, offset + sizes[i]!));
        const udp = ip === null ? null : parseUdp(ip);
        if (udp !== null && udp.dport === port) got.push(udp.payload.slice());
      }
      if (got.length >= count) {
        dev.onReadable(null);
        resolve(got);
      }
    });
  });
}

function payload(i: number, len = 100): Uint8Array {
  const p = new Uint8Array(len);
  for (let j = 0; j < len; j++) p[j] = (i * 7 + j) & 0xff;
  return p;
}

export function runTunContract(label: string, makeHarness: () => Promise<TunHarness> | TunHarness): void {
  describe(`TunDevice contract: ${label}`, () => {
    let h: TunHarness;
    beforeAll(async () => {
      h = await makeHarness();
    });
    afterAll(() => {
      h.factory.close();
      h.dispose();
    });

    test("expands the %d pattern, and two devices from one pattern get distinct names", () => {
      const a = h.factory.openTun("ctr%d");
      const b = h.factory.openTun("ctr%d");
      try {
        expect(a.name).toMatch(/^ctr[0-9]+$/);
        expect(b.name).toMatch(/^ctr[0-9]+$/);
        expect(a.name).not.toBe(b.name);
        expect(a.index).not.toBe(b.index);
      } finally {
        a.close();
        b.close();
      }
    });

    test("rejects a pattern longer than IFNAMSIZ or with bad characters as bad-name", () => {
      for (const bad of ["averyveryverylong%d", "bad name%d", "a/b", ""]) {
        let err: unknown;
        try {
          h.factory.openTun(bad).close();
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(TunError);
        expect((err as TunError).code).toBe("bad-name");
      }
    });

    test("readBatch returns 0 when no packet is waiting", async () => {
      const dev = h.factory.openTun("ctr%d");
      try {
        await h.attach(dev);
        const { bufs, sizes } = pool(4);
        expect(dev.readBatch(bufs, sizes, 0)).toBe(0);
      } finally {
        dev.close();
      }
    });

    test("reads each packet whole at the requested offset and leaves the header room untouched", async () => {
      const dev = h.factory.openTun("ctr%d");
      try {
        const link = await h.attach(dev);
        const offset = 32;
        const reading = collect(dev, 4001, 1, 4, offset);
        // Mark the header room so a write into it is visible.
        await link.sendToDevice([payload(1, 300)], 4001);
        const [got] = await reading;
        expect(got).toEqual(payload(1, 300));
        const { bufs, sizes } = pool(2);
        bufs[0]!.fill(0xee);
        await link.sendToDevice([payload(2, 50)], 4001);
        let n = 0;
        for (let tries = 0; n === 0 && tries < 200; tries++) {
          n = dev.readBatch(bufs, sizes, offset);
          if (n === 0) await Bun.sleep(2);
        }
        expect(n).toBe(1);
        expect(sizes[0]).toBe(20 + 8 + 50);
        expect(bufs[0]!.subarray(0, offset).every((b) => b === 0xee)).toBe(true);
        const ip = parseIpv4(bufs[0]!.subarray(offset, offset + sizes[0]!));
        expect(ip?.dst).toBe(link.peer);
        expect(ip?.src).toBe(link.local);
      } finally {
        dev.close();
      }
    });

    test("reads several queued packets in one batch with their boundaries kept", async () => {
      const dev = h.factory.openTun("ctr%d");
      try {
        const link = await h.attach(dev);
        const sent = [payload(10, 64), payload(11, 1000), payload(12, 1)];
        await link.sendToDevice(sent, 4002);
        const { bufs, sizes } = pool(8);
        const got: Uint8Array[] = [];
        for (let tries = 0; got.length < 3 && tries < 200; tries++) {
          const n = dev.readBatch(bufs, sizes, 0);
          for (let i = 0; i < n; i++) {
            const ip = parseIpv4(bufs[i]!.subarray(0, sizes[i]!));
            const udp = ip === null ? null : parseUdp(ip);
            if (udp?.dport === 4002) got.push(udp.payload.slice());
          }
          if (got.length < 3) await Bun.sleep(2);
        }
        expect(got).toEqual(sent);
      } finally {
        dev.close();
      }
    });

    test("keeps calling onReadable until the queue is drained, even when each call reads one packet", async () => {
      const dev = h.factory.openTun("ctr%d");
      try {
        const link = await h.attach(dev);
        const sent = Array.from({ length: 20 }, (_, i) => payload(i, 200));
        const reading = collect(dev, 4003, 20, 1);
        await link.sendToDevice(sent, 4003);
        expect(await reading).toEqual(sent);
      } finally {
        dev.close();
      }
    });

    test("delivers a written packet to the kernel side intact", async () => {
      const dev = h.factory.openTun("ctr%d");
      try {
        const link = await h.attach(dev);
        const receiving = link.receiveFromDevice(2);
        expect(dev.write(buildIpv4Udp(link.peer, link.local, 5555, link.localPort, payload(40, 500)))).toBe(true);
        expect(dev.write(buildIpv4Udp(link.peer, link.local, 5555, link.localPort, payload(41, 20)))).toBe(true);
        expect(await receiving).toEqual([payload(40, 500), payload(41, 20)]);
      } finally {
        dev.close();
      }
    });

    test("makes no callbacks while paused and resumes with the queued packets", async () => {
      const dev = h.factory.openTun("ctr%d");
      try {
        const link = await h.attach(dev);
        let calls = 0;
        dev.pause();
        dev.onReadable(() => calls++);
        await link.sendToDevice([payload(50)], 4004);
        await Bun.sleep(30);
        expect(calls).toBe(0);
        dev.onReadable(null);
        const reading = collect(dev, 4004, 1);
        dev.resume();
        expect(await reading).toEqual([payload(50)]);
      } finally {
        dev.close();
      }
    });

    test("throws TunError closed after close(), and close() is idempotent", () => {
      const dev = h.factory.openTun("ctr%d");
      dev.close();
      dev.close();
      expect(dev.closed).toBe(true);
      const { bufs, sizes } = pool(1);
      expect(() => dev.readBatch(bufs, sizes, 0)).toThrow(TunError);
      let code = "";
      try {
        dev.write(new Uint8Array(20));
      } catch (e) {
        code = (e as TunError).code;
      }
      expect(code).toBe("closed");
    });
  });
}
