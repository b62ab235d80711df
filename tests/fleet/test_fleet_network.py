"""Role fleet_network over the lab's three hosts: per-host subnets, host-gw routes, no NAT inside the cluster."""

from __future__ import annotations

import ipaddress
import json

import pytest

from hoststate import address_of, echo_server, ping, source_seen

pytestmark = pytest.mark.slow
HOSTS = ("host1", "host2", "host3")


def bridge_subnet(lab, host):
    out = json.loads(lab.exec(host, "ip", "-j", "-4", "addr", "show", "dev", "br-fleet", check=True).stdout)
    info = out[0]["addr_info"][0]
    return str(ipaddress.ip_interface(f"{info['local']}/{info['prefixlen']}").network)


def test_fleet(lab, playbook):
    extra = ("-e", "containers_per_host=2")
    # two hosts first, then the whole fleet: hosts keep their subnets when the inventory changes
    playbook("playbooks/fleet.yml", "-l", "host2,host3", *extra)
    early = {h: bridge_subnet(lab, h) for h in ("host2", "host3")}
    assert early == {"host2": "10.244.0.0/24", "host3": "10.244.1.0/24"}
    checked = playbook("playbooks/fleet.yml", "--check", *extra)
    assert checked.hosts["host1"]["changed"] > 0 and "br-fleet" not in lab.exec("host1", "ip", "-br", "link").stdout
    playbook("playbooks/fleet.yml", *extra)
    subnets = {h: bridge_subnet(lab, h) for h in HOSTS}
    assert subnets == dict(early, host1="10.244.2.0/24")

    addresses = lab.state()["hosts"]
    for host in HOSTS:
        routes = {r["dst"]: r.get("gateway") for r in json.loads(lab.exec(host, "ip", "-j", "route", check=True).stdout)}
        for other in HOSTS:
            if other != host:
                assert routes[subnets[other]] == addresses[other]["address"], f"{host} routes {other}'s subnet via it"

    containers = [(h, c, address_of(lab, h, c)) for h in HOSTS for c in ("app1", "app2")]
    unreachable = [(h, c, ip) for h, c, _own in containers for h2, c2, ip in containers
                   if (h, c) != (h2, c2) and not ping(lab, h, c, ip)]
    assert not unreachable, f"ping matrix: {unreachable}"

    target = address_of(lab, "host2", "app1")
    server = echo_server(lab, "host2", "app1", target, 7100)
    try:
        assert source_seen(lab, "host1", "app1", target, 7100) == address_of(lab, "host1", "app1"), "no NAT in the cluster"
    finally:
        server.wait(timeout=10)
    upstream = addresses["upstream"]["address"]
    assert source_seen(lab, "host1", "app1", upstream, 7007) == addresses["host1"]["address"], "NAT out of the cluster"

    assert playbook("playbooks/fleet.yml", *extra).changed == 0
    assert playbook("playbooks/fleet.yml", "--check", *extra).changed == 0

    playbook("playbooks/teardown.yml", *extra)
    for host in HOSTS:
        assert lab.exec(host, "ip", "netns", "list").stdout.strip() == ""
        assert "br-fleet" not in lab.exec(host, "ip", "-br", "link").stdout
        assert "10.244." not in lab.exec(host, "ip", "route").stdout
        assert "linuxns" not in lab.exec(host, "nft", "list", "ruleset").stdout
