#!/usr/bin/env bash
# The bridge network of the roles, built by hand and scaled to N containers: one `ip`/`iptables` command at a
# time, veth created in the host, then moved into the container's namespace. Usage: ip_script.sh N [down]
set -e
N=$1
if [ "${2:-}" = down ]; then
  for i in $(seq 1 "$N"); do ip netns del "c$i"; done
  ip link del br0
  iptables -t nat -D POSTROUTING -s 10.100.0.0/16 ! -o br0 -j MASQUERADE
  exit 0
fi
ip link add br0 type bridge
ip addr add 10.100.0.1/16 dev br0
ip link set br0 up
for i in $(seq 1 "$N"); do
  a=$((i + 1))
  ip netns add "c$i"
  ip link add "veth-c$i" type veth peer name "veth-c$i-br"
  ip link set "veth-c$i" netns "c$i"
  ip link set "veth-c$i-br" master br0
  ip link set "veth-c$i-br" up
  ip netns exec "c$i" ip addr add "10.100.$((a / 256)).$((a % 256))/16" dev "veth-c$i"
  ip netns exec "c$i" ip link set "veth-c$i" up
  ip netns exec "c$i" ip link set lo up
  ip netns exec "c$i" ip route add default via 10.100.0.1
done
sysctl -qw net.ipv4.ip_forward=1
iptables -t nat -A POSTROUTING -s 10.100.0.0/16 ! -o br0 -j MASQUERADE
