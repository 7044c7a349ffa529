// Composition of the configured auth methods into one conversation (config-options.md §3,
// authentication.md REQ-AUTH-INIT-002..004, REQ-AUTH-AUTH-004..006):
//
// * slot 0 is every `auth` entry AND-ed together (e.g. plain+certificate: both must pass, and the
//   certificate's user must equal the typed username);
// * each `enable-auth` entry is one more slot, an alternative;
// * a client with a verified certificate uses the first slot that includes `certificate`; a client
//   without one uses the first slot that does not need one (ocserv's worker switches to the next method
//   when certificate auth cannot apply); with no such slot it gets slot 0 and fails "No certificate".
//
// Group rules, after the credentials passed: the password module decides first (plain: the requested
// group must be one of the user's groups, default = the first one); with certificate only, a requested
// group must be among the certificate's groups when cert-group-oid is configured; with both, the chosen
// group must also be on the certificate when cert-group-oid is configured (sec-mod's defence-in-depth
// check_cert_user_group_status).

import type { AuthMethod } from "../config/types.ts";
import { nodeAuthFs, type AuthFs } from "./files.ts";
import { PlainAuth, type PlainState, type PlainStep } from "./plain.ts";
import type { AuthFailReason, AuthLog, AuthRequest, AuthState, AuthStep, CertIdentity } from "./types.ts";

export type AuthConfigErrorCode =
  | "no-method"
  | "unsupported-method"
  | "mixed-methods"
  | "duplicate-password-auth"
  | "plain-without-files"
  | "file-error";

export class AuthConfigError extends Error {
  override readonly name = "AuthConfigError";
  constructor(
    readonly code: AuthConfigErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface AuthenticatorOptions {
  /** ban-points-wrong-password (default 10): charged for each retry and each rejection. */
  readonly banPointsWrongPassword?: number;
  /** Whether cert-group-oid is configured (enables the certificate group checks). */
  readonly certGroupOid?: boolean;
  readonly fs?: AuthFs;
  readonly now?: () => number;
  readonly log?: AuthLog;
  /** Read and parse the passwd/OTP files at creation so errors surface at startup (default true). */
  readonly checkFiles?: boolean;
}

/** The password-type module of a slot. Only plain exists in this build. */
type PasswordModule = { readonly kind: "plain"; readonly impl: PlainAuth };

interface Slot {
  readonly name: string;
  readonly password: PasswordModule | null;
  readonly certificate: boolean;
}

/** What the authenticator remembers between rounds; handed out as the opaque AuthState. */
interface Conversation {
  readonly slot: Slot;
  readonly username: string;
  readonly groupRequested: string | null;
  readonly certificate: CertIdentity | null;
  readonly remoteIp: string;
  readonly plain: PlainState;
}

export interface Authenticator {
  /** `plain`, `plain+certificate`, … one name per slot, in order (for logs and --test-config). */
  readonly slotNames: readonly string[];
  /** Non-fatal findings from reading the files (duplicate users, …). */
  readonly warnings: readonly string[];
  /**
   * What the TLS handshake should ask of the client (ocserv config.c cert_req): "require" when the only
   * method is certificate alone, "request" when some method uses a certificate, else "none". With
   * cisco-client-compat ocserv downgrades "require" to "request"; that is the caller's decision.
   */
  readonly certificateRequest: "none" | "request" | "require";
  /** Whether the login form for this client must carry username and password fields. */
  usesPassword(hasCertificate: boolean): boolean;
  /** Groups the backend knows (auto-select-group): the union of the passwd file's groups. */
  listGroups(): readonly string[];
  start(req: AuthRequest): AuthStep;
  /** `password` null means the client sent no password field at all (→ "No password"). */
  answer(state: AuthState, password: string | null): AuthStep;
}

const UNSUPPORTED = new Set(["pam", "radius", "gssapi", "oidc"]);

/**
 * Builds the authenticator for one vhost from the parsed `auth` (AND) and `enable-auth` (OR) lists.
 * Throws AuthConfigError for what ocserv refuses at startup and for methods this build lacks.
 */
export function createAuthenticator(
  methods: readonly AuthMethod[],
  enableMethods: readonly AuthMethod[],
  options: AuthenticatorOptions = {},
): Authenticator {
  const fs = options.fs ?? nodeAuthFs;
  const now = options.now ?? Date.now;
  const sink: AuthLog = options.log ?? (() => {});
  // Usernames and group names come from the client: escape control characters so a crafted name cannot
  // forge log lines.
  const log: AuthLog = (level, message) =>
    sink(level, message.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`));
  const deps = { fs, now, log };

  if (methods.length === 0) throw new AuthConfigError("no-method", "no authentication method was specified (auth)");
  for (const m of [...methods, ...enableMethods]) {
    if (UNSUPPORTED.has(m.type)) {
      throw new AuthConfigError("unsupported-method", `auth method '${m.type}' is not supported in this build`);
    }
  }

  const makeSlot = (group: readonly AuthMethod[]): Slot => {
    let password: PasswordModule | null = null;
    let certificate = false;
    for (const m of group) {
      switch (m.type) {
        case "certificate":
          certificate = true;
          break;
        case "plain":
          if (password !== null) {
            throw new AuthConfigError("mixed-methods", `you cannot mix multiple authentication methods of ${m.type} type`);
          }
          if (!m.passwd && !m.otp) {
            throw new AuthConfigError("plain-without-files", "plain: no password or OTP file specified");
          }
          password = { kind: "plain", impl: new PlainAuth({ passwd: m.passwd, otp: m.otp }, deps) };
          break;
        default:
          throw new AuthConfigError("unsupported-method", `auth method '${m.type}' is not supported in this build`);
      }
    }
    const name = [password?.kind, certificate ? "certificate" : undefined].filter((x) => x !== undefined).join("+");
    return Object.freeze({ name, password, certificate });
  };

  const slots: readonly Slot[] = Object.freeze([makeSlot(methods), ...enableMethods.map((m) => makeSlot([m]))]);
  if (slots.filter((s) => s.password !== null).length > 1) {
    throw new AuthConfigError("duplicate-password-auth", "you cannot mix multiple password authentication methods");
  }

  const warnings: string[] = [];
  if (options.checkFiles ?? true) {
    for (const s of slots) {
      if (s.password === null) continue;
      try {
        warnings.push(...s.password.impl.check().warnings);
      } catch (e) {
        throw new AuthConfigError("file-error", e instanceof Error ? e.message : String(e));
      }
    }
  }

  return new ComposedAuthenticator(slots, {
    banPoints: options.banPointsWrongPassword ?? 10,
    certGroupOid: options.certGroupOid ?? false,
    log,
    warnings: Object.freeze(warnings),
  });
}

class ComposedAuthenticator implements Authenticator {
  readonly slotNames: readonly string[];
  readonly warnings: readonly string[];
  readonly certificateRequest: "none" | "request" | "require";
  /** States issued and not yet answered: each is good for one answer, so replaying an old state cannot
   *  buy extra password tries, and a state from elsewhere is refused. */
  private readonly live = new WeakSet<object>();

  constructor(
    private readonly slots: readonly Slot[],
    private readonly opts: {
      readonly banPoints: number;
      readonly certGroupOid: boolean;
      readonly log: AuthLog;
      readonly warnings: readonly string[];
    },
  ) {
    this.slotNames = Object.freeze(slots.map((s) => s.name));
    this.warnings = opts.warnings;
    const only = slots.length === 1 ? slots[0]! : null;
    this.certificateRequest =
      only !== null && only.certificate && only.password === null
        ? "require"
        : slots.some((s) => s.certificate)
          ? "request"
          : "none";
  }

  usesPassword(hasCertificate: boolean): boolean {
    return this.pick(hasCertificate).password !== null;
  }

  listGroups(): readonly string[] {
    const all = new Set<string>();
    for (const s of this.slots) for (const g of s.password?.impl.listGroups() ?? []) all.add(g);
    return [...all];
  }

  start(req: AuthRequest): AuthStep {
    const cert = req.certificate ?? null;
    const slot = this.pick(cert !== null);
    const groupRequested = req.groupRequested !== undefined && req.groupRequested !== "" ? req.groupRequested : null;

    if (slot.certificate) {
      if (cert === null) return this.fail("No certificate", req.remoteIp, "no certificate provided");
      if (cert.user.length === 0) return this.fail("Could not read certificate", req.remoteIp, "certificate has no username");
    }

    if (slot.password === null) {
      // Certificate only: the identity is the certificate's.
      if (cert === null) return this.fail("No certificate", req.remoteIp, "no certificate provided");
      return this.finish(slot, cert.user, [], groupRequested, cert, req.remoteIp);
    }

    const username = req.username ?? "";
    if (slot.certificate && cert !== null && username !== cert.user) {
      return this.fail(
        "Authentication failed",
        req.remoteIp,
        `user '${username}' does not match the certificate's user '${cert.user}'`,
      );
    }
    const step = slot.password.impl.start(username);
    return this.follow(step, { slot, username, groupRequested, certificate: cert, remoteIp: req.remoteIp });
  }

  answer(state: AuthState, password: string | null): AuthStep {
    const conv = state as unknown as Conversation;
    if (!this.live.has(conv) || conv.slot.password === null) {
      return this.fail("Internal error", "?", "auth state reused or not issued by this authenticator");
    }
    this.live.delete(conv);
    if (password === null) return this.fail("No password", conv.remoteIp, `no password given for '${conv.username}'`);
    return this.follow(conv.slot.password.impl.answer(conv.plain, password), conv);
  }

  private follow(step: PlainStep, ctx: Omit<Conversation, "plain">): AuthStep {
    switch (step.kind) {
      case "ok":
        return this.finish(ctx.slot, ctx.username, step.groups, ctx.groupRequested, ctx.certificate, ctx.remoteIp);
      case "continue": {
        const conv: Conversation = Object.freeze({ ...ctx, plain: step.state });
        this.live.add(conv);
        return {
          kind: "continue",
          message: step.message,
          fieldName: step.fieldName,
          label: step.label,
          state: conv as unknown as AuthState,
          banPoints: step.retry ? this.opts.banPoints : 0,
        };
      }
      case "fail":
        return this.fail(step.reason, ctx.remoteIp, `user '${ctx.username}' rejected`);
      default: {
        const never: never = step;
        return never;
      }
    }
  }

  /** Group selection and the certificate consistency checks, after the credentials passed. */
  private finish(
    slot: Slot,
    user: string,
    moduleGroups: readonly string[],
    requested: string | null,
    cert: CertIdentity | null,
    remoteIp: string,
  ): AuthStep {
    let group: string | null;
    let groups: readonly string[];
    if (slot.password !== null) {
      // plain_auth_group: a requested group must be one of the user's; otherwise the first one.
      if (requested !== null && !moduleGroups.includes(requested)) {
        return this.fail("Authentication failed", remoteIp, `user '${user}' requested group '${requested}' but is not a member`);
      }
      group = requested ?? moduleGroups[0] ?? null;
      groups = moduleGroups;
    } else {
      groups = cert?.groups ?? [];
      group = null;
      if (requested !== null && this.opts.certGroupOid) {
        if (!groups.includes(requested)) {
          return this.fail("Authentication failed", remoteIp, `user '${user}' requested group '${requested}' which is not on the certificate`);
        }
        group = requested;
      }
    }
    if (slot.certificate && slot.password !== null && this.opts.certGroupOid && cert !== null && group !== null) {
      if (!cert.groups.includes(group)) {
        return this.fail("Authentication failed", remoteIp, `user '${user}' group '${group}' is not included on the certificate groups`);
      }
    }
    this.opts.log("info", `user '${user}' authenticated (${slot.name}) from ${remoteIp}`);
    return { kind: "ok", user, groups, group };
  }

  private fail(reason: AuthFailReason, remoteIp: string, why: string): AuthStep {
    this.opts.log("info", `authentication failed from ${remoteIp}: ${why}`);
    return { kind: "fail", reason, banPoints: this.opts.banPoints };
  }

  /** The slot for a client with or without a verified certificate (see the header). */
  private pick(hasCertificate: boolean): Slot {
    const found = hasCertificate ? this.slots.find((s) => s.certificate) : this.slots.find((s) => !s.certificate);
    return found ?? this.slots[0]!;
  }
}
