# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Veth pairs across namespaces: validate, plan against the snapshots, create the peer directly in its namespace."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from ansible_collections.linuxns.net.plugins.module_utils import _validate as validate
from ansible_collections.linuxns.net.plugins.module_utils._defaults import UP
from ansible_collections.linuxns.net.plugins.module_utils._errors import Conflict, InvalidInput, where
from ansible_collections.linuxns.net.plugins.module_utils._links import (
    LinkSettings, delete_if_present, master_index, plan_link_delete, plan_link_settings, resolve_master)
from ansible_collections.linuxns.net.plugins.module_utils._plan import Plan
from ansible_collections.linuxns.net.plugins.module_utils._session import netlink_call
from ansible_collections.linuxns.net.plugins.module_utils._snapshot import Snapshots


@dataclass
class VethSpec:
    """One veth pair as requested, validated."""
    name: str
    namespace: str
    peer_namespace: str
    peer: str = None
    state: str = "present"
    recreate: bool = False
    up: bool = UP
    mtu: int = None
    mac: str = None
    peer_mac: str = None
    master: str = None
    hairpin: bool = None
    isolated: bool = None  # bridge port isolation
    addresses: list = None
    peer_addresses: list = None
    peer_mtu: int = None  # None: mtu (a network's container with an MTU of its own sets it)

    @property
    def key(self):
        return f"{self.namespace or ''}/{self.name}"


def normalize_veth(p):
    """Validate one veth pair request (a dict of module options). Runs before anything is read."""
    ns = validate.namespace_name(p.get("namespace"))
    peer_ns = validate.namespace_name(p.get("peer_namespace")) if p.get("peer_namespace") is not None else ns
    name = validate.interface_name(p.get("name"), "veth", ns)
    obj = f"veth '{name}'"
    spec = VethSpec(name=name, namespace=ns, peer_namespace=peer_ns, state=p.get("state") or "present",
                    recreate=bool(p.get("recreate")), up=UP if p.get("up") is None else p["up"])
    if spec.state == "present" or p.get("peer") is not None:
        if p.get("peer") is None:
            raise InvalidInput(f"{obj} in {where(ns)}: 'peer' (the name of the other end) is required")
        spec.peer = validate.interface_name(p["peer"], "veth peer", peer_ns)
        if spec.peer == name and peer_ns == ns:
            raise InvalidInput(f"{obj} in {where(ns)}: both ends cannot have the same name in the same namespace")
    spec.mtu = validate.mtu(p.get("mtu"), obj, ns)
    spec.mac = validate.mac_address(p.get("mac"), obj, ns)
    spec.peer_mac = validate.mac_address(p.get("peer_mac"), f"peer of {obj}", peer_ns)
    spec.master = validate.interface_name(p["master"], "master", ns) if p.get("master") else None
    spec.hairpin, spec.isolated = p.get("hairpin"), p.get("isolated")
    for key in ("hairpin", "isolated"):
        if getattr(spec, key) is not None and not spec.master:
            raise InvalidInput(f"{obj} in {where(ns)}: {key} is a bridge port setting: it needs 'master'")
    for key, namespace in (("addresses", ns), ("peer_addresses", peer_ns)):
        values = p.get(key)
        setattr(spec, key, None if values is None else validate.interface_addresses(values, f"{obj} {key}", namespace))
    return spec


def _veth_view(link, peer, snap, peer_snap):
    if link is None:
        return None
    view = {"end": link.view(snap)}
    if peer is not None:
        view["peer"] = dict(peer.view(peer_snap), name=peer.name, namespace=peer_snap.namespace)
    return view


def _find_peer(session, link, snap, peer_snap):
    """The link in peer_snap that is the other end of veth link, or None."""
    candidate = peer_snap.by_index.get(link.peer_index)
    if candidate is None or candidate.kind != "veth" or candidate.peer_index != link.index:
        return None
    same = snap.namespace == peer_snap.namespace
    if same:
        return candidate if link.peer_nsid == -1 else None
    if link.peer_nsid == -1:
        return None
    return candidate if session.nsid(snap.namespace, session.fd(peer_snap.namespace)) == link.peer_nsid else None


def plan_veth(plan, session, snaps, p):
    ns, name, peer_ns = p.namespace, p.name, p.peer_namespace
    snap = snaps[ns]
    peer_snap = snaps[peer_ns]
    link = snap.by_name.get(name)
    obj = f"veth '{name}' in {where(ns)}"
    mark = plan.mark

    if link is not None and link.kind != "veth":
        if p.state == "absent" or not p.recreate:
            raise Conflict(f"{obj}: the name is taken by a {link.kind} device, not a veth (set recreate: true to replace it)")
    peer = _find_peer(session, link, snap, peer_snap) if link is not None and link.kind == "veth" else None

    if p.state == "absent":
        if link is not None:
            if p.peer and (peer is None or peer.name != p.peer):
                raise Conflict(f"{obj}: its peer is not '{p.peer}' in {where(peer_ns)}; not removing it")
            plan_link_delete(plan, session, ns, name, f"delete {obj} (and its peer)", obj)
            plan.record(p.key, _veth_view(link, peer, snap, peer_snap), None, mark)
        return

    peer_link = peer_snap.by_name.get(p.peer)
    master = master_index(plan, snap, p.master, obj)
    pair_ok = link is not None and peer is not None and peer.name == p.peer
    if link is not None and not pair_ok:
        if not p.recreate:
            actual = f"'{peer.name}' in {where(peer_snap.namespace)}" if peer else "in another namespace"
            what = f"is a {link.kind}, not a veth" if link.kind != "veth" else f"has its peer {actual}"
            raise Conflict(f"{obj} {what}, not '{p.peer}' in {where(peer_ns)} (set recreate: true to replace it)")
        plan_link_delete(plan, session, ns, name, f"delete {obj} to recreate it", obj)
    if not pair_ok and peer_link is not None:
        if not p.recreate:
            raise Conflict(f"veth peer '{p.peer}' in {where(peer_ns)}: the name is taken by a {peer_link.kind} "
                           f"that is not the peer of '{name}' (set recreate: true to replace it)")
        if not (link is not None and link.kind == "veth" and peer is peer_link):
            plan_link_delete(plan, session, peer_ns, p.peer, f"delete '{p.peer}' in {where(peer_ns)} to free the name",
                             f"link '{p.peer}'")

    want_end = LinkSettings(mtu=p.mtu, mac=p.mac, master_index=master, master=p.master, addresses=p.addresses, up=p.up,
                            hairpin=p.hairpin, isolated=p.isolated)
    want_peer = LinkSettings(mtu=p.mtu if p.peer_mtu is None else p.peer_mtu, mac=p.peer_mac, addresses=p.peer_addresses, up=p.up)
    if pair_ok:
        plan_link_settings(plan, session, ns, name, link, want_end, "veth")
        plan_link_settings(plan, session, peer_ns, p.peer, peer, want_peer, "veth peer")
    else:
        _plan_veth_create(plan, session, p, master)
        snap.planned.add(name)
        peer_snap.planned.add(p.peer)
    plan.record(p.key, _veth_view(link, peer, snap, peer_snap) if pair_ok else None, _veth_want_view(p), mark)


def _veth_want_view(p):
    def end(mac, addresses, master=None, hairpin=None, isolated=None, mtu=p.mtu):
        out = {"kind": "veth", "up": p.up}
        for k, v in (("mtu", mtu), ("mac", mac), ("addresses", validate.address_texts(addresses)), ("master", master),
                     ("hairpin", hairpin), ("isolated", isolated or None)):
            if v is not None:
                out[k] = v
        return out
    return {"end": end(p.mac, p.addresses, p.master, p.hairpin, p.isolated),
            "peer": dict(end(p.peer_mac, p.peer_addresses, mtu=p.mtu if p.peer_mtu is None else p.peer_mtu), name=p.peer, namespace=p.peer_namespace)}


def _plan_veth_create(plan, session, p, master):
    """Create the pair with the peer directly inside its namespace (2 ms, against 17 ms for a later move)."""
    ns, name, peer_ns = p.namespace, p.name, p.peer_namespace
    obj = f"veth '{name}' in {where(ns)}"

    def create():
        master_index = resolve_master(session, ns, {"master": master}, p.master)["master"]
        netlink_call(obj, ns, session.route_socket(ns).add_veth, name, p.peer,
                     peer_netns_fd=session.fd(peer_ns) if peer_ns != ns else None, mtu=p.mtu, mac_address=p.mac,
                     peer_mac_address=p.peer_mac, master=master_index, peer_mtu=p.peer_mtu)

    plan.add(f"create {obj} with peer '{p.peer}' in {where(peer_ns)}", create,
             functools.partial(delete_if_present, session, ns, name))
    end = LinkSettings(addresses=p.addresses, up=p.up, hairpin=p.hairpin, isolated=p.isolated)
    plan_link_settings(plan, session, ns, name, None, end, "veth")
    plan_link_settings(plan, session, peer_ns, p.peer, None, LinkSettings(addresses=p.peer_addresses, up=p.up), "veth peer")


def run_veth(session, raw_pairs, check_mode):
    pairs = [normalize_veth(p) for p in raw_pairs]
    validate.unique(pairs, lambda p: f"'{p.name}' in {where(p.namespace)}", "veth")
    validate.unique([p for p in pairs if p.peer], lambda p: f"peer '{p.peer}' in {where(p.peer_namespace)}", "veth")
    plan, snaps = Plan(), Snapshots(session, check_mode)
    for p in pairs:
        plan_veth(plan, session, snaps, p)
    return plan.execute(check_mode)
