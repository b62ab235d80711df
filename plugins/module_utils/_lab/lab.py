# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The namespace lab fleet: a fleet of hosts on one machine, reached over real SSH, for tests and molecule.

Each host is a process with its own network, mount and UTS namespaces: its hostname set, a private tmpfs on
/run/netns (so its named namespaces are its own), empty shell rc files for its logins, sysfs remounted, an eth0 on
the underlay switch, and sshd on its underlay address. The switch is a bridge in a namespace of its own. The
machine's own namespace gets exactly one veth to the switch (with the IPv4 underlay's first address, hence one
connected route), nothing else. An `upstream` host stands in for the internet: the hosts' default routes (both
families) point at it, and its echo service answers each connection with the source address it saw.

Everything the lab starts is recorded (PIDs with their start times) in its state directory, and stopping stops
exactly those processes and removes exactly those objects. The parts: spec.py (request and address plan),
state.py (what it started), processes.py (supervision), topology.py (wiring), access.py (sshd, inventory),
echo.py (the echo service)."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import pathlib
import shutil
import sys
import time

from ansible_collections.linuxns.net.plugins.module_utils._errors import Conflict, KernelError
from ansible_collections.linuxns.net.plugins.module_utils._lab.access import (
    CLIENT_KEY, inventory_text, make_keys, sshd_argv)
from ansible_collections.linuxns.net.plugins.module_utils._lab.boot import plan_boot
from ansible_collections.linuxns.net.plugins.module_utils._lab.echo import SERVER as ECHO_SERVER
from ansible_collections.linuxns.net.plugins.module_utils._lab.processes import (
    port_open, run_in_host, start_holder, start_in_host, start_time, stop, wait_port)
from ansible_collections.linuxns.net.plugins.module_utils._lab.spec import (
    AddressPlan, DEFAULT_SEGMENT_RANGE, DEFAULT_STATE_DIR, DEFAULT_UNDERLAY, DEFAULT_UNDERLAY6, ECHO_PORT, LabError,
    UPSTREAM, normalize_lab)
from ansible_collections.linuxns.net.plugins.module_utils._lab.state import HostRecord, LabState
from ansible_collections.linuxns.net.plugins.module_utils._lab.topology import (
    connect_machine, create_router, create_switch, ports_by_namespace, route_owner, wire_host)
from ansible_collections.linuxns.net.plugins.module_utils._nsfiles import (
    delete_namespace, is_namespace_file, namespace_path, pids_by_namespace_inode)
from ansible_collections.linuxns.net.plugins.module_utils._plan import Plan
from ansible_collections.linuxns.net.plugins.module_utils._programs import run_program
from ansible_collections.linuxns.net.plugins.module_utils._session import Session
from ansible_collections.linuxns.net.plugins.module_utils._snapshot import Snapshot

ETC_NETNS = "/etc/netns"  # iproute2's: each host mounts its own over it
# the labs that use /etc/netns as a mount point, when a lab made it: the last of them to go removes it
ETC_NETNS_USERS = "/run/linuxns-lab-etc-netns"
# each host's own directories (kept across its reboots, gone with the host) over those the collection writes; a
# mount point that this machine lacks is made by the first lab and removed by the last, as /etc/netns
HOST_DIRS = {ETC_NETNS: "etc-netns", "/etc/systemd/system": "etc-systemd-system",
             "/var/lib/linuxns-net": "var-lib-linuxns-net"}


class Lab(AddressPlan):
    """One lab: its address plan, its state directory, and what it started."""

    def __init__(self, name="lnlab", state_dir=DEFAULT_STATE_DIR, underlay=DEFAULT_UNDERLAY, underlay6=DEFAULT_UNDERLAY6,
                 segments=1, segment_range=DEFAULT_SEGMENT_RANGE):
        super().__init__(name, underlay, underlay6, segments, segment_range)
        self.dir = pathlib.Path(state_dir) / name

    @property
    def state_file(self):
        return self.dir / "state.json"

    @property
    def inventory(self):
        return self.dir / "inventory.yml"

    @property
    def key(self):
        return self.dir / CLIENT_KEY

    def load(self):
        """The typed state, or None when the lab is not up."""
        return LabState.load(self.state_file)

    def state(self):
        """The state file's content (hosts, processes), as data for scripts and tests; None when the lab is not up."""
        state = self.load()
        return None if state is None else dataclasses.asdict(state)

    def _save(self, state):
        state.save(self.state_file)

    # ------------------------------------------------------------ apply

    def _create(self, session, state):
        self.dir.mkdir(parents=True, exist_ok=True)
        self._save(state)
        for mount_point in HOST_DIRS:
            users = _users_of(mount_point)
            if not os.path.isdir(mount_point):
                # the mount point of the hosts' own directory (empty, as the tool that uses it would make it)
                os.makedirs(mount_point, mode=0o755)
                os.makedirs(users, exist_ok=True)
            if os.path.isdir(users):
                (pathlib.Path(users) / self._user_token()).touch()
        make_keys(self.dir, self.name)
        for segment in range(1, self.segments + 1):
            create_switch(session, self.switch_of(segment))
        if self.segments > 1:
            create_router(session, self)
        connect_machine(session, self)

    def _add_host(self, session, state, host, address, spec):
        if host in state.hosts:
            self._remove_host(session, state, host)  # a rebuild: its holder died
        binds = []
        for mount_point, directory in HOST_DIRS.items():
            source = self.host_dir(host) / directory
            source.mkdir(parents=True, exist_ok=True)
            binds.append((source, mount_point))
        hosts_file = self.host_dir(host) / "etc-hosts"  # its own /etc/hosts, the machine's to begin with
        if not hosts_file.exists():
            shutil.copyfile("/etc/hosts", hosts_file)
        binds.append((hosts_file, "/etc/hosts"))
        proc = start_holder(host, binds)
        state.hosts[host] = HostRecord(proc.pid, address, self.switch_port(address), self.segment_of(address))
        state.record(host, "holder", proc.pid)
        self._save(state)
        if proc.stdout.readline().strip() != "ready":
            raise LabError(f"host {host} of lab '{self.name}' did not start: {proc.stderr.read().strip()}")
        wire_host(session, self, host, proc.pid, address, spec.upstream)
        if host == UPSTREAM:
            self._start(state, host, "echo", [spec.python, "-c", ECHO_SERVER, str(ECHO_PORT)])
            wait_port(address, ECHO_PORT, f"the echo service of {host}")
        self._sshd(state, host, wait=True)

    def _start(self, state, host, role, argv):
        state.record(host, role, start_in_host(state.hosts[host].pid, argv, self.dir / f"{host}.{role}.log"))
        self._save(state)

    def _sshd(self, state, host, wait=False):
        address = state.hosts[host].address
        self._start(state, host, "sshd", sshd_argv(self.dir, host, address))
        if wait:
            wait_port(address, 22, f"sshd of lab host {host}")

    def host_dir(self, host):
        """The host's own files, kept across its reboots (what it sees at /etc/netns, /etc/systemd/system and
        /var/lib/linuxns-net)."""
        return self.dir / "hosts" / host

    def _user_token(self):
        return f"{self.name}-{hashlib.sha256(str(self.dir).encode()).hexdigest()[:8]}"

    def _remove_host(self, session, state, host, sessions=None):
        """Stop a host: its recorded processes, and whatever else runs in its network namespace (the sessions its
        sshd started, an Ansible control connection, say), so that the namespace goes with it. That namespace is
        found through the lab's own switch port, whose peer is the host's eth0, so nothing outside the lab is hit."""
        record = state.hosts.get(host)
        if sessions is None:
            sessions = self._processes_behind(session, [record.port] if record else []).get(record.port if record else None, [])
        for proc in reversed(state.processes_of(host)):
            stop(proc.pid, proc.start)
        for pid, start in sessions:
            stop(pid, start)
        state.processes = [p for p in state.processes if p.host != host]
        state.hosts.pop(host, None)
        self._save(state)
        for suffix in ("sshd_config", "sshd.log", "echo.log"):
            with contextlib.suppress(FileNotFoundError):
                (self.dir / f"{host}.{suffix}").unlink()

    def _switches(self, state=None):
        """The lab's switch namespaces that exist (every segment's, as the lab was made)."""
        known = state or self.load()
        count = max(self.segments, known.segments if known else 1)
        return [n for n in (self.switch_of(k) for k in range(1, count + 1)) if is_namespace_file(namespace_path(n))]

    def _processes_behind(self, session, ports):
        """Port -> (pid, start time) of the processes in the namespace at the other end of that switch port."""
        if not ports:
            return {}
        found = ports_by_namespace(session, self._switches(), ports, pids_by_namespace_inode())
        return {port: [(pid, start_time(pid)) for pid in pids] for port, pids in found.items()}

    def _remains(self):
        return (os.path.exists(f"/sys/class/net/{self.root_link}") or is_namespace_file(namespace_path(self.switch))
                or is_namespace_file(namespace_path(self.router)))

    def abandoned(self, session):
        """True when this lab's switch, router or root link exists, it has no state here, and no process runs behind
        any host port of its switches: the remains of a run that was killed, which stopping disturbs no one's work."""
        if self.load() is not None or not self._remains():
            return False
        ports = {link.name for switch in self._switches() for link in Snapshot(session, switch).by_name.values()
                 if link.kind == "veth" and link.name not in ("root", "router")}
        return not any(self._processes_behind(session, sorted(ports)).values())

    def _check_free(self, session):
        if self._remains():
            hint = ("nothing runs in it (the remains of a killed run): " if self.abandoned(session)
                    else "its hosts are running, maybe another run's: ")
            raise Conflict(f"lab '{self.name}': {self.root_link} or namespace {self.switch} exists, but the lab has no "
                           f"state in {self.dir}; {hint}stop it (state: absent) first")
        ranges = [("underlay", self.underlay), ("underlay6", self.underlay6)]
        if self.segments > 1:
            ranges.append(("segment_range", self.segment_range))
        for key, network in ranges:
            clash = route_owner(network)
            if clash:
                raise LabError(f"lab '{self.name}': {key} {network} is already routed on this machine via {clash} "
                               f"(another lab?); stop that, or choose another {key}")

    # ------------------------------------------------------------ reboot

    def reboot(self, host, session=None):
        """Reboot a host: every process in its network namespace and in the namespaces it made goes (SIGKILL, as at
        a power cut), and with the last of them its namespaces, links and rules; its own files stay. It comes back
        at its address with its MAC and sshd, and its enabled units run as systemd runs them at boot. Returns what
        the boot ran: unit -> "started" (a service), "done" (a oneshot that succeeded) or its error."""
        if session is None:
            with Session(lock=False) as own:
                return self.reboot(host, own)
        state = self.load()
        if state is None or host not in state.hosts or host == UPSTREAM:
            raise LabError(f"lab '{self.name}' has no host {host} to reboot")
        holder = state.hosts[host].pid
        inodes = {os.stat(f"/proc/{holder}/ns/net").st_ino}
        ns_dir = f"/proc/{holder}/root/run/netns"  # the namespaces the host named, seen through its mounts
        for name in os.listdir(ns_dir) if os.path.isdir(ns_dir) else []:
            with contextlib.suppress(OSError):
                inodes.add(os.stat(os.path.join(ns_dir, name)).st_ino)
        found = pids_by_namespace_inode()
        victims = [(pid, start_time(pid)) for inode in inodes for pid in found.get(inode, [])]
        for pid, start in victims:  # a power cut: no SIGTERM
            if start is not None and start_time(pid) == start:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, 9)
        for pid, start in victims:
            stop(pid, start)  # reaped, or waited for until it is gone
        spec = normalize_lab({"name": self.name, "hosts": [h for h in state.hosts if h != UPSTREAM],
                              "underlay": str(self.underlay), "underlay6": str(self.underlay6), "segments": self.segments,
                              "segment_range": str(self.segment_range), "upstream": state.upstream,
                              "state_dir": str(self.dir.parent)})
        self._add_host(session, state, host, state.hosts[host].address, spec)
        return self.boot(host)

    def boot(self, host):
        """Run the host's enabled units as systemd does at boot (boot.py); services are recorded as the lab's."""
        state = self.load()
        holder = state.hosts[host].pid
        root = f"/proc/{holder}/root"
        ran = {}
        for step in plan_boot(root + "/etc/systemd/system", exists=lambda path: os.path.exists(root + path)):
            argv = ["nsenter", "-t", str(holder), "--net", "--mount", "--uts", "--"] + step.argv
            if step.wait:
                proc = run_program(argv, f"lab host {host}", ok_codes=None)
                ran[step.unit] = "done" if proc.returncode == 0 else (proc.stderr.strip() or f"exit {proc.returncode}")
            else:
                self._start(state, host, f"unit {step.unit}", step.argv)
                ran[step.unit] = "started"
        return ran

    # ------------------------------------------------------------ down

    def down(self, session=None):
        """Stop exactly the lab's processes, remove its switch namespace and root veth, and its state."""
        if session is None:
            with Session(lock=False) as own:
                return self.down(own)
        state = self.load() or LabState(self.name, self.switch, self.root_link, str(self.underlay), str(self.underlay6))
        behind = self._processes_behind(session, [record.port for record in state.hosts.values()])
        for host, record in list(state.hosts.items()):
            self._remove_host(session, state, host, behind.get(record.port, []))
        for proc in reversed(state.processes):
            stop(proc.pid, proc.start)
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
        for mount_point in HOST_DIRS:
            users = pathlib.Path(_users_of(mount_point))
            if users.is_dir():
                with contextlib.suppress(FileNotFoundError):
                    (users / self._user_token()).unlink()
                if not any(users.iterdir()):
                    with contextlib.suppress(OSError):  # only if empty: something else may have put files there since
                        os.rmdir(mount_point)
                    users.rmdir()
        with contextlib.suppress(OSError):  # the state root, once no lab is left in it
            self.dir.parent.rmdir()
        return None

    # ------------------------------------------------------------ for scripts and tests

    def up(self, hosts=3, upstream=True):
        """Bring the lab to hosts (a count or names), outside Ansible; returns its state."""
        spec = normalize_lab({"name": self.name, "hosts": hosts, "underlay": str(self.underlay), "underlay6": str(self.underlay6),
                              "segments": self.segments, "segment_range": str(self.segment_range),
                              "upstream": upstream, "state_dir": str(self.dir.parent)})
        with Session(lock=False) as session:
            if self.abandoned(session):  # a killed run's remains would stop every test and benchmark after it
                sys.stderr.write(f"lab '{self.name}': removing the remains of a killed run (nothing runs in them)\n")
                self.down(session)
            run_lab_plan(session, self, spec, check_mode=False)
        return self.state()

    def status(self):
        state = self.load()
        if state is None:
            return {"up": False}
        return {"up": True, "inventory": str(self.inventory), "hosts": {
            host: {"address": record.address, "address6": self.address6(record.address),
                   "segment": self.segment_of(record.address), "processes_alive": state.alive(host),
                   "ssh": port_open(record.address, 22)} for host, record in state.hosts.items()}}

    def exec(self, host, *argv, check=True):
        """Run a command inside a lab host (its network, mount and UTS namespaces)."""
        proc = run_in_host(self.load().hosts[host].pid, argv)
        if check and proc.returncode != 0:
            raise LabError(f"{host}: {' '.join(argv)}: {proc.stderr.strip() or proc.stdout.strip()}")
        return proc


def _users_of(mount_point):
    if mount_point == ETC_NETNS:
        return ETC_NETNS_USERS
    return "/run/linuxns-lab-" + mount_point.strip("/").replace("/", "-")


def plan_lab(plan, session, lab, spec, booted=None):
    """Queue what brings the lab to spec: create it, add, rebuild or remove hosts, restart a dead sshd, reboot
    hosts (booted: host -> what its boot ran, filled in), write the inventory. Returns host -> underlay address
    (present labs)."""
    booted = {} if booted is None else booted
    state = lab.load()
    if spec.state == "absent":
        leftovers = (state is not None or is_namespace_file(namespace_path(lab.switch))
                     or is_namespace_file(namespace_path(lab.router)) or os.path.exists(f"/sys/class/net/{lab.root_link}"))
        if leftovers:
            plan.add(f"stop lab '{lab.name}' and remove everything it made", lambda: lab.down(session))
        return None
    if state is not None:
        for key, have, want in (("underlay", state.underlay, str(lab.underlay)), ("underlay6", state.underlay6, str(lab.underlay6)),
                                ("segments", state.segments, lab.segments)):
            if have != want:
                raise Conflict(f"lab '{lab.name}' is up with {key} {have or '(none: an older lab)'}, not {want} (stop it "
                               "first to change that)")
        if state.upstream != spec.upstream:
            # the hosts' default routes point at the upstream: they are set when a host starts
            raise Conflict(f"lab '{lab.name}' is up {'with' if state.upstream else 'without'} its upstream host (stop it "
                           "first to change that)")
    else:
        lab._check_free(session)
        state = LabState(lab.name, lab.switch, lab.root_link, str(lab.underlay), str(lab.underlay6), lab.segments,
                         spec.upstream)
        routed = (f", {lab.segments - 1} more segments ({', '.join(str(n) for n, _n6 in lab.networks[1:])}) behind "
                  f"router {lab.router}, and one route to {lab.segment_range} via it") if lab.segments > 1 else ""
        plan.add(f"create lab '{lab.name}': switch namespace {lab.switch}, underlay {lab.underlay}, "
                 f"{lab.root_link} with {lab.root_address} in the machine's namespace{routed}",
                 lambda: lab._create(session, state), lambda: lab.down(session))
    wanted = list(spec.hosts) + ([UPSTREAM] if spec.upstream else [])
    addresses = lab.allocate({h: record.address for h, record in state.hosts.items()}, wanted)
    leaving = [host for host in state.hosts if host not in wanted]
    behind = {}  # port -> the sessions in that host, found for all leaving hosts in one scan of /proc

    def stop_host(host):
        if not behind:
            behind.update(lab._processes_behind(session, [state.hosts[h].port for h in leaving]) or {None: []})
        lab._remove_host(session, state, host, behind.get(state.hosts[host].port, []))
        shutil.rmtree(lab.host_dir(host), ignore_errors=True)  # a host that leaves takes its files along
    for host in leaving:
        plan.add(f"stop host {host} of lab '{lab.name}'", lambda host=host: stop_host(host))
    for host in wanted:
        known = host in state.hosts
        if known and state.alive(host, "holder"):
            if not state.alive(host, "sshd"):
                plan.add(f"restart sshd of host {host} of lab '{lab.name}'", lambda host=host: lab._sshd(state, host, wait=True))
            continue
        verb = "rebuild" if known else "start"
        plan.add(f"{verb} host {host} of lab '{lab.name}' at {addresses[host]} and {lab.address6(addresses[host])}",
                 lambda host=host: lab._add_host(session, state, host, addresses[host], spec),
                 lambda host=host: lab._remove_host(session, state, host))
    for host in spec.reboot or []:
        plan.add(f"reboot host {host} of lab '{lab.name}' (its processes and namespaces go, its files stay, its "
                 "enabled units run)", lambda host=host: booted.update({host: lab.reboot(host, session)}))
    inventory = inventory_text(lab, addresses, lab.key, spec.python)
    for target in [lab.inventory] + ([pathlib.Path(spec.inventory)] if spec.inventory else []):
        if not target.exists() or target.read_text() != inventory:
            plan.add(f"write the inventory of lab '{lab.name}' to {target}", lambda target=target: _write(target, inventory))
    return addresses


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def run_lab_plan(session, lab, spec, check_mode):
    plan = Plan()
    booted = {}
    addresses = plan_lab(plan, session, lab, spec, booted)
    result = plan.execute(check_mode)
    if spec.reboot:
        result["booted"] = booted
    if spec.state == "present":
        result.update(name=lab.name, underlay=str(lab.underlay), underlay6=str(lab.underlay6), key=str(lab.key),
                      inventory=str(lab.inventory), segments=lab.segments,
                      hosts={h: {"address": a, "address6": lab.address6(a), "segment": lab.segment_of(a)}
                             for h, a in addresses.items() if h != UPSTREAM},
                      upstream={"address": addresses[UPSTREAM], "address6": lab.upstream_address6, "echo_port": ECHO_PORT}
                      if UPSTREAM in addresses else None)
    return result


def run_lab(session, params, check_mode):
    spec = normalize_lab(params)
    return run_lab_plan(session, Lab(spec.name, spec.state_dir, spec.underlay, spec.underlay6, spec.segments,
                                     spec.segment_range), spec, check_mode)
