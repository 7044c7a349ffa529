// Public API of the tunnel side. The server wiring builds one TunnelManagerImpl and hands it to the
// front as its TunnelManager; everything else here is for tests, occtl and the DTLS helper.

export { TunnelManagerImpl, systemTimers, PERIODIC_CHECK_MS } from "./manager.ts";
export type { TunnelManagerDeps, SettingsResult, TunNetworking, ManagerTimers, ManagerLog, ExposedIroutes, TunnelInfo } from "./manager.ts";
export { loadExposedIroutes } from "./iroutes.ts";
export { createShellRunner } from "./scripts.ts";
export type { ScriptRunner } from "./scripts.ts";
export type { DtlsHeaderContext } from "./connect-response.ts";
export { LeaseTable, LeaseError } from "./leases.ts";
export type { LeaseHolder, Ipv4Lease, Ipv6Lease } from "./leases.ts";
export { computeMtu, dtlsRecordOverhead } from "./mtu.ts";
export type { MtuResult } from "./mtu.ts";
export { CstpType, CSTP_HEADER_LEN, writeCstpHeader } from "./cstp.ts";
export type { ClientInfo } from "./client.ts";
