// The HTTP front's error taxonomy, and the one table that maps each error to what the client sees.
//
// ocserv parses with llhttp and, on a parser error, logs and ends the worker without answering
// (worker-vpn.c vpn_server). We answer the framing errors with a bodiless status line first, then
// close: the client ends up in the same place (no connection) but an operator running curl sees why.
// Pipelining and the request cap keep ocserv's silent close, since the client did nothing malformed.

export type HttpErrorCode =
  | "malformed-request" // request line or header line that is not HTTP/1.x syntax (RFC 9112 §3, §5)
  | "unsupported-version" // HTTP/0.9, HTTP/2.0 ... on the HTTP/1 port
  | "url-too-long" // ocserv: URL must be shorter than 256 bytes
  | "headers-too-large" // ocserv: header bytes ≤ 16 KiB in total
  | "body-too-large" // ocserv: body ≤ 256 KiB
  | "chunked-body-unsupported" // no client of this protocol sends chunked uploads
  | "bad-content-length" // RFC 9112 §6.3: invalid or conflicting Content-Length
  | "too-many-requests" // ocserv MAX_HTTP_REQUESTS = 16 per TCP connection
  | "pipelined-request"; // a second request in the same read (ocserv closes)

export class HttpError extends Error {
  override readonly name = "HttpError";
  constructor(
    readonly code: HttpErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The status line sent before closing, or null for a silent close. */
export const HTTP_ERROR_RESPONSE: Readonly<Record<HttpErrorCode, { readonly status: number; readonly reason: string } | null>> =
  Object.freeze({
    "malformed-request": { status: 400, reason: "Bad Request" },
    "unsupported-version": { status: 505, reason: "HTTP Version Not Supported" },
    "url-too-long": { status: 414, reason: "URI Too Long" },
    "headers-too-large": { status: 431, reason: "Request Header Fields Too Large" },
    "body-too-large": { status: 413, reason: "Content Too Large" },
    "chunked-body-unsupported": { status: 501, reason: "Not Implemented" },
    "bad-content-length": { status: 400, reason: "Bad Request" },
    "too-many-requests": null,
    "pipelined-request": null,
  });

export type SessionErrorCode = "table-full" | "bad-sid";

export class SessionError extends Error {
  override readonly name = "SessionError";
  constructor(
    readonly code: SessionErrorCode,
    message: string,
  ) {
    super(message);
  }
}
