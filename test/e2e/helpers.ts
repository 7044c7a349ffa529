// Shared by the e2e suites (tunnel, dtls, firewall): opening a lab, running one server for the length
// of a test, and measuring throughput with iperf3 across the tunnel.
import { Lab, baseConfig, labNet, run, sh, type Server } from "./harness.ts";

export type Certs = Awaited<ReturnType<Lab["makeCerts"]>>;

/** A fresh lab with server certificates, and its 10.<net>.x.x number: what every suite's beforeAll needs. */
export async function openLab(): Promise<{ lab: Lab; certs: Certs; net: number }> {
  const lab = await Lab.create();
  const certs = await lab.makeCerts();
  return { lab, certs, net: labNet(lab) };
}

/**
 * Starts a server with baseConfig(`extra`, `auth`), runs `body` against it, and always stops it; when
 * `body` fails the server's log is printed, since that is where the reason usually is.
 */
export async function withServer<T>(lab: Lab, certs: Certs, extra: string, body: (server: Server) => Promise<T>, auth?: string[]): Promise<T> {
  const server = await lab.startServer(baseConfig(lab, certs, extra, auth));
  try {
    return await body(server);
  } catch (e) {
    console.error(server.log());
    throw e;
  } finally {
    await server.stop();
  }
}

/**
 * Two seconds of iperf3 from the client namespace to `address` (a one-shot iperf3 server in the server
 * namespace); `reverse` sends from the server to the client. Mbit/s received, or 0 when iperf3 did not
 * produce a result.
 */
export async function iperfMbps(lab: Lab, address: string, reverse: boolean): Promise<number> {
  const srv = Bun.spawn(["ip", "netns", "exec", lab.srvNs, "iperf3", "-s", "-1", "-B", address], { stdout: "ignore", stderr: "ignore" });
  await Bun.sleep(400);
  const r = await run(["ip", "netns", "exec", lab.cliNs, "iperf3", "-J", "-t", "2", ...(reverse ? ["-R"] : []), "-c", address], { timeoutMs: 20_000 });
  await srv.exited;
  try {
    return (JSON.parse(r.stdout).end.sum_received.bits_per_second as number) / 1e6;
  } catch {
    return 0;
  }
}

/**
 * An nftables byte counter in namespace `ns` on UDP port 4443 traffic arriving there: `dport` counts what
 * reaches the server's DTLS port (in the server namespace), `sport` what comes from it (in the client's).
 * Proves that traffic really crossed the UDP channel, not only that DTLS was negotiated.
 */
export async function udpByteCounter(ns: string, match: "dport" | "sport"): Promise<() => Promise<number>> {
  const table = `e2e_udp_${match}`;
  const r = await sh(`ip netns exec ${ns} nft -f - <<'EOF'
table inet ${table} {
  counter dtls { }
  chain input { type filter hook input priority 0; udp ${match} 4443 counter name dtls; }
}
EOF`);
  if (r.code !== 0) throw new Error(`nft counter setup failed: ${r.stderr}`);
  return async () => {
    const out = await run(["ip", "netns", "exec", ns, "nft", "-j", "list", "counter", "inet", table, "dtls"]);
    const m = /"bytes":\s*(\d+)/.exec(out.stdout);
    return m ? Number(m[1]) : 0;
  };
}
