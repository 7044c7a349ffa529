// A loopback UDP server for interop tests with real DTLS clients (gnutls-cli, openssl s_client).
// Those clients send no App-ID, so the datagrams go straight to one session's Channel instead of
// through the demux's session-ID lookup (which the in-memory tests cover).

import { randomBytes } from "../../src/crypto/index.ts";
import { Channel, type Outbox } from "../../src/dtls/channel.ts";
import type { DtlsMode, HandshakeContext } from "../../src/dtls/handshake.ts";
import { newCursor } from "../../src/dtls/record.ts";
import { concatBytes } from "../../src/wire/writer.ts";

export interface UdpServer {
  port: number;
  channel: Channel<string>;
  events: string[];
  delivered: Uint8Array[];
  close(): void;
}

export async function startUdpServer(mode: DtlsMode): Promise<UdpServer> {
  const channel = new Channel<string>(randomBytes(32), mode, "interop", 1400);
  const ctx: HandshakeContext = { random: randomBytes, maxDatagram: 1400 };
  const cursor = newCursor();
  const events: string[] = [];
  const delivered: Uint8Array[] = [];
  let timer: ReturnType<typeof setTimeout> | null = null;
  const sock = await Bun.udpSocket({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(s, buf, port, addr) {
        const out: Outbox<string> = { sendTo: [], deliver: [], events: [] };
        channel.receiveDatagram(new Uint8Array(buf), { addr, port }, Date.now(), ctx, out, cursor);
        flush(s, out);
      },
      error() {}, // ECONNREFUSED from ICMP port unreachable once the client has exited
    },
  });
  function flush(s: typeof sock, out: Outbox<string>): void {
    for (const d of out.sendTo) s.send(d.bytes, d.port, d.addr);
    for (const e of out.events) events.push(e.event.kind);
    for (const d of out.deliver) delivered.push(d.payload.slice());
    arm();
  }
  function arm(): void {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    const dl = channel.deadline;
    if (dl === null) return;
    timer = setTimeout(() => {
      const out: Outbox<string> = { sendTo: [], deliver: [], events: [] };
      channel.onTimer(Date.now(), out);
      flush(sock, out);
    }, Math.max(0, dl - Date.now()));
  }
  return {
    port: sock.port,
    channel,
    events,
    delivered,
    close() {
      if (timer !== null) clearTimeout(timer);
      sock.close();
    },
  };
}

/** Runs a client process, writes `input` once the handshake is up, and resolves with its stdout when `until` matches. */
export async function runClient(cmd: string[], server: UdpServer, input: Uint8Array, until: (out: Uint8Array) => boolean, timeoutMs = 8000): Promise<{ stdout: Uint8Array; stderr: string }> {
  const proc = Bun.spawn(cmd, { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  const chunks: Uint8Array[] = [];
  let done = false;
  const deadline = Date.now() + timeoutMs;
  const reader = (async () => {
    for await (const c of proc.stdout as ReadableStream<Uint8Array>) {
      chunks.push(c);
      if (until(concatBytes(...chunks))) break;
    }
  })();
  while (!server.channel.established && Date.now() < deadline) await Bun.sleep(20);
  if (server.channel.established) {
    proc.stdin.write(input);
    proc.stdin.flush();
  }
  await Promise.race([reader, Bun.sleep(Math.max(0, deadline - Date.now()))]);
  done = true;
  proc.kill();
  const stderr = await new Response(proc.stderr as ReadableStream<Uint8Array>).text();
  await proc.exited;
  void done;
  return { stdout: concatBytes(...chunks), stderr };
}

export function includes(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}
