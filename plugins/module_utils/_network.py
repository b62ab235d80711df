# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A whole Docker-style bridge network in one plan: bridge, container namespaces, veth pairs, routes, NAT, published
ports and names.

One module call, one session, each namespace read once: the state is read, the addresses are planned against it,
and every change is queued in one plan, so check mode stays exact and a failure part-way undoes this run's objects.

A container may be on several networks, one interface each (eth0 by default): a network only ever touches its own
interface of a container, and a container's namespace goes with the last network it is on.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass, field

from ansible_collections.linuxns.net.plugins.module_utils import _validate as validate
from ansible_collections.linuxns.net.plugins.module_utils._addressing import host_end_name, normalize_containers, plan_bridge_network
from ansible_collections.linuxns.net.plugins.module_utils._bridge import normalize_bridge, plan_bridge
from ansible_collections.linuxns.net.plugins.module_utils._defaults import ISOLATION_GROUP, bridge_name
from ansible_collections.linuxns.net.plugins.module_utils._errors import Conflict, InvalidInput, where
from ansible_collections.linuxns.net.plugins.module_utils._hosts import ETC_NETNS, entries, plan_hosts
from ansible_collections.linuxns.net.plugins.module_utils._nat import normalize_rule, plan_rule_sets
from ansible_collections.linuxns.net.plugins.module_utils._netns import normalize_netns, plan_netns
from ansible_collections.linuxns.net.plugins.module_utils._plan import Plan
from ansible_collections.linuxns.net.plugins.module_utils._ports import Forward, PortForwardSet, check_host_addresses, parse_ports
from ansible_collections.linuxns.net.plugins.module_utils._routes import (
    DEFAULT_METRIC, RouteKey, RouteTable, describe_key, normalize_route, plan_route)
from ansible_collections.linuxns.net.plugins.module_utils._snapshot import Snapshots
from ansible_collections.linuxns.net.plugins.module_utils._veth import normalize_veth, plan_veth
from ansible_collections.linuxns.net.plugins.module_utils._vxlan import normalize_vxlan, plan_vxlan


@dataclass
class NetworkSpec:
    """One network as requested, validated."""
    name: str
    bridge: str
    subnet: object  # an ipaddress network, or None (IPv6 only)
    gateway: str = None
    subnet6: object = None  # an IPv6 network, or None (IPv4 only)
    gateway6: str = None
    masquerade6: bool = True
    mtu: int = None
    state: str = "present"
    containers: list = field(default_factory=list)  # of _addressing.Container
    ports: dict = field(default_factory=dict)  # container -> its PublishedPorts
    masquerade: bool = True
    masquerade_exclude: list = field(default_factory=list)
    isolation_group: int = None  # None: not isolated
    internal: bool = False
    hosts_file: bool = True


def normalize_network(spec):
    if not spec.get("name"):
        raise InvalidInput("container_network: 'name' is required")
    name = validate.network_name(spec["name"])
    bridge = spec.get("bridge") or bridge_name(name)
    validate.interface_name(bridge, f"bridge of network '{name}'")
    if not spec.get("subnet") and not spec.get("subnet6"):
        raise InvalidInput(f"network '{name}': give 'subnet', 'subnet6' (IPv6), or both")
    isolated = spec.get("isolated", True) is not False
    group = spec.get("isolation_group")
    subnets = {}
    for key, family in (("subnet", 4), ("subnet6", 6)):
        if spec.get(key):
            subnets[key] = validate.network(spec[key], f"network '{name}' {key}")
            if subnets[key].version != family:
                raise InvalidInput(f"network '{name}': {key} {subnets[key]} is IPv{subnets[key].version}; {key} must be "
                                   f"an IPv{family} network")
    net = NetworkSpec(name=name, bridge=bridge, subnet=subnets.get("subnet"), subnet6=subnets.get("subnet6"),
                      gateway=spec.get("gateway"), gateway6=spec.get("gateway6"),
                      masquerade6=spec.get("masquerade6", True) is not False,
                      mtu=validate.mtu(spec.get("mtu"), f"network '{name}'"),
                      state=spec.get("state") or "present",
                      containers=normalize_containers(spec.get("containers") or [], name),
                      masquerade=spec.get("masquerade", True) is not False,
                      masquerade_exclude=list(spec.get("masquerade_exclude") or []),
                      isolation_group=(ISOLATION_GROUP if group is None else group) if isolated else None,
                      internal=bool(spec.get("internal")), hosts_file=spec.get("hosts_file", True) is not False)
    for c in net.containers:
        obj = f"network '{name}': container '{c.name}'"
        net.ports[c.name] = parse_ports(c.ports, obj)
        for p in net.ports[c.name]:
            if p.host_ip is not None and {4: net.subnet, 6: net.subnet6}[p.host_ip.version] is None:
                raise InvalidInput(f"{obj}: published port '{p.text}' has an IPv{p.host_ip.version} host address, but "
                                   f"the network has no IPv{p.host_ip.version} subnet")
        if net.ports[c.name] and net.internal:
            raise InvalidInput(f"{obj} publishes ports {c.ports}, but the network is internal: nothing from outside "
                               "its bridge may reach it (put the container on a second, non-internal network to publish)")
    return net


def _rule_sets(net, state, layout=None):
    """The network's firewall rule sets: masquerade, forward-accept and isolation per address family, and its
    published ports."""
    sets = []
    for subnet, masquerade in ((net.subnet, net.masquerade), (net.subnet6, net.masquerade6)):
        if subnet is not None:
            excluded = [n for n in net.masquerade_exclude if ipaddress.ip_network(n, strict=False).version == subnet.version]
            sets.append(normalize_rule({"source": str(subnet), "exclude_out_interface": net.bridge, "state": state,
                                        "exclude_destinations": excluded, "isolation_group": net.isolation_group,
                                        "masquerade": masquerade and not net.internal, "internal": net.internal}))
    # published ports, per family: on every address they are published on both, as Docker does
    for family, subnet, addresses in ((4, net.subnet, layout and layout.addresses), (6, net.subnet6, layout and layout.addresses6)):
        forwards = []
        if state == "present" and subnet is not None:
            for c in net.containers:
                ports = [p for p in net.ports[c.name] if p.host_ip is None or p.host_ip.version == family]
                if c.state == "present" and ports:
                    forwards.append(Forward(label=f"container '{c.name}'", destination=ipaddress.ip_address(addresses[c.name]),
                                            ports=ports, via_interface=net.bridge, via_subnet=subnet))
        if subnet is not None:
            sets.append(PortForwardSet(namespace=None, owner=f"network:{net.name}", forwards=forwards, empty_family=family,
                                       state="present" if forwards else "absent"))
    return sets


def _plan_leave(plan, session, snaps, net, leaving):
    """Containers leave the network: their interface in it goes, and their namespace too when nothing else of
    theirs is left. Other networks' interfaces are veths whose host ends are in this namespace too, so the host's
    one link dump tells, by the peers' namespace ids, without entering each container."""
    host = snaps[None]
    veths_by_nsid = {}
    for link in host.by_name.values():
        if link.kind == "veth" and link.peer_nsid != -1:
            veths_by_nsid[link.peer_nsid] = veths_by_nsid.get(link.peer_nsid, 0) + 1
    doomed = []
    for c in leaving:
        if not session.exists(c.name):
            continue
        end = host.by_name.get(host_end_name(net.bridge, c.name))
        if end is not None and end.kind == "veth" and end.peer_nsid != -1:
            others = veths_by_nsid.get(end.peer_nsid, 0) - 1
        else:  # not attached here: look inside
            others = len([n for n in snaps[c.name].by_name if n not in ("lo", c.interface)])
        if others:
            plan_veth(plan, session, snaps, normalize_veth({"name": host_end_name(net.bridge, c.name), "state": "absent"}))
        else:
            doomed.append(c.name)
    plan_netns(plan, session, [normalize_netns({"name": n, "state": "absent"}) for n in doomed], snaps)


BRIDGE_ALIAS_PREFIX = "linuxns.net network "


def bridge_alias(network):
    """The ifalias a network's bridge carries: who owns it."""
    return BRIDGE_ALIAS_PREFIX + network


def _check_bridge_owner(host, net):
    """A network never adopts another network's bridge: its owner is named in the bridge's alias. A bridge without
    one (made before 0.3, or by hand) is adopted only if it holds no address outside this network's subnets."""
    link = host.by_name.get(net.bridge)
    if link is None or link.kind != "bridge":
        return
    obj = f"network '{net.name}': bridge '{net.bridge}'"
    if link.alias:
        if link.alias == bridge_alias(net.name):
            return
        if link.alias.startswith(BRIDGE_ALIAS_PREFIX):
            owner = link.alias[len(BRIDGE_ALIAS_PREFIX):]
            raise Conflict(f"{obj} belongs to network '{owner}'; a network never takes over another network's "
                           f"bridge: give network '{net.name}' a bridge of its own")
        raise Conflict(f"{obj} is not a linuxns.net network's (its alias is {link.alias!r}): give network "
                       f"'{net.name}' a bridge of its own")
    subnets = [s for s in (net.subnet, net.subnet6) if s is not None]
    foreign = [a for a in link.addresses if not ipaddress.ip_interface(a).is_link_local
               and not any(ipaddress.ip_interface(a).ip in s for s in subnets)]
    if foreign:
        raise Conflict(f"{obj} holds {', '.join(foreign)}, outside the network's subnets: it belongs to another "
                       f"network or was made by hand; give network '{net.name}' a bridge of its own")


def _check_interface(snaps, net, c):
    """The container's interface in this network must be this network's veth, or not exist yet."""
    iface = snaps[c.name].by_name.get(c.interface)
    if iface is None:
        return
    host_end = snaps[None].by_name.get(host_end_name(net.bridge, c.name))
    if host_end is not None and iface.kind == host_end.kind == "veth" and iface.peer_index == host_end.index \
            and host_end.peer_index == iface.index:
        return
    raise Conflict(f"network '{net.name}': container '{c.name}' already has an interface '{c.interface}' that is not "
                   f"this network's (another network's, or made by hand): give this network another interface, for "
                   f"example {{name: {c.name}, interface: eth1}}")


def _default_route(session, snaps, tables, family, c):
    """The container's current default route of one family, or None."""
    snap = snaps[c.name]
    if snap.missing:
        return None
    if (c.name, family) not in tables:
        tables[(c.name, family)] = RouteTable(session, c.name, snap, (family,))
    return tables[(c.name, family)].by_key.get(RouteKey(c.name, family, "0.0.0.0/0" if family == 4 else "::/0", 254,
                                                        DEFAULT_METRIC[family]))


def _check_overlap(host, net):
    """A subnet must not overlap an address of the host's other links (its underlay, say). The subnet's own network
    address as a host address is allowed: an overlay's VTEP holds it (flannel's convention), and no container can."""
    for subnet in (net.subnet, net.subnet6):
        if subnet is None:
            continue
        for link in host.by_name.values():
            if link.name == net.bridge:
                continue
            for addr in link.addresses:
                iface = ipaddress.ip_interface(addr)
                vtep = iface.network.prefixlen == iface.max_prefixlen and iface.ip == subnet.network_address
                if iface.version == subnet.version and not iface.is_link_local and not vtep and iface.network.overlaps(subnet):
                    raise InvalidInput(f"network '{net.name}': subnet {subnet} overlaps {iface.network}, the network of "
                                       f"{iface} on the host's link '{link.name}'")


def _host_parts(net, spec):
    """The host's routes and overlay device that come with the network (a fleet host's, in one call)."""
    routes = []
    for item in spec.get("routes") or []:
        if not isinstance(item, dict):
            raise InvalidInput(f"network '{net.name}': each of 'routes' must be a route (a dict), not {item!r}")
        route = dict(item, namespace=None)
        if net.state == "absent":
            route["state"] = "absent"
        routes.append(normalize_route(route))
    validate.unique(routes, lambda r: f"{describe_key(r)} in {where(None)}", f"route of network '{net.name}'")
    device = None
    if spec.get("vxlan"):
        device = dict(spec["vxlan"], namespace=None)
        if net.state == "absent":
            device["state"] = "absent"
        device = normalize_vxlan(device)
    return routes, device


def _plan_host_parts(plan, session, snaps, routes, device):
    """The routes, then the overlay device, planned against one route table: a route this plan moves off the device
    (or removes) is not the device's to remove again."""
    tables = {}
    for route in routes:
        plan_route(plan, session, snaps, tables, route)
    if device is not None:
        plan_vxlan(plan, session, snaps, device, tables)


def run_container_network(session, spec, check_mode, etc_netns=ETC_NETNS):
    net = normalize_network(spec)
    routes, device = _host_parts(net, spec)
    plan = Plan()
    present = [c for c in net.containers if c.state == "present"] if net.state == "present" else []
    leaving = [c for c in net.containers if c.state == "absent" or net.state == "absent"]
    snaps = Snapshots(session, check_mode, planned_namespaces=[c.name for c in net.containers if not session.exists(c.name)])

    _check_bridge_owner(snaps[None], net)
    if net.state == "absent":
        _plan_host_parts(plan, session, snaps, routes, device)
        _plan_leave(plan, session, snaps, net, leaving)
        plan_rule_sets(plan, session, _rule_sets(net, "absent"), check_mode)
        plan_bridge(plan, session, snaps, normalize_bridge({"name": net.bridge, "state": "absent"}))
        plan_hosts(plan, net.name, {}, [c.name for c in leaving], etc_netns)
        return plan.result(check_mode)

    current = {}
    for c in present:
        _check_interface(snaps, net, c)
        end = snaps[c.name].by_name.get(c.interface)
        if end is not None:
            current[c.name] = end.addresses
    layout = plan_bridge_network(net.containers, net.name, net.bridge, net.subnet and str(net.subnet), net.gateway, current,
                                 net.mtu, net.subnet6 and str(net.subnet6), net.gateway6)
    _check_overlap(snaps[None], net)
    rule_sets = _rule_sets(net, "present", layout)
    local = {ipaddress.ip_interface(a).ip for link in snaps[None].by_name.values() for a in link.addresses} \
        | {ipaddress.ip_address(g) for g in (layout.gateway, layout.gateway6) if g}
    for ports_set in rule_sets:
        if isinstance(ports_set, PortForwardSet):
            check_host_addresses(ports_set, local)

    plan_bridge(plan, session, snaps, dataclasses.replace(normalize_bridge({
        "name": net.bridge, "addresses": layout.gateway_cidrs, "mtu": net.mtu, "group": net.isolation_group}),
        alias=bridge_alias(net.name)))
    plan_netns(plan, session, [normalize_netns({"name": c.name}) for c in present], snaps)
    for pair in layout.pairs:
        plan_veth(plan, session, snaps, normalize_veth(pair))
    tables = {}
    routed = {route["namespace"] for route in layout.routes} if not net.internal else set()
    for c in present:
        for family, gateway in ((4, layout.gateway), (6, layout.gateway6)):
            if gateway is None:
                continue
            have = _default_route(session, snaps, tables, family, c)
            if c.name in routed and have is not None and isinstance(have.dev, str) and have.dev != c.interface \
                    and have.dev in snaps[c.name].by_name:
                raise Conflict(f"network '{net.name}': container '{c.name}' has its IPv{family} default route via "
                               f"'{have.dev}' (another network's interface); set default_route: false for its interface "
                               f"'{c.interface}' here, or false in the other network first")
            if c.name not in routed and have is not None and have.dev == c.interface and have.gateway == gateway:
                # no longer wanted (default_route: false, or the network became internal): only ours is removed
                plan_route(plan, session, snaps, tables, normalize_route({"namespace": c.name, "dest": "default", "gateway": gateway,
                                                                          "state": "absent"}))
    for route in layout.routes:
        if route["namespace"] in routed:
            # the gateway is on the subnet that this plan gives the container's interface, even if it is (re)made now
            plan_route(plan, session, snaps, tables, dataclasses.replace(normalize_route(route), gateway_on_planned_link=True))
    _plan_leave(plan, session, snaps, net, leaving)
    backends = plan_rule_sets(plan, session, rule_sets, check_mode)
    names = entries({c.name: layout.addresses[c.name] for c in present if c.name in layout.addresses}) \
        + entries({c.name: layout.addresses6[c.name] for c in present if c.name in layout.addresses6})
    plan_hosts(plan, net.name, {c.name: names for c in present} if net.hosts_file else {},
               [c.name for c in leaving] + ([] if net.hosts_file else [c.name for c in present]), etc_netns)
    _plan_host_parts(plan, session, snaps, routes, device)
    result = plan.result(check_mode)
    result.update(addresses=layout.addresses, gateway=layout.gateway, addresses6=layout.addresses6, gateway6=layout.gateway6,
                  bridge=net.bridge, backends=backends,
                  published={c.name: [p.text for p in net.ports[c.name]] for c in present if net.ports[c.name]})
    return result
