# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Address planning: stable container addresses, used by the container_network module on the node (a fleet's host
subnets are planned in _fleet.py).

Pure functions of their inputs (the request and the addresses the kernel shows), so they are tested without Ansible."""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field

from ansible_collections.linuxns.net.plugins.module_utils import _validate as validate
from ansible_collections.linuxns.net.plugins.module_utils._defaults import CONTAINER_END
from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput


@dataclass
class Container:
    name: str
    address: str = None  # fixed address, if the request gives one
    address6: str = None  # fixed IPv6 address
    interface: str = CONTAINER_END  # its interface in this network
    default_route: bool = True  # via this network's gateway
    ports: list = field(default_factory=list)  # published ports, as written ("8080:80")
    state: str = "present"  # absent: the container leaves this network


@dataclass
class NetworkLayout:
    """A bridge network's plan. pairs and routes are requests in the veth and netns_route modules' own form, so that
    they pass through the same validation and planning as a user's. The IPv4 or the IPv6 half may be absent (None,
    and empty addresses)."""
    gateway: str
    gateway_cidr: str
    subnet: str
    addresses: dict  # container -> IPv4 address
    pairs: list
    routes: list
    gateway6: str = None
    gateway6_cidr: str = None
    subnet6: str = None
    addresses6: dict = field(default_factory=dict)  # container -> IPv6 address

    @property
    def gateway_cidrs(self):
        return [c for c in (self.gateway_cidr, self.gateway6_cidr) if c]


def host_end_name(bridge, container):
    """Deterministic host-side veth name, 13 characters: survives re-runs, differs per network and container."""
    return "veth" + hashlib.sha256(f"{bridge}/{container}".encode()).hexdigest()[:9]


CONTAINER_KEYS = ("name", "address", "address6", "interface", "default_route", "ports", "state")


def normalize_containers(containers, network):
    """Accept a list of names, of dicts (CONTAINER_KEYS) or of Containers; refuse duplicates and names outside
    Docker's rule."""
    out = []
    for position, item in enumerate(containers or []):
        if isinstance(item, Container):
            out.append(item)
            continue
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or not item.get("name"):
            raise InvalidInput(f"network '{network}': container #{position + 1} ({item!r}) needs a name")
        unknown = set(item) - set(CONTAINER_KEYS)
        if unknown:
            raise InvalidInput(f"network '{network}': container '{item['name']}' has unknown keys {sorted(unknown)}")
        name = validate.container_name(item["name"], network)
        interface = validate.interface_name(item.get("interface") or CONTAINER_END, f"network '{network}': container '{name}' interface",
                                            name)
        if interface == "lo":
            raise InvalidInput(f"network '{network}': container '{name}' interface cannot be 'lo'")
        default_route = item.get("default_route")
        if default_route is None:
            default_route = interface == CONTAINER_END
        state = item.get("state") or "present"
        if state not in ("present", "absent"):
            raise InvalidInput(f"network '{network}': container '{name}' state '{state}' must be present or absent")
        ports = item.get("ports") or []
        if isinstance(ports, (str, int)):
            ports = [ports]
        out.append(Container(name, item.get("address"), item.get("address6"), interface, bool(default_route), list(ports), state))
    validate.unique(out, lambda c: f"'{c.name}'", f"network '{network}': container")
    return out


def container_items(containers):
    """The roles' containers (names, or dicts with name, address, interface, default_route, ports, state) as
    container_network's items (dicts)."""
    if containers is None:
        return []
    if isinstance(containers, (str, dict)) or not hasattr(containers, "__iter__"):
        raise InvalidInput(f"containers must be a list of names or of dicts with a name, not {containers!r}")
    return [{"name": c} if isinstance(c, str) else c for c in containers]


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


def plan_bridge_network(containers, network, bridge, subnet, gateway=None, current=None, mtu=None, subnet6=None, gateway6=None):
    """A bridge network's layout: addresses kept where the kernel has them (current: container -> the addresses
    of its interface in this network), fixed ones where asked, the lowest free ones for the rest, for each family
    the network has (subnet, subnet6: either may be None, not both). Containers that leave (state absent) get no
    address."""
    if not subnet and not subnet6:
        raise InvalidInput(f"network '{network}': give a subnet, an IPv6 subnet (subnet6), or both")
    validate.interface_name(bridge, "bridge", None)
    wanted = [c for c in normalize_containers(containers, network) if c.state == "present"]
    halves = {}
    for family, value, gw, fixed in ((4, subnet, gateway, "address"), (6, subnet6, gateway6, "address6")):
        if value:
            halves[family] = _plan_family(wanted, network, family, value, gw, fixed, current)
    pair = {"master": bridge}
    if mtu is not None:
        pair["mtu"] = mtu
    four, six = halves.get(4), halves.get(6)
    routes = []
    for c in wanted:
        if c.default_route:
            routes += [{"namespace": c.name, "dest": "default", "gateway": str(half[0]), "dev": c.interface}
                       for half in (four, six) if half]
    return NetworkLayout(
        gateway=str(four[0]) if four else None,
        gateway_cidr=f"{four[0]}/{four[2].prefixlen}" if four else None,
        subnet=str(four[2]) if four else None,
        addresses={n: str(ip) for n, ip in four[1].items()} if four else {},
        gateway6=str(six[0]) if six else None,
        gateway6_cidr=f"{six[0]}/{six[2].prefixlen}" if six else None,
        subnet6=str(six[2]) if six else None,
        addresses6={n: str(ip) for n, ip in six[1].items()} if six else {},
        pairs=[dict(pair, name=host_end_name(bridge, c.name), peer=c.interface, peer_namespace=c.name,
                    peer_addresses=[f"{half[1][c.name]}/{half[2].prefixlen}" for half in (four, six) if half],
                    **({"hairpin": True} if c.ports else {}))
               for c in wanted],
        routes=routes,
    )


def _plan_family(wanted, network, family, subnet, gateway, fixed_key, current):
    """(gateway, container -> address, subnet) of one address family."""
    what = "subnet" if family == 4 else "subnet6"
    net = validate.network(subnet, f"network '{network}' {what}")
    if net.version != family:
        raise InvalidInput(f"network '{network}': {what} {net} is IPv{net.version}; {what} must be an IPv{family} network")
    if family == 6 and (net.is_link_local or net.overlaps(ipaddress.ip_network("fe80::/10"))):
        raise InvalidInput(f"network '{network}': subnet6 {net} is link-local (fe80::/10 belongs to the kernel); "
                           "use a unique local range such as fd42:0:0:1::/64")
    if family == 6 and (net.is_multicast or net.prefixlen > 126):
        raise InvalidInput(f"network '{network}': subnet6 {net} cannot hold a gateway and containers (at most /126, "
                           "not multicast)")
    if net.num_addresses < 4:
        raise InvalidInput(f"network '{network}': {what} {net} is too small (it needs a gateway and at least one container)")
    hosts_first, hosts_last = net.network_address + 1, net.broadcast_address - 1
    gw = validate.ip_address(gateway, f"network '{network}' gateway{'' if family == 4 else '6'}") if gateway else hosts_first
    if gw.version != family or gw not in net or gw in (net.network_address, net.broadcast_address):
        raise InvalidInput(f"network '{network}': gateway{'' if family == 4 else '6'} {gw} is not a host address of "
                           f"{what} {net}")

    taken = {gw: "the gateway"}
    assigned = {}
    for c in wanted:  # fixed addresses first: they win over what the kernel shows
        value = getattr(c, fixed_key)
        if value is None:
            continue
        ip = ipaddress.ip_interface(validate.interface_address(f"{str(value).split('/', maxsplit=1)[0]}/{net.prefixlen}",
                                                               f"network '{network}' container '{c.name}' {fixed_key}")).ip
        if ip.version != family or ip not in net or ip in (net.network_address, net.broadcast_address):
            raise InvalidInput(f"network '{network}': container '{c.name}' {fixed_key} {ip} is outside {what} {net} "
                               f"(or is its network or {'broadcast' if family == 4 else 'last'} address)")
        if ip in taken:
            raise InvalidInput(f"network '{network}': container '{c.name}' {fixed_key} {ip} is already {taken[ip]}")
        taken[ip] = f"container '{c.name}'"
        assigned[c.name] = ip
    current = _current_in_subnet(current, net)
    for c in wanted:  # then the addresses the containers already have
        ip = current.get(c.name)
        if c.name not in assigned and ip is not None and ip not in taken:
            taken[ip] = f"container '{c.name}'"
            assigned[c.name] = ip
    free = (ip for ip in _host_range(hosts_first, hosts_last) if ip not in taken)
    for c in wanted:  # the rest: the lowest free addresses, in list order
        if c.name not in assigned:
            ip = next(free, None)
            if ip is None:
                raise InvalidInput(f"network '{network}': {what} {net} is full: no address left for container "
                                   f"'{c.name}' ({len(wanted)} containers and the gateway)")
            taken[ip] = f"container '{c.name}'"
            assigned[c.name] = ip
    return gw, {c.name: assigned[c.name] for c in wanted}, net


def _host_range(first, last):
    ip = first
    while ip <= last:
        yield ip
        ip += 1
