// The public surface of src/net.

export { NetError, type NetErrorCode } from "./errors.ts";
export { listenTcp, type TcpConnection, type TcpConnectionHandler, type TcpListener, type TcpListenOptions } from "./tcp.ts";
export { openUdp, type UdpEndpoint, type UdpHandler, type UdpOptions } from "./udp.ts";
export { createBoundSocket, getSocketInt, PMTUDISC, SOCKOPT, type BoundSocket, type PmtuDisc, type SocketSpec } from "./sockets.ts";
export { enterNetns, type NetnsHandle } from "./netns.ts";
export { IcmpPinger } from "./icmp.ts";
export { SocketOptions, SockoptError, SOCKOPT_NUMBERS, type SocketAddress, type SockoptErrorCode } from "./sockopt.ts";
