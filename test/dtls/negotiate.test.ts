import { test, expect, describe } from "bun:test";
import { selectDtlsMode, dtlsResponseHeaders, dtlsModeFor, type DtlsSelectInput } from "../../src/dtls/index.ts";

const SID = Uint8Array.from({ length: 32 }, (_, i) => i);
const MASTER = "ab".repeat(48);

function input(headers: Record<string, string>, over: Partial<DtlsSelectInput> = {}): DtlsSelectInput {
  return {
    headers: new Map(Object.entries(headers)),
    udpPort: 443,
    noUdp: false,
    dtlsPsk: true,
    dtlsLegacy: true,
    matchTlsDtlsCiphers: false,
    tlsCipherSuite: "TLS_AES_256_GCM_SHA384",
    sessionId: SID,
    ...over,
  };
}

const OPENCONNECT = "PSK-NEGOTIATE:OC-DTLS1_2-AES256-GCM:OC-DTLS1_2-AES128-GCM:AES256-SHA:AES128-SHA:DES-CBC3-SHA";
const HEADER_OPTS = { dpd: 90, udpPort: 443, rekeyTime: 172800, rekeyMethod: "ssl" as const, keepalive: 32400, dataMtu: 1434 };

describe("DTLS mode selection", () => {
  test("picks PSK-NEGOTIATE when offered and writes App-ID and CipherSuite headers in ocserv's order", () => {
    const sel = selectDtlsMode(input({ "X-DTLS-CipherSuite": OPENCONNECT, "X-DTLS-Master-Secret": MASTER }))!;
    expect(sel.kind).toBe("psk");
    expect(sel.cryptoOverhead).toBe(37);
    expect(dtlsResponseHeaders(sel, HEADER_OPTS)).toEqual([
      "X-DTLS-DPD: 90",
      "X-DTLS-Port: 443",
      "X-DTLS-Rekey-Time: 172810",
      "X-DTLS-Rekey-Method: ssl",
      "X-DTLS-Keepalive: 32400",
      `X-DTLS-App-ID: ${Buffer.from(SID).toString("hex")}`,
      "X-DTLS-CipherSuite: PSK-NEGOTIATE",
    ]);
  });

  test("matches PSK-NEGOTIATE only as a whole token", () => {
    expect(selectDtlsMode(input({ "X-DTLS-CipherSuite": "PSK-NEGOTIATEX:AES128-SHA", "X-DTLS-Master-Secret": MASTER }))!.kind).toBe("legacy");
    expect(selectDtlsMode(input({ "X-DTLS12-CipherSuite": "AES128-GCM-SHA256:PSK-NEGOTIATE" }))!.kind).toBe("psk");
  });

  test("estimates the PSK overhead from the TLS session's cipher: 65 for AES-CBC-SHA1", () => {
    const sel = selectDtlsMode(input({ "X-DTLS-CipherSuite": "PSK-NEGOTIATE" }, { tlsCipherSuite: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA" }))!;
    expect(sel.cryptoOverhead).toBe(65);
  });

  test("without PSK, picks the legacy suite of highest server priority and echoes it with Session-ID and MTU", () => {
    const sel = selectDtlsMode(input({ "X-DTLS-CipherSuite": "AES128-SHA:AES256-SHA:OC-DTLS1_2-AES128-GCM", "X-DTLS-Master-Secret": MASTER }, { dtlsPsk: false, tlsCipherSuite: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256" }))!;
    expect(sel.kind).toBe("legacy");
    if (sel.kind !== "legacy") return;
    expect(sel.name).toBe("OC-DTLS1_2-AES128-GCM");
    expect(sel.version).toBe(0xfefd);
    expect(sel.cryptoOverhead).toBe(37);
    expect(dtlsResponseHeaders(sel, { ...HEADER_OPTS, dataMtu: 1406, rekeyTime: 0, rekeyMethod: "new-tunnel" })).toEqual([
      "X-DTLS-DPD: 90",
      "X-DTLS-Port: 443",
      "X-DTLS-Keepalive: 32400",
      `X-DTLS-Session-ID: ${Buffer.from(SID).toString("hex")}`,
      "X-DTLS-CipherSuite: OC-DTLS1_2-AES128-GCM",
      "X-DTLS-MTU: 1406",
    ]);
    const mode = dtlsModeFor(sel, null);
    expect(mode.kind).toBe("legacy");
  });

  test("stops at the first legacy suite with the TLS session's cipher and MAC", () => {
    const sel = selectDtlsMode(input({ "X-DTLS-CipherSuite": "AES128-SHA:AES256-SHA:OC-DTLS1_2-AES256-GCM", "X-DTLS-Master-Secret": MASTER }, { dtlsPsk: false, tlsCipherSuite: "TLS_RSA_WITH_AES_128_CBC_SHA" }))!;
    expect(sel.kind === "legacy" && sel.name).toBe("AES128-SHA");
    expect(sel.kind === "legacy" && sel.version).toBe(0x0100);
    expect(sel.cryptoOverhead).toBe(65);
  });

  test("a selection from X-DTLS12-CipherSuite overrides X-DTLS-CipherSuite and is echoed in the same header", () => {
    const sel = selectDtlsMode(input({ "X-DTLS-CipherSuite": "OC-DTLS1_2-AES256-GCM", "X-DTLS12-CipherSuite": "ECDHE-RSA-AES128-GCM-SHA256", "X-DTLS-Master-Secret": MASTER }, { dtlsPsk: false }))!;
    expect(sel.kind === "legacy" && sel.header).toBe("X-DTLS12-CipherSuite");
    expect(dtlsResponseHeaders(sel, HEADER_OPTS)).toContain("X-DTLS12-CipherSuite: ECDHE-RSA-AES128-GCM-SHA256");
    expect(sel.kind === "legacy" && sel.suite.id).toBe(0xc02f);
  });

  test("offers no DTLS without a usable master secret, without a known cipher, or when UDP is off", () => {
    expect(selectDtlsMode(input({ "X-DTLS-CipherSuite": "AES128-SHA", "X-DTLS-Master-Secret": "ab".repeat(47) }))).toBeNull();
    expect(selectDtlsMode(input({ "X-DTLS-CipherSuite": "DES-CBC3-SHA", "X-DTLS-Master-Secret": MASTER }))).toBeNull();
    expect(selectDtlsMode(input({ "X-DTLS-CipherSuite": OPENCONNECT }, { udpPort: 0 }))).toBeNull();
    expect(selectDtlsMode(input({ "X-DTLS-CipherSuite": OPENCONNECT }, { noUdp: true }))).toBeNull();
    expect(selectDtlsMode(input({ "X-DTLS-CipherSuite": "AES128-SHA", "X-DTLS-Master-Secret": MASTER }, { dtlsLegacy: false }))).toBeNull();
  });

  test("with match-tls-dtls-ciphers, PSK is pinned to the TLS session's cipher and legacy is never used", () => {
    const sel = selectDtlsMode(input({ "X-DTLS-CipherSuite": OPENCONNECT, "X-DTLS-Master-Secret": MASTER }, { matchTlsDtlsCiphers: true, dtlsLegacy: false, tlsCipherSuite: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" }))!;
    expect(sel.kind === "psk" && sel.allowedSuites).toEqual([0x00a8]);
    expect(selectDtlsMode(input({ "X-DTLS-CipherSuite": "AES128-SHA", "X-DTLS-Master-Secret": MASTER }, { matchTlsDtlsCiphers: true, dtlsLegacy: false }))).toBeNull();
  });

  test("PSK mode needs the 32-byte exporter value", () => {
    const sel = selectDtlsMode(input({ "X-DTLS-CipherSuite": "PSK-NEGOTIATE" }))!;
    expect(() => dtlsModeFor(sel, null)).toThrow();
    expect(dtlsModeFor(sel, new Uint8Array(32)).kind).toBe("psk");
  });
});
