// Usage texts. The full --help is rendered by citty from OPTION_DEFS; citty is imported only when help is
// asked for (it costs ~3 ms of start-up, which every other invocation, the server included, is spared).
import { OPTION_DEFS } from "./argv.ts";
import { VERSION } from "./version.ts";

/** Printed after an argument error, with the error itself on the line before. */
export const SHORT_USAGE = "Usage: ocserv [-f] [-d num] [-c FILE] [-t] [-p FILE] [-e|-s] [--syslog-facility=NAME] [--no-chdir] [-x]\n"
  + "Try 'ocserv --help' for more information.\n";

const ANSI = /\u001b\[[0-9;]*m/g;

/** The --help text; `color` false strips citty's ANSI colours (for pipes and files). */
export async function renderHelp(color: boolean): Promise<string> {
  const { renderUsage } = await import("citty");
  const text = await renderUsage({
    meta: { name: "ocserv", version: VERSION, description: "OpenConnect VPN server (ocserv-compatible)" },
    args: OPTION_DEFS,
  });
  const body = color ? text : text.replace(ANSI, "");
  // citty pads every option line to the widest description; trailing blanks only bother diff and grep.
  return `${body.replace(/[ \t]+$/gm, "")}\n`;
}
