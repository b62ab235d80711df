# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Bridges: validate, plan against the snapshot (addresses, MTU, STP, VLAN filtering, group, ports)."""

from __future__ import annotations

import errno
import functools
from dataclasses import dataclass

from ansible_collections.linuxns.net.plugins.module_utils import _validate as validate
from ansible_collections.linuxns.net.plugins.module_utils._defaults import UP
from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput, KernelError, where
from ansible_collections.linuxns.net.plugins.module_utils._links import (
    LinkSettings, delete_if_present, derived_mac, existing_link, link_index, plan_link_removal, plan_link_settings)
from ansible_collections.linuxns.net.plugins.module_utils._plan import Plan
from ansible_collections.linuxns.net.plugins.module_utils._session import netlink_call
from ansible_collections.linuxns.net.plugins.module_utils._snapshot import Snapshots, missing_reference
from ansible_collections.linuxns.net.plugins.module_utils._sysctl import write_sysctl_in


@dataclass
class BridgeSpec:
    """One bridge as requested, validated."""
    name: str
    namespace: str
    state: str = "present"
    mtu: int = None
    stp: bool = None
    vlan_filtering: bool = None
    up: bool = UP
    purge_ports: bool = False
    group: int = None
    addresses: list = None
    ports: list = None
    alias: str = None  # the link's ifalias (a network's bridge names its owner there); None: not managed

    @property
    def key(self):
        return f"{self.namespace or ''}/{self.name}"


def normalize_bridge(b):
    ns = validate.namespace_name(b.get("namespace"))
    name = validate.interface_name(b.get("name"), "bridge", ns)
    obj = f"bridge '{name}'"
    spec = BridgeSpec(name=name, namespace=ns, state=b.get("state") or "present", mtu=validate.mtu(b.get("mtu"), obj, ns),
                      stp=b.get("stp"), vlan_filtering=b.get("vlan_filtering"), up=UP if b.get("up") is None else b["up"],
                      purge_ports=bool(b.get("purge_ports")), group=b.get("group"))
    if spec.group is not None and not 0 <= spec.group < 2 ** 32:
        raise InvalidInput(f"{obj} in {where(ns)}: group {spec.group} must be from 0 to 4294967295")
    if b.get("addresses") is not None:
        spec.addresses = validate.interface_addresses(b["addresses"], f"{obj} addresses", ns)
    if b.get("ports") is not None:
        spec.ports = [validate.interface_name(port, f"port of {obj}", ns) for port in b["ports"]]
        validate.unique(spec.ports, lambda x: f"'{x}'", f"port of {obj}")
        if name in spec.ports:
            raise InvalidInput(f"{obj} in {where(ns)}: a bridge cannot be its own port")
    if spec.purge_ports and spec.ports is None:
        raise InvalidInput(f"{obj} in {where(ns)}: purge_ports needs 'ports' (the list of ports to keep)")
    return spec


def plan_bridge(plan, session, snaps, b):
    ns, name = b.namespace, b.name
    snap = snaps[ns]
    obj = f"bridge '{name}' in {where(ns)}"
    link = existing_link(snap, name, "bridge", obj)
    if b.state == "absent":
        plan_link_removal(plan, session, ns, link, f"delete {obj}", obj, b.key, lambda: _bridge_view(link, snap))
        return
    sock = functools.partial(session.pyroute2, ns)
    mark = plan.mark

    ports = b.ports or []
    for port in ports:
        port_link = snap.by_name.get(port)
        if port_link is None:
            missing_reference(plan, snap, f"{obj}: port '{port}' does not exist in {where(ns)}")
        if port_link is not None and port_link.kind in ("bridge", "loopback"):
            raise InvalidInput(f"{obj}: port '{port}' is a {port_link.kind} and cannot be a bridge port")

    if link is None:
        def create():
            # a MAC of its own: by default a bridge takes its lowest port's, so that a container joining with a
            # lower one would change the gateway's MAC under the running containers (Docker sets one too)
            if b.stp is None and b.vlan_filtering is None:
                # a network's bridge, the common case: over the lean socket (no pyroute2 import on a first run)
                netlink_call(obj, ns, session.route_socket(ns).add_bridge, name, bridge_mac(name), b.group)
            else:
                attrs = {"ifname": name, "kind": "bridge", "address": bridge_mac(name)}
                if b.group is not None:
                    attrs["group"] = b.group
                if b.stp is not None:
                    attrs["br_stp_state"] = int(b.stp)
                if b.vlan_filtering is not None:
                    attrs["br_vlan_filtering"] = int(b.vlan_filtering)
                try:
                    netlink_call(obj, ns, sock().link, "add", **attrs)
                except KernelError as exc:
                    if b.vlan_filtering is not None and exc.errno == errno.EOPNOTSUPP:
                        raise InvalidInput(f"{obj}: vlan_filtering is not supported by this kernel "
                                           "(built without CONFIG_BRIDGE_VLAN_FILTERING)") from None
                    raise
            if b.alias is not None:  # the kernel takes an alias only on an existing link
                netlink_call(obj, ns, session.route_socket(ns).set_link, link_index(session, ns, name), alias=b.alias)

        plan.add(f"create {obj}", create, functools.partial(delete_if_present, session, ns, name))
        snap.planned.add(name)
        if any(a.version == 6 for a in b.addresses or []):
            # before it is up: its link-local address is then usable at once, and the host can solicit the
            # neighbours it forwards to (a tentative link-local address would hold that back for a second or two)
            plan.add(f"set net.ipv6.conf.{name}.accept_dad=0 in {where(ns)}",
                     functools.partial(write_sysctl_in, session, ns, f"net/ipv6/conf/{name}/accept_dad", 0))
        if b.mtu is not None:
            # set after creation: only an MTU set on the bridge itself survives ports joining it
            plan.add(f"set {obj}: mtu={b.mtu}",
                     lambda: netlink_call(obj, ns, session.route_socket(ns).set_link, link_index(session, ns, name), mtu=b.mtu))
    else:
        changes = {}
        if b.stp is not None and link.stp != b.stp:
            changes["br_stp_state"] = int(b.stp)
        if b.vlan_filtering is not None and bool(link.vlan_filtering) != b.vlan_filtering:
            changes["br_vlan_filtering"] = int(b.vlan_filtering)
        if b.alias is not None and link.alias != b.alias:
            changes["ifalias"] = b.alias
        if changes:
            plan.add(f"set {obj}: " + ", ".join(f"{k}={v}" for k, v in changes.items()),
                     lambda: netlink_call(obj, ns, sock().link, "set", index=link_index(session, ns, name), kind="bridge", **changes))
    existing = link is not None
    plan_link_settings(plan, session, ns, name, link, LinkSettings(
        mtu=b.mtu if existing else None, group=b.group if existing else None, addresses=b.addresses, up=b.up), "bridge")

    for port in ports:
        port_link = snap.by_name.get(port)
        if link is None or port_link is None or port_link.master != link.index:
            plan.add(f"attach port '{port}' to {obj}",
                     lambda port=port: netlink_call(f"port '{port}' of {obj}", ns, sock().link, "set",
                                                    index=link_index(session, ns, port), master=link_index(session, ns, name)))
    if b.purge_ports and link is not None:
        for other in sorted(l.name for l in snap.by_name.values() if l.master == link.index and l.name not in ports):
            plan.add(f"release port '{other}' from {obj}",
                     lambda other=other: netlink_call(f"port '{other}' of {obj}", ns, sock().link, "set",
                                                      index=link_index(session, ns, other), master=0))
    want = {"kind": "bridge", "up": b.up}
    for k in ("mtu", "stp", "vlan_filtering", "group"):
        if getattr(b, k) is not None:
            want[k] = getattr(b, k)
    if b.addresses is not None:
        want["addresses"] = validate.address_texts(b.addresses)
    if b.ports is not None:
        kept = [] if link is None or b.purge_ports else _bridge_ports(link, snap)
        want["ports"] = sorted(set(kept) | set(ports))
    plan.record(b.key, _bridge_view(link, snap) if link is not None else None, want, mark)


def bridge_mac(name):
    """A new bridge's MAC: locally administered, unicast, stable for its name."""
    return derived_mac(f"bridge {name}")


def _bridge_ports(link, snap):
    return sorted(l.name for l in snap.by_name.values() if l.master == link.index)


def _bridge_view(link, snap):
    view = link.view(snap)
    view.update(stp=link.stp, ports=_bridge_ports(link, snap), group=link.group)
    if link.vlan_filtering is not None:
        view["vlan_filtering"] = link.vlan_filtering
    return view


def run_bridge(session, raw_bridges, check_mode):
    bridges = [normalize_bridge(b) for b in raw_bridges]
    validate.unique(bridges, lambda b: f"'{b.name}' in {where(b.namespace)}", "bridge")
    plan, snaps = Plan(), Snapshots(session, check_mode)
    for b in bridges:
        plan_bridge(plan, session, snaps, b)
    return plan.execute(check_mode)
