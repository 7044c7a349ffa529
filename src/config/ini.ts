// The ini grammar of ocserv.conf and the per-user files: ocserv's bundled inih, built with
// INI_ALLOW_MULTILINE=1, INI_MAX_LINE=2048, INI_ALLOW_BOM=1, inline comment prefix '#'
// (config-options.md §1). Sans-I/O: text in, entries and diagnostics out.
//
//   [section]            section header (content up to ']', a ' #' starts a comment)
//   # or ; at line start  comment (also when indented: inih strips leading space first)
//   name = value         separator is whichever of '=' or ':' comes first
//   name : value
//   value ... # comment  inline comment: '#' preceded by whitespace
//     more               a line starting with whitespace: another value for the previous name
//
// Values come out trimmed and comment-stripped, but NOT quote-stripped: ocserv's
// sanitize_config_value() is applied per option by the caller (included-http-headers keeps quotes).

import type { Diagnostic } from "./types.ts";

export interface IniEntry {
  readonly line: number;
  readonly name: string;
  readonly value: string;
}

export interface IniSection {
  /** null for the entries before the first section header. */
  readonly name: string | null;
  readonly line: number;
  readonly entries: IniEntry[];
}

export interface IniResult {
  readonly sections: readonly IniSection[];
  readonly errors: readonly Diagnostic[];
}

/** inih INI_MAX_LINE: the fgets buffer, including the newline and the terminating NUL. */
export const MAX_LINE = 2048;

const isSpace = (c: string | undefined): boolean => c === " " || c === "\t" || c === "\n" || c === "\v" || c === "\f" || c === "\r";

function rstrip(s: string): string {
  let e = s.length;
  while (e > 0 && isSpace(s[e - 1])) e--;
  return s.slice(0, e);
}

function lskip(s: string): string {
  let i = 0;
  while (i < s.length && isSpace(s[i])) i++;
  return s.slice(i);
}

/** inih find_chars_or_comment(): index of the first char of `chars`, or of a '#' after whitespace. */
function findCharsOrComment(s: string, chars: string | null): number {
  let wasSpace = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (chars !== null && chars.includes(c)) return i;
    if (wasSpace && c === "#") return i;
    wasSpace = isSpace(c);
  }
  return s.length;
}

/** ocserv sanitize_config_value(): strip leading/trailing whitespace and double quotes. */
export function sanitizeValue(v: string): string {
  let s = 0;
  let e = v.length;
  while (s < e && (isSpace(v[s]) || v[s] === '"')) s++;
  while (e > s && (isSpace(v[e - 1]) || v[e - 1] === '"')) e--;
  return v.slice(s, e);
}

/** Decodes file bytes: UTF-8 required; a leading BOM is skipped (INI_ALLOW_BOM). */
export function decodeConfigBytes(bytes: Uint8Array): { ok: true; text: string } | { ok: false; message: string } {
  try {
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    return { ok: true, text: text.startsWith("\uFEFF") ? text.slice(1) : text };
  } catch {
    return { ok: false, message: "file is not valid UTF-8" };
  }
}

export function lexIni(text: string, file: string): IniResult {
  const errors: Diagnostic[] = [];
  const top: IniSection = { name: null, line: 0, entries: [] };
  const sections: IniSection[] = [top];
  let current = top;
  let prevName = "";
  const src = text.startsWith("\uFEFF") ? text.slice(1) : text;
  const lines = src.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i]!;
    // The fgets buffer holds MAX_LINE-1 bytes including the newline; longer lines would be split
    // into two by inih and misparsed, so they are an error here.
    if (Buffer.byteLength(raw, "utf8") > MAX_LINE - 2) {
      errors.push({ file, line: lineNo, message: `line is longer than ${MAX_LINE - 2} bytes` });
      continue;
    }
    if (raw.includes("\0")) {
      errors.push({ file, line: lineNo, message: "line contains a NUL byte" });
      continue;
    }
    const stripped = rstrip(raw);
    const start = lskip(stripped);
    if (start.length === 0) continue;
    if (start[0] === "#" || start[0] === ";") continue;
    if (prevName !== "" && start.length < stripped.length) {
      // Multiline continuation (INI_ALLOW_MULTILINE): another value for the previous name.
      const end = findCharsOrComment(start, null);
      current.entries.push({ line: lineNo, name: prevName, value: rstrip(start.slice(0, end)) });
      continue;
    }
    if (start[0] === "[") {
      const end = findCharsOrComment(start.slice(1), "]");
      if (start[1 + end] !== "]") {
        errors.push({ file, line: lineNo, message: "section header has no closing ']'" });
        continue;
      }
      current = { name: start.slice(1, 1 + end), line: lineNo, entries: [] };
      sections.push(current);
      prevName = "";
      continue;
    }
    const sep = findCharsOrComment(start, "=:");
    const sepChar = start[sep];
    if (sepChar !== "=" && sepChar !== ":") {
      // The line is not echoed: it may be a secret (key-pin, camouflage_secret) missing its '='.
      errors.push({ file, line: lineNo, message: "expected 'name = value': no '=' or ':' on this line" });
      continue;
    }
    const name = rstrip(start.slice(0, sep));
    if (name.length === 0) {
      errors.push({ file, line: lineNo, message: "option name is missing before '" + sepChar + "'" });
      continue;
    }
    const afterSep = start.slice(sep + 1);
    const vEnd = findCharsOrComment(afterSep, null);
    const value = rstrip(lskip(afterSep.slice(0, vEnd)));
    current.entries.push({ line: lineNo, name, value });
    prevName = name;
  }
  return { sections, errors };
}
