// Dropping privileges in a worker, in ocserv's order (isolate.c drop_privileges), adapted to a process
// that was exec'ed rather than forked:
//   chroot(dir) + chdir("/")        needs root, so first; paths after this are inside the jail
//   setgroups([gid]) → setgid(gid)  supplementary groups first: after setuid we could not change them
//   setuid(uid)                     last credential change; glibc applies it to every thread
//   check: getuid/geteuid == uid, and setuid(0) now fails — proves there is no way back
//   PR_SET_NO_NEW_PRIVS             execve can no longer gain privileges (setuid binaries, file caps)
//   PR_SET_DUMPABLE 0 unless -x     no ptrace by the same uid, no core with session data (ocserv -x)
// ocserv also sets RLIMIT_NPROC to 0 here. We do not: threads count against RLIMIT_NPROC, Bun starts its
// helper threads lazily, and a Bun worker with RLIMIT_NPROC=0 aborted ("panic: abort() called") on its
// first large allocation (measured; docs/privsep.md). Blocking fork/exec needs seccomp instead.
// Ids are numbers resolved by main (getpwnam needs NSS files that are absent after chroot).
import {
  chdir,
  chroot,
  currentIds,
  EPERM,
  setDumpable,
  setGid,
  setGroups,
  setNoNewPrivs,
  setUid,
  trySetUid,
  type Ids,
} from "./libc.ts";

export interface DropPlan {
  /** run-as-user's uid; null keeps the current user (ocserv: unset run-as-user leaves workers as root). */
  readonly uid: number | null;
  /** run-as-group's gid (or the user's primary group); required when uid is set. */
  readonly gid: number | null;
  readonly chroot: string | null;
  /** -x / --traceable: keep the process dumpable for debugging. */
  readonly dumpable: boolean;
}

export type DropErrorCode = "bad-plan" | "still-privileged";

export class DropError extends Error {
  override readonly name = "DropError";
  constructor(
    readonly code: DropErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Applies `plan` to this process. Throws (LibcError or DropError) on any failure: the caller must exit, not continue privileged. */
export function dropPrivileges(plan: DropPlan): Ids {
  if (plan.uid !== null && plan.gid === null) throw new DropError("bad-plan", "a uid without a gid would keep group root");
  if (plan.chroot !== null) {
    chroot(plan.chroot);
    chdir("/");
  }
  if (plan.gid !== null) {
    setGroups([plan.gid]);
    setGid(plan.gid);
  }
  if (plan.uid !== null) {
    setUid(plan.uid);
    const ids = currentIds();
    if (ids.uid !== plan.uid || ids.euid !== plan.uid) throw new DropError("still-privileged", `uid is ${ids.uid}/${ids.euid} after setuid(${plan.uid})`);
    if (plan.uid !== 0 && trySetUid(0) !== EPERM) throw new DropError("still-privileged", "setuid(0) did not fail after dropping privileges");
  }
  if (plan.gid !== null) {
    const ids = currentIds();
    if (ids.gid !== plan.gid || ids.egid !== plan.gid || ids.groups.some((g) => g !== plan.gid)) {
      throw new DropError("still-privileged", "group ids did not change as asked");
    }
  }
  setNoNewPrivs();
  // The kernel already cleared "dumpable" when the credentials changed; set it explicitly either way.
  setDumpable(plan.dumpable);
  return currentIds();
}
