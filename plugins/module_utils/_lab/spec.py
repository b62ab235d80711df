# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A lab as requested (validated), and its address plan: which network each segment is, where the machine's end,
the upstream and the router sit, each host's IPv6 address, routes and MAC. Pure, so it is tested without a kernel."""

from __future__ import annotations

import hashlib
import ipaddress
import re
import sys
from dataclasses import dataclass

from ansible_collections.linuxns.net.plugins.module_utils._errors import LinuxnsError

DEFAULT_STATE_DIR = "/run/linuxns-lab"
DEFAULT_UNDERLAY = "198.51.100.0/24"
DEFAULT_UNDERLAY6 = "2001:db8:100::/64"  # documentation space; host .N of the IPv4 underlay is ::N (N's digits)
# A routed lab's other segments: segment k (2, 3, ...) is the k-th /24 of this range (and the k-th /64 after
# underlay6), behind a router; the machine's own namespace gets the one route to this range that reaches them.
DEFAULT_SEGMENT_RANGE = "198.19.0.0/16"
MAX_SEGMENTS = 16
ECHO_PORT = 7007
MAX_HOSTS = 1000  # a segment is one bridge, which takes at most 1,024 ports (BR_MAX_PORTS)
UPSTREAM = "upstream"
FIRST_HOST_NUMBER = 11  # hosts take the lowest free addresses from .11: the ones below are the lab's own
_LAB_NAME = re.compile(r"[a-z0-9]{1,8}")
_HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


class LabError(LinuxnsError):
    """A lab request that cannot be met (a taken range, a bad name), or a lab part that did not start."""


@dataclass
class LabSpec:
    """A lab as requested, validated."""
    name: str
    hosts: list  # host names, in order
    underlay: object  # an ipaddress network
    underlay6: object = None  # an ipaddress network (IPv6)
    segments: int = 1
    segment_range: object = None  # an ipaddress network
    upstream: bool = True
    state: str = "present"
    state_dir: str = DEFAULT_STATE_DIR
    python: str = sys.executable  # what Ansible runs modules with on the hosts (they share this filesystem)
    inventory: str = None  # an extra path to write the inventory to
    reboot: list = None  # hosts to reboot (after the lab is as asked)


def _network(name, key, value, default):
    try:
        return ipaddress.ip_network(str(value or default))
    except ValueError as exc:
        raise LabError(f"lab '{name}': {key} {value!r} is not a network in CIDR form ({exc})") from None


def _host_names(name, hosts):
    if isinstance(hosts, int) or (isinstance(hosts, str) and hosts.isdigit()):
        count = int(hosts)
        if not 1 <= count <= MAX_HOSTS:
            raise LabError(f"lab '{name}': {count} hosts asked for; a lab has 1 to {MAX_HOSTS} hosts")
        hosts = [f"host{i}" for i in range(1, count + 1)]
    if not isinstance(hosts, list) or not hosts or len(hosts) > MAX_HOSTS:
        raise LabError(f"lab '{name}': hosts must be a count or a list of 1 to {MAX_HOSTS} names")
    for host in hosts:
        if not isinstance(host, str) or not _HOST_NAME.fullmatch(host) or host == UPSTREAM:
            raise LabError(f"lab '{name}': host name {host!r} must be a lowercase hostname (letters, digits and '-', "
                           f"at most 63 characters), and not '{UPSTREAM}'")
    if len(set(hosts)) != len(hosts):
        raise LabError(f"lab '{name}': a host name is listed more than once")
    return hosts


def normalize_lab(params):
    name = params.get("name") or "lnlab"
    if not isinstance(name, str) or not _LAB_NAME.fullmatch(name):
        raise LabError(f"lab '{name}': the name must be 1 to 8 lowercase letters and digits (link names derive from it)")
    underlay = _network(name, "underlay", params.get("underlay"), DEFAULT_UNDERLAY)
    if underlay.version != 4 or underlay.num_addresses < 16:
        raise LabError(f"lab '{name}': underlay {underlay} must be an IPv4 network of at least 16 addresses")
    underlay6 = _network(name, "underlay6", params.get("underlay6"), DEFAULT_UNDERLAY6)
    special = underlay6.is_link_local or underlay6.is_multicast or underlay6.is_loopback or underlay6.is_unspecified
    if underlay6.version != 6 or underlay6.prefixlen > 64 or special:
        raise LabError(f"lab '{name}': underlay6 {underlay6} must be a unicast IPv6 network of /64 or larger "
                       "(a host's address in it is its IPv4 host number's digits)")
    hosts = _host_names(name, params.get("hosts", 3))
    segments = params.get("segments") or 1
    if isinstance(segments, bool) or not isinstance(segments, int) or not 1 <= segments <= MAX_SEGMENTS:
        raise LabError(f"lab '{name}': segments {segments!r} must be from 1 to {MAX_SEGMENTS}")
    segment_range = _network(name, "segment_range", params.get("segment_range"), DEFAULT_SEGMENT_RANGE)
    widest = 24 - (MAX_SEGMENTS - 1).bit_length()
    if segment_range.version != 4 or segment_range.prefixlen > widest or segment_range.overlaps(underlay):
        raise LabError(f"lab '{name}': segment_range {segment_range} must be an IPv4 network of /{widest} or larger, "
                       f"apart from underlay {underlay}")
    if segments > 1 and underlay6.prefixlen != 64:
        raise LabError(f"lab '{name}': a routed lab ({segments} segments) needs underlay6 to be a /64, not {underlay6} "
                       "(segment k is the k-th /64 after it)")
    room = underlay.num_addresses - 2 - 10 - 1  # the root end, 10 spare, the upstream
    if len(hosts) > room:
        raise LabError(f"lab '{name}': underlay {underlay} has room for {room} hosts, not {len(hosts)}")
    reboot = params.get("reboot") or []
    if not isinstance(reboot, list) or any(h not in hosts for h in reboot) or len(set(reboot)) != len(reboot):
        raise LabError(f"lab '{name}': reboot {reboot!r} must list hosts of the lab ({', '.join(hosts)}), each once")
    if reboot and (params.get("state") or "present") != "present":
        raise LabError(f"lab '{name}': reboot needs state present")
    return LabSpec(name=name, reboot=reboot, hosts=hosts, underlay=underlay, underlay6=underlay6, segments=segments,
                   segment_range=segment_range, upstream=params.get("upstream", True) is not False,
                   state=params.get("state") or "present", state_dir=params.get("state_dir") or DEFAULT_STATE_DIR,
                   python=params.get("python") or sys.executable, inventory=params.get("inventory"))


class AddressPlan:
    """Where everything of one lab sits. Segment 1 is the underlay, where the machine's end and the upstream are;
    the others are routed, behind the router."""

    def __init__(self, name, underlay, underlay6, segments, segment_range):
        self.name = name
        self.underlay = ipaddress.ip_network(str(underlay))
        self.underlay6 = ipaddress.ip_network(str(underlay6))
        self.segment_range = ipaddress.ip_network(str(segment_range))
        self.networks = [(self.underlay, self.underlay6)] + [
            (list(self.segment_range.subnets(new_prefix=24))[k],
             ipaddress.ip_network(f"{self.underlay6.network_address + (k << 64)}/64")) for k in range(2, segments + 1)]
        hosts = list(self.underlay.hosts())
        self.root_address, self.upstream_address = hosts[0], hosts[-1]
        self.router_address = hosts[1]  # the router's end on segment 1
        self.upstream_address6 = self.address6(str(self.upstream_address))
        self.switch = f"{name}-switch"
        self.router = f"{name}-router"
        self.root_link = f"{name}0"

    @property
    def segments(self):
        return len(self.networks)

    def switch_of(self, segment):
        return self.switch if segment == 1 else f"{self.switch}{segment}"

    def segment_of(self, address):
        ip = ipaddress.ip_address(str(address))
        return next(k for k, (net, net6) in enumerate(self.networks, 1) if ip in net or ip in net6)

    def gateway_of(self, segment, family=4):
        """The router's address on a routed segment (its first), of that family."""
        net, net6 = self.networks[segment - 1]
        return str(net.network_address + 1) if family == 4 else str(net6.network_address + 1)

    def address6(self, address):
        """A host's IPv6 underlay address: its IPv4 host number's digits, read as hex, in its segment's IPv6 network
        (198.51.100.11 is 2001:db8:100::11)."""
        net, net6 = self.networks[self.segment_of(address) - 1]
        number = int(ipaddress.ip_address(address)) - int(net.network_address)
        return str(net6.network_address + int(str(number), 16))

    def host_number(self, address):
        net, _net6 = self.networks[self.segment_of(address) - 1]
        return int(ipaddress.ip_address(address)) - int(net.network_address)

    def switch_port(self, address):
        """The switch port of the host at address: the lab's name, its segment and host number."""
        segment, index = self.segment_of(address), self.host_number(address)
        return f"{self.name}p{index}" if segment == 1 else f"{self.name}s{segment}p{index}"

    def host_mac(self, address):
        """A host's eth0 MAC, the same whenever the host is rebuilt, so that neighbours' ARP caches stay right."""
        segment, index = self.segment_of(address), self.host_number(address)
        digest = hashlib.sha256((self.name if segment == 1 else f"{self.name}/{segment}").encode()).digest()
        return "02:" + ":".join(f"{b:02x}" for b in (digest[0], digest[1], digest[2], index >> 8, index & 0xFF))

    def host_routes(self, host, address, upstream):
        """(destination, gateway) of a host's routes: on segment 1, the default routes to the upstream (if any) and
        a route to each other segment via the router; on another segment, the default routes via the router."""
        segment = self.segment_of(address)
        if segment != 1:
            return [("0.0.0.0/0", self.gateway_of(segment)), ("::/0", self.gateway_of(segment, 6))]
        routes = []
        if upstream and host != UPSTREAM:
            routes = [("0.0.0.0/0", str(self.upstream_address)), ("::/0", self.upstream_address6)]
        for net, net6 in self.networks[1:]:
            routes += [(str(net), str(self.router_address)), (str(net6), self.address6(str(self.router_address)))]
        return routes

    def allocate(self, known, wanted):
        """Host -> underlay address: kept for known hosts (host -> address), the lowest free ones (from the 11th)
        for new ones, on segment 1, 2, ... in turn by their place in the list (the upstream is on segment 1)."""
        out = {h: address for h, address in known.items() if h in wanted}
        out[UPSTREAM] = str(self.upstream_address)
        taken = set(out.values())

        def free_on(net):
            return (str(a) for a in net.hosts() if int(a) - int(net.network_address) >= FIRST_HOST_NUMBER
                    and str(a) not in taken and a != self.upstream_address)
        free = [free_on(net) for net, _net6 in self.networks]
        for position, host in enumerate(h for h in wanted if h != UPSTREAM):
            if host not in out:
                out[host] = next(free[position % self.segments])
        return {h: out[h] for h in wanted}
