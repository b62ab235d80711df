#!/usr/bin/env bash
# The CNI reference bridge plugin with host-local IPAM and ipMasq: one ADD per container into a fresh named
# namespace (as a runtime does), or one DEL per container and the namespace removed. Usage: cni.sh N add|del DATADIR
set -e
N=$1 ACTION=$2 DATA=$3
CONF=$(cat <<JSON
{"cniVersion": "1.0.0", "name": "bench", "type": "bridge", "bridge": "br0", "isGateway": true, "ipMasq": true,
 "ipam": {"type": "host-local", "subnet": "10.100.0.0/16", "gateway": "10.100.0.1", "dataDir": "$DATA",
          "routes": [{"dst": "0.0.0.0/0"}]}}
JSON
)
export CNI_PATH=/usr/lib/cni CNI_IFNAME=eth0
for i in $(seq 1 "$N"); do
  if [ "$ACTION" = add ]; then
    ip netns add "c$i"
    CNI_COMMAND=ADD CNI_CONTAINERID="c$i" CNI_NETNS="/run/netns/c$i" /usr/lib/cni/bridge <<<"$CONF" >/dev/null
  else
    CNI_COMMAND=DEL CNI_CONTAINERID="c$i" CNI_NETNS="/run/netns/c$i" /usr/lib/cni/bridge <<<"$CONF" >/dev/null
    ip netns del "c$i"
  fi
done
