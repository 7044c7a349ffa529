// The worker's view of a TLS private key held by main (ocserv: gnutls_privkey_import_ext4 whose callbacks
// send CMD_SEC_SIGN / CMD_SEC_DECRYPT to sec-mod). It implements src/crypto/types.ts PrivateKey, so the TLS
// server uses it unchanged.
//
// PrivateKey.sign() is synchronous, so sign()/decryptPkcs1() block the whole worker on a SyncClient until
// main answers (round trip measured in bench/privsep.ts). signAsync()/decryptAsync() do the same over an
// event-loop Channel without blocking; they are what a TLS core with an asynchronous signing step would use
// (docs/privsep.md, "The synchronous sign() problem").
import type { KeyType, PrivateKey, PublicKey, SignatureScheme } from "../crypto/types.ts";
import { CryptoError } from "../crypto/types.ts";
import { parsePublicKey } from "../x509/keys.ts";
import { ChannelError, type Channel } from "./channel.ts";
import type { SyncClient } from "./sync-client.ts";
import {
  decodeKeyInfo,
  decodePremaster,
  decodeSignature,
  encodeDecryptRequest,
  encodeKeyIndex,
  encodeSignRequest,
  MsgType,
  type KeyInfo,
} from "./messages.ts";

/** Either transport to main's key service: blocking (SyncClient) or asynchronous (Channel). */
export interface KeyTransport {
  readonly sync: SyncClient | null;
  readonly async: Channel | null;
}

function toCryptoError(e: unknown): CryptoError {
  if (e instanceof CryptoError) return e;
  // Main's refusals and a dead main both surface as a failed key operation; the handshake then aborts.
  return new CryptoError("bad-key", `remote key operation failed: ${e instanceof ChannelError ? e.message : String(e)}`);
}

export class RemotePrivateKey implements PrivateKey {
  readonly type: KeyType;
  readonly publicKey: PublicKey;
  readonly schemes: readonly SignatureScheme[];
  readonly decryptPkcs1?: (ciphertext: Uint8Array) => Uint8Array | null;

  constructor(
    private readonly index: number,
    info: KeyInfo,
    private readonly transport: KeyTransport,
  ) {
    this.type = info.type;
    this.publicKey = parsePublicKey(info.spki);
    this.schemes = info.schemes;
    if (info.canDecrypt && info.type === "rsa") this.decryptPkcs1 = (ct) => this.decryptSync(ct);
  }

  /** Asks main (blocking) for key `index`'s description and returns a key bound to `transport`. */
  static fetch(index: number, transport: KeyTransport): RemotePrivateKey {
    if (transport.sync === null) throw new CryptoError("unsupported", "fetch needs the synchronous transport");
    const ans = transport.sync.request(MsgType.KeyInfo, encodeKeyIndex(index));
    return new RemotePrivateKey(index, decodeKeyInfo(ans.body), transport);
  }

  /** Asks main (asynchronously) for key `index`'s description. */
  static async fetchAsync(index: number, transport: KeyTransport): Promise<RemotePrivateKey> {
    if (transport.async === null) throw new CryptoError("unsupported", "fetchAsync needs the channel transport");
    const ans = await transport.async.request(MsgType.KeyInfo, encodeKeyIndex(index));
    return new RemotePrivateKey(index, decodeKeyInfo(ans.body), transport);
  }

  sign(scheme: SignatureScheme, message: Uint8Array): Uint8Array {
    const sync = this.transport.sync;
    if (sync === null) throw new CryptoError("unsupported", "synchronous signing needs the synchronous transport");
    try {
      return decodeSignature(sync.request(MsgType.Sign, encodeSignRequest({ index: this.index, scheme, message })).body);
    } catch (e) {
      throw toCryptoError(e);
    }
  }

  async signAsync(scheme: SignatureScheme, message: Uint8Array): Promise<Uint8Array> {
    const ch = this.transport.async;
    if (ch === null) throw new CryptoError("unsupported", "asynchronous signing needs the channel transport");
    try {
      return decodeSignature((await ch.request(MsgType.Sign, encodeSignRequest({ index: this.index, scheme, message }))).body);
    } catch (e) {
      throw toCryptoError(e);
    }
  }

  /**
   * Never returns null: main answers 48 bytes whatever the padding (implicit rejection, see
   * key-service.ts), and the TLS code's version check then decides, as RFC 5246 §7.4.7.1 asks.
   */
  private decryptSync(ciphertext: Uint8Array): Uint8Array | null {
    const sync = this.transport.sync;
    if (sync === null) throw new CryptoError("unsupported", "synchronous decryption needs the synchronous transport");
    try {
      return decodePremaster(sync.request(MsgType.DecryptPremaster, encodeDecryptRequest({ index: this.index, ciphertext })).body);
    } catch (e) {
      throw toCryptoError(e);
    }
  }

  async decryptAsync(ciphertext: Uint8Array): Promise<Uint8Array> {
    const ch = this.transport.async;
    if (ch === null) throw new CryptoError("unsupported", "asynchronous decryption needs the channel transport");
    try {
      return decodePremaster((await ch.request(MsgType.DecryptPremaster, encodeDecryptRequest({ index: this.index, ciphertext }))).body);
    } catch (e) {
      throw toCryptoError(e);
    }
  }
}
