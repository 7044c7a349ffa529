// Full-TLS-handshake load generator, run by bench/lab.ts inside the lab's client namespace:
//   bun bench/lib/handshake-client.ts HOST PORT SECONDS CONCURRENCY
// Keeps CONCURRENCY connections in flight; each one does a full handshake (no session resumption: no
// session is ever offered back), counts it on 'secureConnect', and is destroyed at once. Prints one JSON
// line: { handshakes, errors, seconds, protocol, cipher, firstError }.
// node:tls is the client here because this is bench code (the server under test is never node:tls).

import * as tls from "node:tls";

const [host = "", portText = "", secondsText = "", concText = ""] = process.argv.slice(2);
const port = Number(portText), seconds = Number(secondsText), concurrency = Number(concText);
if (!host || !(port > 0) || !(seconds > 0) || !(concurrency > 0)) {
  console.error("usage: handshake-client.ts HOST PORT SECONDS CONCURRENCY");
  process.exit(2);
}

let handshakes = 0, errors = 0;
let protocol = "", cipher = "", firstError = "";
const start = performance.now();
const end = start + seconds * 1000;

function one(done: () => void): void {
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    s.destroy();
    done();
  };
  // The servers present a lab-CA certificate; verification is not what is measured, so it is off.
  const s = tls.connect({ host, port, rejectUnauthorized: false, minVersion: "TLSv1.2" });
  s.setTimeout(5000, () => {
    errors++;
    firstError ||= "timeout";
    finish();
  });
  s.once("secureConnect", () => {
    handshakes++;
    if (!protocol) {
      protocol = s.getProtocol() ?? "";
      cipher = s.getCipher()?.name ?? "";
    }
    finish();
  });
  s.once("error", (e: Error) => {
    errors++;
    firstError ||= e.message;
    finish();
  });
}

await new Promise<void>((resolveAll) => {
  let active = 0;
  const loop = (): void => {
    active--;
    if (performance.now() < end) {
      active++;
      one(loop);
    } else if (active === 0) resolveAll();
  };
  for (let i = 0; i < concurrency; i++) {
    active++;
    one(loop);
  }
});

console.log(JSON.stringify({ handshakes, errors, seconds: (performance.now() - start) / 1000, protocol, cipher, firstError }));
process.exit(0);
