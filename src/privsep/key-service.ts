// Main's side of the TLS private-key operations (ocserv sec-mod's CMD_SEC_SIGN / CMD_SEC_DECRYPT): the
// keys never leave this process; a worker sends what it needs signed or decrypted and gets only the result.
//
// What a compromised worker could do with these requests, and what this module does about it:
//   - Ask for signatures over chosen data. Sign requests are accepted only in the two shapes our TLS server
//     produces: a TLS 1.3 server CertificateVerify content (RFC 8446 §4.4.3: 64×0x20, the server context
//     string, 0x00, a transcript hash) or a TLS 1.2 ECDHE ServerKeyExchange (RFC 8422 §5.4: two 32-byte
//     randoms, then ServerECDHParams with a named curve). The worker can still get a handshake signed for
//     a connection it fakes (that is what a TLS server does), but not, e.g., a certificate or a CRL.
//   - Use RSA decryption as a Bleichenbacher padding oracle. The answer is always 48 bytes: on any
//     padding or length failure it is HMAC(secret, ciphertext) truncated, so asking twice gives the same
//     answer whether the padding was valid or not ("implicit rejection"). The TLS code's own version check
//     (RFC 5246 §7.4.7.1) then works unchanged.
import type { PrivateKey } from "../crypto/types.ts";
import { hmac, randomBytes } from "../crypto/index.ts";
import { DecodeError } from "../wire/reader.ts";
import { RemoteError, type Message, type Reply } from "./channel.ts";
import {
  decodeDecryptRequest,
  decodeKeyIndex,
  decodeSignRequest,
  encodeKeyInfo,
  encodeSignature,
  MsgType,
  PREMASTER_LENGTH,
} from "./messages.ts";

const TLS13_PAD = 64;
const TLS13_SERVER_CONTEXT = new TextEncoder().encode("TLS 1.3, server CertificateVerify");
const EC_NAMED_CURVE = 3;

/** True if `m` has the shape of something our TLS server signs (see the header comment). */
export function isHandshakeSignInput(m: Uint8Array): boolean {
  // TLS 1.3 CertificateVerify content: pad, context, 0x00, Hash(transcript) of 32, 48 or 64 bytes.
  const head = TLS13_PAD + TLS13_SERVER_CONTEXT.length + 1;
  if (m.length > head && m.length <= head + 64 && (m.length - head) % 16 === 0) {
    let ok = true;
    for (let i = 0; i < TLS13_PAD; i++) if (m[i] !== 0x20) ok = false;
    for (let i = 0; i < TLS13_SERVER_CONTEXT.length; i++) if (m[TLS13_PAD + i] !== TLS13_SERVER_CONTEXT[i]) ok = false;
    if (m[head - 1] !== 0) ok = false;
    if (ok) return true;
  }
  // TLS 1.2 ServerKeyExchange: client_random(32) server_random(32) curve_type(1)=named_curve
  // namedcurve(2) point<1..255> — and nothing after it.
  if (m.length >= 64 + 4 && m[64] === EC_NAMED_CURVE) {
    const pointLen = m[67]!;
    return pointLen > 0 && m.length === 68 + pointLen;
  }
  return false;
}

/** 48 bytes determined by the ciphertext and main's secret: HMAC-SHA256 blocks 1 and 2, truncated. */
function implicitRejection(secret: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  const out = new Uint8Array(PREMASTER_LENGTH);
  out.set(hmac("sha256", secret, ciphertext, new Uint8Array([1])), 0);
  out.set(hmac("sha256", secret, ciphertext, new Uint8Array([2])).subarray(0, PREMASTER_LENGTH - 32), 32);
  return out;
}

export interface KeyService {
  /** The request handler for main's end of a worker's key channel. */
  readonly handle: (msg: Message) => Reply;
}

/** Serves key operations for `keys` (index = position, as in the worker's credential list). */
export function createKeyService(keys: readonly PrivateKey[]): KeyService {
  // Secret for implicit rejection; per process, never leaves main.
  const rejectionKey = randomBytes(32);
  const keyAt = (i: number): PrivateKey => {
    const k = keys[i];
    if (k === undefined) throw new RemoteError("no-such-key", `no key ${i}`);
    return k;
  };
  const handle = (msg: Message): Reply => {
    if (msg.fd !== null) throw new RemoteError("bad-request", "key requests carry no descriptors");
    try {
      switch (msg.type) {
        case MsgType.KeyInfo: {
          const k = keyAt(decodeKeyIndex(msg.body));
          return {
            type: MsgType.KeyInfo,
            body: encodeKeyInfo({ type: k.type, spki: k.publicKey.spki, schemes: k.schemes, canDecrypt: k.decryptPkcs1 !== undefined }),
          };
        }
        case MsgType.Sign: {
          const req = decodeSignRequest(msg.body);
          const k = keyAt(req.index);
          if (!k.schemes.includes(req.scheme)) throw new RemoteError("bad-scheme", "key cannot sign with this scheme");
          if (!isHandshakeSignInput(req.message)) throw new RemoteError("refused", "not a TLS handshake signature input");
          return { type: MsgType.Sign, body: encodeSignature(k.sign(req.scheme, req.message)) };
        }
        case MsgType.DecryptPremaster: {
          const req = decodeDecryptRequest(msg.body);
          const k = keyAt(req.index);
          if (k.decryptPkcs1 === undefined) throw new RemoteError("bad-key", "key cannot decrypt");
          const dec = k.decryptPkcs1(req.ciphertext);
          const body = dec !== null && dec.length === PREMASTER_LENGTH ? dec : implicitRejection(rejectionKey, req.ciphertext);
          return { type: MsgType.DecryptPremaster, body };
        }
        default:
          throw new RemoteError("unsupported", `unknown key request ${msg.type}`);
      }
    } catch (e) {
      if (e instanceof DecodeError) throw new RemoteError("bad-request", e.message);
      throw e;
    }
  };
  return { handle };
}
