# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Named network namespaces: the files under /run/netns that name them (made, bound, listed, removed without forking,
as `ip netns` does), and switching this thread into a namespace with setns(2)."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os

from ansible_collections.linuxns.net.plugins.module_utils._kernel import (
    CLONE_NEWNET, MNT_DETACH, MS_BIND, MS_REC, MS_SHARED, NS_GET_NSTYPE)

NETNS_RUN_DIR = "/run/netns"

_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def setns(fd):
    """Move this thread into the network namespace of fd."""
    _check(_libc.setns(fd, CLONE_NEWNET), "setns")


def _mount(source, target, flags):
    _check(_libc.mount(source.encode() if source else None, target.encode(), b"none", flags, None), f"mount {target}")


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


@contextlib.contextmanager
def scratch_namespace():
    """Run the block (this thread only) in a new, empty network namespace without a name; the kernel frees it
    once the block has left it and its child processes have exited."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _check(_libc.unshare(CLONE_NEWNET), "unshare")
        try:
            yield
        finally:
            setns(own)
    finally:
        os.close(own)


def create_namespace(name):
    """Create a new network namespace named name, in this thread, without forking."""
    with scratch_namespace():
        _bind_namespace("/proc/thread-self/ns/net", name)


def attach_namespace(name, pid):
    """Give a name to the network namespace of a running process (what `ip netns attach` does)."""
    if is_namespace_file(namespace_path(name)):
        _check(_libc.umount2(namespace_path(name).encode(), MNT_DETACH), f"umount {namespace_path(name)}")
        os.unlink(namespace_path(name))
    _bind_namespace(f"/proc/{pid}/ns/net", name)


def is_stale_namespace_file(name):
    """True for a /run/netns/<name> that is a plain file: what a run killed between unmount and unlink leaves (and
    `ip netns list` still shows)."""
    path = namespace_path(name)
    return os.path.lexists(path) and not is_namespace_file(path)


def delete_namespace(name):
    """Remove the name; the kernel frees the namespace, and the veths in it, once nothing else holds it. A stale
    file (nothing mounted on it) is only unlinked."""
    path = namespace_path(name)
    if _libc.umount2(path.encode(), MNT_DETACH) != 0 and ctypes.get_errno() != errno.EINVAL:
        _check(-1, f"umount {path}")
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


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
    setns(fd)
    try:
        yield
    finally:
        setns(home_fd)
