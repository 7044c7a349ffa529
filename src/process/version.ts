// The version printed by -v. Bun's bundler inlines this JSON import into the compiled executable, so the
// binary needs no package.json at run time; minification drops the fields that are not read.
import pkg from "../../package.json" with { type: "json" };

export const VERSION: string = pkg.version;
