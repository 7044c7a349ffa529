// Randomness comes only from the platform CSPRNG. getRandomValues is limited to 65536 bytes per
// call (WebCrypto §10.1.1), so larger requests are filled in chunks.

const MAX_CHUNK = 65536;

export function randomBytes(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`randomBytes: bad length ${n}`);
  const out = new Uint8Array(n);
  for (let o = 0; o < n; o += MAX_CHUNK) crypto.getRandomValues(out.subarray(o, Math.min(n, o + MAX_CHUNK)));
  return out;
}
