"""The fleet model, the verify probes and the pictures, from netns_info-shaped data, without the kernel."""

from __future__ import annotations

import pytest

from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput
from ansible_collections.linuxns.net.plugins.module_utils._pictures import topology_dot, topology_mermaid
from ansible_collections.linuxns.net.plugins.module_utils._topology import outside_probes, verify_listeners, verify_probes


def veth(name, container, master):
    return {"name": name, "kind": "veth", "master": master, "peer": {"name": "eth0", "namespace": container}}


def container(address, with_eth0=True):
    links = [{"name": "lo", "kind": "loopback", "addresses": ["127.0.0.1/8"]}]
    if with_eth0:
        links.append({"name": "eth0", "kind": "veth", "addresses": [address, "fe80::1/64"]})
    return {"links": links, "routes": [{"dest": "default", "gateway": address.rsplit(".", 1)[0] + ".1"}]}


def host(underlay, bridges, containers, routes=(), masquerade=()):
    links = [{"name": "eth0", "kind": "device", "addresses": [underlay]}]
    links += [{"name": b, "kind": "bridge", "addresses": [a], "group": g} for b, (a, g) in bridges.items()]
    links += [veth(f"v{c}", c, b) for c, (b, _a, eth0) in containers.items() if eth0]
    return {"host": {"links": links, "routes": list(routes), "masquerade": list(masquerade)},
            "namespaces": {c: container(a, eth0) for c, (_b, a, eth0) in containers.items()}}


@pytest.fixture
def fleet():
    return {
        "h1": host("198.51.100.11/24", {"br-blue": ("10.1.0.1/24", 27758), "br-green": ("10.2.0.1/24", 27758),
                                        "br-open": ("10.3.0.1/24", 27759), "br-open2": ("10.4.0.1/24", 27759),
                                        "br-hand": ("10.5.0.1/24", 0)},
                   {"b1": ("br-blue", "10.1.0.2/24", True), "b2": ("br-blue", "10.1.0.3/24", True),
                    "g1": ("br-green", "10.2.0.2/24", True), "o1": ("br-open", "10.3.0.2/24", True),
                    "o2": ("br-open2", "10.4.0.2/24", True), "x1": ("br-hand", "10.5.0.2/24", True)},
                   routes=[{"dest": "10.1.1.0/24", "gateway": "198.51.100.12"}],
                   masquerade=["10.1.0.0/24"]),
        "h2": host("198.51.100.12/24", {"br-blue": ("10.1.1.1/24", 27758)},
                   {"b3": ("br-blue", "10.1.1.2/24", True), "dead": ("br-blue", "10.1.1.9/24", False)}),
    }


def expectations(probes, source):
    return {p["address"]: p["expect"] for p in probes if p["source"] == source}


def test_probes_follow_bridges_isolation_and_fleet_networks(fleet):
    probes = verify_probes(fleet, "h1", [{"address": "198.51.100.254", "proto": "tcp", "port": 7007}])
    assert expectations(probes, "b1") == {"10.1.0.3": "reachable", "10.2.0.2": "unreachable", "10.3.0.2": "unreachable",
                                          "10.4.0.2": "unreachable", "10.5.0.2": "reachable",
                                          "10.1.1.2": "reachable", "198.51.100.254": "reachable"}
    assert expectations(probes, "g1")["10.1.0.2"] == "unreachable" and "10.1.1.2" not in expectations(probes, "g1")
    assert expectations(probes, "o1")["10.4.0.2"] == "reachable", "networks that are not isolated reach each other"
    assert expectations(probes, "o1")["10.1.0.2"] == "unreachable", "but not an isolated one (gateway mode nat)"
    assert expectations(probes, "x1")["10.3.0.2"] == "unreachable", "nor a bridge that is not a network's"
    assert all("fe80" not in p["address"] for p in probes)
    assert verify_probes(fleet, "h1", containers=["b1"]) == [
        {"source": "b1", "address": "10.1.1.2", "proto": "icmp", "expect": "reachable"}], "only the named ones, here and as targets"


def test_a_container_that_lost_its_veth_probes_its_host_so_that_it_fails_by_name(fleet):
    dead = [p for p in verify_probes(fleet, "h2") if p["source"] == "dead"]
    assert dead == [{"source": "dead", "address": "10.1.1.2", "proto": "icmp", "expect": "reachable"}]


def test_dual_stack_containers_probe_both_families_and_outside_targets_of_their_families(fleet):
    for h, c, six in (("h1", "b1", "fd42::2/64"), ("h1", "b2", "fd42::3/64"), ("h2", "b3", "fd42:0:0:1::2/64")):
        fleet[h]["namespaces"][c]["links"][1]["addresses"].append(six)
    outside = [{"address": "198.51.100.254", "proto": "tcp", "port": 7007},
               {"address": "2001:db8:100::254", "proto": "tcp", "port": 7007}]
    probes = verify_probes(fleet, "h1", outside)
    assert expectations(probes, "b1") == {"10.1.0.3": "reachable", "fd42::3": "reachable", "10.2.0.2": "unreachable",
                                          "10.3.0.2": "unreachable", "10.4.0.2": "unreachable", "10.5.0.2": "reachable",
                                          "10.1.1.2": "reachable", "fd42:0:0:1::2": "reachable",
                                          "198.51.100.254": "reachable", "2001:db8:100::254": "reachable"}
    assert "fd42::2" not in expectations(probes, "g1") and "2001:db8:100::254" not in expectations(probes, "g1"), \
        "an IPv4-only container probes no IPv6 address"


def test_dot_holds_every_host_bridge_container_veth_route_and_nat(fleet):
    dot = topology_dot(fleet, title="t")
    expected = ['"h1/br-blue" [shape=box', "br-green\\n10.2.0.1/24\\ngroup 27758",
                '"h2/b3" [shape=component, label="b3\\neth0 10.1.1.2/24"]', "eth0 = vb1",
                '"h1/eth0" -> "h2/eth0" [dir=both, label="10.1.1.0/24 via 198.51.100.12"', "NAT: masquerade 10.1.0.0/24",
                'label="h1 198.51.100.11/24"']
    for text in expected:
        assert text in dot, text
    assert "fe80" not in dot and dot.startswith("digraph linuxns {") and dot.rstrip().endswith("}")
    assert "h2/" not in topology_dot(fleet, hosts=["h1"])


def test_overlay_routes_are_drawn_between_the_hosts_they_join(fleet):
    fleet["h2"]["host"]["links"].append({"name": "vxlan.fleet", "kind": "vxlan", "addresses": ["10.1.1.0/32"]})
    fleet["h1"]["host"]["routes"].append({"dest": "10.1.1.0/24", "gateway": "10.1.1.0", "dev": "vxlan.fleet"})
    assert "10.1.1.0/24 via 10.1.1.0 (VXLAN)" in topology_dot(fleet)
    assert '-.->|"10.1.1.0/24"|' in topology_mermaid(fleet)


def test_mermaid_draws_the_same(fleet):
    text = topology_mermaid(fleet)
    assert text.startswith("flowchart LR") and '["h1 198.51.100.11/24"]' in text and "|vb1|" in text
    assert '-->|"10.1.1.0/24"|' in text


def test_bad_input_is_named():
    with pytest.raises(InvalidInput, match="host 'x' has no host view"):
        topology_dot({"x": {"namespaces": {}}})
    with pytest.raises(InvalidInput, match="host 'nope' has no netns_info result"):
        verify_probes({}, "nope")


def test_icc_off_makes_the_containers_of_a_network_unreachable_from_each_other(fleet):
    for link in fleet["h1"]["host"]["links"]:
        if link["name"] in ("vb1", "vb2"):
            link["isolated"] = True
    expected = expectations(verify_probes(fleet, "h1"), "b1")
    assert expected["10.1.0.3"] == "unreachable", "b2, on the same bridge, with ICC off"
    assert expected["10.1.1.2"] == "unreachable", "b3 on the fleet's other host: its ranges are not let in either"
    assert expectations(verify_probes(fleet, "h2"), "b3")["10.1.0.2"] == "unreachable", "and from there"


def probe_table(probes, source):
    return {(p["address"], p["proto"], p.get("port")): p["expect"] for p in probes if p["source"] == source}


def test_policies_in_force_set_the_expectations_and_their_ports_are_probed(fleet):
    # b2 accepts TCP 80 from b1 and UDP 53 from the whole blue range of h2; b1 may send only to the blue ranges
    fleet["h1"]["namespaces"]["b2"]["policy"] = {"ingress": [
        {"peer": "10.1.0.2", "protocol": "tcp", "ports": "80"},
        {"peer": "10.1.1.0/24", "protocol": "udp", "ports": "53-60"}], "egress": None}
    fleet["h1"]["namespaces"]["b1"]["policy"] = {"ingress": None, "egress": [
        {"peer": "10.1.0.0-10.1.1.255", "protocol": "any", "ports": "any"}]}
    b1 = probe_table(verify_probes(fleet, "h1", ["198.51.100.254"]), "b1")
    assert b1[("10.1.0.3", "icmp", None)] == "unreachable", "b2 accepts no ICMP"
    assert b1[("10.1.0.3", "tcp", 80)] == "allowed"
    assert b1[("10.1.0.3", "udp", 53)] == "unreachable", "UDP 53 only from h2's range"
    assert b1[("10.1.1.2", "icmp", None)] == "reachable", "b3 is in b1's egress and has no policy"
    assert ("10.1.1.2", "tcp", 80) not in b1, "ports are probed where the pair's policies name them"
    assert b1[("198.51.100.254", "icmp", None)] == "unreachable", "outside b1's egress"
    b3 = probe_table(verify_probes(fleet, "h2"), "b3")
    assert b3[("10.1.0.3", "udp", 53)] == "allowed" and b3[("10.1.0.3", "tcp", 80)] == "unreachable"
    assert b3[("10.1.0.2", "icmp", None)] == "reachable", "b1's egress does not hold back its replies"


def test_a_policy_sees_the_gateway_where_the_host_masquerades_another_network(fleet):
    # o1 and o2 are on two open networks of h1; h1 masquerades 10.3.0.0/24, so o2 sees o1 as its own gateway
    fleet["h1"]["host"]["masquerade"].append("10.3.0.0/24")
    gateway_only = [{"peer": "10.4.0.1", "protocol": "tcp", "ports": "80"}]
    fleet["h1"]["namespaces"]["o2"]["policy"] = {"ingress": gateway_only, "egress": None}
    o1 = probe_table(verify_probes(fleet, "h1"), "o1")
    assert o1[("10.4.0.2", "tcp", 80)] == "allowed" and o1[("10.4.0.2", "icmp", None)] == "unreachable"


def test_pictures_show_icc_off_and_policy_edges_and_ranges(fleet):
    for link in fleet["h1"]["host"]["links"]:
        if link["name"] in ("vb1", "vb2"):
            link["isolated"] = True
    fleet["h1"]["namespaces"]["b2"]["policy"] = {"ingress": [
        {"peer": "10.1.0.2", "protocol": "tcp", "ports": "80"}, {"peer": "10.1.1.2", "protocol": "udp", "ports": "53"},
        {"peer": "10.9.0.0/16", "protocol": "any", "ports": "any"}], "egress": []}
    dot = topology_dot(fleet)
    assert "ICC off (ports isolated)" in dot.split('"h1/br-blue"')[1].split("\n")[0]
    assert '"h1/b1" -> "h1/b2" [style=dashed, color=darkorange, constraint=false, label="policy: 80/tcp"]' in dot
    assert '"h2/b3" -> "h1/b2"' in dot and "policy: 53/udp" in dot, "a container of another host, by its address"
    assert "ingress any from 10.9.0.0/16" in dot and "egress: none" in dot
    mermaid = topology_mermaid(fleet)
    assert '-. "policy: 80/tcp" .->' in mermaid and "<br>ingress any from 10.9.0.0/16" in mermaid


def published(protocol, published, destination, target, allow_from=None, host_ip=None, family=4):
    return {"owner": "network:blue", "protocol": protocol, "family": family, "host_ip": host_ip,
            "published": published, "destination": destination, "target": target, "allow_from": allow_from}


def test_the_outside_probes_each_published_port_as_its_allow_list_and_policy_say(fleet):
    fleet["h1"]["host"]["links"][0]["addresses"].append("2001:db8:100::11/64")
    fleet["h1"]["namespaces"]["b1"]["links"][1]["addresses"].append("fd42::2/64")
    fleet["h1"]["host"]["published"] = [
        published("tcp", "8080", "10.1.0.2", "80"),
        published("tcp", "8443", "10.1.0.2", "80", ["198.51.100.0/25"]),
        published("udp", "9000-9002", "10.1.0.2", "9000-9002"),
        published("tcp", "8081", "10.1.0.3", "81"),  # b2's policy opens 80 only
        published("tcp", "8080", "fd42::2", "80", family=6),
        published("tcp", "8082", "10.1.0.2", "82", host_ip="127.0.0.1"),  # loopback: not from outside
        published("tcp", "8083", "10.9.9.9", "80"),  # not a container of the host (a port_forward): left alone
        published("tcp", "8084", "10.1.0.3", "80", host_ip="198.51.100.99")]
    b2_policy = {"ingress": [{"peer": "0.0.0.0/0", "protocol": "tcp", "ports": "80"}], "egress": None}
    fleet["h1"]["namespaces"]["b2"]["policy"] = b2_policy
    outside = {"host": {"links": [{"name": "eth0", "kind": "device",
                                   "addresses": ["198.51.100.254/24", "2001:db8:100::254/64"]}], "routes": []}}
    got = {(p["address"], p["proto"], p["port"]): p["expect"] for p in outside_probes(fleet, outside)}
    assert got == {("198.51.100.11", "tcp", 8080): "reachable", ("198.51.100.11", "tcp", 8443): "denied",
                   ("198.51.100.11", "udp", 9000): "reachable", ("198.51.100.11", "tcp", 8081): "denied",
                   ("2001:db8:100::11", "tcp", 8080): "reachable", ("198.51.100.99", "tcp", 8084): "reachable"}
    assert verify_listeners(fleet, "h1") == [
        {"namespace": "b1", "proto": "tcp", "port": 80}, {"namespace": "b1", "proto": "tcp", "port": 82},
        {"namespace": "b1", "proto": "udp", "port": 9000}, {"namespace": "b2", "proto": "tcp", "port": 80},
        {"namespace": "b2", "proto": "tcp", "port": 81}]
    assert verify_listeners(fleet, "h2") == []
    # an outside host of one family probes that family only
    only4 = {"host": {"links": [{"name": "eth0", "kind": "device", "addresses": ["198.51.100.254/24"]}], "routes": []}}
    assert all(p["address"] != "2001:db8:100::11" for p in outside_probes(fleet, only4))
    with pytest.raises(InvalidInput, match="the outside host's netns_info result has no underlay address"):
        outside_probes(fleet, {"host": {"links": [], "routes": []}})
    fleet["h1"]["host"]["published"][0]["published"] = "http"
    with pytest.raises(InvalidInput, match="a published port is not one netns_info writes"):
        outside_probes(fleet, outside)


def test_pictures_show_published_ports_with_their_allow_lists(fleet):
    fleet["h1"]["namespaces"]["b1"]["links"][1]["addresses"].append("fd42::2/64")
    fleet["h1"]["namespaces"]["b2"]["links"][1]["addresses"].append("fd42::3/64")
    fleet["h1"]["host"]["published"] = [
        published("tcp", "8080", "10.1.0.2", "80"), published("tcp", "8080", "fd42::2", "80", family=6),
        published("tcp", "8443", "10.1.0.2", "80", ["198.51.100.0/25"]),
        published("tcp", "8443", "fd42::2", "80", ["2001:db8:100::/120"], family=6),
        published("udp", "9000-9002", "10.1.0.2", "9000-9002", host_ip="198.51.100.11"),
        published("tcp", "8081", "10.1.0.3", "81"), published("tcp", "8081", "fd42::3", "81", ["2001:db8::/32"], family=6)]
    dot = topology_dot(fleet)
    assert ("b1\\neth0 10.1.0.2/24\\neth0 fd42::2/64\\npublished 198.51.100.11:9000-9002->9000-9002/udp\\n"
            "published 8080->80/tcp\\npublished 8443->80/tcp from 198.51.100.0/25, 2001:db8:100::/120") in dot
    assert "published 8081->81/tcp from 2001:db8::/32, any IPv4" in dot, "IPv4 to everyone, IPv6 allow-listed"
    assert "published 8080->80/tcp<br>published 8443->80/tcp from" in topology_mermaid(fleet)


def test_pictures_mark_internal_networks(fleet):
    fleet["h1"]["host"]["forwarding"] = [{"source": "10.2.0.0/24", "gateway_mode": "nat", "icc": True, "policy": False,
                                          "internal": True}]
    dot = topology_dot(fleet)
    green = next(line for line in dot.splitlines() if '"h1/br-green" [' in line)
    assert "internal (no way out)" in green
    assert sum("internal (no way out)" in line for line in dot.splitlines()) == 1


def test_a_large_fleet_picture_sums_up_plain_containers_and_draws_routes_as_a_star():
    many = {f"h{i}": host(f"198.51.100.{10 + i}/24", {"br-fleet": (f"10.244.{i}.1/24", 27758)},
                          {f"app{k}-{i}": ("br-fleet", f"10.244.{i}.{k + 1}/24", True) for k in range(1, 51)},
                          routes=[{"dest": f"10.244.{j}.0/24", "gateway": f"198.51.100.{10 + j}"}
                                  for j in range(1, 33) if j != i])
            for i in range(1, 33)}
    many["h1"]["host"]["published"] = [published("tcp", "8080", "10.244.1.8", "80")]
    dot = topology_dot(many)
    lines = dot.splitlines()
    # above 8 hosts, each host draws only the containers with something of their own (h1's with a published port)
    # and sums up the rest in one node
    assert [line.split()[0] for line in lines if "shape=component" in line] == ['"h1/app7-1"']
    assert sum(1 for line in lines if "50 more containers" in line) == 31 and sum("49 more containers" in line for line in lines) == 1
    assert any('"h1/app7-1" [' in line and "published 8080->80/tcp" in line for line in lines)
    summary = next(line for line in lines if '"h2/br-fleet/..." [' in line)
    assert "app1-2 ... app50-2" in summary and "10.244.2.2 - 10.244.2.51" in summary
    # routes: one edge per host around the underlay, with the subnet the others route to it (not 496 pairs)
    star = [line for line in lines if line.startswith('  "underlay" -> ')]
    assert len(star) == 32 and not any("dir=both" in line for line in lines)
    assert any('"h5/eth0"' in line and "10.244.5.0/24" in line for line in star)
    assert len(topology_dot(many, max_containers=None, max_host_pairs=None).splitlines()) > 2 * len(lines)
    # up to 8 hosts: a bridge of more than 12 shows 12 (the one with a published port among them), sums up 38
    eight = {name: many[name] for name in [f"h{i}" for i in range(1, 9)]}
    lines = topology_dot(eight).splitlines()
    assert sum(1 for line in lines if "shape=component" in line) == 8 * 12
    assert sum(1 for line in lines if "38 more containers" in line) == 8
    summary = next(line for line in lines if '"h2/br-fleet/..." [' in line)
    assert "app13-2 ... app50-2" in summary and "10.244.2.14 - 10.244.2.51" in summary
    assert sum(1 for line in lines if "dir=both" in line) == 8 * 7 // 2, "a line per pair of hosts"


def test_the_verify_matrix_is_drawn_per_family_with_mismatches_marked(fleet):
    from ansible_collections.linuxns.net.plugins.module_utils._pictures import verify_cells, verify_matrix_svg
    row = dict(proto="icmp", port=None, ms=0.1)
    matrices = {
        "h1": [dict(row, source="b1", address="10.1.0.3", result="reachable", expect="reachable", ok=True),
               dict(row, source="b1", address="10.2.0.2", result="timeout", expect="unreachable", ok=True),
               dict(row, source="b1", address="10.1.1.2", result="timeout", expect="reachable", ok=False),
               dict(row, source="b2", address="10.1.0.2", result="reachable", expect="reachable", ok=True),
               dict(row, source="b2", address="10.1.0.2", proto="tcp", port=81, result="timeout", expect="denied", ok=True),
               dict(row, source="b1", address="fd42::3", result="reachable", expect="reachable", ok=True)],
        "upstream": [dict(row, source=None, address="10.1.0.3", proto="tcp", port=8080, result="reachable",
                          expect="reachable", ok=True)]}
    sources, targets, cells = verify_cells(matrices, fleet, 4)
    assert sources == ["h1/b1", "h1/b2", "upstream"]
    assert targets == ["h1/b2", "h1/g1", "h2/b3", "h1/b1"]
    assert len(cells[("h1/b2", "h1/b1")]) == 2
    svg = verify_matrix_svg(matrices, fleet, 4)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "3 sources x 4 targets, 1 not as expected" in svg
    assert svg.count('class="cell mismatch"') == 1 and svg.count('class="cell some"') == 1
    assert svg.count('class="cell allowed"') == 2 and svg.count('class="cell denied"') == 1
    mismatch = svg[svg.index('class="cell mismatch"'):].split("</g>", maxsplit=1)[0]
    assert "h1/b1 -&gt; h2/b3" in mismatch and "10.1.1.2 icmp: expected reachable, saw timeout" in mismatch
    assert "<path" in mismatch, "a mismatch is crossed out"
    six = verify_matrix_svg(matrices, fleet, 6)
    assert "1 sources x 1 targets, 0 not as expected" in six and "fd42::3" in six
    import xml.dom.minidom
    xml.dom.minidom.parseString(svg)  # well-formed
