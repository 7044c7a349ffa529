import { describe, expect, test } from "bun:test";
import { SessionCache, type CachedSession } from "../../src/tls/index.ts";

function session(): CachedSession {
  return { masterSecret: new Uint8Array(48).fill(7), cipherSuite: 0xc02f, extendedMasterSecret: true, sni: null, peerCertificates: [] };
}

describe("SessionCache", () => {
  test("returns a session until its lifetime ends, then forgets it and wipes the secret", () => {
    const cache = new SessionCache(10, 5);
    const s = session();
    cache.put(Uint8Array.of(1), s, 1000);
    expect(cache.get(Uint8Array.of(1), 10_999)).toBe(s);
    expect(cache.get(Uint8Array.of(1), 11_000)).toBeNull();
    expect(s.masterSecret.every((b) => b === 0)).toBe(true);
    expect(cache.size).toBe(0);
  });

  test("evicts the oldest entry when full", () => {
    const cache = new SessionCache(100, 2);
    cache.put(Uint8Array.of(1), session(), 0);
    cache.put(Uint8Array.of(2), session(), 0);
    cache.put(Uint8Array.of(3), session(), 0);
    expect(cache.get(Uint8Array.of(1), 0)).toBeNull();
    expect(cache.get(Uint8Array.of(2), 0)).not.toBeNull();
    expect(cache.get(Uint8Array.of(3), 0)).not.toBeNull();
  });

  test("ignores empty session IDs and rejects a nonsensical size", () => {
    const cache = new SessionCache(100, 2);
    cache.put(new Uint8Array(0), session(), 0);
    expect(cache.size).toBe(0);
    expect(() => new SessionCache(0, 1)).toThrow(RangeError);
    expect(() => new SessionCache(10, 0)).toThrow(RangeError);
  });
});
