"""Address planning of the roles, without Ansible or the kernel."""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput
from ansible_collections.linuxns.net.plugins.module_utils._addressing import host_end_name, network_layout
from ansible_collections.linuxns.net.plugins.module_utils._network_spec import normalize_network
from ansible_collections.linuxns.net.plugins.module_utils._fleet import fleet_routes, fleet_subnet_layout
from ansible_collections.linuxns.net.plugins.module_utils._fleet_member import bridge_subnet, underlay_address6


def eth0(**addresses):
    """What the kernel shows: container -> the addresses on its eth0."""
    return {name: [addr] for name, addr in addresses.items()}


def layout(containers, network, bridge, subnet, gateway=None, current=None, subnet6=None, gateway6=None):
    """The layout of a network given as the module's options (the specs are made at the edge, as the module does)."""
    return network_layout(normalize_network({"name": network, "bridge": bridge, "subnet": subnet, "gateway": gateway,
                                             "subnet6": subnet6, "gateway6": gateway6, "containers": containers}),
                          current)


def texts(addresses):
    return {name: str(ip) for name, ip in addresses.items()}


def test_new_containers_get_the_lowest_free_addresses_after_the_gateway():
    plan = layout(["c1", "c2"], "lab", "br0", "10.100.0.0/24")
    four = plan.family(4)
    assert str(four.gateway_interface) == "10.100.0.1/24"
    assert texts(four.addresses) == {"c1": "10.100.0.2", "c2": "10.100.0.3"}
    pair = plan.pairs[0]
    assert (pair.master, pair.peer, pair.name, pair.namespace, pair.peer_namespace, pair.hairpin) == (
        "br0", "eth0", host_end_name("br0", "c1"), None, "c1", None)
    assert [str(a) for a in pair.peer_addresses] == ["10.100.0.2/24"] and pair.addresses is None
    assert [(r.namespace, str(r.dest), str(r.gateway), r.dev, r.state) for r in plan.routes] == [
        ("c1", "0.0.0.0/0", "10.100.0.1", "eth0", "present"), ("c2", "0.0.0.0/0", "10.100.0.1", "eth0", "present")]


def test_containers_keep_the_addresses_the_kernel_shows():
    plan = layout(["new", "c1", "c2"], "lab", "br0", "10.100.0.0/24", current=eth0(c1="10.100.0.7/24", c2="10.100.0.2/24"))
    assert texts(plan.family(4).addresses) == {"c1": "10.100.0.7", "c2": "10.100.0.2", "new": "10.100.0.3"}


def test_an_address_outside_the_subnet_is_not_kept():
    plan = layout(["c1"], "lab", "br0", "10.100.0.0/24", current=eth0(c1="10.9.0.5/24"))
    assert texts(plan.family(4).addresses) == {"c1": "10.100.0.2"}


def test_fixed_addresses_win_and_others_move_out_of_their_way():
    plan = layout(["c1", {"name": "c2", "address": "10.100.0.7"}], "lab", "br0", "10.100.0.0/24",
                  current=eth0(c1="10.100.0.7/24"))
    assert texts(plan.family(4).addresses) == {"c2": "10.100.0.7", "c1": "10.100.0.2"}


def test_gateway_can_be_chosen():
    plan = layout(["c1"], "lab", "br0", "10.100.0.0/24", gateway="10.100.0.254")
    four = plan.family(4)
    assert str(four.gateway_interface) == "10.100.0.254/24" and texts(four.addresses) == {"c1": "10.100.0.1"}


@pytest.mark.parametrize("containers, kwargs, message", [
    (["c1", "c1"], {}, "'c1' is listed more than once"),
    ([{"name": "c1", "address": "10.9.0.2"}], {}, "outside subnet 10.100.0.0/24"),
    ([{"name": "c1", "address": "10.100.0.1"}], {}, "already the gateway"),
    ([{"name": "a", "address": "10.100.0.5"}, {"name": "b", "address": "10.100.0.5"}], {}, "already container 'a'"),
    ([{"name": "a", "address": "10.100.0.255"}], {}, "broadcast"),
    (["a", "b", "c"], {"subnet": "10.100.0.0/30"}, "is full: no address left for container 'b'"),
    (["a"], {"subnet": "10.100.0.0/31"}, "too small"),
    (["a"], {"gateway": "10.9.0.1"}, "gateway 10.9.0.1 is not a host address"),
    (["../x"], {}, "must start with a letter or digit"),
    (["-x"], {}, "must start with a letter or digit"),
    (["a b"], {}, "only letters, digits"),
    (['[{"name":"a"'], {}, "pass them as JSON"),
    (["x" * 64], {}, "at most 63"),
    ([{"name": "a", "colour": "red"}], {}, "unknown keys"),
    ([{"address": "10.100.0.9"}], {}, "needs a name"),
    (["a"], {"subnet": "10.100.0.1/24"}, "host bits set"),
])
def test_bad_networks_fail_with_the_reason(containers, kwargs, message):
    args = {"subnet": "10.100.0.0/24", **kwargs}
    with pytest.raises(InvalidInput, match=message) as err:
        layout(containers, "lab", "br0", **args)
    assert "network 'lab'" in str(err.value) or "subnet" in str(err.value)


def test_host_end_names_are_stable_short_and_distinct():
    names = {host_end_name("br0", f"c{i}") for i in range(1000)}
    assert len(names) == 1000 and all(len(n) <= 15 for n in names)
    assert host_end_name("br0", "c1") == host_end_name("br0", "c1") != host_end_name("br1", "c1")


def test_fleet_hosts_keep_their_subnets_across_inventory_changes():
    first = fleet_subnet_layout("10.244.0.0/16", 24, ["h1", "h2", "h3"])
    assert first == {"h1": "10.244.0.0/24", "h2": "10.244.1.0/24", "h3": "10.244.2.0/24"}
    # h2 leaves, h0 joins in front: h1 and h3 keep theirs, h0 takes the lowest free one
    later = fleet_subnet_layout("10.244.0.0/16", 24, ["h0", "h1", "h3"], current={"h1": first["h1"], "h3": first["h3"]})
    assert later == {"h1": "10.244.0.0/24", "h3": "10.244.2.0/24", "h0": "10.244.1.0/24"}


def test_fleet_fixed_subnets_and_foreign_current_ones():
    out = fleet_subnet_layout("10.244.0.0/16", 24, ["h1", "h2"], fixed={"h2": "10.244.0.0/24"},
                              current={"h1": "10.244.0.0/24"})
    assert out == {"h2": "10.244.0.0/24", "h1": "10.244.1.0/24"}
    assert fleet_subnet_layout("10.244.0.0/16", 24, ["h1"], current={"h1": "192.168.5.0/24"}) == {"h1": "10.244.0.0/24"}


@pytest.mark.parametrize("kwargs, message", [
    ({"hosts": ["a", "b", "c"], "cluster_cidr": "10.244.0.0/23"}, "is full: no /24 left for host 'c'"),
    ({"fixed": {"a": "10.244.0.0/24", "b": "10.244.0.0/24"}}, "overlaps 10.244.0.0/24 of host 'a'"),
    ({"fixed": {"a": "10.9.0.0/24"}}, "is not a /24 inside 10.244.0.0/16"),
    ({"fixed": {"zz": "10.244.0.0/24"}}, "not in the fleet"),
    ({"host_prefix": 8}, "does not fit"),
])
def test_fleet_bad_layouts(kwargs, message):
    args = {"cluster_cidr": "10.244.0.0/16", "host_prefix": 24, "hosts": ["a", "b"], **kwargs}
    with pytest.raises(InvalidInput, match=message):
        fleet_subnet_layout(**args)


def test_fleet_routes_and_bridge_subnet():
    subnets = {"h1": "10.244.0.0/24", "h2": "10.244.1.0/24", "h3": "10.244.2.0/24"}
    addresses = {"h1": "198.51.100.11", "h2": "198.51.100.12", "h3": "198.51.100.13"}
    assert fleet_routes(subnets, addresses, "h1") == [
        {"dest": "10.244.1.0/24", "gateway": "198.51.100.12", "state": "present"},
        {"dest": "10.244.2.0/24", "gateway": "198.51.100.13", "state": "present"}]
    with pytest.raises(InvalidInput, match="no IPv4 underlay address"):
        fleet_routes(subnets, {"h1": "x"}, "h1")
    host = {"host": {"links": [{"name": "br-fleet", "addresses": ["fe80::1/64", "10.244.3.1/24"]}]}}
    assert bridge_subnet(host, "br-fleet") == "10.244.3.0/24" and bridge_subnet(host, "br0") == ""
    assert bridge_subnet(host, "br-fleet", 6) == ""


def test_fleet_routes_and_addresses_of_both_families():
    subnets6 = {"h1": "fd42::/64", "h2": "fd42:0:0:1::/64"}
    addresses6 = {"h1": "2001:db8:100::11", "h2": "2001:db8:100::12"}
    assert fleet_routes({"h1": "10.244.0.0/24", "h2": "10.244.1.0/24"}, {"h1": "198.51.100.11", "h2": "198.51.100.12"},
                        "h1", "present", subnets6, addresses6) == [
        {"dest": "10.244.1.0/24", "gateway": "198.51.100.12", "state": "present"},
        {"dest": "fd42:0:0:1::/64", "gateway": "2001:db8:100::12", "state": "present"}]
    assert fleet_routes({}, {}, "h2", "absent", subnets6, addresses6) == [
        {"dest": "fd42::/64", "gateway": "2001:db8:100::11", "state": "absent"}]
    with pytest.raises(InvalidInput, match=r"no IPv6 underlay address for hosts \['h2'\]: set fleet_network_address6"):
        fleet_routes({}, {}, "h1", "present", subnets6, {"h1": "2001:db8:100::11"})
    with pytest.raises(InvalidInput, match="IPv6 underlay address of host 'h2' is 198.51.100.12, an IPv4 address"):
        fleet_routes({}, {}, "h1", "present", subnets6, {"h2": "198.51.100.12"})
    host = {"host": {"links": [
        {"name": "eth0", "addresses": ["198.51.100.11/24", "2001:db8:100::11/64", "fe80::1/64"]},
        {"name": "br-fleet", "addresses": ["10.244.3.1/24", "fd42:0:0:3::1/64", "fe80::2/64"]}]}}
    assert bridge_subnet(host, "br-fleet", 6) == "fd42:0:0:3::/64"
    assert underlay_address6(host, "198.51.100.11") == "2001:db8:100::11"
    assert underlay_address6(host, "2001:db8:7::1") == "2001:db8:7::1"
    assert underlay_address6(host, "198.51.100.99") == "" and underlay_address6(host, "host1.example") == ""
    assert underlay_address6({"host": {"links": [{"name": "eth0", "addresses": ["198.51.100.11/24", "fe80::1/64"]}]}},
                             "198.51.100.11") == ""
    v6 = fleet_subnet_layout("fd42::/48", 64, ["h1", "h2", "h3"], current={"h2": "fd42:0:0:5::/64"})
    assert v6 == {"h2": "fd42:0:0:5::/64", "h1": "fd42::/64", "h3": "fd42:0:0:1::/64"}


def test_ipv6_addresses_follow_the_same_rules():
    plan = layout(["a", {"name": "b", "address6": "fd42::99"}, "c"], "six", "br6", None,
                  subnet6="fd42::/64", current={"c": ["fd42::7/64", "fe80::1/64"]})
    assert plan.family(4) is None and str(plan.family(6).gateway) == "fd42::1"
    assert texts(plan.family(6).addresses) == {"a": "fd42::2", "b": "fd42::99", "c": "fd42::7"}
    assert [str(a) for a in plan.pairs[0].peer_addresses] == ["fd42::2/64"]
    route = plan.routes[0]
    assert (route.namespace, str(route.dest), str(route.gateway), route.dev) == ("a", "::/0", "fd42::1", "eth0")


def test_dual_stack_layout_has_both_families():
    plan = layout(["a"], "dual", "br0", "10.7.0.0/24", subnet6="fd42:7::/64", gateway6="fd42:7::fe")
    assert [str(g) for g in plan.gateway_interfaces] == ["10.7.0.1/24", "fd42:7::fe/64"]
    assert [str(a) for a in plan.pairs[0].peer_addresses] == ["10.7.0.2/24", "fd42:7::1/64"]
    assert [str(r.gateway) for r in plan.routes] == ["10.7.0.1", "fd42:7::fe"]


def test_ip_range_and_reserved_shape_the_automatic_addresses():
    net = normalize_network({"name": "n", "subnet": "10.9.0.0/24", "ip_range": "10.9.0.64/30",
                             "reserved": ["10.9.0.64", "10.9.0.66"],
                             "containers": [{"name": "a"}, {"name": "b"}, {"name": "c", "address": "10.9.0.5"}]})
    four = network_layout(net, {"b": ["10.9.0.200/24"]}).families[4].addresses
    assert four == {"a": ipaddress.ip_address("10.9.0.65"), "b": ipaddress.ip_address("10.9.0.200"),
                    "c": ipaddress.ip_address("10.9.0.5")}, "b keeps what it has; c is fixed outside the range"
    moved = normalize_network({"name": "n", "subnet": "10.9.0.0/24", "ip_range": "10.9.0.64/30",
                               "reserved": ["10.9.0.64", "10.9.0.66", "10.9.0.200"], "containers": [{"name": "b"}]})
    assert network_layout(moved, {"b": ["10.9.0.200/24"]}).families[4].addresses["b"] == ipaddress.ip_address("10.9.0.65")


def test_aliases_go_into_the_hosts_block_beside_the_name():
    from ansible_collections.linuxns.net.plugins.module_utils._hosts import entries
    lines = entries({"a": "10.9.0.2", "b": "10.9.0.3"}, {"a": ("web", "www.n")})
    assert lines == ["10.9.0.2\ta web www.n", "10.9.0.3\tb"]
    net = normalize_network({"name": "n", "subnet": "10.9.0.0/24", "containers": [{"name": "a", "aliases": ["a", "web"]}]})
    assert net.containers[0].aliases == ("web",), "its own name is no alias"
