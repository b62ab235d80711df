# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-namespace sysctls (net.*), read and written through /proc/sys inside the namespace."""

from __future__ import annotations

from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput, kernel_error, where

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
