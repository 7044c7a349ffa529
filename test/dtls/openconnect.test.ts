// The test that matters: the real openconnect client (GnuTLS build) against our DTLS endpoint. A
// minimal CSTP server on our own TLS stack answers CONNECT (openconnect runs with --cookie, so there
// is no authentication) with the X-DTLS-* headers of negotiate.ts, and the endpoint serves UDP.
// --script-tun hands the tunnel to a script instead of a tun device, so no root is needed.

import { test, expect, describe } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TlsServerConnection, parsePriorities } from "../../src/tls/index.ts";
import { loadPrivateKey } from "../../src/x509/keys.ts";
import { parsePem } from "../../src/x509/pem.ts";
import { randomBytes } from "../../src/crypto/index.ts";
import { createDtlsEndpoint, dtlsModeFor, dtlsResponseHeaders, selectDtlsMode, PacketType, PSK_EXPORTER_LABEL, type DtlsSessionHandle } from "../../src/dtls/index.ts";

const hasOpenconnect = Bun.which("openconnect") !== null && Bun.which("openssl") !== null;

interface Run {
  events: string[];
  established: Promise<string>;
  dpdSeen: Promise<void>;
  stop(): Promise<string>;
}

function sh(cmd: string[], cwd: string): string {
  const r = Bun.spawnSync(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

async function runOpenconnect(pick: (headers: Map<string, string>) => Map<string, string>, dtlsPsk: boolean): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), "dtls-oc-"));
  sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "1", "-subj", "/CN=localhost"], dir);
  const pin = sh(["sh", "-c", "openssl x509 -in cert.pem -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64"], dir).trim();
  const chain = parsePem(readFileSync(join(dir, "cert.pem"), "utf8")).map((b) => b.der);
  const key = loadPrivateKey(readFileSync(join(dir, "key.pem"), "utf8"));
  const pol = parsePriorities("NORMAL");
  if (!pol.ok) throw new Error(pol.error);

  const events: string[] = [];
  let onEstablished: (d: string) => void = () => {};
  let onDpd: () => void = () => {};
  const established = new Promise<string>((r) => (onEstablished = r));
  const dpdSeen = new Promise<void>((r) => (onDpd = r));
  const ep = createDtlsEndpoint<string>();
  let handle: DtlsSessionHandle<string> | null = null;

  const udp = await Bun.udpSocket({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(s, buf, port, addr) {
        const r = ep.handleDatagram(new Uint8Array(buf), addr, port);
        for (const d of r.sendTo) s.send(d.bytes, d.port, d.addr);
        for (const e of r.events) {
          events.push(e.event.kind);
          if (e.event.kind === "established" && handle) {
            const desc = ep.describe(handle)!;
            onEstablished(`${desc.version} ${desc.suite}`);
            // ask the client for a DPD response over DTLS: proves the server→client direction too
            const probe = ep.send(handle, PacketType.DPD_REQ, new Uint8Array(0));
            if (probe) s.send(probe.bytes, probe.port, probe.addr);
          }
        }
        if (handle && handle.lastReceivedAt > 0 && events.includes("established")) onDpd();
      },
      // ICMP port unreachable (the client went away) surfaces as ECONNREFUSED on an unconnected socket
      error() {},
    },
  });

  const tcp = Bun.listen<{ tls: TlsServerConnection; buf: string; tunnel: boolean }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(sock) {
        sock.data = { tls: new TlsServerConnection({ credentials: [{ chain, key }], policy: pol.policy, clientAuth: "none" }), buf: "", tunnel: false };
      },
      data(sock, bytes) {
        const st = sock.data;
        st.tls.receive(new Uint8Array(bytes));
        for (let d = st.tls.readApplicationData(); d !== null; d = st.tls.readApplicationData()) {
          if (st.tunnel) {
            // CSTP: answer DPD-REQ (type 3) so openconnect keeps the tunnel up
            if (d.length >= 8 && d[6] === 3) {
              const resp = d.slice();
              resp[6] = 4;
              st.tls.write(resp);
            }
            continue;
          }
          st.buf += new TextDecoder().decode(d);
          const end = st.buf.indexOf("\r\n\r\n");
          if (end < 0) continue;
          const lines = st.buf.slice(0, end).split("\r\n");
          st.buf = "";
          if (!lines[0]!.startsWith("CONNECT ")) {
            st.tls.write(new TextEncoder().encode("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"));
            continue;
          }
          const headers = new Map<string, string>();
          for (const l of lines.slice(1)) {
            const i = l.indexOf(":");
            if (i > 0) headers.set(l.slice(0, i), l.slice(i + 1).trim());
          }
          const info = st.tls.info!;
          const sel = selectDtlsMode({
            headers: pick(headers),
            udpPort: udp.port,
            noUdp: false,
            dtlsPsk,
            dtlsLegacy: true,
            matchTlsDtlsCiphers: false,
            tlsCipherSuite: info.cipherSuite,
            sessionId: randomBytes(32),
          });
          if (sel === null) throw new Error("no DTLS selected");
          const psk = sel.kind === "psk" ? st.tls.exportKeyingMaterial(PSK_EXPORTER_LABEL, null, 32) : null;
          handle = ep.register({ sessionId: sel.sessionId, mode: dtlsModeFor(sel, psk), owner: "oc", dataMtu: 1400 });
          const dtls = dtlsResponseHeaders(sel, { dpd: 30, udpPort: udp.port, rekeyTime: 0, rekeyMethod: "new-tunnel", keepalive: 30, dataMtu: 1400 });
          const head = ["HTTP/1.1 200 CONNECTED", "X-CSTP-Version: 1", "X-CSTP-Address: 10.200.0.2", "X-CSTP-Netmask: 255.255.255.0", "X-CSTP-DPD: 30", "X-CSTP-Keepalive: 30", ...dtls, "X-CSTP-Base-MTU: 1500", "X-CSTP-MTU: 1400"];
          st.tls.write(new TextEncoder().encode(head.join("\r\n") + "\r\n\r\n"));
          st.tunnel = true;
        }
        const out = st.tls.takeOutgoing();
        if (out !== null) sock.write(out);
      },
    },
  });

  const proc = Bun.spawn(
    ["openconnect", "--protocol=anyconnect", "--cookie=test", `--servercert=pin-sha256:${pin}`, "--script-tun", "--script", "exec sleep 60 </dev/null >/dev/null 2>&1", "--non-inter", "-v", `https://127.0.0.1:${tcp.port}/`],
    { stdout: "pipe", stderr: "pipe", stdin: "ignore" },
  );
  return {
    events,
    established,
    dpdSeen,
    async stop() {
      proc.kill();
      await proc.exited;
      const log = (await new Response(proc.stdout as ReadableStream<Uint8Array>).text()) + (await new Response(proc.stderr as ReadableStream<Uint8Array>).text());
      tcp.stop(true);
      udp.close();
      rmSync(dir, { recursive: true, force: true });
      return log;
    },
  };
}

function within<T>(p: Promise<T>, ms: number): Promise<T | "timeout"> {
  return Promise.race([p, Bun.sleep(ms).then(() => "timeout" as const)]);
}

/** Keeps only `name` in X-DTLS-CipherSuite and drops the DTLS 1.2 list, so the legacy pick is that name. */
function only(name: string): (h: Map<string, string>) => Map<string, string> {
  return (h) => {
    const m = new Map(h);
    m.set("X-DTLS-CipherSuite", name);
    m.delete("X-DTLS12-CipherSuite");
    return m;
  };
}

describe("real openconnect client", () => {
  test.if(hasOpenconnect)("establishes PSK-NEGOTIATE DTLS 1.2 and answers a DTLS DPD", async () => {
    const run = await runOpenconnect((h) => h, true);
    const got = await within(run.established, 10_000);
    const dpd = await within(run.dpdSeen, 5_000);
    const log = await run.stop();
    expect(got, log).toBe("DTLS1.2 TLS_PSK_WITH_AES_256_GCM_SHA384");
    expect(dpd, log).toBeUndefined();
    expect(log).toContain("Established DTLS connection");
  }, 30_000);

  test.if(hasOpenconnect)("establishes legacy DTLS 1.2 (OC-DTLS1_2-AES256-GCM) from X-DTLS-Master-Secret", async () => {
    const run = await runOpenconnect(only("OC-DTLS1_2-AES256-GCM"), false);
    const got = await within(run.established, 10_000);
    const dpd = await within(run.dpdSeen, 5_000);
    const log = await run.stop();
    expect(got, log).toBe("DTLS1.2 TLS_RSA_WITH_AES_256_GCM_SHA384");
    expect(dpd, log).toBeUndefined();
  }, 30_000);

  test.if(hasOpenconnect)("establishes legacy DTLS 0.9 (AES256-SHA) from X-DTLS-Master-Secret", async () => {
    const run = await runOpenconnect(only("AES256-SHA"), false);
    const got = await within(run.established, 10_000);
    const dpd = await within(run.dpdSeen, 5_000);
    const log = await run.stop();
    expect(got, log).toBe("DTLS0.9 TLS_RSA_WITH_AES_256_CBC_SHA");
    expect(dpd, log).toBeUndefined();
  }, 30_000);

  test.if(hasOpenconnect)("without PSK, picks from openconnect's X-DTLS12-CipherSuite list the suite matching the TLS cipher", async () => {
    const run = await runOpenconnect((h) => h, false);
    const got = await within(run.established, 10_000);
    const log = await run.stop();
    // TLS 1.3 AES-256-GCM session: ECDHE-RSA-AES256-GCM-SHA384 has the same cipher and MAC and stops the walk
    expect(got, log).toBe("DTLS1.2 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
    expect(log).toContain("X-DTLS12-CipherSuite: ECDHE-RSA-AES256-GCM-SHA384");
  }, 30_000);
});
