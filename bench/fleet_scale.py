"""A fleet past one controller's comfort: fleet.yml over lab fleets of 32 to 256 hosts (first run and re-run), beside
Ansible's floor (two no-op ansible.builtin.ping calls per host, same forks and pipelining), with the controller's CPU
seconds (the ansible-playbook process and everything it started: workers, ssh) and peak memory; the fleet plan's
size per host and its time, computed in-process up to 5,000 hosts; a fitted line per kind of run and a table that
extrapolates to 1,000 and 5,000 hosts, with forks and slices. Writes docs/benchmarks/fleet-scale.md and .json.

    python bench/fleet_scale.py --sizes 32x50,32,64,128,256 --containers 10

On this lab the hosts are namespaces of the controller's own machine: their modules share its cores with the
controller, which a real fleet's hosts do not (see the page's last section)."""

from __future__ import annotations

import argparse
import ipaddress
import json
import pathlib
import resource
import statistics
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import run as bench  # noqa: E402  (the lab, playbook runner and fleet helpers of the main benchmark)

from ansible_collections.linuxns.net.plugins.module_utils._fleet import fleet_layout  # noqa: E402
from ansible_collections.linuxns.net.plugins.module_utils._fleet_member import fleet_member  # noqa: E402

FORKS = bench.FORKS
FLOOR = REPO / "bench" / "playbooks" / "floor.yml"


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(lab, path, *args):
    """Wall seconds, controller CPU seconds and the controller's peak memory (MiB) of one ansible-playbook run."""
    with tempfile.NamedTemporaryFile("r") as rss:
        cpu = children_cpu()
        wall, changed = bench.playbook(lab, path, *args, prefix=(sys.executable, str(REPO / "bench/peak_rss.py")),
                                       PEAK_RSS_FILE=rss.name)
        peak = float(rss.read().split()[-1])
    return {"wall": round(wall, 2), "cpu": round(children_cpu() - cpu, 2), "peak_mib": peak, "changed": changed}


def measure_lab(hosts, containers):
    """The floor, and fleet.yml's first run and re-run, on a lab of that many hosts (IPv4, the flat lab: host-gw)."""
    underlay = "198.18.64.0/24" if hosts <= 240 else "198.18.64.0/22"  # apart from the tests' ranges
    lab = bench.Lab("lnscal", pathlib.Path(tempfile.mkdtemp(prefix="lnscal-")), underlay, "2001:db8:164::/64")
    started = time.monotonic()
    lab.up(hosts)
    out = {"hosts": hosts, "containers": containers, "lab_up_s": round(time.monotonic() - started, 1)}
    target = ("-e", f"target={bench.fleet_limit(hosts)}", "-f", str(FORKS))
    try:
        out["floor"] = timed(lab, FLOOR, *target)
        extra = (*target, "-e", f"containers_per_host={containers}", "-e", "cidr6=")
        out["first"] = timed(lab, "playbooks/fleet.yml", *extra)
        out["rerun"] = timed(lab, "playbooks/fleet.yml", *extra)
        if out["rerun"]["changed"]:
            raise bench.BenchError(f"fleet of {hosts}: the re-run changed {out['rerun']['changed']}")
    finally:
        lab.down()
    print(json.dumps(out), flush=True)
    return out


def plan_sizes(hosts, containers, slice_hosts=500):
    """The fleet plan for that many hosts (host-gw, names on), in-process, as a run of at most slice_hosts of them
    makes it (the whole fleet planned, those hosts' parts made): its time, and per host the size of what the role
    sends to it (routes, the fleet's names, the peers its policies name)."""
    def member(i):  # host i's read: eth0 on one underlay segment (198.18.0.0/15 holds them all)
        address = str(ipaddress.ip_address("198.18.0.0") + i + 1)
        read = {"host": {"links": [{"name": "eth0", "mtu": 1500, "addresses": [f"{address}/15"]}], "routes": []}}
        return fleet_member(read, "br-fleet", address, containers=names)
    names = [f"app{c}" for c in range(1, containers + 1)]
    members = {f"h{i}": member(i) for i in range(hosts)}
    cidr, prefix = ("10.244.0.0/16", 24) if hosts <= 256 else ("10.0.0.0/8", 24)
    started = time.process_time()
    plans = fleet_layout(members, {"cidr": cidr, "host_prefix": prefix, "mode": "host-gw"},
                         plan_for=list(members)[:slice_hosts])
    seconds = time.process_time() - started
    one = plans["h0"]
    return {"hosts": hosts, "containers": containers, "planned": len(plans), "plan_s": round(seconds, 3),
            "routes_bytes": len(json.dumps(one["routes"])), "names_bytes": len(one["containers"]),
            "per_host_bytes": len(json.dumps({k: v for k, v in one.items() if k != "record"}))}


def fit(points, squared=True):
    """Least squares seconds = a + b*N (+ c*N^2 when squared) over (N, seconds). The floor is a line; fleet.yml has
    an N^2 part, since what each host is sent grows with N (a route per other host, the fleet's names)."""
    xs, ys = [float(p[0]) for p in points], [float(p[1]) for p in points]
    if len(set(xs)) < 2:
        return 0.0, ys[0] / xs[0] if xs else 0.0, 0.0
    if len(set(xs)) < 3 or not squared:
        mx, my = statistics.fmean(xs), statistics.fmean(ys)
        b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        return my - b * mx, b, 0.0
    # the normal equations of [1, N, N^2], solved by Cramer's rule
    sums = [sum(x ** k for x in xs) for k in range(5)]
    rhs = [sum(y * x ** k for x, y in zip(xs, ys)) for k in range(3)]
    matrix = [[sums[i + j] for j in range(3)] for i in range(3)]

    def det(m):
        return (m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
                + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]))
    whole = det(matrix)
    return tuple(det([[rhs[i] if j == k else matrix[i][j] for j in range(3)] for i in range(3)]) / whole for k in range(3))


def at(coefficients, hosts):
    a, b, c = coefficients
    return a + b * hosts + c * hosts * hosts


def markdown(labs, sizes, fits):
    lines = ["# A fleet in parts and at scale: fleet.yml from 32 to 256 lab hosts",
             "",
             f"`python bench/fleet_scale.py` on this machine (2 cores; the lab hosts are namespaces of it, so their "
             f"modules share the controller's cores). Forks {FORKS}, pipelining, IPv4 host-gw, no fact gathering. "
             "Controller CPU: the ansible-playbook process and all it started (workers, ssh clients); peak memory: the "
             "largest process of them.",
             "",
             "| hosts x containers | floor (2 pings/host) | first run | re-run | first / floor | re-run / floor | "
             "controller CPU first, per host | peak MiB (first) | per fork |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in labs:
        f, a, b = r["floor"], r["first"], r["rerun"]
        lines.append(f"| {r['hosts']} x {r['containers']} | {f['wall']:.1f} s | {a['wall']:.1f} s | {b['wall']:.1f} s | "
                     f"{a['wall'] / f['wall']:.2f}x | {b['wall'] / f['wall']:.2f}x | {a['cpu']:.1f} s, "
                     f"{a['cpu'] / r['hosts']:.2f} s | {a['peak_mib']:.0f} | {a['peak_mib'] / FORKS:.1f} |")
    lines += ["", "## Fitted: seconds = a + b x hosts (+ c x hosts^2 for fleet.yml), least squares over the sizes with the "
              "same containers per host", "",
              "| run | a | b (s per host) | c (s per host squared) | 1,000 hosts, one controller | 5,000 hosts, one "
              "controller | 5,000 hosts, 10 slices at once |", "|---|---|---|---|---|---|---|"]
    for kind, coefficients in fits.items():
        a, b, c = coefficients
        # a slice of 500 of 5,000: its own hosts' cost, what each of them is sent growing with the whole fleet
        sliced = a + b * 500 + c * 500 * 5000
        lines.append(f"| {kind} | {a:.1f} s | {b:.3f} | {c:.6f} | {at(coefficients, 1000) / 60:.1f} min | "
                     f"{at(coefficients, 5000) / 60:.1f} min | {sliced / 60:.1f} min |")
    lines += ["", "A slice is a job of its own (AWX runs each on its own execution node): a slice of 500 of 5,000 hosts "
              "costs what 500 hosts cost, except that what each host is sent grows with the whole fleet (the N^2 term "
              "taken as 500 x 5,000), and each slice plans the whole fleet (below). The lab's hosts share the "
              "controller's 2 cores: a real fleet's modules run on their own hosts.", "",
              "## The plan and what each host is sent, computed in-process", "",
              "| hosts x containers | hosts planned (a run's) | plan (controller CPU, once per run) | per host: routes | "
              "per host: the fleet's names | per host: all of its plan |", "|---|---|---|---|---|---|"]
    for s in sizes:
        lines.append(f"| {s['hosts']} x {s['containers']} | {s['planned']} | {s['plan_s']:.2f} s | "
                     f"{s['routes_bytes'] / 1024:.1f} KiB | "
                     f"{s['names_bytes'] / 1024:.1f} KiB | {s['per_host_bytes'] / 1024:.1f} KiB |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="32x50,32,64,128,256")
    parser.add_argument("--containers", type=int, default=10)
    parser.add_argument("--plan-sizes", default="32,256,1000,5000")
    parser.add_argument("--out", default=str(REPO / "docs" / "benchmarks" / "fleet-scale.md"))
    parser.add_argument("--labs-from", help="the lab runs' JSON lines, as this script printed them, instead of measuring")
    opts = parser.parse_args()
    labs = []
    if opts.labs_from:
        labs = [json.loads(line) for line in pathlib.Path(opts.labs_from).read_text().splitlines() if line.startswith('{"hosts"')]
    for size in [] if opts.labs_from else opts.sizes.split(","):  # N (with --containers each) or NxC
        hosts, _x, containers = size.partition("x")
        labs.append(measure_lab(int(hosts), int(containers or opts.containers)))
    sizes = [plan_sizes(int(n), opts.containers) for n in opts.plan_sizes.split(",")]
    fitted = [r for r in labs if r["containers"] == opts.containers]
    fits = {kind: fit([(r["hosts"], r[kind]["wall"]) for r in fitted], squared=kind != "floor")
            for kind in ("floor", "first", "rerun")}
    pathlib.Path(opts.out).write_text(markdown(labs, sizes, fits))
    pathlib.Path(opts.out).with_suffix(".json").write_text(json.dumps({"labs": labs, "plans": sizes, "fits": fits,
                                                                       "forks": FORKS}, indent=1) + "\n")
    print(pathlib.Path(opts.out).read_text())


if __name__ == "__main__":
    main()
