// /proc readers for the lab benchmark: a server's process tree, its CPU time and its memory.
//
// Debian's ocserv is a main process plus sec-mod plus one forked worker per client, so every figure is
// taken over the whole tree (the root and all its descendants), never over one pid. Ours is a single
// process (with threads, which /proc/PID/stat already sums), so the same code measures both fairly.

import { readFileSync, readdirSync } from "node:fs";

/** Clock ticks per second for /proc/PID/stat times (sysconf(_SC_CLK_TCK); 100 on every Linux we run on,
 *  and asked from getconf once so an unusual kernel would not silently skew CPU figures). */
export function clockTicksPerSecond(): number {
  const r = Bun.spawnSync(["getconf", "CLK_TCK"]);
  const n = Number(r.stdout.toString().trim());
  return Number.isInteger(n) && n > 0 ? n : 100;
}

interface StatFields {
  readonly ppid: number;
  /** utime + stime of the process itself (all its threads), in ticks. */
  readonly selfTicks: number;
  /** cutime + cstime: CPU of children this process has already reaped, in ticks. */
  readonly reapedTicks: number;
}

/** Parses /proc/PID/stat. The command name (field 2) may contain spaces and parentheses, so fields are
 *  counted from the LAST ')' (proc(5)). Returns null when the process is gone or the line is malformed. */
export function parseStat(line: string): StatFields | null {
  const close = line.lastIndexOf(")");
  if (close < 0) return null;
  // After ")": field 3 (state) is index 0, so field N is index N-3.
  const f = line.slice(close + 2).trim().split(/\s+/);
  const num = (field: number): number => Number(f[field - 3]);
  const ppid = num(4);
  const utime = num(14), stime = num(15), cutime = num(16), cstime = num(17);
  if (![ppid, utime, stime, cutime, cstime].every(Number.isFinite)) return null;
  return { ppid, selfTicks: utime + stime, reapedTicks: cutime + cstime };
}

function readStat(pid: number): StatFields | null {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, "latin1"));
  } catch {
    return null;
  }
}

/** The root pid and all its live descendants (one scan of /proc, then a walk of the parent links). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const st = readStat(pid);
    if (!st) continue;
    const list = children.get(st.ppid);
    if (list) list.push(pid);
    else children.set(st.ppid, [pid]);
  }
  if (!readStat(root)) return [];
  const out: number[] = [];
  const todo = [root];
  while (todo.length > 0) {
    const pid = todo.pop()!;
    out.push(pid);
    for (const c of children.get(pid) ?? []) todo.push(c);
  }
  return out;
}

/** CPU seconds consumed so far by a process tree: utime+stime of every live member, plus cutime+cstime
 *  of every member (workers that exited and were reaped still count, through their parent). The
 *  difference of two samples is the CPU the tree used in between, including short-lived workers. */
export function treeCpuSeconds(root: number, ticksPerSecond: number): number {
  let ticks = 0;
  for (const pid of processTree(root)) {
    const st = readStat(pid);
    if (st) ticks += st.selfTicks + st.reapedTicks;
  }
  return ticks / ticksPerSecond;
}

export interface TreeMemory {
  /** Number of processes summed. */
  readonly processes: number;
  /** Sum of VmRSS over the tree, KiB. Counts shared pages (libraries, the ocserv image after fork)
   *  once per process, so it overstates a forking server. */
  readonly rssKb: number;
  /** Sum of Pss from /proc/PID/smaps_rollup, KiB: shared pages divided among the processes sharing
   *  them, so the sum is the tree's real share of memory. This is the figure the comparison uses. */
  readonly pssKb: number;
}

function statusKb(pid: number, key: string): number {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "latin1"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function pssKb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "latin1"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export function treeMemory(root: number): TreeMemory {
  const pids = processTree(root);
  let rss = 0, pss = 0;
  for (const pid of pids) {
    rss += statusKb(pid, "VmRSS");
    pss += pssKb(pid);
  }
  return { processes: pids.length, rssKb: rss, pssKb: pss };
}

function readComm(path: string): string {
  try {
    return readFileSync(path, "latin1").trim();
  } catch {
    return "?";
  }
}

/** CPU seconds so far per thread kind over a process tree, keyed "process comm/thread comm" (e.g.
 *  "ocserv/ocserv", "ocserv/HeapHelper", "ocserv-sm/ocserv-sm"); threads of the same kind are summed.
 *  The difference of two samples says which threads did the work: for ours, the main JS thread
 *  against the tun epoll worker, GC helpers and Bun's pools; for ocserv, main against sec-mod and
 *  workers. Reaped children's CPU is not attributable here and is left out. */
export function treeCpuByThread(root: number, ticksPerSecond: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const pid of processTree(root)) {
    const pcomm = readComm(`/proc/${pid}/comm`);
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      let st: StatFields | null;
      try {
        st = parseStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, "latin1"));
      } catch {
        st = null;
      }
      if (!st) continue;
      // Worker/pool threads are often numbered ("Bun Pool 3"); strip trailing digits to group them.
      const key = `${pcomm}/${readComm(`/proc/${pid}/task/${tid}/comm`).replace(/\s*\d+$/, "")}`;
      out.set(key, (out.get(key) ?? 0) + st.selfTicks / ticksPerSecond);
    }
  }
  return out;
}

/** after − before per key, largest first, dropping keys under minSeconds. */
export function cpuDelta(before: Map<string, number>, after: Map<string, number>, minSeconds = 0.005): Record<string, number> {
  const rows: [string, number][] = [];
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d >= minSeconds) rows.push([k, Math.round(d * 1000) / 1000]);
  }
  rows.sort((a, b) => b[1] - a[1]);
  return Object.fromEntries(rows);
}
