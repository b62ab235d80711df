# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What every kind of link shares when it is planned: finding it when the plan is applied, correcting its settings
(MTU, MAC, master, group, hairpin, addresses, up), resolving its bridge, and undoing its creation. Veth and bridge build on
this, and so will the next kinds."""

from __future__ import annotations

import functools
import hashlib
import ipaddress
from dataclasses import dataclass

from ansible_collections.linuxns.net.plugins.module_utils._errors import Conflict, InvalidInput, NamespaceMissing, where
from ansible_collections.linuxns.net.plugins.module_utils._kernel import IFA_F_NODAD
from ansible_collections.linuxns.net.plugins.module_utils._session import netlink_call
from ansible_collections.linuxns.net.plugins.module_utils._snapshot import Link, managed_addresses, missing_reference

PLANNED = -1  # master index of a bridge this run creates: looked up when the change is applied


@dataclass
class LinkSettings:
    """The settings a request manages on one link; None leaves a setting as it is."""
    mtu: int = None
    mac: str = None
    master: str = None  # the bridge's name
    master_index: int = None  # its index, or PLANNED
    group: int = None
    addresses: list = None  # the exact set, when given
    up: bool = None
    hairpin: bool = None  # hairpin mode of the link's bridge port
    isolated: bool = None  # port isolation of the link's bridge port (ICC off)


def derived_mac(text):
    """A MAC derived from text: locally administered, unicast, the same whenever the same object is made."""
    digest = hashlib.sha256(f"linuxns.net {text}".encode()).digest()
    return "02:" + ":".join(f"{b:02x}" for b in digest[:5])


def delete_if_present(session, namespace, name):
    """Undo of a creation: remove the link if it is there."""
    sock = session.route_socket(namespace)
    index = sock.link_index(name)
    if index is not None:
        sock.delete_link(index)


def link_index(session, namespace, name):
    """The index of a link that the run needs now (a lookup by name: one request, whatever the number of links)."""
    index = netlink_call(f"link '{name}'", namespace, session.route_socket(namespace).link_index, name)
    if index is None:
        raise NamespaceMissing(f"link '{name}' in {where(namespace)} disappeared during the run")
    return index


def plan_link_delete(plan, session, namespace, name, description, what):
    plan.add(description, lambda: netlink_call(what, namespace, session.route_socket(namespace).delete_link,
                                               link_index(session, namespace, name)))


def existing_link(snapshot, name, kind, obj):
    """The link named name if it is of kind, None if there is none; a link of another kind is a conflict."""
    link = snapshot.by_name.get(name)
    if link is not None and link.kind != kind:
        raise Conflict(f"{obj}: the name is taken by a {link.kind} device, not a {kind if kind != 'vxlan' else 'vxlan device'}")
    return link


def plan_link_removal(plan, session, namespace, link, description, obj, key, view):
    """Delete an existing link (link None: nothing to do), with its diff view (view: a callable, read only then)."""
    if link is not None:
        mark = plan.mark
        plan_link_delete(plan, session, namespace, link.name, description, obj)
        plan.record(key, view(), None, mark)


def plan_link_settings(plan, session, namespace, name, link, want, what):
    """Correct mtu, mac, master, group, up and the address set of an existing (or just planned: link None) link."""
    sock = functools.partial(session.pyroute2, namespace)
    current = link or Link(0, name, "", None, None, False, "down")
    changes = {}
    if want.mtu is not None and current.mtu != want.mtu:
        changes["mtu"] = want.mtu
    if want.mac is not None and current.mac != want.mac:
        changes["address"] = want.mac
    if want.master_index is not None and current.master != want.master_index:
        changes["master"] = want.master_index
    if want.group is not None and current.group != want.group:
        changes["group"] = want.group
    if link is not None and changes:
        desc = ", ".join(f"{k}={v}" for k, v in changes.items())
        plan.add(f"set {what} '{name}' in {where(namespace)}: {desc}",
                 lambda: netlink_call(f"{what} '{name}'", namespace, sock().link, "set",
                                      index=link_index(session, namespace, name),
                                      **resolve_master(session, namespace, changes, want.master)))
    if want.hairpin is not None and (current.hairpin or False) != want.hairpin and (link is not None or want.hairpin):
        plan.add(f"set {what} '{name}' in {where(namespace)}: hairpin {'on' if want.hairpin else 'off'}",
                 lambda: netlink_call(f"{what} '{name}'", namespace, sock().brport, "set",
                                      index=link_index(session, namespace, name), mode=int(want.hairpin)))
    if want.isolated is not None and (current.isolated or False) != want.isolated and (link is not None or want.isolated):
        plan.add(f"set {what} '{name}' in {where(namespace)}: port isolation {'on' if want.isolated else 'off'}",
                 lambda: netlink_call(f"{what} '{name}'", namespace, sock().brport, "set",
                                      index=link_index(session, namespace, name), isolated=int(want.isolated)))
    if want.addresses is not None:
        have = set(managed_addresses(current.addresses))
        wanted = {a.with_prefixlen: a for a in want.addresses}
        # removals first: removing a subnet's primary address also removes the secondaries added after it
        for text in sorted(have - set(wanted)):
            plan.add(f"remove address {text} from {what} '{name}' in {where(namespace)}",
                     functools.partial(_change_address, session, namespace, name, "del", ipaddress.ip_interface(text)))
        for text in sorted(set(wanted) - have):
            plan.add(f"add address {text} to {what} '{name}' in {where(namespace)}",
                     functools.partial(_change_address, session, namespace, name, "add", wanted[text]))
    if want.up is not None and (link is None or current.up != want.up):
        state = "up" if want.up else "down"
        plan.add(f"set {what} '{name}' in {where(namespace)} {state}",
                 lambda: netlink_call(f"{what} '{name}'", namespace, session.route_socket(namespace).set_up,
                                      link_index(session, namespace, name), want.up))
    return changes


def _change_address(session, namespace, name, command, iface):
    """Add or remove one address (an ipaddress interface) of a link."""
    # usable at once, as the CNI bridge plugin makes them: the plan has already ruled out duplicates
    flags = IFA_F_NODAD if command == "add" and iface.version == 6 else 0
    netlink_call(f"address {iface} on '{name}'", namespace, session.route_socket(namespace).address, command,
                 link_index(session, namespace, name), iface.ip, iface.network.prefixlen, flags)


def resolve_master(session, namespace, attrs, master):
    """Replace a planned master by its index, now that the bridge exists."""
    if attrs.get("master") == PLANNED:
        attrs = dict(attrs, master=link_index(session, namespace, master))
    return attrs


def master_index(plan, snapshot, master, obj):
    """The index of the bridge a link should be enslaved to (PLANNED when this run or, in check mode, an earlier
    task creates it)."""
    if master is None:
        return None
    link = snapshot.by_name.get(master)
    if link is None and master in snapshot.planned:
        return PLANNED
    if link is None:
        missing_reference(plan, snapshot, f"{obj}: master '{master}' does not exist in {where(snapshot.namespace)}")
        return PLANNED
    if link.kind != "bridge":
        raise InvalidInput(f"{obj}: master '{master}' in {where(snapshot.namespace)} is a {link.kind}, not a bridge")
    return link.index
