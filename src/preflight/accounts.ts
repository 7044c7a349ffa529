// run-as-user / run-as-group must name an existing account: ocserv calls getpwnam()/getgrnam() at start
// and refuses to run otherwise. We ask libc the same way (through NSS, so LDAP/sssd accounts count too)
// rather than reading /etc/passwd ourselves.
import { dlopen, FFIType, ptr } from "bun:ffi";

const LIBC_NAMES = ["libc.so.6", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"] as const;

export type AccountLookup = { readonly ok: true; readonly exists: boolean } | { readonly ok: false; readonly message: string };

export interface Accounts {
  user(name: string): AccountLookup;
  group(name: string): AccountLookup;
  close(): void;
}

/** A purely numeric name is an id; ocserv passes it to getpwnam too, so we look it up by name as well. */
export function openAccounts(): Accounts | null {
  for (const lib of LIBC_NAMES) {
    try {
      const h = dlopen(lib, {
        getpwnam: { args: [FFIType.ptr], returns: FFIType.ptr },
        getgrnam: { args: [FFIType.ptr], returns: FFIType.ptr },
      });
      const look = (fn: (p: ReturnType<typeof ptr>) => unknown, name: string): AccountLookup => {
        if (name.length === 0 || name.length > 256 || name.includes("\0")) return { ok: false, message: `'${name}' is not a valid name` };
        // Kept in a local for the duration of the call: ptr() does not keep the buffer alive by itself.
        const cname = new TextEncoder().encode(`${name}\0`);
        const result = fn(ptr(cname));
        void cname.length;
        return { ok: true, exists: result !== null };
      };
      return {
        user: (name) => look((p) => h.symbols.getpwnam(p), name),
        group: (name) => look((p) => h.symbols.getgrnam(p), name),
        close: () => h.close(),
      };
    } catch {
      // try the next name
    }
  }
  return null;
}
