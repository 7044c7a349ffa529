// restrict-user-to-routes and restrict-user-to-ports with the real openconnect against the compiled
// server: the server installs nft rules on the session's tun device, so traffic the client's own
// routing would send is stopped by the server, and the rules are gone once the client is.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Lab, type Server, canRunE2E, run, sh, waitFor } from "./harness.ts";
import { openLab, withServer as serveDuring, type Certs } from "./helpers.ts";

const nft = ["/usr/sbin/nft", "/sbin/nft"].find((p) => Bun.file(p).size > 0) ?? null;
const suite = canRunE2E && nft !== null ? describe : describe.skip;

suite("openconnect with restrict-user-to-routes / restrict-user-to-ports", () => {
  let lab: Lab;
  let certs: Certs;
  let net: number;
  /** An address on the server namespace's lo, outside every route the server pushes. */
  let outside: string;

  beforeAll(async () => {
    ({ lab, certs, net } = await openLab());
    outside = `10.${net}.99.1`;
    lab.write("passwd", await lab.passwdLine("test", "secret"));
    const r = await sh(`ip -n ${lab.srvNs} addr add ${outside}/32 dev lo`);
    expect(r.code).toBe(0);
  }, 60_000);

  afterAll(async () => {
    await lab?.close();
  });

  const withServer = <T>(extra: string, body: (server: Server) => Promise<T>): Promise<T> => serveDuring(lab, certs, extra, body);

  async function serverRuleset(): Promise<string> {
    return (await run(["ip", "netns", "exec", lab.srvNs, nft!, "list", "ruleset"])).stdout;
  }

  /** Connects and routes `outside` into the tunnel by hand, so only the server can stop it. */
  async function connectWithOutsideRoute(args: string[]) {
    const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args });
    expect(c.up).toBe(true);
    expect((await sh(`ip -n ${lab.cliNs} route replace ${outside}/32 dev ${c.iface}`)).code).toBe(0);
    return c;
  }

  async function tcpConnects(port: number): Promise<boolean> {
    const r = await run(["ip", "netns", "exec", lab.cliNs, "timeout", "5", "bash", "-c", `exec 3<>/dev/tcp/10.${net}.0.1/${port}`], { timeoutMs: 10_000 });
    return r.code === 0;
  }

  test("rules a crashed earlier run left behind are cleared when the server starts", async () => {
    // A stale per-device chain that would drop everything from vpns0, as a killed server could leave it.
    const stale = await sh(`ip netns exec ${lab.srvNs} ${nft} -f - <<'EOF'
table inet ocserv {
  chain in-vpns0 { }
  chain input { type filter hook input priority 0; iifname "vpns0" drop; }
}
EOF`);
    expect(stale.code).toBe(0);
    expect(await serverRuleset()).toContain("in-vpns0");
    await withServer("", async () => {
      expect(await serverRuleset()).not.toContain("table inet ocserv");
      const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--no-dtls"] });
      expect(c.up).toBe(true);
      expect(await lab.ping(lab.cliNs, `10.${net}.0.1`, 2)).toBe(true);
      await c.stop();
    });
  }, 60_000);

  test("without restriction an address outside the routes is reachable (the control case)", async () => {
    await withServer("", async () => {
      const c = await connectWithOutsideRoute(["--no-dtls"]);
      expect(await lab.ping(lab.cliNs, outside)).toBe(true);
      expect(await serverRuleset()).not.toContain("table inet ocserv");
      await c.stop();
    });
  }, 60_000);

  test("restrict-user-to-routes lets pings inside the routes through and drops the others, with DTLS enabled", async () => {
    await withServer(`restrict-user-to-routes = true\nroute = 10.${net}.0.0/255.255.255.0`, async (server) => {
      const c = await connectWithOutsideRoute([]);
      expect(await lab.ping(lab.cliNs, `10.${net}.0.1`)).toBe(true);
      expect(await lab.ping(lab.cliNs, outside)).toBe(false);
      const rules = await serverRuleset();
      expect(rules).toMatch(/chain in-vpns\d+/);
      // A SIGKILLed client: the server notices the dead connection and removes the rules.
      await c.stop("SIGKILL");
      const cleared = await waitFor(async () => !/chain in-vpns/.test(await serverRuleset()), 15_000, 200);
      if (!cleared) console.error(server.log());
      expect(cleared).toBe(true);
    });
  }, 60_000);

  test("restrict-user-to-routes restricts IPv6 too: the routed prefix is reachable, another is not", async () => {
    const outside6 = `fd00:${net}:99::1`;
    expect((await sh(`ip -n ${lab.srvNs} -6 addr add ${outside6}/128 dev lo nodad`)).code).toBe(0);
    const v6 = `ipv6-network = fd00:${net}::/64\nipv6-subnet-prefix = 128\nroute = fd00:${net}::/64\n`;
    const connect6 = async () => {
      const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--no-dtls"] });
      expect(c.up).toBe(true);
      expect(await waitFor(async () => (await lab.ifaceAddr(lab.cliNs, c.iface, 6)) !== null, 3000)).toBe(true);
      expect((await sh(`ip -n ${lab.cliNs} -6 route replace ${outside6}/128 dev ${c.iface}`)).code).toBe(0);
      return c;
    };
    // Control: without restriction the other prefix answers.
    await withServer(v6, async () => {
      const c = await connect6();
      expect(await lab.ping(lab.cliNs, outside6)).toBe(true);
      await c.stop();
    });
    await withServer(`${v6}restrict-user-to-routes = true\n`, async () => {
      const c = await connect6();
      expect(await lab.ping(lab.cliNs, `fd00:${net}::1`)).toBe(true);
      expect(await lab.ping(lab.cliNs, outside6)).toBe(false);
      await c.stop();
    });
  }, 60_000);

  test("restrict-user-to-ports lets the allowed TCP port through and refuses another", async () => {
    // One listener on two ports on the server's tun address.
    const listener = Bun.spawn(
      [
        "ip", "netns", "exec", lab.srvNs, process.execPath, "-e",
        `for (const port of [5201, 5202]) Bun.listen({ hostname: "0.0.0.0", port, socket: { data() {} } }); setTimeout(() => {}, 60000);`,
      ],
      { stdout: "ignore", stderr: "ignore" },
    );
    try {
      // The tun network is routed too: the config layer currently derives restrict-user-to-routes from
      // restrict-user-to-ports, and this test is about ports either way.
      await withServer(`restrict-user-to-ports = "tcp(5201), icmp()"\nroute = 10.${net}.0.0/255.255.255.0`, async () => {
        const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--no-dtls"] });
        expect(c.up).toBe(true);
        expect(await waitFor(() => tcpConnects(5201), 5000, 200)).toBe(true);
        expect(await tcpConnects(5202)).toBe(false);
        expect(await lab.ping(lab.cliNs, `10.${net}.0.1`)).toBe(true);
        await c.stop();
        expect(await waitFor(async () => !/chain in-vpns/.test(await serverRuleset()), 10_000, 200)).toBe(true);
      });
    } finally {
      listener.kill("SIGKILL");
      await listener.exited;
    }
  }, 60_000);
});
