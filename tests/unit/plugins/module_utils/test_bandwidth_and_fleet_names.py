"""Bandwidth rates and sizes as tc writes them; a fleet's names (NAME.HOST, bare names where unique, lines kept for
hosts outside a partial play), from plain data, without Ansible."""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.linuxns.net.plugins.module_utils._bandwidth import (
    Bandwidth, format_rate, ifb_name, normalize_bandwidth, parse_rate, parse_size)
from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput
from ansible_collections.linuxns.net.plugins.module_utils._fleet import fleet_layout, fleet_member
from ansible_collections.linuxns.net.plugins.module_utils._hosts import entries, remote_entries, remote_lines_of
from ansible_collections.linuxns.net.plugins.module_utils._network_spec import RemoteContainer, _remote_containers

from test_fleet import FLAT, OPTIONS, info


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


def test_the_fleet_plan_lists_every_hosts_containers_once_for_all_hosts():
    members = {h: fleet_member(info(*FLAT[h]), "br-fleet", FLAT[h][0],
                               containers=["app1", {"name": f"only-{h}", "aliases": ["x"]}]) for h in FLAT}
    plans = fleet_layout(members, OPTIONS)
    assert plans["h1"]["containers"] == plans["h2"]["containers"], "one text for every host"
    assert "only-h2 h2 10.244.1.3,fd42:0:0:1::3 x\n" in plans["h1"]["containers"]
    listed = _remote_containers("fleet", plans["h1"]["containers"], "h1")
    assert len(listed) == 4, "h1's own are left out"
    listed = [{"name": c.name, "host": c.host, "addresses": [str(a) for a in c.addresses], "aliases": list(c.aliases)}
              for c in _remote_containers("fleet", plans["h1"]["containers"], "nobody")]
    assert {(c["host"], c["name"]) for c in listed} == {(h, n) for h in FLAT for n in ("app1", f"only-{h}")}
    first = next(c for c in listed if c["host"] == "h1" and c["name"] == "app1")
    assert first["addresses"] == ["10.244.0.2", "fd42::2"]
    assert next(c for c in listed if c["name"] == "only-h2")["aliases"] == ["x"]
    assert fleet_layout(members, dict(OPTIONS, names=False))["h1"]["containers"] == ""
    assert fleet_layout(members, dict(OPTIONS, names="false"))["h1"]["containers"] == "", "-e names=false is text"
    with pytest.raises(InvalidInput, match="fleet: names 'maybe' must be true or false"):
        fleet_layout(members, dict(OPTIONS, names="maybe"))
    members["h3"]["state"] = "absent"
    assert " h3 " not in fleet_layout(members, OPTIONS)["h1"]["containers"], "a host that leaves"
