// A UDP adapter over Bun.udpSocket for DTLS (bun-runtime-notes.md §3): one dual-stack socket on "::"
// (IPv4 peers appear as ::ffff:a.b.c.d), or an FFI-made fd with SO_REUSEPORT / SO_RCVBUF adopted via
// { fd }. Sending is batched: queue() collects datagrams and flush() hands them to one sendMany()
// (Bun then uses sendmmsg); the caller flushes at the end of its own batch. Datagrams the kernel did
// not take are copied to a bounded retry queue that the drain callback flushes; beyond its bound they
// are dropped and counted, as a congested UDP path would drop them anyway.

import type { udp } from "bun";
import { NetError } from "./errors.ts";

export interface UdpHandler {
  /** One datagram; `data` is valid only during the call. `truncated` is true if it did not fit. */
  datagram(data: Uint8Array, port: number, address: string, truncated: boolean): void;
  /** The socket failed; it is closed. */
  error?(err: Error): void;
  /**
   * The kernel refused one datagram and it was dropped: `code` is the errno name, e.g. "EMSGSIZE" when
   * IP_PMTUDISC_DO is set and the datagram exceeds the path MTU the kernel knows (how DTLS MTU
   * discovery learns of it), or "ENETUNREACH". `data` is valid only during the call.
   */
  sendFailed?(code: string, data: Uint8Array, port: number, address: string): void;
}

export interface UdpOptions {
  /** Default "::" (dual stack). */
  readonly hostname?: string;
  readonly port?: number;
  /** An fd from createBoundSocket; Bun takes ownership. */
  readonly fd?: number;
  /** Datagrams kept for retry after backpressure (default 1024). */
  readonly maxRetry?: number;
}

export interface UdpEndpoint {
  readonly port: number;
  readonly hostname: string;
  /** Adds a datagram to the current batch. `data` must stay unchanged until flush() returns. */
  queue(data: Uint8Array, port: number, address: string): void;
  /** Sends the batch with one sendMany(); returns how many were consumed now (sent, or refused and reported). */
  flush(): number;
  /** Datagrams dropped because the retry queue was full. */
  readonly dropped: number;
  close(): void;
}

const BATCH = 32;

export async function openUdp(opts: UdpOptions, handler: UdpHandler): Promise<UdpEndpoint> {
  const maxRetry = opts.maxRetry ?? 1024;
  if (!Number.isInteger(maxRetry) || maxRetry < 0) throw new NetError("bad-argument", `maxRetry ${maxRetry} is not a count`);
  // Flat [data, port, address, ...] as sendMany takes it; reused between flushes.
  const batch: (Uint8Array | number | string)[] = [];
  const retry: (Uint8Array | number | string)[] = [];
  let dropped = 0;

  /**
   * Sends the flat list with sendMany; returns how many datagrams it consumed: sent, or dropped because
   * the kernel refused them. Measured on Bun 1.4 (sendmmsg): a refused first datagram makes sendMany
   * throw (err.code "EMSGSIZE", "ENETUNREACH", ...); a refused later one only shortens the count, like
   * backpressure does. So after a short count the rest is tried once more: a throw then names the
   * refused datagram, which is dropped and reported, and 0 means real backpressure.
   */
  const sendList = (sock: udp.Socket<"uint8array">, list: (Uint8Array | number | string)[]): number => {
    const n = list.length / 3;
    let i = 0;
    while (i < n) {
      const rest = i === 0 ? list : list.slice(i * 3);
      let sent: number;
      try {
        sent = sock.sendMany(rest);
      } catch (e) {
        const code = (e as { code?: unknown }).code;
        if (typeof code !== "string" || sock.closed) throw e;
        handler.sendFailed?.(code, list[i * 3] as Uint8Array, list[i * 3 + 1] as number, list[i * 3 + 2] as string);
        i++;
        continue;
      }
      if (sent === 0) break;
      i += sent;
    }
    return i;
  };

  const sendRetry = (sock: udp.Socket<"uint8array">): void => {
    while (retry.length > 0) {
      const chunk = retry.length > BATCH * 3 ? retry.slice(0, BATCH * 3) : retry;
      const n = sendList(sock, chunk);
      retry.splice(0, n * 3);
      if (n * 3 < chunk.length) return;
    }
  };

  const socketHandler: udp.SocketHandler<"uint8array"> = {
    data(_s, data, port, address, flags) {
      handler.datagram(data, port, address, flags.truncated);
    },
    drain(s) {
      sendRetry(s);
    },
    error(_s, err) {
      handler.error?.(err);
    },
  };
  let sock: udp.Socket<"uint8array">;
  try {
    sock =
      opts.fd !== undefined
        ? await Bun.udpSocket({ fd: opts.fd, binaryType: "uint8array", socket: socketHandler } as never)
        : await Bun.udpSocket({ hostname: opts.hostname ?? "::", port: opts.port ?? 0, binaryType: "uint8array", socket: socketHandler });
  } catch (e) {
    throw new NetError("listen-failed", `cannot bind UDP ${opts.hostname ?? "::"} port ${opts.port ?? 0}: ${String(e)}`, e);
  }

  return {
    port: sock.port,
    hostname: sock.hostname,
    get dropped() {
      return dropped;
    },
    queue(data, port, address) {
      batch.push(data, port, address);
    },
    flush() {
      if (batch.length === 0) return 0;
      if (sock.closed) throw new NetError("closed", "flush on a closed UDP socket");
      // Older datagrams first: anything still waiting from a previous congestion goes ahead.
      if (retry.length > 0) sendRetry(sock);
      let sent = 0;
      if (retry.length === 0) {
        sent = sendList(sock, batch);
      }
      for (let i = sent * 3; i < batch.length; i += 3) {
        if (retry.length / 3 >= maxRetry) {
          dropped++;
          continue;
        }
        // The caller reuses its buffers after flush(), so a datagram that waits is copied.
        retry.push((batch[i] as Uint8Array).slice(), batch[i + 1]!, batch[i + 2]!);
      }
      batch.length = 0;
      return sent;
    },
    close() {
      batch.length = 0;
      retry.length = 0;
      sock.close();
    },
  };
}
