# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The namespace lab fleet: a fleet of hosts on one machine, reached over real SSH, for tests and molecule.

Each host is a process with its own network, mount and UTS namespaces: its hostname set, a private tmpfs on
/run/netns (so its named namespaces are its own), empty shell rc files for its logins, sysfs remounted, an eth0 on
the underlay switch, and sshd on its underlay addresses (one IPv4, one IPv6). The switch is a bridge in a namespace
of its own. The machine's own namespace gets exactly one veth to the switch (with the IPv4 underlay's first address,
hence one connected route), nothing else: no IPv6 address. An `upstream` host stands in for the internet: the hosts'
default routes (both families) point at it, and its echo service answers each TCP connection with the source address
it saw.

Everything the lab starts is recorded (PIDs with their start times) in its state directory, and stopping stops
exactly those processes and removes exactly those objects. Links, addresses and routes are made through netlink;
processes (unshare, sshd, ssh-keygen) are started as programs.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

from ansible_collections.linuxns.net.plugins.module_utils._errors import Conflict, KernelError, LinuxnsError
from ansible_collections.linuxns.net.plugins.module_utils._kernel import IFA_F_NODAD
from ansible_collections.linuxns.net.plugins.module_utils._nsfiles import (
    create_namespace, delete_namespace, is_namespace_file, namespace_path, pids_by_namespace_inode, setns_fd)
from ansible_collections.linuxns.net.plugins.module_utils._plan import Plan
from ansible_collections.linuxns.net.plugins.module_utils._session import netlink_call, Pyroute2Socket, Session
from ansible_collections.linuxns.net.plugins.module_utils._sysctl import write_sysctl_in

DEFAULT_STATE_DIR = "/run/linuxns-lab"
DEFAULT_UNDERLAY = "198.51.100.0/24"
DEFAULT_UNDERLAY6 = "2001:db8:100::/64"  # documentation space; host .N of the IPv4 underlay is ::N (N's digits)
# A routed lab's other segments: segment k (2, 3, ...) is the k-th /24 of this range (and the k-th /64 after
# underlay6), behind a router; the machine's own namespace gets the one route to this range that reaches them.
DEFAULT_SEGMENT_RANGE = "198.19.0.0/16"
MAX_SEGMENTS = 16
ECHO_PORT = 7007
MAX_HOSTS = 200
UPSTREAM = "upstream"
ETC_NETNS = "/etc/netns"  # iproute2's: each host mounts its own over it
# the labs that use /etc/netns as a mount point, when a lab made it: the last of them to go removes it
ETC_NETNS_USERS = "/run/linuxns-lab-etc-netns"
_LAB_NAME = re.compile(r"[a-z0-9]{1,8}")
_HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")

# The upstream's echo service: answers each TCP connection with the source address it sees, then closes. It
# listens on each address given (its IPv4 and IPv6 underlay addresses).
ECHO_SERVER = """
import socket, sys, threading
def serve(address, port):
    server = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((address, port))
    server.listen(128)
    while True:
        conn, peer = server.accept()
        with conn:
            conn.sendall(f"{peer[0]}\\n".encode())
port = int(sys.argv[1])
threads = [threading.Thread(target=serve, args=(address, port)) for address in sys.argv[2:]]
for thread in threads:
    thread.start()
"""


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


def normalize_lab(params):
    name = params.get("name") or "lnlab"
    if not isinstance(name, str) or not _LAB_NAME.fullmatch(name):
        raise LabError(f"lab '{name}': the name must be 1 to 8 lowercase letters and digits (link names derive from it)")
    try:
        underlay = ipaddress.ip_network(str(params.get("underlay") or DEFAULT_UNDERLAY))
    except ValueError as exc:
        raise LabError(f"lab '{name}': underlay {params.get('underlay')!r} is not a network in CIDR form ({exc})") from None
    if underlay.version != 4 or underlay.num_addresses < 16:
        raise LabError(f"lab '{name}': underlay {underlay} must be an IPv4 network of at least 16 addresses")
    try:
        underlay6 = ipaddress.ip_network(str(params.get("underlay6") or DEFAULT_UNDERLAY6))
    except ValueError as exc:
        raise LabError(f"lab '{name}': underlay6 {params.get('underlay6')!r} is not a network in CIDR form ({exc})") from None
    if underlay6.version != 6 or underlay6.prefixlen > 64 or underlay6.is_link_local or underlay6.is_multicast \
            or underlay6.is_loopback or underlay6.is_unspecified:
        raise LabError(f"lab '{name}': underlay6 {underlay6} must be a unicast IPv6 network of /64 or larger "
                       "(a host's address in it is its IPv4 host number's digits)")
    hosts = params.get("hosts", 3)
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
    segments = params.get("segments") or 1
    if isinstance(segments, bool) or not isinstance(segments, int) or not 1 <= segments <= MAX_SEGMENTS:
        raise LabError(f"lab '{name}': segments {segments!r} must be from 1 to {MAX_SEGMENTS}")
    try:
        segment_range = ipaddress.ip_network(str(params.get("segment_range") or DEFAULT_SEGMENT_RANGE))
    except ValueError as exc:
        raise LabError(f"lab '{name}': segment_range {params.get('segment_range')!r} is not a network in CIDR form "
                       f"({exc})") from None
    if segment_range.version != 4 or segment_range.prefixlen > 24 - (MAX_SEGMENTS - 1).bit_length() \
            or segment_range.overlaps(underlay):
        raise LabError(f"lab '{name}': segment_range {segment_range} must be an IPv4 network of "
                       f"/{24 - (MAX_SEGMENTS - 1).bit_length()} or larger, apart from underlay {underlay}")
    if segments > 1 and underlay6.prefixlen != 64:
        raise LabError(f"lab '{name}': a routed lab ({segments} segments) needs underlay6 to be a /64, not {underlay6} "
                       "(segment k is the k-th /64 after it)")
    room = underlay.num_addresses - 2 - 10 - 1  # the root end, 10 spare, the upstream
    if len(hosts) > room:
        raise LabError(f"lab '{name}': underlay {underlay} has room for {room} hosts, not {len(hosts)}")
    return LabSpec(name=name, hosts=hosts, underlay=underlay, underlay6=underlay6, segments=segments,
                   segment_range=segment_range, upstream=params.get("upstream", True) is not False,
                   state=params.get("state") or "present", state_dir=params.get("state_dir") or DEFAULT_STATE_DIR,
                   python=params.get("python") or sys.executable, inventory=params.get("inventory"))


def _run(*argv, stdin=None):
    try:
        proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise LabError(f"{argv[0]} is not installed (the lab needs util-linux, openssh-server and openssh-client)") from None
    if proc.returncode != 0:
        raise LabError(f"{' '.join(argv)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def start_time(pid):
    """A live process's start time (clock ticks since boot): with the PID, it names the process uniquely.

    None for a process that is gone or a zombie (stopped, waiting for its parent to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else int(fields[19])


def _stop(pid, start):
    """Stop a process that the lab started, if it is still that process (PID and start time both match)."""
    if start is None or start_time(pid) != start:
        return
    for sig, wait in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 2.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    return
            except ChildProcessError:  # not our child (another run started it): poll /proc
                if start_time(pid) != start:
                    return
            time.sleep(0.01)


def port_open(address, port):
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait_port(address, port, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(address, port):
            return
        time.sleep(0.02)
    raise KernelError(f"{what} did not listen on {address}:{port} within {timeout:.0f} s")


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


class Lab:
    """One lab: its state directory, and what it started."""

    def __init__(self, name="lnlab", state_dir=DEFAULT_STATE_DIR, underlay=DEFAULT_UNDERLAY, underlay6=DEFAULT_UNDERLAY6,
                 segments=1, segment_range=DEFAULT_SEGMENT_RANGE):
        self.name = name
        self.dir = pathlib.Path(state_dir) / name
        self.underlay = ipaddress.ip_network(str(underlay))
        self.underlay6 = ipaddress.ip_network(str(underlay6))
        self.segment_range = ipaddress.ip_network(str(segment_range))
        # segment 1 is the underlay, where the machine's end and the upstream are; the others are routed
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
        segment = self.segment_of(address)
        net, net6 = self.networks[segment - 1]
        number = int(ipaddress.ip_address(address)) - int(net.network_address)
        return str(net6.network_address + int(str(number), 16))

    # ------------------------------------------------------------ state

    @property
    def state_file(self):
        return self.dir / "state.json"

    @property
    def inventory(self):
        return self.dir / "inventory.yml"

    @property
    def key(self):
        return self.dir / "id_ed25519"

    def state(self):
        try:
            return json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return None

    def _save(self, state):
        self.state_file.write_text(json.dumps(state, indent=2))

    def alive(self, state, host, role=None):
        """Whether the host's processes (or the one of that role) are still the ones the lab started."""
        procs = [p for p in state["processes"] if p["host"] == host and (role is None or p["role"] == role)]
        return bool(procs) and all(start_time(p["pid"]) == p["start"] for p in procs)

    # ------------------------------------------------------------ plan

    def plan(self, plan, session, spec):
        """Queue what brings the lab to spec: create it, add, rebuild or remove hosts, restart a dead sshd."""
        state = self.state()
        if spec.state == "absent":
            leftovers = state is not None or is_namespace_file(namespace_path(self.switch)) or \
                is_namespace_file(namespace_path(self.router)) or os.path.exists(f"/sys/class/net/{self.root_link}")
            if leftovers:
                plan.add(f"stop lab '{self.name}' and remove everything it made", lambda: self.down(session))
            return
        for key, value in (("underlay", str(self.underlay)), ("underlay6", str(self.underlay6)),
                           ("segments", self.segments)) if state is not None else ():
            if state.get(key, 1 if key == "segments" else None) != value:
                raise Conflict(f"lab '{self.name}' is up with {key} {state.get(key) or '(none: an older lab)'}, not "
                               f"{value} (stop it first to change that)")
        if state is not None and state.get("upstream", True) != spec.upstream:
            # the hosts' default routes point at the upstream: they are set when a host starts
            raise Conflict(f"lab '{self.name}' is up {'with' if state.get('upstream', True) else 'without'} its upstream "
                           "host (stop it first to change that)")
        if state is None:
            self._check_free()
            state = {"name": self.name, "switch": self.switch, "root_link": self.root_link,
                     "underlay": str(self.underlay), "underlay6": str(self.underlay6), "segments": self.segments,
                     "upstream": spec.upstream, "hosts": {}, "processes": []}
            routed = (f", {self.segments - 1} more segments ({', '.join(str(n) for n, _n6 in self.networks[1:])}) behind "
                      f"router {self.router}, and one route to {self.segment_range} via it") if self.segments > 1 else ""
            plan.add(f"create lab '{self.name}': switch namespace {self.switch}, underlay {self.underlay}, "
                     f"{self.root_link} with {self.root_address} in the machine's namespace{routed}",
                     lambda: self._create(session, state), lambda: self.down(session))
        wanted = list(spec.hosts) + ([UPSTREAM] if spec.upstream else [])
        addresses = self._addresses(state, wanted)
        leaving = [host for host in state["hosts"] if host not in wanted]
        behind = {}  # port -> the sessions in that host, found for all leaving hosts in one scan of /proc

        def stop(host):
            if not behind:
                behind.update(self._processes_behind(session, [state["hosts"][h]["port"] for h in leaving]) or {None: []})
            self._remove_host(session, state, host, behind.get(state["hosts"][host]["port"], []))
        for host in leaving:
            plan.add(f"stop host {host} of lab '{self.name}'", lambda host=host: stop(host))
        for host in wanted:
            known = host in state["hosts"]
            if known and self.alive(state, host, "holder"):
                if not self.alive(state, host, "sshd"):
                    plan.add(f"restart sshd of host {host} of lab '{self.name}'",
                             lambda host=host: self._sshd(state, host, wait=True))
                continue
            verb = "rebuild" if known else "start"
            plan.add(f"{verb} host {host} of lab '{self.name}' at {addresses[host]} and {self.address6(addresses[host])}",
                     lambda host=host: self._add_host(session, state, host, addresses[host], spec),
                     lambda host=host: self._remove_host(session, state, host))
        inventory = self._inventory_text(addresses, spec)
        targets = [self.inventory] + ([pathlib.Path(spec.inventory)] if spec.inventory else [])
        for target in targets:
            if not target.exists() or target.read_text() != inventory:
                plan.add(f"write the inventory of lab '{self.name}' to {target}",
                         lambda target=target: _write(target, inventory))
        return addresses

    def _check_free(self):
        if os.path.exists(f"/sys/class/net/{self.root_link}") or is_namespace_file(namespace_path(self.switch)) \
                or is_namespace_file(namespace_path(self.router)):
            raise Conflict(f"lab '{self.name}': {self.root_link} or namespace {self.switch} exists, but the lab has no "
                           f"state in {self.dir}; stop it (state: absent) first")
        ranges = [("underlay", self.underlay), ("underlay6", self.underlay6)]
        if self.segments > 1:
            ranges.append(("segment_range", self.segment_range))
        for key, network in ranges:
            clash = route_owner(network)
            if clash:
                raise LabError(f"lab '{self.name}': {key} {network} is already routed on this machine via {clash} "
                               f"(another lab?); stop that, or choose another {key}")

    def _addresses(self, state, wanted):
        """Host -> underlay address: kept for known hosts, the lowest free ones (from the 11th) for new ones, on
        segment 1, 2, ... in turn by their place in the list (the upstream is on segment 1)."""
        out = {h: info["address"] for h, info in state["hosts"].items() if h in wanted}
        out[UPSTREAM] = str(self.upstream_address)
        taken = set(out.values())

        def free_on(net):
            return (str(a) for a in net.hosts() if int(a) - int(net.network_address) > 10
                    and str(a) not in taken and a != self.upstream_address)
        free = [free_on(net) for net, _net6 in self.networks]
        for position, host in enumerate(h for h in wanted if h != UPSTREAM):
            if host not in out:
                out[host] = next(free[position % self.segments])
        return {h: out[h] for h in wanted}

    # ------------------------------------------------------------ apply

    def _create(self, session, state):
        self.dir.mkdir(parents=True, exist_ok=True)
        self._save(state)
        if not os.path.isdir(ETC_NETNS):
            # the mount point of the hosts' private /etc/netns (an empty directory, as iproute2 would make it)
            os.makedirs(ETC_NETNS, mode=0o755)
            os.makedirs(ETC_NETNS_USERS, exist_ok=True)
        if os.path.isdir(ETC_NETNS_USERS):
            (pathlib.Path(ETC_NETNS_USERS) / self._user_token()).touch()
        for key, comment in (("id_ed25519", "lab client"), ("ssh_host_ed25519_key", "lab hosts")):
            if not (self.dir / key).exists():
                _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(self.dir / key))
        self.key.chmod(0o600)
        for segment in range(1, self.segments + 1):
            switch = self.switch_of(segment)
            create_namespace(switch)
            sock = session.pyroute2(switch)
            netlink_call("lo", switch, sock.link, "set", index=1, state="up")
            netlink_call("bridge underlay", switch, sock.link, "add", ifname="underlay", kind="bridge")
            netlink_call("bridge underlay", switch, sock.link, "set", index=sock.link_lookup(ifname="underlay")[0], state="up")
        self._plug(session, self.switch, "root", self.root_link, session.home_fd)
        # the one veth and the one (connected) route the machine's own namespace gets
        home = session.pyroute2(None)
        index = home.link_lookup(ifname=self.root_link)[0]
        netlink_call(self.root_link, None, home.addr, "add", index=index, address=str(self.root_address),
                     prefixlen=self.underlay.prefixlen)
        netlink_call(self.root_link, None, home.link, "set", index=index, state="up")
        if self.segments > 1:
            self._create_router(session)
            # ... and, in a routed lab, the one route that reaches the other segments' hosts: via the router
            netlink_call(f"route {self.segment_range}", None, home.route, "add", dst=str(self.segment_range),
                         gateway=str(self.router_address))

    def _plug(self, session, switch, port, peer, peer_fd, mac=None):
        """A veth from a switch's bridge (port) to a namespace (peer), both ends up on the switch's side."""
        sock = session.pyroute2(switch)
        netlink_call(f"veth {port}", switch, sock.link, "add", ifname=port, kind="veth", master=sock.link_lookup(ifname="underlay")[0],
                     peer=dict({"ifname": peer, "net_ns_fd": peer_fd}, **({"address": mac} if mac else {})))
        netlink_call(f"veth {port}", switch, sock.link, "set", index=sock.link_lookup(ifname=port)[0], state="up")

    def _create_router(self, session):
        """The router between the segments: one leg on each, forwarding both families, its default routes to the
        upstream host (which routes the segments back to it)."""
        create_namespace(self.router)
        fd = os.open(namespace_path(self.router), os.O_RDONLY)
        try:
            for segment in range(1, self.segments + 1):
                self._plug(session, self.switch_of(segment), "router", f"seg{segment}", fd)
        finally:
            os.close(fd)
        sock = session.pyroute2(self.router)
        netlink_call("lo", self.router, sock.link, "set", index=1, state="up")
        for key in ("net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding"):
            write_sysctl_in(session, self.router, key, 1)
        for segment, (net, net6) in enumerate(self.networks, 1):
            leg = sock.link_lookup(ifname=f"seg{segment}")[0]
            address = str(self.router_address) if segment == 1 else self.gateway_of(segment)
            write_sysctl_in(session, self.router, f"net/ipv6/conf/seg{segment}/accept_dad", 0)
            netlink_call(f"seg{segment}", self.router, sock.addr, "add", index=leg, address=address, prefixlen=net.prefixlen)
            netlink_call(f"seg{segment}", self.router, sock.addr, "add", index=leg, address=self.address6(address),
                         prefixlen=net6.prefixlen, flags=IFA_F_NODAD)
            netlink_call(f"seg{segment}", self.router, sock.link, "set", index=leg, state="up")
        netlink_call("default route", self.router, sock.route, "add", dst="0.0.0.0/0", gateway=str(self.upstream_address))
        netlink_call("default route", self.router, sock.route, "add", dst="::/0", gateway=self.upstream_address6)

    def _add_host(self, session, state, host, address, spec):
        if host in state["hosts"]:
            self._remove_host(session, state, host)  # a rebuild: its holder died
        segment = self.segment_of(address)
        net, net6 = self.networks[segment - 1]
        index = int(ipaddress.ip_address(address)) - int(net.network_address)
        switch_name = self.switch_of(segment)
        # private /run/netns and /etc/netns: each host's namespaces and their hosts files (names) are its own.
        # Login shells run no rc file, as on a stock host: every task's SSH command goes through bash, and this
        # machine's own ~/.bashrc (pyenv init, say) would cost each task more than the module it runs.
        script = ("mkdir -p /run/netns && mount -t tmpfs -o mode=0755 lab-netns /run/netns && "
                  f"mount -t tmpfs -o mode=0755 lab-etc-netns {ETC_NETNS} && "
                  "for rc in \"$HOME/.bashrc\" \"$HOME/.profile\"; do [ ! -f \"$rc\" ] || mount --bind /dev/null \"$rc\"; done && "
                  "mount -t sysfs sysfs /sys && hostname \"$0\" && echo ready && exec sleep infinity")
        proc = subprocess.Popen(["unshare", "--net", "--mount", "--uts", "--propagation", "private", "--",
                                 "/bin/sh", "-c", script, host],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        port = f"{self.name}p{index}" if segment == 1 else f"{self.name}s{segment}p{index}"
        state["hosts"][host] = {"pid": proc.pid, "address": address, "port": port, "segment": segment}
        self._record(state, host, "holder", proc.pid)
        if proc.stdout.readline().strip() != "ready":
            raise LabError(f"host {host} of lab '{self.name}' did not start: {proc.stderr.read().strip()}")
        switch = session.pyroute2(switch_name)
        deadline = time.monotonic() + 1
        while switch.link_lookup(ifname=port) and time.monotonic() < deadline:
            time.sleep(0.02)  # a rebuilt host's old port goes with its old namespace, a moment after its processes
        for stale in switch.link_lookup(ifname=port):
            netlink_call(f"veth {port}", switch_name, switch.link, "del", index=stale)
        host_fd = os.open(f"/proc/{proc.pid}/ns/net", os.O_RDONLY)
        try:
            self._plug(session, switch_name, port, "eth0", host_fd, self._mac(index, segment))
            with setns_fd(host_fd, session.home_fd):
                # no duplicate address detection: the lab plans its addresses, and a host must answer at once
                pathlib.Path("/proc/sys/net/ipv6/conf/eth0/accept_dad").write_text("0")
                sock = Pyroute2Socket()
            try:
                what = f"eth0 of lab host {host}"
                netlink_call(what, None, sock.link, "set", index=1, state="up")
                eth0 = sock.link_lookup(ifname="eth0")[0]
                netlink_call(what, None, sock.addr, "add", index=eth0, address=address, prefixlen=net.prefixlen)
                netlink_call(what, None, sock.addr, "add", index=eth0, address=self.address6(address),
                             prefixlen=net6.prefixlen, flags=IFA_F_NODAD)
                netlink_call(what, None, sock.link, "set", index=eth0, state="up")
                for dst, gateway in self._host_routes(host, segment, spec.upstream):
                    netlink_call(f"route {dst} of lab host {host}", None, sock.route, "add", dst=dst, gateway=gateway)
            finally:
                sock.close()
        finally:
            os.close(host_fd)
        self._save(state)
        if host == UPSTREAM:
            self._start(state, host, "echo", [spec.python, "-c", ECHO_SERVER, str(ECHO_PORT), address, self.address6(address)])
            _wait_port(address, ECHO_PORT, f"the echo service of {host}")
        self._sshd(state, host, wait=True)

    def _host_routes(self, host, segment, upstream):
        """A host's routes: on segment 1, the default routes to the upstream (if any) and a route to each other
        segment via the router; on another segment, the default routes via the router."""
        if segment != 1:
            return [("0.0.0.0/0", self.gateway_of(segment)), ("::/0", self.gateway_of(segment, 6))]
        routes = [("0.0.0.0/0", str(self.upstream_address)), ("::/0", self.upstream_address6)] \
            if upstream and host != UPSTREAM else []
        for net, net6 in self.networks[1:]:
            routes += [(str(net), str(self.router_address)), (str(net6), self.address6(str(self.router_address)))]
        return routes

    def _user_token(self):
        return f"{self.name}-{hashlib.sha256(str(self.dir).encode()).hexdigest()[:8]}"

    def _mac(self, index, segment=1):
        """A host's eth0 MAC, the same whenever the host is rebuilt, so that neighbours' ARP caches stay right."""
        digest = hashlib.sha256((self.name if segment == 1 else f"{self.name}/{segment}").encode()).digest()
        return "02:" + ":".join(f"{b:02x}" for b in (digest[0], digest[1], digest[2], index >> 8, index & 0xFF))

    def _record(self, state, host, role, pid):
        state["processes"] = [p for p in state["processes"] if not (p["host"] == host and p["role"] == role)]
        state["processes"].append({"host": host, "role": role, "pid": pid, "start": start_time(pid)})
        self._save(state)

    def _start(self, state, host, role, argv):
        pid = state["hosts"][host]["pid"]
        with open(self.dir / f"{host}.{role}.log", "w") as log:
            proc = subprocess.Popen(["nsenter", "-t", str(pid), "--net", "--mount", "--uts", "--"] + argv,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._record(state, host, role, proc.pid)

    def _sshd(self, state, host, wait=False):
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory
        address = state["hosts"][host]["address"]
        config = self.dir / f"{host}.sshd_config"
        config.write_text("\n".join([
            f"ListenAddress {address}",
            f"HostKey {self.dir / 'ssh_host_ed25519_key'}",
            f"AuthorizedKeysFile {self.dir / 'id_ed25519.pub'}",
            "PermitRootLogin prohibit-password", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "UsePAM no", "StrictModes no", "PidFile none", "UseDNS no", "MaxStartups 200", "MaxSessions 200",
            "Subsystem sftp internal-sftp", "AcceptEnv LANG LC_*", "",
        ]))
        self._start(state, host, "sshd", ["/usr/sbin/sshd", "-D", "-e", "-f", str(config)])
        if wait:
            _wait_port(address, 22, f"sshd of lab host {host}")

    def _remove_host(self, session, state, host, sessions=None):
        """Stop a host: its recorded processes, and whatever else runs in its network namespace (the sessions its
        sshd started, an Ansible control connection, say), so that the namespace goes with it. That namespace is
        found through the lab's own switch port, whose peer is the host's eth0, so nothing outside the lab is hit."""
        port = state["hosts"].get(host, {}).get("port")
        if sessions is None:
            sessions = self._processes_behind(session, [port]).get(port, [])
        for proc in reversed([p for p in state["processes"] if p["host"] == host]):
            _stop(proc["pid"], proc["start"])
        for pid, start in sessions:
            _stop(pid, start)
        state["processes"] = [p for p in state["processes"] if p["host"] != host]
        state["hosts"].pop(host, None)
        self._save(state)
        for suffix in ("sshd_config", "sshd.log", "echo.log"):
            with contextlib.suppress(FileNotFoundError):
                (self.dir / f"{host}.{suffix}").unlink()

    def _switches(self, state=None):
        """The lab's switch namespaces that exist (every segment's, as the lab was made)."""
        count = max(self.segments, (state or self.state() or {}).get("segments", 1))
        return [n for n in (self.switch_of(k) for k in range(1, count + 1)) if is_namespace_file(namespace_path(n))]

    def _processes_behind(self, session, ports):
        """Port -> (pid, start time) of the processes in the namespace at the other end of that switch port."""
        by_nsid = {}  # (switch, nsid) -> port
        for name in self._switches():
            for msg in session.pyroute2(name).link("dump"):
                nsid = msg.get_attr("IFLA_LINK_NETNSID")
                if msg.get_attr("IFLA_IFNAME") in ports and nsid is not None:
                    by_nsid[(name, nsid)] = msg.get_attr("IFLA_IFNAME")
        out = {}
        switches = sorted({name for name, _nsid in by_nsid})
        for pids in pids_by_namespace_inode().values() if by_nsid else ():
            try:
                fd = os.open(f"/proc/{pids[0]}/ns/net", os.O_RDONLY)
            except OSError:
                continue
            try:
                port = next((by_nsid[(name, nsid)] for name in switches
                             for nsid in [session.pyroute2(name).get_netnsid(fd=fd).get("nsid")] if (name, nsid) in by_nsid), None)
            finally:
                os.close(fd)
            if port is not None:
                out.setdefault(port, []).extend((pid, start_time(pid)) for pid in pids)
        return out

    def _inventory_text(self, addresses, spec):
        common = {
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(self.key),
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
            # the hosts share this machine's filesystem: modules run there with the Python that runs the lab
            "ansible_python_interpreter": spec.python,
            # one SSH session per module call instead of several (the hosts' root has no requiretty)
            "ansible_pipelining": True,
            "lab_name": self.name,
            "lab_upstream_address": str(self.upstream_address),
            "lab_upstream_address6": self.upstream_address6,
            "lab_echo_port": ECHO_PORT,
        }
        hosts = {h: {"ansible_host": a, "lab_underlay_address": a, "lab_underlay_address6": self.address6(a),
                     "lab_segment": self.segment_of(a)} for h, a in addresses.items() if h != UPSTREAM}
        children = {"lab_hosts": {"hosts": hosts}}
        if UPSTREAM in addresses:
            children["lab_upstream"] = {"hosts": {UPSTREAM: {"ansible_host": addresses[UPSTREAM],
                                                             "lab_underlay_address": addresses[UPSTREAM],
                                                             "lab_underlay_address6": self.upstream_address6}}}
        return json.dumps({"all": {"vars": common, "children": children}}, indent=2) + "\n"  # JSON is YAML

    # ------------------------------------------------------------ down

    def down(self, session=None):
        """Stop exactly the lab's processes, remove its switch namespace and root veth, and its state."""
        if session is None:
            with Session(lock=False) as own:
                return self.down(own)
        state = self.state() or {"processes": [], "hosts": {}}
        behind = self._processes_behind(session, [info["port"] for info in state["hosts"].values()])
        for host, info in list(state["hosts"].items()):
            self._remove_host(session, state, host, behind.get(info["port"], []))
        for proc in reversed(state["processes"]):
            _stop(proc["pid"], proc["start"])
        for name in self._switches(state) + ([self.router] if is_namespace_file(namespace_path(self.router)) else []):
            session.forget(name)
            delete_namespace(name)
        for _attempt in range(250):  # the kernel frees the switch's veths, and the root end with them, shortly
            if not os.path.exists(f"/sys/class/net/{self.root_link}"):
                break
            time.sleep(0.02)
        else:
            raise KernelError(f"lab '{self.name}': {self.root_link} was still there 5 s after the switch was removed")
        if self.dir.exists():
            shutil.rmtree(self.dir)
        users = pathlib.Path(ETC_NETNS_USERS)
        if users.is_dir():
            with contextlib.suppress(FileNotFoundError):
                (users / self._user_token()).unlink()
            if not any(users.iterdir()):
                with contextlib.suppress(OSError):  # only if empty: something else may have put files there since
                    os.rmdir(ETC_NETNS)
                users.rmdir()
        with contextlib.suppress(OSError):  # the state root, once no lab is left in it
            self.dir.parent.rmdir()

    # ------------------------------------------------------------ for scripts and tests

    def up(self, hosts=3, upstream=True):
        """Bring the lab to hosts (a count or names), outside Ansible; returns its state."""
        spec = normalize_lab({"name": self.name, "hosts": hosts, "underlay": str(self.underlay), "underlay6": str(self.underlay6),
                              "segments": self.segments, "segment_range": str(self.segment_range),
                              "upstream": upstream, "state_dir": str(self.dir.parent)})
        with Session(lock=False) as session:
            run_lab_plan(session, self, spec, check_mode=False)
        return self.state()

    def status(self):
        state = self.state()
        if state is None:
            return {"up": False}
        return {"up": True, "inventory": str(self.inventory), "hosts": {
            host: {"address": info["address"], "address6": self.address6(info["address"]),
                   "segment": self.segment_of(info["address"]), "processes_alive": self.alive(state, host),
                   "ssh": port_open(info["address"], 22)} for host, info in state["hosts"].items()}}

    def exec(self, host, *argv, check=True):
        """Run a command inside a lab host (its network, mount and UTS namespaces)."""
        pid = self.state()["hosts"][host]["pid"]
        proc = subprocess.run(["nsenter", "-t", str(pid), "--net", "--mount", "--uts", "--"] + list(argv),
                              capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise LabError(f"{host}: {' '.join(argv)}: {proc.stderr.strip() or proc.stdout.strip()}")
        return proc


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def run_lab_plan(session, lab, spec, check_mode):
    plan = Plan()
    addresses = lab.plan(plan, session, spec)
    result = plan.execute(check_mode)
    if spec.state == "present":
        result.update(name=lab.name, underlay=str(lab.underlay), underlay6=str(lab.underlay6), key=str(lab.key),
                      inventory=str(lab.inventory),
                      segments=lab.segments,
                      hosts={h: {"address": a, "address6": lab.address6(a), "segment": lab.segment_of(a)}
                             for h, a in addresses.items() if h != UPSTREAM},
                      upstream={"address": addresses[UPSTREAM], "address6": lab.upstream_address6, "echo_port": ECHO_PORT}
                      if UPSTREAM in addresses else None)
    return result


def run_lab(session, params, check_mode):
    spec = normalize_lab(params)
    return run_lab_plan(session, Lab(spec.name, spec.state_dir, spec.underlay, spec.underlay6, spec.segments,
                                     spec.segment_range), spec, check_mode)
