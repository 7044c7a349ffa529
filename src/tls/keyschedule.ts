// Key schedules. TLS 1.3 (RFC 8446 §7.1) has one type per stage, so a secret can only be derived at
// the stage that owns it: EarlySecret → HandshakeSecret → MasterSecret. TLS 1.2 (RFC 5246 §8.1, §6.3,
// RFC 7627 §4 extended master secret, RFC 5705 exporter) is a few pure functions over the PRF.
// Shared with DTLS: nothing here knows about records or streams.

import { hkdfExtract, hkdfExpand, hash, hmac, hashLength, tls12Prf } from "../crypto/index.ts";
import type { HashAlg } from "../crypto/types.ts";
import { concatBytes } from "../wire/writer.ts";

const enc = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** RFC 8446 §7.1 HKDF-Expand-Label with the "tls13 " prefix. */
export function hkdfExpandLabel(alg: HashAlg, secret: Uint8Array, label: string, context: Uint8Array, length: number): Uint8Array {
  const l = enc.encode("tls13 " + label);
  const info = new Uint8Array(2 + 1 + l.length + 1 + context.length);
  info[0] = (length >>> 8) & 0xff;
  info[1] = length & 0xff;
  info[2] = l.length;
  info.set(l, 3);
  info[3 + l.length] = context.length;
  info.set(context, 4 + l.length);
  return hkdfExpand(alg, secret, info, length);
}

/** §4.6.1: the PSK a NewSessionTicket stands for. */
export function resumptionPsk(alg: HashAlg, resumptionMaster: Uint8Array, ticketNonce: Uint8Array): Uint8Array {
  return hkdfExpandLabel(alg, resumptionMaster, "resumption", ticketNonce, hashLength(alg));
}

/** RFC 8446 §7.1 Derive-Secret with an already computed transcript hash. */
export function deriveSecret(alg: HashAlg, secret: Uint8Array, label: string, transcriptHash: Uint8Array): Uint8Array {
  return hkdfExpandLabel(alg, secret, label, transcriptHash, hashLength(alg));
}

/** Record keys for one direction (RFC 8446 §7.3). */
export interface TrafficKeys {
  readonly key: Uint8Array;
  readonly iv: Uint8Array;
}
export function trafficKeys(alg: HashAlg, trafficSecret: Uint8Array, keyLength: number): TrafficKeys {
  return {
    key: hkdfExpandLabel(alg, trafficSecret, "key", EMPTY, keyLength),
    iv: hkdfExpandLabel(alg, trafficSecret, "iv", EMPTY, 12),
  };
}

/** RFC 8446 §7.2 application_traffic_secret_N+1. */
export function nextTrafficSecret(alg: HashAlg, secret: Uint8Array): Uint8Array {
  return hkdfExpandLabel(alg, secret, "traffic upd", EMPTY, hashLength(alg));
}

/** RFC 8446 §4.4.4 verify_data = HMAC(finished_key, Transcript-Hash). */
export function finishedVerifyData(alg: HashAlg, baseKey: Uint8Array, transcriptHash: Uint8Array): Uint8Array {
  const finishedKey = hkdfExpandLabel(alg, baseKey, "finished", EMPTY, hashLength(alg));
  return hmac(alg, finishedKey, transcriptHash);
}

/** Stage 1: Early Secret. Without a PSK the IKM is a string of zeros (§7.1). */
export class EarlySecret {
  private constructor(
    readonly alg: HashAlg,
    private readonly secret: Uint8Array,
  ) {}
  static withoutPsk(alg: HashAlg): EarlySecret {
    const zeros = new Uint8Array(hashLength(alg));
    return new EarlySecret(alg, hkdfExtract(alg, zeros, zeros));
  }
  /** With a resumption PSK (§7.1: HKDF-Extract(0, PSK)). */
  static withPsk(alg: HashAlg, psk: Uint8Array): EarlySecret {
    return new EarlySecret(alg, hkdfExtract(alg, new Uint8Array(hashLength(alg)), psk));
  }
  /** §4.2.11.2: the key behind a resumption PSK binder ("res binder"). */
  resumptionBinderKey(): Uint8Array {
    return deriveSecret(this.alg, this.secret, "res binder", hash(this.alg, EMPTY));
  }
  /** For the RFC 8448 vectors. */
  get value(): Uint8Array {
    return this.secret;
  }
  intoHandshake(sharedSecret: Uint8Array): HandshakeSecret {
    const derived = deriveSecret(this.alg, this.secret, "derived", hash(this.alg, EMPTY));
    return new HandshakeSecret(this.alg, hkdfExtract(this.alg, derived, sharedSecret));
  }
}

/** Stage 2: Handshake Secret — handshake traffic secrets; the master secret comes after ServerHello. */
export class HandshakeSecret {
  constructor(
    readonly alg: HashAlg,
    private readonly secret: Uint8Array,
  ) {}
  get value(): Uint8Array {
    return this.secret;
  }
  clientTrafficSecret(helloHash: Uint8Array): Uint8Array {
    return deriveSecret(this.alg, this.secret, "c hs traffic", helloHash);
  }
  serverTrafficSecret(helloHash: Uint8Array): Uint8Array {
    return deriveSecret(this.alg, this.secret, "s hs traffic", helloHash);
  }
  intoMaster(): MasterSecret {
    const derived = deriveSecret(this.alg, this.secret, "derived", hash(this.alg, EMPTY));
    return new MasterSecret(this.alg, hkdfExtract(this.alg, derived, new Uint8Array(hashLength(this.alg))));
  }
}

/** Stage 3: Master Secret — application traffic, exporter and resumption secrets. */
export class MasterSecret {
  constructor(
    readonly alg: HashAlg,
    private readonly secret: Uint8Array,
  ) {}
  get value(): Uint8Array {
    return this.secret;
  }
  /** Transcript through server Finished. */
  clientTrafficSecret(hash: Uint8Array): Uint8Array {
    return deriveSecret(this.alg, this.secret, "c ap traffic", hash);
  }
  serverTrafficSecret(hash: Uint8Array): Uint8Array {
    return deriveSecret(this.alg, this.secret, "s ap traffic", hash);
  }
  exporter(hash: Uint8Array): Exporter13 {
    return new Exporter13(this.alg, deriveSecret(this.alg, this.secret, "exp master", hash));
  }
  /** Transcript through client Finished. */
  resumption(hash: Uint8Array): Uint8Array {
    return deriveSecret(this.alg, this.secret, "res master", hash);
  }
}

/** RFC 8446 §7.5: TLS-Exporter(label, context, length). A null context is the same as an empty one. */
export class Exporter13 {
  constructor(
    readonly alg: HashAlg,
    private readonly secret: Uint8Array,
  ) {}
  get value(): Uint8Array {
    return this.secret;
  }
  export(label: string, context: Uint8Array | null, length: number): Uint8Array {
    const perLabel = deriveSecret(this.alg, this.secret, label, hash(this.alg, EMPTY));
    return hkdfExpandLabel(this.alg, perLabel, "exporter", hash(this.alg, context ?? EMPTY), length);
  }
}

// ---- TLS 1.2 ----

/**
 * RFC 5246 §8.1 master secret, or RFC 7627 §4 extended master secret when `sessionHash` (the hash of
 * the handshake through ClientKeyExchange) is given.
 */
export function masterSecret12(
  prfHash: HashAlg,
  preMaster: Uint8Array,
  clientRandom: Uint8Array,
  serverRandom: Uint8Array,
  sessionHash: Uint8Array | null,
): Uint8Array {
  if (sessionHash !== null) return tls12Prf(prfHash, preMaster, "extended master secret", sessionHash, 48);
  return tls12Prf(prfHash, preMaster, "master secret", concatBytes(clientRandom, serverRandom), 48);
}

export interface KeyBlock12 {
  readonly clientMacKey: Uint8Array;
  readonly serverMacKey: Uint8Array;
  readonly clientKey: Uint8Array;
  readonly serverKey: Uint8Array;
  /** GCM: 4-byte salt (RFC 5288 §3); CBC: unused (TLS 1.1+ records carry an explicit IV). */
  readonly clientIv: Uint8Array;
  readonly serverIv: Uint8Array;
}

/** RFC 5246 §6.3 key_block = PRF(master, "key expansion", server_random + client_random). */
export function keyBlock12(
  prfHash: HashAlg,
  master: Uint8Array,
  clientRandom: Uint8Array,
  serverRandom: Uint8Array,
  macLength: number,
  keyLength: number,
  fixedIvLength: number,
): KeyBlock12 {
  const n = 2 * (macLength + keyLength + fixedIvLength);
  const kb = tls12Prf(prfHash, master, "key expansion", concatBytes(serverRandom, clientRandom), n);
  let o = 0;
  const take = (k: number): Uint8Array => kb.slice(o, (o += k));
  return {
    clientMacKey: take(macLength),
    serverMacKey: take(macLength),
    clientKey: take(keyLength),
    serverKey: take(keyLength),
    clientIv: take(fixedIvLength),
    serverIv: take(fixedIvLength),
  };
}

/** RFC 5246 §7.4.9 verify_data (12 bytes). */
export function finished12(prfHash: HashAlg, master: Uint8Array, sender: "client" | "server", handshakeHash: Uint8Array): Uint8Array {
  return tls12Prf(prfHash, master, `${sender} finished`, handshakeHash, 12);
}

/** RFC 5705 §4: PRF(master, label, client_random + server_random [+ uint16 context length + context]). */
export function exporter12(
  prfHash: HashAlg,
  master: Uint8Array,
  clientRandom: Uint8Array,
  serverRandom: Uint8Array,
  label: string,
  context: Uint8Array | null,
  length: number,
): Uint8Array {
  const seed =
    context === null
      ? concatBytes(clientRandom, serverRandom)
      : concatBytes(clientRandom, serverRandom, Uint8Array.of(context.length >>> 8, context.length & 0xff), context);
  return tls12Prf(prfHash, master, label, seed, length);
}
