# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pictures of a fleet's topology (_topology.fleet_model): Graphviz DOT and Mermaid flowchart text. Pure functions,
used on the controller by the topology_dot and topology_mermaid filters."""

from __future__ import annotations

import ipaddress
import re

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


def _is_internal(host, bridge):
    """Whether the bridge's subnet is one of the host's internal networks'."""
    subnets = {str(ipaddress.ip_interface(a).network) for a in bridge.addresses}
    return bool(subnets & set(host.internal))


def _summarised(host, notes, max_containers):
    """Per bridge, the containers drawn one by one, and the rest (those with nothing of their own to say: no
    policy, no published port, no note) summed up, when the bridge has more than max_containers."""
    by_bridge = {}
    for container in host.containers.values():
        by_bridge.setdefault(container.bridge, []).append(container)
    shown, summed = [], {}
    for bridge, containers in by_bridge.items():
        if max_containers is None or len(containers) <= max_containers:
            shown += containers
            continue
        plain = sorted((c for c in containers if c.policy is None and not notes.get((host.name, c.name))),
                       key=lambda c: _natural(c.name))
        keep = [c for c in containers if c not in plain]
        room = max(max_containers - len(keep), 0)
        shown += keep + plain[:room]
        if plain[room:]:
            summed[bridge] = plain[room:]
    return shown, summed


def _natural(name):
    """A sort key that puts app2 before app10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _range_text(containers):
    """The containers' names and addresses in short: 'app4 ... app50', '10.244.1.5 - 10.244.1.51'."""
    names = sorted((c.name for c in containers), key=_natural)
    lines = [f"{names[0]} ... {names[-1]}" if len(names) > 1 else names[0]]
    for family in (4, 6):
        ips = sorted((ipaddress.ip_address(ip) for c in containers for ip in c.ips
                      if ipaddress.ip_address(ip).version == family))
        if ips:
            lines.append(f"{ips[0]} - {ips[-1]}" if len(ips) > 1 else str(ips[0]))
    return lines


def topology_dot(infos, hosts=None, title="linuxns.net", max_containers=12, max_host_pairs=8):
    """Graphviz DOT of the hosts (all, or those named): each host a box holding its bridges, its containers and the
    veth pairs between them; routes between hosts and NAT as edges and notes.

    Legible at fleet size: a bridge with more than max_containers containers shows those with a policy, a published
    port or a note, and sums up the rest in one node (their number, names and address ranges); above max_host_pairs
    hosts, each host shows only those containers (the rest summed up), and the routes between hosts are drawn as a
    star around the underlay (each host once, with the subnets the others route to it) instead of a line per pair
    of hosts. None draws everything."""
    model = fleet_model(infos)
    chosen = [h for h in model.values() if hosts is None or h.name in hosts]
    out = ["digraph linuxns {", f"  label={_quote(title)}; labelloc=t; fontname=Helvetica; rankdir=LR;",
           "  node [fontname=Helvetica, fontsize=10]; edge [fontname=Helvetica, fontsize=9];"]
    underlay, links = {}, {host.name: host.underlay_link for host in chosen}
    edges, notes = _notes(chosen)
    star = max_host_pairs is not None and len(chosen) > max_host_pairs
    for host in chosen:
        out.append(f"  subgraph {_quote('cluster_' + host.name)} {{")
        out.append(f"    label={_quote(host.name + ' ' + ' '.join(host.underlay))}; style=rounded; color=gray40;")
        out.append(f"    {_id(host.name, host.underlay_link)} [shape=cds, "
                   f"label={_quote(host.underlay_link + ' ' + ' '.join(host.underlay))}];")
        isolated = {c.bridge for c in host.containers.values() if c.isolated}
        for bridge in host.bridges.values():
            label = "\\n".join([bridge.name, *bridge.addresses] + ([f"group {bridge.group}"] if bridge.group else [])
                               + (["ICC off (ports isolated)"] if bridge.name in isolated else [])
                               + (["internal (no way out)"] if _is_internal(host, bridge) else []))
            out.append(f"    {_id(host.name, bridge.name)} [shape=box, style=filled, fillcolor=lightsteelblue, "
                       f"label={_quote(label)}];")
        # a fleet: a host shows only the containers with something of their own to say
        shown, summed = _summarised(host, notes, 0 if star and max_containers is not None else max_containers)
        for bridge_name, rest in summed.items():
            label = "\\n".join([f"{len(rest)} more containers"] + _range_text(rest))
            out.append(f"    {_id(host.name, bridge_name, '...')} [shape=folder, style=dashed, label={_quote(label)}];")
            out.append(f"    {_id(host.name, bridge_name, '...')} -> {_id(host.name, bridge_name)} [dir=none, style=dashed];")
        for container in shown:
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
    # one line per pair of hosts, labelled with the routes both ways; a fleet: a star, each host once, labelled with
    # the subnets the others route to it
    pairs, owned = {}, {}
    for host in chosen:
        for route in host.routes:
            peer, how = underlay.get(route.gateway, (None, None))
            if peer is not None:
                suffix = " (VXLAN)" if how == "VXLAN" else ""
                pairs.setdefault(tuple(sorted((host.name, peer))), []).append(f"{route.dest} via {route.gateway}{suffix}")
                owned.setdefault(peer, set()).add(route.dest + suffix)
    if star:
        out.append(f"  {_id('underlay')} [shape=ellipse, style=filled, fillcolor=honeydew, "
                   f"label={_quote(f'underlay: {len(chosen)} hosts, routes to each host' + chr(92) + 'nmade on every other')}];")
        for host in chosen:
            label = _quote("\\n".join(sorted(owned.get(host.name, ()))))
            out.append(f"  {_id('underlay')} -> {_id(host.name, links[host.name])} [dir=none, label={label}, color=darkgreen];")
    else:
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
        isolated = {c.bridge for c in host.containers.values() if c.isolated}
        for bridge in host.bridges.values():
            marks = ("<br>ICC off" if bridge.name in isolated else "") + ("<br>internal" if _is_internal(host, bridge) else "")
            out.append(f'    {node(host.name, bridge.name)}["{bridge.name} {" ".join(bridge.addresses)}{marks}"]')
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


# verify.yml's report as a picture: one matrix per family, sources down, targets across
_CELL, _LABEL_WIDTH, _HEADER_HEIGHT = 14, 150, 150
_FILL = {"allowed": "#4caf50", "denied": "#d0d0d0", "some": "#a5d6a7", "mismatch": "#e53935"}
_EXPECT_ALLOWED = ("reachable", "allowed")


def _xml(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _owners(infos):
    """address -> "host/container" of every container address in the hosts' netns_info results."""
    owners = {}
    for host in fleet_model(infos).values():
        for container in host.containers.values():
            for ip in container.ips:
                owners[ip] = f"{host.name}/{container.name}"
    return owners


def verify_cells(matrices, infos, family):
    """The matrix of one family: (sources, targets, cells), where a cell (source, target) -> its probes' rows.
    matrices: host -> the reachability matrix verify.yml reports; a target is named by its container where the
    infos know the address, else by the address (outside the fleet)."""
    owners = _owners(infos or {})
    cells, sources, targets = {}, [], []
    for host, rows in sorted((matrices or {}).items()):
        for row in rows or []:
            address = str(row.get("address"))
            try:
                if ipaddress.ip_address(address).version != family:
                    continue
            except ValueError:
                continue
            source = f"{host}/{row['source']}" if row.get("source") else host
            target = owners.get(address, address)
            for name, known in ((source, sources), (target, targets)):
                if name not in known:
                    known.append(name)
            cells.setdefault((source, target), []).append(row)
    return sources, targets, cells


def _cell_state(rows):
    if not all(row.get("ok", True) for row in rows):
        return "mismatch"
    allowed = [row.get("expect") in _EXPECT_ALLOWED for row in rows]
    return "allowed" if all(allowed) else "denied" if not any(allowed) else "some"


def _probe_text(row):
    what = row.get("proto", "?") + (f"/{row['port']}" if row.get("port") else "")
    return f"{row.get('address')} {what}: expected {row.get('expect')}, saw {row.get('result')}"


def verify_matrix_svg(matrices, infos=None, family=4, title=None):
    """An SVG picture of verify.yml's matrix for one family: a row per source (host/container), a column per target,
    each cell coloured by what was expected (allowed, denied, some ports of a policy allowed) and marked where what
    was seen differs (red, with a cross); each cell's tooltip lists its probes."""
    sources, targets, cells = verify_cells(matrices, infos, family)
    width = max(_LABEL_WIDTH + _CELL * max(len(targets), 1) + 20, 380)
    height = _HEADER_HEIGHT + _CELL * max(len(sources), 1) + 70
    mismatches = sum(1 for rows in cells.values() if _cell_state(rows) == "mismatch")
    heading = title or f"verify.yml, IPv{family}: {len(sources)} sources x {len(targets)} targets, {mismatches} not as expected"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="Helvetica, Arial, '
           'sans-serif" font-size="10">', f"<title>{_xml(heading)}</title>",
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="4" y="14" font-size="12" font-weight="bold">{_xml(heading)}</text>']
    for j, target in enumerate(targets):
        x = _LABEL_WIDTH + _CELL * j + _CELL - 4
        out.append(f'<text x="{x}" y="{_HEADER_HEIGHT - 4}" transform="rotate(-60 {x} {_HEADER_HEIGHT - 4})" '
                   f'class="target">{_xml(target)}</text>')
    for i, source in enumerate(sources):
        y = _HEADER_HEIGHT + _CELL * i
        out.append(f'<text x="{_LABEL_WIDTH - 4}" y="{y + _CELL - 4}" text-anchor="end" class="source">{_xml(source)}</text>')
        for j, target in enumerate(targets):
            rows = cells.get((source, target))
            if rows is None:
                continue
            state = _cell_state(rows)
            x = _LABEL_WIDTH + _CELL * j
            tip = "\n".join([f"{source} -> {target}"] + [_probe_text(r) for r in rows])
            out.append(f'<g class="cell {state}"><title>{_xml(tip)}</title><rect x="{x}" y="{y}" width="{_CELL - 1}" '
                       f'height="{_CELL - 1}" fill="{_FILL[state]}"/>'
                       + (f'<path d="M{x + 3},{y + 3} L{x + _CELL - 4},{y + _CELL - 4} M{x + _CELL - 4},{y + 3} '
                          f'L{x + 3},{y + _CELL - 4}" stroke="white" stroke-width="2"/>' if state == "mismatch" else "")
                       + "</g>")
    legend_y = _HEADER_HEIGHT + _CELL * max(len(sources), 1) + 20
    for k, (state, text) in enumerate((("allowed", "expected allowed, as seen"), ("denied", "expected denied, as seen"),
                                       ("some", "some ports allowed (policy), as seen"),
                                       ("mismatch", "not as expected"))):
        x = 4 + 170 * (k % 2)
        y = legend_y + 16 * (k // 2)
        out.append(f'<rect x="{x}" y="{y}" width="10" height="10" fill="{_FILL[state]}"/>'
                   f'<text x="{x + 14}" y="{y + 9}">{_xml(text)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
