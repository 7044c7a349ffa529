// The syslog sink end to end: libc syslog() → /dev/log. This machine may have no syslog daemon, so the
// test binds /dev/log itself (with a small python receiver, as Bun has no unix datagram sockets) when the
// path is free, and removes it afterwards. If /dev/log already exists it belongs to the system: skip.
import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { createSyslogSink } from "../../src/log/index.ts";
import { SYSLOG_FACILITY_CODES } from "../../src/process/argv.ts";

const RECEIVER = `
import socket, os, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
print("ready", flush=True)
s.settimeout(5)
try:
    for _ in range(int(sys.argv[1])):
        sys.stdout.write(s.recv(8192).decode("utf-8", "replace") + "\\n")
        sys.stdout.flush()
finally:
    os.unlink("/dev/log")
`;

// Binding /dev/log needs root (CI is root).
const canRun = !existsSync("/dev/log") && Bun.which("python3") !== null && process.getuid?.() === 0;

test.skipIf(!canRun)("syslog lines carry facility|severity, the ocserv ident and pid, and '%' verbatim", async () => {
  const receiver = Bun.spawn({ cmd: ["python3", "-c", RECEIVER, "3"], stdout: "pipe", stderr: "inherit" });
  const reader = receiver.stdout.getReader();
  let text = "";
  while (!text.includes("ready\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  const sink = createSyslogSink("ocserv", SYSLOG_FACILITY_CODES.local3);
  sink.write("info", "hello");
  sink.write("error", "user %s%n%x");
  sink.write("debug", "details");
  sink.close();
  while (text.split("\n").filter((l) => l.startsWith("<")).length < 3) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  await receiver.exited;
  const lines = text.split("\n").filter((l) => l.startsWith("<"));
  // local3 = 19 << 3 = 152; info 6, err 3, debug 7.
  expect(lines[0]).toMatch(new RegExp(`^<158>.* ocserv\\[${process.pid}\\]: hello$`));
  expect(lines[1]).toMatch(/^<155>.* ocserv\[\d+\]: user %s%n%x$/);
  expect(lines[2]).toMatch(/^<159>.*: details$/);
  expect(existsSync("/dev/log")).toBe(false);
});
