"""The fleet plan (host-gw, vxlan, auto; joins, leaves, prune), from netns_info-shaped data, without Ansible."""

from __future__ import annotations

import pytest

from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput
from ansible_collections.linuxns.net.plugins.module_utils._fleet import fleet_drift, fleet_layout, fleet_outside_member
from ansible_collections.linuxns.net.plugins.module_utils._fleet_member import fleet_member, fleet_member_namespaces
from ansible_collections.linuxns.net.plugins.module_utils._network_spec import _remote_containers

OPTIONS = {"cidr": "10.244.0.0/16", "cidr6": "fd42::/48", "mode": "auto"}


def info(address, address6, bridge=(), routes=(), vxlan=False, mtu=1500):
    """A host's netns_info host view: eth0 on the underlay, maybe br-fleet, maybe the VXLAN device."""
    prefix = 24
    links = [{"name": "eth0", "mtu": mtu, "addresses": [f"{address}/{prefix}", f"{address6}/64", "fe80::1/64"]}]
    if bridge:
        links.append({"name": "br-fleet", "mtu": 1500, "addresses": list(bridge)})
    if vxlan:
        links.append({"name": "vxlan.fleet", "mtu": 1450, "addresses": []})
    return {"host": {"links": links, "routes": list(routes)}}


def members(layout, **states):
    """host -> fleet_member, for hosts given as host -> (address, address6) or (address, address6, info kwargs)."""
    out = {}
    for host, spec in layout.items():
        address, address6, *more = spec
        out[host] = fleet_member(info(address, address6, **(more[0] if more else {})), "br-fleet", address,
                                 state=states.get(host, "present"), vxlan_device="vxlan.fleet")
    return out


FLAT = {"h1": ("198.51.100.11", "2001:db8:100::11"), "h2": ("198.51.100.12", "2001:db8:100::12"),
        "h3": ("198.51.100.13", "2001:db8:100::13")}
ROUTED = {"h1": ("198.51.100.11", "2001:db8:100::11"), "h2": ("198.19.2.11", "2001:db8:102::11"),
          "h3": ("198.51.100.13", "2001:db8:100::13")}


def test_a_flat_fleet_is_host_gw_both_families_without_overlay():
    plans = fleet_layout(members(FLAT), OPTIONS)
    assert plans["h1"]["subnet"] == "10.244.0.0/24" and plans["h1"]["subnet6"] == "fd42::/64"
    assert plans["h1"]["routes"] == [
        {"dest": "10.244.1.0/24", "gateway": "198.51.100.12", "state": "present"},
        {"dest": "fd42:0:0:1::/64", "gateway": "2001:db8:100::12", "state": "present"},
        {"dest": "10.244.2.0/24", "gateway": "198.51.100.13", "state": "present"},
        {"dest": "fd42:0:0:2::/64", "gateway": "2001:db8:100::13", "state": "present"}]
    assert all(p["vxlan"] is None and p["mtu"] is None for p in plans.values()), "no overlay, MTU left alone"


def test_auto_on_a_routed_underlay_mixes_host_gw_and_the_overlay():
    plans = fleet_layout(members(ROUTED), OPTIONS)
    h1 = plans["h1"]
    assert h1["routes"] == [{"dest": "10.244.2.0/24", "gateway": "198.51.100.13", "state": "present"},
                            {"dest": "fd42:0:0:2::/64", "gateway": "2001:db8:100::13", "state": "present"}]
    assert h1["vxlan"] == {
        "name": "vxlan.fleet", "state": "present", "vni": 1, "port": 4789, "local": "198.51.100.11", "purge_peers": False,
        "addresses": ["10.244.0.0/32", "fd42::/128"],
        "peers": [{"address": "198.19.2.11", "vtep_addresses": ["10.244.1.0", "fd42:0:0:1::"],
                   "subnets": ["10.244.1.0/24", "fd42:0:0:1::/64"], "state": "present"}]}
    assert [p["address"] for p in plans["h2"]["vxlan"]["peers"]] == ["198.51.100.11", "198.51.100.13"]
    assert plans["h2"]["routes"] == []
    assert {p["mtu"] for p in plans.values()} == {1450}, "one MTU for the whole fleet: the underlay's less 50"


def test_vxlan_mode_puts_every_peer_on_the_overlay_and_host_gw_refuses_a_routed_underlay():
    plans = fleet_layout(members(FLAT), dict(OPTIONS, mode="vxlan", vni=77, port=8472))
    assert plans["h1"]["routes"] == [] and len(plans["h1"]["vxlan"]["peers"]) == 2
    assert (plans["h1"]["vxlan"]["vni"], plans["h1"]["vxlan"]["port"]) == (77, 8472)
    with pytest.raises(InvalidInput, match=r"host-gw needs the hosts on one link, and host 'h2' \(198.19.2.11\) is not on a "
                                           r"network of host 'h1''s underlay link \(198.51.100.0/24, 2001:db8:100::/64\)"):
        fleet_layout(members(ROUTED), dict(OPTIONS, mode="host-gw"))


def test_a_host_leaving_is_forgotten_by_the_others_in_the_same_run():
    layout = dict(ROUTED)
    layout["h2"] = ROUTED["h2"] + ({"bridge": ["10.244.1.1/24", "fd42:0:0:1::1/64"], "vxlan": True},)
    layout["h1"] = ROUTED["h1"] + ({"vxlan": True},)
    plans = fleet_layout(members(layout, h2="absent"), OPTIONS)
    assert {"dest": "10.244.1.0/24", "state": "absent"} in plans["h1"]["routes"]
    # h2 is forgotten; h3, reached host-gw, has no overlay entries to keep either (the device exists: say so)
    assert plans["h1"]["vxlan"]["peers"] == [
        {"address": "198.19.2.11", "vtep_addresses": ["10.244.1.0", "fd42:0:0:1::"],
         "subnets": ["10.244.1.0/24", "fd42:0:0:1::/64"], "state": "absent"},
        {"address": "198.51.100.13", "vtep_addresses": ["10.244.2.0", "fd42:0:0:2::"],
         "subnets": ["10.244.2.0/24", "fd42:0:0:2::/64"], "state": "absent"}]
    assert plans["h2"]["vxlan"] == {"name": "vxlan.fleet", "state": "absent"}
    assert all(r["state"] == "absent" for r in plans["h2"]["routes"])
    assert plans["h1"]["mtu"] is None, "the fleet that stays shares a link: no overlay, no MTU to lower"


def test_prune_removes_routes_of_hosts_no_longer_in_the_play_and_only_then():
    stale = [{"dest": "10.244.9.0/24", "gateway": "198.51.100.19", "dev": "eth0"},
             {"dest": "192.168.7.0/24", "gateway": "198.51.100.1", "dev": "eth0"}]
    layout = dict(FLAT, h1=FLAT["h1"] + ({"routes": stale},))
    assert all(r["state"] == "present" for r in fleet_layout(members(layout), OPTIONS)["h1"]["routes"])
    pruned = fleet_layout(members(layout), dict(OPTIONS, prune=True))["h1"]["routes"]
    assert pruned[-1] == {"dest": "10.244.9.0/24", "state": "absent"} and len(pruned) == 5, "not the route outside the cluster"


@pytest.mark.parametrize("options, message", [
    ({"mode": "mesh"}, "mode 'mesh' must be one of host-gw, vxlan, auto"),
    ({"vni": 0}, "VXLAN vni 0 must be an integer from 1 to 16777215"),
    ({"vni": 2 ** 24}, "VXLAN vni 16777216"),
    ({"port": 70000}, "VXLAN port 70000 must be an integer from 1 to 65535"),
    ({"device": "a-very-long-device"}, "at most 15"),
    ({"mtu": 20}, "mtu 20 must be an integer from 68"),
    ({"cidr": None, "cidr6": None}, "give a cluster range"),
])
def test_bad_fleet_options_are_named(options, message):
    with pytest.raises(InvalidInput, match=message):
        fleet_layout(members(FLAT), dict(OPTIONS, **options))


def test_an_ipv6_underlay_for_the_overlay_keeps_host_gw_over_ipv4():
    """fleet_network_address IPv6: the overlay runs over IPv6 (MTU less 70), host-gw keeps the link's IPv4 address."""
    out = {}
    for host, (address, address6) in ROUTED.items():
        out[host] = fleet_member(info(address, address6), "br-fleet", address6, vxlan_device="vxlan.fleet")
    plans = fleet_layout(out, OPTIONS)
    assert plans["h1"]["routes"][0] == {"dest": "10.244.2.0/24", "gateway": "198.51.100.13", "state": "present"}
    assert plans["h1"]["vxlan"]["local"] == "2001:db8:100::11"
    assert [p["address"] for p in plans["h1"]["vxlan"]["peers"]] == ["2001:db8:102::11"]
    assert plans["h1"]["mtu"] == 1430


def test_the_role_makes_two_module_calls_per_host():
    """fleet_network: netns_info reads, container_network converges; the rest is controller work (set_fact)."""
    import pathlib
    import yaml
    tasks = yaml.safe_load((pathlib.Path(__file__).resolve().parents[4] / "roles/fleet_network/tasks/main.yml").read_text())
    modules = [next(k for k in task if "." in k) for task in tasks]
    assert [m for m in modules if m != "ansible.builtin.set_fact"] == ["linuxns.net.netns_info", "linuxns.net.container_network"]


def test_container_names_in_policies_resolve_to_their_addresses_on_every_host():
    """app1 accepts TCP 80 from app2 (on any host) and from app3 on h3 only; the addresses are those each host's run
    gives: kept where a container has one (h2's app2 keeps .9), else the lowest free in list order."""
    policy = [{"from": ["app2", "app3.h3"], "ports": ["80/tcp"]}]
    containers = [{"name": "app1", "ingress": policy}, "app2", "app3"]
    out = {}
    for host, (address, address6) in FLAT.items():
        result = info(address, address6)
        if host == "h2":
            result["namespaces"] = {"app2": {"links": [{"name": "eth0", "addresses": ["10.244.1.9/24", "fe80::2/64"]}]}}
        out[host] = fleet_member(result, "br-fleet", address, containers=containers)
    plans = fleet_layout(out, OPTIONS)
    peers = plans["h1"]["policy_peers"]
    assert peers == plans["h3"]["policy_peers"], "the same for every host"
    assert peers["app2"] == ["10.244.0.3/32", "fd42::3/128", "10.244.1.9/32", "fd42:0:0:1::3/128",
                             "10.244.2.3/32", "fd42:0:0:2::3/128"]
    assert peers["app3.h3"] == ["10.244.2.4/32", "fd42:0:0:2::4/128"]
    assert set(peers) == {"app2", "app3.h3"}, "only the names policies use"
    # no policy naming a container: nothing to resolve
    plain = {h: fleet_member(info(*FLAT[h]), "br-fleet", FLAT[h][0], containers=["app1"]) for h in FLAT}
    assert fleet_layout(plain, OPTIONS)["h1"]["policy_peers"] == {}
    # a host that leaves takes its containers' addresses with it
    out["h3"]["state"] = "absent"
    assert "app3.h3" not in fleet_layout(out, OPTIONS)["h1"]["policy_peers"]


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


# ---------------------------------------------------------------- the fleet run in parts (slices, ansible-pull)

CONTAINERS = {"h1": ["app1", "app2"], "h2": [{"name": "app1", "ingress": [{"from": ["app2.h3"], "ports": ["80/tcp"]}]},
                                             "app2"],
              "h3": ["app1", "app2", "db"]}
ROUTED3 = {"h1": ("198.51.100.11", "2001:db8:100::11"), "h2": ("198.51.100.12", "2001:db8:100::12"),
           "h3": ("198.19.2.13", "2001:db8:102::13")}


def read_members(layout, state=None, containers=None):
    """Every host read by this run; state: host -> (bridge addresses, container -> addresses) it has now;
    containers: host -> its list (CONTAINERS by default)."""
    containers = containers or CONTAINERS
    out = {}
    for host, (address, address6) in layout.items():
        bridge, kept = (state or {}).get(host, ((), {}))
        result = info(address, address6, bridge=bridge)
        result["namespaces"] = {c: {"links": [{"name": "eth0", "addresses": list(a)}]} for c, a in kept.items()}
        out[host] = fleet_member(result, "br-fleet", address, containers=containers[host], vxlan_device="vxlan.fleet")
    return out


def sliced(whole, records, part, layout, containers=None):
    """The members a run of part of the fleet has: its hosts read, the others from their variables (and records)."""
    containers = containers or CONTAINERS
    return {h: whole[h] if h in part else
            fleet_outside_member(h, {"address": layout[h][0], "address6": layout[h][1], "containers": containers[h]},
                                 (records or {}).get(h))
            for h in whole}


@pytest.mark.parametrize("layout", [FLAT, ROUTED3], ids=["host-gw", "host-gw-and-overlay"])
def test_every_part_of_the_fleet_plans_its_hosts_as_the_whole_run_does(layout):
    """A fresh build, then a fleet whose host h2 left from the middle (h3 keeps the subnet and the container
    addresses it had): each host's plan is the same from the whole run, from a run of one host or two (a slice,
    ansible-pull) that knows the others by their records, and, on a fresh build, by their variables alone."""
    whole = read_members(layout)
    plans = fleet_layout(whole, OPTIONS)
    for part in (["h1"], ["h2"], ["h3"], ["h1", "h3"]):
        for records in ({h: p["record"] for h, p in plans.items()}, None):
            members = sliced(whole, records, part, layout)
            assert fleet_layout(members, OPTIONS, plan_for=part) == {h: plans[h] for h in part}, (part, bool(records))
            assert fleet_drift(members, fleet_layout(members, OPTIONS, plan_for=part), OPTIONS, part) == []
    # h3 keeps 10.244.2.0/24 and db keeps .4 after a host before it and a container before db left
    state = {"h1": (("10.244.0.1/24", "fd42::1/64"), {"app1": ["10.244.0.2", "fd42::2"]}),
             "h3": (("10.244.2.1/24", "fd42:0:0:2::1/64"),
                    {"app1": ["10.244.2.2", "fd42:0:0:2::2"], "db": ["10.244.2.4", "fd42:0:0:2::4"]})}
    fleet = {h: layout[h] for h in ("h1", "h3")}
    left = {"h1": ["app1"], "h3": ["app1", "db"]}
    whole = read_members(fleet, state, left)
    plans = fleet_layout(whole, OPTIONS)
    assert plans["h3"]["subnet"] == "10.244.2.0/24" and "db h3 10.244.2.4," in plans["h1"]["containers"]
    records = {h: p["record"] for h, p in plans.items()}
    members = sliced(whole, records, ["h1"], fleet, left)
    assert fleet_layout(members, OPTIONS, plan_for=["h1"]) == {"h1": plans["h1"]}, "the records keep it exact"
    # without records, a run of h1 alone would plan h3 afresh; the run that holds h3 says so, and how to pin it
    members = sliced(whole, None, ["h1"], fleet, left)
    assert fleet_layout(members, OPTIONS, plan_for=["h1"])["h1"] != plans["h1"]
    members = sliced(whole, None, ["h3"], fleet, left)
    notes = fleet_drift(members, fleet_layout(members, OPTIONS, plan_for=["h3"]), OPTIONS, ["h3"])
    assert notes == [
        "fleet 'fleet': host 'h3' keeps subnet 10.244.2.0/24, but a run without it would plan 10.244.1.0/24 for "
        "it: pin it (fleet_network_subnets: {h3: 10.244.2.0/24}) or share a fact cache",
        "fleet 'fleet': host 'h3' keeps subnet6 fd42:0:0:2::/64, but a run without it would plan fd42:0:0:1::/64 "
        "for it: pin it (fleet_network_subnets6: {h3: fd42:0:0:2::/64}) or share a fact cache",
        "fleet 'fleet': on host 'h3', containers ['db'] keep addresses that a run without it would not plan for "
        "them: give them fixed addresses or share a fact cache"]


def test_a_host_outside_the_run_without_known_containers_is_named():
    whole = read_members(FLAT)
    members = dict(whole, h3=fleet_outside_member("h3", {"address": "198.51.100.13", "address6": "2001:db8:100::13"}))
    with pytest.raises(InvalidInput, match=r"fleet 'fleet': hosts \['h3'\] are not in this run, and their containers "
                                           r"are unknown, so their names cannot be given to the others: define "
                                           r"fleet_network_containers where every run sees it"):
        fleet_layout(members, OPTIONS, plan_for=["h1"])
    with pytest.raises(InvalidInput, match=r"hosts \['h3'\] are not in this run, and their containers are unknown, so "
                                           r"the containers that policies name cannot be found there"):
        fleet_layout(members, dict(OPTIONS, names=False), plan_for=["h1"])  # h2's app1 lets app2.h3 in
    members["h3"] = fleet_outside_member("h3", {"address": "198.51.100.13", "containers": []})
    with pytest.raises(InvalidInput, match=r"fleet 'fleet': hosts \['h3'\] are not in this run, and their IPv6 "
                                           r"underlay addresses are unknown: set fleet_network_address6"):
        fleet_layout(members, OPTIONS, plan_for=["h1"])
    with pytest.raises(InvalidInput, match=r"fleet 'fleet': hosts \['h9'\] are in this run but not in the fleet's hosts"):
        fleet_layout(whole, OPTIONS, plan_for=["h1", "h9"])
    with pytest.raises(InvalidInput, match="fleet host 'h3' \\(not in this run\\): no underlay address"):
        fleet_outside_member("h3", {"containers": []})
    with pytest.raises(InvalidInput, match="fleet host 'h3' \\(not in this run\\): its record must be a dict"):
        fleet_outside_member("h3", {"address": "198.51.100.13"}, {"colour": "red"})


def test_the_read_of_a_fleet_host_names_its_containers_namespaces_and_refuses_a_bad_request_first():
    request = {"bridge": "br-fleet", "address": "198.51.100.11", "containers": ["app1", {"name": "db"}, "bad name"]}
    assert fleet_member_namespaces(request) == ["app1", "db"], "names container_network would refuse are its to name"
    with pytest.raises(InvalidInput, match=r"fleet member of this host: give bridge and address"):
        fleet_member_namespaces({"address": "198.51.100.11"})
