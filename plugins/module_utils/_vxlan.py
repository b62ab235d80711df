# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""VXLAN overlays, flannel's way: one VXLAN device per host, no multicast and no learning, and for each peer host
a static forwarding entry (its VTEP MAC -> its underlay address), a permanent neighbour entry (its VTEP's overlay
address -> that MAC) and routes to its container subnets via that address, onlink through the device.

A VTEP's MAC is derived from the VNI and its underlay address unless given, so hosts need not exchange MACs, and a
host rebuilt at the same address comes back with the same MAC. Entries on the device are ours (we own the device):
a peer listed is made exact; a peer listed absent is forgotten; entries of peers not listed are kept unless
purge_peers asks (a partial play must not tear down the rest of a fleet)."""

from __future__ import annotations

import errno
import functools
import ipaddress
import socket
from dataclasses import dataclass, field

from ansible_collections.linuxns.net.plugins.module_utils._defaults import (
    UP, VXLAN_OVERHEAD as OVERHEAD, VXLAN_PORT, VXLAN_VNI_MAX as VNI_MAX)
from ansible_collections.linuxns.net.plugins.module_utils._errors import (
    Conflict, InvalidInput, KernelError, kernel_error, where)
from ansible_collections.linuxns.net.plugins.module_utils._kernel import NUD_PERMANENT
from ansible_collections.linuxns.net.plugins.module_utils._links import (
    LinkSettings, delete_if_present, derived_mac, existing_link, link_index, plan_link_removal, plan_link_settings)
from ansible_collections.linuxns.net.plugins.module_utils._plan import Plan
from ansible_collections.linuxns.net.plugins.module_utils._routes import (
    DEFAULT_METRIC, RouteSpec, RouteTable, plan_route)
from ansible_collections.linuxns.net.plugins.module_utils._session import netlink_call
from ansible_collections.linuxns.net.plugins.module_utils._snapshot import Snapshots, managed_addresses
from ansible_collections.linuxns.net.plugins.module_utils import _validate as validate

# The argument spec of a device, shared by the vxlan module and container_network's vxlan option.
VXLAN_OPTIONS = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    vni=dict(type="int"),
    port=dict(type="int", default=VXLAN_PORT),
    local=dict(type="str"),
    dev=dict(type="str"),
    mtu=dict(type="int"),
    mac=dict(type="str"),
    addresses=dict(type="list", elements="str"),
    up=dict(type="bool", default=UP),
    peers=dict(type="list", elements="dict", default=[], options=dict(
        address=dict(type="str", required=True),
        mac=dict(type="str"),
        vtep_addresses=dict(type="list", elements="str", default=[]),
        subnets=dict(type="list", elements="str", default=[]),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )),
    purge_peers=dict(type="bool", default=False),
)


def vtep_mac(vni, address):
    """The MAC of the VTEP with this VNI at this underlay address: locally administered, unicast, stable."""
    return derived_mac(f"vxlan {vni} {ipaddress.ip_address(str(address))}")


@dataclass
class VxlanPeer:
    address: object  # its underlay address
    mac: str
    vteps: list  # its VTEP's overlay addresses: the next hops of its subnets
    subnets: list  # its container subnets
    state: str = "present"

    def next_hop(self, subnet):
        return next(v for v in self.vteps if v.version == subnet.version)

    def view(self):
        return {"address": str(self.address), "mac": self.mac, "vteps": sorted(str(v) for v in self.vteps),
                "subnets": sorted(str(s) for s in self.subnets)}


@dataclass
class VxlanSpec:
    name: str
    namespace: str
    vni: int = None
    port: int = VXLAN_PORT
    local: object = None
    dev: str = None
    mtu: int = None
    mac: str = None
    addresses: list = None
    up: bool = UP
    peers: list = field(default_factory=list)
    purge_peers: bool = False
    state: str = "present"

    @property
    def obj(self):
        return f"vxlan '{self.name}' in {where(self.namespace)}"


def _integer(value, low, high, what, obj):
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidInput(f"{obj}: {what} {value!r} must be an integer from {low} to {high}")
    return value


def normalize_vxlan(params):
    ns = validate.namespace_name(params.get("namespace"))
    name = validate.interface_name(params.get("name"), "vxlan", ns)
    spec = VxlanSpec(name=name, namespace=ns, state=params.get("state") or "present")
    obj = spec.obj
    if spec.state == "absent":
        return spec
    if params.get("vni") is None:
        raise InvalidInput(f"{obj}: 'vni' is required (1 to {VNI_MAX})")
    spec.vni = _integer(params["vni"], 1, VNI_MAX, "vni", obj)
    spec.port = _integer(VXLAN_PORT if params.get("port") is None else params["port"], 1, 65535, "port", obj)
    if not params.get("local"):
        raise InvalidInput(f"{obj}: 'local' is required (this host's underlay address)")
    spec.local = validate.ip_address(params["local"], f"vxlan '{name}' local", ns)
    if spec.local.is_multicast or spec.local.is_unspecified or spec.local.is_loopback:
        raise InvalidInput(f"{obj}: local {spec.local} must be a unicast address of this host")
    spec.dev = validate.interface_name(params["dev"], f"dev of vxlan '{name}'", ns) if params.get("dev") else None
    spec.mtu = validate.mtu(params.get("mtu"), obj, ns)
    spec.mac = validate.mac_address(params.get("mac"), f"vxlan '{name}' mac", ns) or vtep_mac(spec.vni, spec.local)
    if params.get("addresses") is not None:
        spec.addresses = validate.interface_addresses(params["addresses"], f"vxlan '{name}' addresses", ns)
    spec.up = UP if params.get("up") is None else params["up"]
    spec.purge_peers = bool(params.get("purge_peers"))
    spec.peers = [_peer(spec, item, i) for i, item in enumerate(params.get("peers") or [])]
    _check_peers(spec)
    return spec


def _peer(spec, item, position):
    obj = spec.obj
    if not isinstance(item, dict) or not item.get("address"):
        raise InvalidInput(f"{obj}: peer #{position + 1} needs 'address' (the peer's underlay address)")
    address = validate.ip_address(item["address"], f"vxlan '{spec.name}' peer", spec.namespace)
    what = f"{obj}: peer {address}"
    if address.version != spec.local.version:
        raise InvalidInput(f"{what} is IPv{address.version}; local {spec.local} is IPv{spec.local.version}, and a "
                           "device's peers share its underlay family")
    if address == spec.local or address.is_multicast or address.is_unspecified or address.is_loopback:
        raise InvalidInput(f"{what} must be another host's unicast address, not "
                           f"{'this host (local)' if address == spec.local else 'a special address'}")
    mac = (validate.mac_address(item.get("mac"), f"vxlan '{spec.name}' peer {address} mac", spec.namespace)
           or vtep_mac(spec.vni, address))
    vteps = [validate.ip_address(v, f"vxlan '{spec.name}' peer {address} vtep address", spec.namespace)
             for v in item.get("vtep_addresses") or []]
    subnets = [validate.network(s, f"vxlan '{spec.name}' peer {address} subnet", spec.namespace)
               for s in item.get("subnets") or []]
    if len({v.version for v in vteps}) != len(vteps):
        raise InvalidInput(f"{what}: give at most one vtep address per family, not {[str(v) for v in vteps]}")
    for subnet in subnets:
        if not any(v.version == subnet.version for v in vteps):
            raise InvalidInput(f"{what}: subnet {subnet} needs an IPv{subnet.version} vtep address (its next hop)")
    return VxlanPeer(address=address, mac=mac, vteps=vteps, subnets=subnets, state=item.get("state") or "present")


def _check_peers(spec):
    obj = spec.obj
    seen = {}
    for peer in spec.peers:
        for kind, key in [("address", peer.address), ("mac", peer.mac)] + [("vtep address", v) for v in peer.vteps]:
            if (kind, key) in seen:
                raise InvalidInput(f"{obj}: {kind} {key} is given for two peers ({seen[(kind, key)]} and {peer.address})")
            seen[(kind, key)] = peer.address
        if peer.mac == spec.mac:
            raise InvalidInput(f"{obj}: peer {peer.address} has this device's own MAC {peer.mac}")
    subnets = [(s, p) for p in spec.peers for s in p.subnets]
    for i, (a, pa) in enumerate(subnets):
        for b, pb in subnets[i + 1:]:
            if a.overlaps(b):
                raise InvalidInput(f"{obj}: subnet {a} of peer {pa.address} overlaps subnet {b} of peer {pb.address}")


# ---------------------------------------------------------------- the kernel's view of the device

@dataclass
class DeviceEntries:
    """The forwarding and neighbour entries a VXLAN device has, and the routes through it."""
    fdb: list = field(default_factory=list)  # (mac, dst) pairs, remote entries only
    neighbours: dict = field(default_factory=dict)  # overlay address -> mac, permanent entries only
    routes: dict = field(default_factory=dict)  # subnet (str) -> KernelRoute through the device

    def peers_view(self):
        """The peers, as the entries show them: one per MAC."""
        by_mac = {}
        for mac, dst in self.fdb:
            by_mac.setdefault(mac, {"address": dst, "mac": mac, "vteps": [], "subnets": []})
        for vtep, mac in self.neighbours.items():
            by_mac.setdefault(mac, {"address": None, "mac": mac, "vteps": [], "subnets": []})["vteps"].append(vtep)
        for subnet, route in self.routes.items():
            for peer in by_mac.values():
                if route.gateway in peer["vteps"]:
                    peer["subnets"].append(subnet)
        for peer in by_mac.values():
            peer["vteps"].sort()
            peer["subnets"].sort()
        return sorted(by_mac.values(), key=lambda p: (p["address"] is None, str(p["address"]), p["mac"]))


def read_entries(session, namespace, snapshot, link, tables=None):
    """The device's entries. Its routes come from tables (plan_route's, shared with the run's other route planning,
    so that routes changed earlier in the plan are seen as planned), read into it where missing."""
    out = DeviceEntries()
    sock = session.pyroute2(namespace)
    try:
        for msg in sock.fdb("dump", ifindex=link.index):
            dst = msg.get_attr("NDA_DST")
            if msg["ifindex"] == link.index and dst and msg.get_attr("NDA_LLADDR") not in (None, "00:00:00:00:00:00"):
                out.fdb.append((msg.get_attr("NDA_LLADDR"), str(ipaddress.ip_address(dst))))
        for msg in sock.neigh("dump", ifindex=link.index):
            if msg["ifindex"] == link.index and msg["state"] & NUD_PERMANENT and msg.get_attr("NDA_LLADDR"):
                out.neighbours[str(ipaddress.ip_address(msg.get_attr("NDA_DST")))] = msg.get_attr("NDA_LLADDR")
    except OSError as exc:
        raise kernel_error(f"read the entries of vxlan '{link.name}' in {where(namespace)}", exc) from None
    tables = {} if tables is None else tables
    for family in (4, 6):
        if (namespace, family) not in tables:
            tables[(namespace, family)] = RouteTable(session, namespace, snapshot, (family,))
        for key, route in tables[(namespace, family)].by_key.items():
            if route.dev == link.name and route.gateway and key.table == 254:
                out.routes[key.dest] = route
    return out


# ---------------------------------------------------------------- plan

def _underlay_link(spec, snap):
    """The link that holds local (and is dev, when dev is given)."""
    holder = next((l for l in snap.by_name.values()
                   if any(ipaddress.ip_interface(a).ip == spec.local for a in l.addresses)), None)
    if holder is None:
        raise InvalidInput(f"{spec.obj}: local {spec.local} is not an address of any link in {where(spec.namespace)}")
    if spec.dev is not None and spec.dev != holder.name:
        if spec.dev not in snap.by_name:
            raise InvalidInput(f"{spec.obj}: dev '{spec.dev}' does not exist in {where(spec.namespace)}")
        raise InvalidInput(f"{spec.obj}: local {spec.local} is on '{holder.name}', not on dev '{spec.dev}'")
    return holder


def _check_overlaps(spec, snap, link_name):
    """Peers' subnets and VTEP addresses must not be this host's own: that would hijack its own traffic."""
    own = [(l.name, ipaddress.ip_interface(a)) for l in snap.by_name.values() if l.name != link_name
           for a in managed_addresses(l.addresses)]
    for peer in spec.peers:
        if peer.state != "present":
            continue
        for subnet in peer.subnets:
            for name, iface in own:
                if (iface.version == subnet.version and (iface.ip in subnet or subnet.subnet_of(iface.network))
                        and not iface.ip.is_loopback):
                    raise Conflict(f"{spec.obj}: subnet {subnet} of peer {peer.address} overlaps {iface} of link "
                                   f"'{name}' in {where(spec.namespace)}: it is this host's own")


def plan_vxlan(plan, session, snaps, spec, tables=None):
    ns, name, obj = spec.namespace, spec.name, spec.obj
    snap = snaps[ns]
    key = f"{ns or ''}/{name}"
    link = existing_link(snap, name, "vxlan", obj)
    if spec.state == "absent":
        plan_link_removal(plan, session, ns, link, f"delete {obj} (and its entries and routes)", obj, key,
                          lambda: _device_view(link, snap, read_entries(session, ns, snap, link)))
        return
    sock = functools.partial(session.pyroute2, ns)
    mark = plan.mark

    if snap.missing:
        underlay, underlay_mtu = None, None  # check mode, namespace still to come
    else:
        holder = _underlay_link(spec, snap)
        underlay, underlay_mtu = holder, holder.mtu
        _check_overlaps(spec, snap, name)
    room = None if underlay_mtu is None else underlay_mtu - OVERHEAD[spec.local.version]
    if spec.mtu is not None and room is not None and spec.mtu > room:
        raise InvalidInput(f"{obj}: mtu {spec.mtu} leaves no room for the VXLAN encapsulation over '{underlay.name}' "
                           f"(mtu {underlay_mtu}): at most {room} (underlay MTU - {OVERHEAD[spec.local.version]} for "
                           f"an IPv{spec.local.version} underlay)")
    mtu = spec.mtu if spec.mtu is not None else room

    want = {"vni": spec.vni, "port": spec.port, "local": str(spec.local), "dev": underlay.index if underlay else None,
            "learning": False}
    recreate = link is not None and underlay is not None and link.vxlan != want
    tables = {} if tables is None else tables  # the route tables, read once with the entries
    entries = read_entries(session, ns, snap, link, tables) if link is not None else DeviceEntries()
    before = _device_view(link, snap, entries) if link is not None else None

    def create():
        attrs = {"ifname": name, "kind": "vxlan", "vxlan_id": spec.vni, "vxlan_port": spec.port, "vxlan_learning": 0,
                 "vxlan_link": link_index(session, ns, underlay.name), "address": spec.mac}
        attrs["vxlan_local" if spec.local.version == 4 else "vxlan_local6"] = str(spec.local)
        if mtu is not None:
            attrs["mtu"] = mtu
        try:
            netlink_call(obj, ns, sock().link, "add", **attrs)
        except KernelError as exc:
            if exc.errno in (errno.EOPNOTSUPP, errno.ENOTSUP):
                raise InvalidInput(f"{obj}: this kernel has no vxlan devices (built without CONFIG_VXLAN)") from None
            raise

    if link is None or recreate:
        if recreate:
            changed = ", ".join(f"{k} {link.vxlan.get(k)} -> {v}" for k, v in want.items() if link.vxlan.get(k) != v)
            plan.add(f"recreate {obj} ({changed}: the kernel cannot change these in place)",
                     lambda: netlink_call(obj, ns, sock().link, "del", index=link_index(session, ns, name)))
            for table in {id(t): t for t in tables.values()}.values():  # the kernel removes its routes with it
                for k in [k for k, r in table.by_key.items() if r.dev == name]:
                    del table.by_key[k]
            entries = DeviceEntries()
        plan.add(f"create {obj}: vni {spec.vni}, local {spec.local}, port {spec.port}, mtu {mtu}, mac {spec.mac}",
                 create, None if recreate else functools.partial(delete_if_present, session, ns, name))
        snap.planned.add(name)
    fresh = link is None or recreate
    plan_link_settings(plan, session, ns, name, None if fresh else link,
                       LinkSettings(mtu=None if fresh else mtu, mac=None if fresh else spec.mac,
                                    addresses=spec.addresses, up=spec.up), "vxlan")
    kept = _plan_entries(plan, session, snaps, tables, spec, entries)
    after = {"kind": "vxlan", "vni": spec.vni, "port": spec.port, "local": str(spec.local), "mac": spec.mac,
             "mtu": mtu, "up": spec.up, "peers": kept}
    if spec.addresses is not None:
        after["addresses"] = validate.address_texts(spec.addresses)
    plan.record(key, before, after, mark)


def _plan_entries(plan, session, snaps, tables, spec, have):
    """Make each listed peer's entries exact, forget the absent ones (and, with purge_peers, all others); returns
    the peers the device has afterwards (diff view)."""
    ns, name, obj = spec.namespace, spec.name, spec.obj
    sock = functools.partial(session.pyroute2, ns)
    present = [p for p in spec.peers if p.state == "present"]
    absent = [p for p in spec.peers if p.state != "present"]
    wanted_fdb = {(p.mac, str(p.address)) for p in present}
    wanted_neigh = {str(v): p.mac for p in present for v in p.vteps}
    wanted_routes = {str(s): (p, s) for p in present for s in p.subnets}
    wanted_macs = {p.mac for p in present}
    gone_macs = {p.mac for p in absent} | {mac for v, mac in have.neighbours.items()
                                           if v in wanted_neigh and mac != wanted_neigh[v] and mac not in wanted_macs}
    gone_addresses = {str(p.address) for p in absent}
    wanted_dsts = {dst for _mac, dst in wanted_fdb}

    def stale(mac, dst):
        """A forwarding entry (or the peer it stands for) that goes: an absent peer's, a listed peer's old one (it
        moved, or its MAC changed), or any entry not listed when purging."""
        if (mac, dst) in wanted_fdb:
            return False
        return mac in gone_macs or dst in gone_addresses or mac in wanted_macs or dst in wanted_dsts or spec.purge_peers

    def fdb(command, mac, dst):
        netlink_call(f"forwarding entry {mac} -> {dst} of {obj}", ns, sock().fdb, command,
                     ifindex=link_index(session, ns, name), lladdr=mac, dst=dst, state=NUD_PERMANENT)

    def neigh(command, address, mac=None):
        extra = {"lladdr": mac, "state": NUD_PERMANENT} if mac else {}
        netlink_call(f"neighbour {address} of {obj}", ns, sock().neigh, command, ifindex=link_index(session, ns, name),
                     dst=address, family=socket.AF_INET if ":" not in address else socket.AF_INET6, **extra)

    # new and changed entries first, so that a peer that moved is reachable before its old entries go
    for mac, dst in sorted(wanted_fdb - set(have.fdb)):
        plan.add(f"add forwarding entry {mac} -> {dst} to {obj}", functools.partial(fdb, "append", mac, dst))
    for address, mac in sorted(wanted_neigh.items()):
        if have.neighbours.get(address) != mac:
            verb = "replace" if address in have.neighbours else "add"
            plan.add(f"{verb} neighbour {address} -> {mac} on {obj}", functools.partial(neigh, "replace", address, mac))
    for subnet, (peer, net) in sorted(wanted_routes.items()):
        route = RouteSpec(namespace=ns, dest=net, family=net.version, gateway=peer.next_hop(net), dev=name, onlink=True,
                          metric=DEFAULT_METRIC[net.version], gateway_on_planned_link=True)
        plan_route(plan, session, snaps, tables, route)

    # then what goes: absent peers, stale entries of moved peers, and (purge_peers) every entry not listed
    for mac, dst in sorted(have.fdb):
        if stale(mac, dst):
            plan.add(f"remove forwarding entry {mac} -> {dst} from {obj}", functools.partial(fdb, "del", mac, dst))
    # a listed peer's old VTEP addresses (its subnets were renumbered) go with the absent peers' ones
    gone_vteps = {str(v) for p in absent for v in p.vteps}
    gone_vteps |= {address for address, mac in have.neighbours.items() if mac in wanted_macs and address not in wanted_neigh}
    for address, mac in sorted(have.neighbours.items()):
        if address not in wanted_neigh and (address in gone_vteps or mac in gone_macs or spec.purge_peers):
            plan.add(f"remove neighbour {address} from {obj}", functools.partial(neigh, "del", address))
    gone_subnets = {str(s) for p in absent for s in p.subnets}
    for subnet, route in sorted(have.routes.items()):
        if subnet in wanted_routes:
            continue
        if subnet in gone_subnets or route.gateway in gone_vteps or spec.purge_peers:
            net = ipaddress.ip_network(subnet)
            plan_route(plan, session, snaps, tables,
                       RouteSpec(namespace=ns, dest=net, family=net.version, state="absent", metric=route.metric))

    # the peers the device keeps: those listed, and those not listed that stay
    kept = {p.mac: p.view() for p in present}
    for peer in have.peers_view():
        if peer["mac"] not in kept and not stale(peer["mac"], str(peer["address"])):
            kept[peer["mac"]] = peer
    return sorted(kept.values(), key=lambda p: (str(p["address"]), p["mac"]))


def _device_view(link, snap, entries):
    view = link.view(snap)
    view.update({k: v for k, v in (link.vxlan or {}).items() if k in ("vni", "port", "local")})
    view["peers"] = entries.peers_view()
    return view


def run_vxlan(session, params, check_mode):
    spec = normalize_vxlan(params)
    plan, snaps = Plan(), Snapshots(session, check_mode)
    plan_vxlan(plan, session, snaps, spec)
    result = plan.execute(check_mode)
    if spec.state == "present":
        result.update(mac=spec.mac)
    return result
