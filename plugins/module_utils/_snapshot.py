# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading a namespace's links and addresses once per run: the state that every planner (links, routes, info) reads."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field

from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput, NamespaceMissing, kernel_error, where
from ansible_collections.linuxns.net.plugins.module_utils._session import NetlinkError

IFF_UP = 1
IFA_F_PERMANENT = 0x80


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
    vxlan: dict = None  # of a vxlan device: vni, local, port, dev (index), learning
    addresses: list = field(default_factory=list)

    def view(self, snapshot):
        """What diff mode and netns_info show for the link."""
        master = snapshot.by_index.get(self.master)
        out = {"kind": self.kind, "mtu": self.mtu, "mac": self.mac, "up": self.up,
               "addresses": managed_addresses(self.addresses)}
        if self.master:
            out["master"] = master.name if master else self.master
        if self.hairpin is not None:
            out["hairpin"] = self.hairpin
        return out


def managed_addresses(addresses):
    """Addresses the modules manage: IPv6 link-local ones belong to the kernel."""
    return sorted(a for a in addresses if not ipaddress.ip_interface(a).is_link_local or ipaddress.ip_interface(a).version == 4)


def _parse_link(msg):
    info = msg.get_attr("IFLA_LINKINFO")
    kind = info.get_attr("IFLA_INFO_KIND") if info else None
    data = info.get_attr("IFLA_INFO_DATA") if info else None
    link = Link(
        index=msg["index"],
        name=msg.get_attr("IFLA_IFNAME"),
        kind=kind or ("loopback" if msg["index"] == 1 else "device"),
        mtu=msg.get_attr("IFLA_MTU"),
        mac=msg.get_attr("IFLA_ADDRESS"),
        up=bool(msg["flags"] & IFF_UP),
        operstate=(msg.get_attr("IFLA_OPERSTATE") or "UNKNOWN").lower(),
        master=msg.get_attr("IFLA_MASTER") or 0,
        group=msg.get_attr("IFLA_GROUP") or 0,
    )
    if kind == "veth":
        link.peer_index = msg.get_attr("IFLA_LINK") or 0
        nsid = msg.get_attr("IFLA_LINK_NETNSID")
        link.peer_nsid = -1 if nsid is None else nsid
    slave = info.get_attr("IFLA_INFO_SLAVE_DATA") if info and info.get_attr("IFLA_INFO_SLAVE_KIND") == "bridge" else None
    if slave is not None:
        link.hairpin = bool(slave.get_attr("IFLA_BRPORT_MODE"))
    if kind == "vxlan" and data is not None:
        link.vxlan = {"vni": data.get_attr("IFLA_VXLAN_ID"), "port": data.get_attr("IFLA_VXLAN_PORT"),
                      "local": data.get_attr("IFLA_VXLAN_LOCAL") or data.get_attr("IFLA_VXLAN_LOCAL6"),
                      "dev": data.get_attr("IFLA_VXLAN_LINK") or 0, "learning": bool(data.get_attr("IFLA_VXLAN_LEARNING"))}
    if kind == "bridge" and data is not None:
        link.stp = bool(data.get_attr("IFLA_BR_STP_STATE"))
        vlan = data.get_attr("IFLA_BR_VLAN_FILTERING")
        link.vlan_filtering = None if vlan is None else bool(vlan)
    return link


class Snapshot:
    """Links and addresses of one namespace, read with one link dump and one address dump."""

    def __init__(self, session, namespace, allow_missing=False, check_mode=False):
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
        sock = session.netlink(namespace)
        try:
            links, addresses = sock.link("dump"), sock.addr("dump")
        except (NetlinkError, OSError) as exc:
            raise kernel_error(f"read the links and addresses of {where(namespace)}", exc) from None
        for msg in links:
            link = _parse_link(msg)
            self.by_name[link.name] = link
            self.by_index[link.index] = link
        for msg in addresses:
            link = self.by_index.get(msg["index"])
            local = msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS")
            flags = msg.get_attr("IFA_FLAGS") or msg["flags"]
            if msg["family"] == socket.AF_INET6 and not flags & IFA_F_PERMANENT:
                continue  # autoconfigured or temporary: the kernel's, not ours to manage
            if link is not None and local:
                link.addresses.append(ipaddress.ip_interface(f"{local}/{msg['prefixlen']}").with_prefixlen)


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
