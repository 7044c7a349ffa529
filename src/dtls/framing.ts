// DTLS data framing (protocol.md §4.4, ocserv worker-vpn.c parse_dtls_data): each DTLS record holds
// one byte of CSTP packet type followed by the payload; no length and no "STF" magic. The type values
// are the CSTP ones, defined once in src/wire/cstp-types.ts.

export { CstpType as PacketType } from "../wire/cstp-types.ts";
