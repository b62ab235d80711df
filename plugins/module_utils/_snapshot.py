# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading a namespace's links and addresses once per run: the state that every planner (links, routes, info) reads."""

from __future__ import annotations

import ipaddress
import socket
import struct
from dataclasses import dataclass, field

from ansible_collections.linuxns.net.plugins.module_utils._errors import (
    InvalidInput, NamespaceMissing, kernel_error, where)
from ansible_collections.linuxns.net.plugins.module_utils._kernel import (
    IFA_ADDRESS, IFA_FLAGS, IFA_F_PERMANENT, IFA_LOCAL, IFF_UP, IFLA_ADDRESS, IFLA_BRPORT_ISOLATED, IFLA_BRPORT_MODE, IFLA_BR_STP_STATE,
    IFLA_BR_VLAN_FILTERING, IFLA_GROUP, IFLA_IFALIAS, IFLA_IFNAME, IFLA_QDISC, IFLA_INFO_DATA, IFLA_INFO_KIND,
    IFLA_INFO_SLAVE_DATA, IFLA_INFO_SLAVE_KIND, IFLA_LINK, IFLA_LINKINFO, IFLA_LINK_NETNSID, IFLA_MASTER, IFLA_MTU,
    IFLA_OPERSTATE, IFLA_VXLAN_ID, IFLA_VXLAN_LEARNING, IFLA_VXLAN_LINK, IFLA_VXLAN_LOCAL, IFLA_VXLAN_LOCAL6,
    IFLA_VXLAN_PORT, OPERSTATES, IFLA_STATS64, LINK_STATS64)
from ansible_collections.linuxns.net.plugins.module_utils._netlink import i32, ip, mac, nested, text, u32


@dataclass
class Link:
    index: int
    name: str
    kind: str
    mtu: int
    mac: str
    up: bool
    operstate: str
    master: int = 0
    group: int = 0
    peer_index: int = 0
    peer_nsid: int = -1  # -1: the peer is in the same namespace
    stp: bool = None
    vlan_filtering: bool = None
    hairpin: bool = None  # of a bridge port
    isolated: bool = None  # of a bridge port: port isolation (reaches only ports that are not isolated)
    vxlan: dict = None  # of a vxlan device: vni, local, port, dev (index), learning
    alias: str = None  # ifalias: a network's bridge carries its owner's name there
    qdisc: str = None  # the root qdisc's kind: a host end with a bandwidth limit has tbf
    addresses: list = field(default_factory=list)
    stats: dict = None  # read with stats=True: the first LINK_STATS64 counters (rx_bytes, tx_dropped...)

    def view(self, snapshot):
        """What diff mode and netns_info show for the link."""
        master = snapshot.by_index.get(self.master)
        out = {"kind": self.kind, "mtu": self.mtu, "mac": self.mac, "up": self.up,
               "addresses": managed_addresses(self.addresses)}
        if self.master:
            out["master"] = master.name if master else self.master
        if self.hairpin is not None:
            out["hairpin"] = self.hairpin
        if self.isolated:
            out["isolated"] = True
        return out


def managed_addresses(addresses):
    """Addresses the modules manage: IPv6 link-local ones belong to the kernel."""
    return sorted(a for a in addresses if not ipaddress.ip_interface(a).is_link_local or ipaddress.ip_interface(a).version == 4)


def _parse_link(msg):
    _family, _type, index, flags, _change = msg.header
    attrs = msg.attrs
    info = nested(attrs.get(IFLA_LINKINFO))
    kind = text(info.get(IFLA_INFO_KIND))
    data = nested(info[IFLA_INFO_DATA]) if IFLA_INFO_DATA in info else None
    operstate = attrs[IFLA_OPERSTATE][0] if IFLA_OPERSTATE in attrs else 0
    link = Link(
        index=index,
        name=text(attrs.get(IFLA_IFNAME)),
        kind=kind or ("loopback" if index == 1 else "device"),
        mtu=u32(attrs.get(IFLA_MTU)),
        mac=mac(attrs.get(IFLA_ADDRESS)),
        up=bool(flags & IFF_UP),
        operstate=OPERSTATES[operstate] if operstate < len(OPERSTATES) else "unknown",
        master=u32(attrs.get(IFLA_MASTER)) or 0,
        group=u32(attrs.get(IFLA_GROUP)) or 0,
        alias=text(attrs.get(IFLA_IFALIAS)) or None,
        qdisc=text(attrs.get(IFLA_QDISC)) or None,
        stats=dict(zip(LINK_STATS64, struct.unpack_from("=8Q", attrs[IFLA_STATS64]))) if IFLA_STATS64 in attrs else None,
    )
    if kind == "veth":
        link.peer_index = u32(attrs.get(IFLA_LINK)) or 0
        nsid = i32(attrs.get(IFLA_LINK_NETNSID))
        link.peer_nsid = -1 if nsid is None else nsid
    if text(info.get(IFLA_INFO_SLAVE_KIND)) == "bridge" and IFLA_INFO_SLAVE_DATA in info:
        slave = nested(info[IFLA_INFO_SLAVE_DATA])
        link.hairpin = bool(slave.get(IFLA_BRPORT_MODE, b"\0")[0])
        link.isolated = bool(slave.get(IFLA_BRPORT_ISOLATED, b"\0")[0])
    if kind == "vxlan" and data is not None:
        port = data.get(IFLA_VXLAN_PORT)
        link.vxlan = {"vni": u32(data.get(IFLA_VXLAN_ID)), "port": int.from_bytes(port, "big") if port else None,
                      "local": ip(data.get(IFLA_VXLAN_LOCAL), socket.AF_INET) or ip(data.get(IFLA_VXLAN_LOCAL6), socket.AF_INET6),
                      "dev": u32(data.get(IFLA_VXLAN_LINK)) or 0, "learning": bool(data.get(IFLA_VXLAN_LEARNING, b"\0")[0])}
    if kind == "bridge" and data is not None:
        link.stp = bool(u32(data.get(IFLA_BR_STP_STATE)))
        vlan = data.get(IFLA_BR_VLAN_FILTERING)
        link.vlan_filtering = None if vlan is None else bool(vlan[0])
    return link


class Snapshot:
    """Links and addresses of one namespace, read with one link dump and one address dump."""

    def __init__(self, session, namespace, allow_missing=False, check_mode=False, stats=False, addresses=True):
        self.namespace = namespace
        self.by_name = {}
        self.by_index = {}
        self.missing = not session.exists(namespace)
        # check mode: objects an earlier task would create may be missing; predict instead of failing
        self.check_mode = check_mode
        self.planned = set()  # links that changes already queued in this run will create
        if self.missing:
            if not allow_missing:
                raise NamespaceMissing(f"{where(namespace)} does not exist (create it with linuxns.net.netns)")
            return
        try:
            sock = session.route_socket(namespace)
            links, addresses = sock.links(stats=stats), sock.addresses() if addresses else ()
        except OSError as exc:
            raise kernel_error(f"read the links and addresses of {where(namespace)}", exc) from None
        for msg in links:
            link = _parse_link(msg)
            self.by_name[link.name] = link
            self.by_index[link.index] = link
        for msg in addresses:
            family, prefixlen, flags, _scope, index = msg.header
            link = self.by_index.get(index)
            local = ip(msg.attrs.get(IFA_LOCAL) or msg.attrs.get(IFA_ADDRESS), family)
            flags = u32(msg.attrs.get(IFA_FLAGS)) or flags
            if family == socket.AF_INET6 and not flags & IFA_F_PERMANENT:
                continue  # autoconfigured or temporary: the kernel's, not ours to manage
            if link is not None and local:
                link.addresses.append(f"{local}/{prefixlen}")


class Snapshots:
    """Snapshots by namespace, read at most once per run. A missing namespace reads as empty in check mode, and
    always when this run's plan creates it (planned_namespaces)."""

    def __init__(self, session, check_mode, planned_namespaces=()):
        self.session = session
        self.check_mode = check_mode
        self.planned_namespaces = set(planned_namespaces)
        self._cache = {}

    def __getitem__(self, namespace):
        if namespace not in self._cache:
            self._cache[namespace] = Snapshot(self.session, namespace, check_mode=self.check_mode,
                                              allow_missing=self.check_mode or namespace in self.planned_namespaces)
        return self._cache[namespace]


def missing_reference(plan, snapshot, message):
    """A referenced object does not exist: an error, except in check mode, where an earlier task may create it,
    or in a namespace that this run creates."""
    if snapshot.missing and snapshot.namespace is not None and not snapshot.check_mode:
        return  # a namespace planned by this run: its objects are planned with it
    if not snapshot.check_mode:
        raise InvalidInput(message)
    if not snapshot.missing:
        plan.warnings.append(f"{message} (check mode assumes an earlier task creates it)")
