"""A lab fleet on one machine: namespace "hosts" reached over real SSH.

Each host is a process with its own network, mount and UTS namespaces: hostname set, a private tmpfs on
/run/netns (so its named namespaces are its own), sysfs remounted, an eth0 on the underlay switch, and sshd on
its underlay address. The switch is a bridge in a namespace of its own. The root namespace gets exactly one veth
to the switch (with the underlay's first address, hence one connected route), nothing else. An `upstream` host
stands in for the internet: the hosts' default route points at it, and it runs an echo service that answers each
TCP connection with the source address it saw.

Everything the lab starts is recorded (PIDs with their start times) in its state directory, and `down` stops
exactly those processes and removes exactly those objects.
"""

from __future__ import annotations

import ipaddress
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
DEFAULT_STATE = pathlib.Path("/run/linuxns-lab")
ECHO_PORT = 7007


class LabError(Exception):
    pass


def _run(*argv, stdin=None):
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise LabError(f"{' '.join(argv)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def _start_time(pid):
    """A live process's start time (clock ticks since boot): with the PID, it names the process uniquely.

    None for a process that is gone or a zombie (stopped, waiting for its parent to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else int(fields[19])


class Lab:
    def __init__(self, name="lnlab", state_root=DEFAULT_STATE, underlay="198.51.100.0/24"):
        if not name.isalnum() or len(name) > 8:
            raise LabError(f"lab name '{name}': use at most 8 letters and digits (link names derive from it)")
        self.name = name
        self.dir = pathlib.Path(state_root) / name
        self.underlay = ipaddress.ip_network(underlay)
        hosts = list(self.underlay.hosts())
        self.root_address, self.upstream_address = hosts[0], hosts[-1]
        self.switch = f"{name}-switch"
        self.root_link = f"{name}0"

    # ------------------------------------------------------------ state

    @property
    def state_file(self):
        return self.dir / "state.json"

    @property
    def inventory(self):
        return self.dir / "inventory.yml"

    def state(self):
        try:
            return json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return None

    def _save(self, state):
        self.state_file.write_text(json.dumps(state, indent=2))

    def host_address(self, index):
        return self.underlay.network_address + 10 + index

    # ------------------------------------------------------------ up

    def up(self, hosts=3):
        if self.state() is not None:
            raise LabError(f"lab '{self.name}' is already up (state in {self.dir}); run down first")
        if os.path.exists(f"/sys/class/net/{self.root_link}") or self.switch in _named_namespaces():
            raise LabError(f"lab '{self.name}': {self.root_link} or namespace {self.switch} exists already; run down first")
        clash = _route_owner(self.underlay)
        if clash:
            raise LabError(f"lab '{self.name}': {self.underlay} is already routed via {clash} (another lab?); "
                           "bring that down or choose --underlay")
        if not 1 <= hosts <= 200:
            raise LabError("a lab has 1 to 200 hosts")
        self.dir.mkdir(parents=True, exist_ok=True)
        state = {"name": self.name, "switch": self.switch, "root_link": self.root_link,
                 "underlay": str(self.underlay), "hosts": {}, "processes": []}
        self._save(state)
        try:
            self._keys()
            self._switch()
            self._add_host(state, "upstream", self.upstream_address, default_route=None)
            self._start(state, "upstream", "echo", [sys.executable, str(HERE / "echo.py"), str(self.upstream_address), str(ECHO_PORT)])
            for i in range(1, hosts + 1):
                self._add_host(state, f"host{i}", self.host_address(i), default_route=self.upstream_address)
            for host in state["hosts"]:
                self._sshd(state, host)
            for host, info in state["hosts"].items():
                _wait_port(info["address"], 22, f"sshd of {host}")
            _wait_port(str(self.upstream_address), ECHO_PORT, "echo service of upstream")
            self._write_inventory(state)
        except BaseException:
            self.down()
            raise
        return state

    def _keys(self):
        for key, comment in (("id_ed25519", "lab client"), ("ssh_host_ed25519_key", "lab hosts")):
            if not (self.dir / key).exists():
                _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(self.dir / key))
        (self.dir / "id_ed25519").chmod(0o600)

    def _switch(self):
        _run("ip", "netns", "add", self.switch)
        _run("ip", "-n", self.switch, "-batch", "-", stdin="\n".join([
            "link set lo up",
            "link add underlay type bridge",
            "link set underlay up",
            f"link add root type veth peer name {self.root_link} netns 1",
            "link set root master underlay up",
        ]) + "\n")
        # the one veth and the one (connected) route the root namespace gets
        _run("ip", "addr", "add", f"{self.root_address}/{self.underlay.prefixlen}", "dev", self.root_link)
        _run("ip", "link", "set", self.root_link, "up")

    def _add_host(self, state, host, address, default_route):
        script = ("mkdir -p /run/netns && mount -t tmpfs -o mode=0755 lab-netns /run/netns && "
                  "mount -t sysfs sysfs /sys && hostname \"$0\" && echo ready && exec sleep infinity")
        proc = subprocess.Popen(["unshare", "--net", "--mount", "--uts", "--propagation", "private", "--",
                                 "/bin/sh", "-c", script, host],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        self._record(state, host, "holder", proc.pid)
        if proc.stdout.readline().strip() != "ready":
            raise LabError(f"host {host} did not start: {proc.stderr.read()}")
        port = f"{self.name}-{host}"[:15]
        _run("ip", "-n", self.switch, "-batch", "-", stdin=(
            f"link add {port} type veth peer name eth0 netns {proc.pid}\n"
            f"link set {port} master underlay up\n"))
        commands = ["link set lo up", f"addr add {address}/{self.underlay.prefixlen} dev eth0", "link set eth0 up"]
        if default_route is not None:
            commands.append(f"route add default via {default_route}")
        _run("nsenter", "-t", str(proc.pid), "--net", "ip", "-batch", "-", stdin="\n".join(commands) + "\n")
        state["hosts"][host] = {"pid": proc.pid, "address": str(address), "port": port}
        self._save(state)

    def _record(self, state, host, role, pid):
        state["processes"].append({"host": host, "role": role, "pid": pid, "start": _start_time(pid)})
        self._save(state)

    def _start(self, state, host, role, argv):
        pid = state["hosts"][host]["pid"]
        log = open(self.dir / f"{host}.{role}.log", "w")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(["nsenter", "-t", str(pid), "--net", "--mount", "--uts", "--"] + argv,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self._record(state, host, role, proc.pid)

    def _sshd(self, state, host):
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory
        config = self.dir / f"{host}.sshd_config"
        config.write_text("\n".join([
            f"ListenAddress {state['hosts'][host]['address']}",
            f"HostKey {self.dir / 'ssh_host_ed25519_key'}",
            f"AuthorizedKeysFile {self.dir / 'id_ed25519.pub'}",
            "PermitRootLogin prohibit-password", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "UsePAM no", "StrictModes no", "PidFile none", "UseDNS no", "MaxStartups 200", "MaxSessions 200",
            "Subsystem sftp internal-sftp", "AcceptEnv LANG LC_*", "",
        ]))
        self._start(state, host, "sshd", ["/usr/sbin/sshd", "-D", "-e", "-f", str(config)])

    def _write_inventory(self, state):
        common = {
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(self.dir / "id_ed25519"),
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
            "ansible_python_interpreter": sys.executable,
            "lab_upstream_address": str(self.upstream_address),
            "lab_echo_port": ECHO_PORT,
        }
        hosts = {h: {"ansible_host": i["address"], "lab_underlay_address": i["address"]}
                 for h, i in state["hosts"].items() if h != "upstream"}
        inventory = {"all": {"vars": common, "children": {
            "lab_hosts": {"hosts": hosts},
            "lab_upstream": {"hosts": {"upstream": {"ansible_host": str(self.upstream_address),
                                                    "lab_underlay_address": str(self.upstream_address)}}}}}}
        self.inventory.write_text(json.dumps(inventory, indent=2) + "\n")  # JSON is YAML

    # ------------------------------------------------------------ down

    def down(self):
        """Stop exactly the lab's processes, remove its switch namespace and root veth, and its state."""
        state = self.state() or {"processes": []}
        for proc in reversed(state["processes"]):
            _stop(proc["pid"], proc["start"])
        if self.switch in _named_namespaces():
            _run("ip", "netns", "del", self.switch)
        for _attempt in range(100):  # the kernel frees the switch's veths, and the root end with them, shortly
            if not os.path.exists(f"/sys/class/net/{self.root_link}"):
                break
            time.sleep(0.02)
        else:
            _run("ip", "link", "del", self.root_link)
        if self.dir.exists():
            shutil.rmtree(self.dir)

    # ------------------------------------------------------------ status and use

    def status(self):
        state = self.state()
        if state is None:
            return {"up": False}
        out = {"up": True, "inventory": str(self.inventory), "hosts": {}}
        for host, info in state["hosts"].items():
            alive = all(_start_time(p["pid"]) == p["start"] for p in state["processes"] if p["host"] == host)
            out["hosts"][host] = {"address": info["address"], "processes_alive": alive,
                                  "ssh": _port_open(info["address"], 22)}
        return out

    def exec(self, host, *argv, check=True):
        """Run a command inside a lab host (its network, mount and UTS namespaces)."""
        pid = self.state()["hosts"][host]["pid"]
        proc = subprocess.run(["nsenter", "-t", str(pid), "--net", "--mount", "--uts", "--"] + list(argv),
                              capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise LabError(f"{host}: {' '.join(argv)}: {proc.stderr.strip() or proc.stdout.strip()}")
        return proc


def _route_owner(network):
    """The link that routes network in the root namespace, if any (read from /proc, without changing anything)."""
    with open("/proc/net/route") as f:
        next(f)
        for line in f:
            fields = line.split()
            dest = ipaddress.IPv4Address(int(fields[1], 16).to_bytes(4, "little"))
            mask = ipaddress.IPv4Address(int(fields[7], 16).to_bytes(4, "little"))
            if ipaddress.ip_network(f"{dest}/{mask}").overlaps(network) and fields[1] != "00000000":
                return fields[0]
    return None


def _named_namespaces():
    try:
        return os.listdir("/run/netns")
    except FileNotFoundError:
        return []


def _stop(pid, start):
    """Stop a process that the lab started, if it is still that process (PID and start time both match)."""
    if start is None or _start_time(pid) != start:
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
            except ChildProcessError:  # not our child (another CLI run started it): poll /proc
                if _start_time(pid) != start:
                    return
            time.sleep(0.01)


def _port_open(address, port):
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait_port(address, port, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _port_open(address, port):
            return
        time.sleep(0.05)
    raise LabError(f"{what} did not listen on {address}:{port} within {timeout:.0f} s")
