"""Neighbours: on a host that already runs Docker-like things, the network still forwards and NATs, and teardown
leaves every foreign rule, link and namespace byte-for-byte as it was."""

from __future__ import annotations

import difflib
import json
import re
import subprocess

import pytest

from hoststate import ns_exec, ping, source_seen
from support import WHOAMI_CLIENT, WHOAMI_SERVER

pytestmark = pytest.mark.slow
HOST = "host1"
PARITY = "tests/fleet/playbooks/parity.yml"


def published_port_answers(lab):
    """web's port 8080, published on HOST, answers host2 with host2's own address."""
    hosts = lab.state()["hosts"]
    server = subprocess.Popen(["nsenter", "-t", str(hosts[HOST]["pid"]), "--net", "--mount", "--", "ip", "netns", "exec",
                               "web", "python3", "-c", WHOAMI_SERVER, "80"], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        seen = lab.exec("host2", "python3", "-c", WHOAMI_CLIENT, "tcp", hosts[HOST]["address"], "8080").stdout.strip()
        return seen == hosts["host2"]["address"]
    finally:
        server.kill()
        server.wait()


# (name, commands run on the host to make the foreign state); iptables-nft is Debian's default, Docker's engine
FOREIGN = {
    "docker-on-iptables-nft": [
        "iptables-nft -P FORWARD DROP",
        "iptables-nft -N DOCKER-USER", "iptables-nft -A DOCKER-USER -j RETURN",
        "iptables-nft -A FORWARD -j DOCKER-USER",
        "iptables-nft -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE",
        "ip link add docker0 type bridge", "ip addr add 172.17.0.1/16 dev docker0",
        "ip netns add foreign-ns", "ip link add fveth type veth peer name eth0 netns foreign-ns",
        "nft add table inet theirs", "nft add chain inet theirs input { type filter hook input priority 10 ; }",
        "nft add rule inet theirs input tcp dport 9999 drop",
        "iptables-nft -t nat -N DOCKER",
        "iptables-nft -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
        "iptables-nft -t nat -A DOCKER ! -i docker0 -p tcp -m tcp --dport 5000 -j DNAT --to-destination 172.17.0.2:5000",
        "mkdir -p /etc/netns/foreign-ns", "cp /etc/hostname /etc/netns/foreign-ns/hosts",
    ],
    "iptables-legacy-in-use": [
        "iptables-legacy -P FORWARD DROP",
        "iptables-legacy -t nat -A POSTROUTING -s 172.18.0.0/16 -j MASQUERADE",
        "iptables-legacy -N LIBVIRT_FWO", "iptables-legacy -A FORWARD -j LIBVIRT_FWO",
        "ip link add virbr0 type bridge",
        "ip netns add foreign-ns",
    ],
}
UNDO = ["iptables-nft -F", "iptables-nft -X", "iptables-nft -t nat -F", "iptables-nft -t nat -X",
        "rm -rf /etc/netns/foreign-ns", "iptables-nft -P FORWARD ACCEPT",
        "iptables-legacy -F", "iptables-legacy -X", "iptables-legacy -t nat -F", "iptables-legacy -P FORWARD ACCEPT",
        "nft delete table inet theirs", "ip link del docker0", "ip link del virbr0", "ip link del fveth",
        "ip netns del foreign-ns", "nft flush ruleset"]


def foreign_state(lab):
    def run(*argv):
        return lab.exec(HOST, *argv, check=False).stdout

    links = [(l["ifname"], l.get("master"), l.get("address"), l.get("mtu"), "UP" in l["flags"])
             for l in json.loads(run("ip", "-j", "-d", "link"))]

    def rules(tool):  # packet counters change with traffic; the rules are what must not
        return [re.sub(r"\[\d+:\d+\]", "[0:0]", l) for l in run(tool).splitlines() if not l.startswith("#")]
    addresses = sorted((a["ifname"], i["local"], i["prefixlen"]) for a in json.loads(run("ip", "-j", "addr"))
                       for i in a.get("addr_info", []))
    return {
        "iptables-nft": rules("iptables-nft-save"),
        "iptables-legacy": rules("iptables-legacy-save"),
        "nft": re.sub(r"counter packets \d+ bytes \d+", "counter", run("nft", "list", "ruleset")),
        "links": links,
        "addresses": addresses,
        "routes": run("ip", "-4", "route", "show", "table", "all").splitlines()
        + [r for r in run("ip", "-6", "route", "show", "table", "all").splitlines() if "proto kernel" not in r],
        "namespaces": run("ip", "netns", "list"),
        "hosts_files": run("sh", "-c", "ls -AR /etc/netns; cat /etc/netns/*/hosts 2>/dev/null"),
    }


@pytest.mark.parametrize("setup", list(FOREIGN))
def test_foreign_state_is_kept_and_the_network_works(lab, playbook, record, setup):
    for command in FOREIGN[setup]:
        lab.exec(HOST, *command.split())
    try:
        before = foreign_state(lab)
        playbook("playbooks/lab.yml", "-l", HOST)
        assert ping(lab, HOST, "c1", "10.100.0.3")
        upstream = lab.state()["hosts"]["upstream"]["address"]
        assert source_seen(lab, HOST, "c1", upstream, 7007) == lab.state()["hosts"][HOST]["address"], \
            "forwarded and masqueraded despite the FORWARD DROP policy"
        # published ports, an internal network and names beside the neighbour (whose engine they join)
        playbook(PARITY, "-l", HOST)
        assert published_port_answers(lab)
        assert ns_exec(lab, HOST, "app1", "getent", "hosts", "web").returncode == 0
        playbook(PARITY, "-l", HOST, "-e", "parity_state=absent")
        playbook("playbooks/teardown.yml", "-l", HOST)
        after = foreign_state(lab)
        for key in before:
            old = before[key] if isinstance(before[key], list) else before[key].splitlines()
            new = after[key] if isinstance(after[key], list) else after[key].splitlines()
            diff = "\n".join(difflib.unified_diff([str(x) for x in old], [str(x) for x in new], lineterm=""))
            assert not diff, f"{key} changed:\n{diff}"
        record(f"foreign_objects_preserved_{setup}",
               len(FOREIGN[setup]))
    finally:
        for command in UNDO:
            lab.exec(HOST, *command.split(), check=False)
