// The pid file (-p / pid-file). ocserv writes "PID\n" after daemonizing and removes the file at exit.
// We remove it only if it still holds our pid, so a second instance started by mistake, which rewrote
// the file, is not left without one when the first exits.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync, constants } from "node:fs";

export class PidFileError extends Error {
  constructor(readonly code: "write-failed", readonly path: string, detail: string) {
    super(`cannot write pid file ${path}: ${detail}`);
    this.name = "PidFileError";
  }
}

export interface PidFile {
  readonly path: string;
  /** Removes the file if it still names this process. Never throws. */
  remove(): void;
}

export function writePidFile(path: string, pid: number): PidFile {
  try {
    // O_NOFOLLOW: a pid file in a shared directory must not be turned into a symlink to another file.
    const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o644);
    try {
      writeSync(fd, `${pid}\n`);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    throw new PidFileError("write-failed", path, (e as NodeJS.ErrnoException).code ?? String(e));
  }
  return {
    path,
    remove(): void {
      try {
        if (readFileSync(path, "utf8").trim() === String(pid)) unlinkSync(path);
      } catch {
        // Already gone, or unreadable: nothing of ours to clean up.
      }
    },
  };
}
