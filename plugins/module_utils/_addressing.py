# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Address planning of a bridge network: stable container addresses, and the veth pairs and default routes that
carry them, as typed link and route specs (a fleet's host subnets are planned in _fleet.py).

Pure functions of their inputs (the typed request and the addresses the kernel shows), so they are tested without
Ansible."""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from ansible_collections.linuxns.net.plugins.module_utils._defaults import DEFAULT_MTU
from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput
from ansible_collections.linuxns.net.plugins.module_utils._routes import DEFAULT_METRIC, DEFAULT_ROUTE, RouteSpec
from ansible_collections.linuxns.net.plugins.module_utils._veth import VethSpec


@dataclass
class FamilyLayout:
    """One address family of a network: its subnet, gateway and container addresses."""
    subnet: object  # an ipaddress network
    gateway: object  # an ipaddress address
    addresses: Dict[str, object]  # container -> its ipaddress address

    @property
    def gateway_interface(self):
        return ipaddress.ip_interface((self.gateway, self.subnet.prefixlen))

    def interface(self, container):
        return ipaddress.ip_interface((self.addresses[container], self.subnet.prefixlen))


@dataclass
class NetworkLayout:
    """A bridge network's plan: per family (4, 6; either may be absent), and the veth pairs and routes that make it,
    in the veth and route planners' own typed specs."""
    families: Dict[int, FamilyLayout]
    pairs: List[VethSpec] = field(default_factory=list)
    routes: List[RouteSpec] = field(default_factory=list)

    def family(self, version) -> Optional[FamilyLayout]:
        return self.families.get(version)

    @property
    def gateway_interfaces(self):
        return [self.families[v].gateway_interface for v in sorted(self.families)]


def host_end_name(bridge, container):
    """Deterministic host-side veth name, 13 characters: survives re-runs, differs per network and container."""
    return "veth" + hashlib.sha256(f"{bridge}/{container}".encode()).hexdigest()[:9]


def network_layout(net, current=None):
    """A bridge network's layout (net: a _network_spec.NetworkSpec): addresses kept where the kernel has them
    (current: container -> the addresses of its interface in this network, as the kernel shows them), fixed ones
    where asked, the lowest free ones for the rest, for each family the network has. Containers that leave (state
    absent) get no address."""
    wanted = [c for c in net.containers if c.state == "present"]
    families = {}
    for version, subnet, gateway in ((4, net.subnet, net.gateway), (6, net.subnet6, net.gateway6)):
        if subnet is not None:
            families[version] = _family_layout(wanted, net.name, version, subnet, gateway, current,
                                               net.ip_range if version == 4 else net.ip_range6,
                                               [ip for ip in net.reserved if ip.version == version])
    layout = NetworkLayout(families)
    for c in wanted:
        layout.pairs.append(VethSpec(
            name=host_end_name(net.bridge, c.name), namespace=None, peer_namespace=c.name, peer=c.interface,
            # a container's own MTU, or the network's (back to it when the container's is dropped)
            mtu=net.mtu, peer_mtu=c.mtu or net.mtu or DEFAULT_MTU, master=net.bridge, hairpin=True if c.ports else None, isolated=not net.icc,
            mac=c.host_mac, peer_mac=c.mac,
            peer_addresses=[families[v].interface(c.name) for v in sorted(families)]))
        if c.default_route:
            layout.routes += [RouteSpec(namespace=c.name, dest=DEFAULT_ROUTE[v], family=v, gateway=families[v].gateway,
                                        dev=c.interface, metric=DEFAULT_METRIC[v],
                                        gateway_on_planned_link=True) for v in sorted(families)]
    return layout


def container_addresses(containers, network, family, subnet, current):
    """Container -> the address the network gives it in one family (the gateway the first host address), as a run of
    container_network computes it: what a fleet's controller knows of every host's containers."""
    wanted = [c for c in containers if c.state == "present"]
    return _family_layout(wanted, network, family, ipaddress.ip_network(subnet), None, current).addresses


def _family_layout(wanted, network, family, net, gateway, current, ip_range=None, reserved=()):
    """The FamilyLayout of one address family. Automatic addresses come from ip_range (the subnet by default), never
    from reserved ones; fixed ones may lie anywhere in the subnet but not on a reserved one; a container keeps the
    address it has unless that is reserved now."""
    what = "subnet" if family == 4 else "subnet6"
    gateway_key = "gateway" if family == 4 else "gateway6"
    # special ranges (link-local, multicast, ...) were refused at the edge: validate.container_subnet
    if family == 6 and net.prefixlen > 126:
        raise InvalidInput(f"network '{network}': subnet6 {net} cannot hold a gateway and containers (at most /126)")
    if net.num_addresses < 4:
        raise InvalidInput(f"network '{network}': {what} {net} is too small (it needs a gateway and at least one container)")
    hosts_first, hosts_last = net.network_address + 1, net.broadcast_address - 1
    gw = gateway if gateway is not None else hosts_first
    if gw.version != family or gw not in net or gw in (net.network_address, net.broadcast_address):
        raise InvalidInput(f"network '{network}': {gateway_key} {gw} is not a host address of {what} {net}")

    taken = {gw: "the gateway"}
    for ip in reserved:
        if ip == gw:
            raise InvalidInput(f"network '{network}': reserved address {ip} is the gateway")
        taken[ip] = "reserved"
    assigned = {}
    fixed_key = "address" if family == 4 else "address6"
    for c in wanted:  # fixed addresses first: they win over what the kernel shows
        ip = getattr(c, fixed_key)
        if ip is None:
            continue
        if ip.version != family or ip not in net or ip in (net.network_address, net.broadcast_address):
            raise InvalidInput(f"network '{network}': container '{c.name}' {fixed_key} {ip} is outside {what} {net} "
                               f"(or is its network or {'broadcast' if family == 4 else 'last'} address)")
        if ip in taken:
            raise InvalidInput(f"network '{network}': container '{c.name}' {fixed_key} {ip} is already {taken[ip]}")
        taken[ip] = f"container '{c.name}'"
        assigned[c.name] = ip
    kept = _current_in_subnet(current, net)
    for c in wanted:  # then the addresses the containers already have
        ip = kept.get(c.name)
        if c.name not in assigned and ip is not None and ip not in taken:
            taken[ip] = f"container '{c.name}'"
            assigned[c.name] = ip
    pool = ip_range or net  # inside the subnet (checked at the edge)
    first, last = max(hosts_first, pool.network_address), min(hosts_last, pool.broadcast_address)
    free = (ip for ip in _host_range(first, last) if ip not in taken)
    for c in wanted:  # the rest: the lowest free addresses, in list order
        if c.name not in assigned:
            ip = next(free, None)
            if ip is None:
                where_from = f"ip_range {ip_range} of {what} {net}" if ip_range else f"{what} {net}"
                raise InvalidInput(f"network '{network}': {where_from} is full: no address left for container "
                                   f"'{c.name}' ({len(wanted)} containers, the gateway and {len(reserved)} reserved)")
            taken[ip] = f"container '{c.name}'"
            assigned[c.name] = ip
    return FamilyLayout(net, gw, {c.name: assigned[c.name] for c in wanted})


def _current_in_subnet(current, subnet):
    """Container -> the first of the addresses of its interface in this network that lies in subnet."""
    found = {}
    for name, addresses in (current or {}).items():
        for addr in addresses:
            ip = ipaddress.ip_interface(addr).ip
            if ip in subnet:
                found[name] = ip
                break
    return found


def _host_range(first, last):
    ip = first
    while ip <= last:
        yield ip
        ip += 1
