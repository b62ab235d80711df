# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Defaults shared by the modules, the roles and the docs: the one place they are set.

Module argument specs import them; the roles leave these options unset so that the module's default applies; a unit
test checks that the module and role documentation state the same values.
"""

from __future__ import annotations

# Device group that marks the bridges of isolated networks (Docker's isolation chains, as a group match).
ISOLATION_GROUP = 27758
# Device group of the bridges of networks that are not isolated: they reach each other's containers directly.
OPEN_GROUP = 27759
# Who may reach a network's containers at their own addresses (Docker 28's gateway modes): nat (only through
# published ports on the host's addresses, and from declared sources), nat-unprotected (anyone who routes to them,
# as before 2.0), routed (no masquerade; published container ports at the container's own address, nothing else).
GATEWAY_MODES = ("nat", "nat-unprotected", "routed")
GATEWAY_MODE = "nat"
# Links are set up unless the request says otherwise.
UP = True
# A container's end of its veth, inside its namespace.
CONTAINER_END = "eth0"
# Docker-style container names: a letter or digit, then letters, digits, '_', '.', '-'. At most 63 characters,
# a DNS label's limit, so that a name can later resolve.
CONTAINER_NAME_PATTERN = r"[a-zA-Z0-9][a-zA-Z0-9_.-]*"
CONTAINER_NAME_MAX = 63


def bridge_name(network):
    """A network's bridge unless set: br- and the first 12 characters of its name (15 in all, the kernel's limit)."""
    return f"br-{network[:12]}"


# VXLAN: IANA's UDP port; the header room it takes from the underlay MTU (outer IP, UDP, VXLAN, inner Ethernet),
# per underlay family; the largest VNI.
VXLAN_PORT = 4789
VXLAN_OVERHEAD = {4: 50, 6: 70}
VXLAN_VNI_MAX = 2 ** 24 - 1

# a bridge's and a veth's MTU when the network sets none (the kernel's Ethernet default)
DEFAULT_MTU = 1500

# a network's bridge names its owner in its ifalias: "linuxns.net network <name>"
BRIDGE_ALIAS_PREFIX = "linuxns.net network "
