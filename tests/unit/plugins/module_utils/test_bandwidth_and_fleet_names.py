"""Bandwidth rates and sizes as tc writes them; a fleet's names in a hosts file (NAME.HOST, bare names where unique,
lines kept for hosts outside a partial play), from plain data, without Ansible. The fleet plan's list: test_fleet."""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.linuxns.net.plugins.module_utils._bandwidth import (
    Bandwidth, format_rate, ifb_name, normalize_bandwidth, parse_rate, parse_size)
from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput
from ansible_collections.linuxns.net.plugins.module_utils._hosts import entries, remote_entries, remote_lines_of
from ansible_collections.linuxns.net.plugins.module_utils._network_spec import RemoteContainer


@pytest.mark.parametrize("text, rate", [("10mbit", 1_250_000), ("1gbit", 125_000_000), ("500kbps", 500_000),
                                        ("8000", 1000), ("1.5mbit", 187_500), ("1mibit", 131_072), ("10 Mbit", 1_250_000)])
def test_rates_parse_as_tc_writes_them(text, rate):
    assert parse_rate(text, "c", "bandwidth ingress") == rate


def test_sizes_bursts_and_the_canonical_rate():
    assert parse_size("64kb", "c", "burst") == 65536 and parse_size("1m", "c", "burst") == 2 ** 20
    assert parse_size(20000, "c", "burst") == 20000
    assert format_rate(1_250_000) == "10mbit" and format_rate(125_000_000) == "1gbit" and format_rate(187_500) == "1500kbit"
    assert normalize_bandwidth({"ingress": "10mbit", "egress": None}, "c") == Bandwidth(1_250_000, None, None)
    # the default burst: 20 ms at the rate, at least 64 KiB
    assert Bandwidth(1_250_000).burst_of(1_250_000) == 65536
    assert Bandwidth(125_000_000).burst_of(125_000_000) == 2_500_000
    assert ifb_name("veth0123456789"[:13]) == "ifb012345678"
    for bad in ({"ingress": "fast"}, {"ingress": "10mbit", "speed": 1}, {"burst": "1mb"}, "10mbit",
                {"egress": "-1mbit"}, {"ingress": "100tbit"}):
        with pytest.raises(InvalidInput):
            normalize_bandwidth(bad, "network 'n': container 'c'")


def remote(name, host, *addresses, aliases=()):
    return RemoteContainer(name, host, tuple(ipaddress.ip_address(a) for a in addresses), tuple(aliases))


def test_remote_names_qualified_everywhere_bare_where_unique_and_never_over_a_local_name():
    local = entries({"app1": ipaddress.ip_address("10.1.0.2")}, {"app1": ("web",)}, fleet_host="h1")
    assert local == ["10.1.0.2\tapp1 web app1.h1 web.h1"]
    lines = remote_entries([remote("app1", "h2", "10.1.1.2", "fd42:1::2"), remote("app1", "h3", "10.1.2.2"),
                            remote("db", "h3", "10.1.2.3", aliases=["pg"]), remote("web", "h2", "10.1.1.3")],
                           {"app1", "web"})
    assert lines == ["10.1.1.2\tapp1.h2  # host h2", "fd42:1::2\tapp1.h2  # host h2",
                     "10.1.1.3\tweb.h2  # host h2",
                     "10.1.2.2\tapp1.h3  # host h3", "10.1.2.3\tdb.h3 pg.h3 db pg  # host h3"]
    # a play over h1 and h2 only keeps h3's lines as they are, and reads them back
    kept = remote_lines_of(lines, {"h1", "h2"})
    assert sorted(kept) == [("app1", "h3", ["10.1.2.2"], []), ("db", "h3", ["10.1.2.3"], ["pg"])]
    assert remote_lines_of(lines, {"h1", "h2", "h3"}) == []
