// One accepted TCP connection, from the socket adapter to the HTTP front: a TLS server connection whose
// settings follow SNI to the vhost, the front's connection driver, and its auth-timeout timer. Used by
// the single-process server (main.ts) and by a privilege-separated worker (split/worker-side.ts), which
// differ only in what happens before (admission) and after (accounting) a connection.

import type { Config, VhostConfig } from "../config/types.ts";
import type { Logger } from "../log/types.ts";
import type { TcpConnection, TcpConnectionHandler } from "../net/index.ts";
import { TlsServerConnection, type SessionCache } from "../tls/index.ts";
import type { Front } from "./front/server.ts";
import type { FrontSocket } from "./front/types.ts";
import type { VhostTls } from "./vhost-tls.ts";

/** Bun reports IPv4 peers of a dual-stack socket as ::ffff:a.b.c.d; the rest of the server wants a.b.c.d. */
export function plainAddress(a: string): string {
  return a.startsWith("::ffff:") && a.includes(".") ? a.slice(7) : a;
}

export interface ServeConnectionDeps {
  readonly conn: TcpConnection;
  readonly config: Config;
  readonly front: Front;
  readonly tlsFor: (vhost: VhostConfig) => VhostTls;
  readonly sessionCache: SessionCache;
  readonly log: Logger;
  /** Called once when the connection has closed. */
  readonly onClosed: () => void;
}

export function serveConnection(d: ServeConnectionDeps): TcpConnectionHandler {
  const { conn, config, front, tlsFor, log } = d;
  const def = tlsFor(config.defaultVhost);
  const tls = new TlsServerConnection({
    credentials: def.credentials,
    policy: def.policy,
    clientAuth: def.clientAuth,
    verifyClientChain: def.verifyClientChain,
    sessionCache: d.sessionCache,
    selectBySni: (sni) => {
      const v = tlsFor(config.vhostFor(sni));
      return { credentials: v.credentials, policy: v.policy, clientAuth: v.clientAuth, verifyClientChain: v.verifyClientChain };
    },
  });
  const socket: FrontSocket = {
    send: (b) => conn.send(b),
    end: () => conn.end(),
    remoteAddress: plainAddress(conn.remoteAddress),
    remotePort: conn.remotePort,
    localAddress: plainAddress(conn.localAddress),
    localPort: conn.localPort,
  };
  const fc = front.handleConnection({ socket, tls });
  let timer: ReturnType<typeof setTimeout> | null = null;
  const rearm = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    const at = fc.nextDeadline();
    if (at !== null && !fc.closed) {
      timer = setTimeout(() => {
        timer = null;
        fc.onTimer();
        rearm();
      }, Math.max(0, at - Date.now()));
    }
  };
  rearm();
  let closed = false;
  const describe = (e: unknown) => (e instanceof Error ? e.message : String(e));
  return {
    data(bytes: Uint8Array) {
      // onData is meant never to throw or reject (it returns a promise only while an auth step is
      // pending); should a bug slip through, it ends this connection, not the process (cli.ts exits on
      // uncaught errors and unhandled rejections).
      const fail = (e: unknown) => {
        log.error(`connection from ${socket.remoteAddress} failed: ${describe(e)}`);
        conn.destroy();
      };
      try {
        const p = fc.onData(bytes);
        if (p) p.then(rearm, fail);
        else rearm();
      } catch (e) {
        fail(e);
      }
    },
    close() {
      if (closed) return;
      closed = true;
      d.onClosed();
      if (timer !== null) clearTimeout(timer);
      try {
        fc.onPeerClosed();
      } catch (e) {
        log.error(`closing the connection from ${socket.remoteAddress} failed: ${describe(e)}`);
      }
    },
  };
}
