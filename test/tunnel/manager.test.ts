import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GlobalOptions, SessionSettings, VhostOptions } from "../../src/config/types.ts";
import type { ConnectOutcome, SessionRecord, TunnelHandle } from "../../src/server/contract.ts";
import { writeCstpHeader } from "../../src/server/tunnel/cstp.ts";
import { TunnelManagerImpl, type SettingsResult, type TunnelManagerDeps } from "../../src/server/tunnel/manager.ts";
import { createShellRunner, type ScriptRunner } from "../../src/server/tunnel/scripts.ts";
import {
  FakeTransport,
  configOf,
  globalOptions,
  ipv4Net,
  managerFakes,
  type ManagerFakes,
  route,
  sessionRecord,
  settingsOf,
  vhostOptions,
} from "./fixtures.ts";

const OPENCONNECT_HEADERS = new Map([
  ["User-Agent", "Open AnyConnect VPN Agent v9.12"],
  ["X-CSTP-Hostname", "laptop.example.org"],
  ["X-CSTP-Full-IPv6-Capability", "true"],
]);

interface Harness extends ManagerFakes {
  manager: TunnelManagerImpl;
  settingsCalls: number;
}

function harness(o: {
  vhost?: Partial<VhostOptions>;
  global?: Partial<GlobalOptions>;
  settings?: (n: number) => Partial<SessionSettings>;
  runner?: ScriptRunner;
  exposed?: TunnelManagerDeps["exposedIroutes"];
} = {}): Harness {
  const vhost = vhostOptions(o.vhost);
  const cfg = configOf(vhost, globalOptions(o.global));
  const fakes = managerFakes();
  const h = { ...fakes, settingsCalls: 0 } as Harness;
  h.manager = new TunnelManagerImpl({
    ...fakes,
    config: () => cfg,
    settingsFor: async (): Promise<SettingsResult> => {
      h.settingsCalls++;
      return { kind: "ok", settings: settingsOf(vhost, o.settings?.(h.settingsCalls) ?? {}) };
    },
    scripts: o.runner ?? fakes.scripts,
    ...(o.exposed ? { exposedIroutes: o.exposed } : {}),
  });
  return h;
}

async function connect(h: Harness, session: SessionRecord = sessionRecord(), transport = new FakeTransport(), headers = OPENCONNECT_HEADERS) {
  const out = await h.manager.connect({ session, headers, transport });
  return { out, transport };
}

function okTunnel(out: ConnectOutcome): { head: string; tunnel: TunnelHandle } {
  if (!out.ok) throw new Error(`connect failed: ${out.status} ${out.reason}`);
  return out;
}

function headerValue(head: string, name: string): string | undefined {
  for (const line of head.split("\r\n")) if (line.startsWith(`${name}: `)) return line.slice(name.length + 2);
  return undefined;
}

function dataFrame(payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(8 + payload.length);
  writeCstpHeader(b, 0, 0, payload.length);
  b.set(payload, 8);
  return b;
}

function udpPacket(): Uint8Array {
  const p = new Uint8Array(48);
  p[0] = 0x45;
  p[9] = 17;
  return p;
}

const tick = () => new Promise<void>((r) => setImmediate(r));

describe("TunnelManager.connect", () => {
  test("a CONNECT gets a lease, a configured tun device and a 200 head", async () => {
    const h = harness();
    const { out } = await connect(h);
    const { head } = okTunnel(out);
    expect(head.startsWith("HTTP/1.1 200 CONNECTED\r\n")).toBe(true);
    const addr = headerValue(head, "X-CSTP-Address")!;
    expect(addr.startsWith("192.168.1.")).toBe(true);
    expect(headerValue(head, "X-CSTP-Hostname")).toBe("laptop");
    expect(headerValue(head, "X-CSTP-MTU")).toBe("1434");
    expect([...h.tuns.devices.keys()]).toEqual(["vpns0"]);
    expect(h.net.configured[0]!.a).toEqual({ mtu: 1434, ipv4: { local: "192.168.1.1", peer: addr } });
    expect(h.sessions.connectedCalls.length).toBe(1);
    expect(h.manager.leaseTable.isLeased(addr)).toBe(true);
    h.manager.close();
  });

  test("packets flow client → tun and tun → client through the in-memory device", async () => {
    const h = harness();
    const { out, transport } = await connect(h);
    const { tunnel } = okTunnel(out);
    const dev = h.tuns.devices.get("vpns0")!;
    tunnel.receiveRecord(dataFrame(udpPacket()));
    expect(dev.takeWritten()).toEqual([udpPacket()]);
    dev.inject(udpPacket());
    await tick();
    await tick();
    expect(transport.records.length).toBe(1);
    expect(transport.records[0]!.subarray(8)).toEqual(udpPacket());
    h.manager.close();
  });

  test("closing the transport releases the lease and the device and runs the disconnect script", async () => {
    const h = harness({ global: { "disconnect-script": "/bin/on-disconnect" } });
    const { out } = await connect(h);
    const { head, tunnel } = okTunnel(out);
    tunnel.receiveRecord(dataFrame(udpPacket()));
    tunnel.transportClosed();
    expect(h.tuns.devices.size).toBe(0);
    expect(h.manager.leaseTable.size).toBe(0);
    expect(h.manager.list()).toEqual([]);
    expect(h.sessions.endedCalls.map((e) => e.reason)).toEqual(["error"]);
    const call = h.scripts.calls.find((c) => c.command === "/bin/on-disconnect")!;
    expect(call.env.REASON).toBe("disconnect");
    expect(call.env.IP_REMOTE).toBe(headerValue(head, "X-CSTP-Address")!);
    expect(call.env.STATS_BYTES_IN).toBe("48");
    expect(call.env.STATS_BYTES_OUT).toBe("0");
    h.manager.close();
  });

  test("a pool with no free address answers 503 Server configuration error and leaves nothing behind", async () => {
    const h = harness({ vhost: { "ipv4-network": ipv4Net("10.0.0.0/31") } });
    const { out } = await connect(h);
    expect(out).toEqual({ ok: false, status: 503, reason: "Server configuration error" });
    expect(h.tuns.devices.size).toBe(0);
    h.manager.close();
  });

  test("a rejected per-user configuration refuses the cookie", async () => {
    const h = harness();
    const m = new TunnelManagerImpl({
      ...managerFakes(),
      config: () => configOf(vhostOptions()),
      settingsFor: async () => ({ kind: "rejected", reason: "bad file", diagnostics: [] }),
      sessions: h.sessions,
      tuns: h.tuns,
      net: h.net,
      timers: h.timers,
      scripts: h.scripts,
    });
    const out = await m.connect({ session: sessionRecord(), headers: OPENCONNECT_HEADERS, transport: new FakeTransport() });
    expect(out).toEqual({ ok: false, status: 401, reason: "Cookie is not acceptable" });
    m.close();
  });

  test("the per-user configuration is re-read at every CONNECT, so a route override applies immediately", async () => {
    const h = harness({ settings: (n) => (n === 1 ? { route: [route("10.1.0.0/16")] } : { route: [route("10.2.0.0/16")] }) });
    const first = okTunnel((await connect(h)).out);
    expect(headerValue(first.head, "X-CSTP-Split-Include")).toBe("10.1.0.0/255.255.0.0");
    first.tunnel.transportClosed();
    const second = okTunnel((await connect(h)).out);
    expect(headerValue(second.head, "X-CSTP-Split-Include")).toBe("10.2.0.0/255.255.0.0");
    expect(h.settingsCalls).toBe(2);
    h.manager.close();
  });

  test("a reused cookie steals the old tunnel's address and ends the old tunnel with the cookie kept", async () => {
    const h = harness({ vhost: { "predictable-ips": false } });
    const a = await connect(h);
    const first = okTunnel(a.out);
    const b = await connect(h);
    const second = okTunnel(b.out);
    expect(headerValue(second.head, "X-CSTP-Address")).toBe(headerValue(first.head, "X-CSTP-Address"));
    expect(a.transport.closed).toBe(1);
    expect(h.sessions.endedCalls.map((e) => e.reason)).toEqual(["user-reconnect"]);
    expect([...h.tuns.devices.keys()]).toEqual(["vpns0"]);
    expect(h.manager.list().length).toBe(1);
    // The old connection's late close must not free the new tunnel's address.
    first.tunnel.transportClosed();
    expect(h.manager.leaseTable.isLeased(headerValue(second.head, "X-CSTP-Address")!)).toBe(true);
    second.tunnel.transportClosed();
    expect(h.manager.leaseTable.size).toBe(0);
    h.manager.close();
  });

  test("a cookie reused by another username is refused", async () => {
    const h = harness();
    okTunnel((await connect(h)).out);
    const { out } = await connect(h, sessionRecord({ username: "mallory" }));
    expect(out).toEqual({ ok: false, status: 401, reason: "Cookie is not acceptable" });
    h.manager.close();
  });

  test("connect-script gets ocserv's environment, and a non-zero exit refuses the session", async () => {
    const h = harness({
      global: { "connect-script": "/bin/on-connect" },
      vhost: { dns: [{ family: 4, address: "10.0.0.53" }], route: [route("10.0.0.0/8")], "no-route": [route("10.9.0.0/16")] },
    });
    const { out } = await connect(h, sessionRecord({ group: "staff" }));
    const { head, tunnel } = okTunnel(out);
    const env = h.scripts.calls[0]!.env;
    expect(env).toMatchObject({
      REASON: "connect",
      VHOST: "default",
      USERNAME: "alice",
      GROUPNAME: "staff",
      HOSTNAME: "laptop",
      DEVICE: "vpns0",
      IP_REAL: "203.0.113.7",
      IP_REAL_LOCAL: "198.51.100.1",
      IP_LOCAL: "192.168.1.1",
      IP_REMOTE: headerValue(head, "X-CSTP-Address")!,
      OCSERV_ROUTES: "10.0.0.0/255.0.0.0",
      OCSERV_ROUTES4: "10.0.0.0/255.0.0.0",
      OCSERV_ROUTES6: "",
      OCSERV_NO_ROUTES: "10.9.0.0/255.255.0.0",
      OCSERV_DNS: "10.0.0.53",
      OCSERV_DNS4: "10.0.0.53",
    });
    expect(env.STATS_BYTES_IN).toBeUndefined();
    tunnel.transportClosed();

    h.scripts.exitCode = 1;
    const refused = await connect(h);
    expect(refused.out).toEqual({ ok: false, status: 401, reason: "Cookie is not acceptable" });
    expect(h.tuns.devices.size).toBe(0);
    expect(h.manager.leaseTable.size).toBe(0);
    h.manager.close();
  });

  test("host-update-script runs once when the client sent a hostname", async () => {
    const h = harness({ global: { "host-update-script": "/bin/on-host" } });
    await connect(h);
    const calls = h.scripts.calls.filter((c) => c.command === "/bin/on-host");
    expect(calls.length).toBe(1);
    expect(calls[0]!.env.REASON).toBe("host-update");
    expect(calls[0]!.env.HOSTNAME).toBe("laptop");
    await connect(h, sessionRecord({ sid: new Uint8Array(32).fill(9), safeId: "other" }), new FakeTransport(), new Map([["User-Agent", "x"]]));
    expect(h.scripts.calls.filter((c) => c.command === "/bin/on-host").length).toBe(1);
    h.manager.close();
  });

  test("iroutes run route-add-cmd at connect and route-del-cmd at disconnect with substitutions", async () => {
    const h = harness({
      global: { "route-add-cmd": "ip route add %{R} dev %{D} # %{RI}", "route-del-cmd": "ip route del %R dev %D" },
      settings: () => ({ iroute: [route("10.77.0.0/16")] }),
    });
    const { tunnel } = okTunnel((await connect(h)).out);
    expect(h.scripts.calls.map((c) => c.command)).toEqual(["ip route add 10.77.0.0/255.255.0.0 dev vpns0 # 10.77.0.0/16"]);
    tunnel.transportClosed();
    expect(h.scripts.calls.map((c) => c.command)[1]).toBe("ip route del 10.77.0.0/255.255.0.0 dev vpns0");
    h.manager.close();
  });

  test("expose-iroutes pushes other users' iroutes as routes, never the user's own", async () => {
    const h = harness({
      vhost: { "expose-iroutes": true, route: [route("10.0.0.0/8")] },
      exposed: async () => [
        { username: "alice", routes: [route("10.50.0.0/16")] },
        { username: "bob", routes: [route("10.60.0.0/16")] },
      ],
    });
    const { head } = okTunnel((await connect(h)).out);
    expect(head).toContain("X-CSTP-Split-Include: 10.60.0.0/255.255.0.0");
    expect(head).not.toContain("10.50.0.0");
    h.manager.close();
  });

  test("an IPv6 setup failure drops IPv6 and keeps the IPv4 session", async () => {
    const h = harness({ vhost: { "ipv6-network": { address: "fd00::", prefix: 64 } } });
    h.net.ipv6Fails = true;
    const { head } = okTunnel((await connect(h)).out);
    expect(headerValue(head, "X-CSTP-Address")).toBeDefined();
    expect(headerValue(head, "X-CSTP-Address-IP6")).toBeUndefined();
    expect(h.manager.leaseTable.size).toBe(1);
    h.manager.close();
  });

  test("the 10 s periodic check ends a silent tunnel after 3×dpd and releases everything", async () => {
    const h = harness({ settings: () => ({ dpd: 30 }) });
    const { out, transport } = await connect(h);
    okTunnel(out);
    h.timers.advance(60_000);
    expect(transport.records.length).toBe(0);
    h.timers.advance(10_000);
    expect(transport.records.length).toBe(1); // DPD-REQ
    h.timers.advance(30_000);
    expect(transport.closed).toBe(1);
    expect(h.sessions.endedCalls.map((e) => e.reason)).toEqual(["dpd-timeout"]);
    expect(h.tuns.devices.size).toBe(0);
    expect(h.manager.leaseTable.size).toBe(0);
    h.manager.close();
  });

  test("the ping-leases prober is consulted only while ping-leases is on", async () => {
    for (const on of [false, true]) {
      const probed: string[] = [];
      const vhost = vhostOptions();
      const m = new TunnelManagerImpl({
        config: () => configOf(vhost, globalOptions({ "ping-leases": on })),
        settingsFor: async () => ({ kind: "ok", settings: settingsOf(vhost) }),
        ...managerFakes(),
        probe: async (a) => {
          probed.push(a);
          return false;
        },
      });
      const out = await m.connect({ session: sessionRecord(), headers: OPENCONNECT_HEADERS, transport: new FakeTransport() });
      expect(out.ok).toBe(true);
      expect(probed.length).toBe(on ? 1 : 0);
      m.close();
    }
  });

  test("a CONNECT that fails after the tun device exists (a throwing DTLS header hook) leaves no device, lease or iroute behind", async () => {
    const vhost = vhostOptions();
    const cfg = configOf(vhost, globalOptions({ "route-add-cmd": "/bin/add %R", "route-del-cmd": "/bin/del %R" }));
    const fakes = managerFakes();
    const { tuns, scripts } = fakes;
    const manager = new TunnelManagerImpl({
      ...fakes,
      config: () => cfg,
      settingsFor: async (): Promise<SettingsResult> => ({ kind: "ok", settings: settingsOf(vhost, { iroute: [route("10.7.0.0/16")] }) }),
      dtlsHeaders: () => {
        throw new Error("DTLS helper bug");
      },
    });
    const out = await manager.connect({ session: sessionRecord(), headers: OPENCONNECT_HEADERS, transport: new FakeTransport() });
    expect(out).toEqual({ ok: false, status: 503, reason: "Server error" });
    expect(tuns.devices.size).toBe(0);
    expect(manager.leaseTable.size).toBe(0);
    expect(manager.list()).toEqual([]);
    expect(scripts.calls.map((c) => c.command)).toEqual(["/bin/add 10.7.0.0/255.255.0.0", "/bin/del 10.7.0.0/255.255.0.0"]);
    manager.close();
  });

  test("a CONNECT that fails after the DTLS session was attached detaches it along with the device and lease", async () => {
    const vhost = vhostOptions();
    const cfg = configOf(vhost, globalOptions());
    const fakes = managerFakes();
    const { tuns, sessions } = fakes;
    sessions.connected = () => {
      throw new Error("session store bug");
    };
    let attached = 0;
    let detached = 0;
    const manager = new TunnelManagerImpl({
      config: () => cfg,
      settingsFor: async (): Promise<SettingsResult> => ({ kind: "ok", settings: settingsOf(vhost) }),
      ...fakes,
      dtls: {
        plan: () => ({
          cryptoOverhead: 37,
          headers: () => [],
          attach: () => {
            attached++;
            return { detach: () => void detached++ };
          },
        }),
      },
    });
    const out = await manager.connect({ session: sessionRecord(), headers: OPENCONNECT_HEADERS, transport: new FakeTransport() });
    expect(out).toEqual({ ok: false, status: 503, reason: "Server error" });
    expect([attached, detached]).toEqual([1, 1]);
    expect(tuns.devices.size).toBe(0);
    expect(manager.leaseTable.size).toBe(0);
    expect(manager.list()).toEqual([]);
    manager.close();
  });

  test("a connect-script runner that rejects refuses the CONNECT without leaking the device or the lease", async () => {
    const h = harness({
      global: { "connect-script": "/bin/on-connect" },
      runner: { run: () => Promise.reject(new Error("spawn failed")) },
    });
    const { out } = await connect(h);
    expect(out.ok).toBe(false);
    expect(h.tuns.devices.size).toBe(0);
    expect(h.manager.leaseTable.size).toBe(0);
    h.manager.close();
  });

  test("occtl-style disconnect ends the tunnel as a server disconnect", async () => {
    const h = harness();
    const { transport } = await connect(h);
    const [info] = h.manager.list();
    expect(h.manager.disconnect(info!.id)).toBe(true);
    expect(transport.closed).toBe(1);
    expect(h.sessions.endedCalls.map((e) => e.reason)).toEqual(["server-disconnect"]);
    h.manager.close();
  });
});

describe("real connect-script through /bin/sh", () => {
  const dir = mkdtempSync(join(tmpdir(), "tunnel-test-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("the script sees the environment and its non-zero exit refuses the session", async () => {
    const out = join(dir, "env.txt");
    const ok = join(dir, "ok.sh");
    writeFileSync(ok, `#!/bin/sh\necho "$REASON $USERNAME $DEVICE $IP_REMOTE" > ${out}\necho to-stdout\nexit 0\n`);
    chmodSync(ok, 0o755);
    const h = harness({ global: { "connect-script": ok }, runner: createShellRunner() });
    const r = await connect(h);
    const { head, tunnel } = okTunnel(r.out);
    expect(readFileSync(out, "utf8").trim()).toBe(`connect alice vpns0 ${headerValue(head, "X-CSTP-Address")}`);
    tunnel.transportClosed();
    h.manager.close();

    const bad = join(dir, "bad.sh");
    writeFileSync(bad, "#!/bin/sh\nexit 3\n");
    chmodSync(bad, 0o755);
    const h2 = harness({ global: { "connect-script": bad }, runner: createShellRunner() });
    const r2 = await connect(h2);
    expect(r2.out).toEqual({ ok: false, status: 401, reason: "Cookie is not acceptable" });
    expect(h2.tuns.devices.size).toBe(0);
    h2.manager.close();
  });
});

test("src/config's loadSessionSettings fits the settingsFor dependency", async () => {
  const { loadSessionSettings } = await import("../../src/config/peruser.ts");
  const deps: Pick<TunnelManagerDeps, "settingsFor"> = { settingsFor: loadSessionSettings };
  expect(typeof deps.settingsFor).toBe("function");
});
