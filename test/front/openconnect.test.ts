// Interop: the real openconnect client authenticates against the front over the project's own TLS,
// on loopback, with the real plain authenticator and ban tracker. `--authenticate` stops after the
// auth exchange and prints the cookie, so no tun device or root is needed.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { TlsServerConnection, parsePriorities, type TlsCredentials } from "../../src/tls/index.ts";
import { loadPrivateKey } from "../../src/x509/keys.ts";
import { parsePem } from "../../src/x509/pem.ts";
import { BanTracker, DEFAULT_BAN_CONFIG, createAuthenticator, formatCrypt } from "../../src/auth/index.ts";
import { createFront } from "../../src/server/front/server.ts";
import { MemorySessionStore, vhostSessionPolicy } from "../../src/server/front/sessions.ts";
import { decodeSid } from "../../src/server/front/cookies.ts";
import type { FrontSocket, FrontTls } from "../../src/server/front/types.ts";
import { FakeTunnels, RecordingLogger, makeConfig } from "./helpers.ts";

const haveTools = Bun.which("openconnect") !== null && Bun.which("openssl") !== null;

let dir = "";
let creds: TlsCredentials;
let passwd = "";

beforeAll(() => {
  if (!haveTools) return;
  dir = mkdtempSync(join(tmpdir(), "front-oc-"));
  const run = (cmd: string[]) => {
    const r = Bun.spawnSync(cmd, { cwd: dir, stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
  };
  run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "key.pem"]);
  run(["openssl", "req", "-new", "-x509", "-key", "key.pem", "-out", "cert.pem", "-days", "2", "-subj", "/CN=localhost"]);
  creds = {
    chain: parsePem(readFileSync(join(dir, "cert.pem"), "utf8")).map((b) => b.der),
    key: loadPrivateKey(readFileSync(join(dir, "key.pem"), "utf8")),
  };
  passwd = join(dir, "passwd");
  writeFileSync(passwd, `test:ops:${formatCrypt("sha512", "secret", "saltsalt")}\n`, { mode: 0o600 });
});

afterAll(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

/** A loopback server: Bun socket → TlsServerConnection → FrontConnection. */
function startServer(extraConfig = "") {
  // The config's own auth line is not used: the authenticator is injected below.
  const config = makeConfig(extraConfig);
  const clock = { now: () => Date.now() };
  const sessions = new MemorySessionStore({ clock, random: (n) => crypto.getRandomValues(new Uint8Array(n)), policy: vhostSessionPolicy(() => config) });
  const auth = createAuthenticator([{ type: "plain", passwd }], []);
  const tunnels = new FakeTunnels();
  const logger = new RecordingLogger();
  const front = createFront({
    config,
    authenticatorFor: () => auth,
    sessions,
    tunnels,
    bans: new BanTracker(DEFAULT_BAN_CONFIG),
    logger,
    clock,
    serverCertificateFor: () => creds.chain[0] ?? null,
  });
  const policyResult = parsePriorities("NORMAL");
  if (!policyResult.ok) throw new Error(policyResult.error);
  type Conn = ReturnType<typeof front.handleConnection>;
  const server = Bun.listen<{ conn: Conn | null; pending: Uint8Array[] }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(sock) {
        sock.data = { conn: null, pending: [] };
        const tls: FrontTls = new TlsServerConnection({ credentials: [creds], policy: policyResult.policy, clientAuth: "none" });
        const socket: FrontSocket = {
          send(bytes) {
            sock.data.pending.push(Uint8Array.from(bytes));
            flushSock();
          },
          end() {
            flushSock();
            sock.end();
          },
          remoteAddress: sock.remoteAddress,
          remotePort: 0,
          localAddress: "127.0.0.1",
        };
        const flushSock = () => {
          while (sock.data.pending.length > 0) {
            const b = sock.data.pending[0] as Uint8Array;
            const n = sock.write(b);
            if (n < b.length) {
              sock.data.pending[0] = b.subarray(Math.max(0, n));
              return;
            }
            sock.data.pending.shift();
          }
        };
        (sock.data as { flush?: () => void }).flush = flushSock;
        sock.data.conn = front.handleConnection({ socket, tls });
      },
      drain(sock) {
        (sock.data as { flush?: () => void }).flush?.();
      },
      data(sock, bytes) {
        void sock.data.conn?.onData(new Uint8Array(bytes));
      },
      close(sock) {
        sock.data.conn?.onPeerClosed();
      },
    },
  });
  return { port: server.port, sessions, logger, tunnels, stop: () => server.stop(true) };
}

async function openconnect(port: number, args: string[], stdin: string, authenticateOnly = true) {
  const pin = `pin-sha256:${createHash("sha256").update(spki()).digest("base64")}`;
  const mode = authenticateOnly ? ["--authenticate"] : [];
  const p = Bun.spawn(["openconnect", ...mode, "--non-inter", `--servercert=${pin}`, ...args, `https://127.0.0.1:${port}/`], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => p.kill(), 10_000);
  p.stdin.write(stdin);
  p.stdin.end();
  const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  const code = await p.exited;
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** The server certificate's SubjectPublicKeyInfo, for openconnect's pin-sha256. */
function spki(): Buffer {
  const r = Bun.spawnSync(["openssl", "x509", "-in", join(dir, "cert.pem"), "-noout", "-pubkey"], { stdout: "pipe" });
  const pem = r.stdout.toString();
  return Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
}

describe.skipIf(!haveTools)("real openconnect client", () => {
  test("authenticates with username and password and receives a cookie of a live session", async () => {
    const srv = startServer("banner = Welcome to the test VPN");
    try {
      const r = await openconnect(srv.port, ["--user=test", "--passwd-on-stdin"], "secret\n");
      expect(r.code).toBe(0);
      const m = /COOKIE='[^']*\bwebvpn=([^;']+)/.exec(r.stdout);
      expect(m).not.toBeNull();
      const sid = decodeSid(m?.[1] ?? "");
      expect(sid).not.toBeNull();
      expect(srv.sessions.lookup(sid as Uint8Array)?.username).toBe("test");
      expect(srv.sessions.lookup(sid as Uint8Array)?.group).toBe("ops");
    } finally {
      srv.stop();
    }
  }, 20_000);

  test("a wrong password is refused and no session is created", async () => {
    const srv = startServer();
    try {
      const r = await openconnect(srv.port, ["--user=test", "--passwd-on-stdin"], "wrong\n");
      expect(r.code).not.toBe(0);
      expect(r.stdout).not.toContain("COOKIE=");
      expect(srv.sessions.size).toBe(0);
    } finally {
      srv.stop();
    }
  }, 20_000);

  test("selects a group from the form's group list", async () => {
    const srv = startServer("select-group = ops[Operations]\nselect-group = dev");
    try {
      const r = await openconnect(srv.port, ["--user=test", "--passwd-on-stdin", "--authgroup=Operations"], "secret\n");
      expect(r.code).toBe(0);
      const sid = decodeSid(/COOKIE='[^']*\bwebvpn=([^;']+)/.exec(r.stdout)?.[1] ?? "");
      expect(sid).not.toBeNull();
      expect(srv.sessions.lookup(sid as Uint8Array)?.group).toBe("ops");
    } finally {
      srv.stop();
    }
  }, 20_000);

  test("presents the cookie in CONNECT, which the front hands to the tunnel side", async () => {
    const srv = startServer();
    try {
      const r = await openconnect(srv.port, ["--user=test", "--passwd-on-stdin"], "secret\n");
      const cookie = /COOKIE='([^']+)'/.exec(r.stdout)?.[1] ?? "";
      // The tunnel side refuses, so openconnect gives up right after CONNECT; no tun is needed.
      srv.tunnels.outcome = { status: 503, reason: "test refusal" };
      const c = await openconnect(srv.port, ["--cookie-on-stdin", "--script-tun", "--script=cat"], `${cookie}\n`, false);
      expect(c.code).not.toBe(0);
      const req = srv.tunnels.requests[0];
      expect(req?.session.username).toBe("test");
      expect(req?.headers.get("X-CSTP-Version")).toBe("1");
      expect(req?.headers.has("X-DTLS-Master-Secret")).toBe(true);
      expect(req?.transport.tls.version).toBe("TLS1.3");
    } finally {
      srv.stop();
    }
  }, 20_000);
});
