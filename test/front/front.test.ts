import { describe, expect, test } from "bun:test";
import { makeUserProfile } from "../../src/server/front/server.ts";
import { secretMatches } from "../../src/server/front/exchange.ts";
import { MAX_QUEUED_BYTES } from "../../src/server/front/connection.ts";
import type { ConnectOutcome } from "../../src/server/contract.ts";
import { decodeSid, encodeSid } from "../../src/server/front/cookies.ts";
import {
  FakeSocket,
  RecordingTunnel,
  PlainTls,
  ScriptedAuth,
  XML_INIT,
  connectReq,
  cookieFrom,
  get,
  harness,
  post,
  xmlReply,
  type Client,
  type Harness,
} from "./helpers.ts";

async function login(h: Harness, c: Client, user = "test", password = "secret"): Promise<string> {
  const r = await c.send(post("/", `username=${user}&password=${password}`));
  expect(r).toStartWith("HTTP/1.1 200 OK\r\n");
  return cookieFrom(r);
}

function expectDenied(c: Client): void {
  expect(c.tls.events).toContain("alert:access_denied");
  expect(c.socket.ended).toBe(true);
  expect(c.conn.closed).toBe(true);
}

describe("authentication exchange", () => {
  test("GET / returns the username form with an expired webvpncontext", async () => {
    const h = harness();
    const r = await h.open().send(get("/"));
    expect(r).toStartWith("HTTP/1.1 200 OK\r\nSet-Cookie: webvpncontext=; expires=Thu, 01 Jan 1970 22:00:00 GMT; path=/; Secure; HttpOnly\r\n");
    expect(r).toContain('<input type="text" name="username" label="Username:" />');
  });

  test("the XML init gets the username form, the auth-reply completes with a live session cookie", async () => {
    const h = harness({ config: "included-http-headers = X-Frame-Options: deny\nbanner = Hi there" });
    const c = h.open();
    const form = await c.send(post("/", XML_INIT, { "Content-Type": "application/xml; charset=utf-8" }));
    expect(form).toContain("<message>Please enter your username and password.</message>");
    expect(h.auth.starts.length).toBe(0);
    const done = await c.send(post("/auth", xmlReply({ username: "test", password: "secret" })));
    expect(done).toStartWith("HTTP/1.1 200 OK\r\nConnection: Keep-Alive\r\n");
    expect(done).toContain("X-Frame-Options: deny\r\n");
    expect(done).toContain("<banner>Hi there</banner>");
    const cookie = cookieFrom(done);
    expect(done).toContain(`Set-Cookie: webvpncontext=${cookie}; Secure; HttpOnly\r\n`);
    const sid = decodeSid(cookie);
    expect(sid).not.toBeNull();
    expect(h.sessions.lookup(sid as Uint8Array)?.username).toBe("test");
    expect(c.socket.ended).toBe(false);
  });

  test("a single form with username and password completes in one POST", async () => {
    const h = harness();
    const c = h.open();
    await login(h, c);
    expect(h.auth.answers).toEqual(["secret"]);
  });

  test("a username without a password ends with 401 No password and access_denied", async () => {
    const h = harness();
    const c = h.open();
    const r = await c.send(post("/", "username=test"));
    expect(r).toBe("HTTP/1.1 401 No password\r\nContent-Length: 0\r\n\r\n");
    expectDenied(c);
  });

  test("three wrong passwords get two retry forms, then 401 and close, with ban points for each", async () => {
    const h = harness();
    const c = h.open();
    const first = await c.send(post("/", "username=test&password=bad1"));
    expect(first).toContain("<message>Login failed.\nPlease enter your password.</message>");
    expect(first).toMatch(/Set-Cookie: webvpncontext=[A-Za-z0-9+/]{43}=; Max-Age=300; Secure; HttpOnly\r\n/);
    const second = await c.send(post("/auth", "password=bad2"));
    expect(second).toContain("Login failed.");
    expect(c.socket.ended).toBe(false);
    const third = await c.send(post("/auth", "password=bad3"));
    expect(third).toBe("HTTP/1.1 401 Authentication failed\r\nContent-Length: 0\r\n\r\n");
    expectDenied(c);
    expect(h.bans.points.filter((p) => p.points === 10).length).toBe(3);
  });

  test("GET while a password is pending returns the password form again", async () => {
    const h = harness();
    const c = h.open();
    await c.send(post("/", "username=test&password=bad"));
    const r = await c.send(get("/auth"));
    expect(r).toContain('<input type="password" name="password" label="Password:" />');
    expect(r).not.toContain('name="username"');
  });

  test("a second factor gets the secondary_password form labelled Password2", async () => {
    const h = harness({ auth: new ScriptedAuth({ otpuser: { password: "pw", otp: "123456" } }) });
    const c = h.open();
    const r = await c.send(post("/", xmlReply({ username: "otpuser", password: "pw" })));
    expect(r).toContain("<message>Please enter your OTP password.</message>");
    expect(r).toContain('<input type="password" name="secondary_password" label="Password2:" />');
    const done = await c.send(post("/auth", xmlReply({ secondary_password: "123456" })));
    expect(cookieFrom(done).length).toBe(44);
  });

  test("OpenConnect v3 gets the bare forms and the bare success body", async () => {
    const h = harness();
    const c = h.open();
    const ua = { "User-Agent": "Open AnyConnect VPN Agent v3.02" };
    const form = await c.send(get("/", ua));
    expect(form.split("\r\n\r\n")[1]).toStartWith('<?xml version="1.0" encoding="UTF-8"?>\n<auth id="main">\n');
    const done = await c.send(post("/", "username=test&password=secret", ua));
    expect(done.split("\r\n\r\n")[1]).toBe('<?xml version="1.0" encoding="UTF-8"?>\n<auth id="success">\n<title>SSL VPN Service</title></auth>\n');
  });

  test("a certificate-only login completes on the first init POST", async () => {
    const auth = new ScriptedAuth({}, true);
    const h = harness({ auth, deps: { identifyCertificate: () => ({ user: "certuser", groups: [] }) } });
    const c = h.open({ tls: new PlainTls({ peerCertificates: [new Uint8Array([1, 2, 3])] }) });
    const form = await c.send(get("/"));
    expect(form).not.toContain('name="username"');
    const done = await c.send(post("/", XML_INIT));
    const sid = decodeSid(cookieFrom(done));
    expect(h.sessions.lookup(sid as Uint8Array)?.username).toBe("certuser");
  });

  test("the webvpnc cookie carries the SHA-1 of the server certificate", async () => {
    const cert = new TextEncoder().encode("certificate");
    const h = harness({ deps: { serverCertificateFor: () => cert } });
    const done = await h.open().send(post("/", "username=test&password=secret"));
    const sha1 = new Bun.CryptoHasher("sha1").update(cert).digest("hex").toUpperCase();
    expect(done).toContain(`Set-Cookie: webvpnc=bu:/&p:t&iu:1/&sh:${sha1}; path=/; Secure; HttpOnly\r\n`);
  });

  test("logs name the session by safe_id and never contain the cookie or the password", async () => {
    const h = harness();
    const c = h.open();
    const cookie = await login(h, c, "test", "secret");
    const all = h.logger.lines.join("\n");
    expect(all).not.toContain(cookie);
    expect(all).not.toContain("secret");
    expect(all).toContain(h.sessions.lookup(decodeSid(cookie) as Uint8Array)?.safeId ?? "missing");
  });
});

describe("group selection", () => {
  const groups = "select-group = a[Alpha]\nselect-group = b\ndefault-select-group = DEFAULT";

  test("the username form lists DEFAULT then the configured groups with their labels", async () => {
    const h = harness({ config: groups });
    const r = await h.open().send(get("/"));
    expect(r).toContain('<select name="group_list" label="Group:">\n<option>DEFAULT</option>\n<option value="a">Alpha</option>\n<option value="b">b</option>\n</select>\n');
  });

  test("a group chosen by label is mapped to its name and listed first", async () => {
    const h = harness({ config: groups });
    const c = h.open();
    const r = await c.send(post("/", "username=test&password=bad&group%5flist=Alpha"));
    expect(h.auth.starts[0]?.groupRequested).toBe("a");
    expect(r).toContain("Login failed");
    const form = await h.open().send(post("/", xmlReply({}, "Alpha")));
    expect(form).toContain('<select name="group_list" label="Group:">\n<option value="a">Alpha</option>\n<option>DEFAULT</option>\n<option value="b">b</option>\n');
  });

  test("default-select-group means no requested group, and unknown groups are passed on", async () => {
    const h = harness({ config: groups });
    await h.open().send(post("/", "username=test&password=secret&group_list=DEFAULT"));
    expect(h.auth.starts[0]?.groupRequested).toBeUndefined();
    await h.open().send(post("/", "username=test&password=secret&group_list=other"));
    expect(h.auth.starts[1]?.groupRequested).toBe("other");
  });

  test("the group of a session comes from the backend's answer", async () => {
    const h = harness({ auth: new ScriptedAuth({ test: { password: "secret", group: "ops" } }) });
    const cookie = await login(h, h.open());
    expect(h.sessions.lookup(decodeSid(cookie) as Uint8Array)?.group).toBe("ops");
  });

  test("select-group-by-url takes the group from POST /<group> and sends no group list", async () => {
    const h = harness({ config: `${groups}\nselect-group-by-url = true` });
    const r = await h.open().send(post("/b", XML_INIT));
    expect(r).toContain('name="username"');
    expect(r).not.toContain("<select");
    await h.open().send(post("/b", "username=test&password=secret"));
    expect(h.auth.starts[0]?.groupRequested).toBe("b");
  });

  test("auto-select-group lists the backend's groups", async () => {
    const h = harness({ config: "auto-select-group = true", auth: new ScriptedAuth(undefined, false, ["g1", "g2"]) });
    const r = await h.open().send(get("/"));
    expect(r).toContain('<option value="g1">g1</option>\n<option value="g2">g2</option>\n');
  });
});

describe("URLs and limits", () => {
  test("an unknown URL gets the standard 404 and the connection closes", async () => {
    const h = harness();
    const c = h.open();
    const r = await c.send(get("/nope"));
    expect(r).toStartWith("HTTP/1.1 404 Not found\r\n");
    expect(c.tls.events).toEqual(["close_notify"]);
    expect(c.socket.ended).toBe(true);
  });

  test("methods other than GET, POST and CONNECT get 404", async () => {
    const h = harness();
    const r = await h.open().send("PUT / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    expect(r).toStartWith("HTTP/1.1 404 Not found\r\n");
  });

  test("a POST to an unknown URL after authentication is 404", async () => {
    const h = harness();
    const c = h.open();
    await login(h, c);
    expect(await c.send(post("/elsewhere", "x=1"))).toStartWith("HTTP/1.1 404 Not found\r\n");
  });

  test("the fixed AnyConnect URLs return their fixed bodies", async () => {
    const h = harness();
    const c = h.open();
    const manifest = await c.send(get("/VPNManifest.xml"));
    expect(manifest).toStartWith("HTTP/1.1 200 OK\r\n");
    expect(manifest).toContain("Content-Type: text/xml\r\n");
    expect(manifest.split("\r\n\r\n")[1]).toBe('<?xml version="1.0" encoding="UTF-8"?>\n<vpn rev="1.0">\n</vpn>\n');
    expect((await c.send(get("/1/binaries/update.txt"))).split("\r\n\r\n")[1]).toBe("0,0,0000\n");
    expect((await c.send(get("/1/binaries/vpndownloader.sh"))).split("\r\n\r\n")[1]).toBe("#!/bin/sh\n\nexit 0");
    expect((await c.send(get("/+CSCOT+/translation-table?textdomain=AnyConnect"))).split("\r\n\r\n")[1]).toContain("<vpn rev");
    expect((await c.send(get("/1/Windows_ARM64"))).split("\r\n\r\n")[1]).toBe("<html></html>\n");
    expect(c.socket.ended).toBe(false);
  });

  test("an HTTP/1.0 request gets one response, then the connection closes", async () => {
    const h = harness();
    const c = h.open();
    const r = await c.send(get("/", {}, "1.0"));
    expect(r).toStartWith("HTTP/1.0 200 OK\r\n");
    expect(c.socket.ended).toBe(true);
  });

  test("the 17th request on a connection closes it without an answer", async () => {
    const h = harness();
    const c = h.open();
    for (let i = 0; i < 16; i++) expect(await c.send(get("/"))).toStartWith("HTTP/1.1 200 OK");
    expect(await c.send(get("/"))).toBe("");
    expect(c.socket.ended).toBe(true);
  });

  test("pipelined requests close the connection without an answer", async () => {
    const h = harness();
    const c = h.open();
    expect(await c.send(get("/") + get("/"))).toBe("");
    expect(c.socket.ended).toBe(true);
  });

  test("a URL of 256 bytes is refused with 414 and the connection closes", async () => {
    const h = harness();
    const c = h.open();
    expect(await c.send(get(`/${"a".repeat(255)}`))).toBe("HTTP/1.1 414 URI Too Long\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    expect(c.socket.ended).toBe(true);
  });

  test("oversized headers and bodies are refused", async () => {
    const h = harness();
    expect(await h.open().send(`GET / HTTP/1.1\r\nX-Pad: ${"x".repeat(17 * 1024)}\r\n\r\n`)).toStartWith("HTTP/1.1 431 ");
    expect(await h.open().send("POST / HTTP/1.1\r\nContent-Length: 300000\r\n\r\n")).toStartWith("HTTP/1.1 413 ");
  });

  test("the user profile is served only with a live session cookie", async () => {
    const profile = makeUserProfile("/etc/ocserv/profile.xml", new TextEncoder().encode("<AnyConnectProfile/>"));
    const h = harness({ deps: { userProfileFor: () => profile, serverCertificateFor: () => new Uint8Array([1]) } });
    const c = h.open();
    const done = await c.send(post("/", "username=test&password=secret"));
    expect(done).toContain(`&fu:profiles%2Fprofile.xml&fh:${profile.sha1}; path=/; Secure; HttpOnly\r\n`);
    const cookie = cookieFrom(done);
    const served = await c.send(get("/profiles/profile.xml", { Cookie: `webvpn=${cookie}` }));
    expect(served.split("\r\n\r\n")[1]).toBe("<AnyConnectProfile/>");
    expect(await h.open().send(get("/profiles/profile.xml"))).toStartWith("HTTP/1.1 404 ");
  });
});

describe("camouflage", () => {
  test("the secret comparison (constant time) accepts only the exact secret", () => {
    expect(secretMatches("s3cret", "s3cret")).toBe(true);
    expect(secretMatches("s3cre", "s3cret")).toBe(false);
    expect(secretMatches("s3cretX", "s3cret")).toBe(false);
    expect(secretMatches("S3cret", "s3cret")).toBe(false);
    expect(secretMatches("", "s3cret")).toBe(false);
    expect(secretMatches("sécret", "sécret")).toBe(true);
  });


  const cfg = "camouflage = true\ncamouflage_secret = mysecret\ncamouflage_realm = Corp Portal";

  test("a request without the secret gets 401 Basic with the realm and the connection closes", async () => {
    const h = harness({ config: cfg });
    const c = h.open();
    expect(await c.send(get("/"))).toBe(
      'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="Corp Portal"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
    );
    expect(c.socket.ended).toBe(true);
  });

  test("a wrong secret or extra query text is refused", async () => {
    const h = harness({ config: cfg });
    expect(await h.open().send(get("/?mysecret2"))).toStartWith("HTTP/1.1 401 Unauthorized");
    expect(await h.open().send(get("/?x=mysecret"))).toStartWith("HTTP/1.1 401 Unauthorized");
  });

  test("with the secret the request proceeds, and later requests on the connection need no secret", async () => {
    const h = harness({ config: cfg });
    const c = h.open();
    expect(await c.send(get("/?mysecret"))).toContain('name="username"');
    expect(await c.send(post("/auth", "username=test&password=secret"))).toContain("Set-Cookie: webvpn=");
  });

  test("without a realm the refusal is the standard 404", async () => {
    const h = harness({ config: "camouflage = true\ncamouflage_secret = s" });
    expect(await h.open().send(post("/", "username=test&password=secret"))).toStartWith("HTTP/1.1 404 Not found\r\n");
  });

  test("a rejected or missing cookie at CONNECT is 405 under camouflage", async () => {
    const h = harness({ config: cfg });
    const c = h.open();
    expect(await c.send(connectReq(`webvpn=${encodeSid(new Uint8Array(32))}`))).toBe("HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n");
    expectDenied(c);
    expect(await h.open().send(connectReq(null))).toStartWith("HTTP/1.1 405 ");
  });

  test("a CONNECT that carries the secret gets the real cookie errors", async () => {
    const h = harness({ config: cfg });
    const bad = `webvpn=${encodeSid(new Uint8Array(32))}`;
    expect(await h.open().send(connectReq(bad, "Cookie", "/CSCOSSLC/tunnel?mysecret"))).toStartWith("HTTP/1.1 401 Cookie is not acceptable");
  });

  test("a valid cookie passes camouflage at CONNECT without the secret", async () => {
    const h = harness({ config: cfg });
    const cookie = cookieFrom(await h.open().send(post("/?mysecret", "username=test&password=secret")));
    expect(await h.open().send(connectReq(`webvpn=${cookie}`))).toStartWith("HTTP/1.1 200 CONNECTED");
  });
});

describe("CONNECT", () => {
  test("without a cookie the answer is 503 and the connection is denied", async () => {
    const h = harness();
    const c = h.open();
    expect(await c.send(connectReq(null))).toBe("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
    expectDenied(c);
  });

  test("a lower-case cookie header is ignored", async () => {
    const h = harness();
    const cookie = await login(h, h.open());
    const c = h.open();
    expect(await c.send(connectReq(`webvpn=${cookie}`, "cookie"))).toStartWith("HTTP/1.1 503 ");
    expect(h.tunnels.requests.length).toBe(0);
  });

  test("a cookie of the wrong length or an unknown cookie is not acceptable", async () => {
    const h = harness();
    const short = h.open();
    expect(await short.send(connectReq(`webvpn=${Buffer.alloc(31).toString("base64")}`))).toBe("HTTP/1.1 401 Cookie is not acceptable\r\nContent-Length: 0\r\n\r\n");
    expectDenied(short);
    expect(await h.open().send(connectReq(`webvpn=${encodeSid(new Uint8Array(32).fill(9))}`))).toStartWith("HTTP/1.1 401 Cookie is not acceptable");
  });

  test("a URL other than /CSCOSSLC/tunnel gets 404, but only after the cookie check", async () => {
    const h = harness();
    const cookie = await login(h, h.open());
    expect(await h.open().send(connectReq(`webvpn=${cookie}`, "Cookie", "/other"))).toStartWith("HTTP/1.1 404 ");
    expect(h.tunnels.requests.length).toBe(0);
    expect(await h.open().send(connectReq(null, "Cookie", "/other"))).toStartWith("HTTP/1.1 503 ");
  });

  test("a valid cookie hands the connection to the tunnel side, which then gets every record", async () => {
    const h = harness();
    const cookie = await login(h, h.open());
    const c = h.open({ socket: new FakeSocket("198.51.100.9", 5555, "192.0.2.1") });
    const head = await c.send(connectReq(`webvpncontext=x; webvpn=${cookie}`, "Cookie", "CSCOSSLC/tunnel"));
    expect(head).toBe("HTTP/1.1 200 CONNECTED\r\nX-CSTP-Version: 1\r\n\r\n");
    const req = h.tunnels.requests[0];
    expect(req?.session.username).toBe("test");
    expect(req?.headers.get("X-CSTP-Version")).toBe("1");
    expect(req?.transport.remoteAddress).toBe("198.51.100.9");
    expect(req?.transport.remotePort).toBe(5555);
    expect(req?.transport.tls.version).toBe("TLS1.3");
    expect(c.conn.nextDeadline()).toBeNull();
    await c.send("STF\x01\x00\x00\x03\x00");
    await c.send("GET / HTTP/1.1\r\n\r\n");
    const tunnel = h.tunnels.tunnels[0];
    expect(tunnel?.records).toEqual(["STF\x01\x00\x00\x03\x00", "GET / HTTP/1.1\r\n\r\n"]);
    req?.transport.sendRecord(new TextEncoder().encode("reply"));
    expect(c.tls.records.at(-1)).toBe("reply");
    c.conn.onPeerClosed();
    c.conn.onPeerClosed();
    expect(tunnel?.closed).toBe(1);
  });

  test("records that arrive while the tunnel is being set up reach the tunnel in order", async () => {
    const h = harness();
    const cookie = await login(h, h.open());
    const c = h.open();
    const pending = c.conn.onData(new TextEncoder().encode(connectReq(`webvpn=${cookie}`)));
    const early = c.conn.onData(new TextEncoder().encode("data1"));
    await Promise.all([pending, early]);
    expect(h.tunnels.tunnels[0]?.records).toEqual(["data1"]);
  });

  test("the tunnel's close ends the connection and tells the tunnel once", async () => {
    const h = harness();
    const cookie = await login(h, h.open());
    const c = h.open();
    await c.send(connectReq(`webvpn=${cookie}`));
    h.tunnels.requests[0]?.transport.close();
    expect(c.tls.events).toEqual(["close_notify"]);
    expect(c.socket.ended).toBe(true);
    expect(h.tunnels.tunnels[0]?.closed).toBe(1);
  });

  test("a tunnel-side refusal is sent with its X-Reason and the connection is denied", async () => {
    const h = harness();
    const cookie = await login(h, h.open());
    h.tunnels.outcome = { status: 503, reason: "No IP addresses available" };
    const c = h.open();
    expect(await c.send(connectReq(`webvpn=${cookie}`))).toBe(
      "HTTP/1.1 503 Service Unavailable\r\nX-Reason: No IP addresses available\r\nContent-Length: 0\r\n\r\n",
    );
    expectDenied(c);
  });

  test("max-same-clients refuses a second live tunnel for the same user", async () => {
    const h = harness({ config: "max-same-clients = 1" });
    const first = await login(h, h.open());
    const second = await login(h, h.open());
    await h.open().send(connectReq(`webvpn=${first}`));
    h.sessions.connected(decodeSid(first) as Uint8Array); // what the tunnel side does on success
    expect(await h.open().send(connectReq(`webvpn=${second}`))).toStartWith("HTTP/1.1 401 Cookie is not acceptable");
    // The same cookie may reconnect: it replaces its own tunnel.
    expect(await h.open().send(connectReq(`webvpn=${first}`))).toStartWith("HTTP/1.1 200 CONNECTED");
  });

  test("deny-roaming refuses the cookie from another address", async () => {
    const h = harness({ config: "deny-roaming = true" });
    const cookie = await login(h, h.open({ socket: new FakeSocket("192.0.2.10") }));
    expect(await h.open({ socket: new FakeSocket("203.0.113.5") }).send(connectReq(`webvpn=${cookie}`))).toStartWith("HTTP/1.1 401 ");
    expect(await h.open({ socket: new FakeSocket("192.0.2.10") }).send(connectReq(`webvpn=${cookie}`))).toStartWith("HTTP/1.1 200 ");
  });
});

describe("connection lifecycle", () => {
  test("a banned address is closed at accept before anything is read", async () => {
    const h = harness();
    h.bans.banned.add("192.0.2.66");
    const c = h.open({ socket: new FakeSocket("192.0.2.66") });
    expect(c.socket.ended).toBe(true);
    expect(await c.send(get("/"))).toBe("");
  });

  test("every accepted connection is charged connection points", () => {
    const h = harness();
    h.open({ socket: new FakeSocket("192.0.2.77") });
    expect(h.bans.points).toEqual([{ ip: "192.0.2.77", points: 1 }]);
  });

  test("auth-timeout closes a connection that has not reached CONNECT", async () => {
    const h = harness({ config: "auth-timeout = 30" });
    const c = h.open();
    await c.send(get("/"));
    expect(c.conn.nextDeadline()).toBe(h.clock.now() + 30_000);
    h.clock.advance(29_999);
    c.conn.onTimer();
    expect(c.socket.ended).toBe(false);
    h.clock.advance(1);
    c.conn.onTimer();
    expect(c.socket.ended).toBe(true);
    expect(c.conn.nextDeadline()).toBeNull();
  });

  test("a health probe that closes before sending anything is logged only at debug level", () => {
    const h = harness();
    const c = h.open();
    c.conn.onPeerClosed();
    expect(c.socket.ended).toBe(true);
    expect(h.logger.lines.filter((l) => !l.startsWith("debug") && !l.startsWith("trace"))).toEqual([]);
  });

  test("the peer's close_notify ends the connection", async () => {
    const h = harness();
    const c = h.open();
    await c.send(get("/"));
    c.tls.peerClose();
    await c.send(new Uint8Array(0));
    expect(c.socket.ended).toBe(true);
  });

  test("a response larger than one record is split into 16 KiB records", async () => {
    const big = new Uint8Array(40000).fill(0x41);
    const profile = makeUserProfile("p.xml", big);
    const h = harness({ deps: { userProfileFor: () => profile } });
    const c = h.open();
    const cookie = await login(h, c);
    await c.send(get("/profiles/p.xml", { Cookie: `webvpncontext=${cookie}` }));
    const sizes = c.tls.records.slice(-3).map((r) => r.length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(16384);
  });
});

describe("client certificates", () => {
  const certDeps = (user: string, groups: string[]) => ({ identifyCertificate: () => ({ user, groups }) });
  const withCert = () => new PlainTls({ peerCertificates: [new Uint8Array([1])] });

  test("a certificate with several groups and no choice asks the client to select one", async () => {
    const auth = new ScriptedAuth({}, true);
    const h = harness({ auth, deps: certDeps("alice", ["g1", "g2"]) });
    const c = h.open({ tls: withCert() });
    const r = await c.send(post("/", XML_INIT));
    expect(r).toContain("<message>Please select your group.</message>");
    expect(r).toContain('<select name="group_list" label="Group:">\n<option>g1</option>\n<option>g2</option>\n</select>\n');
    expect(auth.starts.length).toBe(0);
    const done = await c.send(post("/auth", xmlReply({}, "g2")));
    expect(h.sessions.lookup(decodeSid(cookieFrom(done)) as Uint8Array)?.group).toBe("g2");
  });

  test("a single eligible certificate group is selected without asking", async () => {
    const auth = new ScriptedAuth({}, true);
    const h = harness({ config: "select-group = g2\nselect-group = other", auth, deps: certDeps("alice", ["g1", "g2"]) });
    const done = await h.open({ tls: withCert() }).send(post("/", XML_INIT));
    expect(auth.starts[0]?.groupRequested).toBe("g2");
    expect(h.sessions.lookup(decodeSid(cookieFrom(done)) as Uint8Array)?.group).toBe("g2");
  });

  test("choosing default-select-group with certificate groups does not ask again", async () => {
    const auth = new ScriptedAuth({}, true);
    const h = harness({ config: "default-select-group = DEFAULT", auth, deps: certDeps("alice", ["g1", "g2"]) });
    const done = await h.open({ tls: withCert() }).send(post("/", xmlReply({}, "DEFAULT")));
    expect(done).toContain("Set-Cookie: webvpn=");
    expect(auth.starts[0]?.groupRequested).toBeUndefined();
  });

  test("with certificate auth, CONNECT needs the same user's certificate on its own connection", async () => {
    const auth = new ScriptedAuth({}, true);
    const h = harness({ config: 'auth = "certificate"\ncert-user-oid = 2.5.4.3', auth, deps: certDeps("alice", []) });
    const cookie = cookieFrom(await h.open({ tls: withCert() }).send(post("/", XML_INIT)));
    const bare = h.open();
    expect(await bare.send(connectReq(`webvpn=${cookie}`))).toStartWith("HTTP/1.1 401 Cookie is not acceptable");
    expectDenied(bare);
    expect(await h.open({ tls: withCert() }).send(connectReq(`webvpn=${cookie}`))).toStartWith("HTTP/1.1 200 CONNECTED");
  });

  test("a cookie from a certificate-auth vhost is not acceptable at CONNECT on another vhost", async () => {
    const auth = new ScriptedAuth({}, true);
    const h = harness({
      config: 'auth = "certificate"\ncert-user-oid = 2.5.4.3\n[vhost:other.example.com]\nauth = "plain[passwd=/nonexistent/passwd]"',
      auth,
      deps: certDeps("alice", []),
    });
    const cookie = cookieFrom(await h.open({ tls: withCert() }).send(post("/", XML_INIT)));
    // The stolen cookie, without the certificate, over a TLS connection whose SNI selects the other vhost.
    const elsewhere = h.open({ tls: new PlainTls({ sni: "other.example.com" }) });
    expect(await elsewhere.send(connectReq(`webvpn=${cookie}`))).toStartWith("HTTP/1.1 401 Cookie is not acceptable");
    expectDenied(elsewhere);
    expect(h.tunnels.requests.length).toBe(0);
    expect(await h.open({ tls: withCert() }).send(connectReq(`webvpn=${cookie}`))).toStartWith("HTTP/1.1 200 CONNECTED");
  });

  test("the certificate of a resumed TLS session is used only if it still verifies", async () => {
    const verdicts: boolean[] = [];
    let stillValid = true;
    const auth = new ScriptedAuth({}, true);
    const h = harness({
      config: 'auth = "certificate"\ncert-user-oid = 2.5.4.3',
      auth,
      deps: {
        ...certDeps("alice", []),
        verifyClientChain: () => {
          verdicts.push(stillValid);
          return stillValid;
        },
      },
    });
    const resumed = () => new PlainTls({ peerCertificates: [new Uint8Array([1])], resumed: true });
    // A full handshake verified the chain itself: no second check.
    const cookie = cookieFrom(await h.open({ tls: withCert() }).send(post("/", XML_INIT)));
    expect(verdicts).toEqual([]);
    expect(await h.open({ tls: resumed() }).send(connectReq(`webvpn=${cookie}`))).toStartWith("HTTP/1.1 200 CONNECTED");
    // Revoked (or expired) since the session was made: the resumed session carries no usable certificate.
    stillValid = false;
    const c = h.open({ tls: resumed() });
    expect(await c.send(connectReq(`webvpn=${cookie}`))).toStartWith("HTTP/1.1 401 Cookie is not acceptable");
    expectDenied(c);
    expect(await h.open({ tls: resumed() }).send(post("/", XML_INIT))).toStartWith("HTTP/1.1 401 ");
    expect(verdicts).toEqual([true, false, false]);
  });

  test("with auth = certificate and a password alternative (enable-auth), a password user's CONNECT needs no certificate", async () => {
    const auth = new ScriptedAuth();
    const h = harness({
      config: 'auth = "certificate"\nenable-auth = "plain[passwd=/nonexistent/passwd]"\ncert-user-oid = 2.5.4.3',
      auth,
      deps: certDeps("alice", []),
    });
    const cookie = await login(h, h.open());
    expect(await h.open().send(connectReq(`webvpn=${cookie}`))).toStartWith("HTTP/1.1 200 CONNECTED");
    // A certificate that is presented must still name the session's user.
    const other = h.open({ tls: withCert() });
    expect(await other.send(connectReq(`webvpn=${cookie}`))).toStartWith("HTTP/1.1 401 Cookie is not acceptable");
  });

  test("cisco-client-compat lets CONNECT go without the certificate", async () => {
    const auth = new ScriptedAuth({}, true);
    const h = harness({ config: 'auth = "certificate"\ncert-user-oid = 2.5.4.3\ncisco-client-compat = true', auth, deps: certDeps("alice", []) });
    const cookie = cookieFrom(await h.open({ tls: withCert() }).send(post("/", XML_INIT)));
    expect(await h.open().send(connectReq(`webvpn=${cookie}`))).toStartWith("HTTP/1.1 200 CONNECTED");
  });
});

describe("failure containment", () => {
  test("a backend that throws ends only this connection, with 401 Internal error", async () => {
    const auth = new ScriptedAuth();
    auth.start = () => {
      throw new Error("backend down");
    };
    const h = harness({ auth });
    const c = h.open();
    expect(await c.send(post("/", "username=test&password=x"))).toBe("HTTP/1.1 401 Internal error\r\nContent-Length: 0\r\n\r\n");
    expectDenied(c);
  });

  test("a tunnel that throws on a record closes the connection", async () => {
    const h = harness();
    const cookie = await login(h, h.open());
    const c = h.open();
    await c.send(connectReq(`webvpn=${cookie}`));
    const tunnel = h.tunnels.tunnels[0];
    if (!tunnel) throw new Error("no tunnel");
    tunnel.receiveRecord = () => {
      throw new Error("bad packet handling");
    };
    await c.send("x");
    expect(c.socket.ended).toBe(true);
    expect(tunnel.closed).toBe(1);
  });

  test("a tunnel whose release throws does not throw out of the socket's close or data callbacks", async () => {
    const h = harness();
    const cookie = await login(h, h.open());
    const c = h.open();
    await c.send(connectReq(`webvpn=${cookie}`));
    const tunnel = h.tunnels.tunnels[0];
    if (!tunnel) throw new Error("no tunnel");
    tunnel.transportClosed = () => {
      throw new Error("release bug");
    };
    expect(() => c.conn.onPeerClosed()).not.toThrow();
    expect(c.socket.ended).toBe(true);
    expect(c.conn.closed).toBe(true);
    expect(h.logger.lines.some((l) => l.includes("tunnel release failed"))).toBe(true);

    // The same through the data path: a close_notify in a record ends the tunnel.
    const c2 = h.open();
    await c2.send(connectReq(`webvpn=${cookie}`));
    const t2 = h.tunnels.tunnels[1];
    if (!t2) throw new Error("no tunnel");
    t2.transportClosed = () => {
      throw new Error("release bug");
    };
    c2.tls.peerClose();
    await expect(Promise.resolve(c2.conn.onData(new Uint8Array(0)))).resolves.toBeUndefined();
    expect(c2.conn.closed).toBe(true);
  });

  test("data flooding in while a CONNECT is being set up is bounded: past the limit the connection closes", async () => {
    const h = harness();
    const cookie = await login(h, h.open());
    let finish: (o: ConnectOutcome) => void = () => {};
    const handle = new RecordingTunnel();
    h.tunnels.connect = (req) => {
      h.tunnels.requests.push(req);
      return new Promise<ConnectOutcome>((resolve) => (finish = resolve));
    };
    const c = h.open();
    const pending = c.conn.onData(new TextEncoder().encode(connectReq(`webvpn=${cookie}`)));
    // The per-user configuration is loaded (asynchronously) before the tunnel side is asked.
    for (let i = 0; i < 100 && h.tunnels.requests.length === 0; i++) await Promise.resolve();
    expect(h.tunnels.requests.length).toBe(1);
    const record = new Uint8Array(16384);
    let sent = 0;
    while (!c.conn.closed && sent < 4 * MAX_QUEUED_BYTES) {
      c.conn.onData(record);
      sent += record.length;
    }
    expect(c.conn.closed).toBe(true);
    expect(sent).toBeLessThanOrEqual(MAX_QUEUED_BYTES + record.length);
    expect(c.socket.ended).toBe(true);
    // The tunnel that arrives after the close is released at once.
    finish({ ok: true, head: "HTTP/1.1 200 CONNECTED\r\n\r\n", tunnel: handle });
    await pending;
    expect(handle.closed).toBe(1);
  });

  test("nothing is written when the peer closed while a request was in flight", async () => {
    let release: () => void = () => {};
    const auth = new ScriptedAuth();
    const realAnswer = auth.answer.bind(auth);
    auth.answer = (state, pw) => new Promise((resolve) => (release = () => resolve(realAnswer(state, pw)))) as never;
    const h = harness({ auth });
    const c = h.open();
    const pending = c.conn.onData(new TextEncoder().encode(post("/", "username=test&password=secret")));
    await Bun.sleep(0);
    c.tls.peerClose();
    release();
    await pending;
    expect(c.socket.text()).toBe("");
    expect(c.socket.ended).toBe(true);
  });
});

describe("Cisco IP-phone /svc", () => {
  const svc = "cisco-svc-client-compat = true";

  test("GET /svc clears the cookie and marks the login", async () => {
    const h = harness({ config: svc });
    expect(await h.open().send(get("/svc"))).toBe(
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nSet-Cookie: webvpn=; expires=Thu, 01 Jan 1970 22:00:00 GMT; path=/; secure\r\n" +
        "Set-Cookie: webvpnlogin=1; secure\r\nX-Transcend-Version: 1\r\n\r\n",
    );
  });

  test("POST /svc logs in with one form and returns a bodiless 200 with the cookie", async () => {
    const h = harness({ config: svc });
    const r = await h.open().send(post("/svc", "username=test&password=secret"));
    const m = /^HTTP\/1\.1 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\nSet-Cookie: webvpn=([A-Za-z0-9+/]{43}=); secure\r\nX-Transcend-Version: 1\r\n\r\n$/.exec(r);
    expect(m).not.toBeNull();
    expect(h.sessions.lookup(decodeSid(m?.[1] ?? "") as Uint8Array)?.username).toBe("test");
  });

  test("a wrong password at /svc is 401 Authentication failed with no retry", async () => {
    const h = harness({ config: svc });
    const c = h.open();
    expect(await c.send(post("/svc", "username=test&password=nope"))).toBe("HTTP/1.1 401 Authentication failed\r\nContent-Length: 0\r\n\r\n");
    expectDenied(c);
    expect(h.sessions.size).toBe(0);
  });

  test("without cisco-svc-client-compat /svc is an unknown URL", async () => {
    const h = harness();
    expect(await h.open().send(get("/svc"))).toStartWith("HTTP/1.1 404 ");
  });
});

describe("re-authentication", () => {
  test("a second login on the same connection issues a different cookie and keeps the first", async () => {
    const h = harness({ auth: new ScriptedAuth({ test: { password: "secret" }, other: { password: "pw2" } }) });
    const c = h.open();
    const first = await login(h, c, "test", "secret");
    const second = await login(h, c, "other", "pw2");
    expect(second).not.toBe(first);
    expect(h.sessions.lookup(decodeSid(first) as Uint8Array)?.username).toBe("test");
    expect(h.sessions.lookup(decodeSid(second) as Uint8Array)?.username).toBe("other");
  });
});

describe("continuing an authentication on a new connection", () => {
  function contextFrom(r: string): string {
    const m = /Set-Cookie: webvpncontext=([A-Za-z0-9+/]{43}=); Max-Age=/.exec(r);
    if (!m || m[1] === undefined) throw new Error("no webvpncontext");
    return m[1];
  }

  test("the password may be sent on a second connection that presents webvpncontext", async () => {
    const h = harness({ auth: new ScriptedAuth({ otpuser: { password: "pw", otp: "123456" } }) });
    const first = await h.open().send(post("/", "username=otpuser&password=pw"));
    expect(first).toContain("Password2:");
    const ctx = contextFrom(first);
    const done = await h.open().send(post("/auth", "secondary_password=123456", { Cookie: `webvpncontext=${ctx}` }));
    expect(cookieFrom(done)).toBe(ctx);
    expect(h.sessions.lookup(decodeSid(ctx) as Uint8Array)?.username).toBe("otpuser");
  });

  test("a pending authentication can be resumed once, only from the same address, within auth-timeout", async () => {
    const h = harness({ config: "auth-timeout = 60" });
    const ctx = contextFrom(await h.open().send(post("/", "username=test&password=wrong")));
    // Another address: the SID means nothing there, so this is a fresh start with no username.
    const other = await h.open({ socket: new FakeSocket("203.0.113.9") }).send(post("/auth", "password=secret", { Cookie: `webvpncontext=${ctx}` }));
    expect(other).toContain('name="username"');
    // The foreign attempt consumed the entry; a fresh start elsewhere is unaffected.
    const again = await h.open().send(post("/auth", "password=secret", { Cookie: `webvpncontext=${ctx}` }));
    expect(again).toContain('name="username"');

    const ctx2 = contextFrom(await h.open().send(post("/", "username=test&password=wrong")));
    h.clock.advance(60_000);
    expect(await h.open().send(post("/auth", "password=secret", { Cookie: `webvpncontext=${ctx2}` }))).toContain('name="username"');
  });

  test("wrong passwords count across connections", async () => {
    const h = harness();
    let ctx = contextFrom(await h.open().send(post("/", "username=test&password=bad1")));
    const second = await h.open().send(post("/auth", "password=bad2", { Cookie: `webvpncontext=${ctx}` }));
    expect(second).toContain("Login failed.");
    ctx = contextFrom(second);
    const c = h.open();
    expect(await c.send(post("/auth", "password=bad3", { Cookie: `webvpncontext=${ctx}` }))).toStartWith("HTTP/1.1 401 Authentication failed");
    expectDenied(c);
  });
});

describe("server-side failures", () => {
  test("a vhost without a usable authenticator ends the connection after the handshake", async () => {
    const h = harness({
      deps: {
        authenticatorFor: () => {
          throw new Error("no backend");
        },
      },
    });
    const c = h.open();
    expect(await c.send(get("/"))).toBe("");
    expect(c.socket.ended).toBe(true);
    expect(h.logger.lines.some((l) => l.startsWith("error") && l.includes("no backend"))).toBe(true);
  });
});
