"""A network that survives a reboot (container_network persist): the saved state, the boot unit and its links, a
rebuild by the installed program alone (no Ansible) into an empty host after every namespace of the network is gone,
exactly as it was (links, MACs, addresses, routes, rules, hosts files), a real service answering again, the next run
changed=0, and persist=false removing everything it wrote. The units are checked with systemd-analyze verify."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from support import PERSIST_DIR, ip_json, namespaces, run_module, sh, start_whoami, whoami

STATE = PERSIST_DIR / "var-lib-linuxns-net"
UNITS = PERSIST_DIR / "etc-systemd-system"


@pytest.fixture
def units():
    UNITS.mkdir(parents=True, exist_ok=True)
    yield UNITS
    shutil.rmtree(PERSIST_DIR, ignore_errors=True)


def kernel_state(host, containers):
    """What a rebuild must give back: every link's name, kind, MAC, addresses and state; routes; the rule set."""
    def links(ns):
        return sorted((link["ifname"], link.get("link_type"), link.get("address"), link.get("operstate"),
                       tuple(sorted(f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", [])
                                    if a.get("scope") != "link")))
                      for link in ip_json(ns, "-d", "address", "show"))

    def routes(ns):
        # the main tables (the local tables follow link-local addresses, which come when DAD is done)
        return sorted(line for line in sh("ip", "route", "show", netns=ns).stdout.splitlines()
                      + sh("ip", "-6", "route", "show", netns=ns).stdout.splitlines() if not line.startswith("fe80:"))
    state = {ns: (links(ns), routes(ns)) for ns in [host] + containers}
    state["rules"] = sh("nft", "list", "ruleset", netns=host).stdout
    return state


def reboot(host, containers):
    """What a reboot does to the network: every namespace goes (its processes too), the files stay."""
    for ns in containers + [host]:
        for pid in sh("ip", "netns", "pids", ns).stdout.split():
            os.kill(int(pid), 9)
        sh("ip", "netns", "del", ns)
    sh("ip", "netns", "add", host)
    sh("ip", "link", "set", "lo", "up", netns=host)


def test_a_saved_network_is_rebuilt_exactly_by_its_boot_program_alone(netns, nsname, units):
    host = netns("host")
    c1, c2 = nsname("pc1"), nsname("pc2")
    net = {"name": "keep", "bridge": "br-keep", "subnet": "10.61.0.0/24", "subnet6": "fd42:61::/64", "persist": True,
           "containers": [{"name": c1, "ports": ["8080:80"]}, {"name": c2, "mac": "02:42:0a:3d:00:63"}]}
    predicted = run_module("container_network", net, check_mode=True, diff=True, netns=host)
    assert predicted["changed"] and predicted["diff"]["after"]["persist"]["containers"][1]["mac"] == "02:42:0a:3d:00:63"
    assert not (STATE / "networks").exists(), "check mode wrote nothing"
    built = run_module("container_network", net, netns=host)
    assert built["changed"] and not built.get("failed"), built
    saved = json.loads((STATE / "networks" / "keep.json").read_text())["parameters"]
    by_name = {c["name"]: c for c in saved["containers"]}
    mac1 = ip_json(c1, "link", "show", "eth0")[0]["address"]
    assert by_name[c1]["address"] == "10.61.0.2" and by_name[c1]["mac"] == mac1 and by_name[c1]["host_mac"]
    assert by_name[c2]["address6"] == "fd42:61::3" and ip_json(c2, "link", "show", "eth0")[0]["address"] == "02:42:0a:3d:00:63"
    assert "persist" not in saved and "stop_processes" not in saved
    unit = (units / "linuxns-net@.service").read_text()
    assert f"ExecStart={sys.executable} {STATE}/rebuild.pyz %i" in unit and "Before=network-online.target" in unit
    assert "After=local-fs.target systemd-sysctl.service nftables.service" in unit and "Type=oneshot" in unit
    for wants in ("multi-user.target.wants", "linuxns-net.target.wants"):
        assert os.readlink(units / wants / "linuxns-net@keep.service") == "../linuxns-net@.service"
    assert os.readlink(units / "multi-user.target.wants" / "linuxns-net.target") == "../linuxns-net.target"
    for check in (True, False):
        again = run_module("container_network", net, check_mode=check, netns=host)
        assert not again["changed"], again["changes"]

    server = start_whoami(c1, 80)
    assert whoami(c2, "tcp", "10.61.0.2", 80) == "10.61.0.3"
    server.kill()
    server.wait()
    before = kernel_state(host, [c1, c2])
    reboot(host, [c1, c2])
    assert c1 not in namespaces() and c2 not in namespaces()
    hosts_file = os.environ["LINUXNS_NET_ETC_NETNS"] + f"/{c1}/hosts"
    assert os.path.exists(hosts_file), "the files stay across a reboot"

    # the boot unit's command, as systemd runs it (the unit's ExecStart, %i the network)
    rebuilt = sh("nsenter", f"--net=/run/netns/{host}", sys.executable, str(STATE / "rebuild.pyz"), "keep",
                 env=dict(os.environ, PYTHONPATH=""))
    assert "network 'keep' rebuilt" in rebuilt.stdout, rebuilt.stdout + rebuilt.stderr
    # a veth's operstate follows its admin state asynchronously (the kernel's link watch, within a second): give it
    # that second before comparing
    deadline = time.monotonic() + 3
    now = kernel_state(host, [c1, c2])
    while now != before and time.monotonic() < deadline:
        time.sleep(0.2)
        now = kernel_state(host, [c1, c2])
    for key in before:
        assert now[key] == before[key], key
    server = start_whoami(c1, 80)
    try:
        assert whoami(c2, "tcp", "10.61.0.2", 80) == "10.61.0.3", "a service answers again in the rebuilt network"
        assert whoami(host, "tcp", "10.61.0.1", 8080) == "10.61.0.1", "its published port too"
    finally:
        server.kill()
        server.wait()
    after = run_module("container_network", net, netns=host)
    assert not after["changed"], f"the first run after a reboot changes nothing: {after['changes']}"

    # persist=false removes the saved state and the units; the network stays
    dropped = run_module("container_network", dict(net, persist=False), diff=True, netns=host)
    assert dropped["changed"] and dropped["diff"]["after"]["persist"] is None
    assert not any(p.is_file() or p.is_symlink() for p in PERSIST_DIR.rglob("*")), list(PERSIST_DIR.rglob("*"))
    assert not run_module("container_network", dict(net, persist=False), netns=host)["changed"]
    assert run_module("container_network", dict(net, state="absent"), netns=host)["changed"]


def test_the_units_pass_systemd_analyze_verify(netns, nsname, units, tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian's systemd package provides it)")
    host = netns("host")
    c1 = nsname("pv1")
    net = {"name": "keep", "bridge": "br-keep", "subnet": "10.62.0.0/24", "persist": True, "containers": [{"name": c1}]}
    built = run_module("container_network", net, netns=host)
    assert built.get("changed"), built
    # a service bound to the container, ordered after the networks' target
    service = units / "pv-web.service"
    service.write_text("[Unit]\nDescription=web\n[Service]\nExecStart=/bin/sleep 1000\n")
    bound = run_module("netns_service", {"unit": "pv-web", "container": c1, "unit_dir": str(units)}, netns=host)
    assert bound["changed"], bound
    drop_in = (units / "pv-web.service.d" / "50-linuxns-net.conf").read_text()
    assert "After=linuxns-net.target" in drop_in
    proc = subprocess.run(["systemd-analyze", "verify", "linuxns-net@keep.service", "linuxns-net.target", "pv-web.service"],
                          capture_output=True, text=True, env=dict(os.environ, SYSTEMD_UNIT_PATH=f"{units}:"), check=False)
    assert proc.returncode == 0 and not proc.stderr.strip() and not proc.stdout.strip(), proc.stderr + proc.stdout
    assert run_module("netns_service", {"unit": "pv-web", "state": "absent", "unit_dir": str(units)}, netns=host)["changed"]
    assert run_module("container_network", dict(net, state="absent"), netns=host)["changed"]
    assert not any(p.is_file() and p.name != "pv-web.service" for p in units.rglob("*"))


def test_persist_is_refused_before_any_change_without_systemd_or_with_a_name_no_unit_can_take(netns, nsname):
    host = netns("host")
    c1 = nsname("pr1")
    net = {"name": "keep", "bridge": "br-keep", "subnet": "10.63.0.0/24", "persist": True, "containers": [{"name": c1}]}
    refused = run_module("container_network", net, netns=host)
    assert refused["failed"] and not refused["changed"]
    assert "network 'keep': persist needs systemd" in refused["msg"] and "no systemd" in refused["msg"]
    assert c1 not in namespaces() and not ip_json(host, "link", "show", "type", "bridge")
