"""The compose_networks filter's core: a real-looking compose file mapped to the bridge_network role's variables,
and what it refuses."""

from __future__ import annotations

import pathlib

import pytest

from ansible_collections.linuxns.net.plugins.module_utils._compose import compose_networks
from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput
from ansible_collections.linuxns.net.plugins.module_utils._network_spec import normalize_network

SHOP = (pathlib.Path(__file__).parent / "files" / "docker-compose.yml").read_text()


def test_the_shop_maps_to_two_networks_as_docker_builds_them():
    back, front = compose_networks(SHOP, project="shop")
    assert front["bridge_network_name"] == "shop_front" and front["bridge_network_subnet"] == "10.90.0.0/24"
    assert front["bridge_network_subnet6"] is None and front["bridge_network_icc"] and not front["bridge_network_internal"]
    assert front["bridge_network_containers"] == [
        {"name": "shop-api", "interface": "eth0", "default_route": True, "aliases": ["api", "backend-api"],
         "sysctls": {"net.ipv4.ip_unprivileged_port_start": "0"}},
        {"name": "proxy", "interface": "eth0", "default_route": True,
         "ports": ["8080:80", "127.0.0.1:8443:443", {"target": 9000, "published": 9000, "protocol": "udp"}]}]
    assert back["bridge_network_name"] == "shop_back" and back["bridge_network_internal"]
    assert not back["bridge_network_icc"] and back["bridge_network_bridge"] == "br-shop-back"
    assert (back["bridge_network_subnet"], back["bridge_network_subnet6"]) == ("172.28.0.0/16", "fd42:28::/64")
    assert back["bridge_network_ip_range"] == "172.28.5.0/24" and back["bridge_network_reserved"] == ["172.28.1.5"]
    assert back["bridge_network_containers"] == [
        {"name": "shop-api", "interface": "eth1", "default_route": False, "aliases": ["api"], "address": "172.28.1.10"},
        {"name": "db", "interface": "eth0", "default_route": True, "aliases": ["database"], "mac": "02:42:ac:1c:01:05"}]
    # what container_network makes of them (the role's one call), addresses included
    for role in (front, back):
        net = normalize_network({"name": role["bridge_network_name"], "subnet": role["bridge_network_subnet"],
                                 "subnet6": role["bridge_network_subnet6"], "ip_range": role["bridge_network_ip_range"],
                                 "reserved": role["bridge_network_reserved"], "containers": role["bridge_network_containers"]})
        assert [c.name for c in net.containers] == [c["name"] for c in role["bridge_network_containers"]]


def test_a_service_without_networks_joins_default():
    (default,) = compose_networks({"services": {"web": {"image": "x", "ports": ["80:80"]}}})
    assert default["bridge_network_name"] == "app_default" and default["bridge_network_containers"][0]["name"] == "web"


@pytest.mark.parametrize("compose, message", [
    ("services: [unclosed", "the compose file is not YAML"),
    ("- a list", "is not a mapping"),
    ({"services": {"w": {"network_mode": "host"}}}, "compose service 'w': network_mode 'host' is not a bridge network"),
    ({"services": {"w": {"networks": ["n"]}}, "networks": {"n": {"driver": "macvlan"}}},
     "compose network 'n': driver 'macvlan' is not a bridge"),
    ({"services": {"w": {"networks": ["n"]}}, "networks": {"n": {"driver": "overlay"}}}, "driver 'overlay'"),
    ({"services": {"w": {"networks": ["n"]}}, "networks": {"n": {"external": True}}}, "compose network 'n' is external"),
    ({"services": {"w": {"networks": ["nope"]}}}, "network 'nope' is not declared"),
    ({"services": {"w": {"ports": ["80"]}}}, "compose service 'w': port '80' has no host port"),
    ({"services": {"w": {"ports": [{"target": 80}]}}}, "has no published (host) port"),
    ({"services": {"w": {"networks": ["n"]}}, "networks": {"n": {"enable_ipv6": True}}}, "enable_ipv6 needs an IPv6 subnet"),
    ({"services": {"w": {"networks": ["n"]}}, "networks": {"n": {"driver_opts": {"com.docker.network.bridge.host_binding_ipv4": "1.2.3.4"}}}},
     "driver_opts ['com.docker.network.bridge.host_binding_ipv4'] cannot be mapped"),
])
def test_what_cannot_be_mapped_is_refused_by_name(compose, message):
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]")):
        compose_networks(compose)
