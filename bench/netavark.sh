#!/usr/bin/env bash
# netavark (podman's network stack) with a bridge network and static IPs: one `netavark setup` per container into a
# fresh named namespace (as podman does), or one teardown per container and the namespace removed.
# Usage: netavark.sh N setup|teardown CONFDIR
set -e
N=$1 ACTION=$2 CONF=$3
NETAVARK=${NETAVARK:-/usr/lib/podman/netavark}
mkdir -p "$CONF"
for i in $(seq 1 "$N"); do
  ip=10.100.$(( (i + 1) / 256 )).$(( (i + 1) % 256 ))
  json=$(printf '{"container_id": "%064d", "container_name": "c%d", "port_mappings": [],
  "networks": {"bench": {"static_ips": ["%s"], "interface_name": "eth0"}},
  "network_info": {"bench": {"name": "bench", "id": "%064d", "driver": "bridge", "network_interface": "br0",
    "subnets": [{"subnet": "10.100.0.0/16", "gateway": "10.100.0.1"}], "ipv6_enabled": false, "internal": false,
    "dns_enabled": false, "ipam_options": {"driver": "host-local"}}}}' "$i" "$i" "$ip" 1)
  if [ "$ACTION" = setup ]; then
    ip netns add "c$i"
    "$NETAVARK" --config "$CONF" setup "/run/netns/c$i" <<<"$json" >/dev/null
  else
    "$NETAVARK" --config "$CONF" teardown "/run/netns/c$i" <<<"$json" >/dev/null
    ip netns del "c$i"
  fi
done
