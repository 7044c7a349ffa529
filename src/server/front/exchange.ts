// The per-connection request handler: URL routing, camouflage, the auth state machine and the cookie
// check of CONNECT (protocol.md §0, §1.1–§1.5; ocserv worker-http.c, worker-auth.c, worker-vpn.c).
//
// Auth state (ocserv auth_state) lives per TLS connection and moves
//     inactive ──POST──▶ (init: backend.start) ──continue──▶ req ──POST──▶ (answer) ──ok──▶ complete
// The transient ocserv states S_AUTH_INIT / S_AUTH_COOKIE are the awaits in between. A failure at any
// point is `401 <reason>`, a fatal access_denied alert and the end of the connection: the client must
// reconnect to try again, as with ocserv, whose worker exits.
//
// A request becomes an Action; the connection driver performs it (writes, alert, close, tunnel).

import type {
  ConnectOutcome,
  SessionRecord,
  SessionSettingsLoader,
  TunnelHandle,
  TunnelManager,
  TunnelTransport,
} from "../contract.ts";
import type { GlobalOptions, SessionSettings, VhostConfig } from "../../config/types.ts";
import type { Logger } from "../../log/types.ts";
import type { HttpRequest } from "./http.ts";
import type { AuthState as BackendState, AuthStep, CertIdentity } from "../../auth/types.ts";
import type { Authenticator, BanTracker } from "./types.ts";
import type { AdmitResult, Clock, ConnectPolicy, NewSession, ReserveResult } from "./sessions.ts";
import { connectPolicyOf } from "./sessions.ts";
import type { PendingAuths } from "./pending.ts";
import type { GroupOption, HttpMinor } from "./responses.ts";
import { classifyClient, type ClientAgent } from "./agent.ts";
import { encodeSid, hasWebvpnCookie, parseCookieHeader } from "./cookies.ts";
import { extractGroup, extractPassword, extractUsername, unescapeUrl } from "./fields.ts";
import { SessionError } from "./errors.ts";
import { constantTimeEqual } from "../../wire/writer.ts";
import {
  authFailedResponse,
  authFormResponse,
  camouflageResponse,
  completeResponse,
  connectFailedResponse,
  connectNoCookieResponse,
  connectRejectedResponse,
  fixedResponse,
  notFoundResponse,
  profileResponse,
  svcLoginOkResponse,
  svcLoginPageResponse,
} from "./responses.ts";

/** ocserv MAX_PASSWORD_TRIES. */
export const MAX_PASSWORD_TRIES = 3;

/** What the front needs of the session table (MemorySessionStore implements it). */
export interface FrontSessions {
  newSid(): Uint8Array;
  create(sid: Uint8Array, fields: NewSession): SessionRecord;
  lookup(sid: Uint8Array): SessionRecord | null;
  /** The CONNECT checks, without taking a max-same-clients slot. */
  admit(sid: Uint8Array, remoteIp: string, policy?: ConnectPolicy): AdmitResult;
  /**
   * admit() that also holds a max-same-clients slot until the result's release(), so concurrent
   * CONNECTs cannot both pass the limit (MemorySessionStore has it). Optional so that a session table
   * reached over IPC without it still works, with admit()'s unreserved check.
   */
  reserve?(sid: Uint8Array, remoteIp: string, policy?: ConnectPolicy): ReserveResult;
}

/** A loaded `user-profile` file. */
export interface UserProfile {
  /** The name served under /profiles/ (the file's base name). */
  readonly fileName: string;
  readonly contents: Uint8Array;
  /** SHA-1 of contents, upper-case hex. */
  readonly sha1: string;
}

export interface ExchangeContext {
  readonly vhost: VhostConfig;
  readonly global: GlobalOptions;
  readonly authenticator: Authenticator;
  readonly sessions: FrontSessions;
  readonly tunnels: TunnelManager;
  readonly bans: BanTracker;
  readonly logger: Logger;
  readonly remoteIp: string;
  /** The identity of the client certificate the handshake verified (cert-user-oid / cert-group-oid),
   *  or null when there is none or it could not be read. */
  readonly certificate: CertIdentity | null;
  /** SHA-1 of the server certificate DER, upper-case hex, for the webvpnc cookie. */
  readonly serverCertSha1: string | null;
  readonly profile: UserProfile | null;
  /** The transport handed to the tunnel side on a successful CONNECT. */
  readonly transport: TunnelTransport;
  /** Authentications awaiting an answer, shared by all connections (continuation by webvpncontext). */
  readonly pending: PendingAuths;
  readonly clock: Clock;
  /** How long a pending authentication may wait (auth-timeout). */
  readonly pendingTtlMs: number;
  /** The per-user/group configuration loader (src/config loadSessionSettings), called at each CONNECT. */
  readonly settingsFor: SessionSettingsLoader;
}

export type Action =
  /** `then`: keep the connection, close it (close_notify), or deny (fatal access_denied, close). */
  | { readonly kind: "respond"; readonly bytes: Uint8Array; readonly then: "keep-open" | "close" | "deny" }
  | { readonly kind: "tunnel"; readonly head: Uint8Array; readonly tunnel: TunnelHandle };

type AuthState =
  | { readonly kind: "inactive" }
  | {
      readonly kind: "req";
      /** The backend's opaque state: answered exactly once. */
      readonly backend: BackendState;
      readonly message: string;
      readonly fieldName: "password" | "secondary_password";
      readonly label: string;
    }
  | { readonly kind: "complete"; readonly session: SessionRecord };

type UrlKind = "auth" | "svc" | "profiles" | "manifest" | "update" | "downloader" | "empty-html";

/** ocserv worker-http.c known_urls (ANYCONNECT_CLIENT_COMPAT entries included). */
const KNOWN_URLS: readonly { readonly path: string; readonly dir: boolean; readonly kind: UrlKind }[] = Object.freeze([
  { path: "/", dir: false, kind: "auth" },
  { path: "/auth", dir: false, kind: "auth" },
  { path: "/VPN", dir: false, kind: "auth" },
  { path: "/svc", dir: false, kind: "svc" },
  { path: "/profiles", dir: true, kind: "profiles" },
  { path: "/VPNManifest.xml", dir: false, kind: "manifest" },
  { path: "/1/VPNManifest.xml", dir: false, kind: "manifest" },
  { path: "/+CSCOT+/translation-table", dir: false, kind: "manifest" },
  { path: "/+CSCOT+/oem-customization", dir: false, kind: "manifest" },
  { path: "/1/binaries/update.txt", dir: false, kind: "update" },
  { path: "/1/binaries/vpndownloader.sh", dir: false, kind: "downloader" },
  { path: "/1/index.html", dir: false, kind: "empty-html" },
  { path: "/1/Linux", dir: false, kind: "empty-html" },
  { path: "/1/Linux_64", dir: false, kind: "empty-html" },
  { path: "/1/Windows", dir: false, kind: "empty-html" },
  { path: "/1/Windows_ARM64", dir: false, kind: "empty-html" },
  { path: "/1/Darwin_i386", dir: false, kind: "empty-html" },
  { path: "/logout", dir: false, kind: "empty-html" },
]);

/**
 * GET (ocserv http_get_url_handler): an exact match, or the path followed by `/` or `?`; directory
 * entries match any extension. POST (http_post_url_handler): exact matches only.
 */
export function matchKnownUrl(url: string, method: "GET" | "POST"): UrlKind | null {
  for (const e of KNOWN_URLS) {
    if (method === "POST") {
      if (url === e.path) return e.kind;
    } else if (e.dir ? url.startsWith(e.path) : url === e.path || url.startsWith(`${e.path}/`) || url.startsWith(`${e.path}?`)) {
      return e.kind;
    }
  }
  return null;
}

const MANIFEST_BODY = '<?xml version="1.0" encoding="UTF-8"?>\n<vpn rev="1.0">\n</vpn>\n';
const USERNAME_MESSAGE = "Please enter your username and password.";
const PASSWORD_MESSAGE = "Please enter your password.";
const SELECT_GROUP_MESSAGE = "Please select your group.";
/** ocserv keeps group names in 64-byte buffers; longer client values cannot name a group. */
const MAX_GROUP_LENGTH = 255;
const CONNECT_URLS = new Set(["/CSCOSSLC/tunnel", "CSCOSSLC/tunnel"]);

export class AuthExchange {
  private state: AuthState = { kind: "inactive" };
  /** The SID once the auth started; the cookie after success. */
  private sid: Uint8Array | null = null;
  private requestedGroup: string | null = null;
  private groupForcedByUrl = false;
  /** The client chose default-select-group ("use my default group"). */
  private defaultGroupRequested = false;
  private wrongPasswords = 0;
  private camouflagePassed = false;
  /** The client of the current request (User-Agent classes pick form variants). */
  private client: ClientAgent = { type: "unknown", ios: false, mobile: false };

  constructor(private readonly ctx: ExchangeContext) {}

  get authState(): AuthState["kind"] {
    return this.state.kind;
  }

  async handle(req: HttpRequest): Promise<Action> {
    const action = await this.route(req);
    // HTTP/1.0: one response, then the connection closes (protocol.md §0).
    if (action.kind === "respond" && action.then === "keep-open" && req.minorVersion === 0) return { ...action, then: "close" };
    return action;
  }

  private async route(req: HttpRequest): Promise<Action> {
    const minor = req.minorVersion;
    this.client = classifyClient(req.headers);
    if (req.method === "CONNECT") return this.connect(req);
    if (req.method !== "GET" && req.method !== "POST") return notFound(minor);

    let url = req.url;
    const o = this.ctx.vhost.options;
    if (o.camouflage && !this.camouflagePassed) {
      // ocserv check_camouflage_url: everything after the first `?` must equal the secret exactly.
      const q = url.indexOf("?");
      if (q < 0 || o.camouflage_secret === null || !secretMatches(url.slice(q + 1), o.camouflage_secret)) {
        this.ctx.logger.debug(`camouflage: ${req.method} without the secret`);
        return { kind: "respond", bytes: camouflageResponse(minor, o.camouflage_realm), then: "close" };
      }
      this.camouflagePassed = true;
      url = url.slice(0, q);
    }

    let kind = matchKnownUrl(url, req.method);
    // The IP-phone login exists only with cisco-svc-client-compat (README-cisco-svc.md).
    if (kind === "svc" && !o["cisco-svc-client-compat"]) kind = null;
    if (req.method === "GET") {
      switch (kind) {
        case "auth":
          return this.respond(this.formResponse(minor));
        case "svc":
          return this.respond(svcLoginPageResponse(minor));
        case "profiles":
          return this.profile(req, url);
        case "manifest":
          return this.respond(fixedResponse(minor, "text/xml", MANIFEST_BODY, o["included-http-headers"]));
        case "update":
          return this.respond(fixedResponse(minor, "text/plain", "0,0,0000\n", o["included-http-headers"]));
        case "downloader":
          return this.respond(fixedResponse(minor, "application/x-shellscript", "#!/bin/sh\n\nexit 0", o["included-http-headers"]));
        case "empty-html":
          return this.respond(fixedResponse(minor, "text/html", "<html></html>\n", o["included-http-headers"]));
        case null:
          return notFound(minor);
        default: {
          const never: never = kind;
          throw new TypeError(`unknown URL kind ${String(never)}`);
        }
      }
    }

    // POST: the auth URLs authenticate; any other URL does too while not yet authenticated, which is
    // how select-group-by-url receives `POST /<group>` (ocserv worker-http.c, protocol.md §0).
    if (kind === "auth") return this.postAuth(req, null);
    if (kind === "svc") return this.svcLogin(req);
    if (this.state.kind === "complete") return notFound(minor);
    let urlGroup: string | null = null;
    if (o["select-group-by-url"] && url.length > 1) {
      const path = url.split("?")[0] ?? url;
      urlGroup = unescapeUrl(path.slice(1));
    }
    return this.postAuth(req, urlGroup);
  }

  private respond(bytes: Uint8Array): Action {
    return { kind: "respond", bytes, then: "keep-open" };
  }

  private deny(minor: HttpMinor, reason: string): Action {
    return { kind: "respond", bytes: authFailedResponse(minor, reason), then: "deny" };
  }

  // ── forms ────────────────────────────────────────────────────────────────────────────────────

  private formResponse(minor: HttpMinor): Uint8Array {
    const o = this.ctx.vhost.options;
    const v3 = this.client.type === "openconnect-v3";
    const common = {
      minor,
      sid: this.sid === null ? null : encodeSid(this.sid),
      cookieTimeout: o["cookie-timeout"],
      includedHeaders: o["included-http-headers"],
      v3,
    };
    if (this.state.kind === "req") {
      const st = this.state;
      return authFormResponse({ ...common, stage: "password", message: st.message, fieldName: st.fieldName, label: st.label });
    }
    return authFormResponse({
      ...common,
      stage: "username",
      preLoginBanner: o["pre-login-banner"],
      message: this.mustSelectCertGroup() ? SELECT_GROUP_MESSAGE : USERNAME_MESSAGE,
      passwordFields: this.ctx.authenticator.usesPassword(this.ctx.certificate !== null),
      groups: this.groupOptions(),
    });
  }

  /** The groups an admin offers: select-group entries, or the backend's with auto-select-group. */
  private configuredGroups(): readonly { readonly name: string; readonly label: string }[] {
    const o = this.ctx.vhost.options;
    if (o["select-group"].length > 0) return o["select-group"];
    if (o["auto-select-group"]) {
      return this.ctx.authenticator.listGroups().map((name) => ({ name, label: name }));
    }
    return [];
  }

  /** ocserv get_auth_handler2 order: the requested group, DEFAULT, the certificate's groups, the
   *  configured groups; no list at all when the group was forced by URL. */
  private groupOptions(): readonly GroupOption[] | null {
    if (this.groupForcedByUrl) return null;
    const configured = this.configuredGroups();
    const certGroups = this.ctx.certificate?.groups ?? [];
    if (configured.length === 0 && certGroups.length === 0) return null;
    const options: GroupOption[] = [];
    const listed = new Set<string>();
    const add = (value: string, label: string) => {
      if (listed.has(value)) return;
      listed.add(value);
      options.push({ value, label });
    };
    const requested = this.requestedGroup;
    if (requested !== null) add(requested, configured.find((g) => g.name === requested)?.label ?? requested);
    const def = this.ctx.vhost.options["default-select-group"];
    if (def !== null) options.push({ value: null, label: def });
    // Certificate groups that are not configured ones are listed by name only (ocserv writes
    // `<option>NAME</option>` for them); configured ones appear in the configured part.
    for (const g of certGroups) {
      if (g === requested || configured.some((c) => c.name === g) || listed.has(g)) continue;
      listed.add(g);
      options.push({ value: null, label: g });
    }
    for (const g of configured) add(g.name, g.label);
    return options;
  }

  /**
   * Certificate groups (cert-group-oid) and no group chosen: ocserv 1.5.1 (#692) picks the group when
   * exactly one is eligible (a certificate group that is also a select-group entry, or any certificate
   * group when there are none); otherwise the client must pick one first.
   */
  private autoSelectCertGroup(): void {
    const certGroups = this.ctx.certificate?.groups ?? [];
    if (certGroups.length === 0 || this.requestedGroup !== null || this.defaultGroupRequested || this.groupForcedByUrl) return;
    const configured = this.configuredGroups();
    const eligible = configured.length > 0 ? certGroups.filter((g) => configured.some((c) => c.name === g)) : certGroups;
    if (eligible.length === 1) this.requestedGroup = eligible[0] ?? null;
  }

  private mustSelectCertGroup(): boolean {
    this.autoSelectCertGroup();
    return (
      (this.ctx.certificate?.groups.length ?? 0) > 0 && this.requestedGroup === null && !this.defaultGroupRequested && !this.groupForcedByUrl
    );
  }

  /** ocserv resolve_selected_group: a configured name or label maps to the name; default-select-group
   *  means "the user's default group"; an unknown value is passed on for the backend to judge. */
  private resolveGroup(raw: string | null): string | null {
    if (raw === null || raw === "" || raw.length > MAX_GROUP_LENGTH) return null;
    const def = this.ctx.vhost.options["default-select-group"];
    if (def !== null && raw === def) return null;
    for (const g of this.configuredGroups()) if (raw === g.name || raw === g.label) return g.name;
    return raw;
  }

  // ── auth ─────────────────────────────────────────────────────────────────────────────────────

  private async postAuth(req: HttpRequest, urlGroup: string | null): Promise<Action> {
    const minor = req.minorVersion;
    const body = new TextDecoder().decode(req.body);
    if (this.state.kind === "inactive") this.resumePending(req);
    if (this.state.kind === "req") {
      const backend = this.state.backend;
      return this.step(minor, () => this.ctx.authenticator.answer(backend, extractPassword(body)), null, req);
    }
    if (this.state.kind === "complete") {
      // A new login on the same connection gets a new SID: the cookie already issued must keep
      // naming the session it was issued for.
      this.state = { kind: "inactive" };
      this.sid = null;
    }

    const auth = this.ctx.authenticator;
    const certificate = this.ctx.certificate;
    this.groupForcedByUrl = urlGroup !== null;
    const rawGroup = urlGroup ?? extractGroup(body);
    const def = this.ctx.vhost.options["default-select-group"];
    this.defaultGroupRequested = def !== null && rawGroup === def;
    this.requestedGroup = this.resolveGroup(rawGroup);
    // A group still to be chosen, or no username yet (e.g. openconnect's XML "init"): the form again.
    if (this.mustSelectCertGroup()) return this.respond(this.formResponse(minor));
    let username: string | null = null;
    if (auth.usesPassword(certificate !== null)) {
      username = extractUsername(body);
      if (username === null || username === "") return this.respond(this.formResponse(minor));
    }
    this.sid ??= this.ctx.sessions.newSid();
    const group = this.requestedGroup;
    const start = () =>
      auth.start({
        ...(username !== null ? { username } : {}),
        ...(group !== null ? { groupRequested: group } : {}),
        ...(certificate !== null ? { certificate } : {}),
        remoteIp: this.ctx.remoteIp,
      });
    // Single-form submission (ocserv 1.4.0+, #551): a first POST with a username also carries the
    // password, which answers the backend's first question at once.
    return this.step(minor, start, username !== null ? body : null, req);
  }

  /**
   * A POST on a fresh connection that carries the `webvpncontext` of an authentication waiting for
   * its next answer continues that authentication (ocserv post_auth_handler: sid_set while
   * S_AUTH_INACTIVE goes straight to SEC_AUTH_CONT). Unknown or expired SIDs start afresh.
   */
  private resumePending(req: HttpRequest): void {
    const context = parseCookieHeader(req.headers).webvpncontext;
    if (context === null) return;
    const p = this.ctx.pending.take(context, this.ctx.vhost.name, this.ctx.remoteIp);
    if (p === null) return;
    this.sid = p.sid;
    this.requestedGroup = p.requestedGroup;
    this.wrongPasswords = p.wrongPasswords;
    this.state = { kind: "req", backend: p.backend, message: p.message, fieldName: p.fieldName, label: p.label };
    this.ctx.logger.debug("continuing an authentication started on another connection");
  }

  /** Runs one backend step and turns its outcome into a response. */
  private async step(
    minor: HttpMinor,
    run: () => AuthStep | Promise<AuthStep>,
    singleFormBody: string | null,
    req: HttpRequest,
  ): Promise<Action> {
    // The backend state is about to be answered: it can no longer be resumed elsewhere.
    if (this.sid !== null) this.ctx.pending.delete(this.sid);
    let result: AuthStep;
    try {
      result = await run();
    } catch (e) {
      this.ctx.logger.error(`auth backend failed: ${e instanceof Error ? e.message : String(e)}`);
      this.state = { kind: "inactive" };
      return this.deny(minor, "Internal error");
    }
    switch (result.kind) {
      case "ok":
        return this.complete(minor, result.user, result.group, req);
      case "fail":
        this.ctx.logger.info(`authentication failed: ${result.reason}`);
        this.state = { kind: "inactive" };
        if (result.banPoints > 0) this.ctx.bans.addPoints(this.ctx.remoteIp, result.banPoints);
        return this.deny(minor, result.reason);
      case "continue": {
        if (result.banPoints > 0) {
          // A retry after a wrong password: charge it, and stop at ocserv's MAX_PASSWORD_TRIES even
          // if a backend would allow more.
          this.wrongPasswords++;
          const banned = this.ctx.bans.addPoints(this.ctx.remoteIp, result.banPoints);
          if (this.wrongPasswords >= MAX_PASSWORD_TRIES || banned) {
            this.ctx.logger.info(banned ? "address banned during authentication" : "too many wrong passwords");
            this.state = { kind: "inactive" };
            return this.deny(minor, "Authentication failed");
          }
        }
        const backend = result.state;
        this.state = {
          kind: "req",
          backend,
          // ocserv get_auth_handler2: an empty prompt, or one that is just a "Password:" label, reads
          // "Please enter your password." instead.
          message: result.message === "" || result.message.toLowerCase().startsWith("password:") ? PASSWORD_MESSAGE : result.message,
          fieldName: result.fieldName,
          label: result.label,
        };
        const st = this.state;
        if (this.sid !== null) {
          this.ctx.pending.put({
            sid: this.sid,
            vhost: this.ctx.vhost.name,
            remoteIp: this.ctx.remoteIp,
            backend,
            message: st.message,
            fieldName: st.fieldName,
            label: st.label,
            requestedGroup: this.requestedGroup,
            wrongPasswords: this.wrongPasswords,
            expiresAt: this.ctx.clock.now() + this.ctx.pendingTtlMs,
          });
        }
        if (singleFormBody !== null) {
          const body = singleFormBody;
          return this.step(minor, () => this.ctx.authenticator.answer(backend, extractPassword(body)), null, req);
        }
        return this.respond(this.formResponse(minor));
      }
      default: {
        const never: never = result;
        throw new TypeError(`unknown auth step ${String(never)}`);
      }
    }
  }

  /**
   * POST /svc (protocol.md §1.8, ocserv worker-svc.c): one round with `username=…&password=…` or the
   * certificate; success is a bodiless 200 with the cookie, anything else `401 Authentication failed`.
   */
  private async svcLogin(req: HttpRequest): Promise<Action> {
    const minor = req.minorVersion;
    const body = new TextDecoder().decode(req.body);
    const auth = this.ctx.authenticator;
    const certificate = this.ctx.certificate;
    const fail = (): Action => {
      this.state = { kind: "inactive" };
      return this.deny(minor, "Authentication failed");
    };
    let username: string | null = null;
    if (auth.usesPassword(certificate !== null)) {
      username = extractUsername(body);
      if (username === null || username === "") return fail();
    }
    let step: AuthStep;
    try {
      step = await auth.start({
        ...(username !== null ? { username } : {}),
        ...(certificate !== null ? { certificate } : {}),
        remoteIp: this.ctx.remoteIp,
      });
      if (step.kind === "continue") step = await auth.answer(step.state, extractPassword(body));
    } catch (e) {
      this.ctx.logger.error(`auth backend failed: ${e instanceof Error ? e.message : String(e)}`);
      return fail();
    }
    if (step.kind !== "ok") {
      this.ctx.logger.info(`IP-phone authentication failed${step.kind === "fail" ? `: ${step.reason}` : " (needs more than one round)"}`);
      if (step.banPoints > 0) this.ctx.bans.addPoints(this.ctx.remoteIp, step.banPoints);
      return fail();
    }
    const sid = (this.sid ??= this.ctx.sessions.newSid());
    try {
      const session = this.ctx.sessions.create(sid, {
        username: step.user,
        group: step.group,
        vhost: this.ctx.vhost.name,
        authIp: this.ctx.remoteIp,
        userAgent: req.headers.get("User-Agent") ?? "",
      });
      this.state = { kind: "complete", session };
      this.ctx.logger.info(`user '${step.user}' authenticated via /svc (session ${session.safeId})`);
    } catch (e) {
      if (!(e instanceof SessionError)) throw e;
      this.ctx.logger.error(`cannot create session: ${e.message}`);
      return fail();
    }
    return this.respond(svcLoginOkResponse(minor, encodeSid(sid)));
  }

  private complete(minor: HttpMinor, username: string, group: string | null, req: HttpRequest): Action {
    const sid = this.sid ?? this.ctx.sessions.newSid();
    this.sid = sid;
    let session: SessionRecord;
    try {
      session = this.ctx.sessions.create(sid, {
        username,
        group,
        vhost: this.ctx.vhost.name,
        authIp: this.ctx.remoteIp,
        userAgent: req.headers.get("User-Agent") ?? "",
      });
    } catch (e) {
      if (!(e instanceof SessionError)) throw e;
      this.ctx.logger.error(`cannot create session: ${e.message}`);
      return this.deny(minor, "Internal error");
    }
    this.state = { kind: "complete", session };
    // ocserv: auth_state >= S_AUTH_COOKIE counts as having passed camouflage.
    this.camouflagePassed = true;
    this.ctx.logger.info(`user '${username}' authenticated (session ${session.safeId})`);
    const o = this.ctx.vhost.options;
    return this.respond(
      completeResponse({
        minor,
        cookie: encodeSid(sid),
        includedHeaders: o["included-http-headers"],
        v3: this.client.type === "openconnect-v3",
        banner: o.banner,
        serverCertSha1: this.ctx.serverCertSha1,
        profile: this.ctx.profile === null ? null : { fileName: this.ctx.profile.fileName, sha1: this.ctx.profile.sha1 },
      }),
    );
  }

  private profile(req: HttpRequest, url: string): Action {
    const p = this.ctx.profile;
    const path = url.split("?")[0] ?? url;
    if (p === null || path !== `/profiles/${p.fileName}`) return notFound(req.minorVersion);
    // The profile is served only to a client holding a live session cookie (ocserv get_config_handler).
    const cookies = parseCookieHeader(req.headers);
    const sid = cookies.webvpn ?? cookies.webvpncontext;
    if (sid === null || this.ctx.sessions.lookup(sid) === null) return notFound(req.minorVersion);
    return this.respond(profileResponse(req.minorVersion, p.contents, this.ctx.vhost.options["included-http-headers"]));
  }

  // ── CONNECT ──────────────────────────────────────────────────────────────────────────────────

  /**
   * CONNECT (protocol.md §1.5, ocserv connect_handler / cookie_authenticate_or_exit). The cookie is
   * checked before the URL, so a client without a valid cookie learns nothing from the path it tried.
   * Under camouflage a URL ending in `?<secret>` passes the gate; until the gate is passed every cookie
   * failure is a 405, which gives a prober no sign of a VPN (ocserv worker-auth.c).
   */
  private async connect(req: HttpRequest): Promise<Action> {
    const o = this.ctx.vhost.options;
    let url = req.url;
    const q = url.indexOf("?");
    if (o.camouflage && q >= 0 && o.camouflage_secret !== null && secretMatches(url.slice(q + 1), o.camouflage_secret)) {
      this.camouflagePassed = true;
      url = url.slice(0, q);
    }
    const hidden = o.camouflage && !this.camouflagePassed;
    const reject = (why: string): Action => {
      this.ctx.logger.info(`cookie rejected at CONNECT: ${why}`);
      return { kind: "respond", bytes: connectRejectedResponse(hidden), then: "deny" };
    };
    if (!hasWebvpnCookie(req.headers)) {
      this.ctx.logger.info("CONNECT without a cookie");
      return { kind: "respond", bytes: hidden ? connectRejectedResponse(true) : connectNoCookieResponse(), then: "deny" };
    }
    const sid = parseCookieHeader(req.headers).webvpn;
    if (sid === null) return reject("malformed cookie");
    const found = this.ctx.sessions.lookup(sid);
    if (found === null) return reject("unknown-cookie");
    // A cookie is good only on the vhost that issued it (SNI picks the vhost): otherwise a cookie from
    // a vhost with certificate auth could be presented on a password-only vhost, skipping the
    // certificate re-check below, and the tunnel would run with the other vhost's settings.
    if (found.vhost !== this.ctx.vhost.name) return reject(`session ${found.safeId} belongs to another vhost`);
    // protocol.md §1.5 step 2: with certificate auth and without cisco-client-compat, the CONNECT's
    // own TLS session must carry a verified certificate for the same user. As in ocserv, "certificate
    // auth" is the method selected for this connection: one that presents no certificate falls to
    // the first method that needs none (an enable-auth alternative), so only when every method
    // needs a certificate is its absence a failure; a certificate that is presented must match.
    if (o.auth.some((m) => m.type === "certificate") && !o["cisco-client-compat"]) {
      const cert = this.ctx.certificate;
      const methodWithoutCertificate = o["enable-auth"].some((m) => m.type !== "certificate");
      if (cert === null ? !methodWithoutCertificate : cert.user !== found.username) {
        return reject(`no matching client certificate for session ${found.safeId}`);
      }
    }
    // protocol.md §1.5 step 5: the user/group configuration is loaded at session open, and its
    // deny-roaming, max-same-clients and session-timeout decide the checks below; a file that fails
    // to load rejects the cookie (ocserv 1.5.1). Loaded once here and handed to the tunnel side.
    let settings: SessionSettings;
    try {
      const r = await this.ctx.settingsFor(this.ctx.vhost, found.username, found.group);
      if (r.kind === "rejected") {
        this.ctx.logger.warn(`per-user configuration of session ${found.safeId} rejected: ${r.reason}`);
        return reject("per-user configuration rejected");
      }
      settings = r.settings;
    } catch (e) {
      this.ctx.logger.warn(`per-user configuration of session ${found.safeId} failed: ${e instanceof Error ? e.message : String(e)}`);
      return reject("per-user configuration failed");
    }
    // Re-checked after the await: the session may have ended or been invalidated meanwhile. The
    // reservation holds a max-same-clients slot until the tunnel side answers.
    const policy = connectPolicyOf(settings);
    const sessions = this.ctx.sessions;
    const admitted: ReserveResult = sessions.reserve
      ? sessions.reserve(sid, this.ctx.remoteIp, policy)
      : withoutReservation(sessions.admit(sid, this.ctx.remoteIp, policy));
    if (!admitted.ok) return reject(admitted.reason);
    try {
      return await this.openTunnel(req, url, admitted.session, settings);
    } finally {
      admitted.release();
    }
  }

  /** The part of CONNECT after the cookie checks passed: the URL, then the tunnel side. */
  private async openTunnel(req: HttpRequest, url: string, session: SessionRecord, settings: SessionSettings): Promise<Action> {
    // After cookie success the camouflage check counts as passed (ocserv: auth_state >= S_AUTH_COOKIE).
    this.camouflagePassed = true;
    if (!CONNECT_URLS.has(url)) return notFound(req.minorVersion);
    let outcome: ConnectOutcome;
    try {
      outcome = await this.ctx.tunnels.connect({ session, headers: req.headers, transport: this.ctx.transport, settings });
    } catch (e) {
      this.ctx.logger.error(`tunnel setup failed for session ${session.safeId}: ${e instanceof Error ? e.message : String(e)}`);
      return { kind: "respond", bytes: connectFailedResponse(503, "Internal error", false), then: "deny" };
    }
    if (!outcome.ok) {
      this.ctx.logger.info(`CONNECT refused for session ${session.safeId}: ${outcome.reason}`);
      return { kind: "respond", bytes: connectFailedResponse(outcome.status, outcome.reason, false), then: "deny" };
    }
    return { kind: "tunnel", head: new TextEncoder().encode(outcome.head), tunnel: outcome.tunnel };
  }
}

/** The camouflage secret is a shared secret: compared in constant time, not with `===`, whose time
 *  depends on how many leading characters of a guess are right. */
export function secretMatches(candidate: string, secret: string): boolean {
  const enc = new TextEncoder();
  return constantTimeEqual(enc.encode(candidate), enc.encode(secret));
}

function withoutReservation(r: AdmitResult): ReserveResult {
  return r.ok ? { ok: true, session: r.session, release: () => {} } : r;
}

function notFound(minor: HttpMinor): Action {
  return { kind: "respond", bytes: notFoundResponse(minor), then: "close" };
}
