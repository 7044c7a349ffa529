// Distinguished names (RFC 5280 §4.1.2.4): a SEQUENCE OF RelativeDistinguishedName, each a SET OF
// AttributeTypeAndValue. Values are decoded to strings; the DER is kept for exact name matching.

import { DerReader, TAG, decodeString } from "./asn1.ts";
import { ATTRIBUTE_NAMES, OID } from "./oids.ts";
import { X509Error } from "./errors.ts";
import { oid as oidDer, printableString, seq, setOf, utf8String, ia5String } from "./der-writer.ts";

export interface Attribute {
  readonly oid: string;
  readonly value: string;
}

export class Name {
  constructor(
    /** RDNs in encoding order (most significant first, usually C/O before CN). */
    readonly rdns: readonly (readonly Attribute[])[],
    /** The DER encoding of the Name. */
    readonly der: Uint8Array,
  ) {}

  /** All values of an attribute, in encoding order across RDNs. */
  values(oid: string): string[] {
    const out: string[] = [];
    for (const rdn of this.rdns) for (const a of rdn) if (a.oid === oid) out.push(a.value);
    return out;
  }

  first(oid: string): string | undefined {
    return this.values(oid)[0];
  }

  /** RFC 4514 string: RDNs in reverse encoding order ("CN=user,O=Org,C=US"), values escaped. */
  toString(): string {
    return [...this.rdns]
      .reverse()
      .map((rdn) => rdn.map((a) => `${ATTRIBUTE_NAMES[a.oid] ?? a.oid}=${escapeValue(a.value)}`).join("+"))
      .join(",");
  }

  /**
   * Name equality for path building. Exact DER equality first; otherwise the RFC 5280 §7.1
   * comparison simplified to: same attributes in the same order, values compared after
   * case folding and whitespace collapsing (what CAs that re-encode strings need in practice).
   */
  equals(other: Name): boolean {
    if (bytesEqual(this.der, other.der)) return true;
    if (this.rdns.length !== other.rdns.length) return false;
    for (let i = 0; i < this.rdns.length; i++) {
      const a = this.rdns[i]!;
      const b = other.rdns[i]!;
      if (a.length !== b.length) return false;
      for (let j = 0; j < a.length; j++) {
        if (a[j]!.oid !== b[j]!.oid || fold(a[j]!.value) !== fold(b[j]!.value)) return false;
      }
    }
    return true;
  }
}

function fold(s: string): string {
  return s.trim().replace(/\s+/g, " ").toLowerCase();
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function escapeValue(v: string): string {
  // RFC 4514 §2.4
  let s = v.replace(/[\\,+"<>;=]/g, (c) => `\\${c}`);
  if (s.startsWith(" ") || s.startsWith("#")) s = `\\${s}`;
  if (s.endsWith(" ") && s.length > 1) s = `${s.slice(0, -1)}\\ `;
  return s;
}

export function parseName(r: DerReader): Name {
  const t = r.expect(TAG.SEQUENCE, "Name");
  const rdnsReader = DerReader.of(t.value);
  const rdns: Attribute[][] = [];
  while (!rdnsReader.done) {
    const set = rdnsReader.set("RelativeDistinguishedName");
    const rdn: Attribute[] = [];
    while (!set.done) {
      const atv = set.sequence("AttributeTypeAndValue");
      const oid = atv.oid("attribute type");
      const valueTlv = atv.read();
      let value: string;
      try {
        value = decodeString(valueTlv);
      } catch {
        // Non-string attribute values are kept as RFC 4514 §2.4 "#hex".
        value = `#${Buffer.from(valueTlv.raw).toString("hex")}`;
      }
      atv.end("AttributeTypeAndValue");
      rdn.push(Object.freeze({ oid, value }));
    }
    if (rdn.length === 0) throw new X509Error("bad-der", "empty RelativeDistinguishedName");
    rdns.push(rdn);
  }
  return new Name(Object.freeze(rdns.map((r) => Object.freeze(r))), t.raw.slice());
}

export interface NameSpec {
  readonly CN?: string;
  readonly O?: string;
  readonly OU?: string;
  readonly UID?: string;
  readonly C?: string;
  readonly emailAddress?: string;
}

/** Encodes a Name, one attribute per RDN, in the usual C, O, OU, CN, UID order. */
export function encodeName(spec: NameSpec): Uint8Array {
  const rdns: Uint8Array[] = [];
  const add = (oid: string, value: Uint8Array) => rdns.push(setOf(seq(oidDer(oid), value)));
  // RFC 5280 §4.1.2.4: countryName is PrintableString; emailAddress IA5String; the rest UTF8String.
  if (spec.C !== undefined) {
    if (spec.C.length !== 2) throw new X509Error("bad-input", "country code must be 2 letters");
    add(OID.C, printableString(spec.C));
  }
  if (spec.O !== undefined) add(OID.O, utf8String(spec.O));
  if (spec.OU !== undefined) add(OID.OU, utf8String(spec.OU));
  if (spec.CN !== undefined) add(OID.CN, utf8String(spec.CN));
  if (spec.UID !== undefined) add(OID.UID, utf8String(spec.UID));
  if (spec.emailAddress !== undefined) add(OID.emailAddress, ia5String(spec.emailAddress));
  return seq(...rdns);
}
