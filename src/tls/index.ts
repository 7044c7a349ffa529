// Public API of the TLS server (TLS 1.3 and 1.2, sans-I/O). The socket owner drives it like this:
//
//   const tls = new TlsServerConnection(config);
//   on TCP data:  tls.receive(bytes);
//                 for (let d; (d = tls.readApplicationData()) !== null; ) handle(d);
//                 const out = tls.takeOutgoing(); if (out) socket.write(out);
//                 if (tls.state === "closed") socket.end();   // after writing `out` (it may hold the alert)
//   to send:      tls.write(record ≤ 16384 bytes); then takeOutgoing() as above
// Zero-copy lifetimes: `d` is valid until the next receive() and `out` until the next call that
// produces output (write, receive, close, keyUpdate, fatalAlert); keep either longer only as a copy.
//   DTLS PSK:     tls.exportKeyingMaterial("EXPORTER-openconnect-psk", null, 32)
//   TLS 1.3 rekey (rekey-method = ssl): tls.keyUpdate(true)
//
// DTLS reuses the internal modules directly: codec.ts (message bodies, dtlsHandshakeHeader),
// record.ts (Gcm12/Cbc12 with caller-supplied sequence numbers), keyschedule.ts, suites.ts, errors.ts.

export {
  TlsServerConnection,
  type TlsCredentials,
  type TlsServerConfig,
  type TlsInfo,
  type ClientChainVerdict,
} from "./server.ts";
export { parsePriorities, type TlsPolicy, type TlsVersion } from "./priorities.ts";
export { SessionCache, type CachedSession } from "./session-cache.ts";
export { TlsError, AlertDescription, type TlsErrorCode } from "./errors.ts";
export type { NamedGroup, SignatureScheme } from "../crypto/types.ts";
