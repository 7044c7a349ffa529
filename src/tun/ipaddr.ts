// The netlink API takes addresses as text; their syntax (strict, like inet_pton) is src/wire/ip.ts's,
// re-exported here so the tun package's public surface (src/tun/index.ts) stays as it was.

export { formatIp, parseIp, type IpAddress } from "../wire/ip.ts";
