// The front's narrow edges are satisfied by the project's real modules as they are, so the lead's
// wiring needs no adapters. These checks are compile-time (tsc runs over test/); the runtime test
// keeps bun from reporting an empty file and checks the session store against the contract.

import { expect, test } from "bun:test";
import type { TcpConnection } from "../../src/net/index.ts";
import type { TlsServerConnection } from "../../src/tls/index.ts";
import type { Authenticator as AuthModule, BanTracker as AuthBans } from "../../src/auth/index.ts";
import type { SessionStore } from "../../src/server/contract.ts";
import type { Authenticator, BanTracker, FrontSocket, FrontTls } from "../../src/server/front/index.ts";
import { MemorySessionStore } from "../../src/server/front/index.ts";
import { FakeClock } from "./helpers.ts";

type Assignable<T, U extends T> = U;
export type SocketFits = Assignable<FrontSocket, TcpConnection>;
export type TlsFits = Assignable<FrontTls, TlsServerConnection>;
export type AuthFits = Assignable<Authenticator, AuthModule>;
export type BansFit = Assignable<BanTracker, AuthBans>;

test("the memory session store serves as the contract's SessionStore", () => {
  const store = new MemorySessionStore({
    clock: new FakeClock(),
    random: (n) => new Uint8Array(n).fill(7),
    policy: () => ({ cookieTimeout: 300, persistentCookies: false, sessionTimeout: 0, denyRoaming: false, maxSameClients: 0 }),
  });
  const seen: SessionStore = store;
  const sid = store.newSid();
  store.create(sid, { username: "u", group: null, vhost: null, authIp: "192.0.2.1", userAgent: "" });
  expect(seen.lookup(sid)?.username).toBe("u");
  seen.ended(sid, "user-disconnect");
  expect(seen.lookup(sid)).toBeNull();
});
