"""Helpers for tests against the real kernel. State is read with ip/nft/iptables, never with the code under test."""

from __future__ import annotations

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import uuid

REPO = pathlib.Path(__file__).resolve().parents[1]
# every namespace a test run creates starts with this (the run's id), so a run only ever looks at its own
RUN_PREFIX = f"lnt{uuid.uuid4().hex[:5]}"
# links a running lab fleet is allowed in the root namespace (its one veth, and the route through it)
ROOT_LAB_LINKS = set()
# the hosts files that modules write (names), instead of the machine's /etc/netns
ETC_NETNS = pathlib.Path(tempfile.gettempdir()) / f"{RUN_PREFIX}-etc-netns"
os.environ["LINUXNS_NET_ETC_NETNS"] = str(ETC_NETNS)
# where persist=true saves networks and installs boot units, instead of the machine's /var/lib and
# /etc/systemd/system; the unit directory is not made here, so that a test without it meets "no systemd"
PERSIST_DIR = pathlib.Path(tempfile.gettempdir()) / f"{RUN_PREFIX}-persist"
os.environ["LINUXNS_NET_STATE_DIR"] = str(PERSIST_DIR / "var-lib-linuxns-net")
os.environ["LINUXNS_NET_UNIT_DIR"] = str(PERSIST_DIR / "etc-systemd-system")
# container_network's records of its converges (runtime state: /run/linuxns-net on a host)
RUN_DIR = pathlib.Path(tempfile.gettempdir()) / f"{RUN_PREFIX}-run"
os.environ["LINUXNS_NET_RUN_DIR"] = str(RUN_DIR)
# the host's hosts file of host_names, instead of the machine's /etc/hosts
HOSTS_FILE = pathlib.Path(tempfile.gettempdir()) / f"{RUN_PREFIX}-hosts"
os.environ["LINUXNS_NET_HOSTS_FILE"] = str(HOSTS_FILE)


def collections_root():
    """A directory holding ansible_collections/linuxns/net -> this repository (outside it, so no tool walks a loop)."""
    root = pathlib.Path(tempfile.gettempdir()) / f"linuxns-net-collections-{os.getuid()}"
    link = root / "ansible_collections" / "linuxns" / "net"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink() or link.resolve() != REPO:
        if link.is_symlink():
            link.unlink()
        link.symlink_to(REPO)
    return root


def sh(*argv, check=True, netns=None, **kwargs):
    # nsenter switches the network namespace only; `ip netns exec` would also give the command a private mount
    # namespace, where namespaces that the code under test creates would be bound invisibly to everyone else.
    if netns:
        argv = ("nsenter", f"--net=/run/netns/{netns}") + argv
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr or proc.stdout}")
    return proc


def ip_json(netns, *args):
    """ip -j output in a namespace (None: the test's own)."""
    argv = ("ip", "-j") + (("-n", netns) if netns else ()) + args
    out = sh(*argv).stdout
    return json.loads(out) if out.strip() else []


def links(netns):
    return {l["ifname"]: l for l in ip_json(netns, "-d", "link", "show")}


def addresses(netns, ifname):
    return sorted(f"{a['local']}/{a['prefixlen']}" for l in ip_json(netns, "addr", "show", "dev", ifname)
                  for a in l.get("addr_info", []) if a.get("scope") != "link")


def routes(netns, *args):
    return ip_json(netns, "route", "show", *args)


def namespaces(mine=False):
    """Every name in /run/netns, read directly: a stale file (nothing mounted on it) counts too, and the list does
    not depend on `ip netns list` asking the kernel for each namespace's id. mine: only this run's (its prefix), for
    a before/after comparison that another suite running beside this one must not disturb."""
    try:
        names = sorted(os.listdir("/run/netns"))
    except FileNotFoundError:
        return []
    return [n for n in names if n.startswith(RUN_PREFIX)] if mine else names


def ping(netns, address, count=1):
    return sh("ping", "-c", str(count), "-W", "1", "-q", address, netns=netns, check=False).returncode == 0


def sysctl(netns, key):
    return sh("sysctl", "-n", key, netns=netns).stdout.strip()


def _module_command(name, args, check_mode, diff, netns, env):
    payload = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"ANSIBLE_MODULE_ARGS": payload}, f)
    full_env = dict(os.environ, PYTHONPATH=str(collections_root()))
    full_env.update(env or {})
    argv = (sys.executable, str(REPO / "plugins" / "modules" / f"{name}.py"), f.name)
    if netns:
        argv = ("nsenter", f"--net=/run/netns/{netns}") + argv
    return argv, full_env, f.name


def start_module(name, args, netns=None):
    """Start a module in the background (to be killed by a fault test); returns the Popen."""
    argv, env, path = _module_command(name, args, False, False, netns, None)
    # a process group of its own, so that a fault test can kill the module and every program it runs at once
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    proc.args_file = path
    return proc


def descendants(pid):
    """The pids of every process below pid (ansible-core's workers call setsid, so a process group is not enough)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_rounds(default):
    """How many times a fault test kills its run: `default` in CI, LINUXNS_NET_KILLS when set (e.g. 50 before a
    release, to look for a rarer window)."""
    return int(os.environ.get("LINUXNS_NET_KILLS") or default)


def kill_process_tree(proc):
    """SIGKILL a process we started and everything below it, as a crash of the machine it runs on would."""
    for pid in [proc.pid] + descendants(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def run_module(name, args, check_mode=False, diff=False, netns=None, env=None):
    """Run one module of the collection as Ansible would run it on a managed node; returns its JSON result."""
    argv, full_env, path = _module_command(name, args, check_mode, diff, netns, env)
    try:
        proc = sh(*argv, check=False, env=full_env)
    finally:
        os.unlink(path)
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise AssertionError(f"module {name} printed no JSON: {proc.stdout}\n{proc.stderr}") from None
    result["_stderr"] = proc.stderr
    # ansible-core 2.19 returns warnings as structured events
    result["warnings"] = [w["event"]["msg"] if isinstance(w, dict) else w for w in result.get("warnings", [])]
    return result


def ansible_env(**extra):
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections_root()), ANSIBLE_PYTHON_INTERPRETER=sys.executable,
                ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
                ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", **extra)


# the echo service of the lab, the one the tests use too: python3 -c WHOAMI_SERVER PORT..., -c WHOAMI_CLIENT PROTO ADDRESS PORT
sys.path.insert(0, str(collections_root()))
from ansible_collections.linuxns.net.plugins.module_utils._lab.echo import CLIENT as WHOAMI_CLIENT, SERVER as WHOAMI_SERVER  # noqa: E402


def start_whoami(netns, *ports):
    """A server in netns that answers each TCP connection and UDP datagram on ports with the client's address."""
    proc = subprocess.Popen(["nsenter", f"--net=/run/netns/{netns}", sys.executable, "-c", WHOAMI_SERVER] + [str(p) for p in ports],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def whoami(netns, proto, address, port):
    """The client address that the whoami server at address:port saw, from netns (None: the module's own); an
    'error: ...' text if no answer came."""
    argv = (sys.executable, "-c", WHOAMI_CLIENT, proto, address, str(port))
    return sh(*argv, netns=netns).stdout.strip()


# The side-by-side tests (a real Docker, a real podman): one TCP exchange, the same from our namespaces (Python) and
# from a busybox container (nc). It sends a request line (busybox httpd waits for one) and prints the first answer.
TCP_PROBE = ("import socket, sys\n"
             "try:\n"
             "    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)\n"
             "    s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n')\n"
             "    print(s.recv(200).decode(errors='replace').strip() or 'error: nothing')\n"
             "except OSError as exc:\n"
             "    print('error:', exc)\n")
BUSYBOX_TCP_PROBE = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {address} {port}"


def tcp_answer(netns, address, port):
    """The first answer of address:port to a TCP exchange from netns, or "error: ..."."""
    return sh(sys.executable, "-c", TCP_PROBE, address, str(port), netns=netns, check=False).stdout.strip()


def foreign_iptables_rules(netns):
    """The iptables rules in netns that are not ours (Docker's, netavark's), nft and legacy, counters aside, in order."""
    rules = []
    for save in ("iptables-nft-save", "iptables-legacy-save"):
        out = sh(save, netns=netns, check=False).stdout.splitlines()
        rules += [re.sub(r"^(:\S+ \S+) \[\d+:\d+\]$", r"\1", line) for line in out
                  if not line.startswith("#") and "LINUXNS" not in line and "linuxns" not in line]
    return rules


def wire_lan(host, neighbour, host_address, neighbour_address):
    """A /24 LAN of two namespaces (eth0 each), the host's default route pointing at the neighbour."""
    sh("ip", "-n", host, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", neighbour)
    for netns, address in ((host, host_address), (neighbour, neighbour_address)):
        sh("ip", "-n", netns, "addr", "add", f"{address}/24", "dev", "eth0")
        sh("ip", "-n", netns, "link", "set", "eth0", "up")
    sh("ip", "-n", host, "route", "add", "default", "via", neighbour_address)


def docker_neighbour(host):
    """What Docker leaves in a host's iptables-nft: FORWARD policy DROP, its own chains, a DNAT of its own."""
    sh("iptables-nft", "-P", "FORWARD", "DROP", netns=host)
    sh("iptables-nft", "-N", "DOCKER-USER", netns=host)
    sh("iptables-nft", "-A", "FORWARD", "-j", "DOCKER-USER", netns=host)
    sh("ip6tables-nft", "-P", "FORWARD", "DROP", netns=host)
    sh("iptables-nft", "-t", "nat", "-N", "DOCKER", netns=host)
    sh("iptables-nft", "-t", "nat", "-A", "DOCKER", "!", "-i", "docker0", "-p", "tcp", "-m", "tcp", "--dport", "5000",
       "-j", "DNAT", "--to-destination", "172.17.0.2:5000", netns=host)
