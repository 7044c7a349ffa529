import { describe, expect, test } from "bun:test";
import { createAead, createCbc, createMac, randomBytes } from "../../src/crypto/index.ts";
import { Cbc12, Gcm12, OutputBuffer, Tls12Protection, seqBytes } from "../../src/tls/record.ts";
import { HandshakeJoiner, RecordDeframer } from "../../src/tls/deframer.ts";
import { TlsError } from "../../src/tls/errors.ts";
import { decodeClientHello, decodeCertificate13, encodeCertificate13 } from "../../src/tls/codec.ts";
import { exporter12, masterSecret12, keyBlock12 } from "../../src/tls/keyschedule.ts";
import { DecodeError } from "../../src/wire/reader.ts";

function pair(kind: "gcm" | "cbc-sha1" | "cbc-sha256"): [Tls12Protection, Tls12Protection] {
  const key = randomBytes(16);
  const mk = () => {
    if (kind === "gcm") return new Gcm12(createAead("aes-128-gcm", key), Uint8Array.of(1, 2, 3, 4));
    const mac = randomBytes(32);
    return new Cbc12(createCbc("aes-128-cbc", key), createMac(kind === "cbc-sha1" ? "sha1" : "sha256", mac), randomBytes);
  };
  // both ends need the same MAC key: build once and share the instance state through a closure
  const a = mk();
  return [new Tls12Protection(a), new Tls12Protection(a)];
}

function sealOne(p: Tls12Protection, data: Uint8Array): Uint8Array {
  const out = new OutputBuffer();
  const { buf, offset } = out.reserve(p.maxRecordSize(data.length));
  out.commit(p.seal(23, data, buf, offset));
  return out.take()!;
}

describe("TLS 1.2 record protection", () => {
  for (const kind of ["gcm", "cbc-sha1", "cbc-sha256"] as const) {
    test(`${kind}: opens what it sealed, in sequence, for sizes 0..300`, () => {
      const [w, r] = pair(kind);
      for (let n = 0; n <= 300; n += 37) {
        const data = randomBytes(n);
        const rec = sealOne(w, data);
        expect(rec[0]).toBe(23);
        expect(r.open(23, 0x0303, rec.subarray(5)).plaintext).toEqual(data);
      }
    });

    test(`${kind}: a flipped bit anywhere in the fragment is bad_record_mac`, () => {
      for (const pos of [0, 10, -1]) {
        const [w, r] = pair(kind);
        const rec = sealOne(w, randomBytes(40));
        const frag = rec.subarray(5);
        frag[pos < 0 ? frag.length + pos : pos]! ^= 0x80;
        expect(() => r.open(23, 0x0303, frag)).toThrow(TlsError);
        try {
          r.open(23, 0x0303, frag);
        } catch (e) {
          expect((e as TlsError).code).toBe("bad-record-mac");
        }
      }
    });

    test(`${kind}: a replayed record (wrong sequence number) is rejected`, () => {
      const [w, r] = pair(kind);
      const rec = sealOne(w, randomBytes(20));
      r.open(23, 0x0303, rec.subarray(5));
      expect(() => r.open(23, 0x0303, rec.subarray(5))).toThrow("bad-record-mac");
    });
  }

  test("CBC: a record with wrong padding bytes but a valid MAC position is rejected", () => {
    const key = randomBytes(16);
    const mac = createMac("sha1", randomBytes(20));
    const cbc = createCbc("aes-128-cbc", key);
    const c = new Cbc12(cbc, mac, randomBytes);
    // build a record by hand: content || MAC || bad padding (03 03 02 03)
    const seq = seqBytes(0);
    const content = randomBytes(8);
    const hdr = new Uint8Array([...seq, 23, 3, 3, 0, content.length]);
    const m = mac.compute(hdr, content);
    const body = new Uint8Array([...content, ...m, 3, 3, 2, 3]);
    expect(body.length % 16).toBe(0);
    const iv = randomBytes(16);
    const ct = new Uint8Array(body.length);
    cbc.encrypt(iv, body, ct, 0);
    expect(c.openFragment(seq, 23, 0x0303, new Uint8Array([...iv, ...ct]))).toBeNull();
    // and with correct padding it opens
    body.set([3, 3, 3, 3], body.length - 4);
    cbc.encrypt(iv, body, ct, 0);
    expect(c.openFragment(seq, 23, 0x0303, new Uint8Array([...iv, ...ct]))).toEqual(content);
  });

  test("CBC: a fragment that is not a whole number of blocks is rejected", () => {
    const c = new Cbc12(createCbc("aes-128-cbc", randomBytes(16)), createMac("sha1", randomBytes(20)), randomBytes);
    expect(c.openFragment(seqBytes(0), 23, 0x0303, new Uint8Array(50))).toBeNull();
    expect(c.openFragment(seqBytes(0), 23, 0x0303, new Uint8Array(16))).toBeNull();
  });
});

describe("record deframer and handshake joiner", () => {
  test("splits records from arbitrary chunks", () => {
    const d = new RecordDeframer();
    const stream = new Uint8Array([22, 3, 3, 0, 2, 9, 9, 23, 3, 3, 0, 1, 7]);
    for (const b of stream) d.push(Uint8Array.of(b));
    expect(d.next()).toEqual({ type: 22, version: 0x0303, fragment: Uint8Array.of(9, 9) });
    expect(d.next()).toEqual({ type: 23, version: 0x0303, fragment: Uint8Array.of(7) });
    expect(d.next()).toBeNull();
  });

  test("rejects an unknown content type and a non-TLS version at the header", () => {
    const d = new RecordDeframer();
    d.push(Uint8Array.of(99, 3, 3, 0, 0));
    expect(() => d.next()).toThrow("unexpected-message");
    const e = new RecordDeframer();
    e.push(Uint8Array.of(22, 0x47, 0x45, 0x54, 0x20)); // "GET " sent to a TLS port
    expect(() => e.next()).toThrow("decode-failure");
  });

  test("joins a message split across records and splits messages sharing one record", () => {
    const j = new HandshakeJoiner();
    expect(j.push(Uint8Array.of(20, 0, 0))).toEqual([]);
    expect(j.hasPartial).toBe(true);
    const msgs = j.push(Uint8Array.of(2, 0xaa, 0xbb, 24, 0, 0, 1, 0));
    expect(msgs.map((m) => [m.type, [...m.body]])).toEqual([
      [20, [0xaa, 0xbb]],
      [24, [0]],
    ]);
    expect(j.hasPartial).toBe(false);
  });

  test("refuses a handshake message longer than 64 KiB", () => {
    expect(() => new HandshakeJoiner().push(Uint8Array.of(11, 0x10, 0, 0))).toThrow("decode-failure");
  });
});

describe("codec", () => {
  test("rejects a ClientHello with a duplicated extension", () => {
    const body = new Uint8Array([3, 3, ...new Uint8Array(32), 0, 0, 2, 0x13, 0x01, 1, 0, 0, 8, 0, 23, 0, 0, 0, 23, 0, 0]);
    expect(() => decodeClientHello(body)).toThrow(DecodeError);
  });

  test("keeps unknown extensions as type and data", () => {
    const body = new Uint8Array([3, 3, ...new Uint8Array(32), 0, 0, 2, 0x13, 0x01, 1, 0, 0, 6, 0xfe, 0xed, 0, 2, 1, 2]);
    const ch = decodeClientHello(body);
    expect(ch.extensions).toEqual([{ type: 0xfeed, data: Uint8Array.of(1, 2) }]);
    expect(ch.supportedVersions).toBeNull();
  });

  test("round-trips a TLS 1.3 Certificate and rejects trailing bytes", () => {
    const m = { context: new Uint8Array(0), entries: [{ certData: Uint8Array.of(1, 2, 3), extensions: [] }] };
    const enc = encodeCertificate13(m);
    expect(decodeCertificate13(enc)).toEqual(m);
    expect(() => decodeCertificate13(new Uint8Array([...enc, 0]))).toThrow(DecodeError);
  });
});

describe("TLS 1.2 key schedule", () => {
  test("extended master secret differs from the classic one and changes the key block", () => {
    const pms = randomBytes(48), cr = randomBytes(32), sr = randomBytes(32);
    const classic = masterSecret12("sha256", pms, cr, sr, null);
    const ems = masterSecret12("sha256", pms, cr, sr, randomBytes(32));
    expect(classic.length).toBe(48);
    expect(ems).not.toEqual(classic);
    const kb = keyBlock12("sha256", classic, cr, sr, 20, 16, 0);
    expect(kb.clientMacKey.length).toBe(20);
    expect(kb.serverKey.length).toBe(16);
    expect(kb.clientKey).not.toEqual(kb.serverKey);
  });

  test("RFC 5705: a context of zero length differs from no context", () => {
    const m = randomBytes(48), cr = randomBytes(32), sr = randomBytes(32);
    expect(exporter12("sha256", m, cr, sr, "EXPORTER-x", null, 32)).not.toEqual(exporter12("sha256", m, cr, sr, "EXPORTER-x", new Uint8Array(0), 32));
  });
});
