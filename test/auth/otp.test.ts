import { describe, expect, test } from "bun:test";
import { formatTimestamp, hotp, OtpFileError, parseOtpUsersFile, totp, validateOtp } from "../../src/auth/otp.ts";

// RFC 4226 Appendix D / RFC 6238 Appendix B: the ASCII secret "12345678901234567890".
const KEY_HEX = "3132333435363738393031323334353637383930";
const KEY = new Uint8Array(Buffer.from(KEY_HEX, "hex"));
const RFC4226 = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"];

function okText(r: ReturnType<typeof validateOtp>): string {
  if (r.kind !== "ok") throw new Error(`expected ok, got ${r.reason}`);
  return r.updatedText;
}

describe("HOTP and TOTP", () => {
  test("computes the RFC 4226 Appendix D values for counters 0 to 9", () => {
    RFC4226.forEach((v, i) => expect(hotp(KEY, BigInt(i), 6)).toBe(v));
  });

  test("computes the RFC 6238 Appendix B SHA-1 values", () => {
    const vectors: [number, string][] = [
      [59, "94287082"],
      [1111111109, "07081804"],
      [1111111111, "14050471"],
      [1234567890, "89005924"],
      [2000000000, "69279037"],
      [20000000000, "65353130"],
    ];
    for (const [t, v] of vectors) expect(totp(KEY, t * 1000, 30, 8)).toBe(v);
  });
});

describe("the liboath UsersFile", () => {
  test("parses the upstream sample.otp, with and without a log", () => {
    // ocserv doc/sample.otp, verbatim.
    const text =
      "HOTP/T30\ttest\t-\t8a2d55707a9084982649dadc04b426a06df19ab2\t1\t691245\t2015-09-25T13:18:42L\n" +
      "HOTP tost - acbd18db4cc2f85cedef654fccc4a4d8bd537891\n";
    const f = parseOtpUsersFile(text, "sample.otp");
    expect(f.users.length).toBe(2);
    expect(f.users[0]!.mode).toEqual({ kind: "totp", step: 30 });
    expect(f.users[0]!.log?.counter).toBe(1n);
    expect(f.users[0]!.log?.lastOtp).toBe("691245");
    expect(f.users[1]!.mode).toEqual({ kind: "hotp" });
    expect(f.users[1]!.log).toBeNull();
  });

  test("reports an unknown token type and a bad key with their line numbers", () => {
    const bad = (text: string) => {
      try {
        parseOtpUsersFile(text, "users.oath");
      } catch (e) {
        if (e instanceof OtpFileError) return e;
      }
      throw new Error("no error");
    };
    const t = bad(`# comment\nHOTP a - ${KEY_HEX}\nTOTP b - ${KEY_HEX}\n`);
    expect(t.code).toBe("bad-type");
    expect(t.line).toBe(3);
    expect(bad(`HOTP a - xyz\n`).code).toBe("bad-key");
    expect(bad(`HOTP a - ${KEY_HEX} 5\n`).code).toBe("bad-log");
  });

  test("accepts an HOTP inside the window of 20 and records its counter", () => {
    const now = Date.UTC(2026, 0, 1);
    const f = parseOtpUsersFile(`HOTP alice - ${KEY_HEX}\n`, "f");
    const text = okText(validateOtp(f, "alice", RFC4226[5]!, now));
    expect(text).toBe(`HOTP alice - ${KEY_HEX}\t5\t${RFC4226[5]}\t${formatTimestamp(now)}\n`);
    // The window counts from the stored counter: 20 ahead of 0 is the last one accepted.
    expect(validateOtp(f, "alice", hotp(KEY, 20n, 6), now).kind).toBe("ok");
    expect(validateOtp(f, "alice", hotp(KEY, 21n, 6), now)).toEqual({ kind: "fail", reason: "invalid-otp" });
  });

  test("rejects a replayed HOTP and one older than the stored counter, and accepts the next", () => {
    const now = Date.UTC(2026, 0, 1);
    const after = parseOtpUsersFile(okText(validateOtp(parseOtpUsersFile(`HOTP alice - ${KEY_HEX}\n`, "f"), "alice", RFC4226[5]!, now)), "f");
    expect(validateOtp(after, "alice", RFC4226[5]!, now)).toEqual({ kind: "fail", reason: "replayed-otp" });
    expect(validateOtp(after, "alice", RFC4226[4]!, now)).toEqual({ kind: "fail", reason: "invalid-otp" });
    expect(validateOtp(after, "alice", RFC4226[6]!, now).kind).toBe("ok");
  });

  test("accepts a TOTP up to 20 steps away and refuses one 21 steps away", () => {
    const f = parseOtpUsersFile(`HOTP/T30/8 bob - ${KEY_HEX}\n`, "f");
    const at = 1111111109 * 1000;
    expect(validateOtp(f, "bob", "07081804", at).kind).toBe("ok");
    expect(validateOtp(f, "bob", "07081804", at + 20 * 30_000).kind).toBe("ok");
    expect(validateOtp(f, "bob", "07081804", at - 20 * 30_000).kind).toBe("ok");
    expect(validateOtp(f, "bob", "07081804", at + 21 * 30_000)).toEqual({ kind: "fail", reason: "invalid-otp" });
  });

  test("refuses a TOTP that is not newer than the last accepted one", () => {
    const t0 = 1111111109 * 1000;
    const f0 = parseOtpUsersFile(`HOTP/T30/8 bob - ${KEY_HEX}\n`, "f");
    const newer = totp(KEY, t0 + 30_000, 30, 8);
    const f1 = parseOtpUsersFile(okText(validateOtp(f0, "bob", newer, t0 + 30_000)), "f");
    expect(validateOtp(f1, "bob", newer, t0 + 30_000)).toEqual({ kind: "fail", reason: "replayed-otp" });
    // The previous step's OTP is still inside the window, but older than the one just used.
    expect(validateOtp(f1, "bob", "07081804", t0 + 60_000)).toEqual({ kind: "fail", reason: "replayed-otp" });
    expect(validateOtp(f1, "bob", totp(KEY, t0 + 60_000, 30, 8), t0 + 60_000).kind).toBe("ok");
  });

  test("reports an unknown user and tries every line of a user in order", () => {
    const other = "00".repeat(20);
    const f = parseOtpUsersFile(`HOTP carol - ${other}\nHOTP carol - ${KEY_HEX}\n`, "f");
    expect(validateOtp(f, "dave", RFC4226[0]!, 0)).toEqual({ kind: "fail", reason: "unknown-user" });
    const text = okText(validateOtp(f, "carol", RFC4226[1]!, 0));
    expect(text.split("\n")[0]).toBe(`HOTP carol - ${other}`);
    expect(text.split("\n")[1]).toStartWith(`HOTP carol - ${KEY_HEX}\t1\t${RFC4226[1]}\t`);
  });

  test("writes timestamps in liboath's local-time format and reads them back", () => {
    const t = new Date(2015, 8, 25, 13, 18, 42).getTime();
    expect(formatTimestamp(t)).toBe("2015-09-25T13:18:42L");
    const f = parseOtpUsersFile(`HOTP/T30 x - ${KEY_HEX} 1 123456 2015-09-25T13:18:42L\n`, "f");
    expect(f.users[0]!.log?.timestamp).toBe(t);
  });
});
