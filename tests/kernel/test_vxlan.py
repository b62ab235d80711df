"""linuxns.net.vxlan against real namespaces: two hosts on different subnets joined by a router, so that only the
overlay connects their container subnets. Entries and routes are read back with bridge/ip, traffic crosses with
the DF bit at the computed MTU, and the router proves that the underlay carried only VXLAN between the hosts."""

from __future__ import annotations

import json

import pytest

from ansible_collections.linuxns.net.plugins.module_utils._vxlan import vtep_mac
from support import ip_json, run_module, sh

VNI = 4242
UNDERLAY = {"h1": ("198.18.110.2", "2001:db8:110::2"), "h2": ("198.18.111.2", "2001:db8:111::2")}
SUBNETS = {"h1": ("10.244.1.0/24", "fd42:0:0:1::/64"), "h2": ("10.244.2.0/24", "fd42:0:0:2::/64")}


def vtep(host):
    """A host's VTEP overlay addresses, flannel's way: its subnets' network addresses."""
    return [SUBNETS[host][0].split("/")[0], SUBNETS[host][1].split("/")[0]]


@pytest.fixture
def routed(netns, nsname):
    """h1 -- router -- h2 on 198.18.110.0/24 and 198.18.111.0/24 (and 2001:db8:110::/64, 2001:db8:111::/64), each
    host with a dual-stack container network; the router counts what it forwards between the hosts."""
    router = netns("router")
    hosts = {"h1": netns("h1"), "h2": netns("h2")}
    for i, (label, ns) in enumerate(hosts.items()):
        v4, v6 = UNDERLAY[label]
        sh("ip", "-n", router, "link", "add", f"to-{label}", "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("ip", "-n", router, "addr", "add", f"198.18.11{i}.1/24", "dev", f"to-{label}")
        sh("ip", "-n", router, "addr", "add", f"2001:db8:11{i}::1/64", "dev", f"to-{label}", "nodad")
        sh("ip", "-n", ns, "addr", "add", f"{v4}/24", "dev", "eth0")
        sh("ip", "-n", ns, "addr", "add", f"{v6}/64", "dev", "eth0", "nodad")
        for end, dev in ((router, f"to-{label}"), (ns, "eth0")):
            sh("sysctl", "-qw", f"net.ipv6.conf.{dev}.accept_dad=0", netns=end)
            sh("ip", "-n", end, "link", "set", dev, "up")
        sh("ip", "-n", ns, "route", "add", "198.18.0.0/15", "via", f"198.18.11{i}.1")
        sh("ip", "-n", ns, "-6", "route", "add", "2001:db8::/32", "via", f"2001:db8:11{i}::1")
    sh("sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1", netns=router)
    # what the router forwards between the hosts: VXLAN (UDP to port VNI's 4789), or anything else
    sh("nft", "-f", "-", netns=router, input="""
table inet count {
  chain forward {
    type filter hook forward priority 0;
    udp dport 4789 counter name vxlan accept
    counter name other
  }
  counter vxlan {}
  counter other {}
}
""")
    containers = {}
    for label, ns in hosts.items():
        c = nsname(f"c{label}")
        spec = {"name": "ov", "bridge": "br-ov", "subnet": SUBNETS[label][0], "subnet6": SUBNETS[label][1],
                "mtu": 1450, "masquerade_exclude": ["10.244.0.0/16", "fd42::/48"],
                "direct_access_from": ["10.244.0.0/16", "fd42::/48"], "containers": [{"name": c}]}
        made = run_module("container_network", spec, netns=ns)
        assert not made.get("failed"), made.get("msg")
        containers[label] = (c, made["addresses"][c], made["addresses6"][c])
    sh("ping", "-c", "1", "-W", "2", "-q", UNDERLAY["h2"][0], netns=hosts["h1"])  # a settled underlay
    sh("ping", "-6", "-c", "1", "-W", "2", "-q", UNDERLAY["h2"][1], netns=hosts["h1"])
    yield router, hosts, containers
    for label, (c, _a, _a6) in containers.items():
        gone = {"name": "ov", "bridge": "br-ov", "state": "absent", "containers": [{"name": c}]}
        run_module("container_network", gone, netns=hosts[label])


def overlay(me, other, family=4, **extra):
    index = 0 if family == 4 else 1
    return dict({"name": "vx-ov", "vni": VNI, "local": UNDERLAY[me][index],
                 "addresses": [f"{vtep(me)[0]}/32", f"{vtep(me)[1]}/128"],
                 "peers": [{"address": UNDERLAY[other][index], "vtep_addresses": vtep(other), "subnets": list(SUBNETS[other])}]},
                **extra)


def counters(router):
    out = json.loads(sh("nft", "-j", "list", "counters", netns=router).stdout)["nftables"]
    return {c["counter"]["name"]: c["counter"]["packets"] for c in out if "counter" in c}


def ping(ns, address, size=None):
    args = ["ping", "-c", "1", "-W", "2", "-q"] + (["-M", "do", "-s", str(size)] if size else []) + [address]
    return sh(*args, netns=ns, check=False).returncode == 0


def fdb(ns):
    return sorted(l for l in sh("bridge", "fdb", "show", "dev", "vx-ov", netns=ns).stdout.splitlines() if " dst " in l)


def test_overlay_across_a_router_exact_idempotent_and_checked(routed):
    router, hosts, containers = routed
    h1, h2 = hosts["h1"], hosts["h2"]
    (c1, a1, a1v6), (c2, a2, a2v6) = containers["h1"], containers["h2"]
    assert not ping(c1, a2), "host-gw cannot reach across the router: only the overlay can"

    predicted = run_module("vxlan", overlay("h1", "h2"), check_mode=True, diff=True, netns=h1)
    assert predicted["changed"] and "vx-ov" not in sh("ip", "-br", "link", netns=h1).stdout
    made = run_module("vxlan", overlay("h1", "h2"), diff=True, netns=h1)
    assert not made.get("failed"), made.get("msg")
    assert made["changes"] == predicted["changes"] and made["diff"] == predicted["diff"], "check mode predicts exactly"
    assert made["mac"] == vtep_mac(VNI, UNDERLAY["h1"][0])
    assert not run_module("vxlan", overlay("h2", "h1"), netns=h2).get("failed")

    link = ip_json(h1, "-d", "link", "show", "vx-ov")[0]
    info = link["linkinfo"]["info_data"]
    assert (info["id"], info["local"], info["port"], info["learning"]) == (VNI, UNDERLAY["h1"][0], 4789, False)
    assert link["mtu"] == 1450 and link["address"] == made["mac"], "underlay MTU 1500 - 50"
    peer_mac = vtep_mac(VNI, UNDERLAY["h2"][0])
    assert fdb(h1) == [f"{peer_mac} dst {UNDERLAY['h2'][0]} self permanent"]
    neighbours = sh("ip", "neigh", "show", "dev", "vx-ov", "nud", "permanent", netns=h1).stdout
    assert f"10.244.2.0 lladdr {peer_mac} PERMANENT" in neighbours and f"fd42:0:0:2:: lladdr {peer_mac} PERMANENT" in neighbours
    assert "10.244.2.0/24 via 10.244.2.0 dev vx-ov proto static onlink" in sh("ip", "route", netns=h1).stdout
    assert "fd42:0:0:2::/64 via fd42:0:0:2:: dev vx-ov proto static metric 1024 onlink" in sh("ip", "-6", "route", netns=h1).stdout

    before = counters(router)
    assert ping(c1, a2) and ping(c1, a2v6) and ping(c2, a1) and ping(c2, a1v6), "both families across the overlay"
    # the containers' MTU (1450) fits the overlay: full-size packets pass with DF set, one byte more does not
    assert ping(c1, a2, size=1450 - 28) and not ping(c1, a2, size=1450 - 27)
    after = counters(router)
    assert after["vxlan"] - before["vxlan"] >= 10 and after["other"] == before["other"], \
        f"the underlay carried only VXLAN between the hosts: {before} -> {after}"

    for check in (False, True):
        again = run_module("vxlan", overlay("h1", "h2"), check_mode=check, netns=h1)
        assert not again["changed"], again["changes"]


def test_peers_change_leave_and_purge(routed):
    _router, hosts, _containers = routed
    h1 = hosts["h1"]
    assert not run_module("vxlan", overlay("h1", "h2"), netns=h1).get("failed")
    # a peer rebuilt with another MAC: its entries are replaced, the old MAC's forwarding entry goes
    moved = overlay("h1", "h2")
    moved["peers"][0]["mac"] = "02:00:00:00:00:42"
    result = run_module("vxlan", moved, netns=h1)
    assert result["changes"] == [
        f"add forwarding entry 02:00:00:00:00:42 -> {UNDERLAY['h2'][0]} to vxlan 'vx-ov' in the module's own namespace",
        "replace neighbour 10.244.2.0 -> 02:00:00:00:00:42 on vxlan 'vx-ov' in the module's own namespace",
        "replace neighbour fd42:0:0:2:: -> 02:00:00:00:00:42 on vxlan 'vx-ov' in the module's own namespace",
        f"remove forwarding entry {vtep_mac(VNI, UNDERLAY['h2'][0])} -> {UNDERLAY['h2'][0]} from vxlan 'vx-ov' in the "
        "module's own namespace"], result["changes"]
    assert fdb(h1) == [f"02:00:00:00:00:42 dst {UNDERLAY['h2'][0]} self permanent"]

    # a peer renumbered (its subnet and VTEP address changed): its old neighbour and route go
    renumbered = dict(moved, peers=[dict(moved["peers"][0], vtep_addresses=["10.244.9.0"], subnets=["10.244.9.0/24"])])
    changes = run_module("vxlan", renumbered, netns=h1)["changes"]
    assert "remove neighbour 10.244.2.0 from vxlan 'vx-ov' in the module's own namespace" in changes, changes
    assert "remove neighbour fd42:0:0:2:: from vxlan 'vx-ov' in the module's own namespace" in changes, changes
    routes = sh("ip", "route", netns=h1).stdout
    assert "10.244.9.0/24 via 10.244.9.0 dev vx-ov" in routes and "10.244.2.0/24" not in routes
    assert not run_module("vxlan", renumbered, netns=h1)["changed"]
    assert run_module("vxlan", moved, netns=h1)["changed"]

    # a second peer, then a partial run that lists only the first: the second stays (no purge)
    third = {"address": "198.18.112.2", "vtep_addresses": ["10.244.3.0"], "subnets": ["10.244.3.0/24"]}
    both = dict(moved, peers=moved["peers"] + [third])
    assert run_module("vxlan", both, netns=h1)["changed"]
    assert not run_module("vxlan", moved, netns=h1)["changed"], "a peer not listed is kept"
    assert len(fdb(h1)) == 2

    # absent: forgotten, entries and routes
    gone = dict(moved, peers=moved["peers"] + [dict(third, state="absent")])
    predicted = run_module("vxlan", gone, check_mode=True, netns=h1)
    result = run_module("vxlan", gone, netns=h1)
    assert result["changes"] == predicted["changes"] and len(result["changes"]) == 3, result["changes"]
    assert "10.244.3.0" not in sh("ip", "route", netns=h1).stdout + sh("ip", "neigh", "show", "dev", "vx-ov", netns=h1).stdout
    assert len(fdb(h1)) == 1

    # purge: every entry of a peer not listed goes
    assert run_module("vxlan", both, netns=h1)["changed"]
    purged = run_module("vxlan", dict(moved, purge_peers=True), netns=h1)
    assert len(purged["changes"]) == 3 and len(fdb(h1)) == 1 and "10.244.3.0/24" not in sh("ip", "route", netns=h1).stdout

    # a VNI change recreates the device (the kernel cannot change it in place), entries and routes with it
    renumbered = run_module("vxlan", dict(moved, vni=VNI + 1), netns=h1)
    assert renumbered["changes"][0].startswith(f"recreate vxlan 'vx-ov' in the module's own namespace (vni {VNI} -> {VNI + 1}")
    assert ip_json(h1, "-d", "link", "show", "vx-ov")[0]["linkinfo"]["info_data"]["id"] == VNI + 1
    assert "10.244.2.0/24 via 10.244.2.0 dev vx-ov" in sh("ip", "route", netns=h1).stdout
    assert not run_module("vxlan", dict(moved, vni=VNI + 1), netns=h1)["changed"]

    deleted = run_module("vxlan", {"name": "vx-ov", "state": "absent"}, netns=h1)
    assert deleted["changed"] and "vx-ov" not in sh("ip", "-br", "link", netns=h1).stdout
    assert "vx-ov" not in sh("ip", "route", netns=h1).stdout
    assert not run_module("vxlan", {"name": "vx-ov", "state": "absent"}, netns=h1)["changed"]


def test_an_ipv6_underlay(routed):
    """The same overlay over the IPv6 underlay: MTU less 70, entries to the peers' IPv6 addresses."""
    _router, hosts, containers = routed
    c1, a2, a2v6 = containers["h1"][0], containers["h2"][1], containers["h2"][2]
    for me, other in (("h1", "h2"), ("h2", "h1")):
        made = run_module("vxlan", overlay(me, other, family=6, mtu=1430), netns=hosts[me])
        assert not made.get("failed"), made.get("msg")
    assert fdb(hosts["h1"]) == [f"{vtep_mac(VNI, UNDERLAY['h2'][1])} dst {UNDERLAY['h2'][1]} self permanent"]
    assert ip_json(hosts["h1"], "link", "show", "vx-ov")[0]["mtu"] == 1430
    assert ping(c1, a2) and ping(c1, a2v6)
    too_big = run_module("vxlan", overlay("h1", "h2", family=6, mtu=1431), netns=hosts["h1"])
    assert too_big.get("failed") and "mtu 1431 leaves no room for the VXLAN encapsulation over 'eth0' (mtu 1500): at most " \
        "1430 (underlay MTU - 70 for an IPv6 underlay)" in too_big["msg"]
