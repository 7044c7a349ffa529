// Public API of the DTLS data channel. The server uses only what is exported here:
//   selectDtlsMode → (MTU with cryptoOverhead) → dtlsResponseHeaders → endpoint.register(dtlsModeFor(...))
//   UDP socket → endpoint.handleDatagram → sendTo / deliver / events;  tun → endpoint.send
//   a timer at endpoint.nextDeadline() → endpoint.onTimer

export {
  createDtlsEndpoint,
  type DtlsEndpoint,
  type DtlsEndpointOptions,
  type DtlsRegistration,
  type DtlsSessionHandle,
  type DtlsResult,
  type DtlsStats,
  type Datagram,
  type DtlsEvent,
  type Peer,
  type DtlsVersionName,
} from "./demux.ts";
export { selectDtlsMode, dtlsModeFor, dtlsResponseHeaders, recordOverhead, type DtlsSelection, type DtlsSelectInput, type DtlsHeaderInput } from "./negotiate.ts";
export type { DtlsMode } from "./handshake.ts";
export { PacketType } from "./framing.ts";
export { PSK_EXPORTER_LABEL } from "./constants.ts";
