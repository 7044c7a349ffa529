import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AuthMethod } from "../../src/config/types.ts";
import {
  AuthConfigError,
  createAuthenticator,
  formatCrypt,
  hotp,
  MSG_OTP,
  MSG_PASSWORD,
  MSG_PASSWORD_FAILED,
  nodeAuthFs,
  type AuthFs,
  type AuthStep,
  type Authenticator,
} from "../../src/auth/index.ts";

const dir = mkdtempSync(join(tmpdir(), "auth-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCounter = 0;
function file(text: string): string {
  const p = join(dir, `f${fileCounter++}`);
  writeFileSync(p, text, { mode: 0o600 });
  return p;
}

const KEY_HEX = "3132333435363738393031323334353637383930";
const KEY = new Uint8Array(Buffer.from(KEY_HEX, "hex"));
const ALICE = formatCrypt("sha256", "secret", "alicesalt");
const BOB = formatCrypt("sha512", "hunter2", "bobsalt");
const PASSWD = [
  `alice:admins, ops:${ALICE}`,
  `bob:*:${BOB}`,
  `locked:ops:!${formatCrypt("md5", "secret", "lk")}`,
  `nopass:guests:`,
  "",
].join("\n");

const plain = (passwd?: string, otp?: string): AuthMethod => ({ type: "plain", passwd, otp });
const cert: AuthMethod = { type: "certificate" };
const ip = "192.0.2.10";

function expectContinue(step: AuthStep): Extract<AuthStep, { kind: "continue" }> {
  if (step.kind !== "continue") throw new Error(`expected continue, got ${JSON.stringify(step)}`);
  return step;
}

/** start + answer each password in turn, returning every step. */
function run(auth: Authenticator, req: Parameters<Authenticator["start"]>[0], answers: string[]): AuthStep[] {
  const steps = [auth.start(req)];
  for (const a of answers) steps.push(auth.answer(expectContinue(steps[steps.length - 1]!).state, a));
  return steps;
}

describe("plain password authentication", () => {
  const auth = createAuthenticator([plain(file(PASSWD))], []);

  test("asks for the password, then succeeds with the user's first group as default", () => {
    const steps = run(auth, { username: "alice", remoteIp: ip }, ["secret"]);
    const first = expectContinue(steps[0]!);
    expect(first.message).toBe(MSG_PASSWORD);
    expect(first.fieldName).toBe("password");
    expect(first.banPoints).toBe(0);
    expect(steps[1]).toEqual({ kind: "ok", user: "alice", groups: ["admins", "ops"], group: "admins" });
  });

  test("allows a retry after a wrong password, charging ban points for it", () => {
    const steps = run(auth, { username: "bob", remoteIp: ip }, ["wrong", "hunter2"]);
    const retry = expectContinue(steps[1]!);
    expect(retry.message).toBe(MSG_PASSWORD_FAILED);
    expect(retry.banPoints).toBe(10);
    expect(steps[2]).toEqual({ kind: "ok", user: "bob", groups: [], group: null });
  });

  test("fails on the third wrong password", () => {
    const steps = run(auth, { username: "alice", remoteIp: ip }, ["a", "b", "c"]);
    expect(steps[1]!.kind).toBe("continue");
    expect(steps[2]!.kind).toBe("continue");
    expect(steps[3]).toEqual({ kind: "fail", reason: "Authentication failed", banPoints: 10 });
  });

  test("walks an unknown user through the same rounds without ever succeeding", () => {
    const steps = run(auth, { username: "mallory", remoteIp: ip }, ["secret", "hunter2", "x"]);
    expect(expectContinue(steps[0]!).message).toBe(MSG_PASSWORD);
    expect(expectContinue(steps[1]!).message).toBe(MSG_PASSWORD_FAILED);
    expect(steps[3]!.kind).toBe("fail");
  });

  test("never accepts a locked account, even with its right password", () => {
    const steps = run(auth, { username: "locked", remoteIp: ip }, ["secret", "secret", "secret"]);
    expect(steps[1]!.kind).toBe("continue");
    expect(steps[3]!.kind).toBe("fail");
  });

  test("authenticates a user with an empty hash without asking for a password", () => {
    expect(auth.start({ username: "nopass", remoteIp: ip })).toEqual({
      kind: "ok",
      user: "nopass",
      groups: ["guests"],
      group: "guests",
    });
  });

  test("honours a requested group the user belongs to and refuses one they do not", () => {
    const ok = run(auth, { username: "alice", groupRequested: "ops", remoteIp: ip }, ["secret"]);
    expect(ok[1]).toMatchObject({ kind: "ok", group: "ops" });
    const bad = run(auth, { username: "alice", groupRequested: "guests", remoteIp: ip }, ["secret"]);
    expect(bad[1]).toEqual({ kind: "fail", reason: "Authentication failed", banPoints: 10 });
  });

  test("lists every group of the passwd file for auto-select-group", () => {
    expect([...auth.listGroups()].sort()).toEqual(["admins", "guests", "ops"]);
  });

  test("answers 'No password' when the client sent no password field", () => {
    const s = expectContinue(auth.start({ username: "alice", remoteIp: ip }));
    expect(auth.answer(s.state, null)).toMatchObject({ kind: "fail", reason: "No password" });
  });

  test("refuses to answer the same state twice, so retries cannot be replayed", () => {
    const s = expectContinue(auth.start({ username: "alice", remoteIp: ip }));
    expect(auth.answer(s.state, "wrong").kind).toBe("continue");
    expect(auth.answer(s.state, "secret")).toMatchObject({ kind: "fail", reason: "Internal error" });
  });

  test("picks up an edited passwd file at the next login without a reload", () => {
    const p = file(PASSWD);
    const a = createAuthenticator([plain(p)], []);
    expect(run(a, { username: "alice", remoteIp: ip }, ["secret"])[1]!.kind).toBe("ok");
    writeFileSync(p, `alice:admins:${formatCrypt("sha256", "changed", "newsalt")}\n`);
    const past = new Date(Date.now() + 5000);
    utimesSync(p, past, past);
    expect(run(a, { username: "alice", remoteIp: ip }, ["secret"])[1]!.kind).toBe("continue");
    expect(run(a, { username: "alice", remoteIp: ip }, ["changed"])[1]!.kind).toBe("ok");
  });
});

describe("logging", () => {
  test("never logs the password and escapes control characters in client-supplied names", () => {
    const lines: string[] = [];
    const auth = createAuthenticator([plain(file(PASSWD))], [], { log: (_l, m) => lines.push(m) });
    run(auth, { username: "alice", remoteIp: ip }, ["Tr0ub4dor&3", "Tr0ub4dor&3", "Tr0ub4dor&3"]);
    run(auth, { username: "alice", remoteIp: ip }, ["secret"]);
    run(auth, { username: "eve\nforged line", remoteIp: ip }, ["x", "y", "z"]);
    const all = lines.join("\n");
    expect(all).not.toContain("Tr0ub4dor");
    expect(all).not.toContain("secret");
    expect(all).toContain("eve\\x0aforged line");
    expect(all).toContain("user 'alice' authenticated");
  });
});

describe("plain with an OTP file", () => {
  test("runs a second OTP round after the password and advances the HOTP counter in the file", () => {
    const otp = file(`HOTP alice - ${KEY_HEX}\n`);
    const mode = statSync(otp).mode & 0o777;
    const auth = createAuthenticator([plain(file(PASSWD), otp)], []);
    const steps = run(auth, { username: "alice", remoteIp: ip }, ["secret", hotp(KEY, 3n, 6)]);
    const second = expectContinue(steps[1]!);
    expect(second.message).toBe(MSG_OTP);
    expect(second.fieldName).toBe("secondary_password");
    expect(second.banPoints).toBe(0);
    expect(steps[2]).toMatchObject({ kind: "ok", user: "alice", group: "admins" });
    expect(readFileSync(otp, "utf8")).toStartWith(`HOTP alice - ${KEY_HEX}\t3\t${hotp(KEY, 3n, 6)}\t`);
    expect(statSync(otp).mode & 0o777).toBe(mode);
    // The same OTP again is a replay.
    const again = run(auth, { username: "alice", remoteIp: ip }, ["secret", hotp(KEY, 3n, 6)]);
    expect(again[2]).toMatchObject({ kind: "fail", reason: "Authentication failed" });
  });

  test("fails at once on a wrong OTP, without the password retries", () => {
    const auth = createAuthenticator([plain(file(PASSWD), file(`HOTP alice - ${KEY_HEX}\n`))], []);
    const steps = run(auth, { username: "alice", remoteIp: ip }, ["secret", "000000"]);
    expect(steps[2]).toEqual({ kind: "fail", reason: "Authentication failed", banPoints: 10 });
  });

  test("asks only for the OTP when the user's passwd entry has an empty hash", () => {
    const auth = createAuthenticator([plain(file(PASSWD), file(`HOTP nopass - ${KEY_HEX}\n`))], []);
    const steps = run(auth, { username: "nopass", remoteIp: ip }, [hotp(KEY, 0n, 6)]);
    expect(expectContinue(steps[0]!)).toMatchObject({ message: MSG_OTP, fieldName: "password" });
    expect(steps[1]).toMatchObject({ kind: "ok", user: "nopass", group: "guests" });
  });

  test("fails the login when the advanced OTP counter cannot be stored, so the OTP cannot be replayed", () => {
    const otp = file(`HOTP alice - ${KEY_HEX}\n`);
    const fs: AuthFs = {
      ...nodeAuthFs,
      writeAtomic: () => {
        throw new Error("EROFS");
      },
    };
    const auth = createAuthenticator([plain(file(PASSWD), otp)], [], { fs });
    const steps = run(auth, { username: "alice", remoteIp: ip }, ["secret", hotp(KEY, 0n, 6)]);
    expect(steps[2]).toMatchObject({ kind: "fail", reason: "Internal error" });
    expect(readFileSync(otp, "utf8")).toBe(`HOTP alice - ${KEY_HEX}\n`);
  });

  test("asks only for the OTP, in the password field, when there is no passwd file", () => {
    const now = 1111111109 * 1000;
    const auth = createAuthenticator([plain(undefined, file(`HOTP/T30/8 carol - ${KEY_HEX}\n`))], [], { now: () => now });
    const steps = run(auth, { username: "carol", remoteIp: ip }, ["07081804"]);
    const first = expectContinue(steps[0]!);
    expect(first.message).toBe(MSG_OTP);
    expect(first.fieldName).toBe("password");
    expect(steps[1]).toEqual({ kind: "ok", user: "carol", groups: [], group: null });
  });
});

describe("certificate authentication and composition", () => {
  const aliceCert = { user: "alice", groups: ["ops", "admins"] };

  test("plain+certificate requires the typed username to equal the certificate's user", () => {
    const auth = createAuthenticator([plain(file(PASSWD)), cert], [], { certGroupOid: true });
    expect(run(auth, { username: "alice", certificate: aliceCert, remoteIp: ip }, ["secret"])[1]).toMatchObject({
      kind: "ok",
      user: "alice",
    });
    expect(auth.start({ username: "bob", certificate: aliceCert, remoteIp: ip })).toMatchObject({
      kind: "fail",
      reason: "Authentication failed",
    });
    expect(auth.start({ username: "alice", remoteIp: ip })).toMatchObject({ kind: "fail", reason: "No certificate" });
    expect(auth.slotNames).toEqual(["plain+certificate"]);
  });

  test("plain+certificate refuses a group that is not on the certificate when cert-group-oid is set", () => {
    const auth = createAuthenticator([plain(file(PASSWD)), cert], [], { certGroupOid: true });
    const steps = run(auth, { username: "alice", certificate: { user: "alice", groups: ["ops"] }, remoteIp: ip }, ["secret"]);
    expect(steps[1]).toMatchObject({ kind: "fail" }); // default group "admins" is not on the certificate
  });

  test("certificate only completes at start, and checks a requested group against the certificate", () => {
    const auth = createAuthenticator([cert], [], { certGroupOid: true });
    expect(auth.usesPassword(true)).toBe(false);
    expect(auth.start({ certificate: aliceCert, groupRequested: "ops", remoteIp: ip })).toEqual({
      kind: "ok",
      user: "alice",
      groups: ["ops", "admins"],
      group: "ops",
    });
    expect(auth.start({ certificate: aliceCert, groupRequested: "guests", remoteIp: ip }).kind).toBe("fail");
    expect(auth.start({ remoteIp: ip })).toEqual({ kind: "fail", reason: "No certificate", banPoints: 10 });
  });

  test("tells the TLS layer whether to require, request or skip a client certificate", () => {
    const passwd = file(PASSWD);
    expect(createAuthenticator([cert], []).certificateRequest).toBe("require");
    expect(createAuthenticator([plain(passwd), cert], []).certificateRequest).toBe("request");
    expect(createAuthenticator([plain(passwd)], [cert]).certificateRequest).toBe("request");
    expect(createAuthenticator([plain(passwd)], []).certificateRequest).toBe("none");
  });

  test("enable-auth offers certificate as an alternative to plain", () => {
    const auth = createAuthenticator([plain(file(PASSWD))], [cert]);
    expect(auth.usesPassword(false)).toBe(true);
    expect(auth.usesPassword(true)).toBe(false);
    expect(auth.start({ certificate: { user: "zed", groups: [] }, remoteIp: ip })).toMatchObject({ kind: "ok", user: "zed" });
    expect(auth.start({ username: "alice", remoteIp: ip }).kind).toBe("continue");
  });
});

describe("createAuthenticator configuration errors", () => {
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      if (e instanceof AuthConfigError) return e.code;
      throw e;
    }
    return "none";
  };
  const passwd = file(PASSWD);

  test("reports pam, radius, gssapi and oidc as not supported in this build", () => {
    expect(code(() => createAuthenticator([{ type: "pam", service: "ocserv" }], []))).toBe("unsupported-method");
    expect(code(() => createAuthenticator([plain(passwd)], [{ type: "oidc", config: "/x" }]))).toBe("unsupported-method");
    expect(() => createAuthenticator([{ type: "gssapi", requireLocalUserMap: true }], [])).toThrow(/not supported in this build/);
  });

  test("refuses plain without files, two plain methods, and plain as both auth and enable-auth", () => {
    expect(code(() => createAuthenticator([plain()], []))).toBe("plain-without-files");
    expect(code(() => createAuthenticator([plain(passwd), plain(passwd)], []))).toBe("mixed-methods");
    expect(code(() => createAuthenticator([plain(passwd)], [plain(passwd)]))).toBe("duplicate-password-auth");
    expect(code(() => createAuthenticator([], []))).toBe("no-method");
  });

  test("reports an unreadable or malformed passwd file at creation, with the line number", () => {
    expect(code(() => createAuthenticator([plain(join(dir, "missing"))], []))).toBe("file-error");
    const bad = file(`alice:g:${ALICE}\nbroken line here\n`);
    expect(() => createAuthenticator([plain(bad)], [])).toThrow(`${bad}:2:`);
  });
});
