# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read-only view of the module's own namespace and the named ones: links, addresses, routes, forwarding, our NAT rules."""

from __future__ import annotations

import shutil

from ansible_collections.linuxns.net.plugins.module_utils import _validate as validate
from ansible_collections.linuxns.net.plugins.module_utils._defaults import BRIDGE_ALIAS_PREFIX
from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput, NamespaceMissing, where
from ansible_collections.linuxns.net.plugins.module_utils._nsfiles import (
    is_namespace_file, list_namespaces, namespace_path)
from ansible_collections.linuxns.net.plugins.module_utils._routes import ROUTE_PROTOCOLS, RouteTable
from ansible_collections.linuxns.net.plugins.module_utils._snapshot import Snapshot, managed_addresses
from ansible_collections.linuxns.net.plugins.module_utils._sysctl import read_sysctl_in

SCOPE_NAMES = {0: "universe", 200: "site", 253: "link", 254: "host", 255: "nowhere"}


class PeerNames:
    """Resolve a veth peer's link-netnsid (relative to the viewing namespace) to a namespace name.

    Each viewer learns the nsid of a candidate namespace with one RTM_GETNSID; the module's own namespace is tried
    first, since a container's peer is almost always there, so a whole scan costs about two requests per namespace."""

    def __init__(self, session, names, stats=False, addresses=True):
        self.session = session
        self.candidates = [None] + list(names)
        self.stats = stats  # the snapshots carry link counters: a namespace's own view reuses its snapshot
        self.addresses = addresses  # False: only the host's own snapshot reads addresses (its bridges' subnets)
        self._maps = {}
        self._snapshots = {}

    def snapshot(self, namespace):
        if namespace not in self._snapshots:
            self._snapshots[namespace] = Snapshot(self.session, namespace, stats=self.stats,
                                                  addresses=self.addresses or namespace is None)
        return self._snapshots[namespace]

    def name(self, viewer, nsid):
        known, pending = self._maps.setdefault(viewer, ({}, [c for c in self.candidates if c != viewer]))
        while nsid not in known and pending:
            candidate = pending.pop(0)
            found = self.session.nsid(viewer, self.session.fd(candidate))
            if found is not None:
                known[found] = candidate
        return known.get(nsid, f"nsid {nsid}")


def namespace_view(session, namespace, peers, with_nat, with_policy=True, with_stats=False, only_stats=False):
    """A namespace's view; only_stats: its links with their counters, conntrack and drops, and nothing else (what
    the metrics textfile reads, every minute perhaps: no routes, sysctls, rules as text or policies)."""
    snap = peers.snapshot(namespace) if with_stats == peers.stats else Snapshot(session, namespace, stats=with_stats)
    links = []
    for link in sorted(snap.by_index.values(), key=lambda l: l.index):
        item = {"name": link.name, "index": link.index, "kind": link.kind, "state": "up" if link.up else "down",
                "operstate": link.operstate, "mtu": link.mtu, "mac": link.mac,
                "addresses": managed_addresses(link.addresses)}
        if with_stats and link.stats is not None:
            item["stats"] = link.stats
        if link.master:
            master = snap.by_index.get(link.master)
            item["master"] = master.name if master else link.master
            if link.hairpin is not None:
                item["hairpin"] = link.hairpin
            if link.isolated:
                item["isolated"] = True
        if link.kind == "veth":
            if link.peer_nsid == -1:
                peer = snap.by_index.get(link.peer_index)
                item["peer"] = {"name": peer.name if peer else None, "index": link.peer_index, "namespace": namespace}
            else:
                peer_ns = peers.name(namespace, link.peer_nsid)
                peer = peers.snapshot(peer_ns).by_index.get(link.peer_index) if peer_ns in peers.candidates else None
                item["peer"] = {"name": peer.name if peer else None, "index": link.peer_index, "namespace": peer_ns}
        if link.kind == "bridge":
            if link.alias and link.alias.startswith(BRIDGE_ALIAS_PREFIX):
                item["network"] = link.alias[len(BRIDGE_ALIAS_PREFIX):]
            item["stp"] = link.stp
            item["group"] = link.group
            item["ports"] = sorted(l.name for l in snap.by_index.values() if l.master == link.index)
        links.append(item)
    if only_stats:
        with session.inside(namespace):
            return dict(links=links, **_counters(namespace, snap))
    routes = []
    table_rows = sorted(RouteTable(session, namespace, snap).by_key.items(),
                        key=lambda kv: (kv[0].family, kv[0].table, kv[0].dest, kv[0].metric))
    for key, r in table_rows:
        if key.table == 255:
            continue
        view = {"dest": "default" if key.dest in ("0.0.0.0/0", "::/0") else key.dest, "family": key.family,
                "table": {254: "main", 253: "default"}.get(key.table, key.table), "metric": key.metric,
                "scope": SCOPE_NAMES.get(r.scope, r.scope), "proto": ROUTE_PROTOCOLS.get(r.proto, r.proto)}
        for k in ("gateway", "dev", "src"):
            if getattr(r, k) is not None:
                view[k] = getattr(r, k)
        routes.append(view)
    out = {"links": links, "routes": routes,
           "ip_forward": read_sysctl_in(session, namespace, "net.ipv4.ip_forward") == "1",
           "ipv6_forwarding": read_sysctl_in(session, namespace, "net.ipv6.conf.all.forwarding") == "1"}
    with_policy = with_policy and namespace is not None
    # the rule readers are imported where they are used: netns_info compiles what it imports on every call, and the
    # fleet role's read asks for none of them
    if with_nat:
        from ansible_collections.linuxns.net.plugins.module_utils._firewall_backends import our_rule_lines, rule_comment
        from ansible_collections.linuxns.net.plugins.module_utils._forwarding import forwarding_in_force
        from ansible_collections.linuxns.net.plugins.module_utils._masquerade import masquerade_sources
        from ansible_collections.linuxns.net.plugins.module_utils._port_forward import published_in_force
    if with_policy:
        from ansible_collections.linuxns.net.plugins.module_utils._policy import policy_in_force
    if with_policy or with_nat or with_stats:
        with session.inside(namespace):  # once, for all three
            if with_policy:
                out["policy"] = policy_in_force(namespace) if shutil.which("nft") else None
            rules = our_rule_lines(namespace) if with_nat else None
            if with_stats:
                out.update(_counters(namespace, snap))
    if with_nat:
        out["nat"] = [f"{program}: {line}" for program, line, _tag in rules]
        out["masquerade"] = masquerade_sources(tag for _program, _line, tag in rules if tag is not None)
        out["forwarding"] = forwarding_in_force(rule_comment(line) for _program, line, _tag in rules)
        out["published"] = published_in_force(rules)
    return out


def _counters(namespace, snap):
    """A namespace's conntrack and drops (already inside it). iptables rules of ours live only where a network's
    bridge is (its forwarding rules) or in the host's own namespace, never in a container: only there is
    iptables-save run."""
    from ansible_collections.linuxns.net.plugins.module_utils._observe import conntrack, drops

    holds_rules = namespace is None or any(link.kind == "bridge" for link in snap.by_index.values())
    return {"conntrack": conntrack(namespace), "drops": drops(namespace, iptables=holds_rules)}


def gather_stats(session, namespaces=None):
    """The counters only (namespace_view only_stats) of the host's own namespace and of the containers: those named,
    or those at the other end of a veth on a bridge of one of the host's networks. Each namespace's links are
    dumped once (a host end's peer name comes from the same snapshot as its container's own view)."""
    peers = PeerNames(session, list_namespaces(), stats=True, addresses=False)
    host = namespace_view(session, None, peers, False, False, True, only_stats=True)
    if namespaces is not None:
        namespaces = [validate.namespace_name(n) for n in namespaces]
    else:
        networks = {l["name"] for l in host["links"] if l["kind"] == "bridge" and l.get("network")}
        namespaces = sorted({l["peer"]["namespace"] for l in host["links"] if l["kind"] == "veth"
                             and l.get("master") in networks and (l.get("peer") or {}).get("namespace")})
    known = set(peers.candidates)
    return {"host": host, "namespaces": {n: namespace_view(session, n, peers, False, False, True, only_stats=True)
                                         for n in namespaces if n in known}}


def gather(session, namespaces=None, host=True, nat=True, ignore_missing=False, policy=True, stats=False):
    names = list_namespaces()
    if namespaces is not None:
        wanted = [validate.namespace_name(n) for n in namespaces]
        known = set(names)
        for name in wanted:
            if name not in known and is_namespace_file(namespace_path(name)):
                raise InvalidInput(f"{where(name)}: {namespace_path(name)} binds a namespace that is not a network namespace")
        missing = [n for n in wanted if n not in known]
        if missing and not ignore_missing:
            raise NamespaceMissing(f"{where(missing[0])} does not exist")
        selected = [n for n in wanted if n in known]
    else:
        selected = names
    peers = PeerNames(session, names, stats=stats)
    result = {"namespace_names": names,
              "namespaces": {n: namespace_view(session, n, peers, nat, policy, stats) for n in selected}}
    if host:
        result["host"] = namespace_view(session, None, peers, nat, with_stats=stats)
    return result
