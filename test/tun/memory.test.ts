import { describe, expect, test } from "bun:test";
import type { TunDevice } from "../../src/tun/device.ts";
import { MemoryTun, MemoryTunFactory } from "../../src/tun/memory.ts";
import { runTunContract, type TunHarness } from "./contract.ts";
import { buildIpv4Udp, parseIpv4, parseUdp } from "./packets.ts";

function memoryHarness(): TunHarness {
  const factory = new MemoryTunFactory();
  return {
    factory,
    async attach(dev: TunDevice) {
      if (!(dev instanceof MemoryTun)) throw new Error("not a MemoryTun");
      const local = "10.99.0.1";
      const peer = "10.99.0.2";
      const localPort = 7000;
      return {
        local,
        peer,
        localPort,
        async sendToDevice(payloads, port) {
          for (const p of payloads) dev.inject(buildIpv4Udp(local, peer, 40000, port, p));
        },
        async receiveFromDevice(count) {
          const got: Uint8Array[] = [];
          while (got.length < count) {
            for (const pkt of dev.takeWritten()) {
              const ip = parseIpv4(pkt);
              const udp = ip === null ? null : parseUdp(ip);
              if (ip?.dst === local && udp?.dport === localPort) got.push(udp.payload.slice());
            }
            if (got.length < count) await Bun.sleep(1);
          }
          return got;
        },
      };
    },
    dispose() {},
  };
}

runTunContract("in-memory double", memoryHarness);

describe("MemoryTun specifics", () => {
  test("drops injected packets beyond the queue length, like a full tun txqueue", () => {
    const f = new MemoryTunFactory({ queueLength: 2 });
    const t = f.openTun("m%d");
    expect(t.inject(new Uint8Array(20))).toBe(true);
    expect(t.inject(new Uint8Array(20))).toBe(true);
    expect(t.inject(new Uint8Array(20))).toBe(false);
    expect(t.pending).toBe(2);
    f.close();
  });

  test("write returns false once the kernel side's capacity is reached", () => {
    const f = new MemoryTunFactory({ writeCapacity: 1 });
    const t = f.openTun("m%d");
    expect(t.write(new Uint8Array(20))).toBe(true);
    expect(t.write(new Uint8Array(20))).toBe(false);
    expect(t.takeWritten().length).toBe(1);
    expect(t.write(new Uint8Array(20))).toBe(true);
    f.close();
  });

  test("reuses the lowest free number after a device closes, as the kernel does", () => {
    const f = new MemoryTunFactory();
    const a = f.openTun("m%d");
    const b = f.openTun("m%d");
    expect([a.name, b.name]).toEqual(["m0", "m1"]);
    a.close();
    expect(f.openTun("m%d").name).toBe("m0");
    f.close();
  });
});
