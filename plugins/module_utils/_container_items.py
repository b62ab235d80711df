# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The roles' container lists as container_network's items: apart from the network's spec (_network_spec), which
imports every option's parser, so that netns_info's fleet_member compiles only this."""

from __future__ import annotations

from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput

CONTAINER_KEYS = ("name", "address", "address6", "interface", "default_route", "ports", "ingress", "egress", "mac",
                  "aliases", "sysctls", "dns", "mtu", "bandwidth", "state", "host_mac")  # host_mac: the host end's, set only by a rebuild of a saved network


def container_items(containers):
    """The roles' containers (names, or dicts with name, address, interface, default_route, ports, state) as
    container_network's items (dicts)."""
    if containers is None:
        return []
    if isinstance(containers, (str, dict)) or not hasattr(containers, "__iter__"):
        raise InvalidInput(f"containers must be a list of names or of dicts with a name, not {containers!r}")
    items = [{"name": c} if isinstance(c, str) else c for c in containers]
    for item in items:
        unknown = sorted(set(item) - set(CONTAINER_KEYS)) if isinstance(item, dict) else []
        if unknown:
            raise InvalidInput(f"container {item.get('name')!r}: unknown keys {unknown} (known: {', '.join(CONTAINER_KEYS)})")
    return items
