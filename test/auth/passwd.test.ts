import { describe, expect, test } from "bun:test";
import { PasswdError, parsePasswdFile } from "../../src/auth/passwd.ts";

const H = "$5$i6SNmLDCgBNjyJ7q$SZ4bVJb7I/DLgXo3txHBVohRFBjOtdbxGQZp.DOnrA.";

function parseError(text: string): PasswdError {
  try {
    parsePasswdFile(text, "ocpasswd");
  } catch (e) {
    if (e instanceof PasswdError) return e;
    throw e;
  }
  throw new Error("parsed without error");
}

describe("parsePasswdFile", () => {
  test("parses the upstream sample.passwd with trimmed groups and '*' meaning no group", () => {
    // ocserv doc/sample.passwd, verbatim.
    const text =
      "test:tost ,  group1  ,  group2:$5$i6SNmLDCgBNjyJ7q$SZ4bVJb7I/DLgXo3txHBVohRFBjOtdbxGQZp.DOnrA.\n" +
      "tost:*:$5$qc1CKWjcmlrFREe2$h9zQJcD3AeuQmwMncdIqqls47TDOUvu2r2nXQ7aDfcD\n";
    const f = parsePasswdFile(text, "sample.passwd");
    expect(f.entries.get("test")?.groups).toEqual(["tost", "group1", "group2"]);
    expect(f.entries.get("tost")?.groups).toEqual([]);
    expect(f.entries.get("test")?.password.kind).toBe("crypt");
    expect(f.groups).toEqual(["tost", "group1", "group2"]);
  });

  test("treats a '!' prefix as a locked account and an empty hash as no password", () => {
    const f = parsePasswdFile(`locked:g1:!${H}\nopen:g2:\n`, "ocpasswd");
    expect(f.entries.get("locked")?.password.kind).toBe("locked");
    expect(f.entries.get("open")?.password.kind).toBe("none");
  });

  test("ignores one-character group names, comment lines, blank lines and CRLF endings", () => {
    const f = parsePasswdFile(`# users\r\n\r\nalice: x , admins,*,ops :${H}\r\n`, "ocpasswd");
    expect(f.entries.get("alice")?.groups).toEqual(["admins", "ops"]);
    expect(f.entries.size).toBe(1);
  });

  test("keeps the first of duplicate entries and reports the duplicate as a warning with its line", () => {
    const f = parsePasswdFile(`bob:first:${H}\nbob:second:${H}\n`, "ocpasswd");
    expect(f.entries.get("bob")?.groups).toEqual(["first"]);
    expect(f.warnings[0]).toContain("ocpasswd:2");
  });

  test("reports a line without three fields with its line number", () => {
    const e = parseError(`alice:g:${H}\nthis line has no colons\n`);
    expect(e.code).toBe("missing-field");
    expect(e.line).toBe(2);
    expect(e.message).toStartWith("ocpasswd:2:");
  });

  test("reports an unsupported hash format with its line number", () => {
    const e = parseError(`a:b:${H}\n\nc:d:$2b$10$abcdefghijklmnopqrstuv\n`);
    expect(e.code).toBe("bad-hash");
    expect(e.line).toBe(3);
    expect(e.message).toContain("$2b$");
  });

  test("rejects a line longer than ocserv's 511-character buffer", () => {
    const e = parseError(`a:${"g".repeat(600)}:${H}\n`);
    expect(e.code).toBe("line-too-long");
    expect(e.line).toBe(1);
  });

  test("rejects an extra ':' field and an over-long username", () => {
    expect(parseError(`a:b:${H}:extra\n`).code).toBe("bad-hash");
    expect(parseError(`${"u".repeat(64)}:b:${H}\n`).code).toBe("bad-username");
  });
});

describe("parsePasswdFile short lines", () => {
  test("skips lines of four characters or fewer counting the newline, as ocserv does", () => {
    const f = parsePasswdFile("ab:\na:b:\n", "ocpasswd");
    // "ab:\n" is 4 characters with its newline and skipped; "a:b:\n" is 5 and is an entry with no password.
    expect([...f.entries.keys()]).toEqual(["a"]);
    expect(f.entries.get("a")?.password.kind).toBe("none");
  });
});
