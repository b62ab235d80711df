"""Published port forms and claims, and hosts files, as pure functions (no kernel, no Ansible)."""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.linuxns.net.plugins.module_utils._errors import Conflict, InvalidInput
from ansible_collections.linuxns.net.plugins.module_utils._firewall_backends import RuleTag
from ansible_collections.linuxns.net.plugins.module_utils._hosts import HEADER, entries, read_blocks, render
from ansible_collections.linuxns.net.plugins.module_utils._port_forward import published_in_force
from ansible_collections.linuxns.net.plugins.module_utils._ports import (
    ALL, Claim, PortRange, check_claims, parse_port, _nft_claims, _save_claims)


@pytest.mark.parametrize("text, protocol, host, host_ports, target_ports", [
    ("8080:80", "tcp", None, (8080, 8080), (80, 80)),
    ("8080:80/udp", "udp", None, (8080, 8080), (80, 80)),
    ("8080:80/SCTP", "sctp", None, (8080, 8080), (80, 80)),
    ("127.0.0.1:8443:443", "tcp", "127.0.0.1", (8443, 8443), (443, 443)),
    ("198.51.100.11:8080:80", "tcp", "198.51.100.11", (8080, 8080), (80, 80)),
    ("0.0.0.0:8080:80", "tcp", None, (8080, 8080), (80, 80)),
    ("9000-9003:9000-9003", "tcp", None, (9000, 9003), (9000, 9003)),
    ("[::1]:8080:80", "tcp", "::1", (8080, 8080), (80, 80)),
])
def test_docker_forms(text, protocol, host, host_ports, target_ports):
    port = parse_port(text, "c")
    assert port.protocol == protocol
    assert port.host_ip == (ipaddress.ip_address(host) if host else None)
    assert tuple(port.host_ports) == host_ports and tuple(port.target_ports) == target_ports


@pytest.mark.parametrize("value, message", [
    ("0:80", "port 0 is out of range"), ("70000:80", "port 70000"), ("80:abc", "'abc' is not a port"),
    ("9000-9003:9000-9002", "same length"), ("8080:80/sctpx", "protocol 'sctpx'"), ("80", "a host port is required"),
    (1342, "quote the mapping"), (True, "must be a string"), ("::1:8080:80", "in brackets"),
    ("224.0.0.1:80:80", "multicast"), ("x.y:80:80", "is not an IP address"), ("9-8:9-8", "ends before it starts"),
])
def test_bad_forms(value, message):
    with pytest.raises(InvalidInput, match=message):
        parse_port(value, "container 'c'")


def claim(proto, host, first, last=None, owner="network:a", label=""):
    return Claim(proto, host, PortRange(first, last or first), "10.0.0.2", owner, label)


def test_claims_overlap_by_protocol_address_and_range():
    assert claim("tcp", ALL, 80).overlaps(claim("tcp", "10.0.0.1", 80))
    assert claim("tcp", "10.0.0.1", 80, 90).overlaps(claim("tcp", "10.0.0.1", 90, 95))
    assert not claim("tcp", ALL, 80).overlaps(claim("udp", ALL, 80))
    assert not claim("tcp", "10.0.0.1", 80).overlaps(claim("tcp", "10.0.0.2", 80))
    assert not claim("tcp", ALL, 80, 89).overlaps(claim("tcp", ALL, 90))
    with pytest.raises(Conflict, match="container 'x'.*network 'b'.*both claim tcp port 85 on every address"):
        check_claims([claim("tcp", ALL, 85, owner="network:a", label="container 'x'")], [claim("tcp", ALL, 80, 90, owner="network:b")])


def test_claims_round_trip_through_the_rule_comment():
    c = claim("udp", "198.51.100.11", 9000, 9003)
    assert Claim.from_token(c.token(), "network:a")[:5] == c[:5]
    assert Claim.from_token("garbage", "x") is None


def test_foreign_claims_from_iptables_save_and_nft():
    save = ["*nat", ":DOCKER - [0:0]",
            "-A DOCKER -d 127.0.0.1/32 ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80",
            "-A DOCKER ! -i docker0 -p udp -m udp --dport 53 -j DNAT --to-destination 172.17.0.3:53",
            "-A LINUXNS-NET-DNAT -p tcp -m tcp --dport 1 -j DNAT --to-destination 10.0.0.1", "COMMIT"]
    found = _save_claims(save, "iptables-nft")
    assert [(c.protocol, c.host, tuple(c.ports), c.destination) for c in found] == [
        ("tcp", "127.0.0.1", (8080, 8080), "172.17.0.2:80"), ("udp", ALL, (53, 53), "172.17.0.3:53")]
    assert "iptables-nft nat chain DOCKER" in found[0].label
    ruleset = {"nftables": [{"rule": {"family": "ip", "table": "mine", "chain": "pre", "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"set": [80, {"range": [90, 99]}]}}},
        {"dnat": {"addr": "10.9.0.2"}}]}}]}
    assert [(c.protocol, tuple(c.ports)) for c in _nft_claims(ruleset)] == [("tcp", (80, 80)), ("tcp", (90, 99))]


def test_hosts_file_blocks_round_trip():
    text = render({"front": entries({"c2": "10.0.0.3", "c1": "10.0.0.2"}), "back": ["10.1.0.2\tc1"]})
    assert text.startswith(HEADER) and "127.0.0.1\tlocalhost" in text
    assert read_blocks(text) == {"back": ["10.1.0.2\tc1"], "front": ["10.0.0.2\tc1", "10.0.0.3\tc2"]}
    assert read_blocks("10.0.0.1 mine\n") is None, "a file the collection did not write"


def test_published_ports_in_force_are_read_back_from_nft_and_iptables_rules():
    tag4, tag6 = RuleTag("ports:network:acc", "23e1be4d15f0"), RuleTag("ports6:network:acc", "e3abd016df2f")

    def rule(program, tag, text, note):
        comment = f"{tag} {note}"
        line = (f'{text} comment "{comment}"' if program == "nftables"
                else text.replace("COMMENT", f'-m comment --comment "{comment}"'))
        return program, line, tag

    nft = [rule("nftables", tag4, "fib daddr type local tcp dport 8080 dnat ip to 10.23.0.3:80", "tcp/*/8080-8080/10.23.0.3"),
           rule("nftables", tag4, "ip saddr { 198.18.23.0/24, 127.0.0.1 } fib daddr type local tcp dport 8081 dnat ip to "
                "10.23.0.3:80", "tcp/*/8081-8081/10.23.0.3"),
           rule("nftables", tag4, "ip daddr 198.18.23.1 udp dport 8082 dnat ip to 10.23.0.3:82", "udp/198.18.23.1/8082-8082/10.23.0.3"),
           rule("nftables", tag4, "fib daddr type local udp dport 9000-9002 dnat ip to 10.23.0.3", "udp/*/9000-9002/10.23.0.3"),
           rule("nftables", tag4, "fib daddr type local tcp dport 9100-9101 dnat ip to tcp dport map { 9100 : 10.23.0.3 . "
                "9200, 9101 : 10.23.0.3 . 9201 }", "tcp/*/9100-9101/10.23.0.3"),
           rule("nftables", tag6, "ip6 saddr 2001:db8:23::/64 ip6 daddr != ::1 fib daddr type local tcp dport 8081 dnat ip6 "
                "to [fd42:23::3]:80", "tcp/*6/8081-8081/fd42:23::3"),
           rule("nftables", tag6, "fib daddr type local udp dport 9000-9002 dnat ip6 to fd42:23::3", "udp/*6/9000-9002/fd42:23::3"),
           # the same mapping in the output hook, and a rule that is not a DNAT
           rule("nftables", tag4, "fib daddr type local tcp dport 8080 dnat ip to 10.23.0.3:80", "tcp/*/8080-8080/10.23.0.3"),
           ("nftables", f'ip daddr 10.23.0.3 tcp dport 80 ct status dnat accept comment "{tag4}"', tag4)]
    ipt = [rule("iptables-nft", tag4, "-A LINUXNS-NET-DNAT -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 8080 COMMENT "
                "-j DNAT --to-destination 10.23.0.3:80", "tcp/*/8080-8080/10.23.0.3"),
           rule("iptables-nft", tag4, "-A LINUXNS-NET-DNAT -s 198.18.23.0/24 -p tcp -m addrtype --dst-type LOCAL -m tcp "
                "--dport 8081 COMMENT -j DNAT --to-destination 10.23.0.3:80", "tcp/*/8081-8081/10.23.0.3"),
           rule("iptables-nft", tag4, "-A LINUXNS-NET-DNAT -s 127.0.0.1/32 -p tcp -m addrtype --dst-type LOCAL -m tcp "
                "--dport 8081 COMMENT -j DNAT --to-destination 10.23.0.3:80", "tcp/*/8081-8081/10.23.0.3"),
           rule("iptables-nft", tag4, "-A LINUXNS-NET-DNAT -d 198.18.23.1/32 -p udp -m udp --dport 8082 COMMENT -j DNAT "
                "--to-destination 10.23.0.3:82", "udp/198.18.23.1/8082-8082/10.23.0.3"),
           rule("iptables-nft", tag4, "-A LINUXNS-NET-DNAT -p udp -m addrtype --dst-type LOCAL -m udp --dport 9000:9002 "
                "COMMENT -j DNAT --to-destination 10.23.0.3", "udp/*/9000-9002/10.23.0.3"),
           rule("iptables-nft", tag4, "-A LINUXNS-NET-DNAT -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 9100:9101 "
                "COMMENT -j DNAT --to-destination 10.23.0.3:9200-9201/9100", "tcp/*/9100-9101/10.23.0.3"),
           rule("ip6tables-nft", tag6, "-A LINUXNS-NET-DNAT -s 2001:db8:23::/64 ! -d ::1/128 -p tcp -m addrtype --dst-type "
                "LOCAL -m tcp --dport 8081 COMMENT -j DNAT --to-destination [fd42:23::3]:80", "tcp/*6/8081-8081/fd42:23::3"),
           rule("ip6tables-nft", tag6, "-A LINUXNS-NET-DNAT ! -d ::1/128 -p udp -m addrtype --dst-type LOCAL -m udp --dport "
                "9000:9002 COMMENT -j DNAT --to-destination fd42:23::3", "udp/*6/9000-9002/fd42:23::3")]
    expected = {
        ("tcp", "8080"): (4, None, "10.23.0.3", "80", None),
        ("tcp", "8081"): (4, None, "10.23.0.3", "80", ["127.0.0.1/32", "198.18.23.0/24"]),
        ("udp", "8082"): (4, "198.18.23.1", "10.23.0.3", "82", None),
        ("udp", "9000-9002"): (4, None, "10.23.0.3", "9000-9002", None),
        ("tcp", "9100-9101"): (4, None, "10.23.0.3", "9200-9201", None),
        ("tcp", "8081", 6): (6, None, "fd42:23::3", "80", ["2001:db8:23::/64"]),
        ("udp", "9000-9002", 6): (6, None, "fd42:23::3", "9000-9002", None)}
    for rules in (nft, ipt):
        got = {(e["protocol"], e["published"]) + ((6,) if e["family"] == 6 else ()):
               (e["family"], e["host_ip"], e["destination"], e["target"], e["allow_from"]) for e in published_in_force(rules)}
        assert got == expected
        assert all(e["owner"] == "network:acc" for e in published_in_force(rules))
