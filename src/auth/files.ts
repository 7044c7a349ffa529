// File access for the auth modules, behind a small interface so the modules stay testable and the
// re-read-on-change rule lives in one place.
//
// ocserv re-reads the passwd file on every login (plain.c read_auth_pass fopen()s it each time), so an
// `ocpasswd` edit applies without a reload. We keep that behaviour but only re-parse when the file's
// identity (inode, size, mtime) changed.

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";

export interface FileStamp {
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly mode: number;
}

/** What the auth modules need from the filesystem. */
export interface AuthFs {
  stat(path: string): FileStamp;
  readText(path: string, maxBytes: number): string;
  /** Replaces the file atomically: write a temporary file in the same directory, fsync, rename. */
  writeAtomic(path: string, text: string, mode: number): void;
}

export class AuthFileError extends Error {
  override readonly name = "AuthFileError";
  constructor(
    readonly code: "unreadable" | "too-large" | "unwritable",
    readonly path: string,
    detail: string,
  ) {
    super(`${path}: ${detail}`);
  }
}

export const nodeAuthFs: AuthFs = {
  stat(path) {
    const s = statSync(path);
    return { ino: s.ino, size: s.size, mtimeMs: s.mtimeMs, mode: s.mode & 0o7777 };
  },
  readText(path, maxBytes) {
    const s = statSync(path);
    if (s.size > maxBytes) throw new AuthFileError("too-large", path, `file larger than ${maxBytes} bytes`);
    const buf = readFileSync(path);
    if (buf.length > maxBytes) throw new AuthFileError("too-large", path, `file larger than ${maxBytes} bytes`);
    return new TextDecoder("utf-8", { fatal: false }).decode(buf);
  },
  writeAtomic(path, text, mode) {
    // A random name rather than liboath's fixed FILE.new, so a stale temporary file cannot wedge updates.
    const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
    const fd = openSync(tmp, "wx", mode);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } catch (e) {
      closeSync(fd);
      unlinkSync(tmp);
      throw e;
    }
    closeSync(fd);
    try {
      renameSync(tmp, path);
    } catch (e) {
      unlinkSync(tmp);
      throw e;
    }
  },
};

function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

/**
 * A parsed view of a file that is re-parsed when the file changes. `get()` throws AuthFileError when the
 * file cannot be read and whatever `parse` throws when it no longer parses: an edited file that became
 * invalid fails logins rather than silently keeping an older version (which might, say, still hold an
 * account the admin just locked).
 */
export class CachedFile<T> {
  private cached: { readonly stamp: FileStamp; readonly value: T } | null = null;

  constructor(
    readonly path: string,
    private readonly fs: AuthFs,
    private readonly maxBytes: number,
    private readonly parse: (text: string, path: string) => T,
  ) {}

  get(): T {
    let stamp: FileStamp;
    try {
      stamp = this.fs.stat(this.path);
    } catch (e) {
      throw new AuthFileError("unreadable", this.path, errorText(e));
    }
    if (this.cached !== null && sameStamp(this.cached.stamp, stamp)) return this.cached.value;
    let text: string;
    try {
      text = this.fs.readText(this.path, this.maxBytes);
    } catch (e) {
      if (e instanceof AuthFileError) throw e;
      throw new AuthFileError("unreadable", this.path, errorText(e));
    }
    const value = this.parse(text, this.path);
    this.cached = { stamp, value };
    return value;
  }
}

export function errorText(e: unknown): string {
  if (e instanceof Error) return (e as NodeJS.ErrnoException).code ?? e.message;
  return String(e);
}
