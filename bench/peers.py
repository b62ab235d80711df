"""The container engines beside us: real Docker (Debian's docker.io) and podman (netavark) creating N containers on
a user network, with and without a published port, and with no network at all, so that the difference is what
their networking costs per container. Each engine runs as the neighbour tests run it: in a network namespace that
this script made, in a mount and PID namespace of its own, with a busybox image from `docker import` (no registry).
Writes docs/benchmarks/peers.md and .json; the collection's own rows are bench/run.py's (role_first and
ports_first, per container).

    python bench/peers.py --sizes 10,50
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import dockerd  # noqa: E402  (the neighbour tests' engines)
import podman  # noqa: E402
from support import sh  # noqa: E402

NAMESPACE = "lnbpeers"
SUBNET = "10.219.0.0/16"  # a lab range, apart from the tests' and Docker's own pool (dockerd.POOL)


def measure(engine, cli, n, variant):
    """Seconds to create n containers (each `run -d`, one after the other) and to remove them all."""
    network = {"none": "none", "network": "lnbnet", "port": "lnbnet"}[variant]
    started = time.monotonic()
    for i in range(n):
        options = ("-p", f"{20000 + i}:80") if variant == "port" else ()
        cli("run", "-d", "--name", f"lnb{i}", "--network", network, *options, engine.IMAGE, "sleep", "3600")
    created = time.monotonic() - started
    started = time.monotonic()
    cli("rm", "-f", *[f"lnb{i}" for i in range(n)])
    return round(created, 2), round(time.monotonic() - started, 2)


def bench_engine(name, start, sizes):
    sh("ip", "netns", "add", NAMESPACE)
    sh("ip", "-n", NAMESPACE, "link", "set", "lo", "up")
    engine = None
    rows = []
    try:
        engine = start(NAMESPACE)
        cli = engine.docker if name == "docker" else engine.podman
        cli("network", "create", "--subnet", SUBNET, "lnbnet")
        for n in sizes:
            row = {"engine": name, "n": n}
            for variant in ("none", "network", "port"):
                row[variant], row[f"{variant}_remove"] = measure(module_of[name], cli, n, variant)
            row["network_per_container_ms"] = round((row["network"] - row["none"]) / n * 1000, 1)
            row["port_per_container_ms"] = round((row["port"] - row["none"]) / n * 1000, 1)
            print(json.dumps(row), flush=True)
            rows.append(row)
    finally:
        if engine is not None:
            engine.stop()
        sh("ip", "netns", "delete", NAMESPACE, check=False)
    return rows


module_of = {"docker": dockerd, "podman": podman}


def markdown(rows):
    lines = ["# Docker and podman creating containers, beside the collection",
             "",
             "`python bench/peers.py` on this machine (2 cores): Debian's docker.io and podman (netavark), each in "
             "namespaces of its own, creating N busybox containers one `run -d` after another: with no network, on "
             "a user network, and on it with a published port each. The difference from no network is what the "
             "engine's networking costs per container (its veth, IPAM, firewall rules and, for a published port, "
             "the DNAT rules); the rest is the engine's (runc, cgroups, the image's layers).",
             "",
             "| engine | N | no network | user network | + published port | network, per container | port, "
             "per container |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['engine']} | {r['n']} | {r['none']:.2f} s | {r['network']:.2f} s | {r['port']:.2f} s | "
                     f"{r['network_per_container_ms']:.1f} ms | {r['port_per_container_ms']:.1f} ms |")
    lines += ["", "The collection's cost per container is in `results.md` (the `role_first` and `ports_first` rows "
              "divided by N): there the network is all of the work, with no container runtime."]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,50")
    parser.add_argument("--out", default=str(REPO / "docs" / "benchmarks" / "peers.md"))
    opts = parser.parse_args()
    sizes = [int(n) for n in opts.sizes.split(",")]
    rows = []
    for name, start, missing in (("docker", dockerd.Dockerd, dockerd.MISSING), ("podman", podman.Podman, podman.MISSING)):
        if missing:
            print(f"{name}: skipped, {missing} missing", file=sys.stderr)
            continue
        rows += bench_engine(name, start, sizes)
    pathlib.Path(opts.out).write_text(markdown(rows))
    pathlib.Path(opts.out).with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    print(pathlib.Path(opts.out).read_text())


if __name__ == "__main__":
    main()
