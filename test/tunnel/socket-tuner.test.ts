// The tunnel manager's socket-option hook at CONNECT: net-priority (per user) and output-buffer (per
// vhost, SO_SNDBUF = link MTU × N) reach the SocketTuner only when set, and a failing tuner never costs
// the session.
import { describe, expect, test } from "bun:test";
import type { NetPriority, SessionSettings, VhostOptions } from "../../src/config/types.ts";
import type { TunnelTransport } from "../../src/server/contract.ts";
import { TunnelManagerImpl, type SocketTuner } from "../../src/server/tunnel/manager.ts";
import { FakeTransport, configOf, globalOptions, managerFakes, sessionRecord, settingsOf, vhostOptions } from "./fixtures.ts";

interface Call {
  readonly transport: TunnelTransport;
  readonly priority: NetPriority | null;
  readonly sendBuffer: number;
}

class RecordingTuner implements SocketTuner {
  readonly calls: Call[] = [];
  failWith: Error | null = null;
  apply(transport: TunnelTransport, opts: { readonly priority: NetPriority | null; readonly sendBuffer: number }): void {
    this.calls.push({ transport, ...opts });
    if (this.failWith) throw this.failWith;
  }
}

const HEADERS = new Map([["User-Agent", "Open AnyConnect VPN Agent v9.12"]]);

function setup(vhost: Partial<VhostOptions>, user: Partial<SessionSettings>) {
  const v = vhostOptions(vhost);
  const tuner = new RecordingTuner();
  const warnings: string[] = [];
  const fakes = managerFakes();
  const { net } = fakes;
  const manager = new TunnelManagerImpl({
    ...fakes,
    config: () => configOf(v, globalOptions()),
    settingsFor: async () => ({ kind: "ok", settings: settingsOf(v, user) }),
    socketTuner: tuner,
    log: { info() {}, warn: (m) => warnings.push(m) },
  });
  let n = 0;
  const connect = async () => {
    const transport = new FakeTransport();
    const out = await manager.connect({ session: sessionRecord({ safeId: `s${n++}` }), headers: HEADERS, transport });
    return { out, transport };
  };
  return { manager, tuner, warnings, connect, net };
}

describe("socket options at CONNECT", () => {
  test("with net-priority and output-buffer unset, the tuner is never called", async () => {
    const s = setup({}, {});
    const { out } = await s.connect();
    expect(out.ok).toBe(true);
    expect(s.tuner.calls).toEqual([]);
    s.manager.close();
  });

  test("the user's net-priority and the vhost's output-buffer × link MTU are applied to the session's transport", async () => {
    const s = setup({ "output-buffer": 10 }, { "net-priority": { kind: "tos", value: 0x20 } });
    const { out, transport } = await s.connect();
    expect(out.ok).toBe(true);
    expect(s.tuner.calls).toHaveLength(1);
    const call = s.tuner.calls[0]!;
    expect(call.transport).toBe(transport);
    expect(call.priority).toEqual({ kind: "tos", value: 0x20 });
    // The link MTU is the tun device's 1500 here (FakeNet): ocserv's SO_SNDBUF = link_mtu * output-buffer.
    expect(call.sendBuffer).toBe(1500 * 10);
    s.manager.close();
  });

  test("net-priority alone is applied with no send buffer", async () => {
    const s = setup({}, { "net-priority": { kind: "priority", value: 0 } });
    await s.connect();
    expect(s.tuner.calls.map((c) => [c.priority, c.sendBuffer])).toEqual([[{ kind: "priority", value: 0 }, 0]]);
    s.manager.close();
  });

  test("a failing tuner logs one warning and every session still connects", async () => {
    const s = setup({ "output-buffer": 4 }, {});
    s.tuner.failWith = new Error("no TCP socket among this process's fds");
    const a = await s.connect();
    const b = await s.connect();
    expect(a.out.ok).toBe(true);
    expect(b.out.ok).toBe(true);
    expect(s.tuner.calls).toHaveLength(2);
    expect(s.warnings.filter((w) => w.includes("net-priority/output-buffer"))).toHaveLength(1);
    expect(s.warnings.join("\n")).toContain("no TCP socket among this process's fds");
    s.manager.close();
  });
});
