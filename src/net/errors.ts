// Typed errors of the socket adapters.

export type NetErrorCode =
  /** The peer stopped reading and the send queue passed its hard limit; the connection was closed. */
  | "send-queue-overflow"
  /** Listening or binding failed. */
  | "listen-failed"
  /** A bad option value (port, address, watermark). */
  | "bad-argument"
  /** The socket was used after it closed. */
  | "closed";

export class NetError extends Error {
  override readonly name = "NetError";
  constructor(
    readonly code: NetErrorCode,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}
