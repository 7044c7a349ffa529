// Shared by the config tests: the smallest configuration ocserv accepts, and a parse that must succeed.
import { expect } from "bun:test";
import { formatDiagnostic, parseConfig } from "../../src/config/index.ts";
import type { Config } from "../../src/config/index.ts";

/** A minimal valid configuration: 7 lines, so a line appended after it is line 8. */
export const BASE = [
  'auth = "plain[passwd=/etc/ocserv/ocpasswd]"',
  "tcp-port = 443",
  "socket-file = /run/ocserv.socket",
  "device = vpns",
  "server-cert = /etc/ocserv/server-cert.pem",
  "server-key = /etc/ocserv/server-key.pem",
  "ipv4-network = 192.168.1.0/24",
].join("\n");

/** Parses `text` as the file `file`, expecting no diagnostics (shown in full when there are some). */
export function parseClean(text: string, file: string): Config {
  const r = parseConfig(text, file);
  expect(r.errors.map(formatDiagnostic)).toEqual([]);
  return r.config!;
}
