#!/bin/sh
# Minimal vpnc-script for the lab benchmark (openconnect --script): brings the tun device up with the
# address and MTU the server sent and routes the VPN network through it. It never touches DNS or the
# default route: /etc/resolv.conf is the host's inside a plain `ip netns exec`, and the stock
# vpnc-script would rewrite it.
case "$reason" in
  connect|reconnect)
    ip link set dev "$TUNDEV" up mtu "${INTERNAL_IP4_MTU:-1300}"
    if [ -n "$INTERNAL_IP4_ADDRESS" ]; then
      ip addr replace "$INTERNAL_IP4_ADDRESS/32" peer "$INTERNAL_IP4_ADDRESS" dev "$TUNDEV"
    fi
    # The server's own tun address lies in the pool network; several sessions may each add this route,
    # the last one wins, which is fine: only the single-session throughput runs send traffic.
    if [ -n "$INTERNAL_IP4_NETADDR" ] && [ -n "$INTERNAL_IP4_NETMASKLEN" ]; then
      ip route replace "$INTERNAL_IP4_NETADDR/$INTERNAL_IP4_NETMASKLEN" dev "$TUNDEV" 2>/dev/null
    fi
    ;;
esac
exit 0
