# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Network namespaces: create, delete, attach, enter; and the per-run session that holds one netlink socket per namespace.

Speed: pyroute2's IPRoute(netns=...) and netns.create fork a helper process per call (about 15 ms). Here the
module's own thread switches into a namespace with setns(2), opens its socket there, and switches back (under 1 ms).
A socket stays bound to the namespace it was opened in.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import time

from ansible_collections.linuxns.net.plugins.module_utils import _validate as validate
from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput, KernelError, NamespaceMissing, where
from ansible_collections.linuxns.net.plugins.module_utils._plan import Plan

try:
    # Only the submodule: the top-level package import costs about 0.2 s more.
    from pyroute2.iproute.linux import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError
    PYROUTE2_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module glue
    IPRoute = NetlinkError = None
    PYROUTE2_IMPORT_ERROR = exc

NETNS_RUN_DIR = "/run/netns"
LOCK_DIR = "/run/lock"
CLONE_NEWNET = 0x40000000
MS_BIND, MS_REC, MS_SHARED = 0x1000, 0x4000, 1 << 20
MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _setns(fd):
    _check(_libc.setns(fd, CLONE_NEWNET), "setns")


def _mount(source, target, flags):
    _check(_libc.mount(source.encode() if source else None, target.encode(), b"none", flags, None), f"mount {target}")


def namespace_path(name):
    return os.path.join(NETNS_RUN_DIR, name)


def is_namespace_file(path):
    """True when path is a bound network namespace (an nsfs mount), not a stale empty file left by a crash."""
    try:
        st = os.stat(path)
        return st.st_dev != os.stat(os.path.dirname(path)).st_dev
    except OSError:
        return False


def list_namespaces():
    try:
        names = sorted(os.listdir(NETNS_RUN_DIR))
    except FileNotFoundError:
        return []
    return [n for n in names if is_namespace_file(namespace_path(n))]


def _ensure_run_dir():
    """Make /run/netns a shared mount point as `ip netns add` does, so the bind mounts propagate to other mount namespaces."""
    os.makedirs(NETNS_RUN_DIR, mode=0o755, exist_ok=True)
    if _libc.mount(b"", NETNS_RUN_DIR.encode(), b"none", MS_SHARED | MS_REC, None) == 0:
        return
    if ctypes.get_errno() != errno.EINVAL:
        _check(-1, f"mount --make-rshared {NETNS_RUN_DIR}")
    _mount(NETNS_RUN_DIR, NETNS_RUN_DIR, MS_BIND | MS_REC)
    _mount("", NETNS_RUN_DIR, MS_SHARED | MS_REC)


def _bind_namespace(source, name):
    """Bind-mount a namespace file (a /proc/<pid>/ns/net) at /run/netns/<name>; no file is left on failure."""
    _ensure_run_dir()
    path = namespace_path(name)
    if os.path.exists(path) and not is_namespace_file(path):
        os.unlink(path)  # stale file from an interrupted run
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444))
    try:
        _mount(source, path, MS_BIND)
    except OSError:
        os.unlink(path)
        raise


def create_namespace(name):
    """Create a new network namespace named name, in this thread, without forking."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _check(_libc.unshare(CLONE_NEWNET), "unshare")
        try:
            _bind_namespace("/proc/thread-self/ns/net", name)
        finally:
            _setns(own)
    finally:
        os.close(own)


def attach_namespace(name, pid):
    """Give a name to the network namespace of a running process (what `ip netns attach` does)."""
    if is_namespace_file(namespace_path(name)):
        _check(_libc.umount2(namespace_path(name).encode(), MNT_DETACH), f"umount {namespace_path(name)}")
        os.unlink(namespace_path(name))
    _bind_namespace(f"/proc/{pid}/ns/net", name)


def delete_namespace(name):
    """Remove the name; the kernel frees the namespace, and the veths in it, once nothing else holds it."""
    path = namespace_path(name)
    _check(_libc.umount2(path.encode(), MNT_DETACH), f"umount {path}")
    os.unlink(path)


def namespace_inode(name):
    try:
        return os.stat(namespace_path(name) if name else "/proc/thread-self/ns/net").st_ino
    except OSError:
        return None


def pid_namespace_inode(pid):
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def pids_by_namespace_inode():
    """Map namespace inode -> pids of the processes in it (one scan of /proc for a whole batch)."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            inode = pid_namespace_inode(entry)
            if inode is not None:
                found.setdefault(inode, []).append(int(entry))
    return found


class Session:
    """One module run: the namespace it started in, one fd and one netlink socket per namespace it touches.

    Also holds a host-wide lock (per host network namespace) so that concurrent runs serialise.
    """

    def __init__(self, lock=True):
        self.home_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        self._fds = {}
        self._sockets = {}
        self._lock_fd = None
        if lock:
            self._lock()

    def _lock(self):
        os.makedirs(LOCK_DIR, exist_ok=True)
        path = os.path.join(LOCK_DIR, f"linuxns.net.{os.fstat(self.home_fd).st_ino}.lock")
        self._lock_fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)

    def exists(self, namespace):
        return namespace is None or is_namespace_file(namespace_path(namespace))

    def fd(self, namespace):
        if namespace is None:
            return self.home_fd
        if namespace not in self._fds:
            try:
                self._fds[namespace] = os.open(namespace_path(namespace), os.O_RDONLY)
            except FileNotFoundError:
                raise NamespaceMissing(f"{where(namespace)} does not exist (create it with linuxns.net.netns)") from None
            if not is_namespace_file(namespace_path(namespace)):
                os.close(self._fds.pop(namespace))
                raise NamespaceMissing(f"{where(namespace)} does not exist ({namespace_path(namespace)} is a stale file)")
        return self._fds[namespace]

    @contextlib.contextmanager
    def inside(self, namespace):
        """Run the block in the namespace (this thread only); child processes started here inherit it."""
        if namespace is None:
            yield
            return
        _setns(self.fd(namespace))
        try:
            yield
        finally:
            _setns(self.home_fd)

    def netlink(self, namespace):
        """The netlink socket of a namespace, opened once per run."""
        if namespace not in self._sockets:
            with self.inside(namespace):
                self._sockets[namespace] = IPRoute()
        return self._sockets[namespace]

    def forget(self, namespace):
        """Drop the cached fd and socket of a namespace that was deleted or renamed."""
        sock = self._sockets.pop(namespace, None)
        if sock is not None:
            sock.close()
        fd = self._fds.pop(namespace, None)
        if fd is not None:
            os.close(fd)

    def close(self):
        for namespace in list(self._sockets) + list(self._fds):
            self.forget(namespace)
        os.close(self.home_fd)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def netlink_call(what, namespace, func, *args, **kwargs):
    """Run one netlink request and turn a kernel refusal into a message naming the object."""
    try:
        return func(*args, **kwargs)
    except NetlinkError as exc:
        reason = os.strerror(exc.code) if exc.code else str(exc)
        raise KernelError(f"{what} in {where(namespace)}: the kernel refused it ({reason})") from None


# ---------------------------------------------------------------- planning for the netns module

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


def normalize_netns(item):
    name = validate.namespace_name(item.get("name"))
    if name is None:
        raise InvalidInput("netns: 'name' is required")
    out = {"name": name, "state": item.get("state") or "present", "pid": item.get("pid"),
           "loopback": True if item.get("loopback") is None else item["loopback"],
           "sysctls": {k: " ".join(str(v if not isinstance(v, bool) else int(v)).split())
                       for k, v in (item.get("sysctls") or {}).items()}}
    for key in out["sysctls"]:
        path = sysctl_path(key, name)
        # the net.* sysctls are the same in every namespace, except those under a device's name: check the rest
        # here, so a bad key fails before a namespace is created
        parts = path.split("/")
        per_device = len(parts) > 7 and parts[5] in ("conf", "neigh") and parts[6] not in ("all", "default")
        if not per_device and not os.path.exists(path):
            raise InvalidInput(f"sysctl '{key}' does not exist in {where(name)}")
    if out["pid"] is not None:
        if not isinstance(out["pid"], int) or out["pid"] <= 0:
            raise InvalidInput(f"namespace '{name}': pid {out['pid']!r} must be a positive integer")
        if pid_namespace_inode(out["pid"]) is None:
            raise InvalidInput(f"namespace '{name}': no process with pid {out['pid']} (or its namespace cannot be read)")
    return out


def host_ends(session, names):
    """Veths in the module's own namespace whose peers live in the named namespaces."""
    sock = session.netlink(None)
    nsids = set()
    for name in names:
        nsid = sock.get_netnsid(fd=session.fd(name)).get("nsid")
        if nsid is not None and nsid >= 0:
            nsids.add(nsid)
    if not nsids:
        return []
    return [msg.get_attr("IFLA_IFNAME") for msg in sock.link("dump") if msg.get_attr("IFLA_LINK_NETNSID") in nsids]


def wait_links_gone(session, names, timeout=5.0):
    """The kernel frees a deleted namespace's veths (and their peers here) a moment later: wait for that, so that a
    run which rebuilds right after a teardown finds the names free."""
    sock = session.netlink(None)
    deadline = time.monotonic() + timeout
    for name in names:
        while sock.link_lookup(ifname=name):
            if time.monotonic() > deadline:
                raise KernelError(f"veth '{name}' in {where(None)} was still there {timeout:.0f} s after its peer's "
                                  "namespace was deleted")
            time.sleep(0.01)


def plan_netns(plan, session, items, snapshots=None):
    """Plan namespaces; snapshots (of _links), if given, supply lo's state without another netlink request."""
    pids_by_inode = None
    doomed = []
    for ns in items:
        name = ns["name"]
        obj = where(name)
        exists = session.exists(name)
        mark = plan.mark
        if ns["state"] == "absent":
            if exists:
                if pids_by_inode is None:
                    pids_by_inode = pids_by_namespace_inode()
                pids = pids_by_inode.get(namespace_inode(name), [])
                if pids:
                    plan.warnings.append(f"{obj} still holds processes {pids[:10]}: removing its name does not stop "
                                         "them, and the namespace lives on until they exit")
                plan.add(f"delete {obj}", lambda name=name: (session.forget(name), delete_namespace(name)))
                plan.record(name, {"exists": True}, None, mark)
                doomed.append(name)
            continue

        before = {"exists": exists}
        after = {"exists": True}
        if ns["pid"] is not None:
            target = pid_namespace_inode(ns["pid"])
            after["inode"] = target
            before["inode"] = namespace_inode(name) if exists else None
            if before["inode"] != target:
                plan.add(f"name the network namespace of pid {ns['pid']} '{name}'",
                         lambda name=name, pid=ns["pid"]: (session.forget(name), attach_namespace(name, pid)),
                         None if exists else (lambda name=name: (session.forget(name), delete_namespace(name))))
        elif not exists:
            plan.add(f"create {obj}", lambda name=name: create_namespace(name),
                     lambda name=name: (session.forget(name), delete_namespace(name)))
        fresh = not exists or before.get("inode") != after.get("inode")

        if ns["loopback"]:
            after["loopback"] = "up"
            if fresh:
                lo_up = False
            elif snapshots is not None:
                lo_up = snapshots[name].by_index[1].up
            else:
                lo_up = bool(session.netlink(name).link("get", index=1)[0]["flags"] & 1)
            before["loopback"] = "up" if lo_up else "down"
            if not lo_up:
                plan.add(f"set lo up in {obj}",
                         lambda name=name: netlink_call("lo", name, session.netlink(name).link, "set", index=1, state="up"))
        for key, value in sorted(ns["sysctls"].items()):
            path = sysctl_path(key, name)
            current = None
            if not fresh:
                with session.inside(name):
                    try:
                        current = read_sysctl(path)
                    except FileNotFoundError:
                        raise InvalidInput(f"sysctl '{key}' does not exist in {obj}") from None
            before.setdefault("sysctls", {})[key] = current
            after.setdefault("sysctls", {})[key] = value
            if current != value:
                plan.add(f"set sysctl {key}={value} in {obj}",
                         lambda name=name, key=key, path=path, value=value: _set_sysctl(session, name, key, path, value))
        plan.record(name, before if exists else None, after, mark)
    if doomed:
        ends = host_ends(session, doomed)
        if ends:
            plan.add(f"wait for the kernel to remove {len(ends)} veth(s) of the deleted namespaces",
                     lambda: wait_links_gone(session, ends))


def _set_sysctl(session, namespace, key, path, value):
    with session.inside(namespace):
        try:
            write_sysctl(path, value)
        except FileNotFoundError:
            raise InvalidInput(f"sysctl '{key}' does not exist in {where(namespace)}") from None
        except OSError as exc:
            raise KernelError(f"sysctl '{key}' in {where(namespace)}: {exc.strerror}") from None


def run_netns(session, raw_items, check_mode):

    items = [normalize_netns(i) for i in raw_items]
    validate.unique(items, lambda i: f"'{i['name']}'", "namespace")
    plan = Plan()
    plan_netns(plan, session, items)
    return plan.result(check_mode)
