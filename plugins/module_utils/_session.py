# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kernel side of a run: namespace syscalls, the per-run session (one netlink socket per namespace, the host
lock), netlink requests and sysctls. Every feature (netns, links, routes, NAT, info) builds on this.

Speed: pyroute2's IPRoute(netns=...) and netns.create fork a helper process per call (about 15 ms). Here the
module's own thread switches into a namespace with setns(2), opens its socket there, and switches back (under 1 ms).
A socket stays bound to the namespace it was opened in.
"""

from __future__ import annotations

import collections.abc
import contextlib
import ctypes
import errno
import fcntl
import importlib.util
import os

from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput, LibraryMissing, NamespaceMissing, kernel_error, where
from ansible_collections.linuxns.net.plugins.module_utils._netlink import RouteSocket

PYROUTE2 = "pyroute2 >= 0.9 (pip install 'pyroute2>=0.9')"


def pyroute2_missing():
    """True when pyroute2 is not installed. Only looked up: the import itself (about 0.1 s) waits until a run needs
    pyroute2 (bridges, VXLAN, neighbours), which a read or a converged re-run does not."""
    try:
        return importlib.util.find_spec("pyroute2") is None
    except (ImportError, ValueError):
        return True


class Pyroute2Socket:
    """pyroute2's IPRoute in one namespace, with its NetlinkError raised as an OSError carrying the kernel's errno, so
    that callers catch one kind of error whether a request went through pyroute2 or through _netlink. Dumps are read
    to the end inside the call, so an error in the middle of one is converted too."""

    def __init__(self):
        try:
            from pyroute2.iproute.linux import IPRoute  # only the submodule: the package's top level costs 0.2 s more
            from pyroute2.netlink.exceptions import NetlinkError
        except ImportError as exc:  # installed but broken: reported as missing; the plan undoes what it made
            raise LibraryMissing(PYROUTE2, exc) from None
        self._ipr = IPRoute()
        self._error = NetlinkError

    def __getattr__(self, name):
        method = getattr(self._ipr, name)

        def call(*args, **kwargs):
            try:
                result = method(*args, **kwargs)
                return list(result) if isinstance(result, collections.abc.Iterator) else result
            except self._error as exc:
                raise OSError(exc.code, exc.args[1] if len(exc.args) > 1 else os.strerror(exc.code)) from None
        return call


NETNS_RUN_DIR = "/run/netns"
LOCK_DIR = "/run/lock"
CLONE_NEWNET = 0x40000000
NS_GET_NSTYPE = 0xB703  # ioctl on a namespace fd: its CLONE_NEW* type
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


# ---------------------------------------------------------------- named namespaces (files under /run/netns)

def namespace_path(name):
    return os.path.join(NETNS_RUN_DIR, name)


def is_namespace_file(path):
    """True when path is a bound namespace (an nsfs mount), not a stale empty file left by a crash."""
    try:
        st = os.stat(path)
        return st.st_dev != os.stat(os.path.dirname(path)).st_dev
    except OSError:
        return False


def is_network_namespace_file(path):
    """True when path binds a network namespace: not a stale file, nor another kind of namespace (a UTS one, say)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return fcntl.ioctl(fd, NS_GET_NSTYPE) == CLONE_NEWNET
    except OSError:  # ENOTTY: a plain file
        return False
    finally:
        os.close(fd)


def list_namespaces():
    """The names of the named network namespaces."""
    try:
        names = sorted(os.listdir(NETNS_RUN_DIR))
    except FileNotFoundError:
        return []
    return [n for n in names if is_network_namespace_file(namespace_path(n))]


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


@contextlib.contextmanager
def setns_fd(fd, home_fd):
    """Run the block (this thread only) in the network namespace of fd, a namespace file that has no name (a
    process's /proc/<pid>/ns/net); come back to home_fd's afterwards."""
    _setns(fd)
    try:
        yield
    finally:
        _setns(home_fd)


# ---------------------------------------------------------------- the session

class Session:
    """One module run: the namespace it started in, one fd and one netlink socket per namespace it touches.

    Also holds a host-wide lock (per host network namespace) so that concurrent runs serialise.
    """

    def __init__(self, lock=True):
        self.home_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        self._fds = {}
        self._sockets = {}
        self._readers = {}
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
            except OSError as exc:
                raise kernel_error(f"open {where(namespace)}", exc) from None
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
        try:
            _setns(self.fd(namespace))
        except OSError as exc:
            # for example a name in /run/netns bound to a namespace of another type
            raise kernel_error(f"enter {where(namespace)} (is {namespace_path(namespace)} a network namespace?)", exc) from None
        try:
            yield
        finally:
            _setns(self.home_fd)

    def netlink(self, namespace):
        """The netlink socket of a namespace, opened once per run."""
        if namespace not in self._sockets:
            with self.inside(namespace):
                self._sockets[namespace] = Pyroute2Socket()
        return self._sockets[namespace]

    def route_socket(self, namespace):
        """The lean netlink socket of a namespace (_netlink.RouteSocket: the hot-path reads and changes), opened once per run."""
        if namespace not in self._readers:
            with self.inside(namespace):
                self._readers[namespace] = RouteSocket()
        return self._readers[namespace]

    def forget(self, namespace):
        """Drop the cached fd and sockets of a namespace that was deleted or renamed."""
        for sockets in (self._sockets, self._readers):
            sock = sockets.pop(namespace, None)
            if sock is not None:
                sock.close()
        fd = self._fds.pop(namespace, None)
        if fd is not None:
            os.close(fd)

    def close(self):
        for namespace in list(self._sockets) + list(self._readers) + list(self._fds):
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
    """Run one netlink request; a kernel refusal becomes a KernelError naming the object, with the kernel's errno."""
    try:
        return func(*args, **kwargs)
    except OSError as exc:
        place = where(namespace)
        raise kernel_error(what if place in what else f"{what} in {place}", exc) from None


# ---------------------------------------------------------------- sysctls

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
