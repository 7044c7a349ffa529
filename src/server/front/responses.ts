// The exact bytes of every response the front sends (protocol.md §0, §1.3, §1.5). openconnect and
// AnyConnect parse these with hand-written code, so header order, spelling and line endings follow
// ocserv (worker-auth.c get_auth_handler2 / post_common_handler, worker-http-handlers.c).
// Status lines echo the request's minor version (`HTTP/1.<minor>`), as ocserv prints http_ver.
// No XML escaping is applied to banners, labels or messages: ocserv does none, and administrators
// put markup in banners on purpose.

const enc = new TextEncoder();

const XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n';
const CONFIG_AUTH_REQUEST = '<config-auth client="vpn" type="auth-request">\n<version who="sg">0.1(1)</version>\n';
const EXPIRED_CONTEXT_COOKIE = "Set-Cookie: webvpncontext=; expires=Thu, 01 Jan 1970 22:00:00 GMT; path=/; Secure; HttpOnly\r\n";
const NOT_FOUND_BODY = "<html><body><h1>404 Not Found</h1></body></html>\r\n";

export type HttpMinor = 0 | 1;

/** Header values we build from backend strings must not be able to inject header lines. */
function headerSafe(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]/g, " ");
}

function byteLength(s: string): number {
  return enc.encode(s).length;
}

function included(lines: readonly string[]): string {
  let s = "";
  for (const l of lines) s += `${headerSafe(l)}\r\n`;
  return s;
}

function bytes(s: string): Uint8Array {
  return enc.encode(s);
}

/** ocserv response_404: the connection is closed after it. */
export function notFoundResponse(minor: HttpMinor): Uint8Array {
  return bytes(
    `HTTP/1.${minor} 404 Not found\r\nContent-Length: ${byteLength(NOT_FOUND_BODY)}\r\nConnection: close\r\n\r\n${NOT_FOUND_BODY}`,
  );
}

/** A bodiless error status sent before closing (HTTP parse errors). */
export function errorStatusResponse(minor: HttpMinor, status: number, reason: string): Uint8Array {
  return bytes(`HTTP/1.${minor} ${status} ${headerSafe(reason)}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
}

/** Failed authentication: `401 <reason>`, then the caller sends access_denied and closes. */
export function authFailedResponse(minor: HttpMinor, reason: string): Uint8Array {
  return bytes(`HTTP/1.${minor} 401 ${headerSafe(reason)}\r\nContent-Length: 0\r\n\r\n`);
}

/** Camouflage: 401 with a Basic realm, or the standard 404 when no realm is configured. */
export function camouflageResponse(minor: HttpMinor, realm: string | null): Uint8Array {
  if (realm === null) return notFoundResponse(minor);
  return bytes(
    `HTTP/1.${minor} 401 Unauthorized\r\nWWW-Authenticate: Basic realm="${headerSafe(realm)}"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
  );
}

/** CONNECT without any `webvpn=` cookie. */
export function connectNoCookieResponse(): Uint8Array {
  return bytes("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
}

/** CONNECT whose cookie failed; 405 when camouflage hides the VPN (ocserv worker-vpn.c). */
export function connectRejectedResponse(camouflage: boolean): Uint8Array {
  return bytes(
    camouflage
      ? "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n"
      : "HTTP/1.1 401 Cookie is not acceptable\r\nContent-Length: 0\r\n\r\n",
  );
}

/** A tunnel-side refusal (contract ConnectOutcome ok:false). */
export function connectFailedResponse(status: 401 | 503, reason: string, camouflage: boolean): Uint8Array {
  if (status === 401) return connectRejectedResponse(camouflage);
  return bytes(`HTTP/1.1 503 Service Unavailable\r\nX-Reason: ${headerSafe(reason)}\r\nContent-Length: 0\r\n\r\n`);
}

/** The fixed-string URLs of ANYCONNECT_CLIENT_COMPAT builds. */
export function fixedResponse(minor: HttpMinor, contentType: string, body: string, includedHeaders: readonly string[]): Uint8Array {
  return bytes(
    `HTTP/1.${minor} 200 OK\r\nConnection: Keep-Alive\r\nContent-Type: ${contentType}\r\nContent-Length: ${byteLength(body)}\r\n` +
      `X-Transcend-Version: 1\r\n${included(includedHeaders)}\r\n${body}`,
  );
}

/** An AnyConnect XML profile at /profiles/<file>. */
export function profileResponse(minor: HttpMinor, profile: Uint8Array, includedHeaders: readonly string[]): Uint8Array {
  const head = bytes(
    `HTTP/1.${minor} 200 OK\r\nConnection: Keep-Alive\r\nContent-Type: text/xml\r\nContent-Length: ${profile.length}\r\n` +
      `X-Transcend-Version: 1\r\n${included(includedHeaders)}\r\n`,
  );
  const out = new Uint8Array(head.length + profile.length);
  out.set(head, 0);
  out.set(profile, head.length);
  return out;
}

export interface GroupOption {
  /** null renders `<option>LABEL</option>` (the default-select-group entry). */
  readonly value: string | null;
  readonly label: string;
}

export interface FormCommon {
  readonly minor: HttpMinor;
  /** The SID once one exists (the auth started): sent back as webvpncontext with Max-Age. */
  readonly sid: string | null;
  readonly cookieTimeout: number;
  readonly includedHeaders: readonly string[];
  /** OpenConnect v3 gets the forms without the config-auth wrapper. */
  readonly v3: boolean;
}

export interface UsernameForm extends FormCommon {
  readonly stage: "username";
  readonly preLoginBanner: string | null;
  readonly message: string;
  readonly passwordFields: boolean;
  /** null: no <select>; otherwise the options in order. */
  readonly groups: readonly GroupOption[] | null;
}

export interface PasswordForm extends FormCommon {
  readonly stage: "password";
  readonly message: string;
  /** `password`, or `secondary_password` for a later secret (ocserv: when passwd_counter > 0). */
  readonly fieldName: "password" | "secondary_password";
  /** "Password:", or "Password<N>:" for the N-th secret. */
  readonly label: string;
}

export function authFormBody(form: UsernameForm | PasswordForm): string {
  const authId = form.stage === "password" && form.v3 ? "passwd" : "main";
  let s = XML_DECL + (form.v3 ? "" : CONFIG_AUTH_REQUEST) + `<auth id="${authId}">\n`;
  switch (form.stage) {
    case "username":
      if (form.preLoginBanner !== null) s += `<banner>${form.preLoginBanner}</banner>\n`;
      s += `<message>${form.message}</message>\n<form method="post" action="/auth">\n`;
      if (form.passwordFields) {
        s += '<input type="text" name="username" label="Username:" />\n';
        s += '<input type="password" name="password" label="Password:" />\n';
      }
      if (form.groups !== null) {
        s += '<select name="group_list" label="Group:">\n';
        for (const g of form.groups) s += g.value === null ? `<option>${g.label}</option>\n` : `<option value="${g.value}">${g.label}</option>\n`;
        s += "</select>\n";
      }
      break;
    case "password":
      s += `<message>${form.message}</message>\n<form method="post" action="/auth">\n`;
      s += `<input type="password" name="${form.fieldName}" label="${form.label}" />\n`;
      break;
    default: {
      const never: never = form;
      throw new TypeError(`unknown form ${String(never)}`);
    }
  }
  s += form.v3 ? "</form></auth>\n" : "</form></auth>\n</config-auth>";
  return s;
}

/** The username/group form or the password form (ocserv get_auth_handler2). */
export function authFormResponse(form: UsernameForm | PasswordForm): Uint8Array {
  const body = authFormBody(form);
  const cookie =
    form.sid === null
      ? EXPIRED_CONTEXT_COOKIE
      : `Set-Cookie: webvpncontext=${form.sid}; Max-Age=${form.cookieTimeout}; Secure; HttpOnly\r\n`;
  return bytes(
    `HTTP/1.${form.minor} 200 OK\r\n${cookie}Content-Type: text/xml; charset=utf-8\r\nContent-Length: ${byteLength(body)}\r\n` +
      `X-Transcend-Version: 1\r\n${included(form.includedHeaders)}\r\n${body}`,
  );
}

export interface CompleteResponse {
  readonly minor: HttpMinor;
  /** base64 of the SID; webvpn and webvpncontext carry the same value (protocol.md §1.4). */
  readonly cookie: string;
  readonly includedHeaders: readonly string[];
  readonly v3: boolean;
  readonly banner: string | null;
  /** SHA-1 of the server certificate DER, upper-case hex; null omits the webvpnc line. */
  readonly serverCertSha1: string | null;
  /** user-profile: the file name under /profiles/ and the SHA-1 of its contents (upper-case hex). */
  readonly profile: { readonly fileName: string; readonly sha1: string } | null;
}

export function completeBody(c: CompleteResponse): string {
  const banner = c.banner === null ? "" : `<banner>${c.banner}</banner>`;
  if (c.v3) return `${XML_DECL}<auth id="success">\n<title>SSL VPN Service</title>${banner}</auth>\n`;
  const head =
    `${XML_DECL}<config-auth client="vpn" type="complete">\n<version who="sg">0.1(1)</version>\n` +
    `<auth id="success">\n<title>SSL VPN Service</title>${banner}`;
  if (c.profile === null) return `${head}</auth></config-auth>\n`;
  return (
    `${head}</auth>\n<config client="vpn" type="private"><vpn-profile-manifest><vpn rev="1.0">` +
    `<file type="profile" service-type="user"><uri>/profiles/${c.profile.fileName}</uri>` +
    `<hash type="sha1">${c.profile.sha1}</hash></file></vpn></vpn-profile-manifest>\n</config></config-auth>`
  );
}

/** Auth complete with the session cookies (ocserv post_common_handler). */
export function completeResponse(c: CompleteResponse): Uint8Array {
  const body = completeBody(c);
  let webvpnc = "";
  if (c.serverCertSha1 !== null) {
    const profile =
      c.profile === null
        ? ""
        : `&lu:/+CSCOT+/translation-table?textdomain%3DAnyConnect%26type%3Dmanifest&fu:profiles%2F${c.profile.fileName}&fh:${c.profile.sha1}`;
    webvpnc = `Set-Cookie: webvpnc=bu:/&p:t&iu:1/&sh:${c.serverCertSha1}${profile}; path=/; Secure; HttpOnly\r\n`;
  }
  return bytes(
    `HTTP/1.${c.minor} 200 OK\r\nConnection: Keep-Alive\r\nContent-Type: text/xml; charset=utf-8\r\n` +
      `Content-Length: ${byteLength(body)}\r\nX-Transcend-Version: 1\r\n` +
      `Set-Cookie: webvpncontext=${c.cookie}; Secure; HttpOnly\r\n` +
      `Set-Cookie: webvpn=${c.cookie}; Secure; HttpOnly\r\n` +
      "Set-Cookie: webvpnc=; expires=Thu, 01 Jan 1970 22:00:00 GMT; path=/; Secure; HttpOnly\r\n" +
      included(c.includedHeaders) +
      webvpnc +
      `\r\n${body}`,
  );
}

/** GET /svc, the Cisco IP-phone login page (protocol.md §1.8, ocserv worker-svc.c). */
export function svcLoginPageResponse(minor: HttpMinor): Uint8Array {
  return bytes(
    `HTTP/1.${minor} 200 OK\r\nContent-Length: 0\r\n` +
      "Set-Cookie: webvpn=; expires=Thu, 01 Jan 1970 22:00:00 GMT; path=/; secure\r\n" +
      "Set-Cookie: webvpnlogin=1; secure\r\nX-Transcend-Version: 1\r\n\r\n",
  );
}

/** POST /svc success: the phone reads the cookie and sends CONNECT. */
export function svcLoginOkResponse(minor: HttpMinor, cookie: string): Uint8Array {
  return bytes(
    `HTTP/1.${minor} 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n` +
      `Set-Cookie: webvpn=${cookie}; secure\r\nX-Transcend-Version: 1\r\n\r\n`,
  );
}
