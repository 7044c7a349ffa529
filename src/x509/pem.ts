// PEM (RFC 7468): "-----BEGIN label-----", base64 body, "-----END label-----". Text outside the
// armour is ignored (openssl writes "Bag Attributes" and similar before blocks).

import { X509Error } from "./errors.ts";

export interface PemBlock {
  readonly label: string;
  readonly der: Uint8Array;
  /** RFC 1421 headers such as "Proc-Type" (legacy encrypted keys), if present. */
  readonly headers: Readonly<Record<string, string>>;
}

const MAX_PEM_TEXT = 16 * 1024 * 1024;

export function parsePem(text: string): PemBlock[] {
  if (text.length > MAX_PEM_TEXT) throw new X509Error("bad-pem", "PEM input too large");
  const blocks: PemBlock[] = [];
  const lines = text.split(/\r?\n/);
  let i = 0;
  while (i < lines.length) {
    const begin = /^-----BEGIN ([A-Z0-9 ]+)-----\s*$/.exec(lines[i]!.trim());
    i++;
    if (!begin) continue;
    const label = begin[1]!;
    const headers: Record<string, string> = {};
    let body = "";
    let ended = false;
    for (; i < lines.length; i++) {
      const line = lines[i]!.trim();
      const end = /^-----END ([A-Z0-9 ]+)-----$/.exec(line);
      if (end) {
        if (end[1] !== label) throw new X509Error("bad-pem", `PEM "BEGIN ${label}" closed by "END ${end[1]}"`);
        ended = true;
        i++;
        break;
      }
      const hdr = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (hdr && body === "") {
        headers[hdr[1]!] = hdr[2]!;
        continue;
      }
      body += line;
    }
    if (!ended) throw new X509Error("bad-pem", `PEM block "${label}" has no END line`);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0) {
      throw new X509Error("bad-pem", `PEM block "${label}" has invalid base64`);
    }
    const der = new Uint8Array(Buffer.from(body, "base64"));
    if (der.length === 0) throw new X509Error("bad-pem", `PEM block "${label}" is empty`);
    blocks.push({ label, der, headers: Object.freeze(headers) });
  }
  return blocks;
}

export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("base64");
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** Input that is PEM text (string or bytes starting with "-----BEGIN") or raw DER bytes. */
export type PemOrDer = string | Uint8Array;

/** True when `b` is exactly one DER SEQUENCE: tag 0x30 and a definite length covering the whole input. */
function isWholeDerSequence(b: Uint8Array): boolean {
  if (b.length < 2 || b[0] !== 0x30) return false;
  const first = b[1]!;
  if (first < 0x80) return 2 + first === b.length;
  const n = first & 0x7f;
  if (n === 0 || n > 4 || b.length < 2 + n) return false;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + b[2 + i]!;
  return 2 + n + len === b.length;
}

/**
 * PEM or DER? DER is recognised by its structure; anything else is PEM if a `-----BEGIN ` line appears
 * anywhere. GnuTLS certtool writes several KiB of human-readable text before the PEM block of a key
 * (e.g. an RSA-3072 key's "Public Key Info" dump), so looking only at the start of the file is not enough.
 */
export function isPemText(input: PemOrDer): boolean {
  if (typeof input === "string") return true;
  if (isWholeDerSequence(input)) return false;
  return new TextDecoder("latin1").decode(input).includes("-----BEGIN ");
}

export function pemText(input: PemOrDer): string {
  return typeof input === "string" ? input : new TextDecoder("utf-8").decode(input);
}
