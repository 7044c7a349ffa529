// TLS handshake message bodies (RFC 8446 §4, RFC 5246 §7.4, RFC 4492/8422 for ECDHE). Bodies are kept
// apart from the 4-byte TLS handshake header (see `handshakeHeader`), so DTLS can wrap the same bodies
// in its 12-byte header. Decoders use the shared Reader: sub-spans must be consumed exactly, so
// trailing bytes are DecodeErrors; callers map DecodeError to TlsError("decode-failure").
// Unknown extensions, groups, schemes and suites survive parsing as numbers.

import { Reader, DecodeError } from "../wire/reader.ts";
import { Writer } from "../wire/writer.ts";
import type { NamedGroup, SignatureScheme } from "../crypto/types.ts";

export const ContentType = { change_cipher_spec: 20, alert: 21, handshake: 22, application_data: 23 } as const;

export const HandshakeType = {
  hello_request: 0,
  client_hello: 1,
  server_hello: 2,
  new_session_ticket: 4,
  end_of_early_data: 5,
  encrypted_extensions: 8,
  certificate: 11,
  server_key_exchange: 12,
  certificate_request: 13,
  server_hello_done: 14,
  certificate_verify: 15,
  client_key_exchange: 16,
  finished: 20,
  key_update: 24,
  message_hash: 254,
} as const;

export function handshakeTypeName(t: number): string {
  for (const [k, v] of Object.entries(HandshakeType)) if (v === t) return k;
  return `handshake type ${t}`;
}

export const ExtensionType = {
  server_name: 0,
  status_request: 5,
  supported_groups: 10,
  ec_point_formats: 11,
  signature_algorithms: 13,
  alpn: 16,
  extended_master_secret: 23,
  record_size_limit: 28,
  session_ticket: 35,
  pre_shared_key: 41,
  early_data: 42,
  supported_versions: 43,
  cookie: 44,
  psk_key_exchange_modes: 45,
  certificate_authorities: 47,
  signature_algorithms_cert: 50,
  key_share: 51,
  renegotiation_info: 0xff01,
} as const;

export const TLS12 = 0x0303;
export const TLS13 = 0x0304;

/** RFC 8446 §4.1.3: the ServerHello.random that marks a HelloRetryRequest (SHA-256 of "HelloRetryRequest"). */
export const HRR_RANDOM = Uint8Array.from(
  Buffer.from("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c", "hex"),
);
/** RFC 5746 §3.3 signalling suite and RFC 7507 fallback suite. */
export const SCSV_RENEGOTIATION = 0x00ff;
export const SCSV_FALLBACK = 0x5600;

const groupIds: Record<NamedGroup, number> = { x25519: 0x001d, secp256r1: 0x0017, secp384r1: 0x0018 };
export function groupId(g: NamedGroup): number {
  return groupIds[g];
}
export function groupFromId(id: number): NamedGroup | null {
  for (const [k, v] of Object.entries(groupIds)) if (v === id) return k as NamedGroup;
  return null;
}

const schemeIds: Record<SignatureScheme, number> = {
  rsa_pkcs1_sha1: 0x0201,
  ecdsa_sha1: 0x0203,
  rsa_pkcs1_sha256: 0x0401,
  rsa_pkcs1_sha384: 0x0501,
  rsa_pkcs1_sha512: 0x0601,
  ecdsa_secp256r1_sha256: 0x0403,
  ecdsa_secp384r1_sha384: 0x0503,
  ecdsa_secp521r1_sha512: 0x0603,
  rsa_pss_rsae_sha256: 0x0804,
  rsa_pss_rsae_sha384: 0x0805,
  rsa_pss_rsae_sha512: 0x0806,
  ed25519: 0x0807,
  rsa_pss_pss_sha256: 0x0809,
  rsa_pss_pss_sha384: 0x080a,
  rsa_pss_pss_sha512: 0x080b,
};
export function schemeId(s: SignatureScheme): number {
  return schemeIds[s];
}
export function schemeFromId(id: number): SignatureScheme | null {
  for (const [k, v] of Object.entries(schemeIds)) if (v === id) return k as SignatureScheme;
  return null;
}

export interface Extension {
  readonly type: number;
  readonly data: Uint8Array;
}

export interface KeyShareEntry {
  readonly group: number;
  readonly keyExchange: Uint8Array;
}

export interface PskIdentity {
  readonly identity: Uint8Array;
  readonly obfuscatedTicketAge: number;
}

/** A ClientHello with the extensions we act on decoded; everything else is in `extensions`. */
export interface ClientHello {
  readonly legacyVersion: number;
  readonly random: Uint8Array;
  readonly sessionId: Uint8Array;
  readonly cipherSuites: readonly number[];
  readonly compressionMethods: Uint8Array;
  /** All extensions in order, including the decoded ones (needed for duplicate and order checks). */
  readonly extensions: readonly Extension[];
  readonly serverName: string | null;
  readonly supportedGroups: readonly number[] | null;
  readonly signatureAlgorithms: readonly number[] | null;
  readonly keyShares: readonly KeyShareEntry[] | null;
  readonly supportedVersions: readonly number[] | null;
  readonly pskKeyExchangeModes: Uint8Array | null;
  readonly preSharedKey: { identities: readonly PskIdentity[]; binders: readonly Uint8Array[] } | null;
  readonly ecPointFormats: Uint8Array | null;
  readonly renegotiationInfo: Uint8Array | null;
  readonly extendedMasterSecret: boolean;
  readonly sessionTicket: Uint8Array | null;
  readonly recordSizeLimit: number | null;
  readonly cookie: Uint8Array | null;
  readonly earlyData: boolean;
}

function u16List(r: Reader, minBytes: number): number[] {
  const s = r.sub16();
  if (s.remaining < minBytes || s.remaining % 2 !== 0) throw new DecodeError("bad u16 list length", s.offset);
  const out: number[] = [];
  while (!s.done) out.push(s.u16());
  return out;
}

/** RFC 8446 §4.1.2 ClientHello (also RFC 5246 §7.4.1.2: extensions may be absent entirely in TLS 1.2). */
export function decodeClientHello(body: Uint8Array): ClientHello {
  const r = new Reader(body);
  const legacyVersion = r.u16(); // §4.1.2 legacy_version
  const random = r.bytesCopy(32);
  const sessionId = r.vec8().slice(); // legacy_session_id <0..32>
  if (sessionId.length > 32) throw new DecodeError("session_id longer than 32", r.offset);
  const cipherSuites = u16List(r, 2); // cipher_suites <2..2^16-2>
  const compressionMethods = r.vec8().slice(); // legacy_compression_methods <1..2^8-1>
  if (compressionMethods.length < 1) throw new DecodeError("no compression methods", r.offset);
  const extensions: Extension[] = [];
  if (!r.done) {
    const er = r.sub16();
    while (!er.done) {
      const type = er.u16();
      const data = er.vec16().slice();
      extensions.push({ type, data });
    }
  }
  r.end();
  const seen = new Set<number>();
  for (const e of extensions) {
    // §4.2: "There MUST NOT be more than one extension of the same type in a given extension block."
    if (seen.has(e.type)) throw new DecodeError(`duplicate extension ${e.type}`, 0);
    seen.add(e.type);
  }
  const find = (t: number): Uint8Array | null => extensions.find((e) => e.type === t)?.data ?? null;
  const parse = <T>(t: number, f: (r: Reader) => T): T | null => {
    const d = find(t);
    if (d === null) return null;
    const er = new Reader(d);
    const v = f(er);
    er.end();
    return v;
  };

  // RFC 6066 §3: server_name list; we use the first host_name entry.
  const serverName = parse(ExtensionType.server_name, (er) => {
    const l = er.sub16();
    let name: string | null = null;
    while (!l.done) {
      const t = l.u8();
      const n = l.vec16();
      if (t === 0 && name === null) {
        if (n.length === 0) throw new DecodeError("empty host_name", l.offset);
        name = new TextDecoder("utf-8", { fatal: false }).decode(n);
      }
    }
    return name;
  });
  const supportedGroups = parse(ExtensionType.supported_groups, (er) => u16List(er, 2));
  const signatureAlgorithms = parse(ExtensionType.signature_algorithms, (er) => u16List(er, 2));
  // §4.2.8 KeyShareClientHello: client_shares <0..2^16-1>
  const keyShares = parse(ExtensionType.key_share, (er) => {
    const l = er.sub16();
    const out: KeyShareEntry[] = [];
    while (!l.done) {
      const group = l.u16();
      const keyExchange = l.vec16().slice();
      if (keyExchange.length === 0) throw new DecodeError("empty key_exchange", l.offset);
      if (out.some((k) => k.group === group)) throw new DecodeError("duplicate key share group", l.offset);
      out.push({ group, keyExchange });
    }
    return out;
  });
  // §4.2.1 versions <2..254>
  const supportedVersions = parse(ExtensionType.supported_versions, (er) => {
    const l = er.sub8();
    if (l.remaining < 2 || l.remaining % 2 !== 0) throw new DecodeError("bad supported_versions", l.offset);
    const out: number[] = [];
    while (!l.done) out.push(l.u16());
    return out;
  });
  const pskKeyExchangeModes = parse(ExtensionType.psk_key_exchange_modes, (er) => er.vec8().slice());
  // §4.2.11 OfferedPsks; parsed so that it can be ignored safely (we do not resume TLS 1.3 sessions)
  const preSharedKey = parse(ExtensionType.pre_shared_key, (er) => {
    const il = er.sub16();
    const identities: PskIdentity[] = [];
    while (!il.done) identities.push({ identity: il.vec16().slice(), obfuscatedTicketAge: il.u32() });
    const bl = er.sub16();
    const binders: Uint8Array[] = [];
    while (!bl.done) binders.push(bl.vec8().slice());
    if (identities.length === 0 || identities.length !== binders.length) throw new DecodeError("bad pre_shared_key", er.offset);
    return { identities, binders };
  });
  if (preSharedKey !== null && extensions[extensions.length - 1]?.type !== ExtensionType.pre_shared_key) {
    // §4.2.11: pre_shared_key MUST be the last extension (illegal_parameter, but decode_error is close enough)
    throw new DecodeError("pre_shared_key is not the last extension", 0);
  }
  const ecPointFormats = parse(ExtensionType.ec_point_formats, (er) => er.vec8().slice());
  const renegotiationInfo = parse(ExtensionType.renegotiation_info, (er) => er.vec8().slice());
  const ems = find(ExtensionType.extended_master_secret);
  if (ems !== null && ems.length !== 0) throw new DecodeError("extended_master_secret not empty", 0);
  const sessionTicket = find(ExtensionType.session_ticket);
  // RFC 8449 §4: a value below 64 is illegal_parameter; we report it as a decode failure of the value
  const recordSizeLimit = parse(ExtensionType.record_size_limit, (er) => {
    const v = er.u16();
    if (v < 64) throw new DecodeError("record_size_limit below 64", 0);
    return v;
  });
  const cookie = parse(ExtensionType.cookie, (er) => er.vec16().slice());
  const ed = find(ExtensionType.early_data);
  return {
    legacyVersion,
    random,
    sessionId,
    cipherSuites,
    compressionMethods,
    extensions,
    serverName,
    supportedGroups,
    signatureAlgorithms,
    keyShares,
    supportedVersions,
    pskKeyExchangeModes,
    preSharedKey,
    ecPointFormats,
    renegotiationInfo,
    extendedMasterSecret: ems !== null,
    sessionTicket,
    recordSizeLimit,
    cookie,
    earlyData: ed !== null,
  };
}

function writeExtensions(w: Writer, exts: readonly Extension[]): void {
  w.lengthPrefixed(2, (w) => {
    for (const e of exts) w.u16(e.type).vec16(e.data);
  });
}

/** ServerHello or HelloRetryRequest (RFC 8446 §4.1.3) and the TLS 1.2 ServerHello (RFC 5246 §7.4.1.3). */
export interface ServerHello {
  readonly version: number; // legacy_version (0x0303 for 1.3)
  readonly random: Uint8Array;
  readonly sessionId: Uint8Array;
  readonly cipherSuite: number;
  readonly extensions: readonly Extension[];
}
export function encodeServerHello(m: ServerHello): Uint8Array {
  const w = new Writer(128);
  w.u16(m.version).bytes(m.random).vec8(m.sessionId).u16(m.cipherSuite).u8(0);
  // RFC 5246 §7.4.1.4: with no extensions the block is omitted; we always send at least one.
  writeExtensions(w, m.extensions);
  return w.finish();
}
export function decodeServerHello(body: Uint8Array): ServerHello {
  const r = new Reader(body);
  const version = r.u16();
  const random = r.bytesCopy(32);
  const sessionId = r.vec8().slice();
  const cipherSuite = r.u16();
  if (r.u8() !== 0) throw new DecodeError("compression", r.offset);
  const extensions: Extension[] = [];
  if (!r.done) {
    const er = r.sub16();
    while (!er.done) extensions.push({ type: er.u16(), data: er.vec16().slice() });
  }
  r.end();
  return { version, random, sessionId, cipherSuite, extensions };
}

export function ext(type: number, build: (w: Writer) => void): Extension {
  const w = new Writer(64);
  build(w);
  return { type, data: w.finish() };
}

/** RFC 8446 §4.3.1 */
export function encodeEncryptedExtensions(exts: readonly Extension[]): Uint8Array {
  const w = new Writer(64);
  writeExtensions(w, exts);
  return w.finish();
}

export interface CertificateEntry {
  readonly certData: Uint8Array;
  readonly extensions: readonly Extension[];
}
/** TLS 1.3 Certificate (RFC 8446 §4.4.2). */
export interface Certificate13 {
  readonly context: Uint8Array;
  readonly entries: readonly CertificateEntry[];
}
export function encodeCertificate13(m: Certificate13): Uint8Array {
  const w = new Writer(2048);
  w.vec8(m.context);
  w.lengthPrefixed(3, (w) => {
    for (const e of m.entries) {
      w.vec24(e.certData);
      writeExtensions(w, e.extensions);
    }
  });
  return w.finish();
}
export function decodeCertificate13(body: Uint8Array): Certificate13 {
  const r = new Reader(body);
  const context = r.vec8().slice();
  const l = r.sub24();
  const entries: CertificateEntry[] = [];
  while (!l.done) {
    const certData = l.vec24().slice();
    if (certData.length === 0) throw new DecodeError("empty cert_data", l.offset);
    const er = l.sub16();
    const extensions: Extension[] = [];
    while (!er.done) extensions.push({ type: er.u16(), data: er.vec16().slice() });
    entries.push({ certData, extensions });
  }
  r.end();
  return { context, entries };
}
/** TLS 1.2 Certificate (RFC 5246 §7.4.2): certificate_list <0..2^24-1> of ASN.1Cert <1..2^24-1>. */
export function encodeCertificate12(chain: readonly Uint8Array[]): Uint8Array {
  const w = new Writer(2048);
  w.lengthPrefixed(3, (w) => {
    for (const c of chain) w.vec24(c);
  });
  return w.finish();
}
export function decodeCertificate12(body: Uint8Array): Uint8Array[] {
  const r = new Reader(body);
  const l = r.sub24();
  const out: Uint8Array[] = [];
  while (!l.done) {
    const c = l.vec24().slice();
    if (c.length === 0) throw new DecodeError("empty ASN.1Cert", l.offset);
    out.push(c);
  }
  r.end();
  return out;
}

/** TLS 1.3 CertificateRequest (§4.3.2): context + extensions (signature_algorithms is mandatory). */
export function encodeCertificateRequest13(context: Uint8Array, exts: readonly Extension[]): Uint8Array {
  const w = new Writer(64);
  w.vec8(context);
  writeExtensions(w, exts);
  return w.finish();
}
/** TLS 1.2 CertificateRequest (RFC 5246 §7.4.4). */
export function encodeCertificateRequest12(
  certTypes: readonly number[],
  schemes: readonly number[],
  authorities: readonly Uint8Array[],
): Uint8Array {
  const w = new Writer(64);
  w.lengthPrefixed(1, (w) => certTypes.forEach((t) => w.u8(t)));
  w.lengthPrefixed(2, (w) => schemes.forEach((s) => w.u16(s)));
  w.lengthPrefixed(2, (w) => authorities.forEach((a) => w.vec16(a)));
  return w.finish();
}
/** RFC 5246 §7.4.4 ClientCertificateType values we request. */
export const ClientCertificateType = { rsa_sign: 1, ecdsa_sign: 64 } as const;

/** CertificateVerify (RFC 8446 §4.4.3; RFC 5246 §7.4.8 with the 1.2 SignatureAndHashAlgorithm). */
export interface CertificateVerify {
  readonly scheme: number;
  readonly signature: Uint8Array;
}
export function encodeCertificateVerify(m: CertificateVerify): Uint8Array {
  return new Writer(300).u16(m.scheme).vec16(m.signature).finish();
}
export function decodeCertificateVerify(body: Uint8Array): CertificateVerify {
  const r = new Reader(body);
  const scheme = r.u16();
  const signature = r.vec16().slice();
  r.end();
  return { scheme, signature };
}

/** RFC 8422 §5.4 ServerECDHParams (named_curve only) — the part that is signed. */
export function encodeEcdheParams(group: number, publicKey: Uint8Array): Uint8Array {
  return new Writer(100).u8(3 /* named_curve */).u16(group).vec8(publicKey).finish();
}
/** RFC 8422 §5.4 ServerKeyExchange = params || DigitallySigned. */
export function encodeServerKeyExchange(params: Uint8Array, scheme: number, signature: Uint8Array): Uint8Array {
  return new Writer(400).bytes(params).u16(scheme).vec16(signature).finish();
}

/** ClientKeyExchange: ECDHE (RFC 8422 §5.7, ECPoint <1..2^8-1>) or RSA (RFC 5246 §7.4.7.1, opaque <0..2^16-1>). */
export function decodeClientKeyExchange(body: Uint8Array, kind: "ecdhe" | "rsa"): Uint8Array {
  const r = new Reader(body);
  const v = kind === "ecdhe" ? r.vec8() : r.vec16();
  r.end();
  if (v.length === 0) throw new DecodeError("empty key exchange", 0);
  return v.slice();
}
export function encodeClientKeyExchange(value: Uint8Array, kind: "ecdhe" | "rsa"): Uint8Array {
  const w = new Writer(300);
  return (kind === "ecdhe" ? w.vec8(value) : w.vec16(value)).finish();
}

/** RFC 8446 §4.6.3 KeyUpdate: update_not_requested(0), update_requested(1). */
export function decodeKeyUpdate(body: Uint8Array): boolean {
  const r = new Reader(body);
  const v = r.u8();
  r.end();
  if (v > 1) throw new DecodeError("bad KeyUpdateRequest", 0);
  return v === 1;
}

/** TLS 1.3 NewSessionTicket (RFC 8446 §4.6.1). We never send the TLS 1.2 (RFC 5077) form. */
export function encodeNewSessionTicket13(
  lifetime: number,
  ageAdd: number,
  nonce: Uint8Array,
  ticket: Uint8Array,
  exts: readonly Extension[],
): Uint8Array {
  const w = new Writer(256);
  w.u32(lifetime).u32(ageAdd).vec8(nonce).vec16(ticket);
  writeExtensions(w, exts);
  return w.finish();
}

/** The 4-byte TLS handshake header (§4): msg_type, uint24 length. DTLS uses its own 12-byte header. */
export function handshakeHeader(type: number, length: number): Uint8Array {
  return Uint8Array.of(type, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff);
}
/**
 * The 12-byte DTLS handshake header (RFC 6347 §4.2.2): msg_type, length, message_seq,
 * fragment_offset, fragment_length. The bodies above are shared between TLS and DTLS.
 */
export function dtlsHandshakeHeader(type: number, length: number, messageSeq: number, fragmentOffset: number, fragmentLength: number): Uint8Array {
  return new Writer(12).u8(type).u24(length).u16(messageSeq).u24(fragmentOffset).u24(fragmentLength).finish();
}
export function handshakeMessage(type: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  out.set(handshakeHeader(type, body.length), 0);
  out.set(body, 4);
  return out;
}

/** Alert (RFC 8446 §6): level, description. */
export function encodeAlert(level: 1 | 2, description: number): Uint8Array {
  return Uint8Array.of(level, description);
}
