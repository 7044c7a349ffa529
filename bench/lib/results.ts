// Result records of one lab run, their aggregation into ref/ours/ratio rows, and the printed table.
// Everything here is pure: lab.ts measures, this file only shapes numbers and text.

import type { ServerName } from "./server.ts";
import type { Mode } from "./client.ts";
import type { CertKind } from "./lab-env.ts";

export interface DirectionSample {
  readonly mbps: number;
  readonly bytes: number;
  /** Server tree CPU seconds during the iperf3 run. */
  readonly serverCpuS: number;
  /** openconnect's CPU seconds during the same run (tells whether the client was the limit). */
  readonly clientCpuS: number;
  readonly cpuSPerGbit: number;
  /** Server CPU seconds during the run per "process comm/thread comm", largest first. */
  readonly serverCpuByThread?: Readonly<Record<string, number>>;
}

export interface TunnelSample {
  readonly server: ServerName;
  readonly mode: Mode;
  readonly round: number;
  /** Connect time of the measured (second) session on this server instance. */
  readonly connectSeconds?: number;
  /** Server tree CPU consumed by the measured connect (authentication, CONNECT, tun, DTLS). */
  readonly connectServerCpuMs?: number;
  /** Connect time of the first session on the freshly started server. */
  readonly coldConnectSeconds?: number;
  /** openconnect's "Connected to HTTPS … with ciphersuite" text. */
  readonly tlsSuite?: string;
  readonly dtls?: { readonly established: boolean; readonly line: string };
  readonly up?: DirectionSample;
  readonly down?: DirectionSample;
  readonly errors: string[];
}

export interface MemorySample {
  readonly server: ServerName;
  readonly sessions: number;
  readonly connected: number;
  readonly before?: { readonly processes: number; readonly rssKb: number; readonly pssKb: number };
  readonly after?: { readonly processes: number; readonly rssKb: number; readonly pssKb: number };
  readonly pssKbPerSession?: number;
  readonly rssKbPerSession?: number;
  readonly errors: string[];
}

export interface HandshakeSample {
  readonly server: ServerName;
  readonly cert: CertKind;
  readonly round: number;
  readonly handshakes?: number;
  readonly seconds?: number;
  readonly perSecond?: number;
  readonly serverCpuMsPerHandshake?: number;
  readonly clientErrors?: number;
  readonly protocol?: string;
  readonly cipher?: string;
  readonly errors: string[];
}

export interface Row {
  readonly metric: string;
  readonly ref: number | string | undefined;
  readonly ours: number | string | undefined;
  /** ours/ref, when both are numbers. */
  readonly ratio: number | undefined;
  readonly better: "higher" | "lower" | "";
  readonly note?: string;
}

export function median(xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function ratio(ref: number | undefined, ours: number | undefined): number | undefined {
  return ref !== undefined && ours !== undefined && ref > 0 ? ours / ref : undefined;
}

function numRow(metric: string, better: "higher" | "lower", ref: number | undefined, ours: number | undefined, note?: string): Row {
  return { metric, ref, ours, ratio: ratio(ref, ours), better, ...(note ? { note } : {}) };
}

function pick<T>(xs: readonly T[], f: (x: T) => number | undefined): number[] {
  const out: number[] = [];
  for (const x of xs) {
    const v = f(x);
    if (v !== undefined && Number.isFinite(v)) out.push(v);
  }
  return out;
}

export const MODES: readonly Mode[] = ["dtls", "tls"];

/** DTLS suite text for one server in one mode: the first established line, else the first reason. */
function dtlsText(samples: readonly TunnelSample[]): string | undefined {
  const est = samples.find((s) => s.dtls?.established);
  if (est) return est.dtls!.line.replace(/^Established DTLS connection\s*/, "");
  return samples.find((s) => s.dtls)?.dtls?.line;
}

export function tunnelRows(samples: readonly TunnelSample[]): Row[] {
  const rows: Row[] = [];
  for (const mode of MODES) {
    const of = (server: ServerName) => samples.filter((s) => s.mode === mode && s.server === server);
    const ref = of("ref"), ours = of("ours");
    const M = mode.toUpperCase();
    // A zero-throughput run is a failed run (already listed in its errors), not a data point.
    const med = (xs: readonly TunnelSample[], f: (s: TunnelSample) => number | undefined) => median(pick(xs, f));
    const oursFellBack = mode === "dtls" && ours.length > 0 && !ours.some((s) => s.dtls?.established);
    const fb = oursFellBack ? "ours ran over TLS: DTLS not established" : undefined;
    rows.push(numRow(`${M} up Mbit/s`, "higher", med(ref, (s) => s.up?.mbps || undefined), med(ours, (s) => s.up?.mbps || undefined), fb));
    rows.push(numRow(`${M} down Mbit/s`, "higher", med(ref, (s) => s.down?.mbps || undefined), med(ours, (s) => s.down?.mbps || undefined), fb));
    rows.push(numRow(`${M} connect ms`, "lower", med(ref, (s) => (s.connectSeconds ?? NaN) * 1000), med(ours, (s) => (s.connectSeconds ?? NaN) * 1000),
      "second session on the server instance"));
    rows.push(numRow(`${M} connect server CPU ms`, "lower", med(ref, (s) => s.connectServerCpuMs), med(ours, (s) => s.connectServerCpuMs),
      "10 ms clock ticks: coarse"));
    rows.push(numRow(`${M} connect ms, first after start`, "lower", med(ref, (s) => (s.coldConnectSeconds ?? NaN) * 1000), med(ours, (s) => (s.coldConnectSeconds ?? NaN) * 1000)));
    rows.push(numRow(`${M} server CPU s/Gbit up`, "lower", med(ref, (s) => s.up?.cpuSPerGbit), med(ours, (s) => s.up?.cpuSPerGbit)));
    rows.push(numRow(`${M} server CPU s/Gbit down`, "lower", med(ref, (s) => s.down?.cpuSPerGbit), med(ours, (s) => s.down?.cpuSPerGbit)));
    rows.push(numRow(`${M} client CPU s/Gbit up+down`, "lower",
      med(ref, (s) => clientPerGbit(s)), med(ours, (s) => clientPerGbit(s)), "openconnect's CPU: the other end of the tunnel"));
    const suite = (xs: readonly TunnelSample[]) => xs.find((s) => s.tlsSuite)?.tlsSuite;
    rows.push({ metric: `${M} TLS suite`, ref: suite(ref), ours: suite(ours), ratio: undefined, better: "" });
    if (mode === "dtls") rows.push({ metric: `${M} DTLS suite`, ref: dtlsText(ref), ours: dtlsText(ours), ratio: undefined, better: "" });
  }
  return rows;
}

function clientPerGbit(s: TunnelSample): number | undefined {
  if (!s.up || !s.down) return undefined;
  const gbit = ((s.up.bytes + s.down.bytes) * 8) / 1e9;
  return gbit > 0 ? (s.up.clientCpuS + s.down.clientCpuS) / gbit : undefined;
}

export function memoryRows(samples: readonly MemorySample[], sessions: number): Row[] {
  const of = (server: ServerName) => samples.find((s) => s.server === server);
  const ref = of("ref"), ours = of("ours");
  const note = (s: MemorySample | undefined) => (s && s.connected !== sessions ? `${s.server}: ${s.connected}/${sessions} connected` : "");
  const n = [note(ref), note(ours)].filter(Boolean).join("; ");
  return [
    numRow(`memory PSS KiB/session (${sessions} sessions)`, "lower", ref?.pssKbPerSession, ours?.pssKbPerSession, n || "PSS summed over main + all children"),
    numRow(`memory RSS KiB/session (${sessions} sessions)`, "lower", ref?.rssKbPerSession, ours?.rssKbPerSession, "RSS sum counts shared pages per process"),
    numRow("memory PSS MiB before (after 1 warm-up session)", "lower", kbToMib(ref?.before?.pssKb), kbToMib(ours?.before?.pssKb)),
  ];
}

function kbToMib(kb: number | undefined): number | undefined {
  return kb === undefined ? undefined : kb / 1024;
}

export function handshakeRows(samples: readonly HandshakeSample[]): Row[] {
  const rows: Row[] = [];
  for (const cert of ["rsa", "ecdsa"] as const) {
    const of = (server: ServerName) => samples.filter((s) => s.server === server && s.cert === cert);
    const ref = of("ref"), ours = of("ours");
    const label = cert === "rsa" ? "RSA-3072" : "ECDSA P-256";
    const proto = [ref[0], ours[0]].map((s) => (s?.protocol ? `${s.server}: ${s.protocol} ${s.cipher}` : "")).filter(Boolean).join("; ");
    const med = (xs: readonly HandshakeSample[], f: (s: HandshakeSample) => number | undefined) => median(pick(xs, f));
    rows.push(numRow(`handshakes/s ${label}`, "higher", med(ref, (s) => s.perSecond || undefined), med(ours, (s) => s.perSecond || undefined), proto));
    rows.push(numRow(`server CPU ms/handshake ${label}`, "lower", med(ref, (s) => s.serverCpuMsPerHandshake), med(ours, (s) => s.serverCpuMsPerHandshake)));
  }
  return rows;
}

/** "TLS mode: up 0.83x, down 0.91x of ocserv" per mode. */
export function summaries(rows: readonly Row[], tunnel: readonly TunnelSample[]): string[] {
  const out: string[] = [];
  for (const mode of MODES) {
    const M = mode.toUpperCase();
    const get = (m: string) => rows.find((r) => r.metric === `${M} ${m}`)?.ratio;
    const up = get("up Mbit/s"), down = get("down Mbit/s"), cpuUp = get("server CPU s/Gbit up"), cpuDown = get("server CPU s/Gbit down");
    const f = (x: number | undefined) => (x === undefined ? "n/a" : `${x.toFixed(2)}x`);
    let line = `${M} mode: up ${f(up)}, down ${f(down)} of ocserv; server CPU per Gbit up ${f(cpuUp)}, down ${f(cpuDown)}`;
    if (mode === "dtls") {
      const ours = tunnel.filter((s) => s.mode === "dtls" && s.server === "ours");
      if (ours.length > 0 && !ours.some((s) => s.dtls?.established)) {
        line += ` (ours: DTLS not established, its figures are CSTP-over-TLS)`;
      }
    }
    out.push(line);
  }
  return out;
}

function fmt(v: number | string | undefined): string {
  if (v === undefined) return "—";
  if (typeof v === "string") return v;
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** A plain-text table; long text cells (DTLS suites) are printed under the numeric part. */
export function renderTable(rows: readonly Row[]): string {
  const head = ["metric", "ref (ocserv)", "ours", "ours/ref", "better", "note"];
  const body = rows.map((r) => {
    const long = typeof r.ref === "string" || typeof r.ours === "string";
    return long
      ? [r.metric, "", "", "", "", `ref: ${fmt(r.ref)} | ours: ${fmt(r.ours)}`]
      : [r.metric, fmt(r.ref), fmt(r.ours), r.ratio === undefined ? "—" : `${r.ratio.toFixed(2)}x`, r.better, r.note ?? ""];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (i === 5 ? 0 : b[i]!.length))));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === 5 ? c : i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd();
  return [line(head), line(widths.map((w, i) => (i === 5 ? "----" : "-".repeat(w)))), ...body.map(line)].join("\n");
}

/** The same rows as a Markdown table, for reports. */
export function renderMarkdown(rows: readonly Row[]): string {
  const out = ["| metric | ref (ocserv) | ours | ours/ref | better | note |", "|---|---:|---:|---:|---|---|"];
  for (const r of rows) {
    out.push(`| ${r.metric} | ${fmt(r.ref)} | ${fmt(r.ours)} | ${r.ratio === undefined ? "—" : `${r.ratio.toFixed(2)}x`} | ${r.better} | ${r.note ?? ""} |`);
  }
  return out.join("\n");
}
