// Bounded file access for the preflight checks. Every read is capped: a configuration that names
// /dev/zero or a multi-gigabyte file as a certificate must produce an error, not exhaust memory.
import { accessSync, constants, readFileSync, statSync } from "node:fs";

/** Larger than any certificate chain, CRL or passwd file a VPN server should be given. */
export const MAX_FILE_BYTES = 16 * 1024 * 1024;

export type FileProblem =
  | { readonly code: "missing"; readonly message: string }
  | { readonly code: "not-a-file"; readonly message: string }
  | { readonly code: "not-a-directory"; readonly message: string }
  | { readonly code: "unreadable"; readonly message: string }
  | { readonly code: "not-executable"; readonly message: string }
  | { readonly code: "too-large"; readonly message: string };

export type FileRead = { readonly ok: true; readonly data: Uint8Array } | { readonly ok: false; readonly problem: FileProblem };

function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "does not exist";
  if (code === "EACCES") return "permission denied";
  if (code === "ENOTDIR") return "a path component is not a directory";
  return code ?? String(e);
}

function statProblem(path: string, e: unknown): FileProblem {
  const code = (e as NodeJS.ErrnoException).code;
  return { code: code === "ENOENT" || code === "ENOTDIR" ? "missing" : "unreadable", message: `${path}: ${errnoText(e)}` };
}

export function readBoundedFile(path: string, maxBytes = MAX_FILE_BYTES): FileRead {
  try {
    const st = statSync(path);
    if (!st.isFile()) return { ok: false, problem: { code: "not-a-file", message: `${path}: not a regular file` } };
    if (st.size > maxBytes) return { ok: false, problem: { code: "too-large", message: `${path}: larger than ${maxBytes} bytes` } };
    const data = readFileSync(path);
    if (data.length > maxBytes) return { ok: false, problem: { code: "too-large", message: `${path}: larger than ${maxBytes} bytes` } };
    return { ok: true, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch (e) {
    return { ok: false, problem: statProblem(path, e) };
  }
}

export function checkDirectory(path: string): FileProblem | null {
  try {
    const st = statSync(path);
    if (!st.isDirectory()) return { code: "not-a-directory", message: `${path}: not a directory` };
    accessSync(path, constants.R_OK | constants.X_OK);
    return null;
  } catch (e) {
    return statProblem(path, e);
  }
}

export function checkExecutable(path: string): FileProblem | null {
  try {
    const st = statSync(path);
    if (!st.isFile()) return { code: "not-a-file", message: `${path}: not a regular file` };
    accessSync(path, constants.X_OK);
    // root passes access(X_OK) if any execute bit is set; with none set, exec fails even for root.
    if ((st.mode & 0o111) === 0) return { code: "not-executable", message: `${path}: not executable` };
    return null;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EACCES") return { code: "not-executable", message: `${path}: not executable` };
    return statProblem(path, e);
  }
}

export function checkReadableFile(path: string): FileProblem | null {
  try {
    const st = statSync(path);
    if (!st.isFile()) return { code: "not-a-file", message: `${path}: not a regular file` };
    accessSync(path, constants.R_OK);
    return null;
  } catch (e) {
    return statProblem(path, e);
  }
}
