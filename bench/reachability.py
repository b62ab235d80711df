"""Reachability's cost: the linuxns.net.reachability module probing a bridge network of 20 containers (ICMP, all
answering), as whole module processes, inside a throwaway namespace. Medians of --repeats runs; probes per second
from the least-squares slope against the number of probes. Writes docs/benchmarks/reachability.md."""

from __future__ import annotations

import argparse
import pathlib
import statistics
import subprocess
import sys
import time
import uuid

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support import run_module, sh  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(REPO / "docs" / "benchmarks" / "reachability.md"))
    opts = parser.parse_args()
    host = f"lnbench{uuid.uuid4().hex[:6]}"
    names = [f"{host}c{i}" for i in range(20)]
    sh("ip", "netns", "add", host)
    try:
        made = run_module("container_network", {"name": "bench", "subnet": "10.123.0.0/24",
                                                "containers": [{"name": n} for n in names]}, netns=host)
        assert not made.get("failed"), made
        addresses = list(made["addresses"].values())
        rows = []
        for sources, targets in ((1, 1), (10, 10), (20, 20)):
            args = {"sources": names[:sources], "targets": addresses[:targets], "expect": "reachable"}
            times = []
            for _repeat in range(opts.repeats):
                start = time.monotonic()
                result = run_module("reachability", args, netns=host)
                times.append(time.monotonic() - start)
                assert not result.get("failed"), result["summary"]
            rows.append((sources * targets, statistics.median(times)))
        n = [r[0] for r in rows]
        t = [r[1] for r in rows]
        mean_n, mean_t = statistics.mean(n), statistics.mean(t)
        slope = sum((a - mean_n) * (b - mean_t) for a, b in zip(n, t)) / sum((a - mean_n) ** 2 for a in n)
        table = ["| probes | module run (whole process) |", "|---|---|"]
        table += [f"| {probes} | {seconds:.3f} s |" for probes, seconds in rows]
        text = (f"ICMP probes from containers to containers on one bridge, every probe answering; medians of "
                f"{opts.repeats}. A module process costs about {rows[0][1]:.2f} s with one probe (Python, Ansible's "
                f"module runtime, imports); each further probe {slope * 1000:.2f} ms, that is about "
                f"{1 / slope:.0f} probes per second.\n\n" + "\n".join(table) + "\n")
        pathlib.Path(opts.out).write_text(text)
        print(text)
    finally:
        network = {"name": "bench", "subnet": "10.123.0.0/24", "containers": [{"name": n} for n in names]}
        run_module("container_network", dict(network, state="absent"), netns=host)
        subprocess.run(["ip", "netns", "del", host], check=False)


if __name__ == "__main__":
    main()
