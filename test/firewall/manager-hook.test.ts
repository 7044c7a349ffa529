import { describe, expect, test } from "bun:test";
import type { GlobalOptions, SessionSettings, VhostOptions } from "../../src/config/types.ts";
import type { ConnectOutcome, SessionRecord, TunnelHandle } from "../../src/server/contract.ts";
import { FirewallError, SessionFirewall, createNftRunner, type NftRunner } from "../../src/server/firewall/index.ts";
import { TunnelManagerImpl, type SettingsResult } from "../../src/server/tunnel/manager.ts";
import {
  FakeTransport,
  configOf,
  globalOptions,
  managerFakes,
  route,
  sessionRecord,
  settingsOf,
  vhostOptions,
} from "../tunnel/fixtures.ts";

/** Records every batch; fails them while `failing` is set. */
class FakeNft implements NftRunner {
  readonly batches: string[] = [];
  failing: FirewallError | null = null;
  async apply(batch: string): Promise<void> {
    if (this.failing) throw this.failing;
    this.batches.push(batch);
  }
  get installs(): string[] {
    return this.batches.filter((b) => b.includes("add rule"));
  }
  get removals(): string[] {
    return this.batches.filter((b) => b.includes("delete chain"));
  }
}

const HEADERS = new Map([["User-Agent", "Open AnyConnect VPN Agent v9.12"]]);

function harness(o: { settings?: Partial<SessionSettings>; global?: Partial<GlobalOptions>; vhost?: Partial<VhostOptions>; nft?: NftRunner } = {}) {
  const vhost = vhostOptions(o.vhost);
  const cfg = configOf(vhost, globalOptions(o.global));
  const nft = new FakeNft();
  const firewall = new SessionFirewall(o.nft ?? nft);
  const { tuns, scripts, ...fakes } = managerFakes();
  const warnings: string[] = [];
  const manager = new TunnelManagerImpl({
    ...fakes,
    config: () => cfg,
    settingsFor: async (): Promise<SettingsResult> => ({ kind: "ok", settings: settingsOf(vhost, o.settings ?? {}) }),
    tuns,
    scripts,
    firewall,
    log: { info: () => undefined, warn: (m) => warnings.push(m) },
  });
  return { manager, nft, firewall, tuns, scripts, warnings };
}

function connect(h: ReturnType<typeof harness>, session: SessionRecord = sessionRecord()): Promise<ConnectOutcome> {
  return h.manager.connect({ session, headers: HEADERS, transport: new FakeTransport() });
}

function tunnelOf(out: ConnectOutcome): TunnelHandle {
  if (!out.ok) throw new Error(`CONNECT failed: ${out.status} ${out.reason}`);
  return out.tunnel;
}

const RESTRICTED: Partial<SessionSettings> = {
  "restrict-user-to-routes": true,
  route: [route("10.1.0.0/16")],
};

describe("the TunnelManager's firewall hook", () => {
  test("installs the session's rules on its tun device at CONNECT and removes them when the tunnel ends", async () => {
    const h = harness({ settings: RESTRICTED });
    const tunnel = tunnelOf(await connect(h));
    const dev = [...h.tuns.devices.keys()][0]!;
    expect(h.nft.installs.length).toBe(1);
    expect(h.nft.installs[0]).toContain(`add rule inet ocserv in-${dev} ip daddr != { 10.1.0.0/16 } drop`);
    expect(h.nft.installs[0]).toContain(`add element inet ocserv in-dev { "${dev}" : jump in-${dev} }`);
    expect(h.nft.removals).toEqual([]);
    tunnel.transportClosed();
    await h.firewall.idle();
    expect(h.nft.removals.length).toBe(1);
    expect(h.nft.removals[0]).toContain(`delete chain inet ocserv in-${dev}`);
    h.manager.close();
  });

  test("installs before the connect-script runs, as ocserv chains ocserv-fw before it", async () => {
    const order: string[] = [];
    const nft: NftRunner = { apply: async () => void order.push("nft") };
    const h = harness({ settings: RESTRICTED, global: { "connect-script": "/bin/on-connect" }, nft });
    const run = h.scripts.run.bind(h.scripts);
    h.scripts.run = (c, e) => {
      order.push("script");
      return run(c, e);
    };
    tunnelOf(await connect(h));
    expect(order).toEqual(["nft", "script"]);
    h.manager.close();
  });

  test("never runs nft for unrestricted sessions, nor for restrict-user-to-routes with the default route", async () => {
    for (const settings of [{}, { "restrict-user-to-routes": true, route: [] }, { "restrict-user-to-routes": true, route: ["default" as const] }]) {
      const h = harness({ settings });
      const tunnel = tunnelOf(await connect(h));
      tunnel.transportClosed();
      await h.firewall.idle();
      expect(h.nft.batches).toEqual([]);
      h.manager.close();
    }
  });

  test("installs for restrict-user-to-ports with the default route", async () => {
    const h = harness({
      settings: { "restrict-user-to-routes": true, "restrict-user-to-ports": { negate: false, rules: [{ protocol: "tcp", port: 443 }] } },
    });
    tunnelOf(await connect(h));
    expect(h.nft.installs.length).toBe(1);
    expect(h.nft.installs[0]).toContain("tcp dport 443 accept");
    h.manager.close();
  });

  test("a failing nft refuses the CONNECT with a clear log line and leaks no device, lease or rule", async () => {
    const h = harness({ settings: RESTRICTED, global: { "connect-script": "/bin/on-connect" } });
    h.nft.failing = new FirewallError("nft-failed", "nft exited with 1: Error: Could not process rule");
    const out = await connect(h);
    expect(out).toEqual({ ok: false, status: 401, reason: "Cookie is not acceptable" });
    expect(h.tuns.devices.size).toBe(0);
    expect(h.manager.leaseTable.size).toBe(0);
    expect(h.manager.list()).toEqual([]);
    expect(h.scripts.calls).toEqual([]);
    expect(h.warnings.some((w) => w.includes("firewall") && w.includes("refusing") && w.includes("Could not process rule"))).toBe(true);
    h.manager.close();
  });

  test("a missing nft binary refuses a restricted session and says so", async () => {
    const h = harness({ settings: RESTRICTED, nft: createNftRunner(null) });
    const out = await connect(h);
    expect(out.ok).toBe(false);
    expect(h.tuns.devices.size).toBe(0);
    expect(h.warnings.some((w) => w.includes("nft not found"))).toBe(true);
    h.manager.close();
  });

  test("a connect-script that refuses the session removes the rules installed for it", async () => {
    const h = harness({ settings: RESTRICTED, global: { "connect-script": "/bin/on-connect" } });
    h.scripts.run = async () => 1;
    const out = await connect(h);
    expect(out.ok).toBe(false);
    await h.firewall.idle();
    expect(h.nft.installs.length).toBe(1);
    expect(h.nft.removals.length).toBe(1);
    expect(h.tuns.devices.size).toBe(0);
    h.manager.close();
  });

  test("a reused device name is removed for the old session before it is installed for the new one", async () => {
    const h = harness({ settings: RESTRICTED });
    const first = tunnelOf(await connect(h, sessionRecord({ sid: new Uint8Array(32).fill(1) })));
    first.transportClosed();
    tunnelOf(await connect(h, sessionRecord({ sid: new Uint8Array(32).fill(2) })));
    await h.firewall.idle();
    const kinds = h.nft.batches.map((b) => (b.includes("delete chain") ? "remove" : "install"));
    expect(kinds).toEqual(["install", "remove", "install"]);
    // Both sessions got the same name: the removal in between must not have taken the new rules.
    const name = (b: string) => /in-dev \{ "([^"]+)"/.exec(b)?.[1];
    expect(name(h.nft.batches[0]!)).toBe(name(h.nft.batches[2]!));
    h.manager.close();
  });

  test("only the first install of a server run clears what an earlier run left behind", async () => {
    const h = harness({ settings: RESTRICTED });
    tunnelOf(await connect(h, sessionRecord({ sid: new Uint8Array(32).fill(1) })));
    tunnelOf(await connect(h, sessionRecord({ sid: new Uint8Array(32).fill(2) })));
    expect(h.nft.installs.map((b) => b.includes("delete table"))).toEqual([true, false]);
    h.manager.close();
  });

  test("a server shutdown removes the rules, and firewallIdle() waits for the removal to finish", async () => {
    let finish: () => void = () => undefined;
    const applied: string[] = [];
    const nft: NftRunner = {
      apply: (batch) =>
        batch.includes("delete chain")
          ? new Promise<void>((resolve) => (finish = () => (applied.push("remove"), resolve())))
          : (applied.push("install"), Promise.resolve()),
    };
    const h = harness({ settings: RESTRICTED, nft });
    tunnelOf(await connect(h));
    h.manager.close();
    let idle = false;
    const waiting = h.manager.firewallIdle().then(() => (idle = true));
    await Bun.sleep(0);
    expect(idle).toBe(false);
    finish();
    await waiting;
    expect(applied).toEqual(["install", "remove"]);
  });
});
