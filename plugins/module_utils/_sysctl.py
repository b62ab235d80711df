# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-namespace sysctls (net.*), read and written through /proc/sys inside the namespace, and which interfaces
must keep accepting router advertisements once IPv6 forwarding is on."""

from __future__ import annotations

import socket

from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput, kernel_error, where
from ansible_collections.linuxns.net.plugins.module_utils._kernel import (
    IFA_FLAGS, IFA_F_PERMANENT, IFLA_IFNAME, RTA_OIF, RTPROT_RA)
from ansible_collections.linuxns.net.plugins.module_utils._netlink import text, u32

FORWARDING = {4: "net.ipv4.ip_forward", 6: "net.ipv6.conf.all.forwarding"}  # per address family


def sysctl_path(key, namespace):
    """Map a per-namespace sysctl key (net.ipv4.ip_forward or net/ipv4/conf/eth0.1/forwarding) to its /proc path."""
    parts = key.split("/") if "/" in key else key.split(".")
    if parts[0] != "net" or len(parts) < 2 or any(p in ("", ".", "..") for p in parts):
        raise InvalidInput(f"sysctl '{key}' for {where(namespace)}: only net.* sysctls belong to a network namespace")
    return "/proc/sys/" + "/".join(parts)


def read_sysctl(path):
    with open(path) as f:
        return " ".join(f.read().split())


def write_sysctl(path, value):
    with open(path, "w") as f:
        f.write(str(value))


def read_sysctl_in(session, namespace, key):
    """A sysctl's value inside a namespace (None if the sysctl does not exist there)."""
    with session.inside(namespace):
        try:
            return read_sysctl(sysctl_path(key, namespace))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise kernel_error(f"read sysctl '{key}' in {where(namespace)}", exc) from None


def write_sysctl_in(session, namespace, key, value):
    with session.inside(namespace):
        try:
            write_sysctl(sysctl_path(key, namespace), value)
        except FileNotFoundError:
            raise InvalidInput(f"sysctl '{key}' does not exist in {where(namespace)}") from None
        except OSError as exc:
            raise kernel_error(f"set sysctl '{key}' to {value!r} in {where(namespace)}", exc) from None


def accept_ra_key(interface):
    return f"net/ipv6/conf/{interface}/accept_ra"


def router_advertised_interfaces(session, namespace):
    """Interfaces whose IPv6 set-up comes from router advertisements: one with a route learned from an RA, or a
    global address that is not permanent (SLAAC's, DHCPv6's). With IPv6 forwarding on, the kernel ignores RAs
    where accept_ra is 1, and drops the default routes they gave when forwarding goes on: such a host loses its
    own IPv6 default route. accept_ra 2 keeps them (what Docker does for its uplink)."""
    sock = session.route_socket(namespace)
    indexes = {u32(msg.attrs.get(RTA_OIF)) for msg in sock.routes(socket.AF_INET6) if msg.header[5] == RTPROT_RA}
    for msg in sock.addresses():
        family, _prefixlen, flags, scope, index = msg.header
        flags = u32(msg.attrs.get(IFA_FLAGS)) or flags
        if family == socket.AF_INET6 and scope == 0 and not flags & IFA_F_PERMANENT:
            indexes.add(index)
    names = {msg.header[2]: text(msg.attrs.get(IFLA_IFNAME)) for msg in sock.links()}
    return sorted(names[i] for i in indexes if i in names)
