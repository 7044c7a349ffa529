// The worker's blocking end of a request/response socket, for calls that an interface forces to be
// synchronous (PrivateKey.sign / decryptPkcs1, src/crypto/types.ts). The socket is never adopted by
// Bun's event loop in this process: requests are written and answers read with blocking FFI calls, one
// request at a time, so the whole worker waits for the answer (measured in bench/privsep.ts). The other
// end is an ordinary Channel in main (same frame format), served asynchronously there.
import { closeFd, LibcError, readBlocking, writeAllBlocking } from "./libc.ts";
import { ChannelError, decodeErrorBody, DEFAULT_MAX_MESSAGE, encodeFrame, FrameKind, takeFrame, type Message } from "./channel.ts";

type State = { readonly kind: "open"; readonly fd: number } | { readonly kind: "closed" };

export class SyncClient {
  private state: State;
  private nextId = 1;
  private buf = new Uint8Array(4096);
  private readonly chunk = new Uint8Array(16 * 1024);

  constructor(
    fd: number,
    private readonly timeoutMs = 5000,
    private readonly maxMessage = DEFAULT_MAX_MESSAGE,
  ) {
    this.state = { kind: "open", fd };
  }

  get closed(): boolean {
    return this.state.kind === "closed";
  }

  /**
   * Sends a request and blocks until its answer. Any failure (timeout, peer gone, malformed answer)
   * closes the client: a half-read stream cannot be resynchronised.
   */
  request(type: number, body: Uint8Array): Message {
    if (this.state.kind === "closed") throw new ChannelError("closed", "sync channel is closed");
    const fd = this.state.fd;
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    try {
      writeAllBlocking(fd, encodeFrame(FrameKind.Request, id, type, false, body), this.timeoutMs);
      let have = 0;
      for (;;) {
        const got = takeFrame(this.buf, have, this.maxMessage);
        if (got !== null) {
          if (got.size !== have) throw new ChannelError("protocol", "unexpected extra bytes after the answer");
          const f = got.frame;
          if (f.id !== id || f.hasFd) throw new ChannelError("protocol", "answer does not match the request");
          if (f.kind === FrameKind.Response) return { type: f.type, body: f.body, fd: null };
          if (f.kind === FrameKind.Error) {
            const { code, message } = decodeErrorBody(f.body);
            throw new ChannelError("remote-error", `${code}: ${message}`, code);
          }
          throw new ChannelError("protocol", `unexpected frame kind ${f.kind}`);
        }
        const n = readBlocking(fd, this.chunk, this.timeoutMs);
        if (n === 0) throw new ChannelError("peer-closed", "peer closed the sync channel");
        if (have + n > this.buf.length) {
          const grown = new Uint8Array(Math.max(this.buf.length * 2, have + n));
          grown.set(this.buf.subarray(0, have));
          this.buf = grown;
        }
        this.buf.set(this.chunk.subarray(0, n), have);
        have += n;
      }
    } catch (e) {
      if (e instanceof ChannelError && e.code === "remote-error") throw e;
      this.close();
      if (e instanceof ChannelError) throw e;
      if (e instanceof LibcError && e.code === "would-block") throw new ChannelError("timeout", "sync request timed out");
      throw new ChannelError("peer-closed", e instanceof Error ? e.message : String(e));
    }
  }

  close(): void {
    if (this.state.kind === "closed") return;
    closeFd(this.state.fd);
    this.state = { kind: "closed" };
  }
}
