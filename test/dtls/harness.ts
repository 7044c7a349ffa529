// Wires a TestClient to a DtlsEndpoint in memory, with an optional lossy link and a fake clock.

import { createDtlsEndpoint, type DtlsEndpoint, type DtlsResult, type DtlsSessionHandle } from "../../src/dtls/index.ts";
import type { DtlsMode } from "../../src/dtls/handshake.ts";
import { randomBytes } from "../../src/crypto/index.ts";
import { expect } from "bun:test";
import { DTLS1_2, TestClient, type ClientOptions } from "./client.ts";

export interface Clock {
  t: number;
}

export interface Pair {
  clock: Clock;
  ep: DtlsEndpoint<string>;
  handle: DtlsSessionHandle<string>;
  client: TestClient;
  addr: string;
  port: number;
  /** Everything the endpoint returned, flattened. */
  results: DtlsResult<string>[];
  /** Delivers client datagrams to the server and returns what the client got back (recursively until quiet). */
  pump(datagrams: Uint8Array[], opts?: { dropServer?: (i: number) => boolean; dropClient?: (i: number) => boolean }): void;
}

export function makePair(mode: DtlsMode, clientOpts: ClientOptions, epOpts: { maxDatagram?: number } = {}): Pair {
  const clock: Clock = { t: 1_000_000 };
  const ep = createDtlsEndpoint<string>({ now: () => clock.t, random: randomBytes, ...epOpts });
  const handle = ep.register({ sessionId: clientOpts.sessionId.length === 32 ? clientOpts.sessionId : (clientOpts as { appId?: Uint8Array }).appId ?? clientOpts.sessionId, mode, owner: "s1", dataMtu: 1400 });
  const client = new TestClient(clientOpts);
  const results: DtlsResult<string>[] = [];
  const pair: Pair = {
    clock,
    ep,
    handle,
    client,
    addr: "192.0.2.7",
    port: 40000,
    results,
    pump(datagrams, o = {}) {
      let toServer = datagrams;
      let si = 0;
      let ci = 0;
      for (let round = 0; round < 20 && toServer.length > 0; round++) {
        const toClient: Uint8Array[] = [];
        for (const d of toServer) {
          if (o.dropClient?.(ci++)) continue;
          const r = ep.handleDatagram(d, pair.addr, pair.port);
          results.push(r);
          for (const s of r.sendTo) toClient.push(s.bytes);
        }
        toServer = [];
        for (const d of toClient) {
          if (o.dropServer?.(si++)) continue;
          toServer.push(...client.receive(d).send);
        }
      }
    },
  };
  return pair;
}

export function events(p: Pair): string[] {
  return p.results.flatMap((r) => r.events.map((e) => e.event.kind));
}

/** A PSK session (TLS_PSK_WITH_AES_256_GCM_SHA384 over DTLS 1.2) whose handshake has completed. */
export function establishedPsk(): Pair {
  const key = randomBytes(32);
  const p = makePair({ kind: "psk", key, allowedSuites: null }, { kind: "psk", version: DTLS1_2, sessionId: randomBytes(32), psk: key, suites: [0x00a9] });
  p.pump(p.client.hello());
  expect(p.handle.established).toBe(true);
  return p;
}
