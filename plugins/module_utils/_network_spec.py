# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A container network as requested: the container_network module's options turned into typed specs, once, at the
edge. Everything after this (addressing, the composer, the planners) reads typed values only."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from ansible_collections.linuxns.net.plugins.module_utils import _validate as validate
from ansible_collections.linuxns.net.plugins.module_utils._defaults import (
    CONTAINER_END, DEFAULT_MTU, GATEWAY_MODE, GATEWAY_MODES, ISOLATION_GROUP, OPEN_GROUP, bridge_name)
from ansible_collections.linuxns.net.plugins.module_utils._container_items import CONTAINER_KEYS
from ansible_collections.linuxns.net.plugins.module_utils._bandwidth import Bandwidth, normalize_bandwidth
from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput, where
from ansible_collections.linuxns.net.plugins.module_utils._policy import PolicyRule, parse_policy
from ansible_collections.linuxns.net.plugins.module_utils._ports import PublishedPort, parse_ports
from ansible_collections.linuxns.net.plugins.module_utils._resolv import normalize_dns
from ansible_collections.linuxns.net.plugins.module_utils._routes import RouteSpec, describe_key, normalize_route
from ansible_collections.linuxns.net.plugins.module_utils._vxlan import VxlanSpec, normalize_vxlan

_ALIAS = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*")


@dataclass(frozen=True)
class Container:
    """One container of a network, validated."""
    name: str
    address: Optional[ipaddress.IPv4Address] = None  # fixed address, if the request gives one
    address6: Optional[ipaddress.IPv6Address] = None  # fixed IPv6 address
    interface: str = CONTAINER_END  # its interface in this network
    default_route: bool = True  # via this network's gateway
    ports: Tuple[PublishedPort, ...] = ()  # published ports, parsed
    state: str = "present"  # absent: the container leaves this network
    ingress: Optional[Tuple[PolicyRule, ...]] = None  # None: no restriction; () allows nothing
    egress: Optional[Tuple[PolicyRule, ...]] = None
    mac: Optional[str] = None  # its interface's MAC in this network; None: the kernel's random one
    host_mac: Optional[str] = None  # the host end's (a rebuild of a saved network sets it)
    aliases: Tuple[str, ...] = ()  # more names on this network (docker network connect --alias)
    sysctls: dict = field(default_factory=dict)  # its namespace's net.* sysctls, set after its interface exists
    dns: Optional[dict] = None  # its resolver (nameservers, search, options); None: left alone
    mtu: Optional[int] = None  # its interface's own MTU, below the network's; None: the network's
    bandwidth: Optional[Bandwidth] = None  # its rate limits (tc on the host end); None: unlimited


@dataclass(frozen=True)
class RemoteContainer:
    """A container of the network on another host of a fleet: what this host's containers resolve it by."""
    name: str
    host: str
    addresses: Tuple[ipaddress._BaseAddress, ...]
    aliases: Tuple[str, ...] = ()


@dataclass
class NetworkSpec:
    """One network as requested, validated."""
    name: str
    bridge: str
    subnet: Optional[ipaddress.IPv4Network]  # None: IPv6 only
    gateway: Optional[ipaddress.IPv4Address] = None  # None: the subnet's first host address
    subnet6: Optional[ipaddress.IPv6Network] = None  # None: IPv4 only
    gateway6: Optional[ipaddress.IPv6Address] = None
    masquerade: bool = True
    masquerade6: bool = True
    masquerade_exclude: list = field(default_factory=list)  # of ipaddress networks, both families
    mtu: Optional[int] = None
    state: str = "present"
    containers: List[Container] = field(default_factory=list)
    isolation_group: Optional[int] = None  # None: not isolated
    internal: bool = False
    hosts_file: bool = True
    routes: List[RouteSpec] = field(default_factory=list)  # the host's routes that come with the network
    vxlan: Optional[VxlanSpec] = None  # the host's overlay device that comes with the network
    gateway_mode: str = GATEWAY_MODE  # IPv4's: one of GATEWAY_MODES
    gateway_mode6: str = GATEWAY_MODE
    direct_access_from: list = field(default_factory=list)  # of ipaddress networks, both families
    icc: bool = True  # False: the containers cannot reach each other (port isolation, and a drop)
    policy_peers: dict = field(default_factory=dict)  # names that policies may use beyond this host: name -> networks
    stop_processes: bool = False  # a leaving container's processes: refused (False) or stopped, as docker rm -f
    stop_timeout: float = 10.0  # seconds from SIGTERM to SIGKILL
    persist: Optional[bool] = None  # True: saved and rebuilt at boot; False: not (saved state removed); None: as is
    ip_range: Optional[ipaddress.IPv4Network] = None  # where automatic IPv4 addresses come from (Docker's --ip-range)
    ip_range6: Optional[ipaddress.IPv6Network] = None
    reserved: list = field(default_factory=list)  # addresses never handed out (Docker's --aux-address), both families
    host_names: bool = False  # the host resolves the containers: a block of the host's /etc/hosts
    fleet_host: Optional[str] = None  # this host's name in a fleet: the containers also resolve as NAME.HOST
    remote_containers: List[RemoteContainer] = field(default_factory=list)  # the fleet's others, resolved here too
    remote_hosts: Optional[List[str]] = None  # the hosts remote_containers covers in full; None: every host

    def subnet_of(self, family):
        return self.subnet if family == 4 else self.subnet6

    def gateway_mode_of(self, family):
        return self.gateway_mode if family == 4 else self.gateway_mode6

    @property
    def bridge_group(self):
        """The bridge's device group: the isolation group, or OPEN_GROUP for a network that is not isolated."""
        return OPEN_GROUP if self.isolation_group is None else self.isolation_group


def normalize_network(params):
    """The container_network module's options (a dict) as a NetworkSpec."""
    if not params.get("name"):
        raise InvalidInput("container_network: 'name' is required")
    name = validate.network_name(params["name"])
    bridge = params.get("bridge") or bridge_name(name)
    validate.interface_name(bridge, f"bridge of network '{name}'")
    if not params.get("subnet") and not params.get("subnet6"):
        raise InvalidInput(f"network '{name}': give 'subnet', 'subnet6' (IPv6), or both")
    subnets, gateways = {}, {}
    for key, family in (("subnet", 4), ("subnet6", 6)):
        if params.get(key):
            subnets[family] = validate.network(params[key], f"network '{name}' {key}")
            if subnets[family].version != family:
                raise InvalidInput(f"network '{name}': {key} {subnets[family]} is IPv{subnets[family].version}; {key} "
                                   f"must be an IPv{family} network")
            validate.container_subnet(subnets[family], f"network '{name}': {key}")
        gateway_key = "gateway" if family == 4 else "gateway6"
        if params.get(gateway_key):
            gateways[family] = validate.ip_address(params[gateway_key], f"network '{name}' {gateway_key}")
    group = params.get("isolation_group")
    isolated = params.get("isolated", True) is not False
    state = params.get("state") or "present"
    modes = _gateway_modes(name, params)
    net = NetworkSpec(
        name=name, bridge=bridge, subnet=subnets.get(4), gateway=gateways.get(4), subnet6=subnets.get(6),
        gateway6=gateways.get(6), masquerade=modes[4] != "routed" and params.get("masquerade") is not False,
        masquerade6=modes[6] != "routed" and params.get("masquerade6") is not False,
        gateway_mode=modes[4], gateway_mode6=modes[6], icc=params.get("icc", True) is not False,
        direct_access_from=_direct_access_from(name, params.get("direct_access_from"), subnets),
        policy_peers=_policy_peers(name, params.get("policy_peers")),
        masquerade_exclude=[validate.network(n, f"network '{name}' masquerade_exclude") for n in params.get("masquerade_exclude") or []],
        mtu=validate.mtu(params.get("mtu"), f"network '{name}'"), state=state,
        containers=normalize_containers(params.get("containers") or [], name),
        isolation_group=(ISOLATION_GROUP if group is None else group) if isolated else None,
        internal=bool(params.get("internal")), hosts_file=params.get("hosts_file", True) is not False,
        routes=_host_routes(name, state, params.get("routes")), vxlan=_host_vxlan(state, params.get("vxlan")),
        stop_processes=bool(params.get("stop_processes")),
        persist=params.get("persist"),
        ip_range=_ip_range(name, params, subnets, 4), ip_range6=_ip_range(name, params, subnets, 6),
        reserved=_reserved(name, params.get("reserved"), subnets), host_names=bool(params.get("host_names")),
        fleet_host=_host_name(name, params.get("fleet_host"), "fleet_host"),
        stop_timeout=validate.stop_timeout(params.get("stop_timeout"), f"network '{name}'"))
    net.remote_containers = _remote_containers(name, params.get("remote_containers"), net.fleet_host)
    if params.get("remote_hosts") is not None:
        net.remote_hosts = [_host_name(name, h, "remote_hosts item") for h in params["remote_hosts"]]
    if net.isolation_group is not None and not 0 < net.isolation_group < 2 ** 32:
        raise InvalidInput(f"network '{name}': isolation_group {net.isolation_group} must be from 1 to 4294967295")
    if net.isolation_group == OPEN_GROUP:
        raise InvalidInput(f"network '{name}': isolation_group {OPEN_GROUP} is the device group of the networks that "
                           "are not isolated; choose another")
    for c in net.containers:
        obj = f"network '{name}': container '{c.name}'"
        for p in c.ports:
            if p.host_ip is not None and net.subnet_of(p.host_ip.version) is None:
                raise InvalidInput(f"{obj}: published port '{p.text}' has an IPv{p.host_ip.version} host address, but "
                                   f"the network has no IPv{p.host_ip.version} subnet")
        for p in c.ports:
            for source in p.allow_from:
                if net.subnet_of(source.version) is None:
                    raise InvalidInput(f"{obj}: published port '{p.text}': allow_from {source} is IPv{source.version}, "
                                       f"but the network has no IPv{source.version} subnet to publish on")
        if c.mtu is not None and c.mtu > (net.mtu or DEFAULT_MTU):
            raise InvalidInput(f"{obj}: mtu {c.mtu} is above the network's ({net.mtu or DEFAULT_MTU}): its host end and "
                               "the bridge would drop what it sends (raise the network's mtu instead)")
        if c.ports and net.internal:
            raise InvalidInput(f"{obj} publishes ports {[p.text for p in c.ports]}, but the network is internal: nothing "
                               "from outside its bridge may reach it (put the container on a second, non-internal network "
                               "to publish)")
    return net


def _gateway_modes(name, params):
    """IPv4's and IPv6's gateway modes; routed means no masquerade, so asking for both is refused."""
    modes = {}
    for family, key, masquerade in ((4, "gateway_mode", "masquerade"), (6, "gateway_mode6", "masquerade6")):
        mode = params.get(key) or GATEWAY_MODE
        if mode not in GATEWAY_MODES:
            raise InvalidInput(f"network '{name}': {key} '{mode}' must be one of {', '.join(GATEWAY_MODES)}")
        if mode == "routed" and params.get(masquerade) is True:
            raise InvalidInput(f"network '{name}': {key} routed and {masquerade} true conflict: a routed network's "
                               "containers keep their own addresses (leave out masquerade, or use gateway mode nat)")
        if mode != GATEWAY_MODE and params.get("internal"):
            raise InvalidInput(f"network '{name}': {key} {mode} on an internal network: nothing from outside its bridge "
                               "reaches it in any mode (leave out the gateway mode)")
        modes[family] = mode
    return modes


def _host_name(network, value, what):
    """A fleet host's name (what: the option it comes from, for the message); None when unset."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _ALIAS.fullmatch(value) or len(value) > 253:
        raise InvalidInput(f"network '{network}': {what} {value!r} must be a host name (letters, digits, '-', '_' "
                           "and '.' between labels)")
    return value


def _remote_containers(network, values, fleet_host):
    """The fleet's containers on other hosts (name, host, addresses, aliases); this host's own entries are left out,
    so that one list serves every host."""
    if not values:
        return []
    if fleet_host is None:
        raise InvalidInput(f"network '{network}': remote_containers needs fleet_host, this host's name in the fleet "
                           "(its containers resolve as NAME.HOST there)")
    if isinstance(values, str):
        values = _remote_lines(network, values)
    if not isinstance(values, list):
        raise InvalidInput(f"network '{network}': remote_containers must be a list of dicts or a text, not {values!r}")
    out, seen = [], set()
    for item in values:
        if not isinstance(item, dict) or set(item) - {"name", "host", "addresses", "aliases"}:
            raise InvalidInput(f"network '{network}': remote_containers item {item!r} must be a dict with name, host, "
                               "addresses and aliases")
        host = _host_name(network, item.get("host"), f"remote container {item.get('name')!r} host")
        if host is None:
            raise InvalidInput(f"network '{network}': remote container {item.get('name')!r} needs its host")
        name = validate.container_name(item.get("name"), network)
        obj = f"network '{network}': remote container '{name}' on host '{host}'"
        if host == fleet_host:
            continue
        if (name, host) in seen:
            raise InvalidInput(f"{obj} is listed more than once")
        seen.add((name, host))
        addresses = item.get("addresses") or []
        if not isinstance(addresses, list) or not addresses:
            raise InvalidInput(f"{obj}: addresses must be a non-empty list")
        out.append(RemoteContainer(name, host, tuple(validate.ip_address(str(a).split("/", maxsplit=1)[0], f"{obj} address")
                                                     for a in addresses),
                                   _aliases(item.get("aliases"), network, name)))
    return out


def _remote_lines(network, text):
    """remote_containers as text: a line per container, NAME HOST ADDRESS,... [ALIAS,...] (what the fleet role sends)."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) not in (3, 4):
            raise InvalidInput(f"network '{network}': remote_containers line {number} ({line!r}) must be NAME HOST "
                               "ADDRESS,... [ALIAS,...]")
        out.append({"name": fields[0], "host": fields[1], "addresses": fields[2].split(","),
                    "aliases": fields[3].split(",") if len(fields) == 4 else []})
    return out


def _policy_peers(name, values):
    """Names of containers or networks elsewhere (a fleet's other hosts), with their address ranges."""
    if not values:
        return {}
    if not isinstance(values, dict):
        raise InvalidInput(f"network '{name}': policy_peers must map names to lists of address ranges, not {values!r}")
    out = {}
    for peer, ranges in values.items():
        if isinstance(ranges, str):
            ranges = [ranges]
        if not isinstance(ranges, list):
            raise InvalidInput(f"network '{name}': policy_peers '{peer}' must be a list of address ranges")
        out[str(peer)] = sorted({validate.network(r, f"network '{name}' policy_peers '{peer}'") for r in ranges},
                                key=lambda n: (n.version, int(n.network_address), n.prefixlen))
    return out


def _direct_access_from(name, values, subnets):
    """The sources that may reach the containers at their own addresses, whatever the gateway mode."""
    if values is None:
        return []
    if isinstance(values, str) or not isinstance(values, (list, tuple)):
        raise InvalidInput(f"network '{name}': direct_access_from must be a list of source ranges, not {values!r}")
    out = []
    for value in values:
        net = validate.network(value, f"network '{name}' direct_access_from")
        if net.version not in subnets:
            raise InvalidInput(f"network '{name}': direct_access_from {net} is IPv{net.version}, but the network has no "
                               f"IPv{net.version} subnet")
        out.append(net)
    return sorted(set(out), key=lambda n: (n.version, int(n.network_address), n.prefixlen))


def _host_routes(network, state, items):
    routes = []
    for item in items or []:
        if not isinstance(item, dict):
            raise InvalidInput(f"network '{network}': each of 'routes' must be a route (a dict), not {item!r}")
        route = dict(item, namespace=None)
        if state == "absent":
            route["state"] = "absent"
        routes.append(normalize_route(route))
    validate.unique(routes, lambda r: f"{describe_key(r)} in {where(None)}", f"route of network '{network}'")
    return routes


def _host_vxlan(state, params):
    if not params:
        return None
    device = dict(params, namespace=None)
    if state == "absent":
        device["state"] = "absent"
    return normalize_vxlan(device)


def normalize_containers(items, network):
    """A list of names or of dicts (CONTAINER_KEYS) as Containers; refuse duplicates and names outside Docker's rule."""
    out = []
    for position, item in enumerate(items or []):
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
        fixed = {key: _fixed_address(item.get(key), network, name, key) for key in ("address", "address6")}
        obj = f"network '{network}': container '{name}'"
        out.append(Container(name, fixed["address"], fixed["address6"], interface, bool(default_route),
                             tuple(parse_ports(ports, obj)), state, parse_policy(item.get("ingress"), "ingress", obj),
                             parse_policy(item.get("egress"), "egress", obj),
                             validate.mac_address(item.get("mac"), f"{obj} interface '{interface}' mac", name),
                             validate.mac_address(item.get("host_mac"), f"{obj} host end mac"),
                             _aliases(item.get("aliases"), network, name), _sysctls(item.get("sysctls"), obj),
                             normalize_dns(item.get("dns"), obj), validate.mtu(item.get("mtu"), obj),
                             normalize_bandwidth(item.get("bandwidth"), obj)))
    validate.unique(out, lambda c: f"'{c.name}'", f"network '{network}': container")
    names = {c.name: f"container '{c.name}'" for c in out if c.state == "present"}
    for c in out:
        for alias in c.aliases if c.state == "present" else ():
            if alias in names:
                raise InvalidInput(f"network '{network}': container '{c.name}' alias '{alias}' is already the name of "
                                   f"{names[alias]} on the network")
            names[alias] = f"an alias of container '{c.name}'"
    owners = {}
    for c in out:
        if c.mac is not None and c.state == "present":
            if c.mac in owners:
                raise InvalidInput(f"network '{network}': containers '{owners[c.mac]}' and '{c.name}' both have mac "
                                   f"{c.mac}; a MAC must be unique on the network's bridge")
            owners[c.mac] = c.name
    return out


def _ip_range(network, params, subnets, family):
    """ip_range (ip_range6): a network inside the subnet of its family, where automatic addresses come from."""
    key = "ip_range" if family == 4 else "ip_range6"
    if not params.get(key):
        return None
    value = validate.network(params[key], f"network '{network}' {key}")
    subnet = subnets.get(family)
    if value.version != family or subnet is None or not value.subnet_of(subnet):
        raise InvalidInput(f"network '{network}': {key} {value} must lie inside "
                           f"{'subnet' if family == 4 else 'subnet6'} {subnet}")
    return value


def _reserved(network, values, subnets):
    """Addresses never handed out automatically: each a host address of the network's subnet of its family."""
    out = []
    for value in values or []:
        ip = validate.ip_address(str(value), f"network '{network}' reserved")
        subnet = subnets.get(ip.version)
        if subnet is None or ip not in subnet or ip in (subnet.network_address, subnet.broadcast_address):
            raise InvalidInput(f"network '{network}': reserved address {ip} is not a host address of the network's "
                               f"IPv{ip.version} subnet ({subnet or 'none'})")
        if ip in out:
            raise InvalidInput(f"network '{network}': reserved address {ip} is listed more than once")
        out.append(ip)
    return out


def _aliases(value, network, name):
    if value is None:
        return ()
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, (list, tuple)):
        raise InvalidInput(f"network '{network}': container '{name}' aliases must be a list of names, not {value!r}")
    out = []
    for alias in values:
        if not isinstance(alias, str) or not _ALIAS.fullmatch(alias) or len(alias) > 253:
            raise InvalidInput(f"network '{network}': container '{name}' alias {alias!r} must be a host name (letters, "
                               "digits, '-', '_' and '.' between labels)")
        if alias != name and alias not in out:
            out.append(alias)
    return tuple(out)


def _sysctls(value, obj):
    """A container's net.* sysctls, as text (checked against the kernel when its namespace is planned)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{obj}: sysctls must be a dict of net.* keys and values, not {value!r}")
    return dict(value)


def _fixed_address(value, network, container, key):
    """A fixed address, with or without a prefix length (the network's subnet sets it)."""
    if value is None:
        return None
    return validate.ip_address(str(value).split("/", maxsplit=1)[0], f"network '{network}' container '{container}' {key}")
