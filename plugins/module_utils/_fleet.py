# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A fleet, planned on the controller (by the fleet_network role's filters) from each host's netns_info view: a
stable subnet per host and family, and how each host reaches each other host's subnets: a route via its underlay
address when they share a link (flannel's host-gw), or the VXLAN overlay where the underlay is routed.

Pure functions of their inputs, so they are tested without Ansible."""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass, field

from ansible_collections.linuxns.net.plugins.module_utils import _validate as validate
from ansible_collections.linuxns.net.plugins.module_utils._defaults import VXLAN_OVERHEAD, VXLAN_PORT, VXLAN_VNI_MAX
from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput
from ansible_collections.linuxns.net.plugins.module_utils._addressing import container_addresses
from ansible_collections.linuxns.net.plugins.module_utils._fleet_member import _family
from ansible_collections.linuxns.net.plugins.module_utils._container_items import container_items
from ansible_collections.linuxns.net.plugins.module_utils._network_spec import normalize_containers
from ansible_collections.linuxns.net.plugins.module_utils._policy import peer_names

MODES = ("host-gw", "vxlan", "auto")


def fleet_subnet_layout(cluster_cidr, host_prefix, hosts, fixed=None, current=None):
    """Host -> subnet: fixed ones first, then the subnet each host's bridge already has, then the lowest free ones."""
    cluster = validate.container_subnet(validate.network(cluster_cidr, "fleet cluster CIDR"), "fleet: cluster CIDR")
    if not cluster.prefixlen <= int(host_prefix) <= cluster.max_prefixlen - 2:
        raise InvalidInput(f"fleet: host prefix /{host_prefix} does not fit in cluster {cluster} "
                           f"(it must be from /{cluster.prefixlen} to /{cluster.max_prefixlen - 2})")
    fixed = fixed or {}
    current = current or {}
    unknown = sorted(set(fixed) - set(hosts))
    if unknown:
        raise InvalidInput(f"fleet: fixed subnets name hosts that are not in the fleet (the play, or fleet_network_hosts): {unknown}")
    assigned = {}

    def claim(host, value, what):
        net = validate.network(value, f"fleet: {what} subnet of host '{host}'")
        if net.prefixlen != int(host_prefix) or not net.subnet_of(cluster):
            if what == "current":
                return False  # a bridge from another layout: the host gets a new subnet
            raise InvalidInput(f"fleet: {what} subnet {net} of host '{host}' is not a /{host_prefix} inside {cluster}")
        for other, taken in assigned.items():
            if taken.overlaps(net):
                if what == "current":
                    return False
                raise InvalidInput(f"fleet: subnet {net} of host '{host}' overlaps {taken} of host '{other}'")
        assigned[host] = net
        return True

    for host in hosts:
        if host in fixed:
            claim(host, fixed[host], "fixed")
    for host in hosts:
        if host not in assigned and current.get(host):
            claim(host, current[host], "current")
    free = (net for net in cluster.subnets(new_prefix=int(host_prefix))
            if not any(net.overlaps(t) for t in assigned.values()))
    for host in hosts:
        if host not in assigned:
            net = next(free, None)
            if net is None:
                raise InvalidInput(f"fleet: cluster {cluster} is full: no /{host_prefix} left for host '{host}' "
                                   f"({len(hosts)} hosts)")
            assigned[host] = net
    return {host: str(net) for host, net in assigned.items()}


def fleet_routes(subnets, addresses, me, state="present", subnets6=None, addresses6=None):
    """host-gw: on host me, a route to every other host's subnet via that host's underlay address, per family."""
    routes = []
    for family, subnet_of, address_of in ((4, subnets or {}, addresses or {}), (6, subnets6 or {}, addresses6 or {})):
        missing = sorted(h for h in subnet_of if h != me and not address_of.get(h))
        if missing:
            raise InvalidInput(f"fleet: no IPv{family} underlay address for hosts {missing}"
                               + (": set fleet_network_address6, or give the link that holds the host's IPv4 "
                                  "underlay address a global IPv6 address" if family == 6 else ""))
        for host in sorted(subnet_of):
            if host != me:
                gateway = validate.ip_address(address_of[host], f"fleet: IPv{family} underlay address of host '{host}'")
                if gateway.version != family:
                    raise InvalidInput(f"fleet: IPv{family} underlay address of host '{host}' is {gateway}, an IPv"
                                       f"{gateway.version} address")
                routes.append({"dest": subnet_of[host], "gateway": str(gateway), "state": state})
    return routes


# ---------------------------------------------------------------- a host that this run does not include

def fleet_outside_member(host, inventory, record=None):
    """The member of a fleet host that this run does not include (a slice's, an ansible-pull's, a --limit's other
    hosts), from what every run sees and, where a fact cache is shared, what its own last run recorded.

    inventory: its variables as every run sees them (address, address6, state, containers: None when not defined).
    record: its last run's record (fleet_layout's plan[host]['record']), or None. The record gives what only the
    host knows (the subnets and container addresses it keeps, its underlay link and MTU); without one they are what
    a first build would make (the lowest free subnet, the lowest free addresses), and the underlay is presumed to be
    the known hosts' networks that hold its address."""
    where = f"fleet host '{host}' (not in this run)"
    if record is not None and (not isinstance(record, dict) or set(record) - set(RECORD_KEYS)):
        raise InvalidInput(f"{where}: its record must be a dict with keys {', '.join(RECORD_KEYS)} (as the "
                           f"fleet_network role writes it), not {record!r:.200}")
    record = record or {}
    containers = inventory.get("containers")
    if containers is None and "containers" in record:
        containers = [{"name": name} for name in record["containers"]]  # what it built last
    address = inventory.get("address") or record.get("vtep")
    if not address:
        raise InvalidInput(f"{where}: no underlay address: give it ansible_host or fleet_network_address")
    address4 = str(address) if _family(address) == 4 else record.get("address", "")
    address6 = inventory.get("address6") or (str(address) if _family(address) == 6 else record.get("address6", ""))
    kept = record.get("containers") or {}
    return {"address": address4, "address6": address6 or "", "vtep": str(address), "state": inventory.get("state") or "present",
            "subnet": record.get("subnet", ""), "subnet6": record.get("subnet6", ""),
            "underlay": record.get("underlay"), "mtu": record.get("mtu"), "routes": [], "vxlan": False,
            "containers": None if containers is None else [[item, kept.get(item.get("name"), [])]
                                                           for item in container_items(containers)],
            "source": "record" if record else "inventory"}


# ---------------------------------------------------------------- the whole fleet

@dataclass
class FleetOptions:
    name: str = "fleet"  # the network's, for messages
    cidr: str = None
    host_prefix: int = 24
    subnets: dict = field(default_factory=dict)
    cidr6: str = None
    host_prefix6: int = 64
    subnets6: dict = field(default_factory=dict)
    mode: str = "host-gw"
    vni: int = 1
    port: int = VXLAN_PORT
    device: str = "vxlan.fleet"
    prune: bool = False
    mtu: int = None
    names: bool = True  # every container resolves the fleet's others (NAME.HOST, and NAME where unique)


MEMBER_KEYS = ("address", "address6", "vtep", "state", "subnet", "subnet6", "underlay", "mtu", "routes", "vxlan")
OPTIONAL_MEMBER_KEYS = ("containers", "source")
# where a member's knowledge comes from: read (this run read the host), record (its last run's record, from a fact
# cache), inventory (only what every run sees: its variables; the rest as a first build would make it)
SOURCES = ("read", "record", "inventory")
RECORD_KEYS = ("address", "address6", "vtep", "subnet", "subnet6", "underlay", "mtu", "containers")


def _options(raw):
    if not isinstance(raw or {}, dict):
        raise InvalidInput(f"fleet: the options must be a dict, not {type(raw).__name__}")
    unknown = sorted(set(raw or {}) - {f.name for f in dataclasses.fields(FleetOptions)})
    if unknown:
        raise InvalidInput(f"fleet: unknown options {unknown} (known: {', '.join(f.name for f in dataclasses.fields(FleetOptions))})")
    opts = FleetOptions(**{k: v for k, v in (raw or {}).items() if v is not None})
    if opts.mode not in MODES:
        raise InvalidInput(f"fleet: mode {opts.mode!r} must be one of {', '.join(MODES)}")
    if not opts.cidr and not opts.cidr6:
        raise InvalidInput("fleet: give a cluster range: fleet_network_cidr, fleet_network_cidr6, or both")
    for what, value, low, high in (("vni", opts.vni, 1, VXLAN_VNI_MAX), ("port", opts.port, 1, 65535)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidInput(f"fleet: VXLAN {what} {value!r} must be an integer from {low} to {high}")
    validate.interface_name(opts.device, "fleet VXLAN device")
    for what in ("prune", "names"):  # -e fleet_network_prune=false is text: read it as Ansible's bool filter does
        value = getattr(opts, what)
        if not isinstance(value, bool):
            text = str(value).strip().lower()
            if text not in ("true", "false", "yes", "no", "on", "off", "1", "0"):
                raise InvalidInput(f"fleet: {what} {value!r} must be true or false")
            setattr(opts, what, text in ("true", "yes", "on", "1"))
    if opts.mtu is not None:
        validate.mtu(opts.mtu, "fleet network")
    return opts


def fleet_layout(members, options, plan_for=None):
    """Host -> what that host builds: its subnets, the network's MTU, its host-gw routes (netns_route items), its
    VXLAN device (linuxns.net.vxlan options, or None when it needs none), and its record (what a run that does not
    include it needs to know of it, for a fact cache).

    members: host -> fleet_member(...) or fleet_outside_member(...), in the fleet's order (which gives new hosts
    their subnets). A member with state absent leaves: it removes all of its own, and the others forget it (its
    routes and overlay entries) in the same run. plan_for: the hosts to plan (this run's; all by default)."""
    opts = _options(options)
    for host, member in members.items():
        if not isinstance(member, dict):
            raise InvalidInput(f"fleet: host '{host}': its member must be a dict made by linuxns.net.fleet_member")
        unknown = sorted(set(member) - set(MEMBER_KEYS) - set(OPTIONAL_MEMBER_KEYS))
        missing = sorted(set(MEMBER_KEYS) - set(member))
        if unknown or missing or member.get("source", "read") not in SOURCES:
            raise InvalidInput(f"fleet: host '{host}': its member has unknown keys {unknown} and lacks {missing} "
                               "(make it with linuxns.net.fleet_member)")
    hosts = list(members)
    plan_for = hosts if plan_for is None else list(plan_for)
    strangers = sorted(set(plan_for) - set(hosts))
    if strangers:
        raise InvalidInput(f"fleet '{opts.name}': hosts {strangers} are in this run but not in the fleet's hosts "
                           "(fleet_network_hosts)")
    unknown_lists = [h for h in hosts if members[h].get("containers", []) is None and members[h]["state"] == "present"]
    if unknown_lists and opts.names:
        raise InvalidInput(
            f"fleet '{opts.name}': hosts {unknown_lists} are not in this run, and their containers are unknown, so "
            "their names cannot be given to the others: define fleet_network_containers where every run sees it "
            "(the inventory's host_vars or group_vars, or group_vars beside the playbook), or share a fact cache "
            "between the runs (see the Scale page)")
    members = {h: dict(m, containers=m.get("containers") or []) if h in unknown_lists else m for h, m in members.items()}
    if opts.cidr6:  # a run reads the IPv6 underlay address off a host's link; a host outside it must be told
        unknown6 = [h for h, m in members.items() if m.get("source") == "inventory" and not m["address6"]
                    and m["state"] == "present"]
        if unknown6:
            raise InvalidInput(f"fleet '{opts.name}': hosts {unknown6} are not in this run, and their IPv6 underlay "
                               "addresses are unknown: set fleet_network_address6 where every run sees it, or share "
                               "a fact cache (see the Scale page)")
    families = [(4, opts.cidr, opts.host_prefix, opts.subnets, "subnet", "address"),
                (6, opts.cidr6, opts.host_prefix6, opts.subnets6, "subnet6", "address6")]
    subnets = {}
    for family, cidr, prefix, fixed, key, _addr in families:
        if cidr:
            subnets[family] = fleet_subnet_layout(cidr, prefix, hosts, fixed, {h: m[key] for h, m in members.items()})
    present = [h for h in hosts if members[h]["state"] == "present"]

    def address_of(host, family):
        return members[host]["address" if family == 4 else "address6"]

    links = {h: [ipaddress.ip_network(n) for n in m["underlay"]] for h, m in members.items() if m["underlay"] is not None}
    known_links = {n for nets in links.values() for n in nets}
    for host, member in members.items():  # a host no run has read nor recorded: on the known networks with its address
        if member["underlay"] is None:
            there = [ipaddress.ip_address(a) for a in (member["address"], member["address6"]) if _family(a)]
            links[host] = sorted((n for n in known_links if any(a.version == n.version and a in n for a in there)),
                                 key=str)

    # each host's underlay address per family, parsed once (a fleet of N hosts asks of N squared pairs)
    underlay_ip = {}
    for host, member in members.items():
        for family, key in ((4, "address"), (6, "address6")):
            there = member[key]
            underlay_ip[host, family] = (validate.ip_address(there, f"fleet: IPv{family} underlay address of host '{host}'")
                                         if there and _family(there) == family else None)
    gateway_text = {key: str(ip) for key, ip in underlay_ip.items() if ip is not None}
    present_set = set(present)
    reach_of = {}  # (a host's underlay networks, family) -> the hosts whose address of that family is on one of them

    reach_by_host = {}

    def reach(me, family):
        if (me, family) not in reach_by_host:
            key = (tuple(links[me]), family)
            if key not in reach_of:
                nets = [n for n in links[me] if n.version == family]
                reach_of[key] = frozenset(h for h in members if underlay_ip[h, family] is not None
                                          and any(underlay_ip[h, family] in n for n in nets))
            reach_by_host[me, family] = reach_of[key]
        return reach_by_host[me, family]

    def direct(me, peer, family):
        """host-gw between me and peer for that family: both have an underlay address of it, on one link (the peer's
        address is on a network of my underlay link)."""
        if opts.mode == "vxlan" or underlay_ip[me, family] is None or underlay_ip[peer, family] is None:
            return False
        return peer in reach(me, family)

    def not_direct(me, family):
        """The present hosts that me does not reach directly in that family."""
        if opts.mode == "vxlan" or underlay_ip[me, family] is None:
            return sorted(present_set - {me}, key=present.index)
        return sorted(present_set - reach(me, family) - {me}, key=present.index)

    if opts.mode == "host-gw":
        for me in present:
            for family in subnets:
                for peer in not_direct(me, family)[:1]:
                    there = address_of(peer, family) or f"no IPv{family} underlay address"
                    raise InvalidInput(
                        f"fleet: host-gw needs the hosts on one link, and host '{peer}' ({there}) is not on a network "
                        f"of host '{me}''s underlay link ({', '.join(members[me]['underlay'] or []) or 'none found'}); "
                        "routes via it would not work. Use fleet_network_mode: vxlan, or auto (host-gw where "
                        "hosts share a link, the overlay where they do not)")

    overlay_used = any(not_direct(me, family) for me in present for family in subnets)
    mtu = opts.mtu
    if mtu is None and overlay_used:
        underlay_family = _family(members[present[0]]["vtep"]) or 4
        mtus = [members[h]["mtu"] for h in present if members[h]["mtu"]]
        mtu = min(mtus) - VXLAN_OVERHEAD[underlay_family] if mtus else None

    cluster = [ipaddress.ip_network(c) for c in (opts.cidr, opts.cidr6) if c]
    vtep_addresses = {h: [str(ipaddress.ip_network(subnets[f][h]).network_address) for f in subnets] for h in hosts}
    plans = {}
    for me in plan_for:
        member = members[me]
        leaving = member["state"] != "present"
        routes, peers = [], []
        wanted = set()
        for peer in hosts:
            if peer == me:
                continue
            gone = leaving or members[peer]["state"] != "present"
            overlay_subnets = []
            for family in subnets:
                subnet = subnets[family][peer]
                if gone:
                    routes.append({"dest": subnet, "state": "absent"})
                elif direct(me, peer, family):
                    routes.append({"dest": subnet, "gateway": gateway_text[peer, family], "state": "present"})
                    wanted.add(subnet)
                else:
                    overlay_subnets.append(subnet)
                    wanted.add(subnet)
            vteps = vtep_addresses[peer]
            if not leaving:
                entry = {"address": members[peer]["vtep"], "vtep_addresses": vteps,
                         "subnets": overlay_subnets or [subnets[f][peer] for f in subnets],
                         "state": "present" if overlay_subnets else "absent"}
                if entry["state"] == "present" or gone or member["vxlan"]:
                    peers.append(entry)
        if opts.prune and not leaving:
            for route in member["routes"]:
                dest = ipaddress.ip_network(route["dest"])
                in_cluster = any(dest.version == c.version and dest.subnet_of(c) for c in cluster)
                own_subnet = any(route["dest"] == subnets[f][me] for f in subnets)
                if route["dest"] not in wanted and route.get("dev") != opts.device and in_cluster and not own_subnet:
                    routes.append({"dest": route["dest"], "state": "absent"})
        own = {f: subnets[f][me] for f in subnets}
        vxlan = None
        needs_overlay = any(p["state"] == "present" for p in peers)
        if leaving or opts.mode == "host-gw":
            vxlan = {"name": opts.device, "state": "absent"} if member["vxlan"] else None
        elif needs_overlay or member["vxlan"]:
            for p in peers:
                if _family(p["address"]) != _family(member["vtep"]):
                    raise InvalidInput(f"fleet: the overlay's underlay addresses must share a family: host '{me}' has "
                                       f"{member['vtep']}, a peer has {p['address']}")
            vxlan = {"name": opts.device, "state": "present", "vni": opts.vni, "port": opts.port,
                     "local": member["vtep"], "purge_peers": opts.prune, "peers": peers,
                     "addresses": [f"{ipaddress.ip_network(s).network_address}/{ipaddress.ip_network(s).max_prefixlen}"
                                   for s in own.values()]}
        plans[me] = {"subnet": own.get(4), "subnet6": own.get(6), "mtu": mtu, "routes": routes, "vxlan": vxlan,
                     "mode": "overlay" if needs_overlay else "host-gw"}
    containers = fleet_containers(opts.name, members, subnets, present, everyone=opts.names)
    if unknown_lists and any(c["peers"] for c in containers):
        raise InvalidInput(f"fleet '{opts.name}': hosts {unknown_lists} are not in this run, and their containers are "
                           "unknown, so the containers that policies name cannot be found there: define "
                           "fleet_network_containers where every run sees it, or share a fact cache (see the Scale page)")
    peers = fleet_policy_peers(containers)
    addresses = {}
    for c in containers:
        addresses.setdefault(c["host"], {})[c["name"]] = c["addresses"]
    # one text for every host (each leaves out its own containers): Ansible templates and sends one string per host
    # far faster than 1,600 dicts
    text = remote_containers_text(containers) if opts.names else ""
    for me, plan in plans.items():
        plan["policy_peers"] = peers
        plan["containers"] = text
        member = members[me]
        # its own containers as container_network takes them: the role's task per host then needs no filter of ours
        # (a worker that templates one imports the collection's filters anew, about 0.1 s)
        plan["own_containers"] = [item for item, _addresses in member["containers"] or []]
        plan["record"] = None if member["state"] != "present" else {
            "address": member["address"], "address6": member["address6"], "vtep": member["vtep"],
            "subnet": plan["subnet"] or "", "subnet6": plan["subnet6"] or "",
            "underlay": [str(n) for n in links[me]], "mtu": member["mtu"], "containers": addresses.get(me, {})}
    return plans


def fleet_drift(members, plans, options, plan_for):
    """What runs that do not include this run's hosts, and share no fact cache with it, would plan differently for
    them: each such host's subnets and container addresses that differ from what a first build gives (after a host
    left from the middle of the fleet's list, or a container from the middle of a host's). A list of messages."""
    opts = _options(options)
    blank = {h: dict(m, subnet="", subnet6="", containers=[[item, []] for item, _a in m.get("containers") or []])
             for h, m in members.items()}
    fresh = fleet_layout(blank, dict(options, names=True), plan_for=plan_for)
    notes = []
    for host in plan_for:
        if members[host]["state"] != "present":
            continue
        for key, pins in (("subnet", "fleet_network_subnets"), ("subnet6", "fleet_network_subnets6")):
            have, first = plans[host][key], fresh[host][key]
            if have and have != first:
                notes.append(f"fleet '{opts.name}': host '{host}' keeps {key} {have}, but a run without it would plan "
                             f"{first} for it: pin it ({pins}: {{{host}: {have}}}) or share a fact cache")
        kept = (plans[host].get("record") or {}).get("containers") or {}
        subnets = {f: {host: plans[host][key]} for f, key in ((4, "subnet"), (6, "subnet6")) if plans[host][key]}
        first = {c["name"]: c["addresses"] for c in fleet_containers(opts.name, {host: blank[host]}, subnets, [host], True)}
        moved = sorted(name for name, addresses in kept.items() if first.get(name) != addresses)
        if moved and (opts.names or any(plans[host]["policy_peers"])):
            notes.append(f"fleet '{opts.name}': on host '{host}', containers {moved} keep addresses that a run "
                         "without it would not plan for them: give them fixed addresses or share a fact cache")
    return notes


def fleet_containers(network, members, subnets, present, everyone=False):
    """Every present host's containers with the addresses each host's run of container_network gives them (kept
    where the kernel has them, else the lowest free, in list order), computed here from what each host read: a list
    of dicts (name, host, addresses of both families, aliases, and the names its policies use). Without everyone,
    only when some policy names a container (the addresses are what policies need)."""
    parsed = {}
    for host in present:
        items = [item for item, _addresses in members[host].get("containers") or []]
        parsed[host] = normalize_containers(items, f"{network}' on host '{host}")
    if not everyone and not any(kind == "container" for cs in parsed.values() for c in cs
                                for kind, _name in peer_names((c.ingress, c.egress))):
        return []
    out = []
    for host in present:
        current = {item["name"]: addresses for item, addresses in members[host].get("containers") or []}
        found = {}
        for family, by_host in sorted(subnets.items()):
            for name, ip in container_addresses(parsed[host], f"{network}' on host '{host}", family, by_host[host],
                                                current).items():
                found.setdefault(name, []).append(str(ip))
        out += [{"name": c.name, "host": host, "addresses": found[c.name], "aliases": list(c.aliases),
                 "peers": [name for kind, name in peer_names((c.ingress, c.egress)) if kind == "container"]}
                for c in parsed[host] if c.name in found]
    return out


def remote_containers_text(containers):
    """container_network's remote_containers as text: a line per container, NAME HOST ADDRESS,... [ALIAS,...]."""
    return "".join(f"{c['name']} {c['host']} {','.join(c['addresses'])}"
                   f"{' ' + ','.join(c['aliases']) if c['aliases'] else ''}\n" for c in containers)


def fleet_policy_peers(containers):
    """The containers that policies anywhere in the fleet name, resolved across the fleet: NAME stands for that
    container on every host, NAME.HOST for the one on HOST; each maps to its addresses (/32, /128) of both families."""
    wanted = {name for c in containers for name in c["peers"]}
    peers = {}
    for c in containers:
        for key in (c["name"], f"{c['name']}.{c['host']}"):
            if key in wanted:
                peers.setdefault(key, []).extend(
                    f"{a}/{ipaddress.ip_address(a).max_prefixlen}" for a in c["addresses"])
    return peers
