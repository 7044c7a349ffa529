// Finds the line of each option in a configuration file, so that a problem with a file an option names
// ("server-cert = /etc/ocserv/missing.pem") is reported at that option's line. The parsed Config does not
// carry line numbers; this scanner follows just enough of the inih grammar (config-options.md §1) to map
// (section, option, occurrence) to a line: comments, `=`/`:` separator, continuation lines, [vhost:]
// headers, BOM. It decides nothing about validity; src/config does that.

export interface OptionLocation {
  /** null for the top-level section, else the [vhost:NAME] name (trimmed). */
  readonly vhost: string | null;
  readonly name: string;
  /** The value as written, trimmed, with surrounding double quotes and inline " #" comment removed. */
  readonly value: string;
  readonly line: number;
}

/** Any section that is not a vhost; its options are ignored by ocserv and never match here. */
const OTHER_SECTION = "\u0000other";

export function locateOptions(text: string): readonly OptionLocation[] {
  const out: OptionLocation[] = [];
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  const lines = body.split("\n");
  let section: string | null = null;
  let previous: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, "");
    const trimmed = raw.trim();
    if (trimmed === "" || trimmed.startsWith("#") || trimmed.startsWith(";")) continue;
    if (trimmed.startsWith("[")) {
      const m = /^\[\s*vhost:(.*)\]$/i.exec(trimmed);
      section = m ? m[1]!.trim() : OTHER_SECTION;
      previous = null;
      continue;
    }
    let name: string;
    let value: string;
    if (/^\s/.test(raw) && previous !== null) {
      name = previous; // inih multiline: another value for the previous name
      value = trimmed;
    } else {
      const sep = trimmed.search(/[=:]/);
      if (sep < 0) continue;
      name = trimmed.slice(0, sep).trim();
      value = trimmed.slice(sep + 1);
    }
    value = value.replace(/\s#.*$/, "").trim().replace(/^"+|"+$/g, "");
    previous = name;
    if (section !== OTHER_SECTION) out.push({ vhost: section, name, value, line: i + 1 });
  }
  return out;
}

export class Locator {
  constructor(private readonly locations: readonly OptionLocation[]) {}

  /**
   * The line of the `index`-th occurrence of `name` in `vhost` (falling back to the top level, where a
   * vhost inherits from), optionally the first whose value contains `valueHint`; 0 if not found.
   */
  lineOf(vhost: string | null, name: string, opts: { index?: number; valueHint?: string } = {}): number {
    const sections = vhost === null ? [null] : [vhost, null];
    for (const s of sections) {
      const hits = this.locations.filter((l) =>
        l.name === name && (s === null ? l.vhost === null : l.vhost !== null && l.vhost.toLowerCase() === s.toLowerCase()));
      if (hits.length === 0) continue;
      if (opts.valueHint !== undefined) {
        const hint = opts.valueHint;
        const h = hits.find((l) => l.value.includes(hint));
        if (h) return h.line;
      }
      const h = hits[opts.index ?? 0] ?? hits[0];
      if (h) return h.line;
    }
    return 0;
  }
}
