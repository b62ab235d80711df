# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab's wiring: a switch (a bridge in a namespace of its own) per segment, the router between segments, the
one veth and route the machine's own namespace gets, and each host's eth0. Made with the session and the lean
netlink socket that the modules use (veths with their peer in place, addresses, routes, links up); bridges through
pyroute2, as the bridge module makes them."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import pathlib
import time

from ansible_collections.linuxns.net.plugins.module_utils._kernel import IFA_F_NODAD, RTPROT_STATIC
from ansible_collections.linuxns.net.plugins.module_utils._netlink import RouteSocket
from ansible_collections.linuxns.net.plugins.module_utils._nsfiles import create_namespace, namespace_path, setns_fd
from ansible_collections.linuxns.net.plugins.module_utils._routes import DEFAULT_METRIC
from ansible_collections.linuxns.net.plugins.module_utils._session import netlink_call
from ansible_collections.linuxns.net.plugins.module_utils._snapshot import Snapshot
from ansible_collections.linuxns.net.plugins.module_utils._sysctl import write_sysctl_in

SWITCH_BRIDGE = "underlay"  # the bridge in each switch namespace
LOOPBACK_INDEX = 1


def _address(sock, what, namespace, index, address, prefixlen):
    """Add an address; an IPv6 one without duplicate address detection: the lab plans its addresses, and a host
    must answer at once."""
    ip = ipaddress.ip_address(address)
    netlink_call(what, namespace, sock.address, "add", index, ip, prefixlen, IFA_F_NODAD if ip.version == 6 else 0)


def _route(sock, what, namespace, destination, gateway):
    dest = ipaddress.ip_network(destination)
    netlink_call(what, namespace, sock.route, "add", dest, 254, DEFAULT_METRIC[dest.version], RTPROT_STATIC,
                 gateway=ipaddress.ip_address(gateway))


def create_switch(session, switch):
    """A switch namespace with its bridge, up."""
    create_namespace(switch)
    sock = session.route_socket(switch)
    netlink_call("lo", switch, sock.set_up, LOOPBACK_INDEX)
    netlink_call(f"bridge {SWITCH_BRIDGE}", switch, session.pyroute2(switch).link, "add", ifname=SWITCH_BRIDGE, kind="bridge")
    netlink_call(f"bridge {SWITCH_BRIDGE}", switch, sock.set_up, sock.link_index(SWITCH_BRIDGE))


def plug(session, switch, port, peer, peer_fd, mac=None):
    """A veth from a switch's bridge (port) to a namespace (peer, named by its fd), the switch's end up."""
    sock = session.route_socket(switch)
    netlink_call(f"veth {port}", switch, sock.add_veth, port, peer, peer_netns_fd=peer_fd, peer_mac_address=mac,
                 master=sock.link_index(SWITCH_BRIDGE))
    netlink_call(f"veth {port}", switch, sock.set_up, sock.link_index(port))


def unplug_stale(session, switch, port):
    """Remove a port left by a host's earlier holder: it goes with the old namespace, a moment after its processes,
    so it is given a second to go by itself."""
    sock = session.route_socket(switch)
    deadline = time.monotonic() + 1
    while sock.link_index(port) is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    index = sock.link_index(port)
    if index is not None:
        with contextlib.suppress(OSError):  # gone meanwhile
            sock.delete_link(index)


def connect_machine(session, plan):
    """The one veth (root_link, with the underlay's first address: one connected route) of the machine's own
    namespace, and in a routed lab the one route to the other segments, via the router."""
    plug(session, plan.switch, "root", plan.root_link, session.home_fd)
    home = session.route_socket(None)
    index = home.link_index(plan.root_link)
    _address(home, plan.root_link, None, index, plan.root_address, plan.underlay.prefixlen)
    netlink_call(plan.root_link, None, home.set_up, index)
    if plan.segments > 1:
        _route(home, f"route {plan.segment_range}", None, plan.segment_range, plan.router_address)


def create_router(session, plan):
    """The router between the segments: one leg on each, forwarding both families, its default routes to the
    upstream host (which routes the segments back to it)."""
    create_namespace(plan.router)
    fd = os.open(namespace_path(plan.router), os.O_RDONLY)
    try:
        for segment in range(1, plan.segments + 1):
            plug(session, plan.switch_of(segment), "router", f"seg{segment}", fd)
    finally:
        os.close(fd)
    sock = session.route_socket(plan.router)
    netlink_call("lo", plan.router, sock.set_up, LOOPBACK_INDEX)
    for key in ("net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding"):
        write_sysctl_in(session, plan.router, key, 1)
    for segment, (net, net6) in enumerate(plan.networks, 1):
        leg = sock.link_index(f"seg{segment}")
        address = str(plan.router_address) if segment == 1 else plan.gateway_of(segment)
        _address(sock, f"seg{segment}", plan.router, leg, address, net.prefixlen)
        _address(sock, f"seg{segment}", plan.router, leg, plan.address6(address), net6.prefixlen)
        netlink_call(f"seg{segment}", plan.router, sock.set_up, leg)
    _route(sock, "default route", plan.router, "0.0.0.0/0", plan.upstream_address)
    _route(sock, "default route", plan.router, "::/0", plan.upstream_address6)


def wire_host(session, plan, host, holder_pid, address, upstream):
    """A host's eth0 on its segment's switch, with its addresses and routes."""
    segment = plan.segment_of(address)
    net, net6 = plan.networks[segment - 1]
    switch, port = plan.switch_of(segment), plan.switch_port(address)
    unplug_stale(session, switch, port)
    host_fd = os.open(f"/proc/{holder_pid}/ns/net", os.O_RDONLY)
    try:
        plug(session, switch, port, "eth0", host_fd, plan.host_mac(address))
        with setns_fd(host_fd, session.home_fd):
            pathlib.Path("/proc/sys/net/ipv6/conf/eth0/accept_dad").write_text("0")
            sock = RouteSocket()
    finally:
        os.close(host_fd)
    with contextlib.closing(sock):
        what = f"eth0 of lab host {host}"
        netlink_call(what, None, sock.set_up, LOOPBACK_INDEX)
        eth0 = sock.link_index("eth0")
        _address(sock, what, None, eth0, address, net.prefixlen)
        _address(sock, what, None, eth0, plan.address6(address), net6.prefixlen)
        netlink_call(what, None, sock.set_up, eth0)
        for destination, gateway in plan.host_routes(host, address, upstream):
            _route(sock, f"route {destination} of lab host {host}", None, destination, gateway)


def ports_by_namespace(session, switches, ports, pids_by_inode):
    """Port -> the PIDs in the namespace at the other end of that switch port (pids_by_inode: one scan of /proc)."""
    by_nsid = {}  # (switch, nsid) -> port
    for switch in switches:
        for link in Snapshot(session, switch).by_name.values():
            if link.name in ports and link.kind == "veth" and link.peer_nsid != -1:
                by_nsid[(switch, link.peer_nsid)] = link.name
    out = {}
    for pids in pids_by_inode.values() if by_nsid else ():
        try:
            fd = os.open(f"/proc/{pids[0]}/ns/net", os.O_RDONLY)
        except OSError:
            continue
        try:
            port = next((by_nsid[(switch, nsid)] for switch in sorted({s for s, _n in by_nsid})
                         for nsid in [session.nsid(switch, fd)] if (switch, nsid) in by_nsid), None)
        finally:
            os.close(fd)
        if port is not None:
            out.setdefault(port, []).extend(pids)
    return out


def route_owner(network):
    """The link that routes network (not by a default route) in the machine's own namespace, if any (read from
    /proc, changing nothing)."""
    if network.version == 6:
        with contextlib.suppress(FileNotFoundError):  # no IPv6 on this machine: nothing routes it
            with open("/proc/net/ipv6_route") as f:
                for line in f:
                    fields = line.split()
                    if int(fields[1], 16) == 0 or fields[9] == "lo":
                        continue
                    dest = ipaddress.IPv6Address(bytes.fromhex(fields[0]))
                    if ipaddress.ip_network(f"{dest}/{int(fields[1], 16)}").overlaps(network):
                        return fields[9]
        return None
    with open("/proc/net/route") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[1] == "00000000":
                continue
            dest = ipaddress.IPv4Address(int(fields[1], 16).to_bytes(4, "little"))
            mask = ipaddress.IPv4Address(int(fields[7], 16).to_bytes(4, "little"))
            if ipaddress.ip_network(f"{dest}/{mask}").overlaps(network):
                return fields[0]
    return None
