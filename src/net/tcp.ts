// A TCP listener adapter over Bun.listen for the TLS front. Two Bun facts shape it
// (bun-runtime-notes.md §4):
// * socket.write() returns how many bytes the kernel took and does NOT buffer the rest. Each
//   connection therefore keeps an outbox; what write() did not take stays there and is retried from
//   the drain callback. The outbox has a high-water mark (producers such as the tun reader check
//   `congested` and pause, and get `writable()` when it falls below the low-water mark) and a hard
//   limit past which the peer is considered stuck and the connection is closed.
// * Every write() is a syscall, and coalescing 16 records per write was ~8x faster. send() only
//   copies into the outbox; one write() per connection goes out in a microtask at the end of the
//   current task, so records produced together (a tun batch) leave together. Records keep their
//   boundaries inside the TLS stream, so CSTP's one-packet-per-record rule is untouched.

import type { Socket, TCPSocketListener } from "bun";
import { NetError } from "./errors.ts";

export interface TcpConnection {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Queues a copy of `data`; everything queued in one task is written with one write(). */
  send(data: Uint8Array): void;
  /** Bytes queued and not yet accepted by the kernel. */
  readonly queuedBytes: number;
  /** True while queuedBytes is above the high-water mark: stop producing until writable(). */
  readonly congested: boolean;
  /** Stops reading from the peer (the consumer of our data events is saturated). */
  pauseReading(): void;
  resumeReading(): void;
  /** Sends what is queued, then closes the write side (FIN). */
  end(): void;
  /** Closes at once, dropping anything queued. */
  destroy(): void;
  readonly closed: boolean;
  /** write() syscalls and bytes written so far (for tests and statistics). */
  readonly stats: { readonly writes: number; readonly bytes: number };
}

export interface TcpConnectionHandler {
  /** Bytes from the peer, as Bun delivered them (coalesced); valid only during the call. */
  data(bytes: Uint8Array): void;
  /** The send queue fell below the low-water mark after having been congested. */
  writable?(): void;
  /** The connection closed; `error` is null for an orderly close. Called once. */
  close(error: Error | null): void;
}

export interface TcpListenOptions {
  readonly hostname?: string;
  readonly port?: number;
  /** A listening fd made by createBoundSocket (e.g. with SO_REUSEPORT); Bun takes ownership. */
  readonly fd?: number;
  readonly reusePort?: boolean;
  /** Defaults: high 1 MiB, low 256 KiB, hard limit 16 MiB. */
  readonly highWaterMark?: number;
  readonly lowWaterMark?: number;
  readonly maxQueuedBytes?: number;
  /** The accept callback threw: the connection was destroyed and the listener keeps going. */
  readonly onAcceptError?: (error: unknown) => void;
}

export interface TcpListener {
  readonly port: number;
  readonly hostname: string;
  /** Stops accepting; `closeActive` also closes open connections. */
  stop(closeActive?: boolean): void;
}

class Outbox {
  buf: Uint8Array;
  head = 0;
  tail = 0;
  constructor(initial: number) {
    this.buf = new Uint8Array(initial);
  }
  get size(): number {
    return this.tail - this.head;
  }
  push(data: Uint8Array): void {
    if (this.tail + data.length > this.buf.length) {
      const live = this.size;
      if (live + data.length <= this.buf.length / 2) {
        // Plenty of room once the sent prefix is dropped.
        this.buf.copyWithin(0, this.head, this.tail);
      } else {
        let cap = this.buf.length * 2;
        while (cap < live + data.length) cap *= 2;
        const next = new Uint8Array(cap);
        next.set(this.buf.subarray(this.head, this.tail));
        this.buf = next;
      }
      this.head = 0;
      this.tail = live;
    }
    this.buf.set(data, this.tail);
    this.tail += data.length;
  }
  consume(n: number): void {
    this.head += n;
    if (this.head === this.tail) this.head = this.tail = 0;
  }
}

interface ConnState {
  conn: Connection | null;
}

class Connection implements TcpConnection {
  handler: TcpConnectionHandler | null = null;
  private readonly outbox = new Outbox(16 * 1024);
  private flushScheduled = false;
  private wasCongested = false;
  private ending = false;
  private isClosed = false;
  private writes = 0;
  private bytes = 0;
  private readonly flushBound = () => {
    this.flushScheduled = false;
    this.flush();
  };

  constructor(
    private readonly socket: Socket<ConnState>,
    private readonly high: number,
    private readonly low: number,
    private readonly hardLimit: number,
  ) {}

  get remoteAddress(): string {
    return this.socket.remoteAddress;
  }
  get remotePort(): number {
    return this.socket.remotePort;
  }
  get localAddress(): string {
    return this.socket.localAddress;
  }
  get localPort(): number {
    return this.socket.localPort;
  }
  get queuedBytes(): number {
    return this.outbox.size;
  }
  get congested(): boolean {
    return this.outbox.size > this.high;
  }
  get closed(): boolean {
    return this.isClosed;
  }
  get stats(): { writes: number; bytes: number } {
    return { writes: this.writes, bytes: this.bytes };
  }

  send(data: Uint8Array): void {
    if (this.isClosed || this.ending) throw new NetError("closed", "send on a closed connection");
    if (this.outbox.size + data.length > this.hardLimit) {
      this.fail(new NetError("send-queue-overflow", `the peer is not reading: ${this.outbox.size} bytes queued`));
      return;
    }
    this.outbox.push(data);
    if (this.outbox.size > this.high) this.wasCongested = true;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flushBound);
    }
  }

  /** Writes as much of the outbox as the kernel takes; the rest waits for drain. */
  flush(): void {
    if (this.isClosed) return;
    const size = this.outbox.size;
    if (size > 0) {
      const n = this.socket.write(this.outbox.buf.subarray(this.outbox.head, this.outbox.tail));
      this.writes++;
      if (n > 0) {
        this.bytes += n;
        this.outbox.consume(n);
      }
    }
    if (this.outbox.size === 0 && this.ending) {
      this.socket.end();
      return;
    }
    if (this.wasCongested && this.outbox.size <= this.low) {
      this.wasCongested = false;
      this.handler?.writable?.();
    }
  }

  pauseReading(): void {
    if (!this.isClosed) this.socket.pause();
  }
  resumeReading(): void {
    if (!this.isClosed) this.socket.resume();
  }

  end(): void {
    if (this.isClosed || this.ending) return;
    this.ending = true;
    if (!this.flushScheduled) this.flush();
  }

  destroy(): void {
    if (this.isClosed) return;
    // Closed first: terminate() runs Bun's close callback synchronously, which must not win.
    this.closedBy(null);
    this.socket.terminate();
  }

  private fail(err: Error): void {
    if (this.isClosed) return;
    this.closedBy(err);
    this.socket.terminate();
  }

  closedBy(err: Error | null): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.outbox.consume(this.outbox.size);
    const h = this.handler;
    this.handler = null;
    h?.close(err);
  }
}

export function listenTcp(opts: TcpListenOptions, accept: (conn: TcpConnection) => TcpConnectionHandler): TcpListener {
  const high = opts.highWaterMark ?? 1024 * 1024;
  const low = opts.lowWaterMark ?? 256 * 1024;
  const hard = opts.maxQueuedBytes ?? 16 * 1024 * 1024;
  if (!(low >= 0 && low <= high && high < hard)) {
    throw new NetError("bad-argument", `watermarks must satisfy 0 <= low (${low}) <= high (${high}) < max (${hard})`);
  }
  const handlers = {
    binaryType: "uint8array" as const,
    open(socket: Socket<ConnState>) {
      const conn = new Connection(socket, high, low, hard);
      socket.data = { conn };
      try {
        conn.handler = accept(conn);
      } catch (e) {
        // Re-throwing into Bun's open handler would end the process; only this connection is at fault.
        conn.destroy();
        opts.onAcceptError?.(e);
      }
    },
    data(socket: Socket<ConnState>, bytes: Uint8Array) {
      socket.data.conn?.handler?.data(bytes);
    },
    drain(socket: Socket<ConnState>) {
      socket.data.conn?.flush();
    },
    close(socket: Socket<ConnState>, error?: Error) {
      socket.data.conn?.closedBy(error ?? null);
      socket.data.conn = null;
    },
    error(socket: Socket<ConnState>, error: Error) {
      socket.data.conn?.closedBy(error);
    },
  };
  let server: TCPSocketListener<ConnState>;
  try {
    if (opts.fd !== undefined) {
      // Bun accepts { fd } for an existing listening socket, though its types do not list it.
      server = Bun.listen<ConnState>({ fd: opts.fd, socket: handlers, data: { conn: null } } as never);
    } else {
      server = Bun.listen<ConnState>({
        hostname: opts.hostname ?? "::",
        port: opts.port ?? 0,
        ...(opts.reusePort === true ? { reusePort: true } : {}),
        socket: handlers,
        data: { conn: null },
      });
    }
  } catch (e) {
    throw new NetError("listen-failed", `cannot listen on ${opts.hostname ?? "::"} port ${opts.port ?? 0}: ${String(e)}`, e);
  }
  return {
    port: server.port,
    hostname: server.hostname,
    stop: (closeActive = false) => server.stop(closeActive),
  };
}
