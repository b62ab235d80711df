"""The fleet across a routed underlay (the routed lab: host1 and host3 on one segment, host2 and host4 on another,
joined by a router): auto picks host-gw within a segment and the VXLAN overlay across, proven with traffic on both
families, full-size packets with DF, a published port, and the router's counters showing that the underlay carried
nothing but VXLAN between the hosts."""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest

from ansible_collections.linuxns.net.plugins.module_utils._vxlan import vtep_mac
from hoststate import address_of, kill_host, ns_exec, ping, source_seen
from support import WHOAMI_CLIENT, WHOAMI_SERVER

pytestmark = pytest.mark.slow
HOSTS = ("host1", "host2", "host3", "host4")
EXTRA = ("-e", "containers_per_host=2", "-e", "target=lab_hosts")
COUNTERS = """
table inet lncount {
  counter vxlan {}
  counter other {}
  chain forward {
    type filter hook forward priority 0;
    ip saddr %(root)s accept
    ip daddr %(root)s accept
    udp dport 4789 counter name vxlan accept
    counter name other
  }
}
"""


def underlay(lab, host, family=4):
    address = lab.state()["hosts"][host]["address"]
    return address if family == 4 else lab.address6(address)


def router(lab, *argv):
    return subprocess.run(["ip", "netns", "exec", lab.router, *argv], capture_output=True, text=True, check=True).stdout


def counters(lab):
    out = json.loads(router(lab, "nft", "-j", "list", "counters", "table", "inet", "lncount"))["nftables"]
    return {c["counter"]["name"]: c["counter"]["packets"] for c in out if "counter" in c}


def test_auto_builds_host_gw_within_a_segment_and_the_overlay_across(routed_lab, routed_playbook):
    lab, playbook = routed_lab, routed_playbook
    segments = {h: lab.state()["hosts"][h]["segment"] for h in HOSTS}
    assert segments == {"host1": 1, "host2": 2, "host3": 1, "host4": 2}

    refused = playbook("playbooks/fleet.yml", *EXTRA, "-e", "fleet_network_mode=host-gw", ok=False)
    assert refused.returncode != 0 and "host-gw needs the hosts on one link, and host 'host2' (198.18.50.11) is not " \
        "on a network of host 'host1''s underlay link" in refused.stdout, refused.stdout
    assert all("br-fleet" not in lab.exec(h, "ip", "-br", "link").stdout for h in HOSTS), "refused before any change"

    predicted = playbook("playbooks/fleet.yml", *EXTRA, "-e", json.dumps({"app1_ports": ["8080:80"]}), "--check")
    made = playbook("playbooks/fleet.yml", *EXTRA, "-e", json.dumps({"app1_ports": ["8080:80"]}))
    assert made.changed == predicted.changed > 0

    # auto: host1 reaches host3 (same segment) host-gw, host2 and host4 over the overlay
    routes = lab.exec("host1", "ip", "route").stdout
    assert "10.244.2.0/24 via 198.18.40.12 dev eth0 proto static" in routes, routes  # host3's subnet
    assert "10.244.1.0/24 via 10.244.1.0 dev vxlan.fleet proto static onlink" in routes, routes  # host2's
    routes6 = lab.exec("host1", "ip", "-6", "route").stdout
    assert "fd42:0:0:1::/64 via fd42:0:0:1:: dev vxlan.fleet proto static metric 1024 onlink" in routes6, routes6
    fdb = lab.exec("host1", "bridge", "fdb", "show", "dev", "vxlan.fleet").stdout
    for peer in ("host2", "host4"):
        assert f"{vtep_mac(1, underlay(lab, peer))} dst {underlay(lab, peer)} self permanent" in fdb, fdb
    assert underlay(lab, "host3") not in fdb, "host3 is reached host-gw: no overlay entry"
    assert json.loads(lab.exec("host1", "ip", "-j", "link", "show", "br-fleet").stdout)[0]["mtu"] == 1450

    subprocess.run(["ip", "netns", "exec", lab.router, "nft", "-f", "-"], input=COUNTERS % {"root": lab.root_address},
                   text=True, check=True)
    try:
        before = counters(lab)
        matrix = {f: [(h, c, address_of(lab, h, c, family=f)) for h in HOSTS for c in ("app1", "app2")] for f in (4, 6)}
        unreachable = [(h, c, ip) for f in (4, 6) for h, c, _own in matrix[f] for h2, c2, ip in matrix[f]
                       if (h, c) != (h2, c2) and not ping(lab, h, c, ip)]
        assert not unreachable, f"ping matrix: {unreachable}"
        # full-size packets cross the overlay with DF set: the containers' MTU leaves room for the encapsulation
        far = address_of(lab, "host2", "app1")
        big = ("ip", "netns", "exec", "app1", "ping", "-c", "1", "-W", "2", "-q", "-M", "do")
        assert lab.exec("host1", *big, "-s", str(1450 - 28), far, check=False).returncode == 0
        assert lab.exec("host1", *big, "-s", str(1450 - 27), far, check=False).returncode != 0
        after = counters(lab)
        assert after["vxlan"] - before["vxlan"] >= 2 * 8 * 4 and after["other"] == before["other"], \
            f"the underlay carried only VXLAN between the hosts: {before} -> {after}"
    finally:
        router(lab, "nft", "delete", "table", "inet", "lncount")

    # inside the cluster, across segments, a container sees the other's own address; out of it, the host's
    assert source_seen(lab, "host2", "app2", underlay(lab, "upstream"), 7007) == underlay(lab, "host2")

    # a published port, across segments: host2's app1:80 at host2:8080, from host1 (over the routed underlay)
    server = subprocess.Popen(["nsenter", "-t", str(lab.state()["hosts"]["host2"]["pid"]), "--net", "--mount", "--",
                               "ip", "netns", "exec", "app1", "python3", "-c", WHOAMI_SERVER, "80"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        seen = lab.exec("host1", "python3", "-c", WHOAMI_CLIENT, "tcp", underlay(lab, "host2"), "8080").stdout.strip()
        assert seen == underlay(lab, "host1")
        seen = lab.exec("host1", "ip", "netns", "exec", "app2", "python3", "-c", WHOAMI_CLIENT, "tcp",
                        underlay(lab, "host2"), "8080").stdout.strip()
        assert seen == underlay(lab, "host1"), "a container on another segment, masqueraded to its host"
    finally:
        server.kill()
        server.wait()

    assert playbook("playbooks/fleet.yml", *EXTRA, "-e", json.dumps({"app1_ports": ["8080:80"]})).changed == 0
    assert playbook("playbooks/fleet.yml", *EXTRA, "-e", json.dumps({"app1_ports": ["8080:80"]}), "--check").changed == 0

    playbook("playbooks/teardown.yml", *EXTRA)
    for host in HOSTS:
        assert "vxlan.fleet" not in lab.exec(host, "ip", "-br", "link").stdout
        assert "10.244." not in lab.exec(host, "ip", "route").stdout


def fleet_view(lab, host):
    """What a host has of the fleet: routes via gateways, overlay forwarding and neighbour entries."""
    out = lab.exec(host, "ip", "route").stdout + lab.exec(host, "ip", "-6", "route").stdout
    out += lab.exec(host, "bridge", "fdb", "show", "dev", "vxlan.fleet", check=False).stdout
    out += lab.exec(host, "ip", "neigh", "show", "dev", "vxlan.fleet", check=False).stdout
    return out


def matrix_ok(lab, hosts, family=4):
    everyone = [(h, c, address_of(lab, h, c, family=family)) for h in hosts for c in ("app1", "app2")]
    return [(h, c, ip) for h, c, _own in everyone for h2, c2, ip in everyone if (h, c) != (h2, c2) and not ping(lab, h, c, ip)]


def forgotten(lab, hosts, gone, subnet):
    """No route, forwarding or neighbour entry on hosts points at the host that is gone."""
    address = underlay(lab, gone)
    vtep = subnet.split("/")[0]
    return {h: v for h in hosts for v in [fleet_view(lab, h)]
            if f" {address} " in v + " " or f"{subnet} " in v or f"{vtep} lladdr" in v}


def test_hosts_join_leave_are_rebuilt_and_pruned(routed_lab, routed_playbook, tmp_path):
    lab, playbook = routed_lab, routed_playbook
    subnet = {"host1": "10.244.0.0/24", "host2": "10.244.1.0/24", "host3": "10.244.2.0/24", "host4": "10.244.3.0/24"}
    playbook("playbooks/fleet.yml", *EXTRA, "-e", "target=host1,host2,host3")  # the fleet is fleet.yml's target
    before = {(h, c): address_of(lab, h, c) for h in ("host1", "host2", "host3") for c in ("app1", "app2")}
    assert not matrix_ok(lab, ("host1", "host2", "host3"))

    # join: host4 (segment 2) in one run; the others learn it, nothing of theirs changes address
    joined = playbook("playbooks/fleet.yml", *EXTRA)
    assert joined.hosts["host4"]["changed"] > 0
    assert {k: address_of(lab, *k) for k in before} == before
    assert f"{subnet['host4']} via 10.244.3.0 dev vxlan.fleet" in fleet_view(lab, "host1")
    assert not matrix_ok(lab, HOSTS) and not matrix_ok(lab, HOSTS, 6)

    # leave: host2 with fleet_network_state=absent; the others forget it in the same run
    leaving = tmp_path / "leaving.yml"
    leaving.write_text("all:\n  hosts:\n    host2:\n      fleet_network_state: absent\n")
    playbook("playbooks/fleet.yml", *EXTRA, "-i", str(leaving))
    assert "br-fleet" not in lab.exec("host2", "ip", "-br", "link").stdout
    assert "vxlan.fleet" not in lab.exec("host2", "ip", "-br", "link").stdout
    assert not forgotten(lab, ("host1", "host3", "host4"), "host2", subnet["host2"]), "nothing points at host2"
    assert "app1.host2" not in ns_exec(lab, "host1", "app1", "cat", "/etc/hosts").stdout, "nor any name"
    stay = ("host1", "host3", "host4")
    assert not matrix_ok(lab, stay) and not matrix_ok(lab, stay, 6)

    # rebuild: host4 loses everything (its namespaces go with its processes); with its subnet pinned it rejoins
    # with it, and the others' entries for it (same address, so same MAC) need nothing
    kill_host(lab, "host4")
    lab.up(4)
    assert "br-fleet" not in lab.exec("host4", "ip", "-br", "link").stdout
    pinned = ("-e", json.dumps({"fleet_network_subnets": {"host4": subnet["host4"]},
                                "fleet_network_subnets6": {"host4": "fd42:0:0:3::/64"}}))
    rebuilt = playbook("playbooks/fleet.yml", *EXTRA, *pinned, "-e", f"target={','.join(stay)}")
    assert rebuilt.hosts["host1"]["changed"] == 0 and rebuilt.hosts["host3"]["changed"] == 0, \
        f"the others need nothing: {rebuilt.stdout}"
    assert address_of(lab, "host4", "app1") == "10.244.3.2"
    assert not matrix_ok(lab, stay) and not matrix_ok(lab, stay, 6)

    # prune: host3 dropped from the play without leaving; a partial play keeps its entries, prune removes them
    partial = ("-e", "target=host1,host4")
    assert playbook("playbooks/fleet.yml", *EXTRA, *pinned, *partial).changed == 0, "a partial play changes nothing"
    assert f"{subnet['host3']} via" in fleet_view(lab, "host1")
    assert ns_exec(lab, "host1", "app1", "getent", "ahostsv4", "app1.host3").stdout.split()[0] == \
        address_of(lab, "host3", "app1"), "and the names of host3's containers"
    playbook("playbooks/fleet.yml", *EXTRA, *pinned, *partial, "-e", "fleet_network_prune=true")
    assert "host3" not in ns_exec(lab, "host1", "app1", "cat", "/etc/hosts").stdout, "pruned, names too"
    assert not forgotten(lab, ("host1", "host4"), "host3", subnet["host3"]), "nothing points at host3"
    assert not matrix_ok(lab, ("host1", "host4")) and not matrix_ok(lab, ("host1", "host4"), 6)
    assert playbook("playbooks/fleet.yml", *EXTRA, *pinned, *partial, "-e", "fleet_network_prune=true").changed == 0

    playbook("playbooks/teardown.yml", *EXTRA)


# A long-lived TCP conversation: a line every 20 ms, each echoed back; the client reports what went wrong, if anything.
ECHO_LINES = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 7200)); s.listen(1)
print("ready", flush=True)
c, _peer = s.accept()
while True:
    data = c.recv(4096)
    if not data:
        break
    c.sendall(data)
"""
TALKER = r"""
import socket, sys, time, os
s = socket.create_connection((sys.argv[1], 7200), timeout=2)
sent = ok = 0
errors = []
while not os.path.exists(sys.argv[2]):
    line = f"{sent}\n".encode()
    try:
        s.sendall(line)
        got = b""
        while not got.endswith(b"\n"):
            got += s.recv(100)
        ok += got == line
    except OSError as exc:
        errors.append(str(exc))
        break
    sent += 1
    time.sleep(0.02)
print(f"{sent} {ok} {errors}")
"""


def test_nothing_that_exists_is_disturbed_while_the_fleet_changes(routed_lab, routed_playbook, tmp_path):
    """A ping every 20 ms and a TCP conversation between host1/app1 and host4/app1 (across segments, over the
    overlay) lose nothing while host2 joins, host3 leaves, host1's network grows by 50 containers, and the whole
    play runs again."""
    lab, playbook = routed_lab, routed_playbook
    # host variables are beaten by extra vars: here the container counts are host variables
    stages = {}
    for stage, text in (("base", ""), ("leaving", "    host3:\n      fleet_network_state: absent\n"),
                        ("grown", "    host1:\n      containers_per_host: 52\n    host3:\n      fleet_network_state: absent\n")):
        stages[stage] = tmp_path / f"{stage}.yml"
        stages[stage].write_text("all:\n  vars:\n    containers_per_host: 2\n  hosts:\n" + (text or "    host1: {}\n"))
    base = ("-e", "target=lab_hosts")
    playbook("playbooks/fleet.yml", *base, "-i", str(stages["base"]), "-l", "host1,host3,host4")
    far = address_of(lab, "host4", "app1")
    pid = {h: str(lab.state()["hosts"][h]["pid"]) for h in HOSTS}
    enter = ["nsenter", "--net", "--mount", "-t"]
    server = subprocess.Popen(enter + [pid["host4"], "ip", "netns", "exec", "app1", "python3", "-c", ECHO_LINES],
                              stdout=subprocess.PIPE, text=True)
    assert server.stdout.readline().strip() == "ready"
    stop = tmp_path / "stop"
    talker = subprocess.Popen(enter + [pid["host1"], "ip", "netns", "exec", "app1", "python3", "-c", TALKER, far, str(stop)],
                              stdout=subprocess.PIPE, text=True)
    ping_argv = ["ip", "netns", "exec", "app1", "ping", "-D", "-O", "-i", "0.02", "-W", "1", far]
    pinger = subprocess.Popen(enter + [pid["host1"]] + ping_argv, stdout=subprocess.PIPE, text=True)
    marks = [("start", time.time())]
    try:
        for stage, inventory in (("host2 joins", "base"), ("host3 leaves", "leaving"), ("host1 grows by 50", "grown"),
                                 ("the whole play again", "grown")):
            run = playbook("playbooks/fleet.yml", *base, "-i", str(stages[inventory]))
            marks.append((stage, time.time()))
        assert address_of(lab, "host1", "app52").startswith("10.244.")
        assert run.changed == 0
    finally:
        stop.touch()
        talked = talker.communicate(timeout=30)[0].split(maxsplit=2)
        pinger.send_signal(2)
        pinged = pinger.communicate(timeout=10)[0]
        server.kill()
        server.wait()
    sent, received = (int(n) for n in re.search(r"(\d+) packets transmitted, (\d+) received", pinged).groups())
    lost = [float(line[1:].split("]")[0]) for line in pinged.splitlines() if "no answer" in line]
    during = [next((stage for stage, end in marks[1:] if t <= end), "after") for t in lost]
    assert sent > 100 and received == sent, f"ping lost {sent - received} of {sent}, during: {during}"
    assert int(talked[0]) > 100 and talked[0] == talked[1] and talked[2].strip() == "[]", f"TCP: {talked}"
    playbook("playbooks/teardown.yml", *base, "-i", str(stages["grown"]))


def test_the_overlay_over_an_ipv6_underlay(routed_lab, routed_playbook):
    """fleet_network_address IPv6: VXLAN between the segments runs over the IPv6 underlay (MTU less 70); host-gw
    within a segment keeps using the IPv4 addresses; both families cross."""
    lab, playbook = routed_lab, routed_playbook
    six = ("-e", json.dumps({"fleet_network_address": "{{ lab_underlay_address6 }}"}))
    playbook("playbooks/fleet.yml", *EXTRA, *six)
    fdb = lab.exec("host1", "bridge", "fdb", "show", "dev", "vxlan.fleet").stdout
    assert f"dst {underlay(lab, 'host2', 6)} self permanent" in fdb, fdb
    link = json.loads(lab.exec("host1", "ip", "-d", "-j", "link", "show", "vxlan.fleet").stdout)[0]
    data = link["linkinfo"]["info_data"]
    assert data.get("local6", data.get("local")) == underlay(lab, "host1", 6), data
    assert json.loads(lab.exec("host1", "ip", "-j", "link", "show", "br-fleet").stdout)[0]["mtu"] == 1430
    assert "10.244.2.0/24 via 198.18.40.12 dev eth0" in lab.exec("host1", "ip", "route").stdout, "host-gw to host3"
    assert not matrix_ok(lab, HOSTS) and not matrix_ok(lab, HOSTS, 6)
    big = ("ip", "netns", "exec", "app1", "ping", "-c", "1", "-W", "2", "-q", "-M", "do", "-s", str(1430 - 28))
    assert lab.exec("host1", *big, address_of(lab, "host2", "app1"), check=False).returncode == 0
    assert playbook("playbooks/fleet.yml", *EXTRA, *six).changed == 0
    playbook("playbooks/teardown.yml", *EXTRA, *six)
