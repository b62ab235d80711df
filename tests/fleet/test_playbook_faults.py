"""Faults: ansible-playbook SIGKILLed with its whole process tree (workers, ssh) at random points while the role
builds 50 containers, 10 times (LINUXNS_NET_KILLS for more). After each kill, a re-run converges to exactly the intended state and a teardown leaves nothing."""

from __future__ import annotations

import json
import random
import subprocess
import time

import pytest

from support import REPO, ansible_env, kill_process_tree, kill_rounds

pytestmark = pytest.mark.slow
HOST, N, KILLS = "host3", 50, kill_rounds(10)
EXTRA = ("-e", f"target={HOST}", "-e", f"n={N}")


def intended_state(lab):
    """Exactly c1..c50, each with eth0 10.100.0.(i+1)/16 and a default route via 10.100.0.1; 50 ends on br0."""
    # `ip netns list` prints "name (id: N)" for namespaces that have an id here
    names = sorted(line.split()[0] for line in lab.exec(HOST, "ip", "netns", "list").stdout.splitlines())
    assert names == sorted(f"c{i}" for i in range(1, N + 1)), names
    links = json.loads(lab.exec(HOST, "ip", "-j", "link").stdout)
    assert sum(1 for l in links if l.get("master") == "br0") == N
    for i in (1, N // 2, N):
        out = lab.exec(HOST, "ip", "-n", f"c{i}", "-j", "-4", "addr", "show", "dev", "eth0").stdout
        assert json.loads(out)[0]["addr_info"][0]["local"] == f"10.100.0.{i + 1}"
        assert "default via 10.100.0.1" in lab.exec(HOST, "ip", "-n", f"c{i}", "route").stdout
    assert lab.exec(HOST, "ip", "netns", "exec", "c1", "ping", "-c1", "-W1", "-q", f"10.100.0.{N + 1}",
                    check=False).returncode == 0


def assert_clean(lab):
    assert lab.exec(HOST, "ip", "netns", "list").stdout.strip() == ""
    assert [l["ifname"] for l in json.loads(lab.exec(HOST, "ip", "-j", "link").stdout)] == ["lo", "eth0"]
    assert "linuxns" not in lab.exec(HOST, "nft", "list", "ruleset").stdout


def test_kill_ansible_playbook_at_random_points(lab, playbook, record):
    rng = random.Random(2026)  # reproducible kill points
    survived = []
    for _kill in range(KILLS):
        delay = rng.uniform(0.8, 2.0)  # ansible starts in ~1.2 s; the module then runs ~0.5 s
        proc = subprocess.Popen(["ansible-playbook", "-i", str(lab.inventory), str(REPO / "bench/playbooks/bridge.yml"),
                                 *EXTRA], cwd=REPO, env=ansible_env(ANSIBLE_PIPELINING="1"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        # the controller dies with its workers (which setsid) and their ssh clients: none is left to hang
        kill_process_tree(proc)
        # the module may still be running on the host; the next run waits for it on the host's lock
        assert playbook("bench/playbooks/bridge.yml", *EXTRA).returncode == 0
        intended_state(lab)
        assert playbook("bench/playbooks/bridge.yml", *EXTRA).changed == 0
        playbook("bench/playbooks/bridge.yml", *EXTRA, "-e", "state=absent")
        assert_clean(lab)
        survived.append(round(delay, 2))
    record("playbook_kills_survived", len(survived))
    record("playbook_kill_points_s", survived)
