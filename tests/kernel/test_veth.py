"""linuxns.net.veth against the real kernel: seed 002/004 flows, drift, conflicts, bad input, rollback."""

from __future__ import annotations

import pytest

from support import addresses, links, namespaces, ping, run_module, sh


def pair(red, blue, **extra):
    return dict({"name": "veth-red", "namespace": red, "peer": "veth-blue", "peer_namespace": blue,
                 "addresses": ["10.0.0.1/24"], "peer_addresses": ["10.0.0.2/24"]}, **extra)


def test_two_namespaces_on_one_cable(netns):
    red, blue = netns("red"), netns("blue")
    predicted = run_module("veth", pair(red, blue), check_mode=True)
    assert predicted["changed"] and "veth-red" not in links(red)

    made = run_module("veth", pair(red, blue), diff=True)
    assert made["changes"] == predicted["changes"]
    assert made["diff"]["before"] == {f"{red}/veth-red": None}
    red_end, blue_end = links(red)["veth-red"], links(blue)["veth-blue"]
    assert red_end["linkinfo"]["info_kind"] == "veth" and red_end["link_netnsid"] is not None
    assert blue_end["ifindex"] == red_end["link_index"] and "UP" in blue_end["flags"]
    assert addresses(red, "veth-red") == ["10.0.0.1/24"] and addresses(blue, "veth-blue") == ["10.0.0.2/24"]
    assert ping(red, "10.0.0.2") and ping(blue, "10.0.0.1")

    assert not run_module("veth", pair(red, blue))["changed"]
    assert not run_module("veth", pair(red, blue), check_mode=True)["changed"]

    removed = run_module("veth", {"name": "veth-red", "namespace": red, "state": "absent"})
    assert removed["changed"] and "veth-red" not in links(red) and "veth-blue" not in links(blue)


def test_seed_002_namespace_wired_to_its_host_side(netns):
    host, container = netns("host"), netns("ctr")
    result = run_module("veth", {"name": "veth-host", "addresses": ["10.200.0.1/24"], "peer": "veth-cont",
                                 "peer_namespace": container, "peer_addresses": ["10.200.0.2/24"]}, netns=host)
    assert result["changed"]
    assert "veth-host" in links(host) and "veth-cont" in links(container)
    assert ping(container, "10.200.0.1") and ping(host, "10.200.0.2")


def test_drift_is_repaired_and_reported(netns):
    red, blue = netns("red"), netns("blue")
    run_module("veth", pair(red, blue, mtu=1400))
    sh("ip", "-n", red, "addr", "flush", "dev", "veth-red")
    sh("ip", "-n", red, "addr", "add", "10.9.9.9/24", "dev", "veth-red")
    sh("ip", "-n", blue, "link", "set", "veth-blue", "mtu", "1300", "down")
    fixed = run_module("veth", pair(red, blue, mtu=1400), diff=True)
    assert sorted(fixed["changes"]) == sorted([
        f"add address 10.0.0.1/24 to veth 'veth-red' in namespace '{red}'",
        f"remove address 10.9.9.9/24 from veth 'veth-red' in namespace '{red}'",
        f"set veth peer 'veth-blue' in namespace '{blue}': mtu=1400",
        f"set veth peer 'veth-blue' in namespace '{blue}' up"])
    assert addresses(red, "veth-red") == ["10.0.0.1/24"]
    assert links(blue)["veth-blue"]["mtu"] == 1400 and ping(red, "10.0.0.2")
    assert not run_module("veth", pair(red, blue, mtu=1400))["changed"]


def test_macs_and_mtu_on_both_ends(netns):
    red, blue = netns("red"), netns("blue")
    run_module("veth", pair(red, blue, mtu=9000, mac="02:00:00:00:00:0a", peer_mac="02:00:00:00:00:0b"))
    assert links(red)["veth-red"]["address"] == "02:00:00:00:00:0a"
    assert links(blue)["veth-blue"]["address"] == "02:00:00:00:00:0b"
    assert links(red)["veth-red"]["mtu"] == links(blue)["veth-blue"]["mtu"] == 9000


def test_name_taken_by_another_kind_fails_unless_recreate(netns):
    red, blue = netns("red"), netns("blue")
    sh("ip", "-n", red, "link", "add", "veth-red", "type", "bridge")
    failed = run_module("veth", pair(red, blue))
    assert failed["failed"] and "taken by a bridge" in failed["msg"] and red in failed["msg"]
    assert links(red)["veth-red"]["linkinfo"]["info_kind"] == "bridge" and "veth-blue" not in links(blue)
    replaced = run_module("veth", pair(red, blue, recreate=True))
    assert replaced["changed"] and links(red)["veth-red"]["linkinfo"]["info_kind"] == "veth"


def test_veth_whose_peer_is_another_device_fails_unless_recreate(netns):
    red, blue = netns("red"), netns("blue")
    sh("ip", "-n", red, "link", "add", "veth-red", "type", "veth", "peer", "name", "other", "netns", blue)
    failed = run_module("veth", pair(red, blue))
    assert failed["failed"] and "has its peer 'other'" in failed["msg"]
    assert run_module("veth", pair(red, blue, recreate=True))["changed"]
    assert "other" not in links(blue) and links(blue)["veth-blue"]["ifindex"] == links(red)["veth-red"]["link_index"]


@pytest.mark.parametrize("change, message", [
    ({"name": "a-very-long-name-x"}, "18 characters, the kernel allows at most 15"),
    ({"peer": "eth0:1"}, "contains ':'"),
    ({"name": "bad name"}, "contains ' '"),
    ({"addresses": ["10.0.0.1"]}, "has no prefix length"),
    ({"peer_addresses": ["10.0.0.256/24"]}, "not a valid address"),
    ({"mtu": 20}, "mtu 20 must be an integer from 68"),
    ({"mac": "01:00:5e:00:00:01"}, "multicast"),
    ({"master": "nosuchbr"}, "master 'nosuchbr' does not exist"),
    ({"namespace": "../../etc"}, "must not contain '/'"),
])
def test_bad_input_fails_clearly_and_changes_nothing(netns, change, message):
    red, blue = netns("red"), netns("blue")
    before = (links(red), links(blue))
    result = run_module("veth", pair(red, blue, **change))
    assert result["failed"] and message in result["msg"], result["msg"]
    assert (links(red), links(blue)) == before


def test_master_that_is_not_a_bridge(netns):
    red, blue = netns("red"), netns("blue")
    sh("ip", "-n", red, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
    result = run_module("veth", pair(red, blue, master="v0"))
    assert result["failed"] and "master 'v0'" in result["msg"] and "is a veth, not a bridge" in result["msg"]


def test_missing_namespace_fails_but_check_mode_predicts(nsname, netns):
    missing, blue = nsname("missing"), netns("blue")
    failed = run_module("veth", pair(missing, blue))
    assert failed["failed"] and f"namespace '{missing}' does not exist" in failed["msg"]
    predicted = run_module("veth", pair(missing, blue), check_mode=True)
    assert not predicted.get("failed") and predicted["changed"]
    assert missing not in namespaces()


def test_batch_failing_part_way_leaves_nothing_behind(netns):
    host, c1, c2 = netns("host"), netns("c1"), netns("c2")
    for key in ("all", "default"):  # c2 has IPv6 off: its interfaces refuse IPv6 addresses
        sh("sysctl", "-qw", f"net.ipv6.conf.{key}.disable_ipv6=1", netns=c2)
    pairs = [{"name": "v-c1", "peer": "eth0", "peer_namespace": c1, "peer_addresses": ["10.1.0.2/24"]},
             # passes validation, refused by the kernel: an IPv6 address where IPv6 is off
             {"name": "v-c2", "peer": "eth0", "peer_namespace": c2, "peer_addresses": ["fd42:1::2/64"]}]
    result = run_module("veth", {"namespace": host, "pairs": pairs})
    assert result["failed"] and f"'eth0' in namespace '{c2}'" in result["msg"] and "refused" in result["msg"]
    assert "v-c1" not in links(host) and "eth0" not in links(c1) and "eth0" not in links(c2)


def test_duplicate_pairs_in_a_batch_are_refused(netns):
    host, c1 = netns("host"), netns("c1")
    result = run_module("veth", {"namespace": host, "pairs": [
        {"name": "a", "peer": "eth0", "peer_namespace": c1}, {"name": "b", "peer": "eth0", "peer_namespace": c1}]})
    assert result["failed"] and "peer 'eth0'" in result["msg"] and "more than once" in result["msg"]


def test_check_mode_predicts_a_master_that_an_earlier_task_creates(netns):
    red, blue = netns("red"), netns("blue")
    predicted = run_module("veth", pair(red, blue, master="br0"), check_mode=True)
    assert predicted["changed"] and not predicted.get("failed")
    assert any("master 'br0' does not exist" in w for w in predicted["warnings"])
    assert "veth-red" not in links(red)
