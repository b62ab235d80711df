"""One fleet however it is run: 16 lab hosts converged by 4 slices at once (ansible-playbook --limit, as AWX job
slicing runs them, each seeing only its hosts) and by ansible-pull on the last host, then proven the same as one
whole run would make it (a whole run changes nothing) with every container reaching every other one; a slice killed
half-way through a change is repaired by its next run. The slices share no fact cache in the first build (what
every run sees is the inventory) and share one (jsonfile) in the change."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest

import support
from conftest import Run, _playbook_runner, private_lab
from hoststate import ns_exec
from support import REPO, ansible_env, kill_process_tree

pytestmark = pytest.mark.slow
HOSTS = 16
SLICES = [[f"host{i}" for i in range(start, min(start + 4, HOSTS))] for start in (1, 5, 9, 13)]  # host16: ansible-pull
POLICY = json.dumps({"app1_ingress": [{"from": ["app2"], "ports": ["80/tcp"]}]})  # names a container on every host


def start_slice(lab, hosts, *extra, env=None, forks=4):
    return subprocess.Popen(["ansible-playbook", "-i", str(lab.inventory), str(REPO / "playbooks/fleet.yml"),
                             "-l", ",".join(hosts), "-f", str(forks), "-e", POLICY, *extra], cwd=REPO,
                            env=ansible_env(ANSIBLE_PIPELINING="1", **(env or {})), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def finish(procs):
    runs = []
    for proc in procs:
        out = proc.communicate(timeout=600)[0]
        runs.append(Run(subprocess.CompletedProcess(proc.args, proc.returncode, out, "")))
        assert proc.returncode == 0, out[-4000:]
    return runs


def fleet_state(lab, hosts):
    """What the kernel and the files hold of the fleet on every host: the bridge's addresses, the routes to the
    other hosts' subnets, every container's addresses and hosts file, and app1's policy (its peers' addresses)."""
    state = {}
    for host in hosts:
        bridge = json.loads(lab.exec(host, "ip", "-j", "addr", "show", "dev", "br-fleet").stdout)[0]["addr_info"]
        routes = sorted((r["dst"], r.get("gateway")) for family in ("-4", "-6")
                        for r in json.loads(lab.exec(host, "ip", "-j", family, "route").stdout)
                        if r["dst"].startswith(("10.244.", "fd42:")) and r.get("gateway"))
        containers = {}
        for ns in sorted(line.split()[0] for line in lab.exec(host, "ip", "netns", "list").stdout.splitlines()):
            shown = ns_exec(lab, host, ns, "ip", "-j", "addr", "show", "dev", "eth0", "scope", "global", check=True)
            # ip -j lists the addresses the filter leaves out as partial objects
            addresses = sorted(a["local"] for a in json.loads(shown.stdout)[0]["addr_info"] if "local" in a)
            containers[ns] = (addresses, lab.exec(host, "cat", f"/etc/netns/{ns}/hosts").stdout)
        policy = ns_exec(lab, host, "app1", "nft", "list", "ruleset", check=True).stdout
        state[host] = {"bridge": sorted(a["local"] for a in bridge if a.get("scope") == "global" and "local" in a), "routes": routes,
                       "containers": containers, "policy": policy}
    return state


def unreachable(lab, hosts, containers):
    """Every container pings every other one's app2..appN (app1 lets only TCP 80 from app2 in), both families: the
    pairs that fail. One shell per source container."""
    targets = [address for host in hosts for c in containers if c != "app1"
               for address in json.loads(ns_exec(lab, host, c, "ip", "-j", "addr", "show", "dev", "eth0", "scope",
                                                 "global", check=True).stdout)[0]["addr_info"] if "local" in address]
    script = "for a in " + " ".join(t["local"] for t in targets) + "; do ping -c 1 -W 2 -q $a >/dev/null 2>&1 || echo $a; done"
    failed = []
    for host in hosts:
        for c in containers:
            out = ns_exec(lab, host, c, "sh", "-c", script, check=True).stdout.split()
            failed += [(host, c, a) for a in out]
    return failed


def cached_facts(path):
    """A host's facts in a jsonfile cache (ansible-core 2.19 and later wrap them in a payload of tagged values)."""
    data = json.loads(path.read_text())
    data = json.loads(data["__payload__"]) if "__payload__" in data else data

    def plain(value):
        if isinstance(value, dict):
            return plain(value["value"]) if "__ansible_type" in value or set(value) == {"value"} else \
                {k: plain(v) for k, v in value.items()}
        return [plain(v) for v in value] if isinstance(value, list) else value
    return plain(data)


def ansible_pull(lab, host, checkout, *extra):
    """ansible-pull on a lab host (its network, mount and UTS namespaces, its hostname), from a local checkout."""
    # a clean environment, as a timer's: none of the test run's settings (its /etc/netns stand-in) reach the modules
    env = ["env", "-i", f"PATH={os.environ['PATH']}", f"ANSIBLE_COLLECTIONS_PATH={support.collections_root()}",
           f"HOME={checkout.parent}", f"TMPDIR={checkout.parent}", "ANSIBLE_NOCOLOR=1"]
    return lab.exec(host, *env, "ansible-pull", "-U", f"file://{checkout}", "-d", str(checkout.parent / "pulled"),
                    "-i", str(lab.inventory), "-c", "local", "-e", POLICY, *extra, "playbooks/fleet.yml", check=False)


def test_sixteen_hosts_in_four_slices_at_once_and_by_ansible_pull_are_one_fleet(tmp_path, record):
    checkout = tmp_path / "repo"
    # apart from the other labs
    with private_lab("lnslice", tmp_path / "lab", "198.18.72.0/24", "2001:db8:172::/64", HOSTS) as lab:
        run = _playbook_runner(lab)
        hosts = sorted((h for h in lab.state()["hosts"] if h.startswith("host")), key=lambda h: int(h[4:]))
        assert len(hosts) == HOSTS
        # ansible-pull's repository: the playbooks (fleet.yml and the group_vars beside it), committed
        shutil.copytree(REPO / "playbooks", checkout / "playbooks")
        for argv in (["init", "-q", "-b", "main"], ["add", "."],
                     ["-c", "user.name=lab", "-c", "user.email=lab@example.invalid", "commit", "-q", "-m", "fleet"]):
            subprocess.run(["git", *argv], cwd=checkout, check=True)

        # the first build: four slices at once, each seeing only its hosts (no fact cache), and ansible-pull on host16
        started = time.monotonic()
        slices = [start_slice(lab, part, "-e", "containers_per_host=2") for part in SLICES]
        pulled = ansible_pull(lab, "host16", checkout, "-e", "containers_per_host=2")
        assert pulled.returncode == 0, pulled.stdout[-4000:] + pulled.stderr[-2000:]
        assert "changed=" in pulled.stdout and "host16" in pulled.stdout
        finish(slices)
        record("slices_first_build_s", round(time.monotonic() - started, 1))
        whole = run("playbooks/fleet.yml", "-f", "16", "-e", "containers_per_host=2", "-e", POLICY)
        assert whole.changed == 0, "the slices and ansible-pull built what one whole run would: " + whole.stdout[-3000:]
        built = fleet_state(lab, hosts)
        assert len({tuple(s["bridge"]) for s in built.values()}) == HOSTS, "every host its own subnets"
        assert all(len(s["routes"]) == 2 * (HOSTS - 1) for s in built.values()), "a route per other host and family"
        assert "app2.host16" in built["host1"]["containers"]["app1"][1] and "app1.host1" in built["host16"]["containers"]["app2"][1]
        assert not unreachable(lab, hosts, ["app1", "app2"])
        record("slices_pings", HOSTS * 2 * HOSTS * 2)

        # a change (a third container everywhere) by the four slices at once, sharing a jsonfile fact cache; the
        # second slice (one host at a time) is killed with its whole process tree half-way: once its first host has
        # the new container
        cache = {"ANSIBLE_CACHE_PLUGIN": "jsonfile", "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(tmp_path / "facts")}
        slices = [start_slice(lab, part, "-e", "containers_per_host=3", env=cache, forks=1 if i == 1 else 4)
                  for i, part in enumerate(SLICES)]
        deadline = time.monotonic() + 120
        while not any("app3" in lab.exec(h, "ip", "netns", "list").stdout for h in SLICES[1]):
            assert time.monotonic() < deadline and slices[1].poll() is None, "the second slice never got half-way"
            time.sleep(0.05)
        kill_process_tree(slices[1])
        finish(slices[:1] + slices[2:])
        half = [h for h in SLICES[1] if "app3" not in lab.exec(h, "ip", "netns", "list").stdout]
        assert half, "the kill left some of the slice's hosts to do"
        record("slices_killed_with_hosts_left_to_do", len(half))
        repaired = finish([start_slice(lab, SLICES[1], "-e", "containers_per_host=3", env=cache)])[0]
        assert repaired.changed > 0
        pulled = ansible_pull(lab, "host16", checkout, "-e", "containers_per_host=3")
        assert pulled.returncode == 0, pulled.stdout[-4000:] + pulled.stderr[-2000:]
        whole = run("playbooks/fleet.yml", "-f", "16", "-e", "containers_per_host=3", "-e", POLICY)
        assert whole.changed == 0, "after the repair, the fleet is what one whole run makes: " + whole.stdout[-3000:]
        changed = fleet_state(lab, hosts)
        assert all(set(s["containers"]) == {"app1", "app2", "app3"} for s in changed.values())
        assert all(changed[h]["bridge"] == built[h]["bridge"] and changed[h]["routes"] == built[h]["routes"] for h in hosts)
        assert "app3.host5" in changed["host13"]["containers"]["app2"][1], "names across the slices"
        assert not unreachable(lab, hosts, ["app1", "app2", "app3"])
        # the records in the shared cache: what a run without those hosts knows of them
        cached = cached_facts(next((tmp_path / "facts").glob("*host5")))
        assert cached["fleet_network_records"]["fleet"]["subnet"] == built["host5"]["bridge"][0].rsplit(".", 1)[0] + ".0/24"

        run("playbooks/teardown.yml", "-f", "16", "-e", "containers_per_host=3")
        for host in hosts:
            assert lab.exec(host, "ip", "netns", "list").stdout.strip() == ""
