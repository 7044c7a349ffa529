// Message types carried by the privsep channels, with their binary codecs (src/wire; no JSON, so key
// material never passes through a string). Each decoder consumes its body exactly (Reader.end()) and
// returns a typed value or throws DecodeError; the handler turns that into a RemoteError("bad-request").
//
// Numbering: 1–49 key operations (worker → main, key socket), 50–99 reserved for auth/session/tunnel
// messages (docs/privsep.md lists them; they are not implemented yet).
import type { KeyType, SignatureScheme } from "../crypto/types.ts";
import { DecodeError, Reader } from "../wire/reader.ts";
import { Writer } from "../wire/writer.ts";

export const enum MsgType {
  /** worker → main: describe key N. Body: u16 key index. Answer: KeyInfo. */
  KeyInfo = 1,
  /** worker → main: sign with key N. Body: u16 index, vec8 scheme name, vec24 message. Answer: vec16 signature. */
  Sign = 2,
  /** worker → main: TLS 1.2 RSA key exchange. Body: u16 index, vec16 ciphertext. Answer: 48 bytes (never an error). */
  DecryptPremaster = 3,
}

const SCHEMES: readonly SignatureScheme[] = [
  "rsa_pkcs1_sha1",
  "rsa_pkcs1_sha256",
  "rsa_pkcs1_sha384",
  "rsa_pkcs1_sha512",
  "rsa_pss_rsae_sha256",
  "rsa_pss_rsae_sha384",
  "rsa_pss_rsae_sha512",
  "rsa_pss_pss_sha256",
  "rsa_pss_pss_sha384",
  "rsa_pss_pss_sha512",
  "ecdsa_secp256r1_sha256",
  "ecdsa_secp384r1_sha384",
  "ecdsa_secp521r1_sha512",
  "ecdsa_sha1",
  "ed25519",
];
const KEY_TYPES: readonly KeyType[] = ["rsa", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "ed25519"];

const ascii = new TextDecoder("ascii");
const enc = new TextEncoder();

function readScheme(r: Reader): SignatureScheme {
  const at = r.offset;
  const name = ascii.decode(r.vec8());
  const s = SCHEMES.find((x) => x === name);
  if (s === undefined) throw new DecodeError("unknown signature scheme", at);
  return s;
}

/** The premaster secret length of the TLS 1.2 RSA key exchange (RFC 5246 §7.4.7.1). */
export const PREMASTER_LENGTH = 48;
/** Largest message a worker may ask main to sign: TLS signs ≤ 64 + 2 + ~1 KiB of params, or a TLS 1.3 content of ~200 bytes. */
export const MAX_SIGN_INPUT = 16 * 1024;

export interface KeyInfo {
  readonly type: KeyType;
  readonly spki: Uint8Array;
  readonly schemes: readonly SignatureScheme[];
  readonly canDecrypt: boolean;
}

export function encodeKeyIndex(index: number): Uint8Array {
  return new Writer(2).u16(index).finish();
}
export function decodeKeyIndex(body: Uint8Array): number {
  const r = new Reader(body);
  const i = r.u16();
  r.end();
  return i;
}

export function encodeKeyInfo(info: KeyInfo): Uint8Array {
  const w = new Writer(64 + info.spki.length);
  w.u8(KEY_TYPES.indexOf(info.type)).vec16(info.spki).u8(info.canDecrypt ? 1 : 0).u8(info.schemes.length);
  for (const s of info.schemes) w.vec8(enc.encode(s));
  return w.finish();
}
export function decodeKeyInfo(body: Uint8Array): KeyInfo {
  const r = new Reader(body);
  const t = KEY_TYPES[r.u8()];
  if (t === undefined) throw new DecodeError("unknown key type", 0);
  const spki = r.vec16().slice();
  const canDecrypt = r.u8() === 1;
  const n = r.u8();
  const schemes: SignatureScheme[] = [];
  for (let i = 0; i < n; i++) schemes.push(readScheme(r));
  r.end();
  return { type: t, spki, schemes, canDecrypt };
}

export interface SignRequest {
  readonly index: number;
  readonly scheme: SignatureScheme;
  readonly message: Uint8Array;
}
export function encodeSignRequest(req: SignRequest): Uint8Array {
  return new Writer(8 + req.message.length).u16(req.index).vec8(enc.encode(req.scheme)).vec24(req.message).finish();
}
export function decodeSignRequest(body: Uint8Array): SignRequest {
  const r = new Reader(body);
  const index = r.u16();
  const scheme = readScheme(r);
  const at = r.offset;
  const message = r.vec24();
  if (message.length > MAX_SIGN_INPUT) throw new DecodeError("message to sign is too long", at);
  r.end();
  return { index, scheme, message };
}
export function encodeSignature(sig: Uint8Array): Uint8Array {
  return new Writer(2 + sig.length).vec16(sig).finish();
}
export function decodeSignature(body: Uint8Array): Uint8Array {
  const r = new Reader(body);
  const s = r.vec16().slice();
  r.end();
  return s;
}

export interface DecryptRequest {
  readonly index: number;
  readonly ciphertext: Uint8Array;
}
export function encodeDecryptRequest(req: DecryptRequest): Uint8Array {
  return new Writer(4 + req.ciphertext.length).u16(req.index).vec16(req.ciphertext).finish();
}
export function decodeDecryptRequest(body: Uint8Array): DecryptRequest {
  const r = new Reader(body);
  const index = r.u16();
  const ciphertext = r.vec16();
  r.end();
  return { index, ciphertext };
}
export function decodePremaster(body: Uint8Array): Uint8Array {
  if (body.length !== PREMASTER_LENGTH) throw new DecodeError("premaster answer must be 48 bytes", 0);
  return body.slice();
}
