// Interop with `openssl s_client` (and curl) over loopback against TlsServerConnection on Bun.listen.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parsePem } from "../../src/x509/pem.ts";
import { SessionCache, type TlsServerConfig, type TlsServerConnection } from "../../src/tls/index.ts";
import { makeCerts, policy, runClient, serve, type CertFiles, type KeyKind } from "./harness.ts";

const HAVE_TOOL = Bun.which("openssl") !== null;
let certs: CertFiles;
beforeAll(() => {
  if (HAVE_TOOL) certs = makeCerts();
});
afterAll(() => certs?.cleanup());

const dec = new TextDecoder();
/** Echoes each record back and closes, so that the client process ends by itself. */
function echoAndClose(conn: TlsServerConnection, data: Uint8Array): void {
  conn.write(data);
  conn.close();
}

async function sClient(config: TlsServerConfig, args: string[], input: string | string[] = "hello\n", respond = echoAndClose, delay = 0) {
  const srv = serve(config, { respond });
  try {
    const r = await runClient(
      ["openssl", "s_client", "-connect", `127.0.0.1:${srv.port}`, "-servername", "localhost", ...args],
      input,
      8000,
      delay,
    );
    return { ...r, conn: srv.connections[0]! };
  } finally {
    srv.stop();
  }
}

function cfg(kind: KeyKind | KeyKind[], over: Partial<TlsServerConfig> = {}, prio = "NORMAL"): TlsServerConfig {
  const kinds = Array.isArray(kind) ? kind : [kind];
  return { credentials: kinds.map((k) => certs.creds(k)), policy: policy(prio), clientAuth: "none", ...over };
}

describe.skipIf(!HAVE_TOOL)("openssl s_client, TLS 1.3", () => {
  for (const group of ["X25519", "P-256", "P-384"]) {
    test(`completes a handshake with -groups ${group} and echoes data`, async () => {
      const r = await sClient(cfg("rsa"), ["-tls1_3", "-groups", group, "-ign_eof"]);
      expect(r.stdout).toContain("New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384");
      expect(r.stdout).toContain("\nhello\n");
      expect(r.conn.info?.group).toBe(({ X25519: "x25519", "P-256": "secp256r1", "P-384": "secp384r1" } as const)[group]);
    });
  }

  for (const [kind, sigalg, expectText] of [
    ["rsa", "rsa_pss_rsae_sha256", "Peer signature type: RSA-PSS"],
    ["p256", "ecdsa_secp256r1_sha256", "Peer signature type: ECDSA"],
    ["p384", "ecdsa_secp384r1_sha384", "Peer signature type: ECDSA"],
    ["ed25519", "ed25519", "Peer signature type: ed25519"],
  ] as const) {
    test(`authenticates with a ${kind} key using ${sigalg}`, async () => {
      const r = await sClient(cfg(kind), ["-tls1_3", "-sigalgs", sigalg, "-ign_eof"]);
      expect(r.stdout).toContain(expectText);
      expect(r.stdout).toContain("\nhello\n");
    });
  }

  test("picks the credential that matches the client's signature algorithms", async () => {
    const r = await sClient(cfg(["rsa", "p256"]), ["-tls1_3", "-sigalgs", "ecdsa_secp256r1_sha256", "-ign_eof"]);
    expect(r.stdout).toContain("Peer signature type: ECDSA");
  });

  test("negotiates TLS_AES_128_GCM_SHA256 when the client asks for it", async () => {
    const r = await sClient(cfg("p256"), ["-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256", "-ign_eof"]);
    expect(r.stdout).toContain("Cipher is TLS_AES_128_GCM_SHA256");
  });

  test("sends a HelloRetryRequest when the client's first share does not fit", async () => {
    const r = await sClient(cfg("p256", {}, "NORMAL:-GROUP-X25519"), ["-tls1_3", "-groups", "X25519:P-256", "-ign_eof"]);
    expect(r.stdout).toContain("Server Temp Key: ECDH, prime256v1");
    expect(r.stdout).toContain("\nhello\n");
  });

  test("resumes with a session ticket (-sess_out / -sess_in)", async () => {
    const cache = new SessionCache(300, 100);
    const sess = join(certs.dir, "sess13.pem");
    const first = await sClient(cfg("rsa", { sessionCache: cache }), ["-tls1_3", "-sess_out", sess, "-ign_eof"]);
    expect(first.stdout).toContain("New, TLSv1.3");
    expect(first.stdout).toContain("Post-Handshake New Session Ticket arrived");
    const second = await sClient(cfg("rsa", { sessionCache: cache }), ["-tls1_3", "-sess_in", sess, "-ign_eof"]);
    expect(second.stdout).toContain("Reused, TLSv1.3");
    expect(second.stdout).toContain("\nhello\n");
    expect(second.conn.info?.resumed).toBe(true);
  });

  test("exports the same keying material as openssl (EXPORTER-openconnect-psk)", async () => {
    let exported = "";
    const r = await sClient(
      cfg("rsa"),
      ["-tls1_3", "-keymatexport", "EXPORTER-openconnect-psk", "-keymatexportlen", "32", "-ign_eof"],
      "x\n",
      (conn, data) => {
        exported = Buffer.from(conn.exportKeyingMaterial("EXPORTER-openconnect-psk", null, 32)).toString("hex").toUpperCase();
        echoAndClose(conn, data);
      },
    );
    const m = /Keying material: ([0-9A-F]+)/.exec(r.stdout);
    expect(m?.[1]).toBe(exported);
    expect(exported.length).toBe(64);
  });

  test("follows a client KeyUpdate that requests ours (K) and keeps echoing", async () => {
    const r = await sClient(cfg("p256"), ["-tls1_3"], ["K\n", "after\n"], echoAndClose, 300);
    expect(r.stderr).toContain("KEYUPDATE");
    expect(r.stdout).toContain("\nafter\n");
    expect(r.conn.error).toBeNull();
  });

  test("follows a client KeyUpdate (k)", async () => {
    const r = await sClient(cfg("p256"), ["-tls1_3"], ["k\n", "after\n"], echoAndClose, 300);
    expect(r.stderr).toContain("KEYUPDATE");
    expect(r.stdout).toContain("\nafter\n");
    expect(r.conn.error).toBeNull();
  });

  test("sends a server KeyUpdate that openssl accepts", async () => {
    const r = await sClient(cfg("p256"), ["-tls1_3", "-ign_eof"], "rekey\n", (conn) => {
      conn.keyUpdate(true);
      conn.write(new TextEncoder().encode("rekeyed\n"));
      conn.write(new TextEncoder().encode("again\n"));
      conn.close();
    });
    expect(r.stdout).toContain("rekeyed\nagain\n");
    expect(r.conn.error).toBeNull();
  });
});

describe.skipIf(!HAVE_TOOL)("openssl s_client, TLS 1.2", () => {
  for (const [cipher, kind, name] of [
    ["ECDHE-RSA-AES128-GCM-SHA256", "rsa", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"],
    ["ECDHE-RSA-AES256-GCM-SHA384", "rsa", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"],
    ["ECDHE-ECDSA-AES128-GCM-SHA256", "p256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"],
    ["ECDHE-ECDSA-AES256-GCM-SHA384", "p384", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"],
    ["AES128-GCM-SHA256", "rsa", "TLS_RSA_WITH_AES_128_GCM_SHA256"],
    ["AES256-GCM-SHA384", "rsa", "TLS_RSA_WITH_AES_256_GCM_SHA384"],
    ["AES128-SHA", "rsa", "TLS_RSA_WITH_AES_128_CBC_SHA"],
    ["AES256-SHA", "rsa", "TLS_RSA_WITH_AES_256_CBC_SHA"],
    ["ECDHE-RSA-AES128-SHA", "rsa", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"],
    ["ECDHE-ECDSA-AES256-SHA", "p256", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"],
    ["AES128-SHA256", "rsa", "TLS_RSA_WITH_AES_128_CBC_SHA256"],
  ] as const) {
    test(`negotiates ${cipher} and echoes data`, async () => {
      const r = await sClient(cfg(kind, {}, "NORMAL:+SHA256"), ["-tls1_2", "-cipher", cipher, "-ign_eof"], "hello\n".repeat(300));
      expect(r.stdout).toContain(`Cipher is ${cipher}`);
      expect(r.stdout).toContain("\nhello\nhello\n");
      expect(r.conn.info?.cipherSuite).toBe(name);
      expect(r.conn.info?.safeRenegotiation).toBe(true);
    });
  }

  for (const group of ["X25519", "P-256", "P-384"]) {
    test(`uses ECDHE group ${group}`, async () => {
      const r = await sClient(cfg("rsa"), ["-tls1_2", "-groups", group, "-ign_eof"]);
      expect(r.stdout).toContain("\nhello\n");
      expect(r.stdout).toMatch(/Server Temp Key: (X25519|ECDH)/);
    });
  }

  for (const [prio, ems] of [
    ["NORMAL", "yes"],
    ["NORMAL:%NO_SESSION_HASH", "no"],
  ] as const) {
    test(`exports the same RFC 5705 keying material as openssl (extended master secret: ${ems})`, async () => {
      let exported = "";
      const r = await sClient(
        cfg("rsa", {}, prio),
        ["-tls1_2", "-keymatexport", "EXPORTER-openconnect-psk", "-keymatexportlen", "32", "-ign_eof"],
        "x\n",
        (conn, data) => {
          exported = Buffer.from(conn.exportKeyingMaterial("EXPORTER-openconnect-psk", null, 32)).toString("hex").toUpperCase();
          echoAndClose(conn, data);
        },
      );
      expect(r.stdout).toContain(`Extended master secret: ${ems}`);
      expect(/Keying material: ([0-9A-F]+)/.exec(r.stdout)?.[1]).toBe(exported);
    });
  }

  test("resumes a session by session ID from the cache", async () => {
    const cache = new SessionCache(300, 100);
    const sess = join(certs.dir, "sess.pem");
    const first = await sClient(cfg("rsa", { sessionCache: cache }), ["-tls1_2", "-sess_out", sess, "-ign_eof"]);
    expect(first.stdout).toContain("New, TLSv1.2");
    expect(cache.size).toBe(1);
    const second = await sClient(cfg("rsa", { sessionCache: cache }), ["-tls1_2", "-sess_in", sess, "-ign_eof"]);
    expect(second.stdout).toContain("Reused, TLSv1.2");
    expect(second.stdout).toContain("\nhello\n");
    expect(second.conn.info?.resumed).toBe(true);
  });

  test("refuses a client-initiated renegotiation with no_renegotiation", async () => {
    const r = await sClient(cfg("rsa"), ["-tls1_2"], ["R\n", "x\n"], echoAndClose, 300);
    expect(r.conn.error?.code).toBe("renegotiation-refused");
    expect(r.stderr).toContain("no renegotiation");
  });
});

describe.skipIf(!HAVE_TOOL)("client certificates", () => {
  const expectedClient = (): Uint8Array => parsePem(readFileSync(certs.clientCert, "utf8"))[0]!.der;
  const verify: TlsServerConfig["verifyClientChain"] = (chain) =>
    Buffer.from(chain[0]!).equals(Buffer.from(expectedClient())) ? { ok: true } : { ok: false, alert: "unknown_ca" };

  for (const v of ["-tls1_3", "-tls1_2"]) {
    test(`accepts a certificate the verifier trusts (${v})`, async () => {
      const r = await sClient(cfg("rsa", { clientAuth: "require", verifyClientChain: verify }), [v, "-cert", certs.clientCert, "-key", certs.clientKey, "-ign_eof"]);
      expect(r.stdout).toContain("\nhello\n");
      expect(r.conn.info?.peerCertificates.length).toBe(1);
    });

    test(`rejects a certificate the verifier refuses with its alert (${v})`, async () => {
      const r = await sClient(cfg("rsa", { clientAuth: "require", verifyClientChain: verify }), [v, "-cert", certs.cert("p256"), "-key", certs.key("p256"), "-ign_eof"]);
      expect(r.stderr).toContain("unknown ca");
      expect(r.conn.error?.code).toBe("certificate-rejected");
    });

    test(`refuses a missing certificate when required (${v})`, async () => {
      const r = await sClient(cfg("rsa", { clientAuth: "require", verifyClientChain: verify }), [v, "-ign_eof"]);
      expect(r.conn.error?.code).toBe("certificate-required");
      expect(r.stdout).not.toContain("\nhello\n");
    });

    test(`verifies an RSA client key's CertificateVerify (${v})`, async () => {
      const r = await sClient(cfg("p256", { clientAuth: "require" }), [v, "-cert", certs.cert("rsa"), "-key", certs.key("rsa"), "-ign_eof"]);
      expect(r.stdout).toContain("\nhello\n");
      expect(r.conn.info?.peerCertificates.length).toBe(1);
    });

    test(`allows a missing certificate when only requested (${v})`, async () => {
      const r = await sClient(cfg("rsa", { clientAuth: "request", verifyClientChain: verify }), [v, "-ign_eof"]);
      expect(r.stdout).toContain("\nhello\n");
      expect(r.conn.info?.peerCertificates.length).toBe(0);
    });
  }
});

describe.skipIf(!HAVE_TOOL || Bun.which("curl") === null)("curl", () => {
  test("fetches a page over TLS 1.3 and TLS 1.2", async () => {
    for (const v of ["--tlsv1.3", "--tls-max"]) {
      const srv = serve(cfg(["rsa"]), {
        respond: (conn) => {
          conn.write(new TextEncoder().encode("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"));
          conn.close();
        },
      });
      try {
        const args = v === "--tls-max" ? ["--tls-max", "1.2"] : [v];
        const r = await runClient(["curl", "-sk", ...args, `https://127.0.0.1:${srv.port}/`], "");
        expect(r.stdout).toBe("ok\n");
        expect(srv.connections[0]!.info?.version).toBe(v === "--tls-max" ? "TLS1.2" : "TLS1.3");
      } finally {
        srv.stop();
      }
    }
  });
});

void dec;
