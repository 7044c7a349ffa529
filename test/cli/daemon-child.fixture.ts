// A stand-in daemon child for test/cli/process.test.ts: reports through the readiness pipe as the real
// server process does, according to its first argument.
import { writeFileSync } from "node:fs";
import { DAEMON_CHILD_ENV, openReadiness, READY_FD } from "../../src/process/daemon.ts";

const mode = process.argv[2];
const marker = process.argv[3];
if (process.env[DAEMON_CHILD_ENV] !== String(READY_FD)) process.exit(3);
const readiness = openReadiness(READY_FD);
if (marker) writeFileSync(marker, `${process.pid} ${process.cwd()}\n`);
switch (mode) {
  case "ready":
    readiness.ready();
    setTimeout(() => process.exit(0), 30_000);
    break;
  case "fail":
    readiness.fail("no listener\nsecond line");
    process.exit(1);
    break;
  case "exit":
    process.exit(7);
    break;
  case "hang":
    setTimeout(() => process.exit(0), 30_000);
    break;
}
