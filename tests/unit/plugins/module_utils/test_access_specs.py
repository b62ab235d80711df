"""Who may talk to whom, without the kernel: compose's long syntax with allow-lists, gateway modes, and network
policy parsed and compiled to the sets the rules carry."""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput
from ansible_collections.linuxns.net.plugins.module_utils._forwarding import ForwardRules, OpenPort, forwarding_in_force
from ansible_collections.linuxns.net.plugins.module_utils._network_spec import normalize_network
from ansible_collections.linuxns.net.plugins.module_utils._policy import ContainerPolicy, boxes_of, compile_rules, parse_policy
from ansible_collections.linuxns.net.plugins.module_utils._ports import PortRange, parse_port

NET = ipaddress.ip_network


def test_long_syntax_is_the_short_form_with_an_allow_list():
    port = parse_port({"target": 80, "published": "8080", "protocol": "udp", "allow_from": ["fd42::/64", "10.0.0.0/8"]}, "c")
    assert (port.text, port.protocol, port.host_ports, port.target_ports) == ("8080:80/udp", "udp", PortRange(8080, 8080),
                                                                              PortRange(80, 80))
    assert port.spec == "8080:80/udp from 10.0.0.0/8,fd42::/64", "sorted by family, then address"
    assert port.sources(4) == [NET("10.0.0.0/8")] and port.sources(6) == [NET("fd42::/64")]
    assert parse_port("8080:80", "c").sources(4) is None, "no list: everyone"
    assert parse_port({"target": 80, "published": 8080, "allow_from": ["10.0.0.0/8"]}, "c").sources(6) == [], "nobody on IPv6"
    assert parse_port({"target": 443, "published": 8443, "host_ip": "::1"}, "c").host_ip == ipaddress.ip_address("::1")


@pytest.mark.parametrize("value, fragment", [
    ({"target": 80}, "'published'"),
    ({"published": 80}, "'target'"),
    ({"target": 80, "published": 80, "mode": "host"}, "unknown keys ['mode']"),
    ({"target": 80, "published": 80, "allow_from": "nope"}, "allow_from 'nope' is not a network"),
    ({"target": 80, "published": 80, "allow_from": []}, "non-empty list"),
    ({"target": 80, "published": 80, "host_ip": "10.1.0.1", "allow_from": ["fd42::/64"]}, "no IPv4 range"),
])
def test_long_syntax_refusals_name_the_container_and_the_problem(value, fragment):
    with pytest.raises(InvalidInput, match="^c1: ") as err:
        parse_port(value, "c1")
    assert fragment in str(err.value)


def test_gateway_modes_and_masquerade():
    base = {"name": "n", "subnet": "10.5.0.0/24", "subnet6": "fd42:5::/64"}
    net = normalize_network(dict(base, gateway_mode="routed"))
    assert (net.gateway_mode, net.gateway_mode6, net.masquerade, net.masquerade6) == ("routed", "nat", False, True)
    assert normalize_network(base).gateway_mode == "nat", "nat is the default"
    with pytest.raises(InvalidInput, match="gateway_mode6 routed and masquerade6 true conflict"):
        normalize_network(dict(base, gateway_mode6="routed", masquerade6=True))


def test_protection_is_one_rule_whatever_the_number_of_ports():
    open_ports = tuple(OpenPort(ipaddress.ip_address(f"10.5.0.{i}"), "tcp", PortRange(80, 81)) for i in range(2, 200))
    rules = ForwardRules(None, NET("10.5.0.0/24"), bridge="br-n", protect=True, trusted=(NET("10.244.0.0/16"),),
                         open_ports=open_ports, forward_accept=False)
    tag = rules.tag
    drops = [r for r in rules.nft_rules(tag, "t") if r.endswith(f'drop comment "{rules._comment(tag)}"')]
    assert len(drops) == 1 and "ip saddr != { 10.244.0.0/16 }" in drops[0] and "0.0.0.0/0 . 10.5.0.2-10.5.0.199 . 6-6 . 80-81 }" in drops[0]
    assert ForwardRules(None, NET("10.5.0.0/24"), bridge="br-n").tag != tag


def test_policy_compiles_peers_and_ports_to_triples():
    rules = parse_policy([{"from": ["web1", {"network": "back"}, "10.9.0.0/16"], "ports": ["80/tcp", "53/udp", "udp"]},
                          {"ports": ["8000-8080"]}], "ingress", "c")
    resolved = {("container", "web1"): [NET("10.5.0.2/32"), NET("fd42:5::2/128")], ("network", "back"): [NET("10.6.0.0/24")]}
    triples = compile_rules(rules, lambda peer: resolved[peer])
    assert (NET("10.5.0.2/32"), "6", "80-80") in triples and (NET("fd42:5::2/128"), "17", "53-53") in triples
    assert (NET("10.9.0.0/16"), "17", "0-65535") in triples, "a protocol alone: every port of it"
    assert (NET("::/0"), "6", "8000-8080") in triples, "no peers: every peer of both families"
    policy = ContainerPolicy("n", "c", triples, None)
    script = policy.script()
    assert not any(" output " in line for line in script), "no egress rules: no output chain"
    assert sum(" . meta l4proto . th dport {" in line for line in script) == 2, "one set per family"
    assert compile_rules(parse_policy([], "egress", "c"), None) == (), "an empty list allows nothing"
    assert parse_policy(None, "egress", "c") is None


@pytest.mark.parametrize("value, fragment", [
    ({"from": ["a"]}, "must be a list of rules"),
    ([{"to": ["a"], "ports": ["80/icmp"]}], "protocol 'icmp'"),
    ([{"to": ["a"], "ports": ["0/tcp"]}], "port 0 is out of range"),
    ([{"to": ["a"], "ports": ["90-80/tcp"]}], "ends before it starts"),
    ([{"to": [{"pod": "a"}]}], "must name one of container, network, cidr"),
    ([{"to": ["10.1.0.1/16"]}], "no host bits"),
    ([{"to": ["a"], "from": ["b"]}], "unknown keys ['from']"),
])
def test_policy_refusals_name_the_rule(value, fragment):
    with pytest.raises(InvalidInput, match="^network 'n': container 'c'") as err:
        parse_policy(value, "egress", "network 'n': container 'c'")
    assert fragment in str(err.value)


def test_overlapping_rules_become_disjoint_set_elements():
    """nft refuses overlapping elements in a set of concatenations: a network on every port beside one of its
    containers on one port, or two ranges that overlap, are cut into pieces that do not overlap and cover the same."""
    rules = parse_policy([{"from": ["10.0.0.0/8"], "ports": ["1-100/tcp"]}, {"from": ["10.100.0.0/16"], "ports": ["50-200/tcp"]},
                          {"from": ["10.100.0.2/32"]}, {"from": ["10.100.0.2/32"], "ports": ["80/tcp"]}], "ingress", "c")
    triples = compile_rules(rules, None)
    boxes = boxes_of(triples, 4)

    def covered(address, proto, port):
        ip = int(ipaddress.ip_address(address))
        return sum(1 for (a1, a2), (p1, p2), (d1, d2) in boxes if a1 <= ip <= a2 and p1 <= proto <= p2 and d1 <= port <= d2)
    for address, proto, port, expected in (("10.1.0.1", 6, 100, 1), ("10.1.0.1", 6, 101, 0), ("10.100.9.9", 6, 150, 1),
                                           ("10.100.9.9", 6, 20, 1), ("10.100.9.9", 17, 20, 0), ("10.100.0.2", 17, 5, 1),
                                           ("10.100.0.2", 6, 80, 1), ("11.0.0.1", 6, 80, 0)):
        assert covered(address, proto, port) == expected, (address, proto, port)
    for i, x in enumerate(boxes):
        for y in boxes[i + 1:]:
            assert not all(u[0] <= v[1] and v[0] <= u[1] for u, v in zip(x, y)), f"{x} and {y} overlap"


def test_routed_open_ports_with_overlapping_allow_lists_become_disjoint_elements():
    """Two allow-listed ranges, one inside the other, on one container port: one element (nft refuses overlaps)."""
    c = ipaddress.ip_address("10.5.0.2")
    ports = (OpenPort(c, "tcp", PortRange(80, 80), (NET("10.0.0.0/8"), NET("10.1.0.0/16"))),
             OpenPort(c, "tcp", PortRange(80, 80), None), OpenPort(c, "udp", PortRange(53, 53), (NET("10.1.0.0/16"),)))
    rules = ForwardRules(None, NET("10.5.0.0/24"), bridge="br-n", protect=True, open_ports=ports[:1], forward_accept=False)
    assert "{ 10.0.0.0/8 . 10.5.0.2 . 6-6 . 80-80 }" in rules.nft_rules(rules.tag, "t")[0]
    rules = ForwardRules(None, NET("10.5.0.0/24"), bridge="br-n", protect=True, open_ports=ports, forward_accept=False)
    rule = rules.nft_rules(rules.tag, "t")[0]
    elements = rule[rule.index("dport != {") + len("dport != {"):rule.index("} counter drop")].split(",")
    assert sorted(e.strip() for e in elements) == [
        "0.0.0.0-10.0.255.255 . 10.5.0.2 . 6-6 . 80-80",
        "10.1.0.0/16 . 10.5.0.2 . 17-17 . 53-53", "10.1.0.0/16 . 10.5.0.2 . 6-6 . 80-80",
        "10.2.0.0-255.255.255.255 . 10.5.0.2 . 6-6 . 80-80"], "every source on tcp 80, and 10.1.0.0/16 on udp 53"


def test_what_is_in_force_is_read_back_from_the_rules_comments():
    subnet, subnet6 = ipaddress.ip_network("10.5.0.0/24"), ipaddress.ip_network("fd42:5::/64")
    routed = ForwardRules(None, subnet, bridge="br5", protect=True, gateway_mode="routed", icc=False, policy=True)
    plain = ForwardRules(None, subnet6, bridge="br5")
    internal = ForwardRules(None, ipaddress.ip_network("10.6.0.0/24"), bridge="br6", internal=True, forward_accept=False)
    comments = [routed._comment(routed.tag), plain._comment(plain.tag), "someone else's", "linuxns.net 10.5.0.0/24 0123abcd",
                internal._comment(internal.tag)]
    assert routed.note == "routed,icc-off,policy" and plain.note is None, "networks without any keep the 1.0 comment"
    assert internal.note == "internal"
    assert forwarding_in_force(comments) == [
        {"source": "10.5.0.0/24", "gateway_mode": "routed", "icc": False, "policy": True, "internal": False},
        {"source": "10.6.0.0/24", "gateway_mode": "nat-unprotected", "icc": True, "policy": False, "internal": True},
        {"source": "fd42:5::/64", "gateway_mode": "nat-unprotected", "icc": True, "policy": False, "internal": False}]
    nat = ForwardRules(None, subnet, bridge="br5", protect=True, gateway_mode="nat")
    assert nat.tag != routed.tag and ForwardRules(None, subnet, bridge="br5", protect=True, gateway_mode="routed").tag \
        != nat.tag, "a change of mode changes the rules"
