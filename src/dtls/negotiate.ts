// DTLS mode and cipher selection at CONNECT (protocol.md §2.1 "DTLS enabled", §4.2 selection,
// §4.3 legacy cipher table, §5.1 overheads), and the X-DTLS-* block of the CONNECT response in the
// order ocserv's connect_handler writes it (§2.2). Pure: the random session ID is passed in.

import { fromHex, toHex } from "../wire/writer.ts";
import { suiteByName } from "../tls/suites.ts";
import type { DtlsMode } from "./handshake.ts";
import { DTLS0_9, DTLS1_2 } from "./record.ts";
import { PSK_SUITES, resumedSuite, type DtlsSuite } from "./suites.ts";

interface LegacyEntry {
  readonly name: string;
  readonly header: "X-DTLS-CipherSuite" | "X-DTLS12-CipherSuite";
  readonly version: typeof DTLS1_2 | typeof DTLS0_9;
  readonly suiteId: number;
  readonly prio: number;
}

// ocserv worker-http.c ciphersuites[] / ciphersuites12[] (protocol.md §4.3). DES-CBC3-SHA (prio 1) is
// absent: we do not implement 3DES, so a client offering only it gets no DTLS.
const LEGACY: readonly LegacyEntry[] = [
  { name: "OC-DTLS1_2-AES256-GCM", header: "X-DTLS-CipherSuite", version: DTLS1_2, suiteId: 0x009d, prio: 90 },
  { name: "OC-DTLS1_2-AES128-GCM", header: "X-DTLS-CipherSuite", version: DTLS1_2, suiteId: 0x009c, prio: 80 },
  { name: "AES256-SHA", header: "X-DTLS-CipherSuite", version: DTLS0_9, suiteId: 0x0035, prio: 60 },
  { name: "AES128-SHA", header: "X-DTLS-CipherSuite", version: DTLS0_9, suiteId: 0x002f, prio: 50 },
  { name: "AES256-GCM-SHA384", header: "X-DTLS12-CipherSuite", version: DTLS1_2, suiteId: 0x009d, prio: 90 },
  { name: "ECDHE-RSA-AES256-GCM-SHA384", header: "X-DTLS12-CipherSuite", version: DTLS1_2, suiteId: 0xc030, prio: 80 },
  { name: "ECDHE-RSA-AES128-GCM-SHA256", header: "X-DTLS12-CipherSuite", version: DTLS1_2, suiteId: 0xc02f, prio: 70 },
  { name: "AES128-GCM-SHA256", header: "X-DTLS12-CipherSuite", version: DTLS1_2, suiteId: 0x009c, prio: 50 },
];

export interface DtlsSelectInput {
  /** The CONNECT request headers (names case-sensitive, as ocserv matches them). */
  readonly headers: ReadonlyMap<string, string>;
  /** Global `udp-port`; 0 disables DTLS. */
  readonly udpPort: number;
  /** Per-session `no-udp`. */
  readonly noUdp: boolean;
  /** Global `dtls-psk`. */
  readonly dtlsPsk: boolean;
  /** Vhost `dtls-legacy` (already forced on by cisco-client-compat). */
  readonly dtlsLegacy: boolean;
  /** Vhost `match-tls-dtls-ciphers`. */
  readonly matchTlsDtlsCiphers: boolean;
  /** The CSTP TLS session's IANA suite name (TunnelTransport.tls.cipherSuite). */
  readonly tlsCipherSuite: string;
  /** 32 fresh random bytes: the DTLS session ID / App-ID. */
  readonly sessionId: Uint8Array;
}

export type DtlsSelection =
  | {
      readonly kind: "psk";
      readonly sessionId: Uint8Array;
      /** Suites the handshake may pick (match-tls-dtls-ciphers pins one), null for all. */
      readonly allowedSuites: readonly number[] | null;
      /** DTLS record overhead without the 1-byte packet type (mtu.ts `dtlsCryptoOverhead`). */
      readonly cryptoOverhead: number;
    }
  | {
      readonly kind: "legacy";
      readonly sessionId: Uint8Array;
      readonly masterSecret: Uint8Array;
      readonly suite: DtlsSuite;
      readonly version: typeof DTLS1_2 | typeof DTLS0_9;
      /** The name the client offered and the header it came in (echoed in the response). */
      readonly name: string;
      readonly header: "X-DTLS-CipherSuite" | "X-DTLS12-CipherSuite";
      readonly cryptoOverhead: number;
    };

/** The TLS session's bulk cipher and MAC, as GnuTLS names them for the comparisons of §4.2/§4.3. */
function tlsCipherAndMac(name: string): { cipher: string; mac: string } | null {
  const s = suiteByName(name);
  if (s === null) return null;
  return { cipher: s.cipher, mac: s.mac ?? "aead" };
}

/**
 * GnuTLS's DTLS record overhead estimate (protocol.md §5.1 table): header 13 + explicit nonce 8 + tag
 * 16 for GCM; header 13 + IV 16 + MAC + one block of padding for CBC.
 */
export function recordOverhead(cipher: string, mac: string): number {
  if (mac === "aead") return 13 + 8 + 16;
  const macLen = mac === "sha1" ? 20 : mac === "sha256" ? 32 : 48;
  return 13 + 16 + macLen + 16;
}

/** `PSK-NEGOTIATE` as a token: followed by end of string or ':' (ocserv worker-http.c). */
function offersPsk(v: string | undefined): boolean {
  if (v === undefined) return false;
  let i = v.indexOf("PSK-NEGOTIATE");
  while (i >= 0) {
    const after = v[i + "PSK-NEGOTIATE".length];
    if (after === undefined || after === ":") return true;
    i = v.indexOf("PSK-NEGOTIATE", i + 1);
  }
  return false;
}

/** Walks the client's list in order (§4.3): higher server priority wins; a match with the TLS cipher stops the walk. */
function pickLegacy(list: string | undefined, header: LegacyEntry["header"], tls: { cipher: string; mac: string } | null): LegacyEntry | null {
  if (list === undefined) return null;
  let cand: LegacyEntry | null = null;
  for (const token of list.split(":")) {
    const e = LEGACY.find((x) => x.header === header && x.name === token.trim());
    if (e === undefined) continue;
    const s = resumedSuite(e.suiteId)!;
    const sameAsTls = tls !== null && tls.cipher === s.cipher && tls.mac === (s.mac ?? "aead");
    if (cand === null || e.prio > cand.prio || sameAsTls) {
      cand = e;
      if (sameAsTls) break;
    }
  }
  return cand;
}

/** Chooses PSK-NEGOTIATE, legacy resumption, or no DTLS (null) for one CONNECT. */
export function selectDtlsMode(input: DtlsSelectInput): DtlsSelection | null {
  if (input.udpPort === 0 || input.noUdp) return null;
  if (input.sessionId.length !== 32) throw new RangeError("the DTLS session ID must be 32 bytes");
  const h = input.headers;
  const tls = tlsCipherAndMac(input.tlsCipherSuite);
  const cs = h.get("X-DTLS-CipherSuite");
  const cs12 = h.get("X-DTLS12-CipherSuite");
  if (input.dtlsPsk && (offersPsk(cs) || offersPsk(cs12))) {
    let allowed: number[] | null = null;
    if (input.matchTlsDtlsCiphers) {
      allowed = PSK_SUITES.filter((s) => tls !== null && s.cipher === tls.cipher && (s.mac ?? "aead") === tls.mac).map((s) => s.id);
      if (allowed.length === 0) return null;
    }
    // ocserv estimates the PSK overhead with DTLS1.0 and the TLS session's cipher and MAC (§5.1).
    const cryptoOverhead = tls === null ? recordOverhead("aes-128-cbc", "sha1") : recordOverhead(tls.cipher, tls.mac);
    return { kind: "psk", sessionId: input.sessionId, allowedSuites: allowed, cryptoOverhead };
  }
  if (!input.dtlsLegacy || input.matchTlsDtlsCiphers) return null;
  // X-DTLS-Master-Secret: the first 96 hex characters give the 48 bytes; shorter means no legacy DTLS.
  const ms = h.get("X-DTLS-Master-Secret");
  if (ms === undefined || ms.length < 96) return null;
  let masterSecret: Uint8Array;
  try {
    masterSecret = fromHex(ms.slice(0, 96));
  } catch {
    return null;
  }
  // A selection from the DTLS 1.2 list overrides one from X-DTLS-CipherSuite (§4.3).
  const pick = pickLegacy(cs12, "X-DTLS12-CipherSuite", tls) ?? pickLegacy(cs, "X-DTLS-CipherSuite", tls);
  if (pick === null) return null;
  const suite = resumedSuite(pick.suiteId)!;
  return {
    kind: "legacy",
    sessionId: input.sessionId,
    masterSecret,
    suite,
    version: pick.version,
    name: pick.name,
    header: pick.header,
    cryptoOverhead: recordOverhead(suite.cipher, suite.mac ?? "aead"),
  };
}

/** The keying mode to register with the endpoint; PSK needs the CSTP session's exporter value. */
export function dtlsModeFor(sel: DtlsSelection, pskKey: Uint8Array | null): DtlsMode {
  if (sel.kind === "legacy") return { kind: "legacy", masterSecret: sel.masterSecret, suite: sel.suite, version: sel.version };
  if (pskKey === null || pskKey.length !== 32) throw new RangeError("PSK-NEGOTIATE needs the 32-byte EXPORTER-openconnect-psk value");
  return { kind: "psk", key: pskKey, allowedSuites: sel.allowedSuites };
}

export interface DtlsHeaderInput {
  /** dpd, or mobile-dpd for mobile clients. */
  readonly dpd: number;
  readonly udpPort: number;
  /** Vhost rekey-time (0: none); sent as X-DTLS-Rekey-Time = rekey-time + 10. */
  readonly rekeyTime: number;
  readonly rekeyMethod: "ssl" | "new-tunnel";
  readonly keepalive: number;
  /** The data MTU (X-CSTP-MTU), echoed as X-DTLS-MTU in legacy mode. */
  readonly dataMtu: number;
}

/** The "only if DTLS is enabled" block of §2.2, as header lines without CRLF. */
export function dtlsResponseHeaders(sel: DtlsSelection, o: DtlsHeaderInput): string[] {
  const lines: string[] = [];
  if (o.dpd > 0) lines.push(`X-DTLS-DPD: ${o.dpd}`);
  lines.push(`X-DTLS-Port: ${o.udpPort}`);
  if (o.rekeyTime > 0) lines.push(`X-DTLS-Rekey-Time: ${o.rekeyTime + 10}`);
  if (o.rekeyMethod === "ssl") lines.push("X-DTLS-Rekey-Method: ssl");
  lines.push(`X-DTLS-Keepalive: ${o.keepalive}`);
  if (sel.kind === "psk") {
    lines.push(`X-DTLS-App-ID: ${toHex(sel.sessionId)}`);
    lines.push("X-DTLS-CipherSuite: PSK-NEGOTIATE");
  } else {
    lines.push(`X-DTLS-Session-ID: ${toHex(sel.sessionId)}`);
    lines.push(`${sel.header}: ${sel.name}`);
    lines.push(`X-DTLS-MTU: ${o.dataMtu}`);
  }
  return lines;
}
