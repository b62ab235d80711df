# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Elements of nftables sets of concatenations (address . protocol . port, and the like), written and read.

nftables refuses overlapping elements in such a set ("File exists"), and what users write overlaps: a network on
every port beside one of its containers on one port, two allow-listed ranges one inside the other. So the elements
are boxes of integer intervals, one per dimension, cut into boxes that do not overlap and cover exactly the same;
and a set as nft prints it (JSON) is read back into the same intervals, so that the two compare whatever nft's way
of printing (prefixes, ranges, protocol names)."""

from __future__ import annotations

import ipaddress
import socket

PROTOCOL_NUMBERS = {"tcp": 6, "udp": 17, "sctp": 132}  # the protocols a policy's ports name
KNOWN_PROTOCOLS = dict(PROTOCOL_NUMBERS, icmp=1, icmpv6=58)
PROTOCOL_NAMES = {number: name for name, number in KNOWN_PROTOCOLS.items()}
EVERY_PROTOCOL, EVERY_PORT = (0, 255), (0, 65535)  # the intervals of "any"


def disjoint(boxes):
    """boxes: tuples of (first, last) integer intervals, one per dimension -> sorted boxes that do not overlap and
    cover the same. Cut along the first dimension at every boundary, then the rest of each piece the same way; the
    last dimension's intervals are merged; neighbouring pieces with the same rest are joined again."""
    boxes = [tuple(b) for b in boxes]
    if not boxes:
        return []
    if len(boxes[0]) == 1:
        return [(interval,) for interval in _merge([b[0] for b in boxes])]
    return sorted((piece,) + rest for piece, rests in _cut(boxes) for rest in disjoint(rests))


def _cut(boxes):
    """[(interval, rest...)] -> [(piece, [rest...])]: the first dimension cut at every boundary, each piece with the
    rests of the boxes that cover it; neighbouring pieces with the same rests joined."""
    edges = sorted({b[0][0] for b in boxes} | {b[0][1] + 1 for b in boxes})
    pieces = []
    for first, nxt in zip(edges, edges[1:]):
        rests = sorted({b[1:] for b in boxes if b[0][0] <= first and nxt - 1 <= b[0][1]})
        if not rests:
            continue
        if pieces and pieces[-1][1] == rests and pieces[-1][0][1] == first - 1:
            pieces[-1] = ((pieces[-1][0][0], nxt - 1), rests)
        else:
            pieces.append(((first, nxt - 1), rests))
    return pieces


def _merge(intervals):
    merged = []
    for first, last in sorted(intervals):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def network_interval(net):
    """An ipaddress network (or address) as its (first, last) integer interval."""
    net = ipaddress.ip_network(net)
    return (int(net.network_address), int(net.broadcast_address))


def number_interval(value):
    """A protocol ("tcp", 6) or a range text ("8000-8080", "80") as a (first, last) interval."""
    if value in PROTOCOL_NUMBERS:
        number = PROTOCOL_NUMBERS[value]
        return (number, number)
    first, _sep, last = str(value).partition("-")
    return (int(first), int(last or first))


def interval_text(interval, every, names=None):
    """An interval as a policy writes it: "any" for every value, a name or number, or first-last."""
    first, last = interval
    if interval == every:
        return "any"
    if first == last:
        return (names or {}).get(first, str(first))
    return f"{first}-{last}"


def element_text(box, families):
    """A box as an nft set element; families gives each dimension's kind: 4 or 6 for an address (one address, a
    prefix where it is one, else a range), None for a number (a protocol, a port)."""
    parts = []
    for (first, last), family in zip(box, families):
        if family is None:
            parts.append(f"{first}-{last}")
            continue
        kind = ipaddress.IPv4Address if family == 4 else ipaddress.IPv6Address
        start, end = kind(first), kind(last)
        nets = list(ipaddress.summarize_address_range(start, end))
        parts.append(str(start) if first == last else str(nets[0]) if len(nets) == 1 else f"{start}-{end}")
    return " . ".join(parts)


def read_element(value):
    """One element as nft -j prints it: a tuple of (first, last) integer intervals."""
    parts = value["concat"] if isinstance(value, dict) and "concat" in value else [value]
    return tuple(_read_part(part) for part in parts)


def _read_part(value):
    if isinstance(value, dict) and "prefix" in value:
        return network_interval(f"{value['prefix']['addr']}/{value['prefix']['len']}")
    if isinstance(value, dict) and "range" in value:
        first, last = (_read_number(v) for v in value["range"])
        return (first, last)
    number = _read_number(value)
    return (number, number)


def _read_number(value):
    """An address, protocol or port as a number (nft prints well-known protocols by name)."""
    if not isinstance(value, str):
        return value
    if value in PROTOCOL_NUMBERS:
        return PROTOCOL_NUMBERS[value]
    if value.isdigit():
        return int(value)
    try:
        return int(ipaddress.ip_address(value))
    except ValueError:
        pass
    try:
        return socket.getprotobyname(value)
    except OSError:
        return value  # not ours to read: compared as it is
