"""What netns_info stats=true counts, against traffic the test sends: a link's packets and bytes, the host's conntrack
entries for connections it opens, and each kind of drop (ICC, policy, internal, direct access, isolation, an
allow-list) for probes that the rules deny; on nftables and on iptables-nft beside Docker's rules."""

from __future__ import annotations

import sys

import pytest

from support import docker_neighbour, ping, run_module, sh, start_whoami, whoami

HOST, LAN, STRANGER = "198.18.24.1", "198.18.24.2", "198.18.24.3"  # the host; an allowed and a refused neighbour
A1, A2, B1, C1 = "10.24.0.2", "10.24.0.3", "10.24.1.2", "10.24.2.2"
CONNECT_FROM = ("import socket, sys\n"
                "s = socket.socket()\n"
                "s.settimeout(2)\n"
                "s.bind((sys.argv[1], 0))\n"
                "try:\n"
                "    s.connect((sys.argv[2], int(sys.argv[3])))\n"
                "except OSError:\n"
                "    pass\n")
pytestmark = pytest.mark.long


@pytest.fixture
def site(netns, nsname):
    """A host with a LAN neighbour (two addresses), and three networks: obs (ICC off; a1 publishes 8080 for LAN only
    and serves whoami, a2 lets in only a1 on 80/tcp), obsi (internal; b1) and obsc (c1)."""
    host, lan = netns("host"), netns("lan")
    sh("ip", "-n", host, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", lan)
    sh("ip", "-n", host, "addr", "add", f"{HOST}/24", "dev", "eth0")
    sh("ip", "-n", lan, "addr", "add", f"{LAN}/24", "dev", "eth0")
    sh("ip", "-n", lan, "addr", "add", f"{STRANGER}/24", "dev", "eth0")
    for ns in (host, lan):
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
    sh("ip", "-n", lan, "route", "add", "10.24.0.0/16", "via", HOST)
    names = {n: nsname(n) for n in ("a1", "a2", "b1", "c1")}
    nets = [{"name": "obs", "bridge": "br-obs", "subnet": "10.24.0.0/24", "icc": False,
             "containers": [{"name": names["a1"], "ports": [{"target": 80, "published": 8080, "allow_from": [f"{LAN}/32"]}]},
                            {"name": names["a2"], "ingress": [{"from": [names["a1"]], "ports": ["80/tcp"]}]}]},
            {"name": "obsi", "bridge": "br-obsi", "subnet": "10.24.1.0/24", "internal": True, "containers": [{"name": names["b1"]}]},
            {"name": "obsc", "bridge": "br-obsc", "subnet": "10.24.2.0/24", "containers": [{"name": names["c1"]}]}]
    servers = []

    def build(setup=None):
        if setup:
            setup(host)
        for net in nets:
            result = run_module("container_network", net, netns=host)
            assert not result.get("failed"), result.get("msg")
        servers.append(start_whoami(names["a1"], 80))
    yield host, lan, names, build
    for server in servers:
        server.kill()
        server.wait()
    for net in nets:
        run_module("container_network", dict(net, state="absent"), netns=host)


def stats(host, *namespaces):
    result = run_module("netns_info", {"namespaces": list(namespaces), "stats": True, "nat": False, "policy": False},
                        netns=host)
    assert not result.get("failed"), result.get("msg")
    return result


def dropped(view, kind, **match):
    """Packets that the drops of a kind counted in a namespace's view (those of the rule sets that match)."""
    return sum(d["packets"] for d in view["drops"] if d["kind"] == kind and all(d.get(k) == v for k, v in match.items()))


def link(view, name):
    return next(item for item in view["links"] if item["name"] == name)


@pytest.mark.parametrize("neighbour", [None, docker_neighbour], ids=["nftables", "iptables-nft-beside-docker"])
def test_counters_match_the_traffic_the_test_sends(site, neighbour):
    host, lan, names, build = site
    build(neighbour)
    a1, a2, b1, c1 = (names[n] for n in ("a1", "a2", "b1", "c1"))
    before = stats(host, a1, a2)
    # the bridges' IGMP reports are tracked too (600 s): what the connections add is counted from here
    tracked = before["host"]["conntrack"]
    assert tracked["limit"] > 0 and tracked["insert_failed"] == 0, tracked
    assert all(d["packets"] == 0 for d in before["host"]["drops"]), before["host"]["drops"]
    kinds = {(d["kind"], d["rule_set"]) for d in before["host"]["drops"]}
    assert {("icc", "forward:10.24.0.0/24"), ("internal", "forward:10.24.1.0/24"), ("allow-list", "ports:network:obs"),
            ("direct-access", "forward:10.24.2.0/24")} <= kinds, kinds

    # conntrack: five connections through the published port, each an entry of the host's table (in TIME_WAIT)
    for _connection in range(5):
        assert whoami(lan, "tcp", HOST, 8080) == LAN
    seen = stats(host)["host"]["conntrack"]
    assert seen["entries"] == tracked["entries"] + 5, (tracked, seen, sh("cat", "/proc/net/nf_conntrack", netns=host).stdout)

    # the allow-list: two connections from the refused address, counted where the DNAT lets them pass by
    for _attempt in range(2):
        sh(sys.executable, "-c", CONNECT_FROM, STRANGER, HOST, "8080", netns=lan)
    # ICC off: a1 routes to a2 through the gateway (port isolation stops the bridged way), three pings
    sh("ip", "route", "add", f"{A2}/32", "via", "10.24.0.1", netns=a1)
    assert not ping(a1, A2, count=3)
    # a2's policy lets in a1 on 80/tcp only: two pings from the host are refused in a2's own namespace
    assert not ping(host, A2, count=2)
    # the internal network: b1, given a route out by hand, is stopped at the host
    sh("ip", "route", "add", "default", "via", "10.24.1.1", netns=b1)
    assert not ping(b1, LAN, count=2)
    # direct access: the LAN neighbour, which routes 10.24.0.0/16 via the host, pings c1 at its own address
    assert not ping(lan, C1, count=2)
    # isolation: c1 pings a1 on the other network
    assert not ping(c1, A1, count=2)

    after = stats(host, a1, a2)
    view = after["host"]
    assert dropped(view, "allow-list", rule_set="ports:network:obs", family=4) == 2, view["drops"]
    assert dropped(view, "icc", rule_set="forward:10.24.0.0/24", family=4) == 3, view["drops"]
    assert dropped(after["namespaces"][a2], "policy", rule_set="policy:obs", direction="ingress") == 2, \
        after["namespaces"][a2]["drops"]
    assert dropped(view, "internal", rule_set="forward:10.24.1.0/24") == 2, view["drops"]
    assert dropped(view, "direct-access", rule_set="forward:10.24.2.0/24") == 2, view["drops"]
    # c1 -> a1 meets isolation (c1's network) and a1's direct-access protection: the first in the chain counts it
    assert dropped(view, "isolation") + dropped(view, "direct-access", rule_set="forward:10.24.0.0/24") == 2, view["drops"]
    assert dropped(view, "isolation") == 2, view["drops"]
    assert all(d["bytes"] >= 28 * d["packets"] for d in view["drops"])

    # a link's counters: twenty pings of 1,000 bytes from the host to a1 (its ARP entry made first)
    assert ping(host, A1)
    first = link(stats(host, a1)["namespaces"][a1], "eth0")["stats"]
    sh("ping", "-c", "20", "-i", "0.01", "-s", "972", "-q", A1, netns=host)
    second = stats(host, a1)
    again = link(second["namespaces"][a1], "eth0")["stats"]
    received, sent = again["rx_packets"] - first["rx_packets"], again["tx_packets"] - first["tx_packets"]
    assert 20 <= received <= 22 and 20 <= sent <= 22, (received, sent)  # allow for a stray neighbour message
    assert 20 * 1014 <= again["rx_bytes"] - first["rx_bytes"] <= 20 * 1014 + 2 * 100
    assert again["rx_errors"] == again["rx_dropped"] == 0
    host_end = next(item for item in second["host"]["links"] if (item.get("peer") or {}).get("namespace") == a1)
    assert host_end["stats"]["tx_packets"] >= again["rx_packets"] and host_end["stats"]["rx_bytes"] >= again["tx_bytes"]
    bridge = link(second["host"], "br-obs")
    assert {"rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_errors", "tx_errors", "rx_dropped",
            "tx_dropped"} == set(bridge["stats"])


def test_stats_are_left_out_unless_asked(netns):
    host = netns("host")
    plain = run_module("netns_info", {"namespaces": []}, netns=host)
    assert "conntrack" not in plain["host"] and "drops" not in plain["host"]
    assert not any("stats" in item for item in plain["host"]["links"])
    asked = stats(host)["host"]
    assert asked["drops"] == [] and "stats" in link(asked, "lo")
