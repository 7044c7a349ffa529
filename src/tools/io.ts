// The applets' edge to the process: output that is flushed before exit, one line of input (echoed or
// not), and files replaced atomically. Everything the applets decide is computed by pure functions in
// ocpasswd.ts / certtool.ts; this file only moves bytes.

import {
  closeSync,
  fchmodSync,
  fchownSync,
  fsyncSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "../crypto/random.ts";
import { toHex } from "../wire/writer.ts";

export type LineResult =
  | { readonly kind: "line"; readonly text: string }
  /** End of input before any byte, or Ctrl-D on an empty terminal line. */
  | { readonly kind: "eof" }
  /** Ctrl-C at a no-echo prompt (the terminal is in raw mode, so SIGINT is not raised). */
  | { readonly kind: "interrupted" }
  | { readonly kind: "too-long" };

export interface AppletIo {
  out(text: string): Promise<void>;
  err(text: string): Promise<void>;
  readonly stdinIsTty: boolean;
  /** Reads one line from stdin. With `echo: false` on a terminal, the prompt goes to stderr and typing
   *  is not shown (getpass(3)). The line end (LF, CR LF, or CR on a terminal) is not included. */
  readLine(opts: { readonly prompt: string; readonly echo: boolean; readonly maxBytes: number }): Promise<LineResult>;
}

async function write(fd: 1 | 2, text: string): Promise<void> {
  if (text === "") return;
  try {
    await Bun.write(fd === 1 ? Bun.stdout : Bun.stderr, text);
  } catch {
    // A closed stdout/stderr: the exit status still tells the caller.
  }
}

/** The real process: stdout, stderr and stdin. */
export function processIo(): AppletIo {
  const stdin = process.stdin;
  const isTty = stdin.isTTY === true;
  // Bytes read past the end of the last line (only when stdin is not a terminal).
  let pending: Buffer = Buffer.alloc(0);
  let ended = false;
  return {
    out: (t) => write(1, t),
    err: (t) => write(2, t),
    stdinIsTty: isTty,
    async readLine({ prompt, echo, maxBytes }) {
      if (isTty && !echo) return readNoEcho(stdin, prompt, maxBytes);
      if (prompt !== "" && isTty) await write(2, prompt);
      const result = await readBufferedLine(stdin, pending, ended, maxBytes);
      pending = result.rest;
      ended = result.ended;
      return result.line;
    },
  };
}

async function readBufferedLine(
  stdin: NodeJS.ReadStream,
  start: Buffer,
  alreadyEnded: boolean,
  maxBytes: number,
): Promise<{ line: LineResult; rest: Buffer; ended: boolean }> {
  let buf = start;
  let ended = alreadyEnded;
  const done = (): { line: LineResult; rest: Buffer; ended: boolean } | null => {
    const nl = buf.indexOf(0x0a);
    if (nl >= 0) {
      if (nl > maxBytes + 1) return { line: { kind: "too-long" }, rest: Buffer.alloc(0), ended };
      let text = buf.subarray(0, nl).toString("utf8");
      if (text.endsWith("\r")) text = text.slice(0, -1);
      return { line: { kind: "line", text }, rest: buf.subarray(nl + 1), ended };
    }
    if (buf.length > maxBytes + 1) return { line: { kind: "too-long" }, rest: Buffer.alloc(0), ended };
    if (ended) {
      if (buf.length === 0) return { line: { kind: "eof" }, rest: buf, ended };
      return { line: { kind: "line", text: buf.toString("utf8") }, rest: Buffer.alloc(0), ended };
    }
    return null;
  };
  const immediate = done();
  if (immediate !== null) return immediate;
  return new Promise((resolve) => {
    const finish = (r: { line: LineResult; rest: Buffer; ended: boolean }) => {
      stdin.off("data", onData);
      stdin.off("end", onEnd);
      stdin.pause();
      resolve(r);
    };
    const onData = (chunk: Buffer | string) => {
      buf = Buffer.concat([buf, typeof chunk === "string" ? Buffer.from(chunk) : chunk]);
      const r = done();
      if (r !== null) finish(r);
    };
    const onEnd = () => {
      ended = true;
      finish(done()!);
    };
    stdin.on("data", onData);
    stdin.on("end", onEnd);
    stdin.resume();
  });
}

/** getpass(3) on a terminal: raw mode (no echo, no line editing by the tty), minimal editing here. */
function readNoEcho(stdin: NodeJS.ReadStream, prompt: string, maxBytes: number): Promise<LineResult> {
  // Echo goes off before the prompt is shown, so nothing typed after seeing it can be echoed.
  stdin.setRawMode(true);
  return write(2, prompt).then(() => new Promise((resolve) => {
    const typed: number[] = [];
    let tooLong = false;
    const finish = (r: LineResult) => {
      stdin.off("data", onData);
      stdin.off("end", onEnd);
      stdin.setRawMode(false);
      stdin.pause();
      typed.fill(0);
      void write(2, "\n").then(() => resolve(r));
    };
    const onData = (chunk: Buffer | string) => {
      const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      for (const b of bytes) {
        if (b === 0x0d || b === 0x0a) {
          const text = Buffer.from(typed).toString("utf8");
          return finish(tooLong ? { kind: "too-long" } : { kind: "line", text });
        }
        if (b === 0x03) return finish({ kind: "interrupted" });
        if (b === 0x04 && typed.length === 0) return finish({ kind: "eof" });
        if (b === 0x7f || b === 0x08) {
          // Backspace removes one UTF-8 character: drop continuation bytes, then the lead byte.
          while (typed.length > 0 && (typed[typed.length - 1]! & 0xc0) === 0x80) typed.pop();
          typed.pop();
        } else if (b === 0x15) {
          typed.length = 0; // Ctrl-U: kill the line
        } else if (typed.length < maxBytes) {
          typed.push(b);
        } else {
          tooLong = true;
        }
      }
    };
    // The terminal went away (hang-up): no password.
    const onEnd = () => finish({ kind: "eof" });
    stdin.on("data", onData);
    stdin.on("end", onEnd);
    stdin.resume();
  }));
}

export type WriteFileErrorCode = "exists" | "locked" | "io";

export class WriteFileError extends Error {
  override readonly name = "WriteFileError";
  constructor(
    readonly code: WriteFileErrorCode,
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

export interface WriteFileOptions {
  /** Permission bits, set on the file descriptor before any byte is written (not subject to umask). */
  readonly mode: number;
  /** false: fail with "exists" instead of replacing an existing file (decided atomically by link(2)). */
  readonly overwrite: boolean;
  /** Owner to give the new file (e.g. the replaced file's), applied only when running as root. */
  readonly owner?: { readonly uid: number; readonly gid: number };
}

/**
 * Writes `data` to a temporary file in the target's directory, syncs it, then renames it over `path`
 * (or links it, when not overwriting), so a reader sees the old file or the new one, never a part.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, opts: WriteFileOptions): void {
  const tmp = join(dirname(path), `.${basename(path)}.${toHex(randomBytes(6))}.tmp`);
  let fd: number;
  try {
    fd = openSync(tmp, "wx", opts.mode);
  } catch (e) {
    throw new WriteFileError("io", path, `cannot create '${tmp}': ${(e as Error).message}`);
  }
  try {
    try {
      fchmodSync(fd, opts.mode);
      if (opts.owner !== undefined && process.getuid?.() === 0) fchownSync(fd, opts.owner.uid, opts.owner.gid);
      const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (opts.overwrite) {
      renameSync(tmp, path);
    } else {
      try {
        linkSync(tmp, path);
        unlinkSync(tmp);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "EEXIST") throw new WriteFileError("exists", path, `'${path}' already exists (use --force to replace it)`);
        // A file system without hard links (FAT, some FUSE mounts): check, then rename. Not atomic
        // against a concurrent writer, which such a file system cannot offer.
        if (code !== "EPERM" && code !== "EOPNOTSUPP" && code !== "ENOTSUP" && code !== "ENOSYS") throw e;
        if (exists(path)) throw new WriteFileError("exists", path, `'${path}' already exists (use --force to replace it)`);
        renameSync(tmp, path);
      }
    }
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // already renamed or never created
    }
    if (e instanceof WriteFileError) throw e;
    throw new WriteFileError("io", path, `cannot write '${path}': ${(e as Error).message}`);
  }
}

/** Whether a path exists (any file type; a dangling symlink counts as absent). */
export function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Read-modify-write under upstream ocpasswd's lock: `PATH.tmp` is created exclusively (O_EXCL, so two
 * editors cannot both hold it; upstream checks with stat(2) and reports "file '…' is locked."), the
 * current file is read (null when absent), `edit` computes the new text, which is written to the lock
 * file and renamed over PATH. The new file gets `mode`; when root, it keeps the old file's owner.
 * `edit` may throw to abandon the change; the lock is released either way.
 */
export function replaceLocked(path: string, mode: number, maxBytes: number, edit: (old: string | null) => string): void {
  const tmp = `${path}.tmp`;
  let fd: number;
  try {
    fd = openSync(tmp, "wx", mode);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") {
      // Upstream's message, then what to do when the lock is stale (an editor was killed mid-way).
      throw new WriteFileError("locked", path, `file '${path}' is locked.\n(if no other ocpasswd is running, remove '${tmp}')`);
    }
    throw new WriteFileError("io", path, `Cannot open '${tmp}' for writing: ${(e as Error).message}`);
  }
  let renamed = false;
  try {
    let old: string | null = null;
    let owner: { uid: number; gid: number } | null = null;
    try {
      const st = statSync(path);
      if (!st.isFile()) throw new WriteFileError("io", path, `'${path}' is not a regular file`);
      if (st.size > maxBytes) throw new WriteFileError("io", path, `'${path}' is larger than ${maxBytes} bytes`);
      old = readFileSync(path, "utf8");
      owner = { uid: st.uid, gid: st.gid };
    } catch (e) {
      if (e instanceof WriteFileError) throw e;
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") {
        throw new WriteFileError("io", path, `Cannot open '${path}' for reading: ${(e as Error).message}`);
      }
    }
    const text = edit(old);
    try {
      fchmodSync(fd, mode);
      if (owner !== null && process.getuid?.() === 0) fchownSync(fd, owner.uid, owner.gid);
      const bytes = Buffer.from(text, "utf8");
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
      renameSync(tmp, path);
      renamed = true;
    } catch (e) {
      throw new WriteFileError("io", path, `Cannot write to '${path}': ${(e as Error).message}`);
    }
  } finally {
    closeSync(fd);
    if (!renamed) {
      try {
        unlinkSync(tmp);
      } catch {
        // nothing to remove
      }
    }
  }
}
