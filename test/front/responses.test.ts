import { describe, expect, test } from "bun:test";
import {
  authFailedResponse,
  authFormResponse,
  camouflageResponse,
  completeResponse,
  connectRejectedResponse,
  notFoundResponse,
} from "../../src/server/front/responses.ts";

const dec = new TextDecoder();
const text = (b: Uint8Array) => dec.decode(b);

function withLength(head: string, body: string): string {
  return head.replace("<LEN>", String(new TextEncoder().encode(body).length)) + body;
}

const SID = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

describe("auth form bytes", () => {
  test("the username form before any SID, with groups and included headers", () => {
    const body =
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
      '<config-auth client="vpn" type="auth-request">\n' +
      '<version who="sg">0.1(1)</version>\n' +
      '<auth id="main">\n' +
      "<banner>Welcome</banner>\n" +
      "<message>Please enter your username and password.</message>\n" +
      '<form method="post" action="/auth">\n' +
      '<input type="text" name="username" label="Username:" />\n' +
      '<input type="password" name="password" label="Password:" />\n' +
      '<select name="group_list" label="Group:">\n' +
      "<option>DEFAULT</option>\n" +
      '<option value="a">Alpha</option>\n' +
      "</select>\n" +
      "</form></auth>\n" +
      "</config-auth>";
    const got = text(
      authFormResponse({
        stage: "username",
        minor: 1,
        sid: null,
        cookieTimeout: 300,
        includedHeaders: ["X-Frame-Options: deny"],
        v3: false,
        preLoginBanner: "Welcome",
        message: "Please enter your username and password.",
        passwordFields: true,
        groups: [
          { value: null, label: "DEFAULT" },
          { value: "a", label: "Alpha" },
        ],
      }),
    );
    expect(got).toBe(
      withLength(
        "HTTP/1.1 200 OK\r\n" +
          "Set-Cookie: webvpncontext=; expires=Thu, 01 Jan 1970 22:00:00 GMT; path=/; Secure; HttpOnly\r\n" +
          "Content-Type: text/xml; charset=utf-8\r\n" +
          "Content-Length: <LEN>\r\n" +
          "X-Transcend-Version: 1\r\n" +
          "X-Frame-Options: deny\r\n" +
          "\r\n",
        body,
      ),
    );
  });

  test("the password form for a second factor names secondary_password and Password2", () => {
    const body =
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
      '<config-auth client="vpn" type="auth-request">\n' +
      '<version who="sg">0.1(1)</version>\n' +
      '<auth id="main">\n' +
      "<message>Please enter your OTP password.</message>\n" +
      '<form method="post" action="/auth">\n' +
      '<input type="password" name="secondary_password" label="Password2:" />\n' +
      "</form></auth>\n" +
      "</config-auth>";
    const got = text(
      authFormResponse({
        stage: "password",
        minor: 1,
        sid: SID,
        cookieTimeout: 300,
        includedHeaders: [],
        v3: false,
        message: "Please enter your OTP password.",
        fieldName: "secondary_password",
        label: "Password2:",
      }),
    );
    expect(got).toBe(
      withLength(
        "HTTP/1.1 200 OK\r\n" +
          `Set-Cookie: webvpncontext=${SID}; Max-Age=300; Secure; HttpOnly\r\n` +
          "Content-Type: text/xml; charset=utf-8\r\n" +
          "Content-Length: <LEN>\r\n" +
          "X-Transcend-Version: 1\r\n" +
          "\r\n",
        body,
      ),
    );
  });

  test("OpenConnect v3 forms drop the config-auth wrapper and use auth id passwd", () => {
    const username = text(
      authFormResponse({
        stage: "username",
        minor: 1,
        sid: null,
        cookieTimeout: 300,
        includedHeaders: [],
        v3: true,
        preLoginBanner: null,
        message: "Please enter your username and password.",
        passwordFields: true,
        groups: null,
      }),
    );
    expect(username.split("\r\n\r\n")[1]).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n<auth id="main">\n<message>Please enter your username and password.</message>\n' +
        '<form method="post" action="/auth">\n<input type="text" name="username" label="Username:" />\n' +
        '<input type="password" name="password" label="Password:" />\n</form></auth>\n',
    );
    const password = text(
      authFormResponse({
        stage: "password",
        minor: 0,
        sid: SID,
        cookieTimeout: 300,
        includedHeaders: [],
        v3: true,
        message: "Please enter your password.",
        fieldName: "password",
        label: "Password:",
      }),
    );
    expect(password.startsWith("HTTP/1.0 200 OK\r\n")).toBe(true);
    expect(password.split("\r\n\r\n")[1]).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n<auth id="passwd">\n<message>Please enter your password.</message>\n' +
        '<form method="post" action="/auth">\n<input type="password" name="password" label="Password:" />\n</form></auth>\n',
    );
  });
});

describe("auth complete bytes", () => {
  test("sets the three cookies, included headers, then the webvpnc hash line", () => {
    const body =
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
      '<config-auth client="vpn" type="complete">\n' +
      '<version who="sg">0.1(1)</version>\n' +
      '<auth id="success">\n' +
      "<title>SSL VPN Service</title><banner>Hello</banner></auth></config-auth>\n";
    const got = text(
      completeResponse({
        minor: 1,
        cookie: SID,
        includedHeaders: ["X-Content-Type-Options: nosniff"],
        v3: false,
        banner: "Hello",
        serverCertSha1: "ABCDEF0123",
        profile: null,
      }),
    );
    expect(got).toBe(
      withLength(
        "HTTP/1.1 200 OK\r\n" +
          "Connection: Keep-Alive\r\n" +
          "Content-Type: text/xml; charset=utf-8\r\n" +
          "Content-Length: <LEN>\r\n" +
          "X-Transcend-Version: 1\r\n" +
          `Set-Cookie: webvpncontext=${SID}; Secure; HttpOnly\r\n` +
          `Set-Cookie: webvpn=${SID}; Secure; HttpOnly\r\n` +
          "Set-Cookie: webvpnc=; expires=Thu, 01 Jan 1970 22:00:00 GMT; path=/; Secure; HttpOnly\r\n" +
          "X-Content-Type-Options: nosniff\r\n" +
          "Set-Cookie: webvpnc=bu:/&p:t&iu:1/&sh:ABCDEF0123; path=/; Secure; HttpOnly\r\n" +
          "\r\n",
        body,
      ),
    );
  });

  test("advertises the user profile in the webvpnc cookie and the XML manifest", () => {
    const got = text(
      completeResponse({
        minor: 1,
        cookie: SID,
        includedHeaders: [],
        v3: false,
        banner: null,
        serverCertSha1: "AA",
        profile: { fileName: "profile.xml", sha1: "BB" },
      }),
    );
    expect(got).toContain(
      "Set-Cookie: webvpnc=bu:/&p:t&iu:1/&sh:AA&lu:/+CSCOT+/translation-table?textdomain%3DAnyConnect%26type%3Dmanifest&fu:profiles%2Fprofile.xml&fh:BB; path=/; Secure; HttpOnly\r\n",
    );
    expect(got.split("\r\n\r\n")[1]).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n<config-auth client="vpn" type="complete">\n<version who="sg">0.1(1)</version>\n' +
        '<auth id="success">\n<title>SSL VPN Service</title></auth>\n<config client="vpn" type="private"><vpn-profile-manifest><vpn rev="1.0">' +
        '<file type="profile" service-type="user"><uri>/profiles/profile.xml</uri><hash type="sha1">BB</hash></file></vpn></vpn-profile-manifest>\n' +
        "</config></config-auth>",
    );
  });

  test("OpenConnect v3 gets the bare auth success body", () => {
    const got = text(
      completeResponse({ minor: 1, cookie: SID, includedHeaders: [], v3: true, banner: "B", serverCertSha1: null, profile: null }),
    );
    expect(got).not.toContain("webvpnc=bu:");
    expect(got.split("\r\n\r\n")[1]).toBe('<?xml version="1.0" encoding="UTF-8"?>\n<auth id="success">\n<title>SSL VPN Service</title><banner>B</banner></auth>\n');
  });
});

describe("error and refusal bytes", () => {
  test("the standard 404 carries its body and Connection: close", () => {
    const body = "<html><body><h1>404 Not Found</h1></body></html>\r\n";
    expect(text(notFoundResponse(1))).toBe(`HTTP/1.1 404 Not found\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
  });

  test("auth failure is 401 with the reason and an empty body", () => {
    expect(text(authFailedResponse(1, "Authentication failed"))).toBe("HTTP/1.1 401 Authentication failed\r\nContent-Length: 0\r\n\r\n");
  });

  test("a reason cannot inject header lines", () => {
    expect(text(authFailedResponse(1, "bad\r\nSet-Cookie: x"))).toBe("HTTP/1.1 401 bad  Set-Cookie: x\r\nContent-Length: 0\r\n\r\n");
  });

  test("camouflage answers 401 Basic with a realm, or 404 without one", () => {
    expect(text(camouflageResponse(1, "Corp"))).toBe(
      'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="Corp"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
    );
    expect(text(camouflageResponse(1, null))).toBe(text(notFoundResponse(1)));
  });

  test("a rejected cookie is 401 Cookie is not acceptable, or 405 under camouflage", () => {
    expect(text(connectRejectedResponse(false))).toBe("HTTP/1.1 401 Cookie is not acceptable\r\nContent-Length: 0\r\n\r\n");
    expect(text(connectRejectedResponse(true))).toBe("HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n");
  });
});
