// A bounds-checked big-endian byte reader for wire formats (TLS, DTLS, X.509 lengths, netlink).
// Every read either returns a value or throws DecodeError; a sub-span opened with `sub*()` must be
// consumed exactly (`end()`), so trailing or missing bytes are errors at the place they occur.

export class DecodeError extends Error {
  override readonly name = "DecodeError";
  constructor(readonly reason: string, readonly offset: number) {
    super(`${reason} at offset ${offset}`);
  }
}

export class Reader {
  private pos: number;
  private readonly limit: number;

  constructor(
    readonly bytes: Uint8Array,
    start = 0,
    end = bytes.length,
  ) {
    if (start < 0 || end > bytes.length || start > end) throw new DecodeError("bad span", start);
    this.pos = start;
    this.limit = end;
  }

  get offset(): number {
    return this.pos;
  }
  get remaining(): number {
    return this.limit - this.pos;
  }
  get done(): boolean {
    return this.pos === this.limit;
  }

  private need(n: number): void {
    if (n < 0 || this.pos + n > this.limit) throw new DecodeError(`need ${n} bytes, have ${this.limit - this.pos}`, this.pos);
  }

  u8(): number {
    this.need(1);
    return this.bytes[this.pos++]!;
  }
  u16(): number {
    this.need(2);
    const b = this.bytes;
    const v = (b[this.pos]! << 8) | b[this.pos + 1]!;
    this.pos += 2;
    return v;
  }
  u24(): number {
    this.need(3);
    const b = this.bytes;
    const v = (b[this.pos]! << 16) | (b[this.pos + 1]! << 8) | b[this.pos + 2]!;
    this.pos += 3;
    return v;
  }
  u32(): number {
    this.need(4);
    const b = this.bytes;
    const v = ((b[this.pos]! << 24) >>> 0) + ((b[this.pos + 1]! << 16) | (b[this.pos + 2]! << 8) | b[this.pos + 3]!);
    this.pos += 4;
    return v;
  }
  /** 48-bit unsigned (DTLS sequence numbers); exact in a JS number. */
  u48(): number {
    const hi = this.u16();
    const lo = this.u32();
    return hi * 0x1_0000_0000 + lo;
  }

  /** The next n bytes, as a view into the underlying buffer (no copy). */
  bytesView(n: number): Uint8Array {
    this.need(n);
    const v = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  /** The next n bytes, copied. */
  bytesCopy(n: number): Uint8Array {
    return this.bytesView(n).slice();
  }
  rest(): Uint8Array {
    return this.bytesView(this.remaining);
  }
  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  /** Variable-length vector with a 1/2/3-byte length prefix, as a view. */
  vec8(): Uint8Array {
    return this.bytesView(this.u8());
  }
  vec16(): Uint8Array {
    return this.bytesView(this.u16());
  }
  vec24(): Uint8Array {
    return this.bytesView(this.u24());
  }

  /** A sub-reader over the next n bytes; this reader moves past them. */
  sub(n: number): Reader {
    this.need(n);
    const r = new Reader(this.bytes, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }
  sub8(): Reader {
    return this.sub(this.u8());
  }
  sub16(): Reader {
    return this.sub(this.u16());
  }
  sub24(): Reader {
    return this.sub(this.u24());
  }

  /** Asserts the span was consumed exactly. */
  end(): void {
    if (this.pos !== this.limit) throw new DecodeError(`${this.limit - this.pos} trailing bytes`, this.pos);
  }
}
