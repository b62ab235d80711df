"""The controller/node contract: netns_info results read as typed views, wrong shapes and unknown keys refused by
name."""

from __future__ import annotations

import pytest

from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput
from ansible_collections.linuxns.net.plugins.module_utils._fleet import fleet_layout
from ansible_collections.linuxns.net.plugins.module_utils._fleet_member import fleet_member
from ansible_collections.linuxns.net.plugins.module_utils._info_views import InfoView
from ansible_collections.linuxns.net.plugins.module_utils._container_items import container_items
from ansible_collections.linuxns.net.plugins.module_utils._topology import verify_probes

RESULT = {"host": {
    "links": [{"name": "lo", "kind": "loopback", "addresses": ["127.0.0.1/8"]},
              {"name": "ens3", "kind": "device", "mtu": 9000, "addresses": ["198.51.100.11/24", "fe80::1/64"]},
              {"name": "br-web", "kind": "bridge", "group": 27758, "addresses": ["10.1.0.1/24"]},
              {"name": "veth1", "kind": "veth", "master": "br-web", "peer": {"name": "eth0", "namespace": "c1"}}],
    "routes": [{"dest": "default", "gateway": "198.51.100.1", "dev": "ens3"},
               {"dest": "10.1.1.0/24", "gateway": "198.51.100.12", "dev": "ens3"}],
    "masquerade": ["10.1.0.0/24"]},
    "namespaces": {"c1": {"links": [{"name": "eth0", "kind": "veth", "addresses": ["10.1.0.2/24"]}], "routes": []}}}


def test_a_result_reads_as_typed_views():
    view = InfoView.parse(RESULT, "host 'h1'")
    assert view.host.underlay.name == "ens3", "the link of the default route, whatever its name"
    assert view.host.underlay.managed_addresses == ["198.51.100.11/24"]
    assert [r.dest for r in view.host.gateway_routes] == ["10.1.1.0/24"]
    assert view.host.masquerade == ["10.1.0.0/24"]
    veth = view.host.links_of("veth")[0]
    assert (veth.master, veth.peer_name, veth.peer_namespace) == ("br-web", "eth0", "c1")
    assert view.namespaces["c1"].container_end.addresses == ("10.1.0.2/24",)
    assert InfoView.parse(None, "x").host is None


def test_without_a_default_route_the_underlay_is_the_link_with_a_global_address():
    result = {"host": {"links": RESULT["host"]["links"], "routes": []}}
    assert InfoView.parse(result, "h1").host.underlay.name == "ens3"


@pytest.mark.parametrize("result, message", [
    ("text", "host 'h1': a netns_info result must be a dict"),
    ({"host": ["links"]}, "host 'h1': host view: must be a dict"),
    ({"host": {"links": [{"kind": "veth"}]}}, "host 'h1': host view: a link or route lacks 'name'"),
    ({"host": {"routes": [{"gateway": "10.0.0.1"}]}}, "lacks 'dest'"),
    ({"namespaces": {"c1": {"policy": ["in"]}}}, "namespace 'c1': policy must be a dict of ingress and egress"),
    ({"namespaces": {"c1": {"policy": {"ingress": [{"peer": "10.0.0.0/8"}]}}}},
     "namespace 'c1': an ingress policy entry is not one netns_info writes"),
    ({"namespaces": {"c1": {"policy": {"egress": [{"peer": "x", "protocol": "tcp", "ports": "80"}]}}}},
     "an egress policy entry"),
])
def test_a_result_of_the_wrong_shape_is_refused_naming_the_host(result, message):
    with pytest.raises(InvalidInput, match=message):
        InfoView.parse(result, "host 'h1'")


def test_the_fleet_member_reads_the_views():
    member = fleet_member(RESULT, "br-web", "198.51.100.11")
    assert member["subnet"] == "10.1.0.0/24" and member["mtu"] == 9000 and member["underlay"] == ["198.51.100.0/24"]
    assert member["routes"] == [{"dest": "10.1.1.0/24", "gateway": "198.51.100.12", "dev": "ens3"}]


def test_unknown_keys_are_refused_by_name():
    member = fleet_member(RESULT, "br-web", "198.51.100.11")
    with pytest.raises(InvalidInput, match=r"unknown options \['cdir'\]"):
        fleet_layout({"h1": member}, {"cdir": "10.244.0.0/16"})
    with pytest.raises(InvalidInput, match=r"host 'h1': its member has unknown keys \['colour'\]"):
        fleet_layout({"h1": dict(member, colour="red")}, {"cidr": "10.244.0.0/16"})
    with pytest.raises(InvalidInput, match=r"container 'c1': unknown keys \['ip'\]"):
        container_items([{"name": "c1", "ip": "10.1.0.9"}])
    with pytest.raises(InvalidInput, match=r"outside target .* unknown keys \['host'\]"):
        verify_probes({"h1": RESULT}, "h1", [{"host": "198.51.100.254"}])
