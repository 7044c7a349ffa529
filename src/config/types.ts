// The frozen, typed configuration the rest of the server reads.
//
// Convention (fixed by the lead): option values are read by their ocserv option name, kebab-case,
// e.g. `vhost.options["cookie-timeout"]`, `config.global["max-clients"]`. Aliases (ipv4-dns, use-dbus,
// use-seccomp, min-reauth-time, ...) never appear here: they are folded into the canonical name.
// Every value has the ocserv default applied (config-options.md §2, not the sample.config values)
// and the derived values of §1.2 computed (cisco-client-compat implications, mobile-dpd 0 → dpd,
// tls-priorities default, no-compress-limit floor, udp-listen-host fallback, ...).
// `null` means "unset" where ocserv has no default and the absence itself has a meaning.
// Everything reachable from a Config is deeply Object.freeze'd; reload builds a new Config.

/** Where an option may appear (config-options.md §1.1). */
export type Scope =
  | "global-nr" // global, read at first start only; an error inside [vhost:]
  | "global" // global, reloaded on SIGHUP; an error inside [vhost:] (ocserv ≥ 1.4.2)
  | "vhost-nr" // per vhost, read at first start only
  | "vhost" // per vhost, reloaded on SIGHUP
  | "vhost-user"; // per vhost, reloaded, and overridable by per-user/per-group files

/** An IP address literal, normalised (IPv4 dotted quad, IPv6 RFC 5952 lower-case compressed). */
export interface IpAddress {
  readonly family: 4 | 6;
  readonly address: string;
}

/**
 * A route. `text` is the ocserv wire form sent in X-CSTP-Split-Include/Exclude: IPv4 routes are
 * normalised to `a.b.c.d/m.m.m.m` (dotted mask, ocserv ip_route_sanity_check), IPv6 stays CIDR.
 * `address` is the network address with host bits as written (ocserv does not mask them).
 */
export interface Route {
  readonly family: 4 | 6;
  readonly address: string;
  readonly prefix: number;
  readonly text: string;
}

/**
 * An entry of a `route` list. The literal "default" means "default route": ocserv drops every other
 * route when it sees it, so a normalised list is either exactly ["default"] or contains no "default".
 * An empty `route` list also means the default route (ocserv: no routes → tunnel everything).
 */
export type RouteEntry = Route | "default";

/** An IPv4 address pool: `ipv4-network` plus `ipv4-netmask` (or the CIDR form of ipv4-network). */
export interface Ipv4Network {
  readonly address: string;
  readonly prefix: number;
  readonly netmask: string; // dotted form, as sent in X-CSTP-Netmask
}

/** An IPv6 pool: `ipv6-network` as addr/len (or with the prefix from `ipv6-prefix`). */
export interface Ipv6Network {
  readonly address: string;
  readonly prefix: number;
}

/** One auth method (config-options.md §3). Sub-option names are camelCased from their ocserv keys. */
export type AuthMethod =
  | { readonly type: "plain"; readonly passwd?: string; readonly otp?: string }
  | { readonly type: "certificate" }
  | { readonly type: "pam"; readonly service: string /* default "ocserv" */; readonly gidMin?: number }
  | {
      readonly type: "radius";
      readonly config: string;
      readonly groupconfig: boolean;
      readonly nasIdentifier?: string;
      readonly groupSeparator: ";" | ",";
    }
  | {
      readonly type: "gssapi";
      readonly keytab?: string;
      readonly requireLocalUserMap: boolean; // default true
      readonly tgtFreshnessTime?: number;
      readonly gidMin?: number;
    }
  | { readonly type: "oidc"; readonly config: string };

export type AuthMethodType = AuthMethod["type"];

/** `acct`: only radius and pam are accounting methods. */
export type AcctMethod =
  | { readonly type: "radius"; readonly config: string; readonly nasIdentifier?: string; readonly groupSeparator: ";" | "," }
  | { readonly type: "pam"; readonly service: string };

/** `select-group = name[Friendly label]`; label defaults to name. */
export interface SelectGroup {
  readonly name: string;
  readonly label: string;
}

/** `net-priority`: 0–6 → SO_PRIORITY, `0xNN` → IP_TOS. */
export type NetPriority =
  | { readonly kind: "priority"; readonly value: number }
  | { readonly kind: "tos"; readonly value: number };

export type PortProtocol = "tcp" | "udp" | "sctp" | "esp" | "icmp" | "icmpv6";

/** `restrict-user-to-ports = "tcp(443), udp(53), icmp()"` or the negated `"!(tcp(22), ...)"`. */
export interface PortRestriction {
  readonly negate: boolean;
  readonly rules: readonly { readonly protocol: PortProtocol; readonly port: number | null }[];
}

/** `kkdcp = "PATH REALM proto@host:port"` (MS-KKDCP). */
export interface KkdcpEntry {
  readonly path: string;
  readonly realm: string;
  readonly protocol: "udp" | "tcp";
  readonly host: string;
  readonly port: number;
}

export type SyslogFacility =
  | "daemon" | "user" | "auth" | "authpriv"
  | "local0" | "local1" | "local2" | "local3" | "local4" | "local5" | "local6" | "local7";

/** What the TLS server asks of the client certificate (ocserv cert_req, config-options.md §1.2). */
export type CertRequest = "none" | "request" | "require";

/** Options of scope global and global-nr. Only the default (top-level) section may set them. */
export interface GlobalOptions {
  // global (non-reloadable)
  readonly "listen-host": string | null;
  readonly "udp-listen-host": string | null; // derived: = listen-host when unset
  readonly "listen-netns": string | null;
  readonly "tcp-port": number;
  readonly "udp-port": number; // 0 = no DTLS
  readonly "run-as-user": string | null; // null: stays root (ocserv behaviour)
  readonly "run-as-group": string | null;
  readonly "socket-file": string;
  readonly "occtl-socket-file": string;
  readonly "chroot-dir": string | null;
  readonly "pid-file": string | null;
  readonly "sec-mod-scale": number; // 0 = automatic
  readonly "server-stats-reset-time": number;
  readonly "log-level": number;
  readonly "syslog-facility": SyslogFacility;
  // global (reloadable)
  readonly "listen-proxy-proto": boolean;
  readonly "use-occtl": boolean;
  readonly "sec-mod-db-cleanup-time": number; // 0 = 310 s inside sec-mod
  readonly "isolate-workers": boolean;
  readonly "limit-worker-memory": boolean;
  readonly "max-clients": number; // 0 = unlimited
  readonly "rate-limit-ms": number;
  readonly "server-drain-ms": number;
  readonly "use-utmp": boolean;
  readonly "dtls-psk": boolean;
  readonly "auth-timeout": number;
  readonly "try-mtu-discovery": boolean;
  readonly "max-ban-score": number; // 0 disables banning
  readonly "ban-time": number;
  readonly "ban-reset-time": number;
  readonly "ban-points-wrong-password": number;
  readonly "ban-points-connection": number;
  readonly "ban-points-kkdcp": number;
  readonly device: string;
  readonly "ping-leases": boolean;
  readonly "route-add-cmd": string | null;
  readonly "route-del-cmd": string | null;
  readonly "connect-script": string | null;
  readonly "disconnect-script": string | null;
  readonly "host-update-script": string | null;
  readonly "compression-algo-priority": string | null; // raw; ocserv parses NAME:PRIORITY in the worker
}

/** Options a per-user or per-group file may override (scope vhost-user). */
export interface VhostUserOptions {
  readonly "idle-timeout": number; // 0 = off
  readonly "mobile-idle-timeout": number; // derived: = idle-timeout when unset
  readonly "session-timeout": number; // 0 = off
  readonly keepalive: number;
  readonly dpd: number;
  readonly "mobile-dpd": number; // derived: 0 → = dpd
  readonly "deny-roaming": boolean;
  readonly "max-same-clients": number; // 0 = unlimited
  readonly "stats-report-time": number;
  readonly "ipv4-network": Ipv4Network | null;
  readonly "ipv6-network": Ipv6Network | null;
  readonly "ipv6-subnet-prefix": number;
  readonly dns: readonly IpAddress[];
  readonly nbns: readonly IpAddress[];
  readonly "split-dns": readonly string[];
  readonly "tunnel-all-dns": boolean;
  readonly route: readonly RouteEntry[];
  readonly "no-route": readonly Route[];
  readonly mtu: number; // 0 = the tun device's MTU
  readonly "rx-data-per-sec": number; // bytes/s, 0 = unlimited
  readonly "tx-data-per-sec": number;
  readonly "net-priority": NetPriority | null;
  readonly "restrict-user-to-routes": boolean; // derived: true when restrict-user-to-ports is set
  readonly "restrict-user-to-ports": PortRestriction | null;
  readonly "client-bypass-protocol": boolean;
  readonly "no-udp": boolean;
  readonly "user-profile": string | null;
}

/** Options of scope vhost, vhost-nr and vhost-user: set at top level (the default vhost) or per [vhost:]. */
export interface VhostOptions extends VhostUserOptions {
  // vhost (non-reloadable)
  readonly auth: readonly AuthMethod[]; // AND-composed (ocserv auth[0]); never empty
  readonly "enable-auth": readonly AuthMethod[]; // OR alternatives, one method each
  readonly acct: AcctMethod | null;
  readonly "ca-cert": string | null;
  readonly "server-cert": readonly string[];
  readonly "server-key": readonly string[]; // same length as server-cert
  readonly "dh-params": string | null;
  readonly "pin-file": string | null;
  readonly "srk-pin-file": string | null;
  readonly "key-pin": string | null;
  readonly "srk-pin": string | null;
  readonly "debug-no-secmod-stats": boolean;
  // vhost (reloadable)
  readonly "cert-user-oid": string | null; // dotted OID or "SAN(rfc822name)"
  readonly "cert-group-oid": string | null;
  readonly crl: string | null;
  readonly "select-group": readonly SelectGroup[];
  readonly "default-select-group": string | null;
  readonly "auto-select-group": boolean;
  readonly "select-group-by-url": boolean; // derived: forced true by cisco-client-compat
  readonly "config-per-user": string | null;
  readonly "config-per-group": string | null;
  readonly "default-user-config": string | null;
  readonly "default-group-config": string | null;
  readonly "expose-iroutes": boolean;
  readonly "listen-host-is-dyndns": boolean;
  readonly "ocsp-response": string | null;
  readonly "tls-priorities": string; // raw GnuTLS string, default applied; validated by src/tls
  readonly "match-tls-dtls-ciphers": boolean;
  readonly "dtls-legacy": boolean; // derived: forced true by cisco-client-compat / cisco-svc-client-compat
  readonly "cisco-client-compat": boolean; // derived: forced true by always-require-cert = false
  readonly "cisco-svc-client-compat": boolean;
  readonly "rekey-time": number; // 0 = no rekey
  readonly "rekey-method": "ssl" | "new-tunnel"; // unset is advertised as new-tunnel
  readonly compression: boolean;
  readonly "no-compress-limit": number; // derived: at least 64
  readonly kkdcp: readonly KkdcpEntry[];
  readonly "switch-to-tcp-timeout": number;
  readonly "cookie-timeout": number;
  readonly "persistent-cookies": boolean;
  readonly "default-domain": string | null; // space separated list, as ocserv sends it
  readonly "append-routes": boolean;
  readonly "predictable-ips": boolean;
  readonly "output-buffer": number;
  readonly "proxy-url": string | null;
  readonly "custom-header": readonly string[];
  readonly "included-http-headers": readonly string[]; // raw values (quotes kept)
  readonly banner: string | null; // ≤ 256 bytes
  readonly "pre-login-banner": string | null;
  readonly camouflage: boolean;
  readonly camouflage_secret: string | null;
  readonly camouflage_realm: string | null;
}

export interface VhostConfig {
  /** null for the default vhost (the top-level section); otherwise the [vhost:NAME] name, trimmed. */
  readonly name: string | null;
  readonly options: VhostOptions;
  /** Derived from auth/enable-auth and cisco-client-compat (ocserv cert_req). */
  readonly certRequest: CertRequest;
}

export interface Config {
  /** The path the configuration was loaded from (as given). */
  readonly file: string;
  readonly global: GlobalOptions;
  readonly defaultVhost: VhostConfig;
  /** The named [vhost:] sections, in file order. */
  readonly vhosts: readonly VhostConfig[];
  /** The vhost for a TLS SNI name: case-insensitive match, else the default vhost (ocserv find_vhost). */
  vhostFor(sni: string | null): VhostConfig;
}

/** A problem found in a configuration file. `line` is 1-based; 0 means "the file as a whole". */
export interface Diagnostic {
  readonly file: string;
  readonly line: number;
  readonly option?: string;
  readonly message: string;
}

/** The result of loading or parsing a configuration: `config` is present only when `errors` is empty. */
export interface ConfigResult {
  readonly config?: Config;
  readonly errors: readonly Diagnostic[];
  readonly warnings: readonly Diagnostic[];
}

/** Keys a per-user / per-group file may set that are not vhost options (config-options.md §4). */
export interface UserOnlyOptions {
  readonly iroute: readonly Route[];
  readonly "explicit-ipv4": string | null;
  readonly "explicit-ipv6": string | null;
  readonly hostname: string | null;
}

/** What one per-user or per-group file sets: only the keys present in the file. */
export type UserFileOptions = Partial<VhostUserOptions & UserOnlyOptions>;

/** The effective settings of one session: vhost values overlaid with group file, then user file. */
export type SessionSettings = VhostUserOptions & UserOnlyOptions;
