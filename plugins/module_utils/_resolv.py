# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A container's resolver: /etc/netns/<namespace>/resolv.conf, which `ip netns exec` (and netns_service's drop-in)
binds over /etc/resolv.conf, as `docker run --dns --dns-search --dns-option` writes the container's file. The file
is one network's (its header names it): a resolver is the container's, not each network's; another network's file,
or one the collection did not write, is refused, never touched. Rewritten in place, as the hosts files are."""

from __future__ import annotations

import ipaddress
import os
import re

from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput
from ansible_collections.linuxns.net.plugins.module_utils._hosts import ETC_NETNS, read_text, remover, rewriter

HEADER = "# Written by linuxns.net for network "
MAX_NAMESERVERS = 3  # glibc's MAXNS: more are ignored
_DOMAIN = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?")
_OPTION = re.compile(r"[a-z0-9-]+(:[0-9]+)?")
KEYS = ("nameservers", "search", "options")


def normalize_dns(value, obj):
    """dns: {nameservers, search, options} -> the same, validated (None: the container's resolver is left alone)."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - set(KEYS):
        raise InvalidInput(f"{obj}: dns must be a dict of {', '.join(KEYS)}, not {value!r}")
    out = {}
    servers = value.get("nameservers") or []
    if len(servers) > MAX_NAMESERVERS:
        raise InvalidInput(f"{obj}: dns has {len(servers)} nameservers; the resolver reads {MAX_NAMESERVERS} at most")
    out["nameservers"] = []
    for server in servers:
        try:
            out["nameservers"].append(str(ipaddress.ip_address(str(server))))
        except ValueError:
            raise InvalidInput(f"{obj}: dns nameserver {server!r} is not an IP address") from None
    out["search"] = []
    for domain in value.get("search") or []:
        if not isinstance(domain, str) or not _DOMAIN.fullmatch(domain) or len(domain) > 253:
            raise InvalidInput(f"{obj}: dns search domain {domain!r} is not a domain name")
        out["search"].append(domain)
    out["options"] = []
    for option in value.get("options") or []:
        if not isinstance(option, str) or not _OPTION.fullmatch(option):
            raise InvalidInput(f"{obj}: dns option {option!r} is not a resolver option (ndots:2, timeout:1, rotate, ...)")
        out["options"].append(option)
    if not any(out.values()):
        raise InvalidInput(f"{obj}: dns is empty (give nameservers, search or options; leave dns out to keep the "
                           "host's resolver)")
    return out


def render(network, dns):
    lines = [HEADER + network]
    lines += [f"nameserver {s}" for s in dns["nameservers"]]
    if dns["search"]:
        lines.append("search " + " ".join(dns["search"]))
    if dns["options"]:
        lines.append("options " + " ".join(dns["options"]))
    return "\n".join(lines) + "\n"


def _owner(text):
    first = text.splitlines()[0] if text else ""
    return first[len(HEADER):] if first.startswith(HEADER) else None


def plan_resolvers(plan, network, wanted, others, etc_dir=ETC_NETNS):
    """wanted: container -> dns (its file written by this network); others: containers whose file, if this
    network's, goes (they left, or no longer have dns)."""
    for name in sorted(set(wanted) | set(others)):
        path = os.path.join(etc_dir, name, "resolv.conf")
        text = read_text(path, f"resolver of network '{network}'")
        owner = _owner(text) if text is not None else None
        mark = plan.mark
        if name in wanted:
            if text is not None and owner != network:
                holder = f"network '{owner}'" if owner else "someone else (it was not written by linuxns.net)"
                raise InvalidInput(f"network '{network}': container '{name}' dns: {path} is {holder}'s; a container's "
                                   "resolver is set by one network")
            after = render(network, wanted[name])
            if text != after:
                plan.add(f"write the resolver of container '{name}' (network '{network}') to {path}",
                         rewriter(path, after), None if text is not None else remover(path))
            plan.record(f"{path}", text, after, mark)
        elif text is not None and owner == network:
            plan.add(f"remove {path} (network '{network}' no longer sets container '{name}''s resolver)", remover(path))
            plan.record(f"{path}", text, None, mark)
