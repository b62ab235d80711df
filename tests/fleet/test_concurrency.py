"""Concurrency: two ansible-playbook runs converging the same host at once end in the right state, without error.
The modules serialise on a host-wide lock (one per host network namespace)."""

from __future__ import annotations

import json
import subprocess

import pytest

from hoststate import address_of, ping
from support import REPO, ansible_env

pytestmark = pytest.mark.slow
HOST = "host2"


def start(lab, path, *args):
    return subprocess.Popen(["ansible-playbook", "-i", str(lab.inventory), str(REPO / path), *args], cwd=REPO,
                            env=ansible_env(ANSIBLE_PIPELINING="1"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def networks(*nets):
    return ("-e", json.dumps({"target": HOST, "networks": list(nets)}))


def test_same_network_from_two_runs_at_once(lab, playbook, record):
    extra = ("-e", f"target={HOST}", "-e", "n=40")
    runs = [start(lab, "bench/playbooks/bridge.yml", *extra) for _run in range(2)]
    outputs = [r.communicate(timeout=300)[0] for r in runs]
    assert all(r.returncode == 0 for r in runs), outputs
    assert address_of(lab, HOST, "c40") == "10.100.0.41" and ping(lab, HOST, "c1", "10.100.0.41")
    assert playbook("bench/playbooks/bridge.yml", *extra).changed == 0
    playbook("bench/playbooks/bridge.yml", *extra, "-e", "state=absent")
    record("concurrent_runs_same_network", 2)


def test_different_networks_from_two_runs_at_once(lab, playbook, record):
    red = {"name": "red", "subnet": "10.40.0.0/24", "containers": [f"r{i}" for i in range(1, 21)]}
    teal = {"name": "teal", "subnet": "10.41.0.0/24", "containers": [f"t{i}" for i in range(1, 21)]}
    runs = [start(lab, "tests/fleet/playbooks/networks.yml", *networks(net)) for net in (red, teal)]
    outputs = [r.communicate(timeout=300)[0] for r in runs]
    assert all(r.returncode == 0 for r in runs), outputs
    assert ping(lab, HOST, "r1", "10.40.0.21") and ping(lab, HOST, "t1", "10.41.0.21")
    assert not ping(lab, HOST, "r1", "10.41.0.2"), "still isolated from each other"
    assert playbook("tests/fleet/playbooks/networks.yml", *networks(red, teal)).changed == 0
    playbook("tests/fleet/playbooks/networks.yml", *networks(dict(red, state="absent"), dict(teal, state="absent")))
    record("concurrent_runs_different_networks", 2)
