"""Benchmarks: the bridge_network role against its peers (a script of `ip` commands, a playbook of `ip` commands in
loops, the CNI bridge plugin, netavark), and the fleet role from 1 to 32 hosts.

Everything runs inside lab hosts (namespace hosts over SSH, the linuxns.net.lab module's lab), never in this machine's own network
namespace. Each figure is the median of --repeats runs, with min and max; every method's network is checked
(a ping between two containers and to the gateway) before its time counts. Also measured: the peak memory of the
module at the largest N and of the controller at the largest fleet, and the Ansible settings that make fleets fast.

    make bench                      # the full run (about 40 minutes on 2 cores), published to docs/benchmarks/
    make bench-quick                # a CI-sized run (about 5 minutes): small sizes, one repeat, not published
"""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support import ansible_env, collections_root  # noqa: E402

sys.path.insert(0, str(collections_root()))
from ansible_collections.linuxns.net.plugins.module_utils._lab import Lab  # noqa: E402

ROLE_HOST, SCRIPT_HOST, CNI_HOST = "host1", "host2", "host3"
FULL = {"sizes": "10,50,100,250,500,1000", "repeats": 3, "peer_max": 250, "loop_sizes": "10,20", "fleet_hosts": "1,8,16,32",
        "overlay_hosts": 8, "settings_hosts": 32}
QUICK = {"sizes": "10,50", "repeats": 1, "peer_max": 50, "loop_sizes": "5,10", "fleet_hosts": "1,4", "overlay_hosts": 0,
         "settings_hosts": 0}
FORKS = 16  # the fleet rows' forks, as docs/docsite/rst/scale.rst recommends
GATEWAY, GATEWAY6 = "10.100.0.1", "fd42:100::1"
METHODS = [
    ("role_first", "bridge_network role, first run (ansible-playbook over SSH)"),
    ("role_rerun", "bridge_network role, re-run (changed=0)"),
    ("role_check", "bridge_network role, --check (changed=0)"),
    ("role_teardown", "bridge_network role, state: absent"),
    ("ports_first", "bridge_network role, one published port per container, first run"),
    ("ports_rerun", "bridge_network role, one published port per container, re-run (changed=0)"),
    ("dual_first", "bridge_network role, dual-stack (IPv4 + IPv6), first run"),
    ("dual_rerun", "bridge_network role, dual-stack (IPv4 + IPv6), re-run (changed=0)"),
    ("ip_script", "the same network as a script of ip/iptables commands"),
    ("ip_loops", "a playbook of ip commands in loops over the containers (seed 004's recipe; first run, a re-run fails)"),
    ("cni_add", "CNI bridge plugin (host-local, ipMasq): netns add + ADD per container"),
    ("cni_del", "CNI bridge plugin: DEL + netns del per container"),
    ("netavark_setup", "netavark (podman's network stack), bridge network, static IPs: netns add + setup per container"),
    ("netavark_teardown", "netavark: teardown + netns del per container"),
]


class BenchError(Exception):
    pass


def playbook(lab, path, *args, prefix=(), **env):
    start = time.monotonic()
    proc = subprocess.run([*prefix, "ansible-playbook", "-i", str(lab.inventory), str(REPO / path), *args], cwd=REPO,
                          capture_output=True, text=True, env=ansible_env(**env), check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        raise BenchError(f"ansible-playbook {path} {' '.join(args)} failed:\n{proc.stdout[-4000:]}{proc.stderr[-2000:]}")
    return elapsed, sum(int(n) for n in re.findall(r"changed=(\d+)", proc.stdout))


def timed_exec(lab, host, *argv):
    start = time.monotonic()
    lab.exec(host, *argv)
    return time.monotonic() - start


def verify(lab, host, n, family=4):
    """A working network: c1 reaches the gateway and (if there is one) c2, on that family."""
    targets = [GATEWAY if family == 4 else GATEWAY6]
    if n >= 2:
        out = lab.exec(host, "ip", "-n", "c2", f"-{family}", "-o", "addr", "show", "scope", "global").stdout.split()
        targets.insert(0, out[3].split("/")[0])
    for target in targets:
        if lab.exec(host, "ip", "netns", "exec", "c1", "ping", "-c", "1", "-W", "2", "-q", target, check=False).returncode:
            raise BenchError(f"{host}: c1 cannot reach {target}: that method did not build a working network")


def verify_clean(lab, host):
    left = lab.exec(host, "ip", "netns", "list").stdout.strip()
    if left or "br0" in lab.exec(host, "ip", "-br", "link").stdout:
        raise BenchError(f"{host}: teardown left {left or 'br0'}")


def bench_variant(lab, n, results, key, extra, check):
    """A variant of the role's network (published ports, dual-stack): first run (checked), re-run (changed=0),
    timed as <key>_first and <key>_rerun; then removed."""
    t, _changed = playbook(lab, "bench/playbooks/bridge.yml", *extra)
    verify(lab, ROLE_HOST, n)
    check()
    results[f"{key}_first"].setdefault(n, []).append(t)
    t, changed = playbook(lab, "bench/playbooks/bridge.yml", *extra)
    if changed:
        raise BenchError(f"{key} re-run at N={n} reported changed={changed}")
    results[f"{key}_rerun"].setdefault(n, []).append(t)
    playbook(lab, "bench/playbooks/bridge.yml", *extra, "-e", "state=absent")
    verify_clean(lab, ROLE_HOST)


def bench_single_host(lab, n, results, datadir, opts, memory=None):
    """Every method at N containers; memory (a file), if given, gets the module's peak memory of the first run."""
    extra = ("-l", ROLE_HOST, "-e", f"n={n}")
    more = ("-e", f"ansible_python_interpreter={memory}") if memory else ()
    t, changed = playbook(lab, "bench/playbooks/bridge.yml", *extra, *more)
    verify(lab, ROLE_HOST, n)
    results["role_first"].setdefault(n, []).append(t)
    for key, more in (("role_rerun", ()), ("role_check", ("--check",))):
        t, changed = playbook(lab, "bench/playbooks/bridge.yml", *extra, *more)
        if changed:
            raise BenchError(f"{key} at N={n} reported changed={changed}")
        results[key].setdefault(n, []).append(t)
    t, _changed = playbook(lab, "bench/playbooks/bridge.yml", *extra, "-e", "state=absent")
    verify_clean(lab, ROLE_HOST)
    results["role_teardown"].setdefault(n, []).append(t)

    if n <= opts.peer_max:
        def check_ports():
            dnat = lab.exec(ROLE_HOST, "nft", "list", "chain", "inet", "linuxns_net", "prerouting").stdout.count("dnat ip to")
            if dnat != n:
                raise BenchError(f"ports at N={n}: {dnat} DNAT rules, not {n}")
        bench_variant(lab, n, results, "ports", (*extra, "-e", "ports=true"), check_ports)
        bench_variant(lab, n, results, "dual", (*extra, "-e", "dual=true"), lambda: verify(lab, ROLE_HOST, n, family=6))

        results["ip_script"].setdefault(n, []).append(timed_exec(lab, SCRIPT_HOST, "bash", str(REPO / "bench/ip_script.sh"), str(n)))
        verify(lab, SCRIPT_HOST, n)
        lab.exec(SCRIPT_HOST, "bash", str(REPO / "bench/ip_script.sh"), str(n), "down")
        verify_clean(lab, SCRIPT_HOST)

    if n in opts.loop_sizes:
        t, _changed = playbook(lab, "bench/playbooks/ip_loops.yml", "-l", SCRIPT_HOST, "-e", f"n={n}")
        verify(lab, SCRIPT_HOST, n)
        results["ip_loops"].setdefault(n, []).append(t)
        lab.exec(SCRIPT_HOST, "bash", str(REPO / "bench/ip_script.sh"), str(n), "down")
        verify_clean(lab, SCRIPT_HOST)

    results["cni_add"].setdefault(n, []).append(timed_exec(lab, CNI_HOST, "bash", str(REPO / "bench/cni.sh"), str(n), "add", datadir))
    verify(lab, CNI_HOST, n)
    results["cni_del"].setdefault(n, []).append(timed_exec(lab, CNI_HOST, "bash", str(REPO / "bench/cni.sh"), str(n), "del", datadir))
    lab.exec(CNI_HOST, "ip", "link", "del", "br0")  # CNI DEL leaves the bridge, as runtimes expect
    verify_clean(lab, CNI_HOST)

    if n <= opts.peer_max and opts.netavark:
        confdir = f"{datadir}/netavark"
        results["netavark_setup"].setdefault(n, []).append(
            timed_exec(lab, CNI_HOST, "bash", str(REPO / "bench/netavark.sh"), str(n), "setup", confdir))
        verify(lab, CNI_HOST, n)
        results["netavark_teardown"].setdefault(n, []).append(
            timed_exec(lab, CNI_HOST, "bash", str(REPO / "bench/netavark.sh"), str(n), "teardown", confdir))
        lab.exec(CNI_HOST, "ip", "link", "del", "br0", check=False)  # as with CNI, the bridge may stay
        verify_clean(lab, CNI_HOST)


def fleet_limit(hosts):
    return ",".join(f"host{i}" for i in range(1, hosts + 1))


def bench_fleet(lab, hosts, containers, results, overlay=False, memory=None):
    """fleet.yml over the first hosts of the lab: host-gw (the lab is flat), or every pair over the VXLAN overlay.
    memory (a file), if given, gets the controller's peak memory of the first run."""
    extra = ("-l", fleet_limit(hosts), "-f", str(FORKS), "-e", f"containers_per_host={containers}", "-e", "cidr6=")  # IPv4
    if overlay:
        extra += ("-e", "fleet_network_mode=vxlan")
    prefix = (sys.executable, str(REPO / "bench/peak_rss.py")) if memory else ()
    first, _changed = playbook(lab, "playbooks/fleet.yml", *extra, prefix=prefix, **({"PEAK_RSS_FILE": memory} if memory else {}))
    if overlay and "vxlan.fleet" not in lab.exec("host1", "ip", "-br", "link").stdout:
        raise BenchError(f"overlay fleet of {hosts}: host1 has no VXLAN device")
    for host in {"host1", f"host{hosts}"}:
        target = "10.244.1.2" if host == "host1" and hosts > 1 else "10.244.0.1"
        if lab.exec(host, "ip", "netns", "exec", "app1", "ping", "-c", "1", "-W", "2", "-q", target, check=False).returncode:
            raise BenchError(f"fleet of {hosts}: {host}'s app1 cannot reach {target}")
    rerun, changed = playbook(lab, "playbooks/fleet.yml", *extra)
    if changed:
        raise BenchError(f"fleet of {hosts}: re-run reported changed={changed}")
    playbook(lab, "playbooks/teardown.yml", *extra)
    kind = "overlay" if overlay else "fleet"
    results.setdefault(f"{kind}_{hosts}_first", []).append(first)
    results.setdefault(f"{kind}_{hosts}_rerun", []).append(rerun)


SETTINGS = [
    ("Ansible's defaults: forks 5, no pipelining", ("-f", "5", "-e", "ansible_pipelining=false")),
    ("pipelining", ("-f", "5")),
    ("pipelining, forks 16", ("-f", "16")),
    ("pipelining, forks 32", ("-f", "32")),
]


def bench_settings(lab, hosts, containers, settings):
    """The fleet's first run under each Ansible setting, and what gathering facts would add."""
    for label, args in SETTINGS:
        extra = ("-l", fleet_limit(hosts), "-e", f"containers_per_host={containers}", "-e", "cidr6=", *args)
        first, _changed = playbook(lab, "playbooks/fleet.yml", *extra)
        playbook(lab, "playbooks/teardown.yml", *extra)
        settings.setdefault(label, []).append(first)
    start = time.monotonic()
    proc = subprocess.run(["ansible", "-i", str(lab.inventory), "-f", "16", "-m", "ansible.builtin.setup", fleet_limit(hosts)],
                          cwd=REPO, capture_output=True, text=True, env=ansible_env(), check=False)
    if proc.returncode:
        raise BenchError(f"gathering facts failed:\n{proc.stdout[-2000:]}")
    settings.setdefault("what gather_facts: true adds (the setup module on every host, forks 16)", []).append(
        time.monotonic() - start)


def slope(points):
    """Least-squares slope of (n, seconds): the marginal cost per container, in ms."""
    xs, ys = zip(*points)
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return 1000 * sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x in xs)


def summarize(results, sizes):
    rows = {}
    for key, _label in METHODS:
        per_n = {n: (statistics.median(v), min(v), max(v)) for n, v in results[key].items()}
        rows[key] = {"per_n": per_n, "slope_ms": slope([(n, per_n[n][0]) for n in sizes]) if len(sizes) > 1 else None}
    return rows


def targets(rows, fleet, sizes):
    def med(key, n):
        return rows[key]["per_n"][n][0] if n in rows[key]["per_n"] else None
    out = []

    def add(text, measured, ok):
        out.append((text, measured, "met" if ok else "MISSED"))
    add("role first run: marginal cost <= 8 ms/container", f"{rows['role_first']['slope_ms']:.1f} ms", rows["role_first"]["slope_ms"] <= 8)
    for key in ("role_rerun", "role_check"):
        add(f"{key.replace('role_', 'role ')}: marginal cost <= 4 ms/container", f"{rows[key]['slope_ms']:.1f} ms", rows[key]["slope_ms"] <= 4)
    if 250 in sizes:
        add("role first run at N=250 faster than CNI's 250 ADDs", f"{med('role_first', 250):.2f} s vs {med('cni_add', 250):.2f} s",
            med("role_first", 250) < med("cni_add", 250))
        for key in ("role_rerun", "role_check"):
            add(f"{key.replace('role_', 'role ')} at N=250 under 4 s", f"{med(key, 250):.2f} s", med(key, 250) < 4)
        add("teardown of N=250 under 3 s", f"{med('role_teardown', 250):.2f} s", med("role_teardown", 250) < 3)
        add("one published port per container: first run at N=250 within 1.5 x the same without ports",
            f"{med('ports_first', 250):.2f} s vs {med('role_first', 250):.2f} s", med("ports_first", 250) <= 1.5 * med("role_first", 250))
        add("one published port per container: re-run at N=250 within 1.5 x the same without ports",
            f"{med('ports_rerun', 250):.2f} s vs {med('role_rerun', 250):.2f} s", med("ports_rerun", 250) <= 1.5 * med("role_rerun", 250))
        for kind in ("first", "rerun"):
            add(f"dual-stack: {'first run' if kind == 'first' else 're-run'} at N=250 within 1.5 x IPv4-only",
                f"{med('dual_' + kind, 250):.2f} s vs {med('role_' + kind, 250):.2f} s",
                med("dual_" + kind, 250) <= 1.5 * med("role_" + kind, 250))
    if 100 in sizes:
        add("role first run at N=100 no slower than 1.3 x CNI", f"{med('role_first', 100):.2f} s vs {1.3 * med('cni_add', 100):.2f} s",
            med("role_first", 100) <= 1.3 * med("cni_add", 100))
    if "overlay_8_first" in fleet and "fleet_8_first" in fleet:
        add("fleet 8 hosts x 50 over the VXLAN overlay: first run within 1.2 x host-gw",
            f"{fleet['overlay_8_first'][0]:.2f} s vs {fleet['fleet_8_first'][0]:.2f} s",
            fleet["overlay_8_first"][0] <= 1.2 * fleet["fleet_8_first"][0])
    if "fleet_8_first" in fleet and 50 in sizes:
        add("fleet 8 hosts x 50: first run under 3 x single-host N=50", f"{fleet['fleet_8_first'][0]:.2f} s vs "
            f"{3 * med('role_first', 50):.2f} s", fleet["fleet_8_first"][0] < 3 * med("role_first", 50))
    return out


def markdown(rows, fleet, sizes, meta, checks):
    lines = [f"# Benchmark results ({meta['date']})", "",
             f"Machine: {meta['machine']}. Each figure: median of {meta['repeats']} runs (min-max), in seconds, "
             "wall time of the whole command, inside lab hosts.", "",
             "| method | " + " | ".join(f"N={n}" for n in sizes) + " | ms per container (slope) |",
             "|---|" + "---|" * len(sizes) + "---|"]
    for key, label in METHODS:
        cells = [f"{m:.2f} ({lo:.2f}-{hi:.2f})" for m, lo, hi in (rows[key]["per_n"][n] for n in sizes)]
        s = rows[key]["slope_ms"]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {'' if s is None else f'{s:.1f}'} |")
    if fleet:
        lines += ["", "| fleet_network role | first run | re-run (changed=0) |", "|---|---|---|"]
        for kind, hosts in sorted({(k.split("_")[0], int(k.split("_")[1])) for k in fleet}):
            cells = []
            for run in ("first", "rerun"):
                v = fleet[f"{kind}_{hosts}_{run}"]
                cells.append(f"{statistics.median(v):.2f} ({min(v):.2f}-{max(v):.2f})")
            how = "host-gw" if kind == "fleet" else "VXLAN overlay (fleet_network_mode: vxlan)"
            lines.append(f"| {hosts} hosts x {meta['fleet_containers']} containers, {how} | " + " | ".join(cells) + " |")
    lines += ["", "| target | measured | |", "|---|---|---|"] + [f"| {t} | {m} | {ok} |" for t, m, ok in checks]
    return "\n".join(lines) + "\n"


def plot(rows, sizes, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(9, 5.5))
    for key, label in METHODS:
        ax.plot(sizes, [rows[key]["per_n"][n][0] for n in sizes], marker="o", label=label)
    ax.set_xlabel("containers on one host (N)")
    ax.set_ylabel("wall time, seconds (median)")
    ax.set_title("Building a Docker-style bridge network: linuxns.net vs ip script vs CNI bridge")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,50,100,250")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fleet-hosts", default="3,8")
    parser.add_argument("--fleet-containers", type=int, default=50)
    parser.add_argument("--overlay-hosts", type=int, default=8, help="hosts of the overlay fleet row (0: none)")
    parser.add_argument("--out", default=None, help="results folder (default bench/results/<time>)")
    parser.add_argument("--publish", action="store_true", help="also copy the table and plot to docs/benchmarks/")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    fleet_hosts = [int(h) for h in args.fleet_hosts.split(",") if h]
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = pathlib.Path(args.out or REPO / "bench" / "results" / stamp)
    out.mkdir(parents=True, exist_ok=True)

    lab = Lab("lnbench")
    lab.up(max([3, args.overlay_hosts] + fleet_hosts))
    results = {key: {} for key, _label in METHODS}
    fleet = {}
    datadir = tempfile.mkdtemp(prefix="linuxns-bench-cni-")
    try:
        for repeat in range(args.repeats):
            for n in sizes:
                print(f"run {repeat + 1}/{args.repeats}, N={n}", flush=True)
                bench_single_host(lab, n, results, datadir)
            for hosts in fleet_hosts:
                print(f"run {repeat + 1}/{args.repeats}, fleet of {hosts} x {args.fleet_containers}", flush=True)
                bench_fleet(lab, hosts, args.fleet_containers, fleet)
            if args.overlay_hosts:
                print(f"run {repeat + 1}/{args.repeats}, overlay fleet of {args.overlay_hosts} x {args.fleet_containers}", flush=True)
                bench_fleet(lab, args.overlay_hosts, args.fleet_containers, fleet, overlay=True)
    finally:
        lab.down()
        shutil.rmtree(datadir, ignore_errors=True)

    rows = summarize(results, sizes)
    meta = {"date": stamp, "repeats": args.repeats, "fleet_containers": args.fleet_containers,
            "machine": f"{subprocess.run(['nproc'], capture_output=True, text=True, check=True).stdout.strip()} cores, "
                       f"kernel {subprocess.run(['uname', '-r'], capture_output=True, text=True, check=True).stdout.strip()}"}
    checks = targets(rows, {k: [statistics.median(v)] for k, v in fleet.items()}, sizes)
    (out / "results.json").write_text(json.dumps({"meta": meta, "raw": {k: {str(n): v for n, v in r.items()}
                                                                        for k, r in results.items()}, "fleet": fleet}, indent=2))
    (out / "results.md").write_text(markdown(rows, fleet, sizes, meta, checks))
    plot(rows, sizes, out / "plot.png")
    print((out / "results.md").read_text())
    if args.publish:
        docs = REPO / "docs" / "benchmarks"
        docs.mkdir(parents=True, exist_ok=True)
        shutil.copy(out / "results.md", docs / "results.md")
        shutil.copy(out / "plot.png", docs / "plot.png")
        shutil.copy(out / "results.json", docs / "results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
