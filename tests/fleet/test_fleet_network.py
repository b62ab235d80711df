"""Role fleet_network over the lab's three hosts: per-host subnets, host-gw routes, no NAT inside the cluster."""

from __future__ import annotations

import ipaddress
import json
import subprocess

import pytest

from hoststate import address_of, echo_server, ns_exec, ping, source_seen
from support import WHOAMI_CLIENT, WHOAMI_SERVER

pytestmark = pytest.mark.slow
HOSTS = ("host1", "host2", "host3")


def bridge_subnet(lab, host, family=4):
    out = json.loads(lab.exec(host, "ip", "-j", f"-{family}", "addr", "show", "dev", "br-fleet", "scope", "global",
                              check=True).stdout)
    info = out[0]["addr_info"][0]
    return str(ipaddress.ip_interface(f"{info['local']}/{info['prefixlen']}").network)


def gateway_routes(lab, host, family):
    return {r["dst"]: r.get("gateway") for r in json.loads(lab.exec(host, "ip", "-j", f"-{family}", "route", check=True).stdout)}


def resolve(lab, host, ns, name, family=4):
    """The address a container resolves name to (getent, with its hosts file as ip netns exec binds it); None."""
    out = ns_exec(lab, host, ns, "getent", f"ahostsv{family}", name).stdout.split()
    return out[0] if out else None


def test_fleet(lab, playbook):
    extra = ("-e", "containers_per_host=2", "-e", json.dumps({"app1_ports": ["8080:80"],
                                                              "extra_containers": {"host3": ["db"], "host2": ["cache"],
                                                                                   "host1": ["cache"]}}))
    # two hosts first, then the whole fleet: hosts keep their subnets (both families) when the inventory changes
    playbook("playbooks/fleet.yml", "-e", "target=host2,host3", *extra)
    early = {h: (bridge_subnet(lab, h), bridge_subnet(lab, h, 6)) for h in ("host2", "host3")}
    assert early == {"host2": ("10.244.0.0/24", "fd42::/64"), "host3": ("10.244.1.0/24", "fd42:0:0:1::/64")}
    # names across the fleet: NAME.HOST everywhere, a bare name for this host's own and for one unique in the fleet
    assert resolve(lab, "host2", "app1", "app1.host3") == address_of(lab, "host3", "app1")
    assert resolve(lab, "host2", "app1", "app2.host3", 6) == address_of(lab, "host3", "app2", family=6)
    assert resolve(lab, "host2", "app2", "app1") == address_of(lab, "host2", "app1"), "the local app1 wins"
    assert resolve(lab, "host2", "app1", "db") == resolve(lab, "host2", "app1", "db.host3") == address_of(lab, "host3", "db")
    assert resolve(lab, "host3", "db", "app1.host2") == address_of(lab, "host2", "app1")
    assert resolve(lab, "host3", "db", "cache") == address_of(lab, "host2", "cache"), "unique, for now"
    checked = playbook("playbooks/fleet.yml", "--check", *extra)
    assert checked.hosts["host1"]["changed"] > 0 and "br-fleet" not in lab.exec("host1", "ip", "-br", "link").stdout
    playbook("playbooks/fleet.yml", *extra)
    subnets = {h: (bridge_subnet(lab, h), bridge_subnet(lab, h, 6)) for h in HOSTS}
    assert subnets == dict(early, host1=("10.244.2.0/24", "fd42:0:0:2::/64"))
    # host1 joined: it resolves the others, and they resolve it
    assert resolve(lab, "host1", "app2", "db") == address_of(lab, "host3", "db")
    assert resolve(lab, "host1", "app2", "app1.host2") == address_of(lab, "host2", "app1")
    assert resolve(lab, "host3", "db", "app2.host1", 6) == address_of(lab, "host1", "app2", family=6)
    assert resolve(lab, "host3", "db", "cache") is None, "cache is on host1 and host2 now: by its bare name, nobody's"
    assert resolve(lab, "host3", "db", "cache.host1") == address_of(lab, "host1", "cache")
    assert resolve(lab, "host1", "cache", "cache") == address_of(lab, "host1", "cache"), "but each host's own"

    addresses = lab.state()["hosts"]
    underlay = {h: (info["address"], lab.address6(info["address"])) for h, info in addresses.items()}
    for host in HOSTS:
        for family in (4, 6):
            routes = gateway_routes(lab, host, family)
            for other in HOSTS:
                if other != host:
                    assert routes[subnets[other][family // 6]] == underlay[other][family // 6], \
                        f"{host} routes {other}'s IPv{family} subnet via its IPv{family} underlay address"

    # the full matrix, both families: every container pings every other one, on its host and across the fleet
    matrix = {f: [(h, c, address_of(lab, h, c, family=f)) for h in HOSTS for c in ("app1", "app2")] for f in (4, 6)}
    unreachable = [(h, c, ip) for f in (4, 6) for h, c, _own in matrix[f] for h2, c2, ip in matrix[f]
                   if (h, c) != (h2, c2) and not ping(lab, h, c, ip)]
    assert not unreachable, f"ping matrix: {unreachable}"

    for family in (4, 6):
        target = address_of(lab, "host2", "app1", family=family)
        server = echo_server(lab, "host2", "app1", target, 7100)
        try:
            # over IPv4 by its name across the fleet (the client tries each address it resolves)
            assert source_seen(lab, "host1", "app1", target if family == 6 else "app1.host2", 7100) == \
                address_of(lab, "host1", "app1", family=family), f"no NAT in the cluster (IPv{family})"
        finally:
            server.wait(timeout=10)
        upstream = underlay["upstream"][family // 6]
        assert source_seen(lab, "host1", "app1", upstream, 7007) == underlay["host1"][family // 6], \
            f"IPv{family} NAT out of the cluster"

    # a port published on every address answers on both families, from another host, which it sees as itself
    server = subprocess.Popen(["nsenter", "-t", str(addresses["host1"]["pid"]), "--net", "--mount", "--", "ip", "netns",
                               "exec", "app1", "python3", "-c", WHOAMI_SERVER, "80"], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        for family in (4, 6):
            seen = lab.exec("host2", "python3", "-c", WHOAMI_CLIENT, "tcp", underlay["host1"][family // 6], "8080").stdout
            assert seen.strip() == underlay["host2"][family // 6], f"published port over IPv{family}"
    finally:
        server.kill()
        server.wait()

    # IPv6 without masquerade, when the upstream routes the hosts' subnets: it sees the container itself
    no_masq = ("-e", json.dumps({"fleet_network_masquerade6": False}))
    assert playbook("playbooks/fleet.yml", *extra, *no_masq, "--check").changed == 3
    assert playbook("playbooks/fleet.yml", *extra, *no_masq).changed == 3
    lab.exec("upstream", "ip", "-6", "route", "add", subnets["host1"][1], "via", underlay["host1"][1])
    try:
        assert source_seen(lab, "host1", "app1", underlay["upstream"][1], 7007) == address_of(lab, "host1", "app1", family=6)
        assert source_seen(lab, "host1", "app1", underlay["upstream"][0], 7007) == underlay["host1"][0], "IPv4 still NAT"
    finally:
        lab.exec("upstream", "ip", "-6", "route", "del", subnets["host1"][1], "via", underlay["host1"][1])
    assert playbook("playbooks/fleet.yml", *extra).changed == 3

    # a converged fleet: each host's read vouches for it, and its converge is answered on the controller
    again = playbook("playbooks/fleet.yml", "-v", *extra)
    assert again.changed == 0 and again.stdout.count('"converged": true') == 3, again.stdout[-3000:]
    assert playbook("playbooks/fleet.yml", "--check", *extra).changed == 0
    # drift by hand on host2 (app2's veth, a route to host1's subnet): its read sees it, and only its converge runs
    peer = json.loads(lab.exec("host2", "ip", "netns", "exec", "app2", "ip", "-j", "link", "show", "eth0").stdout)
    host_end = next(link["ifname"] for link in json.loads(lab.exec("host2", "ip", "-j", "link", "show").stdout)
                    if link["ifindex"] == peer[0]["link_index"])
    lab.exec("host2", "ip", "link", "del", host_end)
    lab.exec("host2", "ip", "route", "del", subnets["host1"][0])
    repaired = playbook("playbooks/fleet.yml", "-v", *extra)
    assert repaired.hosts["host2"]["changed"] == 1 and repaired.changed == 1, repaired.stdout[-3000:]
    assert repaired.stdout.count('"converged": true') == 2
    assert ping(lab, "host2", "app2", address_of(lab, "host1", "app1")), "repaired: app2 reaches across the fleet again"
    assert playbook("playbooks/fleet.yml", *extra).changed == 0

    playbook("playbooks/teardown.yml", *extra)
    for host in HOSTS:
        assert lab.exec(host, "ip", "netns", "list").stdout.strip() == ""
        assert "br-fleet" not in lab.exec(host, "ip", "-br", "link").stdout
        assert "10.244." not in lab.exec(host, "ip", "route").stdout
        assert "fd42" not in lab.exec(host, "ip", "-6", "route").stdout
        assert "linuxns" not in lab.exec(host, "nft", "list", "ruleset").stdout
        assert lab.exec(host, "ls", "-A", "/etc/netns").stdout.strip() == "", "hosts files (names) go too"
