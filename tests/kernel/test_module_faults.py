"""Faults: the container_network module SIGKILLed in the middle of a batch; a re-run converges, teardown is clean."""

from __future__ import annotations

import os
import random
import time

from support import links, namespaces, ping, routes, run_module, start_module

KILLS, N = 10, 60


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
        proc.kill()
        proc.wait()
        os.unlink(proc.args_file)
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
