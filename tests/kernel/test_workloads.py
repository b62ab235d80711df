"""Workloads in the namespaces: teardown while processes run in a container (refused by default, naming them;
stopped as docker rm -f does with stop_processes), with real servers in the containers, check mode, the diff,
exact re-runs and nothing left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from ansible_collections.linuxns.net.plugins.module_utils._addressing import host_end_name
from support import links, namespaces, run_module, sh, start_module, start_whoami, whoami

IGNORES_TERM = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(600)"
NOTES_TERM = ("import signal, time\nsignal.signal(signal.SIGTERM, lambda *_: print('SIGTERM', flush=True))\n"
              "print('ready', flush=True)\nwhile True:\n    time.sleep(1)")


def inside(ns, proc):
    """proc, once it runs in ns (ip netns exec enters it a moment after it starts)."""
    deadline = time.monotonic() + 10
    while str(proc.pid) not in sh("ip", "netns", "pids", ns).stdout.split():
        assert time.monotonic() < deadline and proc.poll() is None, f"{proc.args} did not start in {ns}"
        time.sleep(0.02)
    return proc


@pytest.fixture
def site(netns, nsname):
    """A host namespace and a network 'work' of two containers, c1 serving whoami on 80 (both families)."""
    host = netns("host")
    prefix = nsname("w")
    c1, c2 = nsname.adopt(f"{prefix}c1"), nsname.adopt(f"{prefix}c2")
    net = {"name": "work", "bridge": "br-work", "subnet": "10.60.0.0/24", "subnet6": "fd42:60::/64",
           "containers": [{"name": c1}, {"name": c2}]}
    assert not run_module("container_network", net, netns=host).get("failed")
    started = []

    def start(ns, *argv):
        """A process in ns (killed at the end, if it still runs), once it is in there; no argv: a whoami server on
        port 80."""
        proc = start_whoami(ns, 80) if not argv else subprocess.Popen(["ip", "netns", "exec", ns, *argv],
                                                                      stdout=subprocess.PIPE, text=True)
        started.append(proc)
        return inside(ns, proc)

    yield host, c1, c2, net, start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    run_module("container_network", dict(net, state="absent", stop_processes=True), netns=host)


def test_teardown_refuses_while_a_container_runs_processes_and_names_them(site):
    host, c1, c2, net, start = site
    server = start(c1)
    sleeper = start(c1, "sleep", "1000")
    assert whoami(c2, "tcp", "10.60.0.2", 80) == "10.60.0.3", "a real service answers in c1"
    ours = {host, c1, c2}  # other suites may run beside this one: compare only this test's namespaces
    before = (ours & set(namespaces()), set(links(host)))
    for check in (True, False):
        refused = run_module("container_network", dict(net, state="absent"), check_mode=check, netns=host)
        assert refused["failed"] and not refused["changed"], refused
        assert f"container '{c1}' of network 'work': namespace '{c1}' is in use by process(es)" in refused["msg"]
        assert f"{sleeper.pid} (sleep 1000)" in refused["msg"] and f"{server.pid} (" in refused["msg"]
        assert "stop_processes: true" in refused["msg"] and c2 not in refused["msg"]
    assert (ours & set(namespaces()), set(links(host))) == before, "nothing changed"
    assert whoami(c2, "tcp", "10.60.0.2", 80) == "10.60.0.3" and sleeper.poll() is None
    # a container leaving the network, as its last one, is refused the same way; the other one may leave
    leaving = dict(net, containers=[{"name": c1, "state": "absent"}, {"name": c2}])
    assert f"namespace '{c1}' is in use" in run_module("container_network", leaving, netns=host)["msg"]
    assert not run_module("container_network", dict(net, containers=[{"name": c1}, {"name": c2, "state": "absent"}]),
                          netns=host).get("failed")
    assert c2 not in namespaces() and c1 in namespaces()


def test_stop_processes_stops_them_as_docker_rm_f_and_removes_everything(site):
    host, c1, c2, net, start = site
    server = start(c1)
    stubborn = start(c2, sys.executable, "-c", IGNORES_TERM)
    assert stubborn.stdout.readline().strip() == "ready"
    down = dict(net, state="absent", stop_processes=True, stop_timeout=0.5)
    predicted = run_module("container_network", down, check_mode=True, diff=True, netns=host)
    assert predicted["changed"] and server.poll() is None and stubborn.poll() is None and c1 in namespaces()
    stops = [c for c in predicted["changes"] if c.startswith("stop process(es)")]
    assert len(stops) == 2 and any(f"{server.pid} (" in c and f"namespace '{c1}'" in c for c in stops), stops
    assert any(p.startswith(f"{server.pid} (") for p in predicted["diff"]["before"][c1]["processes"])
    made = run_module("container_network", down, netns=host)
    assert made["changed"] and not made.get("failed"), made.get("msg")
    assert made["changes"] == predicted["changes"], "check mode predicted exactly"
    assert server.wait(timeout=5) == -signal.SIGTERM, "SIGTERM first"
    assert stubborn.wait(timeout=5) == -signal.SIGKILL, "SIGKILL after stop_timeout for one that ignores SIGTERM"
    assert c1 not in namespaces() and c2 not in namespaces()
    assert set(links(host)) == {"lo"}, "the bridge and both host ends are gone"
    assert not run_module("container_network", down, netns=host)["changed"]


def test_a_host_end_left_by_a_namespace_that_outlived_its_name_is_removed_by_the_next_run(site):
    """What a teardown leaves when a process enters the namespace after the check: the name is gone, the namespace
    lives on with the process, and the host end of the container's veth stays. The next run removes it."""
    host, c1, c2, net, start = site
    sleeper = start(c1, "sleep", "1000")
    sh("ip", "netns", "delete", c1)
    end = host_end_name("br-work", c1)
    assert end in links(host)
    down = dict(net, state="absent")
    predicted = run_module("container_network", down, check_mode=True, netns=host)
    assert any(c.startswith(f"delete veth '{end}'") for c in predicted["changes"]), predicted["changes"]
    made = run_module("container_network", down, netns=host)
    assert made["changed"] and not made.get("failed"), made.get("msg")
    assert set(links(host)) == {"lo"} and sleeper.poll() is None, "the process lives on, in a namespace of its own"
    assert not run_module("container_network", down, netns=host)["changed"]


def test_netns_stops_processes_when_asked_and_warns_otherwise(netns, nsname):
    host = netns("host")
    name = nsname("ns")
    assert run_module("netns", {"name": [name]}, netns=host)["changed"]
    sleeper = inside(name, subprocess.Popen(["ip", "netns", "exec", name, "sleep", "1000"]))
    try:
        checked = run_module("netns", {"name": [name], "state": "absent", "stop_processes": True}, check_mode=True,
                             netns=host)
        assert checked["changed"] and sleeper.poll() is None
        assert any(c.startswith(f"stop process(es) {sleeper.pid} (sleep 1000) in namespace '{name}'")
                   for c in checked["changes"])
        assert run_module("netns", {"name": [name], "state": "absent", "stop_processes": True}, netns=host)["changed"]
        assert sleeper.wait(timeout=5) == -signal.SIGTERM and name not in namespaces()
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
        sleeper.wait()
    assert run_module("netns", {"name": [name]}, netns=host)["changed"]
    other = inside(name, subprocess.Popen(["ip", "netns", "exec", name, "sleep", "1000"]))
    try:
        warned = run_module("netns", {"name": [name], "state": "absent"}, netns=host)
        assert warned["changed"] and any(str(other.pid) in w and "stop_processes" in w for w in warned["warnings"])
        assert other.poll() is None, "ip netns delete's semantics: the name goes, the process stays"
    finally:
        other.kill()
        other.wait()


def test_a_teardown_killed_while_it_waits_for_processes_is_finished_by_the_next_run(site):
    """The module killed while it waits out stop_timeout (a process that takes SIGTERM and goes on): nothing is
    removed yet, and the next run stops what is left and removes everything."""
    host, c1, c2, net, start = site
    stubborn = start(c1, sys.executable, "-c", NOTES_TERM)
    assert stubborn.stdout.readline().strip() == "ready"
    slow = start_module("container_network", dict(net, state="absent", stop_processes=True, stop_timeout=30),
                        netns=host)
    try:
        assert stubborn.stdout.readline().strip() == "SIGTERM", "the module sent SIGTERM, and waits"
    finally:
        os.killpg(slow.pid, signal.SIGKILL)
        slow.wait()
        os.unlink(slow.args_file)
    assert stubborn.poll() is None and c1 in namespaces() and c2 in namespaces(), "killed before any removal"
    finished = run_module("container_network", dict(net, state="absent", stop_processes=True, stop_timeout=0),
                          netns=host)
    assert finished["changed"] and not finished.get("failed"), finished.get("msg")
    assert stubborn.wait(timeout=5) == -signal.SIGKILL
    assert c1 not in namespaces() and set(links(host)) == {"lo"}
