# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A fleet's topology, read from netns_info results (host -> result): which containers sit on which bridge of which
host, and what they should reach (the verify probes). Its pictures are drawn in _pictures.py.

Pure functions of their input, used on the controller by filter plugins, so they are tested without Ansible."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ansible_collections.linuxns.net.plugins.module_utils._defaults import CONTAINER_END, OPEN_GROUP
from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput
from ansible_collections.linuxns.net.plugins.module_utils._info_views import InfoView

OUTSIDE_KEYS = ("address", "proto", "port", "expect")  # a reachability probe's, less its source


@dataclass
class ContainerModel:
    host: str
    name: str  # its namespace
    addresses: list  # its container end's (CONTAINER_END), CIDR form
    bridge: str = None  # the bridge its veth's host end is on
    host_end: str = None
    routes: list = field(default_factory=list)
    isolated: bool = False  # its bridge port is isolated: its network's ICC is off
    policy: object = None  # its network policy in force (_info_views.PolicyView), or None

    @property
    def ips(self):
        return [a.split("/")[0] for a in self.addresses]

    def has_family_of(self, address):
        """Whether the container has an address of address's family (a name: yes, let the probe tell)."""
        try:
            family = ipaddress.ip_address(str(address)).version
        except ValueError:
            return True
        return any(ipaddress.ip_address(ip).version == family for ip in self.ips)


@dataclass
class BridgeModel:
    host: str
    name: str
    addresses: list
    group: int = 0


@dataclass
class HostModel:
    name: str
    underlay: list  # its underlay link's addresses
    underlay_link: str = "underlay"  # that link's name
    bridges: dict = field(default_factory=dict)
    containers: dict = field(default_factory=dict)
    routes: list = field(default_factory=list)  # RouteViews via a gateway (host-gw routes to other hosts, overlay routes)
    nat: list = field(default_factory=list)  # masqueraded sources
    vteps: list = field(default_factory=list)  # its VXLAN devices' addresses: the next hops of overlay routes
    published: list = field(default_factory=list)  # its published ports in force (_info_views.PublishedView)
    internal: list = field(default_factory=list)  # the subnets of its internal networks
    _by_address: dict = field(default=None, repr=False, compare=False)  # address -> container, made on first use

    def address_of(self, family):
        """Its first underlay address of a family, or None."""
        return next((a.split("/")[0] for a in self.underlay if ipaddress.ip_interface(a).version == family), None)

    def container_at(self, address):
        """The container that holds address (one lookup: a host's published ports are many at scale)."""
        if self._by_address is None:
            self._by_address = {ip: c for c in self.containers.values() for ip in c.ips}
        return self._by_address.get(address)

    def next_hops(self):
        """Address -> how it is reached: the underlay addresses (host-gw), and the VTEP addresses (the overlay)."""
        return dict({a.split("/")[0]: "host-gw" for a in self.underlay}, **{a.split("/")[0]: "VXLAN" for a in self.vteps})


def fleet_model(infos):
    """host -> HostModel, from each host's registered netns_info result (read as _info_views)."""
    if not isinstance(infos, dict):
        raise InvalidInput("topology: give a dict of host name to its registered linuxns.net.netns_info result")
    hosts = {}
    for host, info in sorted(infos.items()):
        if not isinstance(info, dict) or "host" not in info:
            raise InvalidInput(f"topology: the netns_info result of host '{host}' has no host view (run it with host: true)")
        view = InfoView.parse(info, f"topology: host '{host}'")
        underlay = view.host.underlay
        model = HostModel(host, underlay.managed_addresses if underlay else [], underlay.name if underlay else "underlay")
        for link in view.host.links_of("bridge"):
            model.bridges[link.name] = BridgeModel(host, link.name, link.managed_addresses, link.group)
        for link in view.host.links_of("vxlan"):
            model.vteps += link.managed_addresses
        peers = {(link.peer_namespace, link.peer_name): link for link in view.host.links_of("veth") if link.peer_namespace}
        for name, ns in sorted(view.namespaces.items()):
            # a namespace without its container end is a container that lost its veth (or no container at all)
            end = ns.container_end
            host_end = peers.get((name, CONTAINER_END))
            model.containers[name] = ContainerModel(host, name, end.managed_addresses if end else [],
                                                    host_end.master if host_end else None,
                                                    host_end.name if host_end else None,
                                                    [r for r in ns.routes if r.gateway],
                                                    bool(host_end and host_end.isolated), ns.policy)
        model.routes = view.host.gateway_routes
        model.nat = list(view.host.masquerade)
        model.published = list(view.host.published)
        model.internal = list(view.host.internal)
        hosts[host] = model
    return hosts


def _reaches(mine, theirs):
    """Whether a container on bridge mine reaches one on bridge theirs of the same host: a bridge of ours (a device
    group) lets in directly only the bridges of networks that are not isolated, when it is one too (gateway mode nat);
    a bridge made otherwise (no group) is reached."""
    if mine is None or theirs is None or not theirs.group:
        return True
    return mine.group == theirs.group == OPEN_GROUP


def _allows(container, direction, address, proto, port=None):
    if container.policy is None:
        return True
    try:
        ipaddress.ip_address(str(address))
    except ValueError:
        return True  # a name: the probe tells
    return container.policy.allows(direction, address, proto, port)


def _declared_ports(source, other):
    """The TCP and UDP ports the pair's policies name (source's egress, other's ingress): each is probed."""
    ports = set()
    if source.policy is not None:
        ports |= source.policy.ports("egress")
    if other.policy is not None:
        ports |= other.policy.ports("ingress")
    return sorted(ports)


def _seen_source(host, source, other, ip):
    """The address other sees source's packets to ip come from: source's own, or the gateway of other's bridge where
    the host masquerades source's subnet into another network of the host."""
    family = ipaddress.ip_address(ip).version
    own = next((a for a in source.ips if ipaddress.ip_address(a).version == family), None)
    if own is None or other.host != host.name or other.bridge == source.bridge:
        return own
    if any(ipaddress.ip_address(own) in ipaddress.ip_network(n) for n in host.nat
           if ipaddress.ip_network(n).version == family):
        bridge = host.bridges.get(other.bridge)
        gateway = next((a.split("/")[0] for a in (bridge.addresses if bridge else [])
                        if ipaddress.ip_interface(a).version == family), None)
        return gateway or own
    return own


def _pair_probes(host, source, other, path):
    """ICMP to each of other's addresses, and TCP/UDP to each port the pair's policies name: expected through when
    the networks let the pair talk (path) and both policies allow it, else unreachable."""
    probes = []
    for ip in other.ips:
        if not source.has_family_of(ip):
            continue
        seen = _seen_source(host, source, other, ip)
        through = path and _allows(source, "egress", ip, "icmp") and _allows(other, "ingress", seen, "icmp")
        probes.append({"source": source.name, "address": ip, "proto": "icmp",
                       "expect": "reachable" if through else "unreachable"})
        for proto, port in _declared_ports(source, other):
            through = path and _allows(source, "egress", ip, proto, port) and _allows(other, "ingress", seen, proto, port)
            probes.append({"source": source.name, "address": ip, "proto": proto, "port": port,
                           "expect": "allowed" if through else "unreachable"})
    return probes


def verify_probes(infos, me, outside=None, containers=None):
    """The probes host `me` runs: each of its containers (every named namespace, or those named in containers) to
    every container it should or should not reach, and to each outside target.

    Same bridge (on this host, or a bridge of the same name on another host: a fleet network): reachable, unless
    either container's bridge port is isolated (ICC off). Another
    bridge of this host: reachable when both are networks that are not isolated (or the target's bridge is not a
    network's), else unreachable. Bridges
    of other names on other hosts are not probed (whether they route to each other is the user's design). A
    container whose eth0 is not on a bridge (its veth was deleted, say) probes every container of its host, so that
    the failure names the pairs it broke.

    Each address of each family is probed (a dual-stack fleet is proven on both), and an outside target only from
    containers that have an address of its family.

    Network policies in force (netns_info's "policy") narrow it: a pair is expected through only where the source's
    egress and the target's ingress allow it, and each TCP or UDP port either names is probed too, expected
    "allowed" (the target's host answered, whether something listens or not) or unreachable. An outside target is
    expected through only where the source's egress allows it."""
    hosts = fleet_model(infos)
    if me not in hosts:
        raise InvalidInput(f"topology: host '{me}' has no netns_info result")
    targets = [{"address": t} if isinstance(t, str) else t for t in outside or []]
    for target in targets:
        unknown = sorted(set(target) - set(OUTSIDE_KEYS)) if isinstance(target, dict) else ["(not a dict)"]
        if unknown:
            raise InvalidInput(f"topology: outside target {target!r}: unknown keys {unknown} (known: {', '.join(OUTSIDE_KEYS)})")
    probes = []
    everyone = [c for h in hosts.values() for c in h.containers.values() if c.bridge]
    for source in hosts[me].containers.values():
        if containers is not None and source.name not in containers:
            continue
        if not source.bridge:
            probes += [{"source": source.name, "address": ip, "proto": "icmp", "expect": "reachable"}
                       for other in everyone if other.host == me for ip in other.ips]
            continue
        mine = hosts[me].bridges.get(source.bridge)
        for other in everyone:
            if other is source or (containers is not None and other.host == me and other.name not in containers):
                continue
            if other.host == me and other.bridge != source.bridge:
                path = _reaches(mine, hosts[me].bridges.get(other.bridge))
            elif other.bridge == source.bridge:
                # ICC off: no container of the network reaches another, on this host (port isolation) or another
                # (the fleet's ranges are not let in directly)
                path = not (source.isolated or other.isolated)
            else:
                continue
            probes += _pair_probes(hosts[me], source, other, path)
        for target in targets:
            if source.has_family_of(target.get("address")):
                probe = dict({"proto": "icmp", "expect": "reachable"}, **target, source=source.name)
                allowed = _allows(source, "egress", probe["address"], probe["proto"], probe.get("port"))
                if probe["expect"] != "unreachable" and not allowed:
                    probe["expect"] = "unreachable"
                probes.append(probe)
    return probes


def _published_targets(host):
    """(published port, its container) of each published port of a host that goes to one of its containers."""
    for port in host.published:
        container = host.container_at(port.destination)
        if container is not None:
            yield port, container


def verify_listeners(infos, me):
    """What host `me` serves while the outside probes its published ports: each container port behind one."""
    hosts = fleet_model(infos)
    if me not in hosts:
        raise InvalidInput(f"topology: host '{me}' has no netns_info result")
    found = {(container.name, port.protocol, port.target) for port, container in _published_targets(hosts[me])}
    return [{"namespace": ns, "proto": proto, "port": number} for ns, proto, number in sorted(found)]


def outside_probes(infos, outside):
    """The probes a host outside the fleet runs (outside: its own netns_info result, for its addresses): each
    published port of each host (its first port), at the port's host address or the host's underlay address of its
    family, from the outside host's underlay address of that family. Expected reachable where the port's allow-list
    and its container's ingress policy let that address in (the container serves the port meanwhile:
    verify_listeners), else denied (the host refuses, or a rule drops).

    A published port on a loopback address, or of a family one side has no address of, is not probed."""
    hosts = fleet_model(infos)
    view = InfoView.parse(outside, "topology: the outside host")
    underlay = view.host.underlay if view.host else None
    if underlay is None:
        raise InvalidInput("topology: the outside host's netns_info result has no underlay address (run it with host: true)")
    mine = {ipaddress.ip_interface(a).version: a.split("/")[0] for a in reversed(underlay.managed_addresses)}
    probes = []
    for name, host in sorted(hosts.items()):
        for port, container in _published_targets(host):
            source, address = mine.get(port.family), port.host_ip or host.address_of(port.family)
            if source is None or address is None or ipaddress.ip_address(address).is_loopback:
                continue
            through = port.lets_in(source) and _allows(container, "ingress", source, port.protocol, port.target)
            probes.append({"address": address, "proto": port.protocol, "port": port.published,
                           "expect": "reachable" if through else "denied"})
    return probes
