// Client classification from request headers (protocol.md §0; ocserv worker-http.c HEADER_USER_AGENT
// and the X-AnyConnect-Identifier-Platform check). The agent type picks response variants (OpenConnect
// v3 forms without the config-auth wrapper) and the mobile flag picks mobile-dpd / mobile-idle-timeout.

export type AgentType =
  | "unknown"
  | "openconnect-v3"
  | "openconnect"
  | "anyconnect"
  | "clavister"
  | "anylink"
  | "svc-ipphone";

export interface ClientAgent {
  readonly type: AgentType;
  /** Apple iOS (from the User-Agent or the platform header). */
  readonly ios: boolean;
  /** Mobile clients get mobile-dpd and mobile-idle-timeout. */
  readonly mobile: boolean;
}

function startsWithCi(s: string, prefix: string): boolean {
  return s.length >= prefix.length && s.slice(0, prefix.length).toLowerCase() === prefix.toLowerCase();
}

const OC_LEGACY_PREFIX = "Open AnyConnect VPN Agent v";

/** Classifies a User-Agent value; prefixes compare case-insensitively, first match wins, as ocserv does. */
export function classifyUserAgent(userAgent: string | undefined): { readonly type: AgentType; readonly ios: boolean } {
  if (userAgent === undefined) return { type: "unknown", ios: false };
  if (startsWithCi(userAgent, OC_LEGACY_PREFIX)) {
    // "v3" and below used the older form layout; the version is the leading integer after "v".
    const m = /^\d+/.exec(userAgent.slice(OC_LEGACY_PREFIX.length));
    const major = m ? Number(m[0]) : Number.NaN;
    return { type: Number.isFinite(major) && major <= 3 ? "openconnect-v3" : "openconnect", ios: false };
  }
  if (startsWithCi(userAgent, "OpenConnect VPN Agent") || startsWithCi(userAgent, "AnyConnect-compatible OpenConnect")) {
    return { type: "openconnect", ios: false };
  }
  if (startsWithCi(userAgent, "Cisco AnyConnect VPN Agent for Apple")) return { type: "anyconnect", ios: true };
  if (startsWithCi(userAgent, "Cisco AnyConnect") || startsWithCi(userAgent, "AnyConnect")) return { type: "anyconnect", ios: false };
  if (startsWithCi(userAgent, "Clavister OneConnect VPN")) return { type: "clavister", ios: false };
  if (startsWithCi(userAgent, "AnyLink Secure Client")) return { type: "anylink", ios: false };
  if (startsWithCi(userAgent, "Cisco SVC IPPhone Client")) return { type: "svc-ipphone", ios: false };
  return { type: "unknown", ios: false };
}

/** Full classification from the request headers (names matched case-sensitively). */
export function classifyClient(headers: ReadonlyMap<string, string>): ClientAgent {
  const { type, ios } = classifyUserAgent(headers.get("User-Agent"));
  const platform = headers.get("X-AnyConnect-Identifier-Platform") ?? "";
  const platformIos = startsWithCi(platform, "apple-ios");
  const mobile = platformIos || startsWithCi(platform, "android");
  return { type, ios: ios || platformIos, mobile };
}
