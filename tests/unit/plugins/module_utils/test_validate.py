"""Input validation, without the kernel."""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.linuxns.net.plugins.module_utils import _validate as validate
from ansible_collections.linuxns.net.plugins.module_utils._bridge import normalize_bridge
from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput
from ansible_collections.linuxns.net.plugins.module_utils._firewall_backends import RuleTag
from ansible_collections.linuxns.net.plugins.module_utils._masquerade import normalize_rule
from ansible_collections.linuxns.net.plugins.module_utils._routes import normalize_route
from ansible_collections.linuxns.net.plugins.module_utils._veth import normalize_veth


@pytest.mark.parametrize("name, problem", [
    ("a" * 16, "16 characters"), ("a/b", "'/'"), ("a:b", "':'"), ("a b", "' '"), ("a\tb", "'\\t'"),
    (".", "'.' and '..'"), ("..", "'.' and '..'"), ("", "non-empty"),
])
def test_bad_interface_names_are_refused_with_the_reason(name, problem):
    with pytest.raises(InvalidInput) as err:
        validate.interface_name(name, "veth", "red")
    assert problem in str(err.value)
    assert "namespace 'red'" in str(err.value)


def test_fifteen_characters_is_the_longest_name():
    assert validate.interface_name("a" * 15) == "a" * 15


def test_names_are_measured_in_bytes_as_the_kernel_measures_them():
    fifteen_bytes = "br-" + "\u00e9" * 6
    assert validate.interface_name(fifteen_bytes) == fifteen_bytes
    with pytest.raises(InvalidInput, match="16 bytes in UTF-8 \\(10 characters\\)"):
        validate.interface_name("br-\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9a")


@pytest.mark.parametrize("subnet, what", [
    ("224.0.0.0/24", "is inside 224.0.0.0/4, multicast"), ("240.0.0.0/24", "reserved"), ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"), ("0.0.0.0/0", "covers 0.0.0.0/8"), ("0.0.0.0/4", "covers 0.0.0.0/8"),
    ("::ffff:0:0/96", "IPv4-mapped"), ("::/0", "covers ::/127"),
    ("fe80::/64", "link-local"), ("ff02::/64", "multicast"),
])
def test_subnets_that_cannot_hold_containers_are_refused(subnet, what):
    with pytest.raises(InvalidInput, match=what):
        validate.container_subnet(ipaddress.ip_network(subnet), "network 'n': subnet")


@pytest.mark.parametrize("subnet", ["10.88.0.0/24", "100.64.0.0/24", "172.16.0.0/12", "fd42:0:0:1::/64", "2001:db8::/64"])
def test_ordinary_subnets_pass(subnet):
    assert validate.container_subnet(ipaddress.ip_network(subnet), "subnet") == ipaddress.ip_network(subnet)


@pytest.mark.parametrize("name", ["../etc", "a/b", ".", "..", "/abs"])
def test_namespace_names_that_leave_run_netns_are_refused(name):
    with pytest.raises(InvalidInput, match="/run/netns"):
        validate.namespace_name(name)


@pytest.mark.parametrize("name", ["a b", "tab\there", "new\nline", "bell\x07"])
def test_namespace_names_that_break_ip_netns_list_are_refused(name):
    with pytest.raises(InvalidInput, match="whitespace and control characters"):
        validate.namespace_name(name)


@pytest.mark.parametrize("name", ["web-1", "db_2", "x.y", "UPPER", "0start", "é-ok"])
def test_namespace_names_stay_as_free_as_ip_netns(name):
    assert validate.namespace_name(name) == name


@pytest.mark.parametrize("name", ["c1", "web.1", "a_b-c", "9", "x" * 63])
def test_container_names_follow_dockers_rule(name):
    assert validate.container_name(name, "n") == name


@pytest.mark.parametrize("value, problem", [
    ("10.0.0.1", "no prefix length"), ("10.0.0.300/24", "not a valid address"), ("banana", "not a valid address"),
    ("10.0.0.1/33", "not a valid address"),
])
def test_bad_interface_addresses(value, problem):
    with pytest.raises(InvalidInput, match=problem):
        validate.interface_address(value, "veth 'x' addresses", "red")


def test_addresses_are_canonical():
    assert validate.interface_address("2001:DB8::1/64", "x").with_prefixlen == "2001:db8::1/64"


def test_network_with_host_bits_is_refused():
    with pytest.raises(InvalidInput, match="host bits set"):
        validate.network("10.0.0.1/24", "masquerade source")


@pytest.mark.parametrize("mac", ["01:00:5e:00:00:01", "zz:00:00:00:00:01", "02:00:00:00:00"])
def test_bad_mac_addresses(mac):
    with pytest.raises(InvalidInput):
        validate.mac_address(mac, "veth 'x'")


def test_veth_needs_a_peer_and_distinct_names():
    with pytest.raises(InvalidInput, match="'peer'"):
        normalize_veth({"name": "a", "namespace": "red"})
    with pytest.raises(InvalidInput, match="same name"):
        normalize_veth({"name": "a", "peer": "a"})
    assert normalize_veth({"name": "a", "peer": "a", "peer_namespace": "blue"}).peer == "a"


def test_veth_peer_namespace_defaults_to_namespace():
    assert normalize_veth({"name": "a", "peer": "b", "namespace": "red"}).peer_namespace == "red"


def test_bridge_cannot_be_its_own_port_and_purge_needs_ports():
    with pytest.raises(InvalidInput, match="its own port"):
        normalize_bridge({"name": "br0", "ports": ["br0"]})
    with pytest.raises(InvalidInput, match="purge_ports needs"):
        normalize_bridge({"name": "br0", "purge_ports": True})


@pytest.mark.parametrize("route, problem", [
    ({"dest": "default"}, "gateway, a dev"),
    ({"dest": "10.0.0.0/8", "gateway": "2001:db8::1"}, "IPv6, the destination is IPv4"),
    ({"dest": "10.0.0.1/8", "gateway": "10.0.0.1"}, "host bits"),
    ({"dest": "default", "gateway": "10.0.0.1", "table": "nope"}, "table"),
    ({"dest": "default", "gateway": "10.0.0.1", "metric": -1}, "metric"),
    ({"dest": "default", "gateway": "10.0.0.1", "onlink": True}, "onlink needs dev"),
    ({"dest": "", "gateway": "10.0.0.1"}, "'dest' is required"),
])
def test_bad_routes(route, problem):
    with pytest.raises(InvalidInput, match=problem):
        normalize_route(dict(route, namespace="red"))


def test_ipv6_default_route_takes_its_family_from_the_gateway():
    r = normalize_route({"dest": "default", "gateway": "2001:db8::1"})
    assert (str(r.dest), r.metric) == ("::/0", 1024)


@pytest.mark.parametrize("rule, problem", [
    ({}, "'source'"), ({"source": "10.0.0.0/33"}, "not a valid network"),
    ({"source": "10.0.0.0/24", "backend": "pf"}, "backend 'pf'"),
    ({"source": "10.0.0.0/24", "exclude_destinations": ["2001:db8::/32"]}, "IPv6, the source is IPv4"),
    ({"source": "10.0.0.0/24", "out_interface": "eth0", "exclude_out_interface": "eth0"}, "both"),
])
def test_bad_masquerade_rules(rule, problem):
    with pytest.raises(InvalidInput, match=problem):
        normalize_rule(rule)


def test_masquerade_tag_changes_with_the_spec_only():
    a = normalize_rule({"source": "10.0.0.0/24", "exclude_out_interface": "br0"})
    b = normalize_rule({"source": "10.0.0.0/24", "exclude_out_interface": "br0", "ip_forward": False})
    c = normalize_rule({"source": "10.0.0.0/24", "exclude_out_interface": "br1"})
    assert a.tag == b.tag != c.tag
    assert RuleTag.parse(str(a.tag)) == a.tag and a.tag.source == "10.0.0.0/24"
    assert RuleTag.parse("someone else's comment") is None and RuleTag.parse(None) is None
    assert str(a.tag).startswith("linuxns.net 10.0.0.0/24 ")
