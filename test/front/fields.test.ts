import { describe, expect, test } from "bun:test";
import { extractGroup, extractPassword, extractUsername, unescapeHtml, unescapeUrl } from "../../src/server/front/fields.ts";
import { classifyClient, classifyUserAgent } from "../../src/server/front/agent.ts";
import { certificateIdentity } from "../../src/server/front/certs.ts";
import { createCertificate, generateKey } from "../../src/x509/index.ts";
import { makeConfig } from "./helpers.ts";

describe("auth body field extraction", () => {
  test("reads username, password and group from an openconnect XML auth-reply", () => {
    const body =
      '<?xml version="1.0" encoding="UTF-8"?>\n<config-auth client="vpn" type="auth-reply"><auth><username>te&amp;st</username><password>p&lt;w&#33;&#x21;</password></auth><group-select>Alpha</group-select></config-auth>';
    expect(extractUsername(body)).toBe("te&st");
    expect(extractPassword(body)).toBe("p<w!!");
    expect(extractGroup(body)).toBe("Alpha");
  });

  test("matches XML tags case-insensitively", () => {
    expect(extractUsername("<?xml?><USERNAME>bob</USERNAME>")).toBe("bob");
  });

  test("reads a password tag with attributes and a secondary_password", () => {
    expect(extractPassword('<?xml?><auth><password type="x">s1</password></auth>')).toBe("s1");
    expect(extractPassword("<?xml?><auth><secondary_password>123456</secondary_password></auth>")).toBe("123456");
  });

  test("reads the legacy form post with URL unescaping", () => {
    const body = "username=j%C3%B6rg+x&password=a%26b%3D&group_list=ops";
    expect(extractUsername(body)).toBe("jörg x");
    expect(extractPassword(body)).toBe("a&b=");
    expect(extractGroup(body)).toBe("ops");
  });

  test("prefers group%5flist over group_list", () => {
    expect(extractGroup("group%5flist=first&group_list=second")).toBe("first");
    expect(extractGroup("group%5Flist=upper")).toBe("upper");
  });

  test("returns null for missing fields", () => {
    expect(extractUsername("<?xml version='1.0'?><config-auth type=\"init\"/>")).toBeNull();
    expect(extractPassword("username=x")).toBeNull();
    expect(extractGroup("username=x")).toBeNull();
  });

  test("keeps malformed escapes literally", () => {
    expect(unescapeUrl("100%zz%4")).toBe("100%zz%4");
    expect(unescapeHtml("&bogus; &#xZZ; &amp;")).toBe("&bogus; &#xZZ; &");
  });
});

describe("client classification", () => {
  test("classifies openconnect v3 and later by the legacy agent string", () => {
    expect(classifyUserAgent("Open AnyConnect VPN Agent v3.02").type).toBe("openconnect-v3");
    expect(classifyUserAgent("open anyconnect vpn agent v9.12").type).toBe("openconnect");
    expect(classifyUserAgent("OpenConnect VPN Agent (PolicyKit)").type).toBe("openconnect");
    expect(classifyUserAgent("AnyConnect-compatible OpenConnect VPN Agent v9.12").type).toBe("openconnect");
  });

  test("classifies AnyConnect, iOS and the other agents", () => {
    expect(classifyUserAgent("Cisco AnyConnect VPN Agent for Apple iPhone 4.10")).toEqual({ type: "anyconnect", ios: true });
    expect(classifyUserAgent("Cisco AnyConnect VPN Agent for Windows 4.10")).toEqual({ type: "anyconnect", ios: false });
    expect(classifyUserAgent("AnyConnect Darwin_i386 4.10").type).toBe("anyconnect");
    expect(classifyUserAgent("Clavister OneConnect VPN 1.0").type).toBe("clavister");
    expect(classifyUserAgent("AnyLink Secure Client 1").type).toBe("anylink");
    expect(classifyUserAgent("Cisco SVC IPPhone Client v1.0").type).toBe("svc-ipphone");
    expect(classifyUserAgent("curl/8.0").type).toBe("unknown");
    expect(classifyUserAgent(undefined).type).toBe("unknown");
  });

  test("detects mobile clients from X-AnyConnect-Identifier-Platform", () => {
    expect(classifyClient(new Map([["X-AnyConnect-Identifier-Platform", "apple-ios"]]))).toMatchObject({ mobile: true, ios: true });
    expect(classifyClient(new Map([["X-AnyConnect-Identifier-Platform", "android"]]))).toMatchObject({ mobile: true, ios: false });
    expect(classifyClient(new Map([["X-AnyConnect-Identifier-Platform", "linux-64"]]))).toMatchObject({ mobile: false });
    // The header name is matched case-sensitively, as ocserv does.
    expect(classifyClient(new Map([["x-anyconnect-identifier-platform", "android"]]))).toMatchObject({ mobile: false });
  });
});

describe("client certificate identity", () => {
  const { key } = generateKey("ecdsa-p256");
  const { der } = createCertificate({
    subject: { CN: "alice", OU: "ops", UID: "alice-uid" },
    subjectKey: key,
    issuer: "self",
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3_600_000),
    isCa: false,
    keyUsage: ["digitalSignature"],
    extKeyUsage: ["clientAuth"],
    emails: ["alice@example.com"],
  });

  test("reads the user from cert-user-oid and the groups from cert-group-oid", () => {
    const vhost = makeConfig('auth = "certificate"\ncert-user-oid = 0.9.2342.19200300.100.1.1\ncert-group-oid = 2.5.4.11').defaultVhost;
    expect(certificateIdentity(vhost, [der])).toEqual({ user: "alice-uid", groups: ["ops"] });
  });

  test("reads the user from the rfc822Name SAN", () => {
    const vhost = makeConfig('auth = "certificate"\ncert-user-oid = SAN(rfc822name)').defaultVhost;
    expect(certificateIdentity(vhost, [der])?.user).toBe("alice@example.com");
  });

  test("returns null for garbage, a missing attribute or no certificate", () => {
    const vhost = makeConfig('auth = "certificate"\ncert-user-oid = 2.5.4.3').defaultVhost;
    expect(certificateIdentity(vhost, [new Uint8Array([0x30, 0x03, 1, 2, 3])])).toBeNull();
    expect(certificateIdentity(vhost, [])).toBeNull();
    const noEmail = makeConfig('auth = "certificate"\ncert-user-oid = 2.5.4.10').defaultVhost;
    expect(certificateIdentity(noEmail, [der])).toBeNull();
  });
});
