// DTLS data framing (protocol.md §4.4, ocserv worker-vpn.c parse_dtls_data): each DTLS record holds
// one byte of CSTP packet type followed by the payload; no length and no "STF" magic.

export const PacketType = {
  DATA: 0x00,
  DPD_REQ: 0x03,
  DPD_RESP: 0x04,
  DISCONNECT: 0x05,
  KEEPALIVE: 0x07,
  COMPRESSED: 0x08,
  TERMINATE: 0x09,
} as const;
export type PacketType = (typeof PacketType)[keyof typeof PacketType];
