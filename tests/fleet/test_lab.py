"""The lab fleet (linuxns.net.lab): hosts with their own network, mount and UTS namespaces, reached over SSH.

Present, present again, grow, shrink, a dead sshd, absent (nothing left), check mode, bad input, two labs at once.
These labs use ranges of 198.18.0.0/15, so that they never meet the suite's own lab on 198.51.100.0/24."""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import signal
import threading
import time

import pytest

from ansible_collections.linuxns.net.plugins.module_utils._lab.lab import Lab
from ansible_collections.linuxns.net.plugins.module_utils._lab.processes import start_time
from ansible_collections.linuxns.net.plugins.module_utils._nsfiles import pids_by_namespace_inode
from hoststate import kill_host
from support import ansible_env, namespaces, run_module, sh


def _ours(item):
    """Beside the main suite's other lane (LINUXNS_NET_LABS_BESIDE), whatever names another suite's namespaces or
    labs (ln..., not this module's lnlabt...) comes and goes meanwhile: such an item is not this module's to check."""
    if not os.environ.get("LINUXNS_NET_LABS_BESIDE"):
        return True
    return all(name.startswith("lnlabt") for name in re.findall(r"\bln[a-z0-9-]*", item))


def machine_state():
    """What a lab may change on this machine while it is up, and must give back when it is down (_ours)."""
    state = {"links": sorted(os.listdir("/sys/class/net")), "routes": sh("ip", "route", "show", "table", "all").stdout,
             "routes6": sh("ip", "-6", "route", "show", "table", "all").stdout,
             "addresses": sh("ip", "-br", "addr").stdout.replace("DOWN", "").replace("UP", ""),
             "mounts": pathlib.Path("/proc/self/mounts").read_text(), "namespaces": namespaces()}
    return {k: [i for i in v if _ours(i)] if isinstance(v, list) else
            "\n".join(line for line in v.splitlines() if _ours(line)) for k, v in state.items()}


@pytest.fixture
def lab_args(tmp_path):
    """Arguments of a lab of this test, and its teardown whatever happens."""
    made = []

    def make(name, underlay, **extra):
        args = dict({"name": name, "underlay": underlay, "state_dir": str(tmp_path)}, **extra)
        made.append(args)
        return args
    yield make
    for args in reversed(made):  # the last made first: labs of one name in two state directories come down in order
        run_module("lab", {"name": args["name"], "state_dir": args["state_dir"], "state": "absent"})


def pids_in(inodes):
    return [pid for inode, pids in pids_by_namespace_inode().items() if inode in inodes for pid in pids]


def hostnames(inventory):
    proc = sh("ansible", "-i", inventory, "all", "-m", "ansible.builtin.command", "-a", "hostname", env=ansible_env(),
              check=False)
    return proc.returncode, proc.stdout


def test_present_again_grow_shrink_and_absent_leave_nothing(lab_args, tmp_path):
    before = machine_state()
    args = lab_args("lnlabt1", "198.18.20.0/24", inventory=str(tmp_path / "inv.yml"))

    predicted = run_module("lab", dict(args, hosts=2), check_mode=True)
    assert predicted["changed"] and not (tmp_path / "lnlabt1").exists() and machine_state() == before

    made = run_module("lab", dict(args, hosts=2))
    assert made["changed"] and made["changes"] == predicted["changes"]
    assert made["hosts"] == {"host1": {"address": "198.18.20.11", "address6": "2001:db8:100::11", "segment": 1},
                             "host2": {"address": "198.18.20.12", "address6": "2001:db8:100::12", "segment": 1}}
    assert made["upstream"] == {"address": "198.18.20.254", "address6": "2001:db8:100::254", "echo_port": 7007}
    assert set(filter(_ours, os.listdir("/sys/class/net"))) - set(before["links"]) == {"lnlabt10"}, \
        "one veth in the machine's namespace"
    assert sh("ip", "route", "show", "198.18.20.0/24").stdout.startswith("198.18.20.0/24 dev lnlabt10")
    assert "2001:db8" not in sh("ip", "-6", "addr").stdout + sh("ip", "-6", "route").stdout, "no IPv6 in the machine's namespace"
    lab = Lab("lnlabt1", tmp_path, "198.18.20.0/24")
    # IPv6 on the underlay, at once (no DAD), with a default route to the upstream, whose echo service sees the host
    assert "2001:db8:100::11/64" in lab.exec("host1", "ip", "-6", "addr", "show", "dev", "eth0").stdout
    assert "default via 2001:db8:100::254 dev eth0" in lab.exec("host1", "ip", "-6", "route").stdout
    assert lab.exec("host1", "ping", "-6", "-c", "1", "-W", "2", "2001:db8:100::12", check=False).returncode == 0
    echo = "import socket; print(socket.create_connection(('2001:db8:100::254', 7007), timeout=3).recv(100).decode())"
    assert lab.exec("host2", "python3", "-c", echo).stdout.strip() == "2001:db8:100::12"
    rc, out = hostnames(str(tmp_path / "inv.yml"))
    assert rc == 0 and all(f"{h} | CHANGED | rc=0 >>\n{h}" in out for h in ("host1", "host2", "upstream")), out
    first_pids = {h: i["pid"] for h, i in lab.state()["hosts"].items()}

    again = run_module("lab", dict(args, hosts=2))
    assert not again["changed"] and again["hosts"] == made["hosts"]
    assert not run_module("lab", dict(args, hosts=2), check_mode=True)["changed"]

    grown = run_module("lab", dict(args, hosts=4))
    assert grown["changes"][:2] == ["start host host3 of lab 'lnlabt1' at 198.18.20.13 and 2001:db8:100::13",
                                    "start host host4 of lab 'lnlabt1' at 198.18.20.14 and 2001:db8:100::14"]
    assert {h: i["pid"] for h, i in lab.state()["hosts"].items() if h in first_pids} == first_pids, "hosts that stay stay"
    assert hostnames(str(tmp_path / "inv.yml"))[0] == 0

    shrunk = run_module("lab", dict(args, hosts=1))
    assert shrunk["changes"][:3] == [f"stop host {h} of lab 'lnlabt1'" for h in ("host2", "host3", "host4")]
    assert sorted(lab.state()["hosts"]) == ["host1", "upstream"] and lab.state()["hosts"]["host1"]["pid"] == first_pids["host1"]
    assert json.loads((tmp_path / "inv.yml").read_text())["all"]["children"]["lab_hosts"]["hosts"].keys() == {"host1"}

    processes = lab.state()["processes"]
    # Ansible's control connections left sshd sessions inside the hosts: they must go with the hosts
    host_namespaces = {os.stat(f"/proc/{p['pid']}/ns/net").st_ino for p in processes if p["role"] == "holder"}
    assert len(pids_in(host_namespaces)) > len(processes), "the control connections' sessions are there"
    gone = run_module("lab", {"name": "lnlabt1", "state_dir": str(tmp_path), "state": "absent"})
    assert gone["changed"] and not run_module("lab", {"name": "lnlabt1", "state_dir": str(tmp_path), "state": "absent"})["changed"]
    assert not [p for p in processes if start_time(p["pid"]) == p["start"]], "every process of the lab stopped"
    assert not pids_in(host_namespaces), "no process is left in a namespace of the lab's hosts"
    assert machine_state() == before and not (tmp_path / "lnlabt1").exists()


def test_a_dead_sshd_is_restarted_and_a_dead_host_rebuilt(lab_args, tmp_path):
    args = lab_args("lnlabt2", "198.18.21.0/24", hosts=["web", "db"], upstream=False)
    made = run_module("lab", args)
    assert made["upstream"] is None and sorted(made["hosts"]) == ["db", "web"]
    lab = Lab("lnlabt2", tmp_path, "198.18.21.0/24")
    assert lab.exec("web", "hostname").stdout.strip() == "web"
    assert lab.exec("web", "ip", "route").stdout.strip() == "198.18.21.0/24 dev eth0 proto kernel scope link src 198.18.21.11"

    sshd = next(p for p in lab.state()["processes"] if p["host"] == "db" and p["role"] == "sshd")
    os.kill(sshd["pid"], signal.SIGKILL)
    for _attempt in range(100):
        if start_time(sshd["pid"]) != sshd["start"]:
            break
        time.sleep(0.01)
    assert run_module("lab", args, check_mode=True)["changes"] == ["restart sshd of host db of lab 'lnlabt2'"]
    assert run_module("lab", args)["changes"] == ["restart sshd of host db of lab 'lnlabt2'"]
    assert hostnames(str(lab.inventory))[0] == 0

    kill_host(lab, "web")
    rebuilt = run_module("lab", args)
    assert rebuilt.get("changes", [None])[0] == "rebuild host web of lab 'lnlabt2' at 198.18.21.11 and 2001:db8:100::11", rebuilt
    assert lab.exec("web", "hostname").stdout.strip() == "web" and hostnames(str(lab.inventory))[0] == 0
    assert not run_module("lab", args)["changed"]


def test_two_labs_at_once_with_their_own_names_and_ranges(lab_args):
    first, second = lab_args("lnlabt3", "198.18.22.0/24", hosts=2), lab_args("lnlabt4", "198.18.23.0/24", hosts=2)
    results = {}
    threads = [threading.Thread(target=lambda a=a: results.__setitem__(a["name"], run_module("lab", a))) for a in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not any(r.get("failed") for r in results.values()), results
    for name, underlay in (("lnlabt3", "198.18.22"), ("lnlabt4", "198.18.23")):
        lab = Lab(name, first["state_dir"], f"{underlay}.0/24")
        assert lab.exec("host1", "ping", "-c", "1", "-W", "1", f"{underlay}.12").returncode == 0
        assert lab.exec("host1", "ping", "-c", "1", "-W", "1", "-q", "198.18.22.12" if name == "lnlabt4" else "198.18.23.12",
                        check=False).returncode != 0, "the labs do not reach each other"


@pytest.mark.parametrize("args, message", [
    ({"hosts": 0}, "0 hosts asked for; a lab has 1 to 1000 hosts"),
    ({"hosts": 1500}, "1500 hosts asked for"),
    ({"hosts": 500}, "has room for 243 hosts, not 500"),
    ({"name": "Bad_Name"}, "lab 'Bad_Name': the name must be 1 to 8 lowercase letters and digits"),
    ({"name": "waytoolongname"}, "1 to 8 lowercase letters"),
    ({"hosts": ["web", "Web!"]}, "host name 'Web!' must be a lowercase hostname"),
    ({"hosts": ["upstream"]}, "and not 'upstream'"),
    ({"hosts": ["a", "a"]}, "listed more than once"),
    ({"underlay": "198.18.30.0/29"}, "at least 16 addresses"),
    ({"underlay": "2001:db8::/64"}, "must be an IPv4 network"),
    ({"underlay": "machine's own"}, "already routed on this machine via"),
    ({"underlay6": "198.18.30.0/24"}, "underlay6 198.18.30.0/24 must be a unicast IPv6 network of /64 or larger"),
    ({"underlay6": "2001:db8:100::/96"}, "of /64 or larger"),
    ({"underlay6": "fe80::/64"}, "must be a unicast IPv6 network"),
    ({"underlay6": "2001:db8::1::/64"}, "is not a network in CIDR form"),
    ({"underlay6": "machine's own"}, "is already routed on this machine via"),
])
def test_bad_input_fails_before_any_change(lab_args, args, message):
    if args.get("underlay") == "machine's own":  # a range this machine routes already (nothing is sent to it)
        args["underlay"] = next(r["dst"] for r in json.loads(sh("ip", "-j", "-4", "route").stdout)
                                if r["dst"] != "default" and int(r["dst"].split("/")[1]) <= 28)
    if args.get("underlay6") == "machine's own":
        args["underlay6"] = next((r["dst"] for r in json.loads(sh("ip", "-j", "-6", "route").stdout or "[]")
                                  if r["dst"] not in ("default", "fe80::/64") and int(r["dst"].split("/")[1]) <= 64), None)
        if args["underlay6"] is None:
            pytest.skip("this machine routes no IPv6 network of /64 or larger to try")
    before = machine_state()
    result = run_module("lab", lab_args(args.pop("name", "lnlabt5"), args.pop("underlay", "198.18.24.0/24"), **args))
    assert result.get("failed") and message in result["msg"], result.get("msg")
    assert machine_state() == before


def test_a_range_another_lab_holds_is_refused(lab_args):
    run_module("lab", lab_args("lnlabt6", "198.18.25.0/24", hosts=1))
    result = run_module("lab", lab_args("lnlabt7", "198.18.25.0/25", hosts=1))
    assert result.get("failed") and "198.18.25.0/25 is already routed on this machine via lnlabt60" in result["msg"]
    moved = run_module("lab", lab_args("lnlabt6", "198.18.26.0/24", hosts=1))
    assert moved.get("failed") and "is up with underlay 198.18.25.0/24, not 198.18.26.0/24" in moved["msg"]
    moved6 = run_module("lab", lab_args("lnlabt6", "198.18.25.0/24", hosts=1, underlay6="2001:db8:101::/64"))
    assert moved6.get("failed") and "is up with underlay6 2001:db8:100::/64, not 2001:db8:101::/64" in moved6["msg"]
    alone = run_module("lab", lab_args("lnlabt6", "198.18.25.0/24", hosts=1, upstream=False))
    assert alone.get("failed") and "is up with its upstream host (stop it first to change that)" in alone["msg"]


def test_the_remains_of_a_killed_run_are_named_and_cleared_but_a_running_lab_is_not(lab_args, tmp_path):
    """A run killed with its lab up leaves the switch and the root veth (nothing runs in them): the module says so,
    and Lab.up(), which the tests and benchmarks use, removes them; a running lab of the same name is left alone."""
    first = lab_args("lnlabt9", "198.18.28.0/24", hosts=1, upstream=False, state_dir=str(tmp_path / "first"))
    assert not run_module("lab", first).get("failed")
    second = lab_args("lnlabt9", "198.18.28.0/24", hosts=1, upstream=False, state_dir=str(tmp_path / "second"))
    running = run_module("lab", second)
    assert running.get("failed") and "its hosts are running, maybe another run's" in running["msg"], running
    lab = Lab("lnlabt9", tmp_path / "second", "198.18.28.0/24")
    with pytest.raises(Exception, match="its hosts are running"):
        lab.up(1, upstream=False)

    killed = Lab("lnlabt9", tmp_path / "first", "198.18.28.0/24")
    kill_host(killed, "host1")
    for proc in killed.state()["processes"]:
        assert start_time(proc["pid"]) != proc["start"], "every process of the lab is gone"
    shutil.rmtree(killed.dir)  # as a killed run's temporary directory goes
    assert os.path.exists("/sys/class/net/lnlabt90") and "lnlabt9-switch" in namespaces()
    remains = run_module("lab", second, check_mode=True)
    assert remains.get("failed") and "nothing runs in it (the remains of a killed run)" in remains["msg"], remains
    assert lab.up(1, upstream=False)["hosts"]["host1"]["address"] == "198.18.28.11"
    assert lab.exec("host1", "hostname").stdout.strip() == "host1"


def test_a_routed_lab_joins_its_segments_with_a_router_and_one_route(lab_args, tmp_path):
    before = machine_state()
    args = lab_args("lnlabt8", "198.18.27.0/24", hosts=3, segments=2, segment_range="198.18.112.0/20",
                    underlay6="2001:db8:127::/64")
    made = run_module("lab", args)
    assert not made.get("failed"), made.get("msg")
    assert made["segments"] == 2 and made["hosts"] == {
        "host1": {"address": "198.18.27.11", "address6": "2001:db8:127::11", "segment": 1},
        "host2": {"address": "198.18.114.11", "address6": "2001:db8:127:2::11", "segment": 2},
        "host3": {"address": "198.18.27.12", "address6": "2001:db8:127::12", "segment": 1}}
    # the machine's namespace: one veth and two routes (the connected one, and the segments' via the router)
    assert sh("ip", "route", "show", "198.18.112.0/20").stdout.strip() == "198.18.112.0/20 via 198.18.27.2 dev lnlabt80 proto static"
    assert hostnames(str(tmp_path / "lnlabt8" / "inventory.yml"))[0] == 0, "Ansible reaches every segment"
    lab = Lab("lnlabt8", tmp_path, "198.18.27.0/24", "2001:db8:127::/64", segments=2, segment_range="198.18.112.0/20")
    assert lab.exec("host2", "ip", "route").stdout.startswith("default via 198.18.114.1 dev eth0")
    assert "198.18.114.0/24 via 198.18.27.2 dev eth0" in lab.exec("host1", "ip", "route").stdout
    for family, target in ((4, "198.18.114.11"), (6, "2001:db8:127:2::11")):
        assert lab.exec("host1", "ping", f"-{family}", "-c", "1", "-W", "2", target, check=False).returncode == 0
    # across the router, not on one link: host1 has no neighbour entry for host2, only for the router
    assert "198.18.114.11" not in lab.exec("host1", "ip", "neigh").stdout
    echo = "import socket; print(socket.create_connection(('2001:db8:127::254', 7007), timeout=3).recv(100).decode())"
    assert lab.exec("host2", "python3", "-c", echo).stdout.strip() == "2001:db8:127:2::11", "the upstream routes back"
    assert not run_module("lab", args)["changed"]
    changed = run_module("lab", dict(args, segments=3))
    assert changed.get("failed") and "is up with segments 2, not 3" in changed["msg"]
    assert run_module("lab", {"name": "lnlabt8", "state_dir": str(tmp_path), "state": "absent"})["changed"]
    assert machine_state() == before and not [n for n in namespaces() if n.startswith("lnlabt8")]
