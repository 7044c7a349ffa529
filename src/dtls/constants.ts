/** The TLS exporter label of the DTLS PSK (protocol.md §4.2): 32 bytes, no context. */
export const PSK_EXPORTER_LABEL = "EXPORTER-openconnect-psk";
