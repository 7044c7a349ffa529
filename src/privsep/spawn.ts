// Starting, watching and restarting unprivileged workers. Bun cannot fork, so a worker is this same program
// re-executed (the compiled binary, or `bun src/cli.ts`) with the environment marker WORKER_ENV set; the
// worker's entry point calls enterWorker() (worker.ts) before it parses any network input.
//
// Descriptor layout in the child (Bun.spawn's stdio array puts entry i on fd i and clears close-on-exec
// there; every other descriptor of main is close-on-exec and does not leak):
//   0 /dev/null, 1 and 2 inherited (logs)
//   3 control channel, data (SOCK_STREAM)       4 control channel, descriptors (SOCK_SEQPACKET)
//   5 key socket (SOCK_STREAM, blocking requests from the worker's PrivateKey)
//   6… listening sockets, in the order given (adopted with Bun.listen({ fd }))
import type { Subprocess } from "bun";
import { Channel, type CloseReason, type Message, type Reply } from "./channel.ts";
import type { DropPlan } from "./drop.ts";
import type { KeyService } from "./key-service.ts";
import { closeFd, socketPair } from "./libc.ts";

/** Environment variable that marks a worker process; its value is the encoded DropPlan and fd layout. */
export const WORKER_ENV = "OCSERV_PRIVSEP_WORKER";
export const FD_CONTROL = 3;
export const FD_CONTROL_FDS = 4;
export const FD_KEYS = 5;
export const FD_FIRST_LISTEN = 6;
const MAX_LISTEN_FDS = 64;

export interface WorkerSpec {
  /** argv of the program to run: [process.execPath] for the compiled binary, [execPath, script] under bun. */
  readonly command: readonly string[];
  readonly plan: DropPlan;
  /** Listening sockets to hand over (main keeps its own copies). */
  readonly listenFds: readonly number[];
  /** The environment of the worker, without the marker (added here). Default: main's environment. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Where the worker's stdout/stderr go. Default: inherited. */
  readonly stdio?: "inherit" | "ignore";
  readonly keys: KeyService | null;
  readonly onRequest?: (msg: Message) => Reply | Promise<Reply>;
  readonly onNotify?: (msg: Message) => void;
}

export interface WorkerHandle {
  readonly pid: number;
  /** Main's end of the control channel (requests both ways, descriptors). */
  readonly control: Channel;
  /** Main's end of the key socket (served by spec.keys). */
  readonly keyChannel: Channel;
  /** Resolves when the control or key channel ends (the worker died, closed it, or broke the protocol). */
  readonly channelLost: Promise<CloseReason>;
  /** Resolves with how the worker ended, once it has exited. */
  readonly exited: Promise<WorkerExit>;
  kill(signal?: NodeJS.Signals): void;
}

export interface WorkerExit {
  readonly pid: number;
  readonly code: number | null;
  readonly signal: string | null;
}

/** Encodes the plan for the environment. Parsed strictly by decodeWorkerEnv (worker.ts). */
export function encodeWorkerEnv(plan: DropPlan, listenCount: number): string {
  return JSON.stringify({ v: 1, plan, listen: listenCount });
}

export async function spawnWorker(spec: WorkerSpec): Promise<WorkerHandle> {
  if (spec.listenFds.length > MAX_LISTEN_FDS) throw new RangeError(`at most ${MAX_LISTEN_FDS} listening sockets`);
  const [ctlMain, ctlWorker] = socketPair("stream");
  const [fdsMain, fdsWorker] = socketPair("seqpacket");
  const [keyMain, keyWorker] = socketPair("stream");
  const childEnds = [ctlWorker, fdsWorker, keyWorker];
  let proc: Subprocess;
  try {
    const out = spec.stdio ?? "inherit";
    proc = Bun.spawn([...spec.command], {
      env: { ...(spec.env ?? process.env), [WORKER_ENV]: encodeWorkerEnv(spec.plan, spec.listenFds.length) },
      stdio: ["ignore", out, out, ctlWorker, fdsWorker, keyWorker, ...spec.listenFds],
    });
  } catch (e) {
    for (const fd of [ctlMain, fdsMain, keyMain, ...childEnds]) closeFd(fd);
    throw e;
  }
  // main must not hold the worker's ends, or it would never see the worker's side close.
  for (const fd of childEnds) closeFd(fd);
  const exited = proc.exited.then(() => ({ pid: proc.pid, code: proc.exitCode, signal: proc.signalCode === null ? null : String(proc.signalCode) }));
  let lose: (r: CloseReason) => void = () => undefined;
  const channelLost = new Promise<CloseReason>((resolve) => (lose = resolve));
  // If adopting either end fails, the worker must not be left running without a supervisor.
  let control: Channel;
  try {
    control = await Channel.open({
      dataFd: ctlMain,
      fdSocket: fdsMain,
      onClose: (r) => lose(r),
      ...(spec.onRequest !== undefined ? { onRequest: spec.onRequest } : {}),
      ...(spec.onNotify !== undefined ? { onNotify: spec.onNotify } : {}),
    });
  } catch (e) {
    closeFd(keyMain);
    proc.kill("SIGKILL");
    throw e;
  }
  let keyChannel: Channel;
  try {
    keyChannel = await Channel.open({
      dataFd: keyMain,
      fdSocket: null,
      onClose: (r) => lose(r),
      ...(spec.keys !== null ? { onRequest: spec.keys.handle } : {}),
    });
  } catch (e) {
    control.close();
    proc.kill("SIGKILL");
    throw e;
  }
  return {
    pid: proc.pid,
    control,
    keyChannel,
    channelLost,
    exited,
    kill: (signal = "SIGTERM") => proc.kill(signal),
  };
}

// ---- supervision -------------------------------------------------------------------------------------

export interface PoolOptions {
  readonly size: number;
  readonly start: () => Promise<WorkerHandle>;
  /** Restarts allowed within `windowMs` before the pool gives up (like ocserv, whose main exits when a sec-mod dies). */
  readonly maxRestarts: number;
  readonly windowMs: number;
  /** Wait before restarting, so a worker that dies at start does not spin. */
  readonly restartDelayMs: number;
  readonly now?: () => number;
  /** A worker (new or restarted) is up. */
  readonly onStarted?: (w: WorkerHandle) => void;
  /** A worker ended (exit or channel loss); its connections are gone. */
  readonly onLost?: (w: WorkerHandle, why: WorkerExit | CloseReason) => void;
  /** The pool stopped restarting: too many deaths, or a start failed. main should exit with status 1. */
  readonly onGiveUp: (error: Error) => void;
}

type PoolState = { readonly kind: "running" } | { readonly kind: "stopped" };

/** Keeps `size` workers running; a dead worker is killed if needed, reaped and replaced. */
export class WorkerPool {
  private state: PoolState = { kind: "running" };
  private readonly live = new Set<WorkerHandle>();
  private restarts: number[] = [];

  constructor(private readonly opts: PoolOptions) {}

  get workers(): readonly WorkerHandle[] {
    return [...this.live];
  }

  async start(): Promise<void> {
    for (let i = 0; i < this.opts.size; i++) await this.launch();
  }

  /** Stops supervising and terminates every worker; resolves when they have exited. */
  async stop(): Promise<void> {
    this.state = { kind: "stopped" };
    const all = [...this.live];
    for (const w of all) {
      w.control.close();
      w.keyChannel.close();
      w.kill("SIGTERM");
    }
    await Promise.all(all.map((w) => w.exited));
  }

  private async launch(): Promise<void> {
    if (this.state.kind !== "running") return;
    let w: WorkerHandle;
    try {
      w = await this.opts.start();
    } catch (e) {
      this.giveUp(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    if (this.state.kind !== "running") {
      w.kill("SIGTERM");
      return;
    }
    this.live.add(w);
    this.opts.onStarted?.(w);
    let lost = false;
    const onLoss = (why: WorkerExit | CloseReason) => {
      if (lost) return;
      lost = true;
      this.live.delete(w);
      // A worker whose channel broke is useless even if it still runs: end it, then replace it.
      w.kill("SIGKILL");
      w.control.close();
      w.keyChannel.close();
      this.opts.onLost?.(w, why);
      void w.exited.then(() => this.replace());
    };
    // Either signal counts: the exit, or a channel that ended (a live worker that lost its channel is useless).
    void w.exited.then(onLoss);
    void w.channelLost.then(onLoss);
  }

  private replace(): void {
    if (this.state.kind !== "running") return;
    const now = (this.opts.now ?? Date.now)();
    this.restarts = this.restarts.filter((t) => now - t < this.opts.windowMs);
    this.restarts.push(now);
    if (this.restarts.length > this.opts.maxRestarts) {
      this.giveUp(new Error(`workers died ${this.restarts.length} times within ${this.opts.windowMs} ms`));
      return;
    }
    setTimeout(() => void this.launch(), this.opts.restartDelayMs);
  }

  private giveUp(error: Error): void {
    if (this.state.kind !== "running") return;
    this.state = { kind: "stopped" };
    for (const w of this.live) w.kill("SIGKILL");
    this.opts.onGiveUp(error);
  }
}
