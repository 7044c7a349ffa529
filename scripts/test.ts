// `npm test`: builds dist/ocserv first (the CLI tests run against the compiled binary, as deployed), then
// runs every test under test/. Exits non-zero if the build or any test fails.
import { resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");

async function run(cmd: string[]): Promise<number> {
  const proc = Bun.spawn({ cmd, cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
  return proc.exited;
}

const built = await run([process.execPath, "scripts/build.ts"]);
if (built !== 0) {
  console.error(`build failed (exit ${built}); not running the tests`);
  process.exit(built);
}
// Extra arguments go to bun test (e.g. `npm test -- test/cli` or `-t pattern`).
const extra = process.argv.slice(2);
const code = await run([process.execPath, "test", ...(extra.length > 0 ? extra : ["test/"])]);
process.exit(code);
