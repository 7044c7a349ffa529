// A small getopt_long for the applets: pure, argv in, a typed result out. Upstream ocpasswd parses with
// autoopts (getopt-like), so the same spellings must work here: `-c FILE`, `-cFILE`, `--passwd FILE`,
// `--passwd=FILE`, bundled flags (`-dl`), `--` ending the options, and options after the operands
// (GNU permutation). Unknown options are errors, never ignored (citty would ignore them; see
// src/process/argv.ts for the same reasoning about the server's own flags).

export interface OptionSpec {
  /** The key the value is stored under; also the primary long name. */
  readonly name: string;
  readonly short?: string;
  /** More long spellings of the same option (ocpasswd: --group and --groupname). */
  readonly aliases?: readonly string[];
  readonly takesValue: boolean;
  /** Whether the option may be given more than once (values accumulate); otherwise a repeat is an error. */
  readonly repeatable?: boolean;
}

export type GetoptResult =
  | {
      readonly kind: "ok";
      /** Option name → the values given, in order ("" for each occurrence of a flag). */
      readonly options: ReadonlyMap<string, readonly string[]>;
      readonly operands: readonly string[];
    }
  | { readonly kind: "error"; readonly message: string };

export function getopt(argv: readonly string[], specs: readonly OptionSpec[]): GetoptResult {
  const byLong = new Map<string, OptionSpec>();
  const byShort = new Map<string, OptionSpec>();
  for (const s of specs) {
    byLong.set(s.name, s);
    for (const a of s.aliases ?? []) byLong.set(a, s);
    if (s.short !== undefined) byShort.set(s.short, s);
  }
  const options = new Map<string, string[]>();
  const operands: string[] = [];
  const add = (spec: OptionSpec, value: string, spelled: string): string | null => {
    const list = options.get(spec.name) ?? [];
    if (list.length > 0 && spec.repeatable !== true) return `option '${spelled}' given more than once`;
    list.push(value);
    options.set(spec.name, list);
    return null;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      operands.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      const spec = byLong.get(name);
      if (spec === undefined) return { kind: "error", message: `unknown option '--${name}'` };
      let value = "";
      if (spec.takesValue) {
        if (eq >= 0) value = arg.slice(eq + 1);
        else {
          const next = argv[i + 1];
          if (next === undefined) return { kind: "error", message: `option '--${name}' needs a value` };
          value = next;
          i++;
        }
      } else if (eq >= 0) {
        return { kind: "error", message: `option '--${name}' takes no value` };
      }
      const err = add(spec, value, `--${name}`);
      if (err !== null) return { kind: "error", message: err };
      continue;
    }
    if (arg.startsWith("-") && arg.length > 1) {
      // A bundle of short options; the first that takes a value consumes the rest of the word or the
      // next argument (getopt(3)).
      for (let j = 1; j < arg.length; j++) {
        const c = arg[j]!;
        const spec = byShort.get(c);
        if (spec === undefined) return { kind: "error", message: `unknown option '-${c}'` };
        let value = "";
        if (spec.takesValue) {
          if (j + 1 < arg.length) value = arg.slice(j + 1);
          else {
            const next = argv[i + 1];
            if (next === undefined) return { kind: "error", message: `option '-${c}' needs a value` };
            value = next;
            i++;
          }
          j = arg.length;
        }
        const err = add(spec, value, `-${c}`);
        if (err !== null) return { kind: "error", message: err };
      }
      continue;
    }
    operands.push(arg);
  }
  return { kind: "ok", options, operands };
}
