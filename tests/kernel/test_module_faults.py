"""Faults: the container_network module and everything it started (nft, iptables-restore) SIGKILLed as a whole
process tree, at random points of a build and of a teardown. A build's re-run converges; a teardown's re-run
leaves nothing: no namespace, namespace file, link, rule, hosts file or directory."""

from __future__ import annotations

import os
import random
import signal
import time

import pytest

from support import ETC_NETNS, kill_rounds, links, namespaces, ping, routes, run_module, sh, start_module

KILLS, N = kill_rounds(8), 60
TEARDOWN_KILLS, TEARDOWN_N = kill_rounds(12), 100


def kill_tree(proc):
    """SIGKILL the module's whole process group: the module and any program it is running."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    os.unlink(proc.args_file)


@pytest.mark.long
def test_module_killed_mid_batch_converges(netns, nsname, record):
    host = netns("host")
    prefix = nsname("p")
    names = [nsname.adopt(f"{prefix}c{i}") for i in range(1, N + 1)]
    spec = {"name": "k", "bridge": "br0", "subnet": "10.100.0.0/16", "containers": [{"name": n} for n in names]}
    rng = random.Random(7)
    points = []
    for _kill in range(KILLS):
        proc = start_module("container_network", spec, netns=host)
        delay = rng.uniform(0.25, 0.9)  # past the imports, inside the batch
        time.sleep(delay)
        kill_tree(proc)
        points.append(round(delay, 2))

        result = run_module("container_network", spec, netns=host)
        assert not result.get("failed"), result.get("msg")
        assert result["addresses"] == {n: f"10.100.0.{i + 2}" for i, n in enumerate(names)}
        assert sum(1 for l in links(host).values() if l.get("master") == "br0") == N
        assert routes(names[-1], "default")[0]["gateway"] == "10.100.0.1"
        assert ping(names[0], f"10.100.0.{N + 1}")
        assert not run_module("container_network", spec, netns=host)["changed"]

        assert not run_module("container_network", dict(spec, state="absent"), netns=host).get("failed")
        assert not set(names) & set(namespaces()) and set(links(host)) == {"lo"}
    record("module_kills_survived", KILLS)
    record("module_kill_points_s", points)


def _nothing_left(host, names):
    """What a finished teardown must leave: nothing of the network."""
    left = {
        "namespaces": sorted(set(names) & set(namespaces())),
        "namespace files": sorted(n for n in names if os.path.lexists(f"/run/netns/{n}")),
        "links": sorted(set(links(host)) - {"lo"}),
        "rules": sh("nft", "list", "table", "inet", "linuxns_net", netns=host, check=False).stdout.strip(),
        "/etc/netns": sorted(n for n in names if (ETC_NETNS / n).exists()),
    }
    return {k: v for k, v in left.items() if v}


def _counts(host, names):
    """How much of the network there is: namespaces, links, rule lines, /etc/netns directories."""
    left = _nothing_left(host, names)
    return tuple(len(left.get(k, "")) if k != "rules" else left.get(k, "").count("\n")
                 for k in ("namespaces", "links", "rules", "/etc/netns"))


@pytest.mark.long
def test_module_tree_killed_mid_teardown_leaves_nothing_after_a_rerun(netns, nsname, record):
    """A teardown of a dual-stack network with published ports and names, killed as a whole tree at a random point
    of its run (from the imports to the last change), 12 times (LINUXNS_NET_KILLS for more): the next teardown leaves nothing at all."""
    host = netns("host")
    prefix = nsname("t")
    names = [nsname.adopt(f"{prefix}c{i}") for i in range(1, TEARDOWN_N + 1)]
    spec = {"name": "t", "bridge": "br-t", "subnet": "10.101.0.0/24", "subnet6": "fd42:0:0:101::/64",
            "containers": [{"name": n, "ports": [f"{20000 + i}:80"]} for i, n in enumerate(names)]}
    absent = dict(spec, state="absent")
    assert not run_module("container_network", spec, netns=host).get("failed")
    started = time.monotonic()
    assert run_module("container_network", absent, netns=host)["changed"]
    duration = time.monotonic() - started  # one whole teardown, to spread the kills over
    assert not _nothing_left(host, names)
    rng = random.Random(21)
    points, clean, midway = [], 0, 0
    # the kills are spread from 0.3 of a teardown to just past its end; a kill that lands before the first change
    # (the interpreter's start and imports take longer on some Pythons and machines) moves the window's start up to
    # it, and one that lands past the last change moves its end down, so that the kills land among the changes
    # whatever the machine and its load; every other kill waits for the first change instead (a loaded machine
    # spreads one teardown's changes differently from the next's)
    earliest, latest = 0.3 * duration, 1.05 * duration
    for kill in range(TEARDOWN_KILLS):
        built = run_module("container_network", spec, netns=host)
        assert not built.get("failed"), built.get("msg")
        full = _counts(host, names)
        proc = start_module("container_network", absent, netns=host)
        if kill % 2:
            delay = rng.uniform(earliest, latest)
            time.sleep(delay)
        else:  # every other kill waits for the first change, then a random part of a teardown more
            begun = time.monotonic()
            while proc.poll() is None and _counts(host, names) == full and time.monotonic() - begun < 5 * duration:
                time.sleep(0.01)
            time.sleep(rng.uniform(0, 0.1 * duration))
            delay = time.monotonic() - begun
        finished = proc.poll() is not None  # the teardown beat the kill: it counts as a point past the end
        if finished:
            os.unlink(proc.args_file)
        else:
            kill_tree(proc)
        points.append(round(delay, 2) if not finished else None)
        left = _counts(host, names)
        midway += left != full and any(left)  # the kill landed among the changes, not before or after them
        if kill % 2 and not finished and left == full:  # the random kills' window follows what they find
            earliest = min(max(earliest, delay), 0.9 * latest)
        elif kill % 2 and (finished or not any(left)):  # past the last change: a loaded machine ran this teardown
            latest = max(earliest + 0.05, min(latest, delay))  # faster or slower than the one it was timed on
        rerun = run_module("container_network", absent, netns=host)
        assert not rerun.get("failed"), rerun.get("msg")
        assert not _nothing_left(host, names), f"killed at {delay:.2f} s"
        assert not run_module("container_network", absent, netns=host)["changed"]
        clean += 1
    record("teardown_kills_clean", clean)
    record("teardown_kill_points_s", points)
    record("teardown_kills_midway", midway)
    assert midway >= TEARDOWN_KILLS // 4, "a quarter of the kills at least must land among the changes, or the test proves little"
