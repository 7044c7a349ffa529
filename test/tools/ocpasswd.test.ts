import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parsePasswdFile, verifyCrypt } from "../../src/auth/index.ts";
import {
  applyPasswdOperation,
  makeEntryLine,
  normalizeGroups,
  OcpasswdError,
  parseOcpasswdArgs,
  randomSalt,
} from "../../src/tools/ocpasswd.ts";
import { openssl, runApplet, tempDir } from "./helpers.ts";

const tmp = tempDir("ocpasswd");
afterAll(() => tmp.cleanup());
let n = 0;
const fresh = () => join(tmp.dir, `passwd-${++n}`);

function entry(text: string, user: string) {
  const e = parsePasswdFile(text, "test").entries.get(user);
  if (e === undefined) throw new Error(`no entry for ${user}`);
  return e;
}

describe("ocpasswd entry lines", () => {
  test("a new entry is SHA-256-crypt with a 16-character salt from upstream's alphabet and verifies with src/auth", () => {
    const line = makeEntryLine("alice", "staff,admins", "s3cret!");
    expect(line).toMatch(/^alice:staff,admins:\$5\$[0-9a-zA-Z./]{16}\$[./0-9A-Za-z]{43}$/);
    const e = entry(line, "alice");
    expect(e.groups).toEqual(["staff", "admins"]);
    expect(e.password.kind).toBe("crypt");
    if (e.password.kind !== "crypt") return;
    expect(verifyCrypt(e.password.hash, "s3cret!")).toBe(true);
    expect(verifyCrypt(e.password.hash, "s3cret")).toBe(false);
  });

  test("the hash is the one `openssl passwd -5` computes for the same salt", () => {
    const line = makeEntryLine("bob", "*", "pa:ss wörd");
    const hash = line.split(":").slice(2).join(":");
    const salt = hash.split("$")[2]!;
    const r = openssl(["passwd", "-5", "-salt", salt, "-stdin"], { stdin: new TextEncoder().encode("pa:ss wörd\n") });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(hash);
  });

  test("salts differ between calls (they come from the CSPRNG)", () => {
    const salts = new Set(Array.from({ length: 20 }, () => randomSalt()));
    expect(salts.size).toBe(20);
    for (const s of salts) expect(s).toMatch(/^[0-9a-zA-Z./]{16}$/);
  });

  test("usernames and passwords that would corrupt the file or never log in are refused", () => {
    expect(() => makeEntryLine("a:b", "*", "x")).toThrow(OcpasswdError);
    expect(() => makeEntryLine("a\nb", "*", "x")).toThrow(OcpasswdError);
    expect(() => makeEntryLine("", "*", "x")).toThrow(OcpasswdError);
    expect(() => makeEntryLine("x".repeat(64), "*", "x")).toThrow(OcpasswdError);
    expect(() => makeEntryLine("user", "*", "")).toThrow(/Please specify a password/);
    expect(() => makeEntryLine("user", "*", "x".repeat(257))).toThrow(OcpasswdError);
  });

  test("group lists are trimmed and joined, and no group is written as '*'", () => {
    expect(normalizeGroups(null)).toBe("*");
    expect(normalizeGroups(" staff , admins ,, ")).toBe("staff,admins");
    expect(normalizeGroups("")).toBe("*");
    expect(() => normalizeGroups("a:b")).toThrow(OcpasswdError);
    expect(() => normalizeGroups("g".repeat(256))).toThrow(OcpasswdError);
  });
});

describe("ocpasswd file edits", () => {
  const a = "alice:staff:$5$i6SNmLDCgBNjyJ7q$SZ4bVJb7I/DLgXo3txHBVohRFBjOtdbxGQZp.DOnrA.\n";
  const b = "bob:*:$5$kDNrlGibUoktiQ0n$mE/ys1XehvvoWQiSqAfB.Aw1WbAYayMV/ZYTX/6IlkC\n";

  test("setting a password replaces the user's line in place and keeps the others byte for byte", () => {
    const out = applyPasswdOperation(`${a}garbage line\n${b}`, { kind: "set", username: "alice", line: "alice:*:NEW" });
    expect(out).toBe(`alice:*:NEW\ngarbage line\n${b}`);
  });

  test("a new user is appended, after a line end is added to an unterminated last line", () => {
    expect(applyPasswdOperation(b.trimEnd(), { kind: "set", username: "carol", line: "carol:*:H" })).toBe(`${b}carol:*:H\n`);
    expect(applyPasswdOperation(null, { kind: "set", username: "carol", line: "carol:*:H" })).toBe("carol:*:H\n");
  });

  test("only an exact username before the first ':' matches", () => {
    expect(() => applyPasswdOperation(`${a}${b}`, { kind: "delete", username: "ali" })).toThrow(/not in the password file/);
    expect(applyPasswdOperation(`${a}${b}`, { kind: "set", username: "ali", line: "ali:*:H" })).toBe(`${a}${b}ali:*:H\n`);
  });

  test("lock adds one '!' and is idempotent; unlock removes it; CRLF line ends are kept", () => {
    const crlf = a.replace("\n", "\r\n");
    const locked = applyPasswdOperation(crlf + b, { kind: "lock", username: "alice" });
    expect(locked).toBe(`alice:staff:!$5$i6SNmLDCgBNjyJ7q$SZ4bVJb7I/DLgXo3txHBVohRFBjOtdbxGQZp.DOnrA.\r\n${b}`);
    expect(applyPasswdOperation(locked, { kind: "lock", username: "alice" })).toBe(locked);
    expect(entry(locked, "alice").password.kind).toBe("locked");
    expect(applyPasswdOperation(locked, { kind: "unlock", username: "alice" })).toBe(crlf + b);
  });

  test("delete removes every line of the user", () => {
    expect(applyPasswdOperation(`${a}${b}${a}`, { kind: "delete", username: "alice" })).toBe(b);
  });

  test("lock, unlock and delete of a user who is not there are errors", () => {
    for (const kind of ["lock", "unlock", "delete"] as const) {
      expect(() => applyPasswdOperation(b, { kind, username: "nobody" })).toThrow(/not in the password file/);
      expect(() => applyPasswdOperation(null, { kind, username: "nobody" })).toThrow(OcpasswdError);
    }
  });
});

describe("ocpasswd command line", () => {
  test("accepts upstream's spellings", () => {
    expect(parseOcpasswdArgs(["-c", "f", "-g", "g1,g2", "u"])).toEqual({ kind: "run", file: "f", action: "set", username: "u", groups: "g1,g2" });
    expect(parseOcpasswdArgs(["--passwd=f", "--groupname", "g", "u"])).toMatchObject({ file: "f", groups: "g" });
    expect(parseOcpasswdArgs(["u", "--group=g", "-cf"])).toMatchObject({ file: "f", groups: "g", username: "u" });
    expect(parseOcpasswdArgs(["-l", "u"])).toMatchObject({ action: "lock", file: "/etc/ocserv/ocpasswd", groups: "*" });
    expect(parseOcpasswdArgs(["-h"])).toEqual({ kind: "help" });
    expect(parseOcpasswdArgs(["--version"])).toEqual({ kind: "version" });
  });

  test("rejects bad command lines", () => {
    for (const argv of [[], ["a", "b"], ["-l", "-u", "x"], ["-d", "-l", "x"], ["-x", "u"], ["-c"], ["-l", "-g", "g", "u"], ["a:b"], ["-c", "", "u"]]) {
      expect(parseOcpasswdArgs(argv).kind).toBe("error");
    }
  });
});

describe("ocpasswd as a process", () => {
  test("adds a user with groups from one stdin line, writing a 0600 file the server's parser accepts", async () => {
    const file = fresh();
    const r = await runApplet("ocpasswd", ["-c", file, "-g", "staff, admins", "alice"], { stdin: "correct horse\nignored second line\n" });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(existsSync(`${file}.tmp`)).toBe(false);
    const text = readFileSync(file, "utf8");
    const e = entry(text, "alice");
    expect(e.groups).toEqual(["staff", "admins"]);
    if (e.password.kind !== "crypt") throw new Error("expected a crypt hash");
    expect(verifyCrypt(e.password.hash, "correct horse")).toBe(true);
    // Re-hash with openssl and the stored salt: the same string.
    const stored = text.trim().split(":")[2]!;
    const salt = stored.split("$")[2]!;
    expect(openssl(["passwd", "-5", "-salt", salt, "correct horse"]).stdout.trim()).toBe(stored);
  });

  test("lock, unlock and delete change only that user, and keep mode 0600", async () => {
    const file = fresh();
    expect((await runApplet("ocpasswd", ["-c", file, "alice"], { stdin: "pw-a\n" })).code).toBe(0);
    expect((await runApplet("ocpasswd", ["-c", file, "-g", "g2", "bob"], { stdin: "pw-b\r\n" })).code).toBe(0);
    const before = readFileSync(file, "utf8");
    const bobLine = before.split("\n")[1]!;

    expect((await runApplet("ocpasswd", ["-c", file, "-l", "alice"])).code).toBe(0);
    let text = readFileSync(file, "utf8");
    expect(entry(text, "alice").password.kind).toBe("locked");
    expect(text.split("\n")[1]).toBe(bobLine);

    expect((await runApplet("ocpasswd", ["--passwd", file, "--unlock", "alice"])).code).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(before);
    const bob = entry(before, "bob");
    if (bob.password.kind !== "crypt") throw new Error("expected a crypt hash");
    expect(verifyCrypt(bob.password.hash, "pw-b")).toBe(true);

    expect((await runApplet("ocpasswd", ["-c", file, "-d", "alice"])).code).toBe(0);
    text = readFileSync(file, "utf8");
    expect(text).toBe(`${bobLine}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  test("setting a password again without -g resets the groups to none, as upstream does", async () => {
    const file = fresh();
    await runApplet("ocpasswd", ["-c", file, "-g", "staff", "alice"], { stdin: "one\n" });
    await runApplet("ocpasswd", ["-c", file, "alice"], { stdin: "two\n" });
    const text = readFileSync(file, "utf8");
    expect(text.split("\n").filter((l) => l !== "").length).toBe(1);
    const e = entry(text, "alice");
    expect(e.groups).toEqual([]);
    if (e.password.kind !== "crypt") throw new Error("expected a crypt hash");
    expect(verifyCrypt(e.password.hash, "two")).toBe(true);
  });

  test("reads files upstream ocpasswd wrote and keeps their other lines", async () => {
    const file = fresh();
    const upstream = [
      "test:tost,group1, group2 , group3:$5$i6SNmLDCgBNjyJ7q$SZ4bVJb7I/DLgXo3txHBVohRFBjOtdbxGQZp.DOnrA.",
      "sp@c/al:*:$5$kDNrlGibUoktiQ0n$mE/ys1XehvvoWQiSqAfB.Aw1WbAYayMV/ZYTX/6IlkC",
      "",
    ].join("\n");
    writeFileSync(file, upstream, { mode: 0o644 });
    expect((await runApplet("ocpasswd", ["-c", file, "-l", "sp@c/al"])).code).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(upstream.replace("*:$5$kD", "*:!$5$kD"));
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  test("an empty password line, a missing user and an existing lock file fail with exit 1 and change nothing", async () => {
    const file = fresh();
    await runApplet("ocpasswd", ["-c", file, "alice"], { stdin: "pw\n" });
    const before = readFileSync(file, "utf8");

    let r = await runApplet("ocpasswd", ["-c", file, "bob"], { stdin: "\n" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Please specify a password");
    r = await runApplet("ocpasswd", ["-c", file, "bob"]);
    expect(r.code).toBe(1);

    r = await runApplet("ocpasswd", ["-c", file, "-d", "bob"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("'bob' is not in the password file");

    writeFileSync(`${file}.tmp`, "");
    r = await runApplet("ocpasswd", ["-c", file, "-d", "alice"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`file '${file}' is locked.`);
    expect(existsSync(`${file}.tmp`)).toBe(true); // someone else's lock is not ours to remove

    expect(readFileSync(file, "utf8")).toBe(before);
    r = await runApplet("ocpasswd", ["-c", join(tmp.dir, "no-such-dir", "f"), "-l", "x"]);
    expect(r.code).toBe(1);
  });

  test("a bad option prints the usage on stderr and exits 1; -h and -v exit 0", async () => {
    let r = await runApplet("ocpasswd", ["--bogus", "u"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("unknown option '--bogus'");
    expect(r.stderr).toContain("Usage: ocpasswd");
    r = await runApplet("ocpasswd", ["-h"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("-c, --passwd FILE");
    r = await runApplet("ocpasswd", ["-v"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ocpasswd .*\d+\.\d+\.\d+\n$/);
  });

  // Upstream ocpasswd (Debian's ocserv package, installed in CI) locks our entry and we unlock theirs.
  const which = Bun.spawnSync({ cmd: ["sh", "-c", "command -v ocpasswd"], stdout: "pipe" });
  const upstream = which.exitCode === 0 ? which.stdout.toString().trim() : null;
  test.skipIf(upstream === null)("upstream ocpasswd's files and ours are read the same way by each other", async () => {
    if (upstream === null) return;
    const file = fresh();
    await runApplet("ocpasswd", ["-c", file, "-g", "g1", "ours"], { stdin: "pw1\n" });
    const theirs = Bun.spawnSync({ cmd: [upstream, "-c", file, "-g", "g2", "theirs"], stdin: new TextEncoder().encode("pw2\n") });
    expect(theirs.exitCode).toBe(0);
    expect(Bun.spawnSync({ cmd: [upstream, "-c", file, "-l", "ours"] }).exitCode).toBe(0);
    let parsed = parsePasswdFile(readFileSync(file, "utf8"), file);
    expect(parsed.entries.get("ours")?.password.kind).toBe("locked");
    const t = parsed.entries.get("theirs")!;
    if (t.password.kind !== "crypt") throw new Error("expected a crypt hash");
    expect(verifyCrypt(t.password.hash, "pw2")).toBe(true);
    expect((await runApplet("ocpasswd", ["-c", file, "-u", "ours"])).code).toBe(0);
    parsed = parsePasswdFile(readFileSync(file, "utf8"), file);
    const o = parsed.entries.get("ours")!;
    if (o.password.kind !== "crypt") throw new Error("expected a crypt hash");
    expect(verifyCrypt(o.password.hash, "pw1")).toBe(true);
    expect(o.groups).toEqual(["g1"]);
  });
});

// On a terminal the password is asked twice with echo off (getpass). Bun has no pty API, so python3's
// pty module (installed in CI) plays the terminal.
const PTY_DRIVER = `
import os, pty, sys, time
answers = sys.argv[1:3]
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[3], sys.argv[3:])
out = b""
def read_until(marker):
    global out
    end = time.time() + 20
    while marker not in out and time.time() < end:
        try:
            out += os.read(fd, 1024)
        except OSError:
            return
read_until(b"Enter password: ")
os.write(fd, answers[0].encode() + b"\\r")
read_until(b"Re-enter password: ")
os.write(fd, answers[1].encode() + b"\\r")
while True:
    try:
        d = os.read(fd, 1024)
    except OSError:
        break
    if not d:
        break
    out += d
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode("utf-8", "replace"))
sys.exit(os.WEXITSTATUS(status))
`;

const hasPython = Bun.spawnSync({ cmd: ["sh", "-c", "command -v python3"] }).exitCode === 0;
describe.skipIf(!hasPython)("ocpasswd on a terminal", () => {
  const drive = (file: string, first: string, second: string) =>
    Bun.spawnSync({
      cmd: ["python3", "-c", PTY_DRIVER, first, second, process.execPath, join(import.meta.dir, "../../src/cli.ts"), "-c", file, "tty-user"],
      env: { ...process.env, OCSERV_APPLET: "ocpasswd" },
      stdout: "pipe",
      stderr: "pipe",
    });

  test("asks twice without echoing and stores the password", () => {
    const file = fresh();
    const r = drive(file, "Typed-Secret-1", "Typed-Secret-1");
    const shown = r.stdout.toString();
    expect(r.exitCode).toBe(0);
    expect(shown).toContain("Enter password: ");
    expect(shown).toContain("Re-enter password: ");
    expect(shown).not.toContain("Typed-Secret-1");
    const e = entry(readFileSync(file, "utf8"), "tty-user");
    if (e.password.kind !== "crypt") throw new Error("expected a crypt hash");
    expect(verifyCrypt(e.password.hash, "Typed-Secret-1")).toBe(true);
  });

  test("two different answers are refused and nothing is written", () => {
    const file = fresh();
    const r = drive(file, "one-thing", "another");
    expect(r.exitCode).toBe(1);
    expect(r.stdout.toString()).toContain("Passwords do not match");
    expect(existsSync(file)).toBe(false);
  });
});
