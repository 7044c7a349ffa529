// --test-config: what a deploy would find in production, without root, without binding a port, without
// writing anything, and with no tty or syslog (ocserv.8: "Test the provided configuration file and exit.
// A successful exit error code indicates a valid configuration.").
//
// 1. The configuration itself: src/config's parser and validator (all errors, file:line).
// 2. Every file the configuration names: it exists and is readable, and, where we can parse it, it parses:
//    server-cert/server-key pairs, ca-cert, crl, ocsp-response, dh-params, pin files, plain passwd and otp
//    files, per-user/per-group directories, default-user/group-config, user-profile, and the
//    connect/disconnect/host-update scripts (which must be executable). A problem with a file is reported
//    at the config line of the option that names it.
// 3. Each server-key belongs to its server-cert; the tls-priorities string is one we implement; the auth
//    methods compose and exist in this build (src/auth's createAuthenticator, without reading files).
// 4. Certificates that have expired, expire within 30 days or are not yet valid, CRLs past their next
//    update and CRLs not signed by ca-cert: warnings (the server would still start).
import { readdirSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Config, ConfigResult, Diagnostic, VhostConfig, AuthMethod } from "../config/types.ts";
import { parseUserConfig, MAX_USER_FILE_BYTES } from "../config/index.ts";
import { AuthConfigError, createAuthenticator, OtpFileError, parseOtpUsersFile, parsePasswdFile, PasswdError } from "../auth/index.ts";
import {
  certificateExpiresWithin, keyMatchesCertificate, loadCertificates, loadCrls, loadPrivateKey, parsePem, X509Error,
  type Certificate, type Crl,
} from "../x509/index.ts";
import type { PrivateKey } from "../crypto/types.ts";
import { parsePriorities } from "../tls/index.ts";
import { Locator, locateOptions } from "./locate.ts";
import { openAccounts } from "./accounts.ts";
import { checkDirectory, checkExecutable, checkReadableFile, readBoundedFile } from "./files.ts";

const KEY_LABELS = ["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"] as const;
/** A per-user directory with more files than this is checked only in part (the check must stay quick). */
const MAX_USER_FILES = 10_000;

export const EXPIRY_WARNING_DAYS = 30;

export interface PreflightOptions {
  /** src/config's loadConfig (injected so the check can run against any loader, and in tests). */
  readonly load: (path: string) => ConfigResult | Promise<ConfigResult>;
  readonly now: Date;
}

export interface PreflightReport {
  readonly ok: boolean;
  /** One line for stdout when ok, e.g. "ocserv.conf: configuration OK (2 vhosts, auth plain, ...)". */
  readonly summary: string | null;
  readonly errors: readonly Diagnostic[];
  readonly warnings: readonly Diagnostic[];
}

/** "file:line: message", or "file: message" when the problem has no line. */
export function formatDiagnostic(d: Diagnostic, severity: "error" | "warning" = "error"): string {
  const where = d.line > 0 ? `${d.file}:${d.line}` : d.file;
  return severity === "warning" ? `${where}: warning: ${d.message}` : `${where}: ${d.message}`;
}

class Collector {
  readonly errors: Diagnostic[] = [];
  readonly warnings: Diagnostic[] = [];
  private readonly seen = new Set<string>();
  constructor(private readonly file: string) {}

  private add(list: Diagnostic[], line: number, option: string, message: string): void {
    // Named vhosts inherit file options from the top level; report each problem once.
    const key = `${list === this.errors ? "e" : "w"}\u0000${line}\u0000${option}\u0000${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    list.push({ file: this.file, line, option, message });
  }
  error(line: number, option: string, message: string): void {
    this.add(this.errors, line, option, message);
  }
  warn(line: number, option: string, message: string): void {
    this.add(this.warnings, line, option, message);
  }
}

export async function preflight(path: string, opts: PreflightOptions): Promise<PreflightReport> {
  const result = await opts.load(path);
  if (result.config === undefined || result.errors.length > 0) {
    const errors = result.errors.length > 0 ? result.errors : [{ file: path, line: 0, message: "configuration could not be loaded" }];
    return { ok: false, summary: null, errors, warnings: result.warnings };
  }
  const config = result.config;
  const text = readBoundedFile(path);
  const locator = new Locator(text.ok ? locateOptions(new TextDecoder().decode(text.data)) : []);
  const out = new Collector(config.file);
  for (const vhost of [config.defaultVhost, ...config.vhosts]) checkVhost(vhost, locator, out, opts.now);
  checkGlobal(config, locator, out);
  // In file order, so the output reads top to bottom like the configuration.
  const byLine = (a: Diagnostic, b: Diagnostic) => a.line - b.line;
  const errors = [...out.errors].sort(byLine);
  const warnings = [...result.warnings, ...out.warnings].sort(byLine);
  if (errors.length > 0) return { ok: false, summary: null, errors, warnings };
  return { ok: true, summary: summarize(config), errors, warnings };
}

function summarize(config: Config): string {
  const v = config.defaultVhost.options;
  const vhosts = 1 + config.vhosts.length;
  const auth = v.auth.map((m) => m.type).join("+");
  const alt = v["enable-auth"].map((m) => m.type);
  const parts = [
    `${vhosts} vhost${vhosts === 1 ? "" : "s"}`,
    `auth ${auth}${alt.length > 0 ? ` (or ${alt.join(", ")})` : ""}`,
    `tcp-port ${config.global["tcp-port"]}`,
    config.global["udp-port"] > 0 ? `udp-port ${config.global["udp-port"]}` : "no DTLS",
  ];
  return `${basename(config.file)}: configuration OK (${parts.join(", ")})`;
}

function checkGlobal(config: Config, loc: Locator, out: Collector): void {
  const g = config.global;
  for (const option of ["connect-script", "disconnect-script", "host-update-script"] as const) {
    const p = g[option];
    if (p === null) continue;
    const problem = checkExecutable(p);
    if (problem) out.error(loc.lineOf(null, option), option, `${option}: ${problem.message}`);
  }
  const accounts = g["run-as-user"] !== null || g["run-as-group"] !== null ? openAccounts() : null;
  try {
    for (const [option, kind] of [["run-as-user", "user"], ["run-as-group", "group"]] as const) {
      const name = g[option];
      if (name === null) continue;
      if (accounts === null) {
        out.warn(loc.lineOf(null, option), option, `${option}: cannot look up '${name}' (libc unavailable)`);
        continue;
      }
      const r = accounts[kind](name);
      if (!r.ok) out.error(loc.lineOf(null, option), option, `${option}: ${r.message}`);
      else if (!r.exists) out.error(loc.lineOf(null, option), option, `${option}: no such ${kind} '${name}'`);
    }
  } finally {
    accounts?.close();
  }
  // ocserv creates "<socket-file>.<random>" at start; the directory must exist by then. A warning, as
  // systemd's RuntimeDirectory= may create it just before the server starts.
  const socketDir = dirname(g["socket-file"]);
  if (checkDirectory(socketDir) !== null) {
    out.warn(loc.lineOf(null, "socket-file"), "socket-file", `socket-file: the directory ${socketDir} does not exist (yet)`);
  }
  if (g["chroot-dir"] !== null) {
    const problem = checkDirectory(g["chroot-dir"]);
    if (problem) out.error(loc.lineOf(null, "chroot-dir"), "chroot-dir", `chroot-dir: ${problem.message}`);
  }
}

function checkVhost(vhost: VhostConfig, loc: Locator, out: Collector, now: Date): void {
  const v = vhost.options;
  const name = vhost.name;
  // server-cert / server-key pairs, in order (the counts are equal: src/config checks that).
  v["server-cert"].forEach((certPath, i) => {
    const certLine = loc.lineOf(name, "server-cert", { index: i, valueHint: certPath });
    const certs = checkCertificateFile(certPath, "server-cert", certLine, out, now);
    const keyPath = v["server-key"][i];
    if (keyPath === undefined) return;
    const keyLine = loc.lineOf(name, "server-key", { index: i, valueHint: keyPath });
    const key = checkKeyFile(keyPath, keyLine, out);
    const leaf = certs?.[0];
    // ocserv (GnuTLS) refuses to start when a key does not belong to its certificate.
    if (key !== null && leaf !== undefined && !keyMatchesCertificate(key, leaf)) {
      out.error(keyLine, "server-key", `server-key: ${keyPath} does not match the certificate in ${certPath}`);
    }
  });
  let cas: readonly Certificate[] | null = null;
  if (v["ca-cert"] !== null) cas = checkCertificateFile(v["ca-cert"], "ca-cert", loc.lineOf(name, "ca-cert"), out, now);
  if (v.crl !== null) checkCrlFile(v.crl, loc.lineOf(name, "crl"), out, cas, now);
  for (const option of ["ocsp-response", "dh-params", "pin-file", "srk-pin-file", "user-profile"] as const) {
    const p = v[option];
    if (p === null) continue;
    const problem = checkReadableFile(p);
    if (problem) out.error(loc.lineOf(name, option), option, `${option}: ${problem.message}`);
  }
  for (const option of ["default-user-config", "default-group-config"] as const) {
    const p = v[option];
    if (p !== null) checkUserFile(p, option, loc.lineOf(name, option), out);
  }
  for (const option of ["config-per-user", "config-per-group"] as const) {
    const p = v[option];
    if (p === null) continue;
    const line = loc.lineOf(name, option);
    const problem = checkDirectory(p);
    if (problem) {
      out.error(line, option, `${option}: ${problem.message}`);
      continue;
    }
    checkUserDirectory(p, option, line, out);
  }
  const prio = parsePriorities(v["tls-priorities"]);
  if (!prio.ok) out.error(loc.lineOf(name, "tls-priorities"), "tls-priorities", `tls-priorities: ${prio.error}`);
  try {
    // Composition rules and methods this build lacks; the files are checked below with line numbers.
    createAuthenticator(v.auth, v["enable-auth"], { checkFiles: false });
  } catch (e) {
    if (!(e instanceof AuthConfigError)) throw e;
    out.error(loc.lineOf(name, "auth"), "auth", `auth: ${e.message}`);
  }
  for (const option of ["auth", "enable-auth"] as const) {
    for (const method of v[option]) checkAuthMethod(method, option, name, loc, out);
  }
  // ocserv exits when the accounting method is not compiled in ("unknown or unsupported accounting
  // method"); this build has neither RADIUS nor PAM, so accepting the line would silently drop accounting.
  if (v.acct !== null) out.error(loc.lineOf(name, "acct"), "acct", `acct: unknown or unsupported accounting method: ${v.acct.type}`);
  // ocserv reads kkdcp only when built with GSSAPI; without it the line is skipped with a warning.
  if (v.kkdcp.length > 0) out.warn(loc.lineOf(name, "kkdcp"), "kkdcp", "kkdcp: MS-KKDCP needs GSSAPI, which this build lacks; the option is ignored");
}

/** Every per-user or per-group file in the directory must parse: a broken one rejects that user's sessions. */
function checkUserDirectory(dir: string, option: string, line: number, out: Collector): void {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => !n.startsWith("."));
  } catch (e) {
    out.error(line, option, `${option}: ${dir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    return;
  }
  for (const n of names.slice(0, MAX_USER_FILES)) checkUserFile(join(dir, n), option, line, out);
  if (names.length > MAX_USER_FILES) out.warn(line, option, `${option}: ${dir}: only the first ${MAX_USER_FILES} files were checked`);
}

function checkUserFile(path: string, option: string, line: number, out: Collector): void {
  const file = readBoundedFile(path, MAX_USER_FILE_BYTES);
  if (!file.ok) {
    out.error(line, option, `${option}: ${file.problem.message}`);
    return;
  }
  const parsed = parseUserConfig(new TextDecoder().decode(file.data), path);
  // The file's own diagnostics already name the file and its line.
  for (const d of parsed.errors) out.error(line, option, `${option}: ${formatDiagnostic(d)}`);
  for (const d of parsed.warnings) out.warn(line, option, `${option}: ${formatDiagnostic(d)}`);
}

function checkAuthMethod(m: AuthMethod, option: "auth" | "enable-auth", vhost: string | null, loc: Locator, out: Collector): void {
  switch (m.type) {
    case "plain": {
      if (m.passwd !== undefined) {
        const line = loc.lineOf(vhost, option, { valueHint: m.passwd });
        const file = readBoundedFile(m.passwd);
        if (!file.ok) {
          out.error(line, option, `plain passwd file ${file.problem.message}`);
        } else {
          try {
            const parsed = parsePasswdFile(new TextDecoder().decode(file.data), m.passwd);
            for (const w of parsed.warnings) out.warn(line, option, `${m.passwd}: ${w}`);
          } catch (e) {
            if (!(e instanceof PasswdError)) throw e;
            out.error(line, option, `plain passwd file ${e.message}`);
          }
        }
      }
      if (m.otp !== undefined) {
        const line = loc.lineOf(vhost, option, { valueHint: m.otp });
        const file = readBoundedFile(m.otp);
        if (!file.ok) {
          out.error(line, option, `plain otp file ${file.problem.message}`);
        } else {
          try {
            parseOtpUsersFile(new TextDecoder().decode(file.data), m.otp);
          } catch (e) {
            if (!(e instanceof OtpFileError)) throw e;
            out.error(line, option, `plain otp file ${e.message}`);
          }
        }
      }
      return;
    }
    case "certificate":
      return;
    case "radius":
    case "oidc": {
      const problem = checkReadableFile(m.config);
      if (problem) out.error(loc.lineOf(vhost, option, { valueHint: m.config }), option, `${m.type} config file ${problem.message}`);
      return;
    }
    case "gssapi": {
      if (m.keytab !== undefined) {
        const problem = checkReadableFile(m.keytab);
        if (problem) out.error(loc.lineOf(vhost, option, { valueHint: m.keytab }), option, `gssapi keytab ${problem.message}`);
      }
      return;
    }
    case "pam":
      return;
    default: {
      const never: never = m;
      return never;
    }
  }
}

/** Reads a certificate file (PEM chain or one DER certificate) and warns about expiry; null on error. */
function checkCertificateFile(path: string, option: string, line: number, out: Collector, now: Date): readonly Certificate[] | null {
  const file = readBoundedFile(path);
  if (!file.ok) {
    out.error(line, option, `${option}: ${file.problem.message}`);
    return null;
  }
  const labels = pemLabels(file.data);
  if (typeof labels === "string") {
    out.error(line, option, `${option}: ${path}: ${labels}`);
    return null;
  }
  if (labels !== null && !labels.some((l) => l === "CERTIFICATE" || l === "X509 CERTIFICATE")) {
    out.error(line, option, `${option}: ${path}: no certificate in the file (found ${describeLabels(labels)})`);
    return null;
  }
  let certs: Certificate[];
  try {
    certs = loadCertificates(file.data);
  } catch (e) {
    if (!(e instanceof X509Error)) throw e;
    out.error(line, option, `${option}: ${path}: ${e.message}`);
    return null;
  }
  for (const cert of certs) {
    const who = `${option}: ${path}: certificate "${cert.subject.toString()}"`;
    if (cert.notAfter.getTime() < now.getTime()) {
      out.warn(line, option, `${who} expired on ${isoDay(cert.notAfter)}`);
    } else if (certificateExpiresWithin(cert, EXPIRY_WARNING_DAYS, now)) {
      const days = Math.ceil((cert.notAfter.getTime() - now.getTime()) / 86_400_000);
      out.warn(line, option, `${who} expires on ${isoDay(cert.notAfter)} (in ${days} day${days === 1 ? "" : "s"})`);
    } else if (cert.notBefore.getTime() > now.getTime()) {
      out.warn(line, option, `${who} is not valid before ${isoDay(cert.notBefore)}`);
    }
  }
  return certs;
}

function checkKeyFile(path: string, line: number, out: Collector): PrivateKey | null {
  if (/^(pkcs11|tpmkey):/i.test(path)) {
    out.error(line, "server-key", `server-key: ${path.split(":")[0]!} keys are not supported by this server`);
    return null;
  }
  const file = readBoundedFile(path);
  if (!file.ok) {
    out.error(line, "server-key", `server-key: ${file.problem.message}`);
    return null;
  }
  const labels = pemLabels(file.data);
  if (typeof labels === "string") {
    out.error(line, "server-key", `server-key: ${path}: ${labels}`);
    return null;
  }
  if (labels !== null && !labels.some((l) => (KEY_LABELS as readonly string[]).includes(l) || l === "ENCRYPTED PRIVATE KEY")) {
    out.error(line, "server-key", `server-key: ${path}: no private key in the file (found ${describeLabels(labels)})`);
    return null;
  }
  try {
    return loadPrivateKey(file.data);
  } catch (e) {
    if (!(e instanceof X509Error)) throw e;
    out.error(line, "server-key", `server-key: ${path}: ${e.message}`);
    return null;
  }
}

function checkCrlFile(path: string, line: number, out: Collector, cas: readonly Certificate[] | null, now: Date): void {
  const file = readBoundedFile(path);
  if (!file.ok) {
    out.error(line, "crl", `crl: ${file.problem.message}`);
    return;
  }
  const labels = pemLabels(file.data);
  if (typeof labels === "string") {
    out.error(line, "crl", `crl: ${path}: ${labels}`);
    return;
  }
  if (labels !== null && !labels.includes("X509 CRL")) {
    out.error(line, "crl", `crl: ${path}: no CRL in the file (found ${describeLabels(labels)})`);
    return;
  }
  let crls: Crl[];
  try {
    crls = loadCrls(file.data);
  } catch (e) {
    if (!(e instanceof X509Error)) throw e;
    out.error(line, "crl", `crl: ${path}: ${e.message}`);
    return;
  }
  for (const crl of crls) {
    if (crl.nextUpdate !== undefined && crl.nextUpdate.getTime() < now.getTime()) {
      out.warn(line, "crl", `crl: ${path}: the CRL's next update was due on ${isoDay(crl.nextUpdate)}`);
    }
    // A CRL from another CA revokes nothing we check; most likely the wrong file was deployed.
    if (cas !== null && !cas.some((ca) => safeVerify(() => crl.verify(ca.publicKey)))) {
      out.warn(line, "crl", `crl: ${path}: the CRL is not signed by any certificate in ca-cert`);
    }
  }
}

function safeVerify(f: () => boolean): boolean {
  try {
    return f();
  } catch {
    return false;
  }
}

function isoDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** Labels of the PEM blocks; null for DER input; a message string if the PEM armour is broken or empty. */
function pemLabels(data: Uint8Array): readonly string[] | string | null {
  if (data.length === 0) return "the file is empty";
  // ocserv accepts DER too; DER starts with a SEQUENCE tag (0x30).
  if (data[0] === 0x30) return null;
  try {
    const blocks = parsePem(new TextDecoder().decode(data));
    return blocks.length === 0 ? "neither PEM nor DER" : blocks.map((b) => b.label);
  } catch (e) {
    if (!(e instanceof X509Error)) throw e;
    return e.message;
  }
}

function describeLabels(labels: readonly string[]): string {
  return labels.length === 0 ? "nothing" : labels.map((l) => `"${l}"`).join(", ");
}
