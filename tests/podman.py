"""A real podman (Debian's 4.3, with netavark 1.4) beside the collection: podman has no daemon, so a holder process
in a network namespace that the test made, with a mount and PID namespace of its own, stands in for the host, and
every podman command runs in its namespaces (tmpfs over /run, /var/lib/containers, /var/tmp and /dev/shm, a fresh
sysfs with the cgroup mounts bound back in; its storage, run root and network configs in the test's own temporary
directory). Its only image is a busybox-static root filesystem made by `podman import`: no registry. When the holder
(the PID namespace's first process) is killed, the kernel ends every process podman started (conmon, the
containers); the mounts go with the mount namespace."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time

from support import RUN_PREFIX, descendants, kill_process_tree, sh

PODMAN, NETAVARK, BUSYBOX = "/usr/bin/podman", "/usr/lib/podman/netavark", "/bin/busybox"
IMAGE = "localhost/lnt-busybox"

MISSING = [path for path in (PODMAN, NETAVARK, BUSYBOX) if not os.path.exists(path)]
WHY_MISSING = f"Debian's podman and busybox-static are not installed ({', '.join(MISSING)} missing; .ci/run installs them)"

_HOLDER = """
set -e
mount --make-rprivate /
mkdir -p "$WORK/cgroup"
mount --rbind /sys/fs/cgroup "$WORK/cgroup"
mount -t sysfs sysfs /sys
mount --move "$WORK/cgroup" /sys/fs/cgroup
for dir in /run /var/lib/containers /var/tmp /dev/shm; do mkdir -p "$dir"; mount -t tmpfs tmpfs "$dir"; done
echo ready
exec sleep infinity
"""


class Podman:
    """podman in network namespace netns; podman(...) runs the CLI in the holder's namespaces."""

    def __init__(self, netns):
        self.netns = netns
        self.work = tempfile.mkdtemp(prefix=f"{RUN_PREFIX}-podman-")
        for sub in ("storage", "runroot", "networks", "tmp"):
            os.makedirs(os.path.join(self.work, sub))
        self.proc = subprocess.Popen(
            ["nsenter", f"--net=/run/netns/{netns}", "unshare", "--mount", "--pid", "--fork", "--mount-proc",
             "sh", "-c", _HOLDER], env=dict(os.environ, WORK=self.work), stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            self.stop()
            raise AssertionError("podman's holder did not start")
        deadline = time.monotonic() + 5
        while not descendants(self.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.holder = descendants(self.proc.pid)[0]  # PID 1 of the new PID namespace
        self._import_busybox()

    def podman(self, *args, check=True, stdin=None):
        argv = ("nsenter", "-t", str(self.holder), "--net", "--mount", "--pid", "--",
                PODMAN, "--root", os.path.join(self.work, "storage"), "--runroot", os.path.join(self.work, "runroot"),
                "--network-config-dir", os.path.join(self.work, "networks"), "--tmpdir", os.path.join(self.work, "tmp"),
                "--cgroup-manager", "cgroupfs", "--events-backend", "file", "--network-backend", "netavark",
                "--storage-driver", "vfs") + args
        return sh(*argv, check=check, stdin=stdin)

    def _import_busybox(self):
        root = os.path.join(self.work, "rootfs")
        os.makedirs(os.path.join(root, "bin"))
        os.makedirs(os.path.join(root, "www"))
        shutil.copy(BUSYBOX, os.path.join(root, "bin", "busybox"))
        for applet in ("sh", "httpd", "sleep", "nc", "printf", "nslookup"):
            os.symlink("busybox", os.path.join(root, "bin", applet))
        with open(os.path.join(root, "www", "index.html"), "w") as f:
            f.write("busybox httpd\n")
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        self.podman("import", "-", IMAGE, stdin=tar.stdout)
        tar.wait()

    def run_with(self, name, network, options, *command):
        """A container named name on network, detached, with more `podman run` options; returns its address."""
        self.podman("run", "-d", "--name", name, "--network", network, *options, IMAGE, *command)
        return self.podman("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name).stdout.strip()

    def stop(self):
        """Kill the holder's tree: the PID namespace's end ends conmon and the containers."""
        kill_process_tree(self.proc)
        shutil.rmtree(self.work, ignore_errors=True)
