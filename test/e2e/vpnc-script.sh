#!/bin/sh
# Minimal vpnc-script for the end-to-end tests: configures the tun device openconnect made, adds the
# split-include routes, and records the environment openconnect passed (what our server sent) so tests
# can assert on it. It never touches DNS (resolv.conf is shared with the host outside a netns).
dump="${E2E_DIR:-/tmp}/vpnc-${TUNDEV}.env"
case "$reason" in
  pre-init) exit 0 ;;
  connect|reconnect)
    env | grep -E '^(INTERNAL_|CISCO_|TUNDEV|VPNGATEWAY|reason)' | sort > "$dump"
    ip link set dev "$TUNDEV" up mtu "${INTERNAL_IP4_MTU:-1300}"
    if [ -n "$INTERNAL_IP4_ADDRESS" ]; then
      ip addr replace "$INTERNAL_IP4_ADDRESS/32" peer "$INTERNAL_IP4_ADDRESS" dev "$TUNDEV"
    fi
    if [ -n "$INTERNAL_IP6_ADDRESS" ]; then
      ip -6 addr replace "$INTERNAL_IP6_ADDRESS" dev "$TUNDEV" nodad 2>/dev/null
    elif [ -n "$INTERNAL_IP6_NETMASK" ]; then
      ip -6 addr replace "$INTERNAL_IP6_NETMASK" dev "$TUNDEV" nodad 2>/dev/null
    fi
    i=0
    while [ "$i" -lt "${CISCO_SPLIT_INC:-0}" ]; do
      eval a=\$CISCO_SPLIT_INC_${i}_ADDR; eval m=\$CISCO_SPLIT_INC_${i}_MASKLEN
      ip route replace "$a/$m" dev "$TUNDEV" 2>/dev/null
      i=$((i + 1))
    done
    i=0
    while [ "$i" -lt "${CISCO_IPV6_SPLIT_INC:-0}" ]; do
      eval a=\$CISCO_IPV6_SPLIT_INC_${i}_ADDR; eval m=\$CISCO_IPV6_SPLIT_INC_${i}_MASKLEN
      ip -6 route replace "$a/$m" dev "$TUNDEV" 2>/dev/null
      i=$((i + 1))
    done
    # The server's tun address (network|1) is reached through the tunnel.
    if [ -n "$INTERNAL_IP4_NETADDR" ] && [ -n "$INTERNAL_IP4_NETMASKLEN" ]; then
      ip route replace "$INTERNAL_IP4_NETADDR/$INTERNAL_IP4_NETMASKLEN" dev "$TUNDEV" 2>/dev/null
    fi
    exit 0 ;;
  disconnect) exit 0 ;;
  *) exit 0 ;;
esac
