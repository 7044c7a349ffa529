// The worker's side of the process split: recognise the marker, drop privileges, then open the channels.
// Everything a worker needs from disk must be imported or read BEFORE enterWorker() when chroot is used:
// under `bun src/cli.ts` a dynamic import() after chroot fails (the compiled binary embeds its modules).
import { Channel, type Message, type Reply } from "./channel.ts";
import { dropPrivileges, type DropPlan } from "./drop.ts";
import type { Ids } from "./libc.ts";
import { FD_CONTROL, FD_CONTROL_FDS, FD_FIRST_LISTEN, FD_KEYS, WORKER_ENV } from "./spawn.ts";
import { SyncClient } from "./sync-client.ts";

export class WorkerEnvError extends Error {
  override readonly name = "WorkerEnvError";
  readonly code = "bad-worker-env";
}

export interface WorkerEnv {
  readonly plan: DropPlan;
  readonly listenCount: number;
}

/** True if this process was started by spawnWorker. */
export function isWorkerProcess(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  return env[WORKER_ENV] !== undefined;
}

function idOrNull(v: unknown, what: string): number | null {
  if (v === null) return null;
  if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v < 0xffffffff) return v;
  throw new WorkerEnvError(`bad ${what}`);
}

/** Parses the marker strictly: every field present with its type, nothing else. */
export function decodeWorkerEnv(text: string): WorkerEnv {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new WorkerEnvError("worker environment is not valid JSON");
  }
  if (typeof raw !== "object" || raw === null) throw new WorkerEnvError("worker environment is not an object");
  const o = raw as Record<string, unknown>;
  if (o["v"] !== 1) throw new WorkerEnvError("unknown worker environment version");
  const listen = o["listen"];
  if (typeof listen !== "number" || !Number.isInteger(listen) || listen < 0 || listen > 64) throw new WorkerEnvError("bad listen count");
  const p = o["plan"];
  if (typeof p !== "object" || p === null) throw new WorkerEnvError("missing plan");
  const q = p as Record<string, unknown>;
  const chroot = q["chroot"];
  if (chroot !== null && (typeof chroot !== "string" || !chroot.startsWith("/") || chroot.includes("\0"))) throw new WorkerEnvError("bad chroot");
  if (typeof q["dumpable"] !== "boolean") throw new WorkerEnvError("bad flags");
  const plan: DropPlan = {
    uid: idOrNull(q["uid"], "uid"),
    gid: idOrNull(q["gid"], "gid"),
    chroot,
    dumpable: q["dumpable"],
  };
  return { plan, listenCount: listen };
}

export interface WorkerContext {
  readonly ids: Ids;
  /** The control channel to main (requests both ways, descriptors). */
  readonly control: Channel;
  /** Blocking key requests (for RemotePrivateKey.sign). */
  readonly keys: SyncClient;
  /** Listening sockets inherited from main; adopt with Bun.listen({ fd }). */
  readonly listenFds: readonly number[];
}

export interface EnterOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly onRequest?: (msg: Message) => Reply | Promise<Reply>;
  readonly onNotify?: (msg: Message) => void;
  /** main went away: the worker should exit (ocserv workers exit when their cmd socket closes). */
  readonly onMainLost: () => void;
}

/**
 * Drops privileges as the plan says, then opens the channels. Throws if the marker is missing or any
 * step fails; the caller must then exit non-zero without touching the network.
 */
export async function enterWorker(options: EnterOptions): Promise<WorkerContext> {
  const text = (options.env ?? process.env)[WORKER_ENV];
  if (text === undefined) throw new WorkerEnvError("not a worker process");
  const { plan, listenCount } = decodeWorkerEnv(text);
  const ids = dropPrivileges(plan);
  const control = await Channel.open({
    dataFd: FD_CONTROL,
    fdSocket: FD_CONTROL_FDS,
    onClose: () => options.onMainLost(),
    ...(options.onRequest !== undefined ? { onRequest: options.onRequest } : {}),
    ...(options.onNotify !== undefined ? { onNotify: options.onNotify } : {}),
  });
  const listenFds = Array.from({ length: listenCount }, (_, i) => FD_FIRST_LISTEN + i);
  return { ids, control, keys: new SyncClient(FD_KEYS), listenFds };
}
