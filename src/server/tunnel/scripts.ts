// Hook scripts and iroute commands (architecture.md §5, ocserv main-user.c call_script, route-add.c).
//
// connect-script, disconnect-script and host-update-script get the environment of ocserv's
// call_script (built by scriptEnv, pure); route-add-cmd / route-del-cmd get %{R} %R %{RI} %{D} %D
// substituted (routeCommand, pure). Everything runs through `/bin/sh -c` asynchronously with the
// script's stdout sent to our stderr, as ocserv does; the runner is injected so tests can record calls.

import type { Route, RouteEntry } from "../../config/types.ts";
import type { LeaseHolder } from "./leases.ts";

export type ScriptReason = "connect" | "disconnect" | "host-update";

export interface ScriptContext {
  readonly reason: ScriptReason;
  /** ocserv passes the worker pid; we pass the tunnel's id, unique within this server process. */
  readonly id: number;
  readonly vhost: string | null;
  readonly username: string;
  readonly group: string | null;
  readonly hostname: string | null;
  readonly device: string;
  readonly userAgent: string;
  readonly deviceType: string;
  readonly platform: string;
  readonly ipReal: string;
  readonly ipRealLocal: string;
  readonly leases: LeaseHolder;
  readonly routes: readonly RouteEntry[];
  readonly noRoutes: readonly Route[];
  readonly dns: readonly { readonly family: 4 | 6; readonly address: string }[];
  readonly restrictToRoutes: boolean;
  readonly ports?: { readonly negate: boolean; readonly rules: readonly { readonly protocol: string; readonly port: number | null }[] } | null;
  /** Disconnect only. */
  readonly stats?: { readonly bytesIn: number; readonly bytesOut: number; readonly durationSeconds: number };
}

function routeList(routes: readonly RouteEntry[], family: 4 | 6 | null): string {
  const out: string[] = [];
  for (const r of routes) {
    if (r === "default") {
      if (family === null) out.push("default");
      continue;
    }
    if (family === null || r.family === family) out.push(r.text);
  }
  return out.join(" ");
}

/** The variables ocserv's call_script sets (architecture.md §5 table). */
export function scriptEnv(ctx: ScriptContext): Record<string, string> {
  const env: Record<string, string> = {
    REASON: ctx.reason,
    ID: String(ctx.id),
    VHOST: ctx.vhost ?? "default",
    USERNAME: ctx.username,
    GROUPNAME: ctx.group ?? "",
    HOSTNAME: ctx.hostname ?? "",
    REMOTE_HOSTNAME: ctx.hostname ?? "",
    DEVICE: ctx.device,
    USER_AGENT: ctx.userAgent,
    DEVICE_TYPE: ctx.deviceType,
    DEVICE_PLATFORM: ctx.platform,
    IP_REAL: ctx.ipReal,
    IP_REAL_LOCAL: ctx.ipRealLocal,
    OCSERV_ROUTES: routeList(ctx.routes, null),
    OCSERV_ROUTES4: routeList(ctx.routes, 4),
    OCSERV_ROUTES6: routeList(ctx.routes, 6),
    OCSERV_NO_ROUTES: routeList(ctx.noRoutes, null),
    OCSERV_NO_ROUTES4: routeList(ctx.noRoutes, 4),
    OCSERV_NO_ROUTES6: routeList(ctx.noRoutes, 6),
    OCSERV_DNS: ctx.dns.map((d) => d.address).join(" "),
    OCSERV_DNS4: ctx.dns.filter((d) => d.family === 4).map((d) => d.address).join(" "),
    OCSERV_DNS6: ctx.dns.filter((d) => d.family === 6).map((d) => d.address).join(" "),
  };
  const v4 = ctx.leases.ipv4;
  if (v4) {
    env.IP_LOCAL = v4.local;
    env.IP_REMOTE = v4.remote;
  }
  const v6 = ctx.leases.ipv6;
  if (v6) {
    env.IPV6_LOCAL = v6.local;
    env.IPV6_REMOTE = v6.remote;
    env.IPV6_PREFIX = String(v6.subnetPrefix);
  }
  if (ctx.restrictToRoutes) env.OCSERV_RESTRICT_TO_ROUTES = "1";
  if (ctx.ports && ctx.ports.rules.length > 0) {
    // "proto port" pairs, space separated; a protocol without a port (icmp()) has port 0.
    const list = ctx.ports.rules.map((r) => `${r.protocol} ${r.port ?? 0}`).join(" ");
    env[ctx.ports.negate ? "OCSERV_DENY_PORTS" : "OCSERV_ALLOW_PORTS"] = list;
  }
  if (ctx.stats) {
    env.STATS_BYTES_IN = String(ctx.stats.bytesIn);
    env.STATS_BYTES_OUT = String(ctx.stats.bytesOut);
    env.STATS_DURATION = String(ctx.stats.durationSeconds);
  }
  return env;
}

/** route-add.c: %{R} / %R → a.b.c.d/m.m.m.m (IPv6: CIDR), %{RI} → CIDR, %{D} / %D → the device. */
export function routeCommand(template: string, route: Route, device: string): string {
  const cidr = `${route.address}/${route.prefix}`;
  return template
    .split("%{RI}").join(cidr)
    .split("%{R}").join(route.text)
    .split("%R").join(route.text)
    .split("%{D}").join(device)
    .split("%D").join(device);
}

export interface ScriptRunner {
  /** Runs `command` with `/bin/sh -c`, resolving to its exit code (-1 if it could not start). */
  run(command: string, env: Readonly<Record<string, string>>): Promise<number>;
}

/** The real runner: Bun.spawn, the parent's environment plus `env`, stdout and stderr to our stderr. */
export function createShellRunner(): ScriptRunner {
  return {
    async run(command, env) {
      try {
        const proc = Bun.spawn(["/bin/sh", "-c", command], {
          env: { ...process.env, ...env },
          stdin: "ignore",
          stdout: 2,
          stderr: "inherit",
        });
        return await proc.exited;
      } catch {
        return -1;
      }
    },
  };
}
