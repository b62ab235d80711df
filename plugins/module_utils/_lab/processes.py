# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Process supervision for the lab: start a host's holder and its services, know a process by PID and start time,
stop only what the lab started, wait for a service to listen."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import time

from ansible_collections.linuxns.net.plugins.module_utils._errors import KernelError
from ansible_collections.linuxns.net.plugins.module_utils._programs import run_program, start_program

# A host's holder: private /run/netns and /run/linuxns-net (each host's namespaces and container_network's records of
# them are its own, and go when it stops or reboots, as a host's /run does), and its own
# directories, kept across a reboot, over the ones the collection writes (binds: the hosts files in /etc/netns, the
# units in /etc/systemd/system, the saved networks in /var/lib/linuxns-net); sysfs of its own network namespace, its
# hostname. Login shells run no rc file, as on a stock host: every task's SSH command goes through bash, and this
# machine's own ~/.bashrc (pyenv init, say) would cost each task more than the module it runs.
HOLDER_SCRIPT = ("mkdir -p /run/netns /run/linuxns-net && mount -t tmpfs -o mode=0755 lab-netns /run/netns && "
                 "mount -t tmpfs -o mode=0755 lab-run /run/linuxns-net && "
                 "{binds}"
                 "for rc in \"$HOME/.bashrc\" \"$HOME/.profile\"; do [ ! -f \"$rc\" ] || mount --bind /dev/null \"$rc\"; done && "
                 "mount -t sysfs sysfs /sys && hostname \"$0\" && echo ready && exec sleep infinity")


def start_time(pid):
    """A live process's start time (clock ticks since boot): with the PID, it names the process uniquely.

    None for a process that is gone or a zombie (stopped, waiting for its parent to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else int(fields[19])


def stop(pid, start):
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


def start_holder(host, binds):
    """A host's holder process, in new network, mount and UTS namespaces, with binds (source, mount point) of its
    own directories; it prints "ready" once they are set up."""
    script = HOLDER_SCRIPT.format(binds="".join(f"mount --bind {shlex.quote(str(source))} {shlex.quote(target)} && "
                                                for source, target in binds))
    return start_program(["unshare", "--net", "--mount", "--uts", "--propagation", "private", "--",
                          "/bin/sh", "-c", script, host],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def start_in_host(holder_pid, argv, log_path):
    """Start argv in the namespaces of a host's holder, its output to log_path; returns its PID."""
    with open(log_path, "w") as log:
        proc = start_program(["nsenter", "-t", str(holder_pid), "--net", "--mount", "--uts", "--"] + list(argv),
                             stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    return proc.pid


def run_in_host(holder_pid, argv):
    """Run argv in the namespaces of a host's holder and wait for it."""
    return run_program(["nsenter", "-t", str(holder_pid), "--net", "--mount", "--uts", "--"] + list(argv),
                       f"the lab host of holder {holder_pid}", ok_codes=None)


def port_open(address, port):
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_port(address, port, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(address, port):
            return
        time.sleep(0.02)
    raise KernelError(f"{what} did not listen on {address}:{port} within {timeout:.0f} s")
