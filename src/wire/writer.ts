// A growable big-endian byte writer with length back-patching: `lengthPrefixed(2, w => ...)` writes
// a placeholder, runs the body and fills in the body's length, failing if it does not fit.

export class Writer {
  private buf: Uint8Array;
  private pos = 0;

  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
  }

  get length(): number {
    return this.pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }
  u16(v: number): this {
    this.ensure(2);
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
    return this;
  }
  u24(v: number): this {
    this.ensure(3);
    this.buf[this.pos++] = (v >>> 16) & 0xff;
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
    return this;
  }
  u32(v: number): this {
    this.ensure(4);
    this.buf[this.pos++] = (v >>> 24) & 0xff;
    this.buf[this.pos++] = (v >>> 16) & 0xff;
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
    return this;
  }
  u48(v: number): this {
    this.u16(Math.floor(v / 0x1_0000_0000));
    return this.u32(v >>> 0);
  }
  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** Writes a 1/2/3-byte length, then the body; throws if the body exceeds the prefix's range. */
  lengthPrefixed(prefix: 1 | 2 | 3, body: (w: this) => void): this {
    const at = this.pos;
    this.ensure(prefix);
    this.pos += prefix;
    body(this);
    const len = this.pos - at - prefix;
    if (len >= 2 ** (8 * prefix)) throw new RangeError(`length ${len} does not fit in ${prefix} bytes`);
    for (let i = 0; i < prefix; i++) this.buf[at + i] = (len >>> (8 * (prefix - 1 - i))) & 0xff;
    return this;
  }
  vec8(b: Uint8Array): this {
    return this.lengthPrefixed(1, (w) => w.bytes(b));
  }
  vec16(b: Uint8Array): this {
    return this.lengthPrefixed(2, (w) => w.bytes(b));
  }
  vec24(b: Uint8Array): this {
    return this.lengthPrefixed(3, (w) => w.bytes(b));
  }

  /** A copy of what was written. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
  /** A view of what was written (valid until the next write). */
  view(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Constant-time equality for secrets and MACs (length is not secret). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}
export function fromHex(s: string): Uint8Array {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new Error("bad hex");
  return new Uint8Array(Buffer.from(s, "hex"));
}
