// Busybox-style applets: the one `ocserv` executable runs `ocpasswd` or `ocserv-certtool` when it is
// invoked under that name (a symlink or hard link), so a router needs no other binary. The server's
// own command line keeps exactly ocserv(8)'s flags.
//
// How the invoked name is seen (measured with Bun 1.4.5, a compiled test program in /tmp):
// * `bun build --compile` binary: process.argv0 is the execve argv[0] as the caller gave it
//   ("./ocpasswd", "ocpasswd" via PATH, or anything `exec -a` set); process.argv[0] is always "bun",
//   process.argv[1] is "/$bunfs/root/<entry>", and process.execPath is the real file (a symlink is
//   resolved, a hard link is not). So the applet is basename(process.argv0).
// * `bun src/cli.ts`: process.argv0 is "bun" and argv[1] is the resolved script path, so the invoked
//   name is lost; there the environment variable OCSERV_APPLET names the applet (tests, demo.sh). It is
//   ignored by a compiled binary, so a stray variable can never turn a deployed server into a tool.
// This module is tiny and imported statically by src/cli.ts; the applets are loaded on demand.

import { basename } from "node:path";

export const APPLETS = ["ocpasswd", "ocserv-certtool"] as const;
export type AppletName = (typeof APPLETS)[number];
export const APPLET_ENV = "OCSERV_APPLET";

export type AppletChoice =
  | { readonly kind: "server" }
  | { readonly kind: "applet"; readonly name: AppletName }
  | { readonly kind: "error"; readonly message: string };

function isApplet(name: string): name is AppletName {
  return (APPLETS as readonly string[]).includes(name);
}

/** Whether argv[1] is the entry inside a compiled executable rather than a script path. */
export function isCompiledEntry(script: string | undefined): boolean {
  return script !== undefined && (script.startsWith("/$bunfs/") || script.startsWith("B:/~BUN/"));
}

/** Decides from the process's invocation which program to run. Pure. */
export function chooseApplet(argv0: string, argv: readonly string[], env: Readonly<Record<string, string | undefined>>): AppletChoice {
  if (isCompiledEntry(argv[1])) {
    const name = basename(argv0);
    return isApplet(name) ? { kind: "applet", name } : { kind: "server" };
  }
  const fromEnv = env[APPLET_ENV];
  if (fromEnv === undefined || fromEnv === "") return { kind: "server" };
  if (isApplet(fromEnv)) return { kind: "applet", name: fromEnv };
  return { kind: "error", message: `${APPLET_ENV}=${fromEnv}: unknown applet (known: ${APPLETS.join(", ")})` };
}

/**
 * Runs the applet this process was invoked as, returning its exit status, or null when the process is
 * the server. Called first thing in src/cli.ts main().
 */
export async function runAppletIfInvoked(
  argv0: string,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): Promise<number | null> {
  const choice = chooseApplet(argv0, argv, env);
  switch (choice.kind) {
    case "server":
      return null;
    case "error":
      await Bun.write(Bun.stderr, `ocserv: ${choice.message}\n`);
      return 1;
    case "applet":
      break;
    default: {
      const never: never = choice;
      return never;
    }
  }
  const { processIo } = await import("./io.ts");
  const args = argv.slice(2);
  switch (choice.name) {
    case "ocpasswd":
      return (await import("./ocpasswd.ts")).ocpasswdMain(args, processIo());
    case "ocserv-certtool":
      return (await import("./certtool.ts")).certtoolMain(args, processIo());
    default: {
      const never: never = choice.name;
      return never;
    }
  }
}
