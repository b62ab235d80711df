"""linuxns.net.bridge against the real kernel."""

from __future__ import annotations

import pytest

from ansible_collections.linuxns.net.plugins.module_utils._bridge import bridge_mac
from support import addresses, links, run_module, sh


def _ports(ns, *names):
    for name in names:
        sh("ip", "-n", ns, "link", "add", name, "type", "veth", "peer", "name", f"{name}p")


def test_bridge_with_gateway_and_ports(netns):
    ns = netns()
    _ports(ns, "pa", "pb")
    args = {"name": "br0", "namespace": ns, "addresses": ["10.100.0.1/24"], "ports": ["pa", "pb"], "mtu": 1450}
    predicted = run_module("bridge", args, check_mode=True, diff=True)
    assert predicted["changed"] and "br0" not in links(ns)
    made = run_module("bridge", args)
    assert made["changes"] == predicted["changes"]
    state = links(ns)
    assert state["br0"]["linkinfo"]["info_kind"] == "bridge" and "UP" in state["br0"]["flags"]
    assert state["br0"]["mtu"] == 1450
    assert state["pa"]["master"] == "br0" and state["pb"]["master"] == "br0"
    assert addresses(ns, "br0") == ["10.100.0.1/24"]
    assert not run_module("bridge", args)["changed"]
    assert not run_module("bridge", args, check_mode=True)["changed"]


def test_a_new_bridge_keeps_its_own_mac_when_ports_join(netns):
    """The kernel's default is the lowest port's MAC: a port joining with a lower one would change the gateway's MAC
    under running containers. A bridge made here has a stable MAC of its own."""
    ns = netns()
    assert not run_module("bridge", {"name": "br0", "namespace": ns}).get("failed")
    mac = links(ns)["br0"]["address"]
    assert mac == bridge_mac("br0") and mac.startswith("02:")
    sh("ip", "-n", ns, "link", "add", "low", "address", "00:00:00:00:00:01", "type", "veth", "peer", "name", "lowp")
    assert not run_module("bridge", {"name": "br0", "namespace": ns, "ports": ["low"]}).get("failed")
    assert links(ns)["br0"]["address"] == mac


def test_purge_ports_releases_unlisted_ports_only_when_asked(netns):
    ns = netns()
    _ports(ns, "pa", "pb")
    run_module("bridge", {"name": "br0", "namespace": ns, "ports": ["pa", "pb"]})
    kept = run_module("bridge", {"name": "br0", "namespace": ns, "ports": ["pa"]})
    assert not kept["changed"] and links(ns)["pb"].get("master") == "br0"
    purged = run_module("bridge", {"name": "br0", "namespace": ns, "ports": ["pa"], "purge_ports": True}, diff=True)
    assert purged["changes"] == [f"release port 'pb' from bridge 'br0' in namespace '{ns}'"]
    assert purged["diff"]["before"][f"{ns}/br0"]["ports"] == ["pa", "pb"]
    assert purged["diff"]["after"][f"{ns}/br0"]["ports"] == ["pa"]
    assert "master" not in links(ns)["pb"] and links(ns)["pa"]["master"] == "br0"


def test_stp_is_switched_and_read_back(netns):
    ns = netns()
    run_module("bridge", {"name": "br0", "namespace": ns, "stp": True})
    assert links(ns)["br0"]["linkinfo"]["info_data"]["stp_state"] == 1
    assert not run_module("bridge", {"name": "br0", "namespace": ns, "stp": True})["changed"]
    assert run_module("bridge", {"name": "br0", "namespace": ns, "stp": False})["changed"]
    assert links(ns)["br0"]["linkinfo"]["info_data"]["stp_state"] == 0


def test_vlan_filtering(netns):
    ns = netns()
    probe = sh("ip", "-n", ns, "link", "add", "probe", "type", "bridge", "vlan_filtering", "1", check=False)
    result = run_module("bridge", {"name": "br0", "namespace": ns, "vlan_filtering": True})
    if probe.returncode != 0:  # this kernel has no CONFIG_BRIDGE_VLAN_FILTERING: the module must say so
        assert result["failed"] and "vlan_filtering is not supported by this kernel" in result["msg"]
        assert "br0" not in links(ns)
    else:
        assert result["changed"] and links(ns)["br0"]["linkinfo"]["info_data"]["vlan_filtering"] == 1


@pytest.mark.parametrize("args, message", [
    ({"ports": ["nosuch"]}, "port 'nosuch' does not exist"),
    ({"ports": ["lo"]}, "port 'lo' is a loopback"),
    ({"addresses": ["10.0.0.1/40"]}, "not a valid address"),
    ({"name": "x" * 16}, "the kernel allows at most 15"),
    ({"ports": ["a", "a"]}, "more than once"),
])
def test_bad_input(netns, args, message):
    ns = netns()
    before = links(ns)
    result = run_module("bridge", dict({"name": "br0", "namespace": ns}, **args))
    assert result["failed"] and message in result["msg"], result["msg"]
    assert links(ns) == before


def test_name_taken_by_a_veth(netns):
    ns = netns()
    _ports(ns, "br0")
    result = run_module("bridge", {"name": "br0", "namespace": ns})
    assert result["failed"] and "taken by a veth" in result["msg"] and ns in result["msg"]


def test_absent_removes_the_bridge_and_keeps_its_ports(netns):
    ns = netns()
    _ports(ns, "pa")
    run_module("bridge", {"name": "br0", "namespace": ns, "ports": ["pa"]})
    assert run_module("bridge", {"name": "br0", "namespace": ns, "state": "absent"})["changed"]
    assert "br0" not in links(ns) and "pa" in links(ns)
    assert not run_module("bridge", {"name": "br0", "namespace": ns, "state": "absent"})["changed"]
