// The record path hands out views instead of copies (deframer records, opened plaintext, outgoing
// ciphertext); these tests pin down the lifetimes that TlsServerConnection documents.
import { describe, expect, test } from "bun:test";
import { generateKey } from "../../src/x509/keys.ts";
import { TlsServerConnection, parsePriorities, type TlsServerConfig } from "../../src/tls/index.ts";
import { ContentType } from "../../src/tls/codec.ts";
import { RecordDeframer } from "../../src/tls/deframer.ts";
import { OutputBuffer } from "../../src/tls/record.ts";
import { TestClient13 } from "./client13.ts";

const key = generateKey("ecdsa-p256").key;
function established(): TestClient13 {
  const p = parsePriorities("NORMAL");
  if (!p.ok) throw new Error(p.error);
  const config: TlsServerConfig = { credentials: [{ chain: [Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01)], key }], policy: p.policy, clientAuth: "none" };
  const c = new TestClient13(new TlsServerConnection(config));
  c.server.receive(c.clientHello());
  c.pump();
  c.server.receive(c.finished());
  c.pump();
  expect(c.server.state).toBe("established");
  return c;
}

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

describe("TLS record path lifetimes", () => {
  test("records left unread across receive() calls keep their own bytes", () => {
    const c = established();
    // Two calls, nothing read in between: the second receive reuses the deframer's buffer.
    c.server.receive(c.seal(ContentType.application_data, bytes(1000, 1)));
    c.server.receive(c.seal(ContentType.application_data, bytes(1000, 2)));
    c.server.receive(c.seal(ContentType.application_data, bytes(1000, 3)));
    expect(c.server.readApplicationData()).toEqual(bytes(1000, 1));
    expect(c.server.readApplicationData()).toEqual(bytes(1000, 2));
    expect(c.server.readApplicationData()).toEqual(bytes(1000, 3));
    expect(c.server.readApplicationData()).toBeNull();
  });

  test("several records in one chunk are each delivered intact", () => {
    const c = established();
    const a = c.seal(ContentType.application_data, bytes(700, 7));
    const b = c.seal(ContentType.application_data, bytes(900, 9));
    const chunk = new Uint8Array(a.length + b.length);
    chunk.set(a);
    chunk.set(b, a.length);
    c.server.receive(chunk);
    expect(c.server.readApplicationData()).toEqual(bytes(700, 7));
    expect(c.server.readApplicationData()).toEqual(bytes(900, 9));
  });

  test("outgoing ciphertext taken after each write decrypts to what was written", () => {
    const c = established();
    // The client pumps takeOutgoing() once per write, as the front's flush does.
    for (let i = 1; i <= 3; i++) {
      c.server.write(bytes(1200, i));
      c.pump();
    }
    expect(c.received.appData.map((d) => d[0])).toEqual([1, 2, 3]);
    expect(c.received.appData.every((d) => d.length === 1200)).toBe(true);
  });

  test("the deframer's next() is a copy that survives later pushes, nextView() a view of its buffer", () => {
    const rec = (fill: number) => Uint8Array.of(ContentType.application_data, 3, 3, 0, 4, fill, fill, fill, fill);
    const d = new RecordDeframer();
    d.push(rec(1));
    const copy = d.next()!;
    d.push(rec(2));
    const view = d.nextView()!;
    expect(view.fragment).toEqual(bytes(4, 2));
    d.push(rec(3));
    expect(copy.fragment).toEqual(bytes(4, 1));
    expect(d.nextView()!.fragment).toEqual(bytes(4, 3));
  });

  test("OutputBuffer.take() copies and takeView() is overwritten by the next write", () => {
    const o = new OutputBuffer(16);
    o.append(bytes(4, 1));
    const kept = o.take()!;
    o.append(bytes(4, 2));
    const view = o.takeView()!;
    expect(view).toEqual(bytes(4, 2));
    o.append(bytes(4, 3));
    expect(kept).toEqual(bytes(4, 1));
    expect(view).toEqual(bytes(4, 3));
    expect(o.takeView()).toEqual(bytes(4, 3));
    expect(o.takeView()).toBeNull();
  });
});
