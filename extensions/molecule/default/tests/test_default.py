"""Verify the default scenario over SSH: links, addresses, routes, pings, isolation, masquerade."""

from conftest import ECHO_PORT, address, in_ns, ping, source_seen, upstream

NETWORKS = {"blue": ("10.20.0.1", ["blue1", "blue2"]), "green": ("10.30.0.1", ["green1", "green2"])}


def test_bridges_have_the_gateways(hosts):
    host = hosts["host1"]
    for name, (gateway, _containers) in NETWORKS.items():
        bridge = host.interface(f"br-{name}")
        assert bridge.exists and f"{gateway}" in bridge.addresses


def test_containers_have_eth0_addresses_and_default_routes(hosts):
    host = hosts["host1"]
    assert address(host, "blue1") == "10.20.0.2" and address(host, "blue2") == "10.20.0.3"
    assert address(host, "green1") == "10.30.0.2" and address(host, "green2") == "10.30.0.100"
    for name, (gateway, containers) in NETWORKS.items():
        for ns in containers:
            assert f"default via {gateway} dev eth0" in in_ns(host, ns, "ip route").stdout


def test_ping_matrix_within_networks_and_isolation_between(hosts):
    host = hosts["host1"]
    everyone = {ns: (net, address(host, ns)) for net, (_gw, cs) in NETWORKS.items() for ns in cs}
    for src, (src_net, _ip) in everyone.items():
        for dst, (dst_net, ip) in everyone.items():
            if src != dst:
                assert ping(host, src, ip) == (src_net == dst_net), f"{src} -> {dst}"


def test_upstream_traffic_is_masqueraded(hosts):
    host = hosts["host1"]
    underlay = host.ansible.get_variables()["ansible_host"]
    for ns in ("blue1", "green2"):
        assert source_seen(host, ns, upstream(host), ECHO_PORT) == underlay
