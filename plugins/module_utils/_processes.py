# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The processes that hold a network namespace (they keep it, and every link in it, alive after its name is gone),
and stopping them as Docker's rm -f does: SIGTERM, then SIGKILL after a timeout."""

from __future__ import annotations

import os
import signal
import time
from typing import NamedTuple

from ansible_collections.linuxns.net.plugins.module_utils._errors import KernelError
from ansible_collections.linuxns.net.plugins.module_utils._nsfiles import pid_namespace_inode, pids_by_namespace_inode

KILL_WAIT = 5.0  # seconds a SIGKILLed process gets to be gone (one in uninterruptible sleep may take a moment)
SHOWN = 10  # processes named in a message


class Holder(NamedTuple):
    pid: int
    command: str

    def __str__(self):
        return f"{self.pid} ({self.command})"


def command_of(pid):
    """A process's command line as ps shows it, or its name in brackets when it has none (a kernel thread)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().rstrip(b"\0").split(b"\0")
        text = " ".join(a.decode(errors="replace") for a in argv if a)
        if text:
            return text if len(text) <= 80 else text[:77] + "..."
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as f:
            return f"[{f.read().strip()}]"
    except OSError:
        return "?"


def holders_by_inode(inodes):
    """Namespace inode -> the processes in it (Holder), for the inodes asked, from one scan of /proc. This module's
    own process is not one: its session's handles go with it."""
    wanted = set(inodes) - {None}
    if not wanted:
        return {}
    me = os.getpid()
    return {inode: [Holder(pid, command_of(pid)) for pid in pids if pid != me]
            for inode, pids in pids_by_namespace_inode().items() if inode in wanted and pids != [me]}


def listed(holders):
    """Holders for a message: the first few, and how many more."""
    text = ", ".join(str(h) for h in holders[:SHOWN])
    return text + (f" and {len(holders) - SHOWN} more" if len(holders) > SHOWN else "")


def _alive(holders, inode):
    """Those still in the namespace (a pid reused by another process since is not)."""
    return [h for h in holders if pid_namespace_inode(h.pid) == inode]


def _signal(holders, number):
    for holder in holders:
        try:
            os.kill(holder.pid, number)
        except ProcessLookupError:
            pass


def _wait(holders, inode, seconds):
    deadline = time.monotonic() + seconds
    alive = _alive(holders, inode)
    while alive and time.monotonic() < deadline:
        time.sleep(0.02)
        alive = _alive(alive, inode)
    return alive


def stop_holders(holders, inode, timeout, what):
    """Stop the processes still in the namespace: SIGTERM, SIGKILL to those left after timeout seconds; fail naming
    those that outlive the SIGKILL too. what names the namespace for the message."""
    alive = _alive(holders, inode)
    _signal(alive, signal.SIGTERM)
    alive = _wait(alive, inode, timeout)
    if alive:
        _signal(alive, signal.SIGKILL)
        alive = _wait(alive, inode, KILL_WAIT)
    if alive:
        error = KernelError(f"{what}: process(es) {listed(alive)} still run {KILL_WAIT:.0f} s after SIGKILL")
        error.changed = True  # the others were stopped
        raise error
