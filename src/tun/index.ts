// The public surface of src/tun. Everything else in the directory is internal.

export type { OpenTunOptions, TunDevice, TunFactory } from "./device.ts";
export { checkInterfaceName, IFNAMSIZ } from "./device.ts";
export { TunError, errnoName, type TunErrorCode } from "./errors.ts";
export { loadLibc, type Libc } from "./libc.ts";
export { createLinuxTunFactory, type LinuxTunFactory, type LinuxTunFactoryOptions } from "./linux.ts";
export { MemoryTun, MemoryTunFactory, type MemoryTunOptions } from "./memory.ts";
export { RtNetlink, type AddressSpec, type LinkInfo, type RouteSpec, type TunnelAddressing } from "./netlink.ts";
export { createReadiness, type Readiness, type Watch } from "./readiness.ts";
export { formatIp, parseIp, type IpAddress } from "./ipaddr.ts";
