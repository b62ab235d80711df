# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pictures of a fleet's topology (_topology.fleet_model): Graphviz DOT and Mermaid flowchart text. Pure functions,
used on the controller by the topology_dot and topology_mermaid filters."""

from __future__ import annotations

import ipaddress

from ansible_collections.linuxns.net.plugins.module_utils._defaults import CONTAINER_END
from ansible_collections.linuxns.net.plugins.module_utils._nftsets import (
    EVERY_PORT, EVERY_PROTOCOL, PROTOCOL_NAMES, element_text, interval_text)
from ansible_collections.linuxns.net.plugins.module_utils._topology import fleet_model


def _quote(text):
    """A DOT string; a backslash-n in text stays a DOT line break."""
    return '"' + str(text).replace('"', '\\"') + '"'


def _id(*parts):
    return _quote("/".join(str(p) for p in parts))


def _what(entry):
    """An allowed entry's protocol and ports, as a policy writes them: 80/tcp, 8000-8080/tcp, udp, any."""
    proto = interval_text(entry.protocol, EVERY_PROTOCOL, PROTOCOL_NAMES)
    return proto if proto == "any" or entry.ports == EVERY_PORT else f"{interval_text(entry.ports, EVERY_PORT)}/{proto}"


def _peer(entry):
    return element_text((entry.peer,), (entry.family,))


def policy_view(chosen):
    """What the pictures show of the containers' policies: edges (source, target) -> the allowed protocols and
    ports, for peers that are one container's address; and per container the lines of its other entries (ranges),
    "ingress: none" or "egress: none" for a direction that allows nothing."""
    owner = {}
    for host in chosen:
        for c in host.containers.values():
            for ip in c.ips:
                owner[(ipaddress.ip_address(ip).version, int(ipaddress.ip_address(ip)))] = (host.name, c.name)
    edges, notes = {}, {}
    for host in chosen:
        for c in host.containers.values():
            if c.policy is None:
                continue
            for direction in ("ingress", "egress"):
                entries = getattr(c.policy, direction)
                if entries is None:
                    continue
                if not entries:
                    notes.setdefault((host.name, c.name), []).append(f"{direction}: none")
                ranges = {}
                for e in entries:
                    other = owner.get((e.family, e.peer[0])) if e.peer[0] == e.peer[1] else None
                    if other is not None:
                        pair = (other, (host.name, c.name)) if direction == "ingress" else ((host.name, c.name), other)
                        edges.setdefault(pair, set()).add(_what(e))
                    else:
                        ranges.setdefault(_what(e), []).append(_peer(e))
                for what, peers in sorted(ranges.items()):
                    word = "from" if direction == "ingress" else "to"
                    notes.setdefault((host.name, c.name), []).append(f"{direction} {what} {word} {', '.join(peers)}")
    return {pair: sorted(whats) for pair, whats in edges.items()}, notes


def published_notes(chosen):
    """Per container, a line per published port (both families in one): "published 8080->80/tcp", with the host
    address where it is one, and "from" its allow-list (a family without one: "any IPv6")."""
    found = {}
    for host in chosen:
        for port in host.published:
            container = host.container_at(port.destination)
            if container is not None:
                sources = found.setdefault(((host.name, container.name), port.text()), set())
                sources.update(port.allow_from or [f"any IPv{port.family}"])
    notes = {}
    for (who, text), sources in sorted(found.items()):
        everyone = sources >= {"any IPv4", "any IPv6"} or sources in ({"any IPv4"}, {"any IPv6"})
        line = f"published {text}" + ("" if everyone else f" from {', '.join(sorted(sources))}")
        notes.setdefault(who, []).append(line)
    return notes


def _notes(chosen):
    """Each container's lines: its policy's, then its published ports'."""
    edges, notes = policy_view(chosen)
    for who, lines in published_notes(chosen).items():
        notes.setdefault(who, []).extend(lines)
    return edges, notes


def topology_dot(infos, hosts=None, title="linuxns.net"):
    """Graphviz DOT of the hosts (all, or those named): each host a box holding its bridges, its containers and the
    veth pairs between them; routes between hosts and NAT as edges and notes."""
    model = fleet_model(infos)
    chosen = [h for h in model.values() if hosts is None or h.name in hosts]
    out = ["digraph linuxns {", f"  label={_quote(title)}; labelloc=t; fontname=Helvetica; rankdir=LR;",
           "  node [fontname=Helvetica, fontsize=10]; edge [fontname=Helvetica, fontsize=9];"]
    underlay, links = {}, {host.name: host.underlay_link for host in chosen}
    edges, notes = _notes(chosen)
    for host in chosen:
        out.append(f"  subgraph {_quote('cluster_' + host.name)} {{")
        out.append(f"    label={_quote(host.name + ' ' + ' '.join(host.underlay))}; style=rounded; color=gray40;")
        out.append(f"    {_id(host.name, host.underlay_link)} [shape=cds, "
                   f"label={_quote(host.underlay_link + ' ' + ' '.join(host.underlay))}];")
        isolated = {c.bridge for c in host.containers.values() if c.isolated}
        for bridge in host.bridges.values():
            label = "\\n".join([bridge.name, *bridge.addresses] + ([f"group {bridge.group}"] if bridge.group else [])
                               + (["ICC off (ports isolated)"] if bridge.name in isolated else []))
            out.append(f"    {_id(host.name, bridge.name)} [shape=box, style=filled, fillcolor=lightsteelblue, "
                       f"label={_quote(label)}];")
        for container in host.containers.values():
            label = "\\n".join([container.name, *(f"{CONTAINER_END} {a}" for a in container.addresses),
                               *notes.get((host.name, container.name), [])])
            out.append(f"    {_id(host.name, container.name)} [shape=component, label={_quote(label)}"
                       f"{', color=darkorange' if container.policy is not None else ''}];")
            if container.bridge:
                out.append(f"    {_id(host.name, container.name)} -> {_id(host.name, container.bridge)} "
                           f"[dir=none, label={_quote(CONTAINER_END + ' = ' + (container.host_end or '?'))}];")
        for source in host.nat:
            out.append(f"    {_id(host.name, 'nat', source)} [shape=note, label={_quote('NAT: masquerade ' + source)}];")
            out.append(f"    {_id(host.name, 'nat', source)} -> {_id(host.name, host.underlay_link)} "
                       "[style=dotted, arrowhead=none];")
        out.append("  }")
        underlay.update({addr: (host.name, how) for addr, how in host.next_hops().items()})
    # one line per pair of hosts, labelled with the routes both ways, so that the picture stays readable
    pairs = {}
    for host in chosen:
        for route in host.routes:
            peer, how = underlay.get(route.gateway, (None, None))
            if peer is not None:
                suffix = " (VXLAN)" if how == "VXLAN" else ""
                pairs.setdefault(tuple(sorted((host.name, peer))), []).append(f"{route.dest} via {route.gateway}{suffix}")
    for (first, second), labels in sorted(pairs.items()):
        label = _quote("\\n".join(sorted(labels)))
        out.append(f"  {_id(first, links[first])} -> {_id(second, links[second])} [dir=both, label={label}, color=darkgreen];")
    # policy edges: who may open what on whom (one edge per pair, both families)
    for (source, target), whats in sorted(edges.items()):
        out.append(f"  {_id(*source)} -> {_id(*target)} [style=dashed, color=darkorange, constraint=false, "
                   f"label={_quote('policy: ' + ', '.join(whats))}];")
    out.append("}")
    return "\n".join(out) + "\n"


def topology_mermaid(infos, hosts=None):
    """The same picture as Mermaid flowchart text, for Markdown docs."""
    model = fleet_model(infos)
    chosen = [h for h in model.values() if hosts is None or h.name in hosts]
    ids = {}

    def node(*parts):
        return ids.setdefault("/".join(parts), f"n{len(ids)}")

    out = ["flowchart LR"]
    underlay = {}
    edges, notes = _notes(chosen)
    for host in chosen:
        out.append(f'  subgraph {node(host.name)}["{host.name} {" ".join(host.underlay)}"]')
        out.append(f'    {node(host.name, host.underlay_link)}[["{host.underlay_link} {" ".join(host.underlay)}"]]')
        for bridge in host.bridges.values():
            out.append(f'    {node(host.name, bridge.name)}["{bridge.name} {" ".join(bridge.addresses)}"]')
        for container in host.containers.values():
            extra = "".join(f"<br>{n}" for n in notes.get((host.name, container.name), []))
            out.append(f'    {node(host.name, container.name)}(["{container.name} {" ".join(container.addresses)}{extra}"])')
            if container.bridge:
                out.append(f'    {node(host.name, container.name)} ---|{container.host_end}| {node(host.name, container.bridge)}')
        for source in host.nat:
            out.append(f'    {node(host.name, "nat", source)}>"NAT: masquerade {source}"] -.- {node(host.name, host.underlay_link)}')
        out.append("  end")
        underlay.update({addr: (host.name, how) for addr, how in host.next_hops().items()})
    for host in chosen:
        for route in host.routes:
            peer, how = underlay.get(route.gateway, (None, None))
            if peer is not None:
                arrow = "-.->" if how == "VXLAN" else "-->"
                out.append(f'  {node(host.name, host.underlay_link)} {arrow}|"{route.dest}"| '
                           f'{node(peer, model[peer].underlay_link)}')
    for (source, target), whats in sorted(edges.items()):
        out.append(f'  {node(*source)} -. "policy: {", ".join(whats)}" .-> {node(*target)}')
    return "\n".join(out) + "\n"
