// A typed message channel between the privileged main process and an unprivileged worker.
//
// Transport (measured choice, see docs/privsep.md "Readiness"): two AF_UNIX socketpairs per channel.
//   - the data socket (SOCK_STREAM) is adopted by Bun with Bun.connect({ fd }), so the event loop
//     (epoll) tells us when it is readable and writes are non-blocking; messages are length-delimited
//     frames on it;
//   - the fd socket (SOCK_SEQPACKET) is never touched by Bun. When a frame carries a descriptor, the
//     sender first sendmsg()s the descriptor with a 7-byte tag on the fd socket and then writes the frame
//     on the data socket; the receiver, on reading a frame flagged HAS_FD, recvmsg()s the fd socket with
//     MSG_DONTWAIT. AF_UNIX delivery is synchronous (the sendmsg has queued the fd before the frame is
//     written), so the fd message is always there when its frame is read; the tag is checked anyway.
// The split exists because Bun reads its sockets with plain recv(): SCM_RIGHTS arriving there would be
// closed by the kernel (MSG_CTRUNC), and Bun has no API to watch a raw fd for readiness.
//
// Frame (all integers big-endian, read with src/wire Reader):
//   u32 length of what follows (≤ maxMessage) | u8 kind | u32 id | u16 type | u8 flags | body
// kind: 1 request, 2 response, 3 error response (body: u8-len code, rest message), 4 notification.
// A frame that is too long, has an unknown kind or flags, or answers an unknown id is a protocol error:
// the channel closes, since the peer is either broken or compromised.
import type { FdSocketOptions, Socket } from "bun";
import { Reader, DecodeError } from "../wire/reader.ts";
import { Writer } from "../wire/writer.ts";
import { closeFd, LibcError, recvWithFd, sendWithFd } from "./libc.ts";

export type ChannelErrorCode =
  | "peer-closed"
  | "closed"
  | "protocol"
  | "too-large"
  | "timeout"
  | "remote-error"
  | "fd-transfer";

export class ChannelError extends Error {
  override readonly name = "ChannelError";
  constructor(
    readonly code: ChannelErrorCode,
    message: string,
    /** For "remote-error": the code the peer's handler reported (see RemoteError). */
    readonly remoteCode: string | null = null,
  ) {
    super(message);
  }
}

/** Thrown by a request handler to answer with an error response carrying `code`. */
export class RemoteError extends Error {
  override readonly name = "RemoteError";
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const enum FrameKind {
  Request = 1,
  Response = 2,
  Error = 3,
  Notify = 4,
}

const FLAG_HAS_FD = 1;
const HEADER = 4 + 1 + 4 + 2 + 1;
const FD_TAG_LENGTH = 7;
/** Default bound on one message: large enough for certificate chains and auth forms, small enough that a peer cannot make us buffer much. */
export const DEFAULT_MAX_MESSAGE = 256 * 1024;

export interface Frame {
  readonly kind: FrameKind;
  readonly id: number;
  readonly type: number;
  readonly hasFd: boolean;
  readonly body: Uint8Array;
}

export function encodeFrame(kind: FrameKind, id: number, type: number, hasFd: boolean, body: Uint8Array): Uint8Array {
  const w = new Writer(HEADER + body.length);
  w.u32(HEADER - 4 + body.length).u8(kind).u32(id).u16(type).u8(hasFd ? FLAG_HAS_FD : 0).bytes(body);
  return w.finish();
}

/**
 * Takes one complete frame from the start of `buf[0, end)`; returns null if more bytes are needed.
 * Throws ChannelError("too-large" | "protocol") on a frame that must not be accepted.
 */
export function takeFrame(buf: Uint8Array, end: number, maxMessage: number): { frame: Frame; size: number } | null {
  if (end < 4) return null;
  const len = ((buf[0]! << 24) | (buf[1]! << 16) | (buf[2]! << 8) | buf[3]!) >>> 0;
  if (len > maxMessage + HEADER - 4) throw new ChannelError("too-large", `frame of ${len} bytes exceeds ${maxMessage}`);
  if (len < HEADER - 4) throw new ChannelError("protocol", "frame shorter than its header");
  if (end < 4 + len) return null;
  try {
    const r = new Reader(buf, 4, 4 + len);
    const kind = r.u8();
    const id = r.u32();
    const type = r.u16();
    const flags = r.u8();
    if (kind < FrameKind.Request || kind > FrameKind.Notify) throw new ChannelError("protocol", `unknown frame kind ${kind}`);
    if ((flags & ~FLAG_HAS_FD) !== 0) throw new ChannelError("protocol", `unknown frame flags ${flags}`);
    const body = r.bytesCopy(r.remaining);
    return { frame: { kind, id, type, hasFd: (flags & FLAG_HAS_FD) !== 0, body }, size: 4 + len };
  } catch (e) {
    if (e instanceof DecodeError) throw new ChannelError("protocol", e.message);
    throw e;
  }
}

export function encodeErrorBody(code: string, message: string): Uint8Array {
  const enc = new TextEncoder();
  const c = enc.encode(code).subarray(0, 255);
  return new Writer().vec8(c).bytes(enc.encode(message).subarray(0, 1024)).finish();
}

export function decodeErrorBody(body: Uint8Array): { code: string; message: string } {
  const r = new Reader(body);
  const dec = new TextDecoder();
  const code = dec.decode(r.vec8());
  return { code, message: dec.decode(r.rest()) };
}

/** A received message. `fd`, when not null, is a descriptor now owned by the receiver: use it or close it. */
export interface Message {
  readonly type: number;
  readonly body: Uint8Array;
  readonly fd: number | null;
}

export interface Reply {
  readonly type: number;
  readonly body: Uint8Array;
  /**
   * A descriptor to pass along. Ownership moves to the channel, which closes this process's copy once
   * it is sent (or could not be sent): main can answer with a tun fd and forget it, as ocserv does.
   * (For request() and notify() the caller keeps its descriptor: the send completes within the call.)
   */
  readonly fd?: number | null;
}

export type CloseReason =
  | { readonly kind: "peer-closed" }
  | { readonly kind: "local" }
  | { readonly kind: "protocol"; readonly error: ChannelError };

export interface ChannelOptions {
  /** The SOCK_STREAM end; adopted by Bun and closed by the channel. */
  readonly dataFd: number;
  /** The SOCK_SEQPACKET end for descriptors, or null if this channel never carries fds. Closed by the channel. */
  readonly fdSocket: number | null;
  readonly maxMessage?: number;
  /** Answers a request; throw RemoteError for an error response. Unset: every request gets "unsupported". */
  readonly onRequest?: (msg: Message) => Reply | Promise<Reply>;
  readonly onNotify?: (msg: Message) => void;
  /** Called once when the channel ends, for any reason. */
  readonly onClose?: (reason: CloseReason) => void;
}

/** Bun.connect accepts { fd } (it adopts an open socket) but its overloads in bun-types omit that form. */
const connectFd = Bun.connect as unknown as (options: FdSocketOptions<undefined>) => Promise<Socket<undefined>>;

interface Pending {
  readonly resolve: (m: Message) => void;
  readonly reject: (e: ChannelError) => void;
  readonly timer: ReturnType<typeof setTimeout> | null;
}

type State = { readonly kind: "open"; readonly socket: Socket<undefined> } | { readonly kind: "closed"; readonly reason: CloseReason };

export class Channel {
  private state: State;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private inbuf = new Uint8Array(4096);
  private inlen = 0;
  private readonly outq: Uint8Array[] = [];
  private readonly maxMessage: number;

  private constructor(
    private readonly opts: ChannelOptions,
    socket: Socket<undefined>,
  ) {
    this.state = { kind: "open", socket };
    this.maxMessage = opts.maxMessage ?? DEFAULT_MAX_MESSAGE;
  }

  /** Adopts the two socket ends. If Bun cannot adopt the data fd, it throws ChannelError("closed") (the fd socket is closed). */
  static async open(opts: ChannelOptions): Promise<Channel> {
    // The socket handlers need the Channel, and the Channel needs the socket: bind through a holder.
    const holder: { ch: Channel | null; early: Uint8Array[]; closedEarly: boolean } = { ch: null, early: [], closedEarly: false };
    let socket: Socket<undefined>;
    try {
      socket = await connectFd({
        fd: opts.dataFd,
        socket: {
          data(_s, chunk) {
            if (holder.ch === null) holder.early.push(new Uint8Array(chunk));
            else holder.ch.onData(chunk);
          },
          drain() {
            holder.ch?.flush();
          },
          close() {
            if (holder.ch === null) holder.closedEarly = true;
            else holder.ch.finish({ kind: "peer-closed" });
          },
          error() {
            // close() follows; the reason reported is the peer's end of the stream.
          },
        },
      });
    } catch (e) {
      // dataFd is not closed here: whether Bun already closed it is not documented, and closing a
      // number that may have been reused is worse than a leak on a path that ends the worker anyway.
      if (opts.fdSocket !== null) closeFd(opts.fdSocket);
      throw new ChannelError("closed", `cannot adopt channel fd ${opts.dataFd}: ${String(e)}`);
    }
    const ch = new Channel(opts, socket);
    holder.ch = ch;
    for (const c of holder.early) ch.onData(c);
    if (holder.closedEarly) ch.finish({ kind: "peer-closed" });
    return ch;
  }

  get closed(): boolean {
    return this.state.kind === "closed";
  }

  /** Sends a request and resolves with the response; rejects with ChannelError (remote-error, peer-closed, timeout, …). */
  request(type: number, body: Uint8Array, options: { fd?: number | null; timeoutMs?: number } = {}): Promise<Message> {
    if (this.state.kind === "closed") return Promise.reject(new ChannelError("closed", "channel is closed"));
    const id = this.allocId();
    return new Promise<Message>((resolve, reject) => {
      const timer =
        options.timeoutMs === undefined
          ? null
          : setTimeout(() => {
              this.pending.delete(id);
              reject(new ChannelError("timeout", `request type ${type} timed out`));
            }, options.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      try {
        this.send(FrameKind.Request, id, type, body, options.fd ?? null);
      } catch (e) {
        this.pending.delete(id);
        if (timer !== null) clearTimeout(timer);
        reject(e instanceof ChannelError ? e : new ChannelError("fd-transfer", String(e)));
      }
    });
  }

  /** Sends a one-way message. */
  notify(type: number, body: Uint8Array, fd: number | null = null): void {
    if (this.state.kind === "closed") throw new ChannelError("closed", "channel is closed");
    this.send(FrameKind.Notify, 0, type, body, fd);
  }

  close(): void {
    this.finish({ kind: "local" });
  }

  private allocId(): number {
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    return id;
  }

  private send(kind: FrameKind, id: number, type: number, body: Uint8Array, fd: number | null): void {
    if (body.length > this.maxMessage) throw new ChannelError("too-large", `message of ${body.length} bytes exceeds ${this.maxMessage}`);
    if (fd !== null) {
      if (this.opts.fdSocket === null) throw new ChannelError("fd-transfer", "this channel carries no descriptors");
      const tag = new Writer(FD_TAG_LENGTH).u8(kind).u32(id).u16(type).finish();
      try {
        sendWithFd(this.opts.fdSocket, tag, fd);
      } catch (e) {
        throw new ChannelError("fd-transfer", e instanceof LibcError ? e.message : String(e));
      }
    }
    this.outq.push(encodeFrame(kind, id, type, fd !== null, body));
    this.flush();
  }

  private flush(): void {
    if (this.state.kind !== "open") return;
    const s = this.state.socket;
    while (this.outq.length > 0) {
      const head = this.outq[0]!;
      // Bun's write() returns what the kernel took and buffers nothing (bun-runtime-notes §4): keep the tail.
      const n = s.write(head);
      if (n >= head.length) {
        this.outq.shift();
        continue;
      }
      if (n > 0) this.outq[0] = head.subarray(n);
      return; // drain() calls flush again
    }
  }

  private onData(chunk: Uint8Array): void {
    if (this.state.kind !== "open") return;
    if (this.inlen + chunk.length > this.inbuf.length) {
      const grown = new Uint8Array(Math.max(this.inbuf.length * 2, this.inlen + chunk.length));
      grown.set(this.inbuf.subarray(0, this.inlen));
      this.inbuf = grown;
    }
    this.inbuf.set(chunk, this.inlen);
    this.inlen += chunk.length;
    let off = 0;
    try {
      for (;;) {
        const got = takeFrame(this.inbuf.subarray(off), this.inlen - off, this.maxMessage);
        if (got === null) break;
        off += got.size;
        this.dispatch(got.frame);
        if (this.state.kind !== "open") return;
      }
    } catch (e) {
      const err = e instanceof ChannelError ? e : new ChannelError("protocol", String(e));
      this.finish({ kind: "protocol", error: err });
      return;
    }
    this.inbuf.copyWithin(0, off, this.inlen);
    this.inlen -= off;
    this.maybeShrink();
  }

  private takeFd(frame: Frame): number | null {
    if (!frame.hasFd) return null;
    if (this.opts.fdSocket === null) throw new ChannelError("protocol", "frame announces a descriptor on a channel without fd socket");
    let got;
    try {
      got = recvWithFd(this.opts.fdSocket, FD_TAG_LENGTH);
    } catch (e) {
      throw new ChannelError("fd-transfer", e instanceof Error ? e.message : String(e));
    }
    if (got === null || got.fd === null) {
      if (got?.fd != null) closeFd(got.fd);
      throw new ChannelError("fd-transfer", "announced descriptor did not arrive");
    }
    const r = new Reader(got.payload);
    const ok = got.payload.length === FD_TAG_LENGTH && r.u8() === frame.kind && r.u32() === frame.id && r.u16() === frame.type;
    if (!ok) {
      closeFd(got.fd);
      throw new ChannelError("fd-transfer", "descriptor tag does not match its frame");
    }
    return got.fd;
  }

  private dispatch(frame: Frame): void {
    const fd = this.takeFd(frame);
    const msg: Message = { type: frame.type, body: frame.body, fd };
    switch (frame.kind) {
      case FrameKind.Request:
        this.answer(frame.id, msg);
        return;
      case FrameKind.Response:
      case FrameKind.Error: {
        const p = this.pending.get(frame.id);
        if (p === undefined) {
          if (fd !== null) closeFd(fd);
          // A late answer to a request that timed out is harmless; anything else is a broken peer.
          if (frame.id === 0 || frame.id >= this.nextId) throw new ChannelError("protocol", `response to unknown request ${frame.id}`);
          return;
        }
        this.pending.delete(frame.id);
        if (p.timer !== null) clearTimeout(p.timer);
        if (frame.kind === FrameKind.Response) p.resolve(msg);
        else {
          if (fd !== null) closeFd(fd);
          const { code, message } = decodeErrorBody(frame.body);
          p.reject(new ChannelError("remote-error", `${code}: ${message}`, code));
        }
        return;
      }
      case FrameKind.Notify:
        if (this.opts.onNotify === undefined) {
          if (fd !== null) closeFd(fd);
          return;
        }
        this.opts.onNotify(msg);
        return;
      default: {
        const never: never = frame.kind;
        throw new ChannelError("protocol", `unknown kind ${String(never)}`);
      }
    }
  }

  private answer(id: number, msg: Message): void {
    const handler = this.opts.onRequest;
    const error = (e: unknown) => {
      if (this.state.kind !== "open") return;
      const body =
        e instanceof RemoteError
          ? encodeErrorBody(e.code, e.message)
          : // Internal failures are not described to the peer: a worker learns nothing from main's errors.
            encodeErrorBody("internal", "request failed");
      try {
        this.send(FrameKind.Error, id, msg.type, body, null);
      } catch {
        // The channel is failing anyway; the requester sees the close.
      }
    };
    const reply = (r: Reply) => {
      const fd = r.fd ?? null;
      try {
        if (this.state.kind === "open") this.send(FrameKind.Response, id, r.type, r.body, fd);
      } catch (e) {
        error(e);
      } finally {
        // A reply's descriptor is handed to the channel: sent (the peer has its own copy now) or not, ours is closed.
        if (fd !== null) closeFd(fd);
      }
    };
    if (handler === undefined) {
      if (msg.fd !== null) closeFd(msg.fd);
      error(new RemoteError("unsupported", `no handler for type ${msg.type}`));
      return;
    }
    let out: Reply | Promise<Reply>;
    try {
      out = handler(msg);
    } catch (e) {
      error(e);
      return;
    }
    if (out instanceof Promise) out.then(reply, error);
    else reply(out);
  }

  private maybeShrink(): void {
    // After a large message, give the memory back once the buffer is empty.
    if (this.inlen === 0 && this.inbuf.length > 64 * 1024) this.inbuf = new Uint8Array(4096);
  }

  private finish(reason: CloseReason): void {
    if (this.state.kind === "closed") return;
    const socket = this.state.socket;
    this.state = { kind: "closed", reason };
    socket.end();
    if (this.opts.fdSocket !== null) closeFd(this.opts.fdSocket);
    const err =
      reason.kind === "protocol"
        ? reason.error
        : new ChannelError(reason.kind === "peer-closed" ? "peer-closed" : "closed", reason.kind === "peer-closed" ? "peer closed the channel" : "channel closed");
    for (const p of this.pending.values()) {
      if (p.timer !== null) clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
    this.outq.length = 0;
    this.opts.onClose?.(reason);
  }
}
