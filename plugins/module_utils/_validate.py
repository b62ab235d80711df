# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Input validation shared by all modules: runs before anything is read or changed."""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.linuxns.net.plugins.module_utils._defaults import CONTAINER_NAME_MAX, CONTAINER_NAME_PATTERN
from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput, where

IFNAMSIZ = 16  # kernel limit including the trailing NUL
NETWORK_NAME_MAX = 200
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_CONTAINER_NAME = re.compile(CONTAINER_NAME_PATTERN)


def interface_name(name, what="interface", namespace=None):
    """Check a link name as the kernel's dev_valid_name() does, with a message a person can act on."""
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"{what} name {name!r} in {where(namespace)}: must be a non-empty string")
    size = len(name.encode())
    if size >= IFNAMSIZ:
        # the kernel counts bytes: a 15-character name with one non-ASCII letter is too long
        unit = "characters" if size == len(name) else f"bytes in UTF-8 ({len(name)} characters)"
        raise InvalidInput(
            f"{what} name '{name}' in {where(namespace)}: {size} {unit}, the kernel allows at most {IFNAMSIZ - 1} bytes")
    if name in (".", ".."):
        raise InvalidInput(f"{what} name '{name}' in {where(namespace)}: '.' and '..' are not valid link names")
    bad = [c for c in name if c in "/:" or c.isspace()]
    if bad:
        raise InvalidInput(f"{what} name '{name}' in {where(namespace)}: contains {bad[0]!r}; '/', ':' and whitespace are not allowed")
    return name


def namespace_name(name):
    """A named namespace is a file under /run/netns, as free as `ip netns add` allows, less what would escape that
    directory or break `ip netns list` (whitespace and control characters)."""
    if name is None:
        return None
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"namespace name {name!r}: must be a non-empty string")
    if name in (".", "..") or "/" in name:
        raise InvalidInput(f"namespace name '{name}': must not contain '/' or be '.' or '..' (it names a file in /run/netns)")
    bad = next((c for c in name if c.isspace() or not c.isprintable()), None)
    if bad is not None:
        raise InvalidInput(f"namespace name {name!r}: contains {bad!r}; whitespace and control characters are not "
                           "allowed (ip netns list could not show it)")
    if len(name.encode()) > 255:
        raise InvalidInput(f"namespace name '{name[:20]}...': longer than 255 bytes")
    return name


def network_name(name):
    """A network's name goes into its bridge's alias, its rules' comments and every container's hosts file: printable,
    no whitespace (a line break would write lines of its own into those files), at most 200 characters."""
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"container_network: network name {name!r} must be a non-empty string")
    bad = next((c for c in name if c.isspace() or not c.isprintable()), None)
    if bad is not None:
        raise InvalidInput(f"network {name!r}: the name contains {bad!r}; whitespace and control characters are not "
                           "allowed (the name is written into the bridge's alias, rule comments and hosts files)")
    if len(name) > NETWORK_NAME_MAX:
        raise InvalidInput(f"network '{name[:20]}...': the name is {len(name)} characters long, at most "
                           f"{NETWORK_NAME_MAX} are allowed")
    return name


def container_name(name, network):
    """Docker's rule for container names (a letter or digit, then letters, digits, '_', '.' or '-'), at most 63
    characters. A list given as key=value text is split at its commas, so its pieces land here: say how to pass it."""
    if not isinstance(name, str) or not _CONTAINER_NAME.fullmatch(name):
        hint = (" (structured arguments given as key=value text are split at commas: pass them as JSON, "
                "for example -a '{\"containers\": [{\"name\": \"c1\"}]}')") if isinstance(name, str) and any(
            c in name for c in "[]{}\":,") else ""
        raise InvalidInput(f"network '{network}': container name {name!r} must start with a letter or digit and "
                           f"hold only letters, digits, '_', '.' and '-'{hint}")
    if len(name) > CONTAINER_NAME_MAX:
        raise InvalidInput(f"network '{network}': container name '{name[:20]}...' is {len(name)} characters long, "
                           f"at most {CONTAINER_NAME_MAX} are allowed")
    return name


def interface_address(value, obj, namespace=None):
    """An address with prefix on a link, e.g. 10.0.0.1/24, as an ipaddress interface."""
    try:
        iface = ipaddress.ip_interface(str(value))
    except ValueError:
        raise InvalidInput(f"{obj} in {where(namespace)}: '{value}' is not a valid address in CIDR form (e.g. 10.0.0.1/24)") from None
    if "/" not in str(value):
        raise InvalidInput(f"{obj} in {where(namespace)}: address '{value}' has no prefix length (write e.g. {value}/24)")
    return iface


def interface_addresses(values, obj, namespace=None):
    """A link's address set: ipaddress interfaces, each once, in the order of their text (as the kernel's are shown)."""
    unique = {iface.with_prefixlen: iface for iface in (interface_address(v, obj, namespace) for v in values)}
    return [unique[text] for text in sorted(unique)]


def address_texts(addresses):
    """The text form of an address set (None stays None): what diff views and results show."""
    return None if addresses is None else [a.with_prefixlen for a in addresses]


def network(value, obj, namespace=None):
    """A network in CIDR form with no host bits set, e.g. 10.0.0.0/24."""
    try:
        return ipaddress.ip_network(str(value), strict=True)
    except ValueError as exc:
        raise InvalidInput(f"{obj} in {where(namespace)}: '{value}' is not a valid network in CIDR form ({exc})") from None


# ranges that can never be a container subnet: what each is, for the message
SPECIAL_NETWORKS = [(ipaddress.ip_network(n), what) for n, what in (
    ("0.0.0.0/8", "'this network', never a destination"), ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"), ("224.0.0.0/4", "multicast"), ("240.0.0.0/4", "reserved, and dropped by most hosts"),
    ("::/127", "the unspecified and loopback addresses"), ("::ffff:0:0/96", "IPv4-mapped addresses"),
    ("fe80::/10", "link-local (it belongs to the kernel)"), ("ff00::/8", "multicast"))]


def container_subnet(net, obj):
    """A subnet that containers and a gateway can live in: unicast, not loopback, link-local, mapped or reserved."""
    for special, what in SPECIAL_NETWORKS:
        if special.version == net.version and net.overlaps(special):
            relation = "is inside" if net.subnet_of(special) else "covers"
            raise InvalidInput(f"{obj} {net} {relation} {special}, {what}: use a private range such as "
                               f"{'10.88.0.0/24' if net.version == 4 else 'fd42:0:0:1::/64'}")
    return net


def ip_address(value, obj, namespace=None):
    try:
        return ipaddress.ip_address(str(value))
    except ValueError:
        raise InvalidInput(f"{obj} in {where(namespace)}: '{value}' is not a valid IP address") from None


def mac_address(value, obj, namespace=None):
    if value is None:
        return None
    mac = str(value).lower()
    if not _MAC.match(mac):
        raise InvalidInput(f"{obj} in {where(namespace)}: '{value}' is not a MAC address (write aa:bb:cc:dd:ee:ff)")
    if int(mac[:2], 16) & 1:
        raise InvalidInput(f"{obj} in {where(namespace)}: '{value}' is a multicast MAC address")
    if mac == "00:00:00:00:00:00":
        raise InvalidInput(f"{obj} in {where(namespace)}: '{value}' is the zero MAC address, which no interface may have")
    return mac


def mtu(value, obj, namespace=None):
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 68 <= value <= 65535:
        raise InvalidInput(f"{obj} in {where(namespace)}: mtu {value!r} must be an integer from 68 to 65535")
    return value


def unique(items, key, what):
    """Refuse two list entries that describe the same object: the result would depend on their order."""
    seen = set()
    for item in items:
        k = key(item)
        if k in seen:
            raise InvalidInput(f"{what} {k} is listed more than once")
        seen.add(k)


def stop_timeout(value, obj):
    """Seconds from SIGTERM to SIGKILL when processes are stopped: 0 (SIGKILL at once) to an hour; 10 by default."""
    if value is None:
        return 10.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 3600:
        raise InvalidInput(f"{obj}: stop_timeout {value!r} must be a number of seconds from 0 to 3600")
    return float(value)
