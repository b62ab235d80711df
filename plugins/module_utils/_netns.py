# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The netns feature: plan named namespaces (create, name a process's namespace, delete), lo up, and net.* sysctls."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from ansible_collections.linuxns.net.plugins.module_utils import _validate as validate
from ansible_collections.linuxns.net.plugins.module_utils._errors import Conflict, InvalidInput, KernelError, where
from ansible_collections.linuxns.net.plugins.module_utils._kernel import IFLA_IFNAME
from ansible_collections.linuxns.net.plugins.module_utils._netlink import text
from ansible_collections.linuxns.net.plugins.module_utils._nsfiles import (
    attach_namespace, create_namespace, delete_namespace, is_stale_namespace_file, namespace_inode,
    pid_namespace_inode)
from ansible_collections.linuxns.net.plugins.module_utils._plan import Plan
from ansible_collections.linuxns.net.plugins.module_utils._processes import holders_by_inode, listed, stop_holders
from ansible_collections.linuxns.net.plugins.module_utils._session import netlink_call
from ansible_collections.linuxns.net.plugins.module_utils._snapshot import Snapshot
from ansible_collections.linuxns.net.plugins.module_utils._sysctl import read_sysctl_in, sysctl_path, write_sysctl_in


@dataclass
class NetnsSpec:
    """One named namespace as requested, validated."""
    name: str
    state: str = "present"
    pid: int = None
    loopback: bool = True
    sysctls: dict = field(default_factory=dict)  # key -> value as text
    # deleting a namespace that processes are in: warn (its name goes, it lives on with them), refuse (before any
    # change), or stop them first (SIGTERM, SIGKILL after stop_timeout seconds)
    processes: str = "warn"
    stop_timeout: float = 10.0
    label: str = None  # what the namespace is, for messages ("container 'c1' of network 'web'")


def normalize_netns(item):
    name = validate.namespace_name(item.get("name"))
    if name is None:
        raise InvalidInput("netns: 'name' is required")
    spec = NetnsSpec(name=name, state=item.get("state") or "present", pid=item.get("pid"),
                     loopback=True if item.get("loopback") is None else item["loopback"],
                     processes="stop" if item.get("stop_processes") else "warn",
                     stop_timeout=validate.stop_timeout(item.get("stop_timeout"), f"namespace '{name}'"),
                     sysctls={k: " ".join(str(v if not isinstance(v, bool) else int(v)).split())
                              for k, v in (item.get("sysctls") or {}).items()})
    for key in spec.sysctls:
        path = sysctl_path(key, name)
        # the net.* sysctls are the same in every namespace, except those under a device's name: check the rest
        # here, so a bad key fails before a namespace is created
        parts = path.split("/")
        per_device = len(parts) > 7 and parts[5] in ("conf", "neigh") and parts[6] not in ("all", "default")
        if not per_device and not os.path.exists(path):
            raise InvalidInput(f"sysctl '{key}' does not exist in {where(name)}")
    if spec.pid is not None:
        if not isinstance(spec.pid, int) or spec.pid <= 0:
            raise InvalidInput(f"namespace '{name}': pid {spec.pid!r} must be a positive integer")
        if pid_namespace_inode(spec.pid) is None:
            raise InvalidInput(f"namespace '{name}': no process with pid {spec.pid} (or its namespace cannot be read)")
    return spec


def _plan_holders(plan, ns, holders, inode):
    """What a namespace's processes mean for its deletion: a warning, a refusal, or a step that stops them."""
    obj = where(ns.name)
    if ns.processes == "refuse":
        raise Conflict(f"{ns.label or obj}: {obj} is in use by process(es) {listed(holders)}; stop them first, or set "
                       "stop_processes: true to have them stopped (SIGTERM, then SIGKILL after stop_timeout)")
    if ns.processes == "stop":
        plan.add(f"stop process(es) {listed(holders)} in {obj} (SIGTERM, SIGKILL after {ns.stop_timeout:g} s)",
                 lambda: stop_holders(holders, inode, ns.stop_timeout, f"{ns.label or obj} in {obj}"))
        return
    plan.warnings.append(f"{obj} still holds processes {[h.pid for h in holders][:10]}: removing its name does not "
                         "stop them, and the namespace lives on until they exit (stop_processes: true stops them)")


def host_ends(session, names):
    """Veths in the module's own namespace whose peers live in the named namespaces."""
    nsids = {session.nsid(None, session.fd(name)) for name in names} - {None}
    if not nsids:
        return []
    return [link.name for link in Snapshot(session, None).by_name.values() if link.kind == "veth" and link.peer_nsid in nsids]


def wait_links_gone(session, names, timeout=5.0):
    """The kernel frees a deleted namespace's veths (and their peers here) a moment later: wait for that, so that a
    run which rebuilds right after a teardown finds the names free."""
    deadline = time.monotonic() + timeout
    waiting = set(names)
    while True:
        waiting &= {text(msg.attrs.get(IFLA_IFNAME)) for msg in session.route_socket(None).links()}
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise KernelError(f"veth '{sorted(waiting)[0]}' in {where(None)} was still there {timeout:.0f} s after its "
                              "peer's namespace was deleted")
        time.sleep(0.01)


def plan_sysctls(plan, session, name, sysctls, fresh, before, after, device=None):
    """Set a namespace's net.* sysctls (fresh: it is made by this run, so nothing is read); device: an interface
    this run's plan makes there first, whose sysctls cannot be read before it exists."""
    for key, value in sorted(sysctls.items()):
        current = None
        if not fresh:
            current = read_sysctl_in(session, name, key)
            if current is None and not (device and device in key.replace("/", ".").split(".")):
                raise InvalidInput(f"sysctl '{key}' does not exist in {where(name)}")
        before.setdefault("sysctls", {})[key] = current
        after.setdefault("sysctls", {})[key] = value
        if current != value:
            plan.add(f"set sysctl {key}={value} in {where(name)}",
                     lambda key=key, value=value: write_sysctl_in(session, name, key, value))


def plan_netns(plan, session, items, snapshots=None):
    """Plan namespaces; snapshots (a Snapshots), if given, supply lo's state without another netlink request."""
    doomed = []
    inodes = {ns.name: namespace_inode(ns.name) for ns in items if ns.state == "absent" and session.exists(ns.name)}
    holders = holders_by_inode(inodes.values())
    for ns in items:
        name = ns.name
        obj = where(name)
        exists = session.exists(name)
        mark = plan.mark
        if ns.state == "absent":
            if exists:
                found = holders.get(inodes.get(name), [])
                if found:
                    _plan_holders(plan, ns, found, inodes[name])
                plan.add(f"delete {obj}", lambda name=name: (session.forget(name), delete_namespace(name)))
                plan.record(name, dict({"exists": True}, **({"processes": [str(h) for h in found]} if found else {})),
                            None, mark)
                doomed.append(name)
            elif is_stale_namespace_file(name):  # a killed teardown's leftover: ip netns list shows it
                plan.add(f"remove the stale file of {obj} (no namespace is mounted on it)",
                         lambda name=name: delete_namespace(name))
                plan.record(name, {"exists": False, "stale_file": True}, None, mark)
            continue

        before = {"exists": exists}
        after = {"exists": True}
        if ns.pid is not None:
            target = pid_namespace_inode(ns.pid)
            after["inode"] = target
            before["inode"] = namespace_inode(name) if exists else None
            if before["inode"] != target:
                plan.add(f"name the network namespace of pid {ns.pid} '{name}'",
                         lambda name=name, pid=ns.pid: (session.forget(name), attach_namespace(name, pid)),
                         None if exists else (lambda name=name: (session.forget(name), delete_namespace(name))))
        elif not exists:
            plan.add(f"create {obj}", lambda name=name: create_namespace(name),
                     lambda name=name: (session.forget(name), delete_namespace(name)))
        fresh = not exists or before.get("inode") != after.get("inode")

        if ns.loopback:
            after["loopback"] = "up"
            if fresh:
                lo_up = False
            elif snapshots is not None:
                lo_up = snapshots[name].by_index[1].up
            else:
                lo_up = bool(netlink_call("lo", name, session.pyroute2(name).link, "get", index=1)[0]["flags"] & 1)
            before["loopback"] = "up" if lo_up else "down"
            if not lo_up:
                plan.add(f"set lo up in {obj}",
                         lambda name=name: netlink_call("lo", name, session.route_socket(name).set_up, 1))
        plan_sysctls(plan, session, name, ns.sysctls, fresh, before, after)
        plan.record(name, before if exists else None, after, mark)
    if doomed:
        ends = host_ends(session, doomed)
        if ends:
            plan.add(f"wait for the kernel to remove {len(ends)} veth(s) of the deleted namespaces",
                     lambda: wait_links_gone(session, ends))


def run_netns(session, raw_items, check_mode):
    items = [normalize_netns(i) for i in raw_items]
    validate.unique(items, lambda i: f"'{i.name}'", "namespace")
    plan = Plan()
    plan_netns(plan, session, items)
    return plan.execute(check_mode)
