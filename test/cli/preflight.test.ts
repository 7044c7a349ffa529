import { describe, expect, test } from "bun:test";
import { Locator, locateOptions } from "../../src/preflight/locate.ts";
import { formatDiagnostic } from "../../src/preflight/index.ts";

const CONF = [
  "\uFEFF# comment",
  "server-cert = /a.pem",
  "server-key: \"/a.key\"  # inline comment",
  "; another comment",
  "route = 10.0.0.0/8",
  "  192.168.0.0/16",
  "server-cert = /b.pem",
  "[vhost:Example.COM ]",
  "server-cert = /v.pem",
  "[other]",
  "ca-cert = /ignored.pem",
].join("\n");

describe("option locator", () => {
  const loc = new Locator(locateOptions(CONF));

  test("finds each occurrence of a repeated option by index", () => {
    expect(loc.lineOf(null, "server-cert", { index: 0 })).toBe(2);
    expect(loc.lineOf(null, "server-cert", { index: 1 })).toBe(7);
  });

  test("strips quotes and inline comments and accepts ':' as separator", () => {
    expect(locateOptions(CONF).find((l) => l.name === "server-key")).toEqual({ vhost: null, name: "server-key", value: "/a.key", line: 3 });
  });

  test("gives a continuation line to the previous option", () => {
    expect(loc.lineOf(null, "route", { valueHint: "192.168" })).toBe(6);
  });

  test("matches vhost names case-insensitively and falls back to the top level", () => {
    expect(loc.lineOf("example.com", "server-cert")).toBe(9);
    expect(loc.lineOf("example.com", "server-key")).toBe(3);
  });

  test("ignores options in sections that are not vhosts, and answers 0 for unknown ones", () => {
    expect(loc.lineOf(null, "ca-cert")).toBe(0);
  });
});

test("diagnostics are formatted file:line: message, and file: message without a line", () => {
  expect(formatDiagnostic({ file: "/etc/ocserv.conf", line: 12, message: "bad" })).toBe("/etc/ocserv.conf:12: bad");
  expect(formatDiagnostic({ file: "/etc/ocserv.conf", line: 0, message: "unreadable" })).toBe("/etc/ocserv.conf: unreadable");
  expect(formatDiagnostic({ file: "f", line: 3, message: "m" }, "warning")).toBe("f:3: warning: m");
});
