// Summary of a `bun --cpu-prof` profile (Chrome .cpuprofile JSON): where our server spent its CPU during
// the profiled lab workload, as self time per function and per source file.

export interface ProfileEntry {
  readonly name: string;
  readonly location: string;
  readonly selfMs: number;
  readonly selfPct: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  readonly samples: number;
  readonly functions: readonly ProfileEntry[];
  readonly files: readonly ProfileEntry[];
}

interface CpuProfileNode {
  readonly id: number;
  readonly children?: readonly number[];
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface CpuProfile {
  readonly nodes: readonly CpuProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

function isProfile(x: unknown): x is CpuProfile {
  const p = x as Partial<CpuProfile> | null;
  return !!p && Array.isArray(p.nodes) && Array.isArray(p.samples) && Array.isArray(p.timeDeltas);
}

/** Self time is counted in samples, each worth the sampling interval. Not the timeDeltas convention of
 *  Chrome DevTools: JSC records no samples while the thread is idle in the event loop, so the delta
 *  after the last sample before an idle stretch spans the whole stretch, and would be charged to
 *  whatever ran last (measured: a 1.9 s "close" per disconnect that was really idle time). Paths are
 *  shown relative to the repo. */
export function summarizeProfile(json: string, repo: string, top = 15, intervalUs = 1000): ProfileSummary | { error: string } {
  let p: unknown;
  try {
    p = JSON.parse(json);
  } catch {
    return { error: "profile is not JSON" };
  }
  if (!isProfile(p)) return { error: "not a .cpuprofile (nodes/samples/timeDeltas missing)" };
  const byId = new Map<number, CpuProfileNode>();
  const parent = new Map<number, CpuProfileNode>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n);
  }
  const rel = (url: string) => (url.startsWith(`file://${repo}/`) ? url.slice(repo.length + 8) : url.startsWith(`${repo}/`) ? url.slice(repo.length + 1) : url);
  const fn = new Map<string, { name: string; location: string; us: number }>();
  const file = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const node = byId.get(p.samples[i]!);
    const us = intervalUs;
    if (!node) continue;
    total += us;
    const url = rel(node.callFrame.url);
    // A native frame (crypto, FFI, typed-array builtins) is named after the JS function that called it,
    // so "update" reads as node:crypto's update from records.ts rather than a bare name.
    const caller = url ? undefined : parent.get(node.id);
    const location = url
      ? `${url}:${node.callFrame.lineNumber + 1}`
      : caller
        ? `(native) from ${caller.callFrame.functionName || "(anonymous)"} ${rel(caller.callFrame.url)}:${caller.callFrame.lineNumber + 1}`
        : "(native)";
    const name = node.callFrame.functionName || "(anonymous)";
    const key = `${name}@${location}`;
    const e = fn.get(key);
    if (e) e.us += us;
    else fn.set(key, { name, location, us });
    const fkey = url || `(native) ${name}`;
    file.set(fkey, (file.get(fkey) ?? 0) + us);
  }
  const pct = (us: number) => (total > 0 ? (100 * us) / total : 0);
  const functions = [...fn.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((e) => ({ name: e.name, location: e.location, selfMs: e.us / 1000, selfPct: pct(e.us) }));
  const files = [...file.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([f, us]) => ({ name: f, location: f, selfMs: us / 1000, selfPct: pct(us) }));
  return { totalMs: total / 1000, samples: p.samples.length, functions, files };
}

export function renderProfile(s: ProfileSummary): string {
  const line = (e: ProfileEntry) => `  ${e.selfPct.toFixed(1).padStart(5)}%  ${e.selfMs.toFixed(0).padStart(6)} ms  ${e.name}  ${e.name === e.location ? "" : e.location}`;
  return [
    `profile: ${s.samples} samples, ${s.totalMs.toFixed(0)} ms sampled`,
    "top functions by self time:",
    ...s.functions.map(line),
    "top files by self time:",
    ...s.files.map((e) => `  ${e.selfPct.toFixed(1).padStart(5)}%  ${e.selfMs.toFixed(0).padStart(6)} ms  ${e.name}`),
  ].join("\n");
}
