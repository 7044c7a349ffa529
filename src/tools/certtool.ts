// The `ocserv-certtool` applet: the certificates an ocserv deployment needs, made by the ocserv binary
// itself (a router has no openssl or certtool). All X.509 work is src/x509's generateKey /
// createCertificate / createCrl; this file turns a command line into their options and writes files.
//
//   ocserv-certtool ca     --out-cert ca.pem --out-key ca-key.pem [--cn "VPN CA"] [--org O] [--key-type T] [--days 3650]
//   ocserv-certtool server --ca ca.pem --ca-key ca-key.pem --cn vpn.example.com [--dns NAME]... [--ip ADDR]...
//                          --out-cert server.pem --out-key server-key.pem [--days 825]
//   ocserv-certtool client --ca ca.pem --ca-key ca-key.pem --uid USER [--cn "Full Name"] [--ou GROUP] [--email E]
//                          --out-cert user.pem --out-key user-key.pem [--days 825]
//   ocserv-certtool crl    --ca ca.pem --ca-key ca-key.pem [--revoke CERT]... [--revoke-serial HEX]...
//                          [--crl OLD-CRL] [--days 365] --out crl.pem
//   ocserv-certtool pin    CERT                      (prints pin-sha256:… for `openconnect --servercert`)
//
// Profiles (RFC 5280 §4.2.1.3, §4.2.1.9, §4.2.1.12), as certtool templates in ocserv's documentation:
//   CA      cA TRUE; keyCertSign, cRLSign
//   server  cA FALSE; digitalSignature (+ keyEncipherment for RSA: TLS 1.2 RSA key exchange); serverAuth;
//           SAN = the CN (as DNS name or IP address) plus every --dns / --ip (RFC 6125 §6.4.4: clients
//           look only at the SAN when it is present)
//   client  cA FALSE; digitalSignature; clientAuth; subject UID = user name (ocserv's usual
//           cert-user-oid 0.9.2342.19200300.100.1.1), OU = group (cert-group-oid 2.5.4.11)
// Private keys are written 0600, certificates and CRLs 0644. No output file is replaced unless --force
// (the CRL's --out is the exception: regenerating it is its normal use).
// Validity starts one hour in the past, so a client whose clock runs a little behind the router's still
// accepts a certificate made a minute ago. A leaf never outlives its CA (its notAfter is clipped).

import { readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import type { PrivateKey } from "../crypto/types.ts";
import { VERSION } from "../process/version.ts";
import {
  createCertificate,
  createCrl,
  generateKey,
  keyMatchesCertificate,
  loadCertificates,
  loadCrls,
  loadPrivateKey,
  parseIpAddress,
  X509Error,
  type Certificate,
  type CertificateOptions,
  type KeyKind,
  type KeyUsageName,
  type NameSpec,
} from "../x509/index.ts";
import { getopt, type OptionSpec } from "./getopt.ts";
import { WriteFileError, exists, writeFileAtomic, type AppletIo } from "./io.ts";

export const KEY_TYPES: readonly KeyKind[] = ["ecdsa-p256", "ecdsa-p384", "rsa2048", "rsa3072", "ed25519"];
export const DEFAULT_KEY_TYPE: KeyKind = "ecdsa-p256";
const DEFAULT_DAYS = { ca: 3650, server: 825, client: 825, crl: 365 } as const;
const MAX_DAYS = 36500;
/** Certificates, keys and CRLs this tool reads are small; refuse anything absurd before reading it. */
const MAX_INPUT_BYTES = 1024 * 1024;
const MAX_CRL_INPUT_BYTES = 32 * 1024 * 1024;
const CLOCK_SKEW_MS = 3_600_000;
const DAY_MS = 86_400_000;

export type CerttoolErrorCode = "usage" | "bad-input" | "read" | "mismatch";

export class CerttoolError extends Error {
  override readonly name = "CerttoolError";
  constructor(
    readonly code: CerttoolErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export const CERTTOOL_USAGE = `Usage: ocserv-certtool COMMAND [options]
Creates the keys, certificates and CRLs an ocserv server needs.

Commands:
  ca       a self-signed CA:  --out-cert FILE --out-key FILE [--cn NAME] [--org NAME]
  server   a server certificate signed by the CA:
           --ca FILE --ca-key FILE --cn HOSTNAME [--dns NAME]... [--ip ADDR]...
           --out-cert FILE --out-key FILE [--org NAME]
  client   a user certificate signed by the CA (for cert or certificate+plain auth):
           --ca FILE --ca-key FILE --uid USERNAME [--cn "FULL NAME"] [--ou GROUP]
           [--email ADDR] --out-cert FILE --out-key FILE
  crl      a CRL signed by the CA: --ca FILE --ca-key FILE [--revoke CERT]...
           [--revoke-serial HEX]... [--crl OLD-CRL] --out FILE
           (--crl carries the revocations of an existing CRL over)
  pin      prints the certificate's pin-sha256, for openconnect --servercert: pin CERT

Options for ca, server and client:
  --key-type T      ${KEY_TYPES.join(", ")} (default ${DEFAULT_KEY_TYPE})
  --load-key FILE   certify this existing private key instead of generating one
  --days N          validity (default: ca ${DEFAULT_DAYS.ca}, server and client ${DEFAULT_DAYS.server}, crl ${DEFAULT_DAYS.crl})
  --force           replace existing output files
  -h, --help        show this help;  -v, --version  show the version
`;

type Command = "ca" | "server" | "client" | "crl" | "pin";
const COMMANDS: readonly Command[] = ["ca", "server", "client", "crl", "pin"];

const OPTIONS: readonly OptionSpec[] = [
  { name: "out-cert", takesValue: true },
  { name: "out-key", takesValue: true },
  { name: "out", takesValue: true },
  { name: "ca", takesValue: true },
  { name: "ca-key", takesValue: true },
  { name: "cn", takesValue: true },
  { name: "org", takesValue: true },
  { name: "uid", takesValue: true },
  { name: "ou", takesValue: true },
  { name: "email", takesValue: true, repeatable: true },
  { name: "dns", takesValue: true, repeatable: true },
  { name: "ip", takesValue: true, repeatable: true },
  { name: "key-type", takesValue: true },
  { name: "load-key", takesValue: true },
  { name: "days", takesValue: true },
  { name: "revoke", takesValue: true, repeatable: true },
  { name: "revoke-serial", takesValue: true, repeatable: true },
  { name: "crl", takesValue: true },
  { name: "cert", takesValue: true },
  { name: "force", takesValue: false },
  { name: "help", short: "h", takesValue: false },
  { name: "version", short: "v", takesValue: false },
];

/** Which options each command accepts (anything else is a usage error, never silently ignored). */
const ALLOWED: Readonly<Record<Command, readonly string[]>> = {
  ca: ["out-cert", "out-key", "cn", "org", "key-type", "load-key", "days", "force"],
  server: ["ca", "ca-key", "cn", "org", "dns", "ip", "out-cert", "out-key", "key-type", "load-key", "days", "force"],
  client: ["ca", "ca-key", "cn", "uid", "ou", "email", "out-cert", "out-key", "key-type", "load-key", "days", "force"],
  crl: ["ca", "ca-key", "revoke", "revoke-serial", "crl", "out", "days"],
  pin: ["cert"],
};

class Args {
  constructor(
    readonly command: Command,
    private readonly options: ReadonlyMap<string, readonly string[]>,
  ) {}
  has(name: string): boolean {
    return this.options.has(name);
  }
  opt(name: string): string | null {
    const v = this.options.get(name)?.[0];
    if (v === undefined) return null;
    if (v === "") throw new CerttoolError("usage", `--${name} needs a non-empty value`);
    return v;
  }
  req(name: string): string {
    const v = this.opt(name);
    if (v === null) throw new CerttoolError("usage", `${this.command}: --${name} is required`);
    return v;
  }
  all(name: string): readonly string[] {
    return this.options.get(name) ?? [];
  }
}

// ---------------------------------------------------------------------------------------------------
// Pure parts: option values → typed values.

export function parseKeyType(value: string | null): KeyKind {
  if (value === null) return DEFAULT_KEY_TYPE;
  const k = KEY_TYPES.find((t) => t === value);
  if (k === undefined) throw new CerttoolError("usage", `unknown --key-type '${value}' (one of: ${KEY_TYPES.join(", ")})`);
  return k;
}

export function parseDays(value: string | null, fallback: number): number {
  if (value === null) return fallback;
  if (!/^[0-9]{1,6}$/.test(value) || Number(value) < 1 || Number(value) > MAX_DAYS) {
    throw new CerttoolError("usage", `--days must be a whole number from 1 to ${MAX_DAYS}`);
  }
  return Number(value);
}

/** A DNS name for a SAN: LDH labels, optionally a leading "*." wildcard (RFC 5280 §4.2.1.6, RFC 1034). */
export function checkDnsName(name: string): string {
  const label = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
  const labels = name.split(".");
  const ok =
    name.length <= 253 &&
    labels.every((l, i) => (i === 0 && l === "*" && labels.length > 2) || label.test(l)) &&
    !/^[0-9.]+$/.test(name);
  if (!ok) throw new CerttoolError("bad-input", `'${name}' is not a valid DNS name`);
  return name.toLowerCase();
}

function isIpAddress(s: string): boolean {
  try {
    parseIpAddress(s);
    return true;
  } catch {
    return false;
  }
}

/** The server certificate's SAN: the CN (as an IP or a DNS name) then the extra names, deduplicated. */
export function serverAltNames(cn: string, dns: readonly string[], ips: readonly string[]): { dnsNames: string[]; ipAddresses: string[] } {
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  const addIp = (ip: string) => {
    if (!isIpAddress(ip)) throw new CerttoolError("bad-input", `'${ip}' is not an IPv4 or IPv6 address`);
    const key = Buffer.from(parseIpAddress(ip)).toString("hex");
    if (!ipAddresses.some((x) => Buffer.from(parseIpAddress(x)).toString("hex") === key)) ipAddresses.push(ip);
  };
  const addDns = (d: string) => {
    const n = checkDnsName(d);
    if (!dnsNames.includes(n)) dnsNames.push(n);
  };
  if (isIpAddress(cn)) addIp(cn);
  else addDns(cn);
  for (const d of dns) addDns(d);
  for (const ip of ips) addIp(ip);
  return { dnsNames, ipAddresses };
}

function checkText(value: string, what: string, max: number): string {
  if (value.length > max) throw new CerttoolError("bad-input", `${what} is longer than ${max} characters`);
  if (/[\x00-\x1f\x7f]/.test(value)) throw new CerttoolError("bad-input", `${what} must not contain control characters`);
  return value;
}

/** Validity of a new certificate: [now − 1 h, now + days], and never past the issuer's notAfter. */
export function validity(now: Date, days: number, issuer: Certificate | null): { notBefore: Date; notAfter: Date; clipped: boolean } {
  const notBefore = new Date(now.getTime() - CLOCK_SKEW_MS);
  let notAfter = new Date(now.getTime() + days * DAY_MS);
  let clipped = false;
  if (issuer !== null && notAfter.getTime() > issuer.notAfter.getTime()) {
    notAfter = issuer.notAfter;
    clipped = true;
  }
  if (notAfter.getTime() <= now.getTime()) throw new CerttoolError("bad-input", "the CA certificate has expired");
  return { notBefore, notAfter, clipped };
}

// ---------------------------------------------------------------------------------------------------
// File edges.

function readBounded(path: string, what: string, max: number): Uint8Array {
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new CerttoolError("read", `${what} '${path}' is not a regular file`);
    if (st.size > max) throw new CerttoolError("read", `${what} '${path}' is larger than ${max} bytes`);
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    if (e instanceof CerttoolError) throw e;
    throw new CerttoolError("read", `cannot read ${what} '${path}': ${(e as Error).message}`);
  }
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function readCertificate(path: string, what: string): Certificate {
  const bytes = readBounded(path, what, MAX_INPUT_BYTES);
  try {
    return loadCertificates(bytes)[0]!;
  } catch (e) {
    if (e instanceof X509Error) throw new CerttoolError("read", `${what} '${path}': ${e.message}`);
    throw e;
  }
}

function readKey(path: string, what: string): PrivateKey {
  const bytes = readBounded(path, what, MAX_INPUT_BYTES);
  try {
    return loadPrivateKey(bytes);
  } catch (e) {
    if (e instanceof X509Error) throw new CerttoolError("read", `${what} '${path}': ${e.message}`);
    throw e;
  } finally {
    bytes.fill(0);
  }
}

function readCa(args: Args): { cert: Certificate; key: PrivateKey } {
  const cert = readCertificate(args.req("ca"), "CA certificate");
  const key = readKey(args.req("ca-key"), "CA key");
  if (cert.extensions.basicConstraints?.cA !== true) throw new CerttoolError("mismatch", `'${args.req("ca")}' is not a CA certificate`);
  if (!keyMatchesCertificate(key, cert)) throw new CerttoolError("mismatch", "the CA key does not belong to the CA certificate");
  return { cert, key };
}

interface Output {
  readonly path: string;
  readonly data: string;
  readonly mode: number;
  readonly what: string;
}

/** Refuses before any work when an output exists (without --force) or two outputs are the same file. */
function checkOutputs(paths: readonly string[], force: boolean): void {
  const resolved = paths.map((p) => resolve(p));
  if (new Set(resolved).size !== resolved.length) throw new CerttoolError("usage", "the output files must be different");
  if (force) return;
  for (const p of paths) if (exists(p)) throw new CerttoolError("usage", `'${p}' already exists (use --force to replace it)`);
}

function writeOutputs(outputs: readonly Output[], overwrite: boolean): void {
  // The key first: a certificate on disk without its key is useless, the reverse can be re-certified.
  for (const o of outputs) writeFileAtomic(o.path, o.data, { mode: o.mode, overwrite });
}

/** The key to certify: loaded (--load-key) or generated (--key-type), with the PEM to write if new. */
function subjectKey(args: Args): { key: PrivateKey; pem: string | null } {
  const load = args.opt("load-key");
  if (load !== null) {
    if (args.has("key-type")) throw new CerttoolError("usage", "--load-key and --key-type exclude each other");
    return { key: readKey(load, "key"), pem: null };
  }
  return generateKey(parseKeyType(args.opt("key-type")));
}

type Profile = Omit<CertificateOptions, "subjectKey" | "notBefore" | "notAfter">;

/** Checks the outputs, gets the key, issues the certificate for `profile(key)` and writes the files. */
function issueAndWrite(args: Args, profile: (key: PrivateKey) => Profile, days: number, now: Date): string {
  const outCert = args.req("out-cert");
  // With --load-key the key is not written again: the user already has it.
  if (args.has("load-key") && args.has("out-key")) throw new CerttoolError("usage", "--out-key is not used with --load-key");
  const outKey = args.has("load-key") ? null : args.req("out-key");
  const force = args.has("force");
  checkOutputs(outKey === null ? [outCert] : [outCert, outKey], force);
  const key = subjectKey(args);
  const opts = profile(key.key);
  const v = validity(now, days, opts.issuer === "self" ? null : opts.issuer.cert);
  const { pem, cert } = createCertificate({ ...opts, subjectKey: key.key, notBefore: v.notBefore, notAfter: v.notAfter });
  const outputs: Output[] = [];
  if (outKey !== null && key.pem !== null) outputs.push({ path: outKey, data: key.pem, mode: 0o600, what: "private key" });
  outputs.push({ path: outCert, data: pem, mode: 0o644, what: "certificate" });
  writeOutputs(outputs, force);
  const lines = outputs.map((o) => `wrote ${o.what} ${o.path}\n`);
  lines.push(`subject: ${cert.subject.toString()}\n`);
  lines.push(`valid until: ${cert.notAfter.toISOString()}${v.clipped ? " (clipped to the CA's expiry)" : ""}\n`);
  return lines.join("");
}

// ---------------------------------------------------------------------------------------------------
// Commands.

function cmdCa(args: Args, now: Date): string {
  const subject: NameSpec = {
    CN: checkText(args.opt("cn") ?? "ocserv VPN CA", "--cn", 64),
    ...(args.opt("org") !== null ? { O: checkText(args.opt("org")!, "--org", 64) } : {}),
  };
  const keyUsage: KeyUsageName[] = ["keyCertSign", "cRLSign"];
  return issueAndWrite(args, () => ({ subject, issuer: "self", isCa: true, keyUsage }), parseDays(args.opt("days"), DEFAULT_DAYS.ca), now);
}

function cmdServer(args: Args, now: Date): string {
  const cn = checkText(args.req("cn"), "--cn", 64);
  const alt = serverAltNames(cn, args.all("dns"), args.all("ip"));
  const issuer = readCa(args);
  const subject: NameSpec = { CN: cn, ...(args.opt("org") !== null ? { O: checkText(args.opt("org")!, "--org", 64) } : {}) };
  const profile = (key: PrivateKey): Profile => ({
    subject,
    issuer,
    isCa: false,
    // An RSA key may be used for TLS 1.2 RSA key transport, which needs keyEncipherment (RFC 5246 §7.4.2).
    keyUsage: key.type === "rsa" ? ["digitalSignature", "keyEncipherment"] : ["digitalSignature"],
    extKeyUsage: ["serverAuth"],
    dnsNames: alt.dnsNames,
    ipAddresses: alt.ipAddresses,
  });
  return issueAndWrite(args, profile, parseDays(args.opt("days"), DEFAULT_DAYS.server), now);
}

function cmdClient(args: Args, now: Date): string {
  const uid = checkText(args.req("uid"), "--uid", 63);
  const cn = checkText(args.opt("cn") ?? uid, "--cn", 64);
  const ou = args.opt("ou");
  const emails = args.all("email").map((e) => {
    if (!/^[\x21-\x7e]+@[\x21-\x7e]+$/.test(e) || e.length > 254) throw new CerttoolError("bad-input", `'${e}' is not an e-mail address`);
    return e;
  });
  const issuer = readCa(args);
  const subject: NameSpec = { CN: cn, UID: uid, ...(ou !== null ? { OU: checkText(ou, "--ou", 64) } : {}) };
  return issueAndWrite(
    args,
    () => ({ subject, issuer, isCa: false, keyUsage: ["digitalSignature"], extKeyUsage: ["clientAuth"], emails }),
    parseDays(args.opt("days"), DEFAULT_DAYS.client),
    now,
  );
}

function cmdCrl(args: Args, now: Date): string {
  const out = args.req("out");
  // --out is replaced without --force (that is how a CRL is updated), so make sure it is one.
  if (resolve(out) === resolve(args.req("ca")) || resolve(out) === resolve(args.req("ca-key"))) {
    throw new CerttoolError("usage", "--out must not be the CA certificate or key");
  }
  if (exists(out)) {
    const head = new TextDecoder("latin1").decode(readBounded(out, "existing CRL", MAX_CRL_INPUT_BYTES));
    if (!head.includes("-----BEGIN X509 CRL-----")) throw new CerttoolError("usage", `'${out}' exists and is not a PEM CRL; not replacing it`);
  }
  const days = parseDays(args.opt("days"), DEFAULT_DAYS.crl);
  const ca = readCa(args);
  const serials = new Set<string>();
  let previousNumber = 0n;
  const oldPath = args.opt("crl");
  if (oldPath !== null) {
    const bytes = readBounded(oldPath, "CRL", MAX_CRL_INPUT_BYTES);
    let old;
    try {
      old = loadCrls(bytes)[0]!;
    } catch (e) {
      if (e instanceof X509Error) throw new CerttoolError("read", `CRL '${oldPath}': ${e.message}`);
      throw e;
    }
    if (!old.issuer.equals(ca.cert.subject) || !old.verify(ca.cert.publicKey)) {
      throw new CerttoolError("mismatch", `the CRL '${oldPath}' was not issued by this CA`);
    }
    for (const s of old.revokedSerials) serials.add(s);
    if (old.crlNumber !== undefined) previousNumber = BigInt(`0x${old.crlNumber}`);
  }
  for (const path of args.all("revoke")) {
    const cert = readCertificate(path, "certificate to revoke");
    const aki = cert.extensions.authorityKeyIdentifier;
    const ski = ca.cert.extensions.subjectKeyIdentifier;
    const akiMismatch = aki !== undefined && ski !== undefined && Buffer.compare(Buffer.from(aki), Buffer.from(ski)) !== 0;
    if (!cert.issuer.equals(ca.cert.subject) || akiMismatch) {
      throw new CerttoolError("mismatch", `'${path}' was not issued by this CA`);
    }
    serials.add(cert.serial);
  }
  for (const s of args.all("revoke-serial")) {
    const hex = s.toLowerCase().replace(/^0x/, "").replace(/:/g, "");
    if (!/^[0-9a-f]{1,40}$/.test(hex)) throw new CerttoolError("bad-input", `'${s}' is not a hexadecimal serial number`);
    serials.add(hex.replace(/^0+(?=.)/, ""));
  }
  // RFC 5280 §5.2.3: cRLNumber increases with each CRL. The current Unix time keeps it increasing even
  // when no previous CRL is given, and the previous number + 1 wins if it is larger.
  const timeNumber = BigInt(Math.floor(now.getTime() / 1000));
  const crlNumber = previousNumber + 1n > timeNumber ? previousNumber + 1n : timeNumber;
  const { pem } = createCrl({
    issuer: ca.cert,
    key: ca.key,
    revokedSerials: [...serials],
    thisUpdate: new Date(now.getTime() - CLOCK_SKEW_MS),
    nextUpdate: new Date(now.getTime() + days * DAY_MS),
    crlNumber,
  });
  writeFileAtomic(out, pem, { mode: 0o644, overwrite: true });
  return `wrote CRL ${out} (${serials.size} revoked, number ${crlNumber})\n`;
}

function cmdPin(args: Args, operands: readonly string[]): string {
  const fromOpt = args.opt("cert");
  if (operands.length > 1 || (fromOpt !== null && operands.length > 0)) throw new CerttoolError("usage", "pin takes one certificate file");
  const path = fromOpt ?? operands[0];
  if (path === undefined) throw new CerttoolError("usage", "pin: a certificate file is required");
  return `${readCertificate(path, "certificate").pinSha256()}\n`;
}

/** The applet's entry: argv without the program name; returns the exit status. */
export async function certtoolMain(argv: readonly string[], io: AppletIo, now: Date = new Date()): Promise<number> {
  const parsed = getopt(argv, OPTIONS);
  if (parsed.kind === "error") {
    await io.err(`ocserv-certtool: ${parsed.message}\n${CERTTOOL_USAGE}`);
    return 1;
  }
  if (parsed.options.has("help") || parsed.operands[0] === "help") {
    await io.out(CERTTOOL_USAGE);
    return 0;
  }
  if (parsed.options.has("version")) {
    await io.out(`ocserv-certtool (ocserv-ts) ${VERSION}\n`);
    return 0;
  }
  const name = parsed.operands[0];
  const command = COMMANDS.find((c) => c === name);
  if (command === undefined) {
    await io.err(`ocserv-certtool: ${name === undefined ? "a command is required" : `unknown command '${name}'`}\n${CERTTOOL_USAGE}`);
    return 1;
  }
  const stray = [...parsed.options.keys()].filter((k) => !ALLOWED[command].includes(k));
  if (stray.length > 0) {
    await io.err(`ocserv-certtool: ${command} does not take ${stray.map((s) => `--${s}`).join(", ")}\n`);
    return 1;
  }
  const operands = parsed.operands.slice(1);
  if (command !== "pin" && operands.length > 0) {
    await io.err(`ocserv-certtool: unexpected argument '${operands[0]}'\n`);
    return 1;
  }
  const args = new Args(command, parsed.options);
  try {
    let text: string;
    switch (command) {
      case "ca":
        text = cmdCa(args, now);
        break;
      case "server":
        text = cmdServer(args, now);
        break;
      case "client":
        text = cmdClient(args, now);
        break;
      case "crl":
        text = cmdCrl(args, now);
        break;
      case "pin":
        text = cmdPin(args, operands);
        break;
      default: {
        const never: never = command;
        return never;
      }
    }
    await io.out(text);
    return 0;
  } catch (e) {
    if (e instanceof CerttoolError || e instanceof WriteFileError || e instanceof X509Error) {
      await io.err(`ocserv-certtool: ${errorMessage(e)}\n`);
      return 1;
    }
    throw e;
  }
}
