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
from ansible_collections.linuxns.net.plugins.module_utils._lab.lab import Lab  # noqa: E402

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
    ("ports_repair", "bridge_network role, one published port per container, re-run after one DNAT rule was deleted by hand (changed=1)"),
    ("dual_first", "bridge_network role, dual-stack (IPv4 + IPv6), first run"),
    ("dual_rerun", "bridge_network role, dual-stack (IPv4 + IPv6), re-run (changed=0)"),
    ("icc_first", "bridge_network role, ICC off (ports isolated), first run"),
    ("icc_rerun", "bridge_network role, ICC off, re-run (changed=0)"),
    ("allow_first", "bridge_network role, one allow-listed published port per container, first run"),
    ("allow_rerun", "bridge_network role, one allow-listed published port per container, re-run (changed=0)"),
    ("policy_first", "bridge_network role, five ingress policy rules per container, first run"),
    ("policy_rerun", "bridge_network role, five ingress policy rules per container, re-run (changed=0)"),
    ("names_first", "bridge_network role, two aliases and a resolver (dns) per container, first run"),
    ("names_rerun", "bridge_network role, two aliases and a resolver per container, re-run (changed=0)"),
    ("bandwidth_first", "bridge_network role, an ingress and an egress limit per container (tbf, ifb), first run"),
    ("bandwidth_rerun", "bridge_network role, an ingress and an egress limit per container, re-run (changed=0)"),
    ("stats_read", "metrics_textfile: reading every counter (links, conntrack, drops) of N containers, the module's own time"),
    ("stats_playbook", "metrics_textfile: the whole playbook (one module call) writing the Prometheus textfile"),
    ("stats_policy_read", "metrics_textfile: the same with five policy rules per container (a drop counter each to read), module time"),
    ("persist_first", "bridge_network role, persist (saved, boot unit installed), first run"),
    ("persist_rerun", "bridge_network role, persist, re-run (changed=0)"),
    ("persist_reboot", "a lab host's reboot with the persisted network: processes killed, host back, boot unit rebuilds it"),
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


def verify(lab, host, n, family=4, peer=True):
    """A working network: c1 reaches the gateway and (if there is one, and peer) c2, on that family."""
    targets = [GATEWAY if family == 4 else GATEWAY6]
    if n >= 2 and peer:
        out = lab.exec(host, "ip", "-n", "c2", f"-{family}", "-o", "addr", "show", "scope", "global").stdout.split()
        targets.insert(0, out[3].split("/")[0])
    for target in targets:
        # 3 echoes, one answer is enough: a first one can go unanswered on a large bridge (seen with CNI at N=500)
        if lab.exec(host, "ip", "netns", "exec", "c1", "ping", "-c", "3", "-i", "0.5", "-W", "2", "-q", target,
                    check=False).returncode:
            raise BenchError(f"{host}: c1 cannot reach {target}: that method did not build a working network")


def verify_clean(lab, host):
    left = lab.exec(host, "ip", "netns", "list").stdout.strip()
    if left or "br0" in lab.exec(host, "ip", "-br", "link").stdout:
        raise BenchError(f"{host}: teardown left {left or 'br0'}")


def bench_variant(lab, n, results, key, extra, check, repair=None, peer=True):
    """A variant of the role's network (published ports, dual-stack): first run (checked), re-run (changed=0),
    timed as <key>_first and <key>_rerun; with repair (a change by hand), the run that repairs it, as <key>_repair;
    then removed."""
    t, _changed = playbook(lab, "bench/playbooks/bridge.yml", *extra)
    verify(lab, ROLE_HOST, n, peer=peer)
    check()
    results[f"{key}_first"].setdefault(n, []).append(t)
    t, changed = playbook(lab, "bench/playbooks/bridge.yml", *extra)
    if changed:
        raise BenchError(f"{key} re-run at N={n} reported changed={changed}")
    results[f"{key}_rerun"].setdefault(n, []).append(t)
    if repair is not None:
        repair()  # drift by hand: the next run must find it and restore it
        t, changed = playbook(lab, "bench/playbooks/bridge.yml", *extra)
        if changed != 1:
            raise BenchError(f"{key} repair at N={n} reported changed={changed}, not 1")
        check()
        results[f"{key}_repair"].setdefault(n, []).append(t)
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

        def delete_one_dnat():
            listing = lab.exec(ROLE_HOST, "nft", "-a", "list", "chain", "inet", "linuxns_net", "prerouting").stdout
            handle = next(line.split()[-1] for line in listing.splitlines() if "dnat ip to" in line)
            lab.exec(ROLE_HOST, "nft", "delete", "rule", "inet", "linuxns_net", "prerouting", "handle", handle)
        bench_variant(lab, n, results, "ports", (*extra, "-e", "ports=true"), check_ports, delete_one_dnat)
        bench_variant(lab, n, results, "dual", (*extra, "-e", "dual=true"), lambda: verify(lab, ROLE_HOST, n, family=6))
        bench_access(lab, n, results, extra)
        bench_persist(lab, n, results, extra)

        results["ip_script"].setdefault(n, []).append(timed_exec(lab, SCRIPT_HOST, "bash", str(REPO / "bench/ip_script.sh"), str(n)))
        verify(lab, SCRIPT_HOST, n)
        lab.exec(SCRIPT_HOST, "bash", str(REPO / "bench/ip_script.sh"), str(n), "down")
        verify_clean(lab, SCRIPT_HOST)

    bench_names_and_bandwidth(lab, n, results, extra)
    if n in opts.loop_sizes:
        bench_loops(lab, n, results)

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


def bench_access(lab, n, results, extra):
    """Who may talk to whom at N containers: ICC off, an allow-listed port each, five policy rules each."""
    def check_isolated():
        ports = json.loads(lab.exec(ROLE_HOST, "bridge", "-j", "-d", "link", "show").stdout)
        if sum(1 for p in ports if p.get("master") == "br0" and p.get("isolated")) != n:
            raise BenchError(f"icc at N={n}: not every port of br0 is isolated")

    def check_allow_lists():
        rules = lab.exec(ROLE_HOST, "nft", "list", "chain", "inet", "linuxns_net", "prerouting").stdout
        if sum("ip saddr 198.51.100.0/24" in line and "dnat ip to" in line for line in rules.splitlines()) != n:
            raise BenchError(f"allow at N={n}: not {n} allow-listed DNAT rules")

    def check_policy():
        for name in ("c1", f"c{n}"):
            table = lab.exec(ROLE_HOST, "ip", "netns", "exec", name, "nft", "list", "table", "inet", "linuxns_net_policy").stdout
            if table.count("accept") < 4 or "drop" not in table:
                raise BenchError(f"policy at N={n}: {name} has no policy table")
        measure_stats(lab, n, results, "stats_policy")
    bench_variant(lab, n, results, "icc", (*extra, "-e", "icc=false"), check_isolated, peer=False)
    bench_variant(lab, n, results, "allow", (*extra, "-e", "allow=true"), check_allow_lists)
    bench_variant(lab, n, results, "policy", (*extra, "-e", "policy=true"), check_policy, peer=False)


def measure_stats(lab, n, results, key):
    """The metrics textfile of the network that is up: the module's reading time and the playbook's, its series."""
    start = time.monotonic()
    proc = subprocess.run(["ansible-playbook", "-i", str(lab.inventory), str(REPO / "bench/playbooks/metrics.yml"),
                           "-e", f"target={ROLE_HOST}"], cwd=REPO, capture_output=True, text=True, env=ansible_env(),
                          check=False)
    elapsed = time.monotonic() - start
    found = re.search(r"READ_SECONDS ([0-9.]+) SERIES (\d+)", proc.stdout)
    if proc.returncode != 0 or not found:
        raise BenchError(f"metrics at N={n} failed:\n{proc.stdout[-3000:]}{proc.stderr[-1000:]}")
    if int(found.group(2)) < 10 * n:  # ten link series per container end at least
        raise BenchError(f"metrics at N={n}: {found.group(2)} series for {n} containers")
    results[f"{key}_read"].setdefault(n, []).append(float(found.group(1)))
    if key == "stats":
        results["stats_playbook"].setdefault(n, []).append(elapsed)


def bench_names_and_bandwidth(lab, n, results, extra):
    """Two aliases and a resolver per container, and an ingress and an egress limit per container: at every size
    (the issue's target is at N=1,000)."""
    def check_names():
        hosts = lab.exec(ROLE_HOST, "cat", f"/etc/netns/c{n}/hosts").stdout
        resolv = lab.exec(ROLE_HOST, "cat", f"/etc/netns/c{n}/resolv.conf").stdout
        if f"web{n}.bench" not in hosts or "nameserver 10.100.0.1" not in resolv:
            raise BenchError(f"names at N={n}: c{n}'s hosts file or resolver is not as asked")
        measure_stats(lab, n, results, "stats")  # the counters of a network of n containers, at every size
    bench_variant(lab, n, results, "names", (*extra, "-e", "names=true"), check_names)

    def check_bandwidth():
        tbf = lab.exec(ROLE_HOST, "tc", "qdisc", "show").stdout.count("qdisc tbf")
        if tbf != 2 * n:
            raise BenchError(f"bandwidth at N={n}: {tbf} token buckets, not {2 * n} (one each way per container)")
    bench_variant(lab, n, results, "bandwidth", (*extra, "-e", "bandwidth=true"), check_bandwidth)


def bench_persist(lab, n, results, extra):
    """A network that survives a reboot: first run and re-run with persist, then a reboot of its host (the boot
    unit rebuilds it), after which the network works and the next run changes nothing."""
    persist = (*extra, "-e", "persist=true")

    def reboot():
        start = time.monotonic()
        booted = lab.reboot(ROLE_HOST)
        results["persist_reboot"].setdefault(n, []).append(time.monotonic() - start)
        if booted != {"linuxns-net@bench.service": "done"}:
            raise BenchError(f"persist at N={n}: the boot ran {booted}")
        verify(lab, ROLE_HOST, n)
        _t, changed = playbook(lab, "bench/playbooks/bridge.yml", *persist)
        if changed:
            raise BenchError(f"persist at N={n}: the first run after the reboot reported changed={changed}")
    bench_variant(lab, n, results, "persist", persist, reboot)


def bench_loops(lab, n, results):
    """The playbook of ip commands in loops (first run), torn down by the ip script."""
    t, _changed = playbook(lab, "bench/playbooks/ip_loops.yml", "-l", SCRIPT_HOST, "-e", f"n={n}")
    verify(lab, SCRIPT_HOST, n)
    results["ip_loops"].setdefault(n, []).append(t)
    lab.exec(SCRIPT_HOST, "bash", str(REPO / "bench/ip_script.sh"), str(n), "down")
    verify_clean(lab, SCRIPT_HOST)


def fleet_limit(hosts):
    """The first hosts of the lab, as a pattern: fleet.yml's target (the fleet), not a --limit (a part of it)."""
    return ",".join(f"host{i}" for i in range(1, hosts + 1))


def bench_fleet(lab, hosts, containers, results, overlay=False, memory=None, names=True):
    """fleet.yml over the first hosts of the lab: host-gw (the lab is flat), or every pair over the VXLAN overlay.
    memory (a file), if given, gets the controller's peak memory of the first run. names=False: without the
    fleet's names (each container's hosts file holds its own host's only), as rows nonames_<hosts>_*."""
    extra = ("-e", f"target={fleet_limit(hosts)}", "-f", str(FORKS), "-e", f"containers_per_host={containers}", "-e", "cidr6=")  # IPv4
    if not names:
        extra += ("-e", "fleet_network_names=false")
    if overlay:
        extra += ("-e", "fleet_network_mode=vxlan")
    prefix = (sys.executable, str(REPO / "bench/peak_rss.py")) if memory else ()
    first, _changed = playbook(lab, "playbooks/fleet.yml", *extra, prefix=prefix, **({"PEAK_RSS_FILE": memory} if memory else {}))
    if overlay and "vxlan.fleet" not in lab.exec("host1", "ip", "-br", "link").stdout:
        raise BenchError(f"overlay fleet of {hosts}: host1 has no VXLAN device")
    for host in dict.fromkeys(("host1", f"host{hosts}")):
        target = "10.244.1.2" if host == "host1" and hosts > 1 else "10.244.0.1"
        if lab.exec(host, "ip", "netns", "exec", "app1", "ping", "-c", "1", "-W", "2", "-q", target, check=False).returncode:
            raise BenchError(f"fleet of {hosts}: {host}'s app1 cannot reach {target}")
    if names and hosts > 1:
        listed = lab.exec(f"host{hosts}", "cat", "/etc/netns/app1/hosts").stdout
        if f"app{containers}.host1" not in listed:
            raise BenchError(f"fleet of {hosts}: host{hosts}'s app1 does not resolve app{containers}.host1")
    rerun, changed = playbook(lab, "playbooks/fleet.yml", *extra)
    if changed:
        raise BenchError(f"fleet of {hosts}: re-run reported changed={changed}")
    playbook(lab, "playbooks/teardown.yml", *extra)
    kind = "overlay" if overlay else "fleet" if names else "nonames"
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
        extra = ("-e", f"target={fleet_limit(hosts)}", "-e", f"containers_per_host={containers}", "-e", "cidr6=", *args)
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
    """Least-squares slope of (x, seconds), in ms per unit of x (None with fewer than two points)."""
    if len(points) < 2:
        return None
    xs, ys = zip(*points)
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return 1000 * sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x in xs)


def summarize(results):
    rows = {}
    for key, _label in METHODS:
        per_n = {n: (statistics.median(v), min(v), max(v)) for n, v in sorted(results[key].items())}
        rows[key] = {"per_n": per_n, "slope_ms": slope([(n, m) for n, (m, _lo, _hi) in per_n.items()])}
    return rows


def fleet_curve(fleet, run):
    """(hosts, median seconds) of the host-gw fleet rows, and the fitted seconds per added host."""
    points = sorted((int(k.split("_")[1]), statistics.median(v)) for k, v in fleet.items()
                    if k.startswith("fleet_") and k.endswith(f"_{run}"))
    per_host = slope(points)
    return points, None if per_host is None else per_host / 1000


def module_calls_per_host():
    """The fleet_network role's tasks that run a module on the hosts (not the controller's set_fact)."""
    text = (REPO / "roles/fleet_network/tasks/main.yml").read_text()
    return len([m for m in re.findall(r"^  (linuxns\.net\.\w+|ansible\.builtin\.\w+):", text, re.M) if m != "ansible.builtin.set_fact"])


def targets(rows, fleet, memory):
    def med(key, n):
        return rows[key]["per_n"][n][0] if n in rows[key]["per_n"] else None
    out = []

    def add(text, measured, ok):
        out.append((text, measured, "met" if ok else "MISSED"))
    if rows["role_first"]["slope_ms"] is not None:  # a slope needs two sizes
        add("one host, first run: <= 5 ms per container (slope)", f"{rows['role_first']['slope_ms']:.1f} ms",
            rows["role_first"]["slope_ms"] <= 5)
        for key in ("role_rerun", "role_check"):
            add(f"one host, {'re-run' if key == 'role_rerun' else '--check'}: <= 3 ms per container (slope), changed=0",
                f"{rows[key]['slope_ms']:.1f} ms", rows[key]["slope_ms"] <= 3)
    if med("role_first", 1000) is not None:
        for key, limit in (("role_first", 8), ("role_rerun", 5), ("role_check", 5), ("role_teardown", 5)):
            add(f"N=1,000: {key.replace('role_', '')} <= {limit} s", f"{med(key, 1000):.2f} s", med(key, 1000) <= limit)
        add("N=1,000: first run against CNI's 1,000 ADDs (ratio)", f"{med('role_first', 1000):.2f} s vs "
            f"{med('cni_add', 1000):.2f} s ({med('cni_add', 1000) / med('role_first', 1000):.1f} x faster)",
            med("role_first", 1000) < med("cni_add", 1000))
    if med("role_first", 250) is not None and med("ports_first", 250) is not None:
        add("role first run at N=250 faster than CNI's 250 ADDs", f"{med('role_first', 250):.2f} s vs {med('cni_add', 250):.2f} s",
            med("role_first", 250) < med("cni_add", 250))
        if med("netavark_setup", 250) is not None:
            add("role first run at N=250 faster than netavark's 250 setups",
                f"{med('role_first', 250):.2f} s vs {med('netavark_setup', 250):.2f} s", med("role_first", 250) < med("netavark_setup", 250))
        for kind, label, limit in (("ports", "one published port per container", 1.5), ("dual", "dual-stack (IPv4 + IPv6)", 1.5),
                                   ("icc", "ICC off", 1.3), ("allow", "one allow-listed port per container", 1.3),
                                   ("policy", "five policy rules per container", 1.3), ("persist", "persist", 1.3),
                                   ("names", "two aliases and a resolver per container", 1.3),
                                   ("bandwidth", "an ingress and an egress limit per container", 1.5)):
            for run in ("first", "rerun"):
                if med(kind + "_" + run, 250) is None:
                    continue
                add(f"{label}: {'first run' if run == 'first' else 're-run'} at N=250 within {limit} x the plain network",
                    f"{med(kind + '_' + run, 250):.2f} s vs {med('role_' + run, 250):.2f} s",
                    med(kind + "_" + run, 250) <= limit * med("role_" + run, 250))
    calls = module_calls_per_host()
    add("fleet_network: at most 2 module calls per host", f"{calls} (netns_info, container_network)", calls <= 2)
    points, per_host = fleet_curve(fleet, "first")
    if per_host is not None:
        add("fleet: first run, <= 0.6 s per added host (slope, 50 containers each)", f"{per_host:.2f} s", per_host <= 0.6)
    for run, limit in (("first", 25), ("rerun", 20)):
        if "fleet_32_" + run in fleet:
            value = statistics.median(fleet["fleet_32_" + run])
            add(f"fleet of 32 hosts x 50: {'first run' if run == 'first' else 're-run (changed=0)'} <= {limit} s",
                f"{value:.2f} s", value <= limit)
    if med("stats_read", 1000) is not None:
        add("N=1,000: reading every counter (metrics_textfile) under 1 s of module time",
            f"{med('stats_read', 1000):.2f} s (the playbook: {med('stats_playbook', 1000):.2f} s)", med("stats_read", 1000) < 1)
    if med("names_first", 1000) is not None:
        for run in ("first", "rerun"):
            add(f"N=1,000 with two aliases and a resolver each: {run} within 1.3 x without",
                f"{med('names_' + run, 1000):.2f} s vs {med('role_' + run, 1000):.2f} s",
                med("names_" + run, 1000) <= 1.3 * med("role_" + run, 1000))
    largest = max((int(k.split("_")[1]) for k in fleet if k.startswith("nonames_")), default=None)
    if largest is not None and f"fleet_{largest}_first" in fleet:
        for run in ("first", "rerun"):
            named, plain = statistics.median(fleet[f"fleet_{largest}_{run}"]), statistics.median(fleet[f"nonames_{largest}_{run}"])
            add(f"fleet of {largest} hosts: names across the fleet, {run} within 1.3 x without",
                f"{named:.2f} s vs {plain:.2f} s", named <= 1.3 * plain)
    if "overlay_8_first" in fleet and "fleet_8_first" in fleet:
        over, flat = statistics.median(fleet["overlay_8_first"]), statistics.median(fleet["fleet_8_first"])
        add("fleet 8 hosts x 50 over the VXLAN overlay: first run within 1.2 x host-gw", f"{over:.2f} s vs {flat:.2f} s",
            over <= 1.2 * flat)
    for what, value in memory.items():
        out.append((f"peak memory: {what}", f"{value:.0f} MiB", "reported"))
    return out


def cell(per_n, n):
    if n not in per_n:
        return "-"
    m, lo, hi = per_n[n]
    return f"{m:.2f} ({lo:.2f}-{hi:.2f})"


def markdown(rows, fleet, settings, sizes, meta, checks):
    lines = [f"# Benchmark results ({meta['date']})", "",
             f"Machine: {meta['machine']}. Each figure: median of {meta['repeats']} runs (min-max), in seconds, "
             "wall time of the whole command, inside lab hosts. A dash: not run at that size (the slower peers run up to "
             f"N={meta['peer_max']}, the loop playbook at N={meta['loop_sizes']}).", "",
             "| method | " + " | ".join(f"N={n}" for n in sizes) + " | ms per container (slope) |",
             "|---|" + "---|" * len(sizes) + "---|"]
    for key, label in METHODS:
        if not rows[key]["per_n"]:
            continue
        s = rows[key]["slope_ms"]
        lines.append(f"| {label} | " + " | ".join(cell(rows[key]["per_n"], n) for n in sizes) + f" | {'' if s is None else f'{s:.1f}'} |")
    if fleet:
        lines += ["", f"| fleet_network role, {meta['fleet_containers']} containers per host, forks {FORKS} | first run | "
                  "re-run (changed=0) |", "|---|---|---|"]
        for kind, hosts in sorted({(k.split("_")[0], int(k.split("_")[1])) for k in fleet}):
            cells = [cell({0: (statistics.median(v), min(v), max(v))}, 0) for v in (fleet[f"{kind}_{hosts}_{run}"] for run in ("first", "rerun"))]
            how = {"fleet": "host-gw", "nonames": "host-gw, without the fleet's names (fleet_network_names: false)"}.get(
                kind, "VXLAN overlay (fleet_network_mode: vxlan)")
            lines.append(f"| {hosts} host{'s' if hosts > 1 else ''}, {how} | " + " | ".join(cells) + " |")
        slopes = [fleet_curve(fleet, run)[1] for run in ("first", "rerun")]
        if slopes[0] is not None:
            lines.append("| seconds per added host (slope) | " + " | ".join(f"{v:.2f}" for v in slopes) + " |")
    if settings:
        lines += ["", f"| Ansible settings, fleet of {meta['settings_hosts']} hosts x {meta['fleet_containers']}, first run "
                  "| seconds |", "|---|---|"]
        lines += [f"| {label} | {cell({0: (statistics.median(v), min(v), max(v))}, 0)} |" for label, v in settings.items()]
    lines += ["", "| target | measured | |", "|---|---|---|"] + [f"| {t} | {m} | {ok} |" for t, m, ok in checks]
    return "\n".join(lines) + "\n"


def plot(rows, fleet, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5.5))
    for key, label in METHODS:
        points = [(n, m) for n, (m, _lo, _hi) in rows[key]["per_n"].items()]
        if points:
            left.plot(*zip(*points), marker="o", label=label)
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("containers on one host (N)")
    left.set_ylabel("wall time, seconds (median)")
    left.set_title("One host: linuxns.net against its peers")
    left.grid(True, alpha=0.3, which="both")
    left.legend(fontsize=7)
    for run, label in (("first", "first run"), ("rerun", "re-run (changed=0)")):
        points, _per_host = fleet_curve(fleet, run)
        if points:
            right.plot(*zip(*points), marker="o", label=f"fleet_network, {label}")
    right.set_xlabel("hosts in the fleet (50 containers each)")
    right.set_ylabel("wall time, seconds (median)")
    right.set_title("A fleet: the fleet_network role")
    right.grid(True, alpha=0.3)
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def memory_wrapper(out):
    """An interpreter for the hosts that records the module's peak memory in out/module_rss."""
    wrapper = out / "python-peak-rss"
    wrapper.write_text(f"#!/bin/sh\nPEAK_RSS_FILE={out / 'module_rss'} exec {sys.executable} {REPO / 'bench/peak_rss.py'} "
                       f"{sys.executable} \"$@\"\n")
    wrapper.chmod(0o755)
    return wrapper


def peak(path):
    try:
        return max(float(v) for v in path.read_text().split())
    except (OSError, ValueError):
        return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a CI-sized run: " + ", ".join(f"{k} {v}" for k, v in QUICK.items()))
    parser.add_argument("--sizes")
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--peer-max", type=int, help="largest N for the ip script, netavark and the port/dual variants")
    parser.add_argument("--loop-sizes", help="the sizes of the ip-loops playbook (about 2 s per container)")
    parser.add_argument("--fleet-hosts")
    parser.add_argument("--fleet-containers", type=int, default=50)
    parser.add_argument("--overlay-hosts", type=int, help="hosts of the overlay fleet row (0: none)")
    parser.add_argument("--settings-hosts", type=int, help="hosts of the Ansible settings rows (0: none)")
    parser.add_argument("--out", default=None, help="results folder (default bench/results/<time>)")
    parser.add_argument("--publish", action="store_true", help="also copy the table and plot to docs/benchmarks/")
    args = parser.parse_args()
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    args.loop_sizes = [int(s) for s in args.loop_sizes.split(",") if s]
    args.netavark = pathlib.Path("/usr/lib/podman/netavark").exists()
    fleet_hosts = [int(h) for h in args.fleet_hosts.split(",") if h]
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = pathlib.Path(args.out or REPO / "bench" / "results" / stamp)
    out.mkdir(parents=True, exist_ok=True)
    wrapper = memory_wrapper(out)
    controller_rss = out / "controller_rss"

    lab = Lab("lnbench")
    lab.up(max([3, args.overlay_hosts, args.settings_hosts] + fleet_hosts))
    results = {key: {} for key, _label in METHODS}
    fleet, settings = {}, {}
    datadir = tempfile.mkdtemp(prefix="linuxns-bench-cni-")
    try:
        for repeat in range(args.repeats):
            last = repeat == args.repeats - 1
            for n in sorted(set(sizes) | set(args.loop_sizes)):
                print(f"run {repeat + 1}/{args.repeats}, N={n}", flush=True)
                if n in sizes:
                    bench_single_host(lab, n, results, datadir, args, memory=wrapper if last and n == sizes[-1] else None)
                else:  # a size of the loop playbook only
                    bench_loops(lab, n, results)
            for hosts in fleet_hosts:
                print(f"run {repeat + 1}/{args.repeats}, fleet of {hosts} x {args.fleet_containers}", flush=True)
                bench_fleet(lab, hosts, args.fleet_containers, fleet,
                            memory=str(controller_rss) if last and hosts == fleet_hosts[-1] else None)
            if fleet_hosts and fleet_hosts[-1] > 1:  # the largest fleet again without its names: what the names cost
                bench_fleet(lab, fleet_hosts[-1], args.fleet_containers, fleet, names=False)
            if args.overlay_hosts:
                print(f"run {repeat + 1}/{args.repeats}, overlay fleet of {args.overlay_hosts} x {args.fleet_containers}", flush=True)
                bench_fleet(lab, args.overlay_hosts, args.fleet_containers, fleet, overlay=True)
        if args.settings_hosts:
            print(f"Ansible settings, fleet of {args.settings_hosts} x {args.fleet_containers}", flush=True)
            bench_settings(lab, args.settings_hosts, args.fleet_containers, settings)
    finally:
        lab.down()
        shutil.rmtree(datadir, ignore_errors=True)

    (out / "raw.json").write_text(json.dumps({"results": {k: {str(n): v for n, v in r.items()} for k, r in results.items()},
                                              "fleet": fleet, "settings": settings}, indent=2))  # kept if a summary fails
    rows = summarize(results)
    memory = {}
    for what, path in ((f"the container_network module at N={sizes[-1]}", out / "module_rss"),
                       (f"the controller (ansible-playbook and its workers) at {fleet_hosts[-1] if fleet_hosts else 0} hosts",
                        controller_rss)):
        if peak(path) is not None:
            memory[what] = peak(path)
    meta = {"date": stamp, "repeats": args.repeats, "fleet_containers": args.fleet_containers, "peer_max": args.peer_max,
            "loop_sizes": ",".join(map(str, args.loop_sizes)), "settings_hosts": args.settings_hosts,
            "machine": f"{subprocess.run(['nproc'], capture_output=True, text=True, check=True).stdout.strip()} cores, "
                       f"kernel {subprocess.run(['uname', '-r'], capture_output=True, text=True, check=True).stdout.strip()}"}
    checks = targets(rows, fleet, memory)
    columns = sorted(set(sizes) | set(args.loop_sizes))
    (out / "results.json").write_text(json.dumps({"meta": meta, "raw": {k: {str(n): v for n, v in r.items()}
                                                                        for k, r in results.items()},
                                                  "fleet": fleet, "settings": settings, "memory_mib": memory}, indent=2))
    (out / "results.md").write_text(markdown(rows, fleet, settings, columns, meta, checks))
    plot(rows, fleet, out / "plot.png")
    print((out / "results.md").read_text())
    if args.publish:
        docs = REPO / "docs" / "benchmarks"
        docs.mkdir(parents=True, exist_ok=True)
        for name in ("results.md", "plot.png", "results.json"):
            shutil.copy(out / name, docs / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
