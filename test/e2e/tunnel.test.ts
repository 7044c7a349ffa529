// The real `openconnect` client against the compiled server, over TLS only (--no-dtls), in private
// network namespaces. Each test asserts what a user would see: login outcome, addresses, routes,
// traffic both ways, and what is left behind.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { BINARY, type Lab, baseConfig, type Server, canRunE2E, run, sh, waitFor } from "./harness.ts";
import { iperfMbps, openLab, withServer as serveDuring, type Certs } from "./helpers.ts";

const suite = canRunE2E ? describe : describe.skip;

suite("openconnect over TLS", () => {
  let lab: Lab;
  let certs: Certs;
  let net: number;

  beforeAll(async () => {
    ({ lab, certs, net } = await openLab());
    lab.write("passwd", (await lab.passwdLine("test", "secret", "users,admins")) + (await lab.passwdLine("other", "pw2")));
  }, 60_000);

  afterAll(async () => {
    await lab?.close();
  });

  const withServer = <T>(extra: string, body: (server: Server) => Promise<T>, auth?: string[]): Promise<T> => serveDuring(lab, certs, extra, body, auth);

  test("a password login brings the tunnel up, and ping and iperf3 pass both ways", async () => {
    await withServer("", async () => {
      const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--no-dtls"] });
      expect(c.code).toBe(0);
      expect(c.up).toBe(true);
      const clientAddr = await lab.ifaceAddr(lab.cliNs, "oc0");
      expect(clientAddr).toMatch(new RegExp(`^10\\.${net}\\.0\\.`));
      const env = lab.vpncEnv("oc0");
      expect(env.INTERNAL_IP4_ADDRESS).toBe(clientAddr!);
      expect(env.INTERNAL_IP4_DNS).toBe(`10.${net}.0.1`);
      expect(env.CISCO_SPLIT_INC_0_ADDR).toBe(`10.${net + 1}.0.0`);
      // client → server tun address, and server → client address
      expect(await lab.ping(lab.cliNs, `10.${net}.0.1`, 3)).toBe(true);
      expect(await lab.ping(lab.srvNs, clientAddr!, 3)).toBe(true);
      // a few seconds of bulk traffic in each direction
      expect(await iperfMbps(lab, `10.${net}.0.1`, false)).toBeGreaterThan(1);
      expect(await iperfMbps(lab, `10.${net}.0.1`, true)).toBeGreaterThan(1);
      await c.stop();
    });
  }, 90_000);

  test("a wrong password is refused and the tunnel never comes up", async () => {
    await withServer("", async () => {
      const c = await lab.connect({ user: "test", password: "wrong", pin: certs.pin, args: ["--no-dtls"] });
      expect(c.up).toBe(false);
      expect(c.code).not.toBe(0);
      expect(c.log()).toMatch(/Login failed|Authentication failed|401/);
    });
  }, 60_000);

  test("three wrong passwords on one connection end in 401 and a closed connection", async () => {
    await withServer("", async () => {
      const url = `https://${lab.srvIp}:4443/auth`;
      const body = (pw: string) =>
        `<?xml version="1.0" encoding="UTF-8"?><config-auth client="vpn" type="auth-reply"><auth><username>test</username><password>${pw}</password></auth></config-auth>`;
      lab.write("b1.xml", body("bad1"));
      lab.write("b2.xml", body("bad2"));
      lab.write("b3.xml", body("bad3"));
      const r = await run(
        ["ip", "netns", "exec", lab.cliNs, "curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}\\n", "--connect-to", `::${lab.srvIp}:4443`,
          "-X", "POST", "--data-binary", `@${lab.path("b1.xml")}`, url, "--next", "-sk", "-o", "/dev/null", "-w", "%{http_code}\\n",
          "-X", "POST", "--data-binary", `@${lab.path("b2.xml")}`, url, "--next", "-sk", "-o", "/dev/null", "-w", "%{http_code}\\n",
          "-X", "POST", "--data-binary", `@${lab.path("b3.xml")}`, url],
        { timeoutMs: 30_000 },
      );
      expect(r.stdout.trim().split("\n")).toEqual(["200", "200", "401"]);
    });
  }, 60_000);

  test("the group chosen by its label with --authgroup reaches the connect-script by its name", async () => {
    const script = lab.write("connect.sh", `#!/bin/sh\nenv | sort > ${lab.path("connect-env.txt")}\nexit 0\n`);
    chmodSync(script, 0o755);
    await withServer(`select-group = admins[Administrators]\nselect-group = users\nconnect-script = ${script}\n`, async () => {
      const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--no-dtls", "--authgroup=Administrators"] });
      expect(c.up).toBe(true);
      const env = readFileSync(lab.path("connect-env.txt"), "utf8");
      expect(env).toContain("USERNAME=test\n");
      expect(env).toContain("GROUPNAME=admins\n");
      expect(env).toContain("REASON=connect\n");
      expect(env).toMatch(/DEVICE=vpns\d+\n/);
      expect(env).toContain(`IP_REAL=${lab.cliIp}\n`);
      expect(env).toContain(`IP_LOCAL=10.${net}.0.1\n`);
      await c.stop();
    });
  }, 60_000);

  test("a connect-script that exits non-zero refuses the session", async () => {
    const script = lab.write("deny.sh", "#!/bin/sh\nexit 1\n");
    chmodSync(script, 0o755);
    await withServer(`connect-script = ${script}\n`, async () => {
      const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--no-dtls"] });
      expect(c.up).toBe(false);
    });
  }, 60_000);

  test("IPv6 inside the tunnel: the client gets an address and reaches the server's", async () => {
    // The IPv6 pool is routed through the tunnel, as a real deployment would announce it.
    await withServer(`ipv6-network = fd00:${net}::/64\nipv6-subnet-prefix = 128\nroute = fd00:${net}::/64\n`, async () => {
      const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--no-dtls"] });
      expect(c.up).toBe(true);
      const ok = await waitFor(async () => (await lab.ifaceAddr(lab.cliNs, c.iface, 6)) !== null, 3000);
      expect(ok).toBe(true);
      expect(await lab.ping(lab.cliNs, `fd00:${net}::1`, 2)).toBe(true);
      await c.stop();
    });
  }, 60_000);

  test("a cookie from --authenticate connects, and connects again after the first tunnel ends", async () => {
    await withServer("", async () => {
      const auth = await run(
        ["ip", "netns", "exec", lab.cliNs, "openconnect", "--authenticate", "--non-inter", "--passwd-on-stdin", "--user=test",
          "--servercert", `pin-sha256:${certs.pin}`, `https://${lab.srvIp}:4443`],
        { stdin: "secret\n", timeoutMs: 20_000 },
      );
      expect(auth.code).toBe(0);
      const cookie = /^COOKIE='?([^'\n]+)'?$/m.exec(auth.stdout)?.[1];
      expect(cookie).toBeDefined();
      const first = await lab.connect({ pin: certs.pin, args: ["--no-dtls", "--cookie-on-stdin"], stdin: `${cookie}\n` });
      expect(first.up).toBe(true);
      const addr1 = await lab.ifaceAddr(lab.cliNs, first.iface);
      await first.stop("SIGKILL");
      const second = await lab.connect({ pin: certs.pin, args: ["--no-dtls", "--cookie-on-stdin"], stdin: `${cookie}\n` });
      expect(second.up).toBe(true);
      expect(await lab.ifaceAddr(lab.cliNs, second.iface)).toBe(addr1);
      await second.stop();
    });
  }, 60_000);

  test("max-same-clients refuses the connection beyond the limit", async () => {
    await withServer("max-same-clients = 1\n", async () => {
      const a = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--no-dtls"] });
      expect(a.up).toBe(true);
      const b = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--no-dtls"] });
      expect(b.up).toBe(false);
      const other = await lab.connect({ user: "other", password: "pw2", pin: certs.pin, args: ["--no-dtls"] });
      expect(other.up).toBe(true);
      await a.stop();
      await other.stop();
    });
  }, 60_000);

  test("a per-user file gives the user a fixed address and its own route", async () => {
    const dir = lab.path("users");
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}/test`, `explicit-ipv4 = 10.${net}.0.77\nroute = 10.${net + 5}.0.0/16\n`);
    await withServer(`config-per-user = ${dir}\n`, async () => {
      const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--no-dtls"] });
      expect(c.up).toBe(true);
      const iface = c.iface;
      expect(await lab.ifaceAddr(lab.cliNs, iface)).toBe(`10.${net}.0.77`);
      const env = lab.vpncEnv(iface);
      expect(env.CISCO_SPLIT_INC_0_ADDR).toBe(`10.${net + 5}.0.0`);
      expect(env.CISCO_SPLIT_INC_0_MASKLEN).toBe("16");
      await c.stop();
    });
  }, 60_000);

  test("a client killed with SIGKILL leaves no tun device and its address can be leased again", async () => {
    await withServer("", async () => {
      const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--no-dtls"] });
      expect(c.up).toBe(true);
      expect((await lab.links(lab.srvNs)).some((l) => l.startsWith("vpns"))).toBe(true);
      const addr = await lab.ifaceAddr(lab.cliNs, c.iface);
      await c.stop("SIGKILL");
      const gone = await waitFor(async () => !(await lab.links(lab.srvNs)).some((l) => l.startsWith("vpns")), 10_000);
      expect(gone).toBe(true);
      // predictable-ips: the same user gets the same address back, which requires the lease to be free
      const again = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--no-dtls"] });
      expect(again.up).toBe(true);
      expect(await lab.ifaceAddr(lab.cliNs, again.iface)).toBe(addr);
      await again.stop();
    });
  }, 60_000);

  describe("certificate authentication", () => {
    const certOnly = ["certificate"];
    let certConfig = "";
    let good: { cert: string; key: string };
    let revoked: { cert: string; key: string };
    let foreign: { cert: string; key: string };

    beforeAll(async () => {
      certConfig = `cert-user-oid = 0.9.2342.19200300.100.1.1\ncrl = ${lab.path("crl.pem")}\n`;
      good = await lab.makeUserCert("test");
      revoked = await lab.makeUserCert("test", { name: "revoked" });
      // A second CA that the server does not trust.
      const r = await sh(`set -e; cd ${lab.dir}
        openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca-key.pem -out other-ca.pem -days 30 -subj "/CN=Other CA" \
          -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null`);
      expect(r.code).toBe(0);
      foreign = await lab.makeUserCert("test", { name: "foreign", caCert: lab.path("other-ca.pem"), caKey: lab.path("other-ca-key.pem") });
      // The CRL is made by the binary's own certificate applet.
      const tool = lab.path("ocserv-certtool");
      await sh(`ln -sf ${BINARY} ${tool}`);
      const crl = await run([tool, "crl", "--ca", certs.ca, "--ca-key", certs.caKey, "--revoke", revoked.cert, "--out", lab.path("crl.pem")]);
      expect(crl.code).toBe(0);
    }, 60_000);

    test("a valid client certificate logs in without a password", async () => {
      await withServer(certConfig, async () => {
        const c = await lab.connect({ pin: certs.pin, args: ["--no-dtls", `--certificate=${good.cert}`, `--sslkey=${good.key}`] });
        expect(c.up).toBe(true);
        expect(await lab.ping(lab.cliNs, `10.${net}.0.1`, 2)).toBe(true);
        await c.stop();
      }, certOnly);
    }, 60_000);

    test("a revoked certificate is refused", async () => {
      await withServer(certConfig, async (server) => {
        const c = await lab.connect({ pin: certs.pin, args: ["--no-dtls", `--certificate=${revoked.cert}`, `--sslkey=${revoked.key}`] });
        expect(c.up).toBe(false);
        expect(server.log()).toContain("is revoked");
      }, certOnly);
    }, 60_000);

    test("a certificate from a CA the server does not trust is refused", async () => {
      await withServer(certConfig, async (server) => {
        const c = await lab.connect({ pin: certs.pin, args: ["--no-dtls", `--certificate=${foreign.cert}`, `--sslkey=${foreign.key}`] });
        expect(c.up).toBe(false);
        expect(server.log()).toContain("which is not a configured CA");
      }, certOnly);
    }, 60_000);

    test("certificate plus password needs both, and the names must match", async () => {
      const both = [`plain[passwd=${lab.path("passwd")}]`, "certificate"];
      await withServer("cert-user-oid = 0.9.2342.19200300.100.1.1\n", async () => {
        const ok = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--no-dtls", `--certificate=${good.cert}`, `--sslkey=${good.key}`] });
        expect(ok.up).toBe(true);
        await ok.stop();
        const noCert = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--no-dtls"] });
        expect(noCert.up).toBe(false);
        const otherUser = await lab.connect({ user: "other", password: "pw2", pin: certs.pin, args: ["--no-dtls", `--certificate=${good.cert}`, `--sslkey=${good.key}`] });
        expect(otherUser.up).toBe(false);
      }, both);
    }, 90_000);
  });

  test("password then TOTP: the second round takes the one-time code", async () => {
    // RFC 6238's test key; openconnect computes the code itself with --token-mode=totp.
    const key = "3132333435363738393031323334353637383930";
    lab.write("otp", `HOTP/T30 test - ${key}\n`);
    await withServer("", async () => {
      const ok = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--no-dtls", "--token-mode=totp", `--token-secret=0x${key}`] });
      expect(ok.up).toBe(true);
      await ok.stop();
      const wrong = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--no-dtls", "--token-mode=totp", "--token-secret=0x3132333435363738393031323334353637383931"] });
      expect(wrong.up).toBe(false);
    }, [`plain[passwd=${lab.path("passwd")},otp=${lab.path("otp")}]`]);
  }, 60_000);

  test("SIGHUP reloads: new connections get the new routes, running tunnels keep going, a broken file is refused", async () => {
    const server = await lab.startServer(baseConfig(lab, certs));
    try {
      const a = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--no-dtls"] });
      expect(a.up).toBe(true);
      expect(lab.vpncEnv(a.iface).CISCO_SPLIT_INC_0_ADDR).toBe(`10.${net + 1}.0.0`);
      // Change the routes and reload.
      lab.write("ocserv.conf", baseConfig(lab, certs).replace(/^route = .*$/m, `route = 10.${net + 9}.0.0/255.255.0.0`));
      server.proc.kill("SIGHUP");
      expect(await waitFor(() => server.log().includes("configuration reloaded"), 5000)).toBe(true);
      const b = await lab.connect({ user: "other", password: "pw2", pin: certs.pin, args: ["--no-dtls"] });
      expect(b.up).toBe(true);
      expect(lab.vpncEnv(b.iface).CISCO_SPLIT_INC_0_ADDR).toBe(`10.${net + 9}.0.0`);
      expect(lab.vpncEnv(b.iface).CISCO_SPLIT_INC_0_MASKLEN).toBe("16");
      expect(await lab.ping(lab.cliNs, `10.${net}.0.1`, 2)).toBe(true);
      // A reload with an invalid file keeps the running configuration.
      lab.write("ocserv.conf", baseConfig(lab, certs, "max-clients = lots\n"));
      server.proc.kill("SIGHUP");
      expect(await waitFor(() => server.log().includes("reload failed"), 5000)).toBe(true);
      expect(server.proc.exitCode).toBeNull();
      const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--no-dtls"] });
      expect(c.up).toBe(true);
      await a.stop();
      await b.stop();
      await c.stop();
    } catch (e) {
      console.error(server.log());
      throw e;
    } finally {
      await server.stop();
    }
  }, 90_000);

  test("rekey-method ssl on TLS 1.3: the server sends KeyUpdate and the tunnel keeps working", async () => {
    await withServer("rekey-time = 2\nrekey-method = ssl\n", async (server) => {
      const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--no-dtls"] });
      expect(c.up).toBe(true);
      expect(c.log()).toContain("(TLS1.3)");
      // The periodic check runs every 10 s; two rekeys within 25 s.
      const twice = await waitFor(() => (server.log().match(/TLS 1\.3 session keys refreshed/g) ?? []).length >= 2, 25_000, 250);
      expect(twice).toBe(true);
      expect(await lab.ping(lab.cliNs, `10.${net}.0.1`, 2)).toBe(true);
      await c.stop();
    });
  }, 60_000);

  test("ping-leases skips an address that answers ICMP echo", async () => {
    // The address predictable-ips gives this user, learnt from a first connection.
    const taken = await withServer("", async () => {
      const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--no-dtls"] });
      expect(c.up).toBe(true);
      const a = await lab.ifaceAddr(lab.cliNs, c.iface);
      await c.stop();
      return a!;
    });
    // Something else now answers on that address in the server's network.
    expect((await sh(`ip -n ${lab.srvNs} addr add ${taken}/32 dev lo`)).code).toBe(0);
    try {
      await withServer("ping-leases = true\n", async () => {
        const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--no-dtls"] });
        expect(c.up).toBe(true);
        const got = await lab.ifaceAddr(lab.cliNs, c.iface);
        expect(got).not.toBeNull();
        expect(got).not.toBe(taken);
        await c.stop();
      });
    } finally {
      await sh(`ip -n ${lab.srvNs} addr del ${taken}/32 dev lo`);
    }
  }, 90_000);

  test("a client that stops answering is dropped by DPD", async () => {
    await withServer("dpd = 2\nmobile-dpd = 2\n", async () => {
      const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--no-dtls"] });
      expect(c.up).toBe(true);
      await c.stop("SIGSTOP");
      const gone = await waitFor(async () => !(await lab.links(lab.srvNs)).some((l) => l.startsWith("vpns")), 20_000, 250);
      if (c.pid !== null) process.kill(c.pid, "SIGCONT");
      expect(gone).toBe(true);
      await c.stop("SIGKILL");
    });
  }, 60_000);

  test("an idle tunnel is closed after idle-timeout", async () => {
    await withServer("idle-timeout = 3\n", async () => {
      const c = await lab.connect({ user: "test", password: "secret", pin: certs.pin, args: ["--no-dtls"] });
      expect(c.up).toBe(true);
      const gone = await waitFor(async () => !(await lab.links(lab.srvNs)).some((l) => l.startsWith("vpns")), 20_000, 250);
      expect(gone).toBe(true);
      await c.stop("SIGKILL");
    });
  }, 60_000);
});
