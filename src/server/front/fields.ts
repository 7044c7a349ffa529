// Field extraction from auth POST bodies, the way ocserv does it (worker-auth.c parse_reply,
// match_password_in_reply; protocol.md §1.2). ocserv does not parse XML or forms: it searches for
// substrings. We keep that behaviour, because clients (openconnect XML, its legacy form mode,
// AnyConnect, IP phones) were tested against it, e.g. `group%5flist=` works only because the
// search is case-insensitive and unescapes afterwards.

/** A body is XML when it contains `<?xml` anywhere. */
export function isXmlBody(body: string): boolean {
  return body.includes("<?xml");
}

function indexOfCi(haystack: string, needle: string, from = 0): number {
  return haystack.toLowerCase().indexOf(needle.toLowerCase(), from);
}

/** Text between the first case-insensitive `<name>` and the next `</name>`, HTML-unescaped. */
export function xmlField(body: string, name: string): string | null {
  const open = `<${name}>`;
  const start = indexOfCi(body, open);
  if (start < 0) return null;
  const from = start + open.length;
  const end = indexOfCi(body, `</${name}>`, from);
  if (end < 0) return null;
  return unescapeHtml(body.slice(from, end));
}

/** Text after the first case-insensitive `name=` up to the next `&`, URL-unescaped. */
export function formField(body: string, name: string): string | null {
  const key = `${name}=`;
  const start = indexOfCi(body, key);
  if (start < 0) return null;
  const from = start + key.length;
  const amp = body.indexOf("&", from);
  return unescapeUrl(body.slice(from, amp < 0 ? body.length : amp));
}

export function extractUsername(body: string): string | null {
  return isXmlBody(body) ? xmlField(body, "username") : formField(body, "username");
}

/** `<group-select>` in XML; `group%5flist=` then `group_list=` in forms. */
export function extractGroup(body: string): string | null {
  if (isXmlBody(body)) return xmlField(body, "group-select");
  return formField(body, "group%5flist") ?? formField(body, "group_list");
}

/**
 * The password of an auth reply. XML: the text after the first `<password` (attributes skipped up to
 * `>`), else after `_password>` (covers `<secondary_password>`), up to the next `</`. Forms: after the
 * first `password`, then the next `=`, up to `&`.
 */
export function extractPassword(body: string): string | null {
  if (isXmlBody(body)) {
    let from: number;
    const tag = indexOfCi(body, "<password");
    if (tag >= 0) {
      const gt = body.indexOf(">", tag);
      if (gt < 0) return null;
      from = gt + 1;
    } else {
      const alt = indexOfCi(body, "_password>");
      if (alt < 0) return null;
      from = alt + "_password>".length;
    }
    const end = body.indexOf("</", from);
    if (end < 0) return null;
    return unescapeHtml(body.slice(from, end));
  }
  const at = indexOfCi(body, "password");
  if (at < 0) return null;
  const eq = body.indexOf("=", at + "password".length);
  if (eq < 0) return null;
  const amp = body.indexOf("&", eq + 1);
  return unescapeUrl(body.slice(eq + 1, amp < 0 ? body.length : amp));
}

const NAMED_ENTITIES: Readonly<Record<string, string>> = Object.freeze({ lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" });

/** XML predefined entities and numeric character references (ocserv html.c unescape_html). Unknown
 *  or malformed references are kept literally. */
export function unescapeHtml(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]{2,4});/g, (whole, ref: string) => {
    if (ref.startsWith("#")) {
      const cp = ref[1] === "x" || ref[1] === "X" ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return cp > 0 && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff) ? String.fromCodePoint(cp) : whole;
    }
    return NAMED_ENTITIES[ref] ?? whole;
  });
}

/** `%XX` escapes and `+` as space (form encoding); bytes are reassembled as UTF-8. A malformed escape
 *  is kept literally, as ocserv's unescape_url copies what it cannot decode. */
export function unescapeUrl(s: string): string {
  if (!s.includes("%") && !s.includes("+")) return s;
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (const token of s.match(/%[0-9a-fA-F]{2}|\+|[^%+]+|%/g) ?? []) {
    const bytes =
      token === "+" ? Uint8Array.of(0x20) : token.length === 3 && token[0] === "%" ? Uint8Array.of(parseInt(token.slice(1), 16)) : enc.encode(token);
    parts.push(bytes);
    total += bytes.length;
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return new TextDecoder().decode(out);
}
