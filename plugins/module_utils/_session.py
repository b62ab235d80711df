# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The session of one run: the namespace it started in, one fd and netlink sockets per namespace it touches, and the
host lock. Every feature (netns, links, routes, firewall, info) builds on this; the namespace files are in
_nsfiles.py, sysctls in _sysctl.py.

Speed: pyroute2's IPRoute(netns=...) and netns.create fork a helper process per call (about 15 ms). Here the
module's own thread switches into a namespace with setns(2), opens its socket there, and switches back (under 1 ms).
A socket stays bound to the namespace it was opened in.
"""

from __future__ import annotations

import collections.abc
import contextlib
import fcntl
import importlib.util
import os
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.linuxns.net.plugins.module_utils._errors import (
    LibraryMissing, NamespaceMissing, kernel_error, where)
from ansible_collections.linuxns.net.plugins.module_utils._netlink import RouteSocket
from ansible_collections.linuxns.net.plugins.module_utils._nsfiles import is_namespace_file, namespace_path, setns

LOCK_DIR = "/run/lock"
PYROUTE2 = "pyroute2 >= 0.9.3 (pip install 'pyroute2>=0.9.3,<0.10')"


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

    def __init__(self, classes):
        iproute, self._error = classes
        self._ipr = iproute()

    @staticmethod
    def classes():
        """pyroute2's IPRoute and NetlinkError. Call it in the namespace the module started in, never inside one that
        a run may remove: pyroute2 0.9.1 and 0.9.2 open sockets when imported, and a socket keeps its namespace alive."""
        try:
            from pyroute2.iproute.linux import IPRoute  # only the submodule: the package's top level costs 0.2 s more
            from pyroute2.netlink.exceptions import NetlinkError
        except ImportError as exc:  # installed but broken: reported as missing; the plan undoes what it made
            raise LibraryMissing(PYROUTE2, exc) from None
        return IPRoute, NetlinkError

    def __getattr__(self, name):
        method = getattr(self._ipr, name)

        def call(*args, **kwargs):
            try:
                result = method(*args, **kwargs)
                return list(result) if isinstance(result, collections.abc.Iterator) else result
            except self._error as exc:
                raise OSError(exc.code, exc.args[1] if len(exc.args) > 1 else os.strerror(exc.code)) from None
        return call


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
            setns(self.fd(namespace))
        except OSError as exc:
            # for example a name in /run/netns bound to a namespace of another type
            raise kernel_error(f"enter {where(namespace)} (is {namespace_path(namespace)} a network namespace?)", exc) from None
        try:
            yield
        finally:
            setns(self.home_fd)

    def in_each(self, namespaces, work):
        """work(namespace) run inside each namespace, side by side (each thread enters its own, as inside does);
        returns name -> result. The first error is raised once every started one has ended. For work that waits on
        programs or the kernel (nft), not for netlink sockets, which are the run's own per namespace."""
        if not namespaces:
            return {}
        fds = {name: self.fd(name) for name in namespaces}  # opened here, not in the threads

        def one(name):
            setns(fds[name])
            try:
                return work(name)
            finally:
                setns(self.home_fd)
        with ThreadPoolExecutor(min(8, len(namespaces))) as pool:
            return dict(zip(namespaces, pool.map(one, namespaces)))

    def pyroute2(self, namespace):
        """The netlink socket of a namespace, opened once per run."""
        if namespace not in self._sockets:
            classes = Pyroute2Socket.classes()  # imported here, outside the namespace (see classes())
            with self.inside(namespace):
                self._sockets[namespace] = Pyroute2Socket(classes)
        return self._sockets[namespace]

    def route_socket(self, namespace):
        """The lean netlink socket of a namespace (_netlink.RouteSocket: the hot-path reads and changes), opened once per run."""
        if namespace not in self._readers:
            with self.inside(namespace):
                self._readers[namespace] = RouteSocket()
        return self._readers[namespace]

    def nsid(self, viewer, target_fd):
        """The id that namespace viewer gives the namespace of target_fd (a named namespace's or a process's), or
        None when it has given it none. The one way to tell where a veth's peer (its link-netnsid) lives."""
        return netlink_call("netnsid", viewer, self.route_socket(viewer).netnsid, target_fd)

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
