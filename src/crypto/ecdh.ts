// Ephemeral (EC)DHE key shares on @noble/curves: X25519 (RFC 7748) and the NIST curves P-256/P-384
// (SEC 1). Peer points are validated here, so the handshake code cannot forget to.

import { x25519 } from "@noble/curves/ed25519.js";
import { p256, p384 } from "@noble/curves/nist.js";
import type { KeyShare, NamedGroup } from "./types.ts";
import { CryptoError } from "./types.ts";
import { randomBytes } from "./random.ts";

class X25519Share implements KeyShare {
  readonly group = "x25519" as const;
  readonly publicKey: Uint8Array;
  readonly #secret: Uint8Array;
  constructor(secret: Uint8Array | undefined) {
    if (secret !== undefined && secret.length !== 32) throw new CryptoError("bad-key", "x25519 secret must be 32 bytes");
    this.#secret = secret?.slice() ?? randomBytes(32);
    this.publicKey = x25519.getPublicKey(this.#secret);
  }
  computeSecret(peerPublic: Uint8Array): Uint8Array {
    // RFC 8446 §4.2.8.2: the X25519 share is exactly 32 bytes.
    if (peerPublic.length !== 32) throw new CryptoError("bad-peer-key", `x25519 share must be 32 bytes, got ${peerPublic.length}`);
    let shared: Uint8Array;
    try {
      shared = x25519.getSharedSecret(this.#secret, peerPublic);
    } catch (e) {
      throw new CryptoError("bad-peer-key", `x25519: ${(e as Error).message}`);
    }
    // RFC 7748 §6.1 / RFC 8446 §7.4.2: an all-zero output means a small-order peer point; abort.
    let acc = 0;
    for (let i = 0; i < shared.length; i++) acc |= shared[i]!;
    if (acc === 0) throw new CryptoError("bad-peer-key", "x25519 shared secret is all zeros (low-order point)");
    return shared;
  }
}

type Weierstrass = typeof p256;

class NistShare implements KeyShare {
  readonly publicKey: Uint8Array;
  readonly #secret: Uint8Array;
  readonly #coordLen: number;
  constructor(
    readonly group: "secp256r1" | "secp384r1",
    private readonly curve: Weierstrass,
    secret: Uint8Array | undefined,
  ) {
    this.#coordLen = group === "secp256r1" ? 32 : 48;
    if (secret !== undefined && !curve.utils.isValidSecretKey(secret)) throw new CryptoError("bad-key", `invalid ${group} secret`);
    this.#secret = secret?.slice() ?? curve.utils.randomSecretKey();
    // RFC 8446 §4.2.8.2 / RFC 8422 §5.4.1: only the uncompressed form is used on the wire.
    this.publicKey = curve.getPublicKey(this.#secret, false);
  }
  computeSecret(peerPublic: Uint8Array): Uint8Array {
    if (peerPublic.length !== 1 + 2 * this.#coordLen || peerPublic[0] !== 0x04) {
      throw new CryptoError("bad-peer-key", `${this.group} share must be an uncompressed point of ${1 + 2 * this.#coordLen} bytes`);
    }
    try {
      // fromBytes checks the point is on the curve and not the identity (SEC 1 §3.2.2.1).
      this.curve.Point.fromBytes(peerPublic).assertValidity();
      // The shared secret is the x-coordinate of the shared point (RFC 8446 §7.4.2, RFC 8422 §5.10).
      return this.curve.getSharedSecret(this.#secret, peerPublic, true).slice(1);
    } catch (e) {
      throw new CryptoError("bad-peer-key", `${this.group}: ${(e as Error).message}`);
    }
  }
}

/**
 * A fresh ephemeral key share. `secret` exists for known-answer tests only; the handshake always
 * omits it so the secret comes from the CSPRNG.
 */
export function generateKeyShare(group: NamedGroup, secret?: Uint8Array): KeyShare {
  switch (group) {
    case "x25519":
      return new X25519Share(secret);
    case "secp256r1":
      return new NistShare(group, p256, secret);
    case "secp384r1":
      return new NistShare(group, p384 as unknown as Weierstrass, secret);
    default: {
      const never: never = group;
      throw new CryptoError("unsupported", `unsupported group ${String(never)}`);
    }
  }
}
