"""A real Docker daemon beside the collection, for side-by-side checks: Debian's docker.io started in a network
namespace that the test made, in a mount and PID namespace of its own (tmpfs over /run and /etc/docker, its data
root in the test's own temporary directory, so that it survives a restart, a fresh sysfs for that network namespace
with the cgroup mounts bound back in). Its only image is a busybox-static root filesystem made by `docker import`:
no registry. When the daemon (the PID namespace's first process) exits, the kernel ends every process it started;
the mounts go with the mount namespace."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time

from support import RUN_PREFIX, descendants, kill_process_tree, sh

DOCKERD, DOCKER, BUSYBOX = "/usr/sbin/dockerd", "/usr/bin/docker", "/bin/busybox"
IMAGE = "lnt-busybox"
BRIDGE_IP, POOL = "10.217.0.1/24", "10.218.0.0/16"  # docker0 and the networks Docker picks itself: lab ranges

MISSING = [path for path in (DOCKERD, DOCKER, BUSYBOX) if not os.path.exists(path)]
WHY_MISSING = f"Debian's docker.io and busybox-static are not installed ({', '.join(MISSING)} missing; .ci/run installs them)"

_SETUP = """
set -e
mount --make-rprivate /
mkdir -p "$WORK/cgroup" "$WORK/data"
mount --rbind /sys/fs/cgroup "$WORK/cgroup"
mount -t sysfs sysfs /sys
mount --move "$WORK/cgroup" /sys/fs/cgroup
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /etc/docker
mount -t tmpfs tmpfs /dev/shm
exec "$DOCKERD" --data-root "$WORK/data" --exec-root /run/docker --pidfile /run/docker.pid -H "unix://$WORK/docker.sock" \
    --bip "$BRIDGE_IP" --default-address-pool "base=$POOL,size=24" --iptables=true --userland-proxy=false \
    --log-level warn
"""


class Dockerd:
    """One daemon in network namespace netns; docker(...) runs the CLI against it."""

    def __init__(self, netns):
        self.netns = netns
        self.work = tempfile.mkdtemp(prefix=f"{RUN_PREFIX}-docker-")
        self.socket = os.path.join(self.work, "docker.sock")
        self.log = open(os.path.join(self.work, "dockerd.log"), "w")
        self._start()
        self._import_busybox()

    def _start(self):
        env = dict(os.environ, WORK=self.work, DOCKERD=DOCKERD, BRIDGE_IP=BRIDGE_IP, POOL=POOL)
        self.proc = subprocess.Popen(
            ["nsenter", f"--net=/run/netns/{self.netns}", "unshare", "--mount", "--pid", "--fork", "--mount-proc",
             "sh", "-c", _SETUP], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while self.docker("version", check=False).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"dockerd did not start: {self.logs()}")
            time.sleep(0.2)

    def restart(self):
        """Stop the daemon and start it again on the same data, as `systemctl restart docker` does: it rebuilds its
        networks and iptables chains and restarts the containers that have a restart policy."""
        self._terminate()
        self._start()

    def docker(self, *args, check=True):
        return sh(DOCKER, "-H", f"unix://{self.socket}", *args, check=check)

    def logs(self):
        with open(os.path.join(self.work, "dockerd.log")) as f:
            return f.read()[-3000:]

    def _import_busybox(self):
        root = os.path.join(self.work, "rootfs")
        os.makedirs(os.path.join(root, "bin"))
        os.makedirs(os.path.join(root, "www"))
        shutil.copy(BUSYBOX, os.path.join(root, "bin", "busybox"))
        for applet in ("sh", "httpd", "wget", "sleep", "ping", "ip", "cat", "nc", "printf", "nslookup"):
            os.symlink("busybox", os.path.join(root, "bin", applet))
        with open(os.path.join(root, "www", "index.html"), "w") as f:
            f.write("busybox httpd\n")
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        sh(DOCKER, "-H", f"unix://{self.socket}", "import", "-", IMAGE, stdin=tar.stdout)
        tar.wait()

    def run(self, name, network, *command, ip=None):
        """A container named name on network, detached; returns its address there."""
        return self.run_with(name, network, ("--ip", ip) if ip else (), *command)

    def run_with(self, name, network, options, *command):
        """Like run, with more `docker run` options (ports, a restart policy)."""
        self.docker("run", "-d", "--name", name, "--network", network, *options, IMAGE, *command)
        return self.docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name).stdout.strip()

    def stop(self):
        """Stop the daemon and remove its data."""
        self._terminate()
        self.log.close()
        shutil.rmtree(self.work, ignore_errors=True)

    def _terminate(self):
        """SIGTERM the daemon (it removes its containers' processes), SIGKILL after 10 s; the PID namespace's end
        ends the rest."""
        daemons = descendants(self.proc.pid)
        for pid in daemons[:1]:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            kill_process_tree(self.proc)
