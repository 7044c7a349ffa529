// The auth conversation contract (documented in full in index.ts).

/** The verified client certificate's identity (x509 userFromCertificate / groupsFromCertificate). */
export interface CertIdentity {
  readonly user: string;
  /** Values of cert-group-oid in the subject DN; empty when it is not configured or absent. */
  readonly groups: readonly string[];
}

export interface AuthRequest {
  /** The typed username (password methods); absent for certificate-only logins. */
  readonly username?: string;
  /** The group the client asked for, already mapped from a select-group label to its name by the
   *  front; absent when none was chosen or the default-select-group was chosen. */
  readonly groupRequested?: string;
  /** Present only when the TLS layer verified a client certificate chain. */
  readonly certificate?: CertIdentity;
  readonly remoteIp: string;
}

/** The HTTP 401 reason texts ocserv sends (protocol.md §1.1). */
export type AuthFailReason =
  | "Authentication failed"
  | "No certificate"
  | "Could not read certificate"
  | "No password"
  | "Internal error";

export type PasswordField = "password" | "secondary_password";

declare const authStateBrand: unique symbol;
/** Opaque conversation state: hand it back to `answer` exactly once. */
export interface AuthState {
  readonly [authStateBrand]: true;
}

export type AuthStep =
  /** Authenticated. `group` is the selected group (null when the user has none). */
  | {
      readonly kind: "ok";
      readonly user: string;
      readonly groups: readonly string[];
      readonly group: string | null;
    }
  /** Ask for one more secret: send a password form with this message, field and label. `banPoints` is
   *  non-zero when this is a retry after a wrong password (ban-points-wrong-password, sec-mod-auth.c). */
  | {
      readonly kind: "continue";
      readonly message: string;
      readonly fieldName: PasswordField;
      readonly label: string;
      readonly state: AuthState;
      readonly banPoints: number;
    }
  /** Rejected: send `401 <reason>` and close the connection; charge `banPoints` to the client's IP. */
  | { readonly kind: "fail"; readonly reason: AuthFailReason; readonly banPoints: number };

/** Log sink; messages never contain passwords, OTPs or hashes. */
export type AuthLog = (level: "info" | "warn" | "error" | "debug", message: string) => void;
