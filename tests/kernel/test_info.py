"""linuxns.net.netns_info reports what the kernel holds."""

from __future__ import annotations

import os

from support import run_module, sh


def test_links_peers_routes_and_nat(netns):
    host, c1 = netns("host"), netns("c1")
    run_module("bridge", {"name": "br0", "namespace": host, "addresses": ["10.100.0.1/24"]})
    run_module("veth", {"name": "veth-c1-br", "namespace": host, "master": "br0", "peer": "eth0",
                        "peer_namespace": c1, "peer_addresses": ["10.100.0.2/24"]})
    run_module("netns_route", {"namespace": c1, "dest": "default", "gateway": "10.100.0.1"})
    run_module("masquerade", {"namespace": host, "source": "10.100.0.0/24", "exclude_out_interface": "br0"})

    info = run_module("netns_info", {"namespaces": [host, c1], "host": False})
    assert not info["changed"] and "host" not in info
    hlinks = {l["name"]: l for l in info["namespaces"][host]["links"]}
    clinks = {l["name"]: l for l in info["namespaces"][c1]["links"]}
    assert hlinks["br0"]["kind"] == "bridge" and hlinks["br0"]["addresses"] == ["10.100.0.1/24"]
    assert hlinks["br0"]["ports"] == ["veth-c1-br"] and hlinks["veth-c1-br"]["master"] == "br0"
    assert hlinks["veth-c1-br"]["peer"] == {"name": "eth0", "namespace": c1, "index": clinks["eth0"]["index"]}
    assert clinks["eth0"]["peer"]["name"] == "veth-c1-br" and clinks["eth0"]["peer"]["namespace"] == host
    assert {"dest": "default", "gateway": "10.100.0.1", "dev": "eth0"}.items() <= \
        next(r for r in info["namespaces"][c1]["routes"] if r["dest"] == "default").items()
    assert info["namespaces"][host]["ip_forward"] and not info["namespaces"][c1]["ip_forward"]
    assert any("masquerade" in rule for rule in info["namespaces"][host]["nat"])


def test_peer_in_the_module_namespace_is_reported_as_null(netns):
    host, c1 = netns("host"), netns("c1")
    run_module("veth", {"name": "v1", "peer": "eth0", "peer_namespace": c1}, netns=host)
    info = run_module("netns_info", {"namespaces": [c1], "nat": False}, netns=host)
    assert next(l for l in info["namespaces"][c1]["links"] if l["name"] == "eth0")["peer"]["namespace"] is None
    assert next(l for l in info["host"]["links"] if l["name"] == "v1")["peer"]["namespace"] == c1


def test_unknown_namespace_is_an_error(nsname):
    missing = nsname()
    result = run_module("netns_info", {"namespaces": [missing]})
    assert result["failed"] and f"namespace '{missing}' does not exist" in result["msg"]


def test_a_namespace_of_another_kind_in_run_netns_is_left_out(netns):
    """/run/netns may bind a UTS namespace (a lab host's, say): a full scan skips it and still names peers."""
    host, c1 = netns("host"), netns("c1")
    run_module("veth", {"name": "v1", "namespace": host, "peer": "eth0", "peer_namespace": c1})
    uts = f"/run/netns/{host}-uts"
    sh("touch", uts)
    sh("mount", "--bind", "/proc/self/ns/uts", uts)
    try:
        info = run_module("netns_info", {"host": False, "nat": False})
        assert not info.get("failed"), info.get("msg")
        assert f"{host}-uts" not in info["namespace_names"] and f"{host}-uts" not in info["namespaces"]
        assert next(l for l in info["namespaces"][c1]["links"] if l["name"] == "eth0")["peer"]["namespace"] == host
    finally:
        sh("umount", uts)
        os.unlink(uts)
