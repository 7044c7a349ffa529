// A sans-I/O HTTP/1.x request parser with ocserv's limits (protocol.md §0, worker-vpn.c / llhttp).
//
// One parser lives for one TLS connection. `feed()` takes the plaintext of one TLS record (one "read"
// in ocserv's terms) and returns a complete request, "need more", or a typed error. What it enforces:
//   * URL shorter than 256 bytes; header bytes (after the request line) ≤ 16 KiB; body ≤ 256 KiB,
//     framed by Content-Length only (Transfer-Encoding is refused: no client here sends it);
//   * at most 16 requests per connection (ocserv MAX_HTTP_REQUESTS); the 17th is an error;
//   * a second request in the same read as the end of the first is "pipelined" and is an error
//     (ocserv closes the connection);
//   * HTTP/1.0 and HTTP/1.1 only; the request records its minor version so the caller can close after
//     one response to 1.0 and echo `HTTP/1.<minor>` in status lines as ocserv does.
// Header names are kept exactly as sent: ocserv's header table is case-sensitive (http-heads.gperf,
// no --ignore-case), so `cookie:` is not `Cookie:`. Only the framing headers Content-Length and
// Transfer-Encoding are matched case-insensitively, as llhttp does for framing (RFC 9112 §6).
// The method is kept as sent; the router answers anything but GET/POST/CONNECT with 404.

import { HttpError } from "./errors.ts";

export const MAX_URL_LENGTH = 255; // ocserv: "URL shorter than 256 bytes"
export const MAX_HEADER_BYTES = 16 * 1024;
export const MAX_BODY_BYTES = 256 * 1024;
export const MAX_REQUESTS_PER_CONNECTION = 16;
/** Longest method token we bother reading before calling the request line malformed. */
const MAX_METHOD_LENGTH = 16;

export interface HttpRequest {
  /** The method token as sent (GET, POST, CONNECT; anything else is answered with 404). */
  readonly method: string;
  readonly url: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly minorVersion: 0 | 1;
  /** Header names exactly as sent; a repeated header keeps its last value. */
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Uint8Array;
}

export type FeedResult =
  | { readonly kind: "need-more" }
  | { readonly kind: "request"; readonly request: HttpRequest }
  | { readonly kind: "error"; readonly error: HttpError };

const NEED_MORE: FeedResult = Object.freeze({ kind: "need-more" });

type ParserState =
  | { readonly kind: "head" }
  | { readonly kind: "body"; readonly head: RequestHead; readonly length: number }
  | { readonly kind: "failed" };

interface RequestHead {
  readonly method: string;
  readonly url: string;
  readonly minorVersion: 0 | 1;
  readonly headers: Map<string, string>;
  /** Framing headers, matched case-insensitively and kept in full (a repeat must not hide a conflict). */
  readonly contentLengths: readonly string[];
  readonly transferEncoding: boolean;
}

export class HttpRequestParser {
  private state: ParserState = { kind: "head" };
  private pending: Uint8Array = new Uint8Array(0);
  private completed = 0;

  /** Requests fully parsed so far on this connection. */
  get requestCount(): number {
    return this.completed;
  }

  /** Feeds the plaintext of one read (one TLS record). After an error the parser stays failed. */
  feed(data: Uint8Array): FeedResult {
    if (this.state.kind === "failed") return this.fail(new HttpError("malformed-request", "parser already failed"));
    this.pending = this.pending.length === 0 ? data : concat(this.pending, data);
    try {
      return this.advance();
    } catch (e) {
      if (e instanceof HttpError) return this.fail(e);
      throw e;
    }
  }

  private fail(error: HttpError): FeedResult {
    this.state = { kind: "failed" };
    this.pending = new Uint8Array(0);
    return { kind: "error", error };
  }

  private advance(): FeedResult {
    if (this.state.kind === "head") {
      const end = indexOfCrlfCrlf(this.pending);
      if (end < 0) {
        checkPartialHead(this.pending);
        return NEED_MORE;
      }
      const head = parseHead(this.pending.subarray(0, end));
      this.pending = this.pending.subarray(end + 4);
      if (this.completed >= MAX_REQUESTS_PER_CONNECTION) {
        throw new HttpError("too-many-requests", `more than ${MAX_REQUESTS_PER_CONNECTION} requests on one connection`);
      }
      // CONNECT carries no body (RFC 9110 §9.3.6); whatever follows would be tunnel data, which a
      // client must not send before our 200, so it is treated as pipelining below.
      const length = head.method === "CONNECT" ? 0 : contentLength(head);
      this.state = { kind: "body", head, length };
    }
    if (this.state.kind !== "body") return NEED_MORE;
    const { head, length } = this.state;
    if (this.pending.length < length) return NEED_MORE;
    if (this.pending.length > length) {
      throw new HttpError("pipelined-request", "a second request arrived in the same read");
    }
    // Copy so the request does not pin the caller's record buffer.
    const body = length === 0 ? new Uint8Array(0) : this.pending.slice(0, length);
    this.pending = new Uint8Array(0);
    this.state = { kind: "head" };
    this.completed++;
    return { kind: "request", request: { method: head.method, url: head.url, minorVersion: head.minorVersion, headers: head.headers, body } };
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function indexOfCrlfCrlf(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}

function indexOfCrlf(b: Uint8Array, from: number): number {
  for (let i = from; i + 1 < b.length; i++) if (b[i] === 13 && b[i + 1] === 10) return i;
  return -1;
}

/** Fails early on an incomplete head that can already be seen to break a limit, so a client cannot
 *  make us buffer more than the limits allow while we wait for the blank line. */
function checkPartialHead(b: Uint8Array): void {
  const lineEnd = indexOfCrlf(b, 0);
  const line = lineEnd < 0 ? b : b.subarray(0, lineEnd);
  const sp1 = line.indexOf(0x20);
  if (sp1 < 0) {
    if (line.length > MAX_METHOD_LENGTH) throw new HttpError("malformed-request", "request line has no method");
  } else {
    const sp2 = line.indexOf(0x20, sp1 + 1);
    const urlLength = (sp2 < 0 ? line.length : sp2) - sp1 - 1;
    if (urlLength > MAX_URL_LENGTH) throw new HttpError("url-too-long", `URL longer than ${MAX_URL_LENGTH} bytes`);
    if (sp2 >= 0 && line.length - sp2 - 1 > "HTTP/1.1".length) throw new HttpError("malformed-request", "bad HTTP version");
  }
  if (lineEnd >= 0 && b.length - lineEnd - 2 > MAX_HEADER_BYTES) {
    throw new HttpError("headers-too-large", `headers exceed ${MAX_HEADER_BYTES} bytes`);
  }
}

/** Bytes to a string one byte per code unit (ISO-8859-1): headers are octets (RFC 9110 §5.5). */
function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 4096) s += String.fromCharCode(...b.subarray(i, Math.min(b.length, i + 4096)));
  return s;
}

const METHOD_RE = /^[A-Z][A-Z_-]*$/;
// tchar of RFC 9110 §5.6.2
const TOKEN_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function parseHead(bytes: Uint8Array): RequestHead {
  const lineEnd = indexOfCrlf(bytes, 0);
  const requestLine = latin1(lineEnd < 0 ? bytes : bytes.subarray(0, lineEnd));
  const headerBytes = lineEnd < 0 ? 0 : bytes.length - lineEnd - 2;
  if (headerBytes > MAX_HEADER_BYTES) throw new HttpError("headers-too-large", `headers exceed ${MAX_HEADER_BYTES} bytes`);

  // RFC 9112 §3: method SP request-target SP HTTP-version
  const parts = requestLine.split(" ");
  if (parts.length !== 3) throw new HttpError("malformed-request", "request line is not 'METHOD URL VERSION'");
  const [method, url, version] = parts as [string, string, string];
  if (!METHOD_RE.test(method) || method.length > MAX_METHOD_LENGTH) throw new HttpError("malformed-request", "bad method token");
  if (url.length === 0) throw new HttpError("malformed-request", "empty request target");
  if (url.length > MAX_URL_LENGTH) throw new HttpError("url-too-long", `URL longer than ${MAX_URL_LENGTH} bytes`);
  for (let i = 0; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) throw new HttpError("malformed-request", "control or non-ASCII byte in URL");
  }
  let minorVersion: 0 | 1;
  if (version === "HTTP/1.1") minorVersion = 1;
  else if (version === "HTTP/1.0") minorVersion = 0;
  else if (/^HTTP\/\d\.\d$/.test(version)) throw new HttpError("unsupported-version", `unsupported ${version}`);
  else throw new HttpError("malformed-request", "bad HTTP version");

  const headers = new Map<string, string>();
  const contentLengths: string[] = [];
  let transferEncoding = false;
  if (lineEnd >= 0) {
    const text = latin1(bytes.subarray(lineEnd + 2));
    for (const line of text.split("\r\n")) {
      // RFC 9112 §5.2: obs-fold is rejected by a server that does not replace it.
      if (line.startsWith(" ") || line.startsWith("\t")) throw new HttpError("malformed-request", "obsolete header line folding");
      const colon = line.indexOf(":");
      if (colon <= 0) throw new HttpError("malformed-request", "header line without a name");
      const name = line.slice(0, colon);
      // RFC 9112 §5.1: no whitespace between the field name and the colon.
      if (!TOKEN_RE.test(name)) throw new HttpError("malformed-request", "bad header name");
      const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
      if (/[\0\r\n]/.test(value)) throw new HttpError("malformed-request", "control byte in header value");
      headers.set(name, value);
      const lower = name.toLowerCase();
      if (lower === "content-length") contentLengths.push(value);
      else if (lower === "transfer-encoding") transferEncoding = true;
    }
  }
  return { method, url, minorVersion, headers, contentLengths, transferEncoding };
}

/** Body length from Content-Length (RFC 9112 §6.3), refusing Transfer-Encoding and oversized bodies. */
function contentLength(head: RequestHead): number {
  if (head.transferEncoding) throw new HttpError("chunked-body-unsupported", "Transfer-Encoding bodies are not accepted");
  let length: number | null = null;
  for (const value of head.contentLengths) {
    if (!/^\d{1,10}$/.test(value)) throw new HttpError("bad-content-length", "Content-Length is not a decimal number");
    const n = Number(value);
    if (length !== null && length !== n) throw new HttpError("bad-content-length", "conflicting Content-Length headers");
    length = n;
  }
  if (length !== null && length > MAX_BODY_BYTES) throw new HttpError("body-too-large", `body larger than ${MAX_BODY_BYTES} bytes`);
  return length ?? 0;
}
