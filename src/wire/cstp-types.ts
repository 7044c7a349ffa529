// CSTP packet types (ocserv vpn.h AC_PKT_*, protocol.md §3): the type byte of a CSTP header over TLS
// (byte 6) and the first byte of every DTLS data record (protocol.md §4.4). One table, shared by the
// TLS tunnel (src/server/tunnel/cstp.ts) and the DTLS channel (src/dtls/framing.ts), which must not
// import each other. This is a leaf: it imports nothing.

export const CstpType = {
  DATA: 0x00,
  DPD_REQ: 0x03,
  DPD_RESP: 0x04,
  DISCONNECT: 0x05,
  KEEPALIVE: 0x07,
  COMPRESSED: 0x08,
  /** Defined by the protocol; ocserv never sends it, and neither do we. */
  TERMINATE: 0x09,
} as const;
export type CstpType = (typeof CstpType)[keyof typeof CstpType];
