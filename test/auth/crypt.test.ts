import { describe, expect, test } from "bun:test";
import { CryptError, formatCrypt, parseCryptHash, verifyCrypt } from "../../src/auth/crypt.ts";

// Produced by `openssl passwd -1/-5/-6 -salt SALT PASSWORD` (OpenSSL 3.0).
const OPENSSL_VECTORS: readonly [string, string][] = [
  ["test", "$1$abcdefgh$irWbblnpmw.5z7wgBnprh0"],
  ["test", "$5$abcdefgh$qdvcTv0LZNZdlT5oJZ49o5SQ8X7bA9/X.MJjvjS5cW8"],
  ["test", "$6$abcdefgh$3rj1vTLX64btReFsM4MQ22otcD40l7vbtw7qCyr0dxc4kxNmgx53xVM8gWiLYbCqTHTbXFaVFU7ZT28pnvdyu0"],
  ["x", "$1$$LP5.V3ajGqHDdXW6XwZQy."],
  ["pässwörd", "$1$saltsalt$VReRfkQ8Hs1aayf/oxMkG/"],
  ["a much longer password that exceeds the sixteen byte md5 size", "$1$12345678$8bPGDCt1OohCtxFwkpYBO1"],
  ["Hello world!", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"],
  ["Hello world!", "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA"],
  [
    "a much longer password that exceeds the sixty-four byte hash size for sure!!",
    "$5$rounds=1000$short$6Vk1WjoqPNEH63y9zEzGA9VB5JpHe6ZRlPgVfuawYl4",
  ],
  ["x", "$6$rounds=1234$0123456789abcdef$oM/m/iR7ZF4uZs21XfPxyqsMtgpSLCxInSfL9Lukc.R7e8GriRuCQ.bbNHMPhE2KAJVf.E7TBISTWA1LNjbKv."],
  [
    "a much longer password that exceeds the sixty-four byte hash size for sure!!",
    "$6$abc$DHpbyPL9XRH8rTl4TToxLVVaOWgsfM2cBxqnksrXVwk4YfMIBEA1dxfTJNtyCC0xgggXp9U8Dd24665FYKrV60",
  ],
];

describe("crypt(3) hashes", () => {
  for (const [password, expected] of OPENSSL_VECTORS) {
    test(`reproduces openssl passwd output ${expected.slice(0, 16)}…`, () => {
      const h = parseCryptHash(expected);
      expect(formatCrypt(h.algorithm, password, h.salt, h.rounds)).toBe(expected);
      expect(verifyCrypt(h, password)).toBe(true);
      expect(verifyCrypt(h, password + "x")).toBe(false);
    });
  }

  test("verifies the upstream sample.passwd entries with the passwords ocserv's tests use", () => {
    expect(verifyCrypt(parseCryptHash("$5$i6SNmLDCgBNjyJ7q$SZ4bVJb7I/DLgXo3txHBVohRFBjOtdbxGQZp.DOnrA."), "test")).toBe(true);
    expect(
      verifyCrypt(parseCryptHash("$5$kDNrlGibUoktiQ0n$mE/ys1XehvvoWQiSqAfB.Aw1WbAYayMV/ZYTX/6IlkC"), "!@#$%^&*()<>"),
    ).toBe(true);
  });

  test("matches a live openssl passwd for random passwords and salts when openssl is installed", () => {
    const openssl = Bun.which("openssl");
    if (openssl === null) return;
    const alphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    const rand = (n: number) => Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => alphabet[b % 64]).join("");
    for (const [flag, alg, saltLen] of [["-1", "md5", 8], ["-5", "sha256", 16], ["-6", "sha512", 16]] as const) {
      const password = rand(1 + (crypto.getRandomValues(new Uint8Array(1))[0]! % 40));
      const salt = rand(saltLen);
      const r = Bun.spawnSync([openssl, "passwd", flag, "-salt", salt, password]);
      const expected = r.stdout.toString().trim();
      expect(formatCrypt(alg, password, salt)).toBe(expected);
    }
  });

  test("rejects DES, bcrypt and yescrypt hashes with an unsupported-format error", () => {
    for (const h of ["abJnggxhB/yWI", "$2b$10$abcdefghijklmnopqrstuu", "$y$j9T$salt$hash"]) {
      try {
        parseCryptHash(h);
        throw new Error("accepted");
      } catch (e) {
        expect(e).toBeInstanceOf(CryptError);
        expect((e as CryptError).code).toBe("unsupported-format");
      }
    }
  });

  test("rejects a digest of the wrong length and rounds outside the supported range", () => {
    expect(() => parseCryptHash("$5$salt$tooshort")).toThrow(CryptError);
    expect(() => parseCryptHash("$5$rounds=10$salt$" + "a".repeat(43))).toThrow(/rounds=10/);
    expect(() => parseCryptHash("$6$rounds=2000000000$salt$" + "a".repeat(86))).toThrow(/rounds/);
    expect(() => parseCryptHash("$1$toolongsalt$" + "a".repeat(22))).toThrow(/salt/);
  });
});
