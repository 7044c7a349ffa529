// Interop with GnuTLS clients over loopback: gnutls-cli and the real openconnect (GnuTLS 3.7).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parseCertificate } from "../../src/x509/certificate.ts";
import { SessionCache, type TlsServerConfig, type TlsServerConnection } from "../../src/tls/index.ts";
import { makeCerts, policy, runClient, serve, type CertFiles, type KeyKind } from "./harness.ts";

const HAVE_TOOL = Bun.which("gnutls-cli") !== null && Bun.which("openssl") !== null;
let certs: CertFiles;
beforeAll(() => {
  if (HAVE_TOOL) certs = makeCerts();
});
afterAll(() => certs?.cleanup());

function echoAndClose(conn: TlsServerConnection, data: Uint8Array): void {
  conn.write(data);
  conn.close();
}

function cfg(kind: KeyKind, over: Partial<TlsServerConfig> = {}): TlsServerConfig {
  return { credentials: [certs.creds(kind)], policy: policy("NORMAL"), clientAuth: "none", ...over };
}

async function gnutlsCli(config: TlsServerConfig, args: string[], respond = echoAndClose) {
  const srv = serve(config, { respond });
  try {
    const r = await runClient(["gnutls-cli", "--insecure", "-p", String(srv.port), "127.0.0.1", ...args], "hello\n", 8000, 200);
    return { ...r, conn: srv.connections[0]! };
  } finally {
    srv.stop();
  }
}

describe.skipIf(!HAVE_TOOL)("gnutls-cli", () => {
  for (const [kind, prio, expected] of [
    ["rsa", "NORMAL", "(TLS1.3-X.509)-(ECDHE-X25519)-(RSA-PSS-RSAE-SHA256)-(AES-256-GCM)"],
    ["p256", "NORMAL", "(TLS1.3-X.509)-(ECDHE-X25519)-(ECDSA-SECP256R1-SHA256)-(AES-256-GCM)"],
    ["ed25519", "NORMAL", "(TLS1.3-X.509)-(ECDHE-X25519)-(EdDSA-Ed25519)-(AES-256-GCM)"],
    ["rsa", "NORMAL:-GROUP-ALL:+GROUP-SECP384R1", "(TLS1.3-X.509)-(ECDHE-SECP384R1)-(RSA-PSS-RSAE-SHA256)-(AES-256-GCM)"],
    ["p256", "NORMAL:-VERS-TLS1.3", "(TLS1.2-X.509)-(ECDHE-X25519)-(ECDSA-SHA256)-(AES-256-GCM)"],
    ["rsa", "NORMAL:-VERS-TLS1.3:-KX-ALL:+RSA", "(TLS1.2-X.509)-(RSA)-(AES-256-GCM)"],
    ["rsa", "NORMAL:-VERS-TLS1.3:-CIPHER-ALL:+AES-128-CBC", "(TLS1.2-X.509)-(ECDHE-X25519)-(RSA-PSS-RSAE-SHA256)-(AES-128-CBC)-(SHA1)"],
    ["rsa", "NORMAL:-VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:-GROUP-ALL:+GROUP-SECP256R1", "(TLS1.2-X.509)-(ECDHE-SECP256R1)-(RSA-PSS-RSAE-SHA256)-(AES-128-GCM)"],
  ] as const) {
    test(`completes ${expected} with --priority ${prio}`, async () => {
      const r = await gnutlsCli(cfg(kind), ["--priority", prio]);
      expect(r.stdout).toContain(`Description: ${expected}`);
      expect(r.stdout).toContain("\nhello\n");
      // our own description is GnuTLS's, as ocserv's occtl would show it
      expect(r.conn.info?.description).toBe(expected);
      expect(r.conn.error).toBeNull();
    });
  }

  for (const prio of ["NORMAL", "NORMAL:-VERS-TLS1.3"]) {
    test(`exports the same keying material as GnuTLS (${prio})`, async () => {
      let exported = "";
      const r = await gnutlsCli(cfg("rsa"), ["--priority", prio, "--keymatexport", "EXPORTER-openconnect-psk", "--keymatexportsize", "32"], (conn, data) => {
        exported = Buffer.from(conn.exportKeyingMaterial("EXPORTER-openconnect-psk", null, 32)).toString("hex");
        echoAndClose(conn, data);
      });
      const m = /Key material: ([0-9a-fA-F]+)/.exec(r.stdout);
      expect(m?.[1]?.toLowerCase()).toBe(exported);
    });
  }

  test("presents a client certificate that the server accepts (TLS 1.3)", async () => {
    const r = await gnutlsCli(cfg("rsa", { clientAuth: "require" }), ["--x509certfile", certs.clientCert, "--x509keyfile", certs.clientKey]);
    expect(r.stdout).toContain("\nhello\n");
    expect(r.conn.info?.peerCertificates.length).toBe(1);
  });

  test("presents a client certificate that the server accepts (TLS 1.2)", async () => {
    const r = await gnutlsCli(cfg("rsa", { clientAuth: "require" }), ["--priority", "NORMAL:-VERS-TLS1.3", "--x509certfile", certs.clientCert, "--x509keyfile", certs.clientKey]);
    expect(r.stdout).toContain("\nhello\n");
    expect(r.conn.info?.peerCertificates.length).toBe(1);
  });

  test("resumes a TLS 1.3 session with a ticket (--resume)", async () => {
    const cache = new SessionCache(300, 10);
    const srv = serve(cfg("p256", { sessionCache: cache }), { respond: echoAndClose });
    try {
      const r = await runClient(["gnutls-cli", "--insecure", "--resume", "-p", String(srv.port), "127.0.0.1"], "hello\n", 8000, 200);
      expect(r.stdout).toContain("This is a resumed session");
      expect(srv.connections.length).toBe(2);
      expect(srv.connections[1]!.info?.version).toBe("TLS1.3");
      expect(srv.connections[1]!.info?.resumed).toBe(true);
    } finally {
      srv.stop();
    }
  });

  test("resumes a TLS 1.2 session by session ID (--resume)", async () => {
    const cache = new SessionCache(300, 10);
    const srv = serve(cfg("rsa", { sessionCache: cache }), { respond: echoAndClose });
    try {
      const r = await runClient(
        ["gnutls-cli", "--insecure", "--resume", "--priority", "NORMAL:-VERS-TLS1.3", "-p", String(srv.port), "127.0.0.1"],
        "hello\n",
        8000,
        200,
      );
      expect(r.stdout).toContain("This is a resumed session");
      expect(srv.connections.length).toBe(2);
      expect(srv.connections[1]!.info?.resumed).toBe(true);
      const desc = /Resume Handshake was completed/.test(r.stdout) ? r.stdout.split("Connecting again")[1]! : "";
      expect(desc).toContain(`Description: ${srv.connections[1]!.info?.description}`);
    } finally {
      srv.stop();
    }
  });

  test("respects a small record size advertised by the client", async () => {
    const big = "y".repeat(3000);
    const r = await gnutlsCli(cfg("rsa"), ["--recordsize", "512"], (conn) => {
      conn.write(new TextEncoder().encode(big + "\n"));
      conn.close();
    });
    expect(r.stdout).toContain(big);
  });
});

describe.skipIf(!HAVE_TOOL || Bun.which("openconnect") === null)("openconnect (GnuTLS)", () => {
  async function connect(config: TlsServerConfig, extra: string[] = []) {
    const requests: string[] = [];
    const srv = serve(config, {
      respond: (conn, data) => {
        requests.push(new TextDecoder().decode(data));
        conn.write(new TextEncoder().encode("HTTP/1.1 404 Not found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
        conn.close();
      },
    });
    try {
      const der = config.credentials[0]!.chain[0]!;
      const pin = parseCertificate(der).pinSha256();
      const r = await runClient(["openconnect", "--authenticate", "--non-inter", "--servercert", pin, ...extra, `https://127.0.0.1:${srv.port}/`], "", 10000);
      return { r, requests, conn: srv.connections[0]! };
    } finally {
      srv.stop();
    }
  }

  for (const [kind, prio, version, suite] of [
    ["rsa", "NORMAL", "TLS1.3", "TLS_AES_256_GCM_SHA384"],
    ["p256", "NORMAL", "TLS1.3", "TLS_AES_256_GCM_SHA384"],
    ["rsa", "NORMAL:-VERS-TLS1.3", "TLS1.2", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"],
    ["rsa", "NORMAL:-VERS-TLS1.3:-KX-ALL:+RSA", "TLS1.2", "TLS_RSA_WITH_AES_256_GCM_SHA384"],
    ["rsa", "NORMAL:-VERS-TLS1.3:-CIPHER-ALL:+AES-128-CBC", "TLS1.2", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"],
  ] as const) {
    test(`completes ${version} ${suite} (${kind} key, server priority ${prio}) and sends its first HTTP request`, async () => {
      const { r, requests, conn } = await connect({ credentials: [certs.creds(kind)], policy: policy(prio), clientAuth: "none" });
      expect(requests.length).toBeGreaterThan(0);
      expect(requests[0]).toMatch(/^(POST|GET) \/ HTTP\/1\.1\r\n/);
      expect(conn.info?.version).toBe(version);
      expect(conn.info?.cipherSuite).toBe(suite);
      expect(r.code).not.toBe(0); // a 404 is not a VPN login, but TLS itself succeeded
    });
  }

  test("authenticates with a client certificate (-c/-k)", async () => {
    const { requests, conn } = await connect(
      { credentials: [certs.creds("rsa")], policy: policy("NORMAL"), clientAuth: "require" },
      ["-c", certs.clientCert, "-k", certs.clientKey],
    );
    expect(requests.length).toBeGreaterThan(0);
    expect(conn.info?.peerCertificates.length).toBe(1);
  });
});
