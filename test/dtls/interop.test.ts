import { test, expect, describe } from "bun:test";
import { existsSync } from "node:fs";
import { randomBytes } from "../../src/crypto/index.ts";
import { toHex } from "../../src/wire/writer.ts";
import { startUdpServer, runClient, includes } from "./udp-harness.ts";

const hasGnutls = Bun.which("gnutls-cli") !== null;
const hasOpenssl = Bun.which("openssl") !== null;
// A DPD-REQ (0x03) carrying "ping": the server answers with the same bytes typed DPD-RESP (0x04).
const DPD = new TextEncoder().encode("\x03ping-interop\n");
const RESP = new TextEncoder().encode("\x04ping-interop");

describe("PSK-NEGOTIATE against real DTLS clients on loopback", () => {
  test.if(hasGnutls)("gnutls-cli completes a DTLS 1.2 PSK handshake and gets a DPD echo", async () => {
    const key = randomBytes(32);
    const srv = await startUdpServer({ kind: "psk", key, allowedSuites: null });
    try {
      const r = await runClient(
        ["gnutls-cli", "--udp", "--insecure", "--pskusername", "psk", "--pskkey", toHex(key), "--priority", "NORMAL:-VERS-ALL:+VERS-DTLS1.2:-KX-ALL:+PSK", "-p", String(srv.port), "127.0.0.1"],
        srv,
        DPD,
        (o) => includes(o, RESP),
      );
      expect(srv.events).toContain("established");
      expect(includes(r.stdout, RESP)).toBe(true);
    } finally {
      srv.close();
    }
  }, 15_000);

  test.if(hasGnutls)("gnutls-cli with only PSK CBC suites gets TLS_PSK_WITH_AES_128_CBC_SHA", async () => {
    const key = randomBytes(32);
    const srv = await startUdpServer({ kind: "psk", key, allowedSuites: null });
    try {
      const r = await runClient(
        ["gnutls-cli", "--udp", "--insecure", "--pskusername", "psk", "--pskkey", toHex(key), "--priority", "NORMAL:-VERS-ALL:+VERS-DTLS1.2:-KX-ALL:+PSK:-CIPHER-ALL:+AES-128-CBC:-MAC-ALL:+SHA1", "-p", String(srv.port), "127.0.0.1"],
        srv,
        DPD,
        (o) => includes(o, RESP),
      );
      expect(srv.channel.current?.suite.name).toBe("TLS_PSK_WITH_AES_128_CBC_SHA");
      expect(includes(r.stdout, RESP)).toBe(true);
    } finally {
      srv.close();
    }
  }, 15_000);

  test.if(hasGnutls)("gnutls-cli over DTLS 1.0 with PSK", async () => {
    const key = randomBytes(32);
    const srv = await startUdpServer({ kind: "psk", key, allowedSuites: null });
    try {
      const r = await runClient(
        ["gnutls-cli", "--udp", "--insecure", "--pskusername", "psk", "--pskkey", toHex(key), "--priority", "NORMAL:-VERS-ALL:+VERS-DTLS1.0:-KX-ALL:+PSK", "-p", String(srv.port), "127.0.0.1"],
        srv,
        DPD,
        (o) => includes(o, RESP),
      );
      expect(srv.channel.current?.version).toBe(0xfeff);
      expect(includes(r.stdout, RESP)).toBe(true);
    } finally {
      srv.close();
    }
  }, 15_000);

  test.if(hasOpenssl)("openssl s_client -dtls1_2 with PSK-AES128-GCM-SHA256 gets a DPD echo", async () => {
    const key = randomBytes(32);
    const srv = await startUdpServer({ kind: "psk", key, allowedSuites: null });
    try {
      const r = await runClient(
        ["openssl", "s_client", "-dtls1_2", "-psk", toHex(key), "-psk_identity", "psk", "-cipher", "PSK-AES128-GCM-SHA256", "-connect", `127.0.0.1:${srv.port}`, "-quiet", "-ign_eof"],
        srv,
        DPD,
        (o) => includes(o, RESP),
      );
      expect(srv.channel.current?.suite.name).toBe("TLS_PSK_WITH_AES_128_GCM_SHA256");
      expect(includes(r.stdout, RESP)).toBe(true);
    } finally {
      srv.close();
    }
  }, 15_000);

  test.if(hasOpenssl)("openssl s_client -dtls1_2 with PSK-AES256-CBC-SHA (MAC-then-encrypt) gets a DPD echo", async () => {
    const key = randomBytes(32);
    const srv = await startUdpServer({ kind: "psk", key, allowedSuites: null });
    try {
      const r = await runClient(
        ["openssl", "s_client", "-dtls1_2", "-psk", toHex(key), "-psk_identity", "psk", "-cipher", "PSK-AES256-CBC-SHA", "-connect", `127.0.0.1:${srv.port}`, "-quiet", "-ign_eof"],
        srv,
        DPD,
        (o) => includes(o, RESP),
      );
      expect(srv.channel.current?.suite.name).toBe("TLS_PSK_WITH_AES_256_CBC_SHA");
      expect(includes(r.stdout, RESP)).toBe(true);
    } finally {
      srv.close();
    }
  }, 15_000);
});

/** DER of an OpenSSL SSL_SESSION (ssl/ssl_asn1.c) holding a master secret and session ID to resume. */
function sslSessionPem(version: number, suite: number, sessionId: Uint8Array, master: Uint8Array): string {
  const tlv = (tag: number, body: Uint8Array): Uint8Array => {
    const len = body.length < 128 ? [body.length] : [0x81, body.length];
    return Uint8Array.from([tag, ...len, ...body]);
  };
  const int = (v: number): Uint8Array => {
    const bytes: number[] = [];
    do {
      bytes.unshift(v & 0xff);
      v = Math.floor(v / 256);
    } while (v > 0);
    if (bytes[0]! & 0x80) bytes.unshift(0);
    return tlv(0x02, Uint8Array.from(bytes));
  };
  const now = Math.floor(Date.now() / 1000);
  const seq = tlv(
    0x30,
    Uint8Array.from([
      ...int(1),
      ...int(version),
      ...tlv(0x04, Uint8Array.of(suite >> 8, suite & 0xff)),
      ...tlv(0x04, sessionId),
      ...tlv(0x04, master),
      ...tlv(0xa1, int(now)),
      ...tlv(0xa2, int(3600)),
    ]),
  );
  const b64 = Buffer.from(seq).toString("base64");
  return `-----BEGIN SSL SESSION PARAMETERS-----\n${b64.match(/.{1,64}/g)!.join("\n")}\n-----END SSL SESSION PARAMETERS-----\n`;
}

describe("legacy resumption against a real DTLS client on loopback", () => {
  test.if(hasOpenssl)("openssl s_client resumes a DTLS 1.2 AES256-GCM-SHA384 session from the master secret", async () => {
    const { resumedSuite } = await import("../../src/dtls/suites.ts");
    const { mkdtempSync, writeFileSync, rmSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const master = randomBytes(48);
    const sessionId = randomBytes(32);
    const dir = mkdtempSync(join(tmpdir(), "dtls-legacy-"));
    const sess = join(dir, "sess.pem");
    writeFileSync(sess, sslSessionPem(0xfefd, 0x009d, sessionId, master));
    const srv = await startUdpServer({ kind: "legacy", masterSecret: master, suite: resumedSuite(0x009d)!, version: 0xfefd });
    try {
      const r = await runClient(
        ["openssl", "s_client", "-dtls1_2", "-sess_in", sess, "-cipher", "AES256-GCM-SHA384", "-legacy_server_connect", "-connect", `127.0.0.1:${srv.port}`, "-quiet", "-ign_eof"],
        srv,
        DPD,
        (o) => includes(o, RESP),
      );
      expect(srv.channel.current?.suite.name).toBe("TLS_RSA_WITH_AES_256_GCM_SHA384");
      expect(includes(r.stdout, RESP)).toBe(true);
    } finally {
      srv.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 15_000);
});

describe("legacy resumption against GnuTLS the way openconnect drives it", () => {
  // gnutls_session_set_premaster + DTLS 0.9 is what openconnect's gnutls-dtls.c does for AES*-SHA.
  const canBuild = Bun.which("gcc") !== null && existsSync("/usr/include/gnutls/gnutls.h");
  let bin: string | null = null;
  async function client(): Promise<string> {
    if (bin !== null) return bin;
    const { mkdtempSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const out = join(mkdtempSync(join(tmpdir(), "dtls-gnutls-")), "legacy-client");
    const src = new URL("./fixtures/gnutls-legacy-client.c", import.meta.url).pathname;
    const r = Bun.spawnSync(["gcc", "-o", out, src, "-lgnutls"], { stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(r.stderr.toString());
    bin = out;
    return out;
  }
  const cases: [string, number, number, string, string][] = [
    ["DTLS 0.9 with AES256-SHA", 0x0035, 0x0100, "0.9", "AES256-SHA"],
    ["DTLS 0.9 with AES128-SHA", 0x002f, 0x0100, "0.9", "AES128-SHA"],
    ["DTLS 1.2 with OC-DTLS1_2-AES256-GCM", 0x009d, 0xfefd, "1.2", "AES256-GCM"],
    ["DTLS 1.2 with OC-DTLS1_2-AES128-GCM", 0x009c, 0xfefd, "1.2", "AES128-GCM"],
  ];
  for (const [name, suiteId, version, v, cipher] of cases) {
    test.if(canBuild)(`a GnuTLS client resumes over ${name} and gets its DPD echoed`, async () => {
      const { resumedSuite } = await import("../../src/dtls/suites.ts");
      const exe = await client();
      const master = randomBytes(48);
      const sid = randomBytes(32);
      const srv = await startUdpServer({ kind: "legacy", masterSecret: master, suite: resumedSuite(suiteId)!, version: version as 0xfefd });
      try {
        const proc = Bun.spawn([exe, String(srv.port), v, cipher, toHex(sid), toHex(master)], { stdout: "pipe", stderr: "pipe" });
        const code = await proc.exited;
        const out = (await new Response(proc.stdout as ReadableStream<Uint8Array>).text()).trim();
        const err = await new Response(proc.stderr as ReadableStream<Uint8Array>).text();
        expect(err).toContain(v === "0.9" ? "(DTLS0.9)" : "(DTLS1.2)");
        expect(code).toBe(0);
        expect(out).toBe(toHex(RESP));
        expect(srv.events).toContain("established");
      } finally {
        srv.close();
      }
    }, 15_000);
  }
});
