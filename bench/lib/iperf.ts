// iperf3 through the tunnel: a one-shot iperf3 server on the VPN server's tun address (server
// namespace), the client in the client namespace. "up" is client → server, "down" is -R.

import type { Lab } from "./lab-env.ts";
import { run, waitFor } from "./exec.ts";

export type Direction = "up" | "down";

export interface IperfResult {
  readonly mbps: number;
  readonly bytes: number;
}

/** Reads the receiver-side totals from `iperf3 -J` output (end.sum_received: for -R that is still the
 *  client, which then receives). null if the JSON is missing them or reports an error. */
export function parseIperfJson(text: string): IperfResult | { error: string } {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    return { error: "iperf3 printed no JSON" };
  }
  const o = j as { error?: unknown; end?: { sum_received?: { bits_per_second?: unknown; bytes?: unknown } } };
  if (typeof o.error === "string") return { error: `iperf3: ${o.error}` };
  const s = o.end?.sum_received;
  if (typeof s?.bits_per_second !== "number" || typeof s.bytes !== "number") return { error: "iperf3 JSON has no end.sum_received" };
  return { mbps: s.bits_per_second / 1e6, bytes: s.bytes };
}

export async function iperf(lab: Lab, target: string, dir: Direction, seconds: number): Promise<IperfResult | { error: string }> {
  const srv = Bun.spawn(["ip", "netns", "exec", lab.nsSrv, "iperf3", "-s", "-1", "-B", target], {
    stdin: "ignore", stdout: "ignore", stderr: "ignore",
  });
  try {
    const ready = await waitFor(async () => {
      const r = await run(["ip", "netns", "exec", lab.nsSrv, "ss", "-Hltn", "sport = :5201"]);
      return r.stdout.includes(":5201") ? true : undefined;
    }, 3000);
    if (!ready) return { error: "iperf3 server did not start" };
    const r = await run(
      ["ip", "netns", "exec", lab.nsCli, "iperf3", "-J", "-c", target, "-t", String(seconds), ...(dir === "down" ? ["-R"] : [])],
      { timeoutMs: (seconds + 15) * 1000 },
    );
    if (r.timedOut) return { error: "iperf3 client timed out" };
    return parseIperfJson(r.stdout);
  } finally {
    srv.kill("SIGKILL");
    await srv.exited;
  }
}
