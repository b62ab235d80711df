"""The demo: a three-host lab fleet on this machine, fleet.yml over SSH, and what a person wants to see.

Run through `make demo` (which sets up first); `make demo-down` removes everything."""

from __future__ import annotations

import argparse
import collections
import ipaddress
import json
import pathlib
import re
import shutil
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support import WHOAMI_CLIENT, WHOAMI_SERVER, ansible_env, collections_root  # noqa: E402

sys.path.insert(0, str(collections_root()))
from ansible_collections.linuxns.net.plugins.module_utils._lab.lab import Lab  # noqa: E402

# app1's published ports on every host: 8080 (docker run -p 8080:80), and 8443 for the lab's own hosts only (an
# allow-list that leaves the upstream out: verify.yml proves it from there)
PUBLISHED = ["8080:80", {"target": 80, "published": 8443, "allow_from": ["198.51.100.0/25", "2001:db8:100::/120"]}]
POLICY = [{"ports": ["80/tcp"]}]  # app1's network policy: it accepts TCP 80 from anyone, nothing else (not even ping)


def timed_playbook(lab, *args):
    start = time.monotonic()
    proc = subprocess.run(["ansible-playbook", "-i", str(lab.inventory), *args], capture_output=True, text=True,
                          env=ansible_env(ANSIBLE_PIPELINING="1"), cwd=REPO, check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"ansible-playbook {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    changed = sum(int(n) for n in re.findall(r"changed=(\d+)", proc.stdout))
    return elapsed, changed


def lab_module(**args):
    """The lab, through the collection's own module, as a user would run it."""
    start = time.monotonic()
    proc = subprocess.run(["ansible", "localhost", "-m", "linuxns.net.lab", "-a", json.dumps(args)], capture_output=True,
                          text=True, env=ansible_env(), cwd=REPO, check=False)
    if proc.returncode != 0:
        sys.exit(f"linuxns.net.lab {args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return time.monotonic() - start


def in_container(lab, host, ns, *argv):
    return lab.exec(host, "ip", "netns", "exec", ns, *argv, check=False)


def global_addresses(lab, host, ns, dev, family):
    """The global addresses of one family of a link, on the host (ns None) or in a container."""
    argv = ("ip", "-j", f"-{family}", "addr", "show", "dev", dev, "scope", "global")
    out = lab.exec(host, *argv, check=False) if ns is None else in_container(lab, host, ns, *argv)
    return json.loads(out.stdout)[0]["addr_info"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--containers", type=int, default=3)
    parser.add_argument("--segments", type=int, default=1, help="underlay segments joined by a router (2: routed, "
                        "so that hosts on different segments are connected over the VXLAN overlay)")
    parser.add_argument("--down", action="store_true", help="tear the demo down")
    parser.add_argument("--make-room", action="store_true", help="tear the demo down if it is up, saying why (the "
                        "tests and benchmarks start labs on its underlay)")
    args = parser.parse_args()
    lab = Lab("lndemo", segments=args.segments)
    if args.make_room:
        if not lab.state():
            return 0
        print("The demo's lab is up on 198.51.100.0/24, where the tests and benchmarks start their own labs: tearing "
              "it down first (make demo starts it again).")
        args.down = True
    if args.down:
        if lab.state():
            timed_playbook(lab, "playbooks/teardown.yml", "-e", f"containers_per_host={args.containers}")
        lab_module(name=lab.name, state="absent")
        shutil.rmtree(pathlib.Path("/tmp") / f"linuxns-{lab.name}-pictures", ignore_errors=True)
        shutil.rmtree(pathlib.Path("/tmp") / f"linuxns-{lab.name}-metrics", ignore_errors=True)
        print("demo: torn down (fleet network removed, lab stopped)")
        return 0

    print(f"linuxns.net demo: {args.hosts} lab hosts on this machine (own network, mount and UTS namespaces, sshd), "
          f"{args.containers} containers each\n")
    routed = f", {args.segments} segments and a router" if args.segments > 1 else ""
    rows = [(f"lab up: linuxns.net.lab (hosts, switch, upstream, sshd{routed})",
             lab_module(name=lab.name, hosts=args.hosts, segments=args.segments), None)]
    extra = ("-e", f"containers_per_host={args.containers}", "-e", json.dumps({"app1_ports": PUBLISHED, "app1_ingress": POLICY}))
    rows.append(("fleet.yml, first run", *timed_playbook(lab, "playbooks/fleet.yml", *extra)))
    rows.append(("fleet.yml, again (idempotent)", *timed_playbook(lab, "playbooks/fleet.yml", *extra)))
    rows.append(("fleet.yml --check", *timed_playbook(lab, "playbooks/fleet.yml", "--check", *extra)))

    state = lab.state()
    hosts = sorted(h for h in state["hosts"] if h != "upstream")
    containers = [f"app{i}" for i in range(1, args.containers + 1)]
    underlay = {h: (info["address"], lab.address6(info["address"])) for h, info in state["hosts"].items()}
    print(f"{'host':8} {'seg':3} {'underlay':18} {'subnet':18} containers")
    everyone = {4: [], 6: []}  # family -> (host, container, address)
    for host in hosts:
        for family in (4, 6):
            bridge = global_addresses(lab, host, None, "br-fleet", family)[0]
            addrs = []
            for ns in containers:
                addrs.append(global_addresses(lab, host, ns, "eth0", family)[0]["local"])
                everyone[family].append((host, ns, addrs[-1]))
            subnet = str(ipaddress.ip_interface(f"{bridge['local']}/{bridge['prefixlen']}").network)
            segment = str(state["hosts"][host].get("segment", 1)) if family == 4 else ""
            print(f"{host if family == 4 else '':8} {segment:3} {underlay[host][family // 6]:18} {subnet:18} " +
                  ", ".join(f"{ns} {ip}" for ns, ip in zip(containers, addrs)))

    # how each host reaches the others: host-gw on a shared segment, the VXLAN overlay across segments
    for host in hosts:
        fdb = lab.exec(host, "bridge", "fdb", "show", "dev", "vxlan.fleet", check=False).stdout
        overlay = [h for h in hosts if h != host and f"dst {underlay[h][0]} " in fdb]
        direct = [h for h in hosts if h != host and h not in overlay]
        print(f"{host}: host-gw to {', '.join(direct) or 'none'}; VXLAN overlay to {', '.join(overlay) or 'none'}")

    # the datapath, proven by playbooks/verify.yml (linuxns.net.reachability in every container), drawn as matrices
    report = pathlib.Path("/tmp") / f"linuxns-{lab.name}-verify.json"
    pictures = pathlib.Path("/tmp") / f"linuxns-{lab.name}-pictures"
    rows.append(("verify.yml (every container to every other, and out)",
                 *timed_playbook(lab, "playbooks/verify.yml", "-e", f"verify_report={report}",
                                 "-e", f"verify_picture_dir={pictures}")))
    rows_seen = [dict(row, host=host) for host, matrix in json.loads(report.read_text()).items() for row in matrix]
    report.unlink()
    results = {(row["host"], row["source"], row["address"]): row for row in rows_seen if row["proto"] == "icmp"}
    ok = total = 0
    denied = []
    for family in (4, 6):
        labels = [f"{h[-1]}/{ns}" for h, ns, _ip in everyone[family]]
        width = max(len(x) for x in labels) + 1
        print(f"\nIPv{family} reachability matrix, ICMP (rows reach columns; host number/container; ok: reached, "
              f"no: denied as declared)\n{'':{width}}" + "".join(f"{x:>{width}}" for x in labels))
        for (host, ns, _ip), label in zip(everyone[family], labels):
            cells = []
            for (h2, ns2, ip) in everyone[family]:
                row = results.get((host, ns, ip))
                if (host, ns) == (h2, ns2) or row is None:
                    cells.append("-")
                    continue
                ok, total = ok + row["ok"], total + 1
                if row["ok"] and row["expect"] == "unreachable":
                    denied.append((f"{host}/{ns}", f"{h2}/{ns2}", row))
                cells.append(("ok" if row["expect"] == "reachable" else "no") if row["ok"] else row["result"])
            print(f"{label:{width}}" + "".join(f"{c:>{width}}" for c in cells))
    print(f"{ok}/{total} pairs as expected")
    if denied:
        source, target, row = denied[0]
        print(f"denied as declared (app1's policy {json.dumps(POLICY)}): {len(denied)} pairs, for example {source} -> "
              f"{target} {row['address']} ICMP: {row['result']}")
    ported = [row for row in rows_seen if row["proto"] == "tcp" and row["port"] == 80]
    if ported:
        through = sum(row["ok"] for row in ported)
        print(f"and the ports the policy names: {through}/{len(ported)} probes as expected (TCP 80 to app1 from every "
              "container: allowed through: reachable, or refused where nothing listens)")
    outside = [row for row in rows_seen if row["source"] is None]
    if outside:
        groups = collections.Counter((row["port"], row["proto"], row["expect"], row["result"]) for row in outside)
        shown = "; ".join(f"{port}/{proto} expected {expect}: {result} on {n} host addresses"
                          for (port, proto, expect, result), n in sorted(groups.items()))
        print(f"from the upstream, outside the fleet (the containers serving their published ports meanwhile): "
              f"{sum(row['ok'] for row in outside)}/{len(outside)} probes as expected ({shown})")
        ok, total = ok + sum(row["ok"] for row in outside), total + len(outside)

    print(f"the matrices, drawn: {pictures / 'verify-ipv4.svg'} and {pictures / 'verify-ipv6.svg'}")

    # what the kernel counted meanwhile, as node_exporter's textfile collector would read it (one file per lab host
    # here: the lab hosts share this machine's file system)
    metrics = pathlib.Path("/tmp") / f"linuxns-{lab.name}-metrics"
    metrics.mkdir(exist_ok=True)
    rows.append(("metrics.yml (counters as a Prometheus textfile)",
                 *timed_playbook(lab, "playbooks/metrics.yml", "-e", f"metrics_dir={metrics}",
                                 "-e", "metrics_file={{ inventory_hostname }}.prom")))
    texts = {h: (metrics / f"{h}.prom").read_text() for h in hosts}
    refused = sum(float(line.rsplit(" ", 1)[1]) for text in texts.values() for line in text.splitlines()
                  if line.startswith('linuxns_net_dropped_packets_total{') and 'kind="policy"' in line)
    series = sum(1 for text in texts.values() for line in text.splitlines() if line and not line.startswith("#"))
    print(f"metrics: {series} series in {metrics}/<host>.prom; app1's policy refused {refused:.0f} packets during "
          f"verify.yml (linuxns_net_dropped_packets_total{{kind=\"policy\"}})")
    timed_playbook(lab, "playbooks/inspect.yml", "-e", f"inspect_picture_dir={pictures}")
    picture = pictures / ("fleet.svg" if (pictures / "fleet.svg").exists() else "fleet.dot")
    print(f"\nthe fleet's picture: {picture}\n")

    masqueraded = True
    for family in (4, 6):
        upstream = underlay["upstream"][family // 6]
        src_host, src_ns, src_ip = everyone[family][0]
        seen = in_container(lab, src_host, src_ns, "python3", "-c", WHOAMI_CLIENT, "tcp", upstream, "7007").stdout.strip()
        masqueraded = masqueraded and seen == underlay[src_host][family // 6]
        print(f"{src_host}/{src_ns} ({src_ip}) -> upstream {upstream}: the upstream sees {seen} "
              f"({'the host: masqueraded' if seen == underlay[src_host][family // 6] else 'NOT masqueraded'})")

    # a published service (docker run -p 8080:80), reached from another host on both families, which it sees as itself
    server_host, client_host = hosts[0], hosts[1 % len(hosts)]
    server = subprocess.Popen(["nsenter", "-t", str(state["hosts"][server_host]["pid"]), "--net", "--mount", "--",
                               "ip", "netns", "exec", "app1", "python3", "-c", WHOAMI_SERVER, "80"],
                              stdout=subprocess.PIPE, text=True)
    published_ok = True
    try:
        server.stdout.readline()
        for family in (4, 6):
            address = underlay[server_host][family // 6]
            seen = lab.exec(client_host, "python3", "-c", WHOAMI_CLIENT, "tcp", address, "8080").stdout.strip()
            client_address = underlay[client_host][family // 6]
            published_ok = published_ok and seen == client_address
            shown = f"[{address}]" if family == 6 else address
            print(f"{client_host} -> {server_host} {shown}:8080 (published {PUBLISHED[0]} of {server_host}/app1): the "
                  f"service sees {seen} ({'the client itself: no NAT' if seen == client_address else 'NOT the client'})")
    finally:
        server.kill()
        server.wait()

    print("\ntimings")
    for label, seconds, changed in rows:
        note = "" if changed is None else f"   changed={changed}"
        print(f"  {label:56} {seconds:6.2f} s{note}")
    print("\nSee it all: make inspect        Tear it down: make demo-down")
    return 0 if ok == total and total > 0 and rows[2][2] == 0 and published_ok and masqueraded else 1


if __name__ == "__main__":
    sys.exit(main())
