"""linuxns.net.reachability against real namespaces: every result, expectations, bad input."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from support import run_module, sh

SERVER = """
import socket, sys
tcp = socket.socket(); tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind(("10.9.0.2", 8080)); tcp.listen(64)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind(("10.9.0.2", 9090))
print("ready", flush=True)
import selectors
sel = selectors.DefaultSelector(); sel.register(tcp, selectors.EVENT_READ); sel.register(udp, selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        if key.fileobj is tcp:
            tcp.accept()[0].close()
        else:
            data, peer = udp.recvfrom(512); udp.sendto(data, peer)
"""


@pytest.fixture
def pair(netns):
    """a (10.9.0.1) -- veth -- b (10.9.0.2), b serving TCP 8080 and UDP echo 9090, dropping ICMP from 10.9.0.1 to .4."""
    a, b = netns("a"), netns("b")
    sh("ip", "-n", a, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", b)
    for ns, addr in ((a, "10.9.0.1/24"), (b, "10.9.0.2/24")):
        sh("ip", "-n", ns, "addr", "add", addr, "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
    sh("ip", "-n", b, "addr", "add", "10.9.0.4/24", "dev", "eth0")
    drop = "table inet t {\n chain input {\n type filter hook input priority 0;\n ip daddr 10.9.0.4 drop\n }\n}\n"
    sh("nft", "-f", "-", netns=b, input=drop)
    server = subprocess.Popen(["nsenter", f"--net=/run/netns/{b}", sys.executable, "-c", SERVER],
                              stdout=subprocess.PIPE, text=True)
    assert server.stdout.readline().strip() == "ready"
    yield a, b
    server.kill()
    server.wait()


def by_target(result):
    return {(r["source"], r["address"], r["proto"], r["port"]): r["result"] for r in result["matrix"]}


def test_every_result_in_one_parallel_run(pair):
    a, b = pair
    targets = ["10.9.0.2", {"address": "10.9.0.2", "proto": "tcp", "port": 8080},
               {"address": "10.9.0.2", "proto": "tcp", "port": 8081}, {"address": "10.9.0.2", "proto": "udp", "port": 9090},
               {"address": "10.9.0.2", "proto": "udp", "port": 9091}, "10.9.0.4",
               {"address": "10.9.0.4", "proto": "tcp", "port": 8080}, "10.77.0.1"]
    start = time.monotonic()
    result = run_module("reachability", {"sources": [a, None], "targets": targets, "timeout": 0.5}, netns=b)
    assert time.monotonic() - start < 3, "probes run at once: the run is bounded by one timeout"
    assert not result.get("failed") and not result["changed"], result
    got = by_target(result)
    assert got[(a, "10.9.0.2", "icmp", None)] == "reachable"
    assert got[(a, "10.9.0.2", "tcp", 8080)] == "reachable"
    assert got[(a, "10.9.0.2", "tcp", 8081)] == "refused"
    assert got[(a, "10.9.0.2", "udp", 9090)] == "reachable"
    assert got[(a, "10.9.0.2", "udp", 9091)] == "refused"
    assert got[(a, "10.9.0.4", "icmp", None)] == "timeout", "dropped by b's firewall"
    assert got[(a, "10.9.0.4", "tcp", 8080)] == "timeout"
    assert got[(a, "10.77.0.1", "icmp", None)] == "unreachable", "no route"
    # the module's own namespace (b) as a source: its own addresses answer
    assert got[(None, "10.9.0.2", "tcp", 8080)] == "reachable" and got[(None, "10.9.0.2", "icmp", None)] == "reachable"
    assert result["counts"]["reachable"] + result["counts"]["refused"] + result["counts"]["timeout"] \
        + result["counts"]["unreachable"] == 16
    checked = run_module("reachability", {"sources": [a], "targets": ["10.9.0.2"], "expect": "reachable"},
                         check_mode=True, netns=b)
    assert checked["matrix"][0]["result"] == "reachable" and not checked["changed"]


def test_expectations_fail_exactly_when_wrong_and_name_the_pairs(pair):
    a, b = pair
    good = run_module("reachability", {"probes": [
        {"source": a, "address": "10.9.0.2", "expect": "reachable"},
        {"source": a, "address": "10.9.0.4", "expect": "unreachable"},
        {"source": a, "address": "10.77.0.1", "expect": "unreachable"}], "timeout": 0.3}, netns=b)
    assert not good.get("failed") and good["summary"].endswith("all as expected"), good
    bad = run_module("reachability", {"sources": [a], "targets": [
        "10.9.0.4", {"address": "10.9.0.2", "proto": "tcp", "port": 8081}], "expect": "reachable", "timeout": 0.3}, netns=b)
    assert bad["failed"] and bad["failed_probes"] == 2
    assert f"namespace '{a}' -> 10.9.0.4 icmp: timeout (expected reachable)" in bad["msg"]
    assert f"namespace '{a}' -> 10.9.0.2 tcp/8081: refused (expected reachable)" in bad["msg"]
    leak = run_module("reachability", {"sources": [a], "targets": ["10.9.0.2"], "expect": "unreachable"}, netns=b)
    assert leak["failed"] and "reachable (expected unreachable)" in leak["msg"]


def test_serve_answers_probes_from_another_namespace_and_names_its_clients(pair):
    a, b = pair
    sh("ip", "-n", b, "addr", "add", "fd42:9::2/64", "dev", "eth0", "nodad")
    sh("ip", "-n", a, "addr", "add", "fd42:9::1/64", "dev", "eth0", "nodad")
    probes = [{"source": a, "address": "10.9.0.2", "proto": "tcp", "port": 7300, "expect": "reachable"},
              {"source": a, "address": "fd42:9::2", "proto": "tcp", "port": 7300, "expect": "reachable"},
              {"source": a, "address": "10.9.0.2", "proto": "udp", "port": 7301, "expect": "reachable"},
              {"source": a, "address": "10.9.0.2", "proto": "tcp", "port": 7302, "expect": "denied"},
              {"source": a, "address": "10.9.0.4", "proto": "tcp", "port": 7300, "expect": "denied"},
              {"source": a, "address": "10.9.0.2", "proto": "tcp", "port": 8080, "expect": "reachable"}]
    serve = [{"namespace": b, "proto": "tcp", "port": 7300}, {"namespace": b, "proto": "udp", "port": 7301},
             {"namespace": b, "proto": "tcp", "port": 8080}]
    result = run_module("reachability", {"probes": probes, "serve": serve, "timeout": 0.5})
    assert not result.get("failed"), result["msg"]
    got = by_target(result)
    assert got[(a, "10.9.0.2", "tcp", 7302)] == "refused" and got[(a, "10.9.0.4", "tcp", 7300)] == "timeout"
    served = {(row["proto"], row["port"]): row for row in result["served"]}
    assert served[("tcp", 7300)] == {"namespace": b, "proto": "tcp", "port": 7300, "state": "served",
                                     "clients": ["10.9.0.1", "fd42:9::1"]}
    assert served[("udp", 7301)]["clients"] == ["10.9.0.1"]
    assert served[("tcp", 8080)]["state"] == "in use", "the fixture's own server listens there and answers"
    # served for a while without probes, the listeners are gone afterwards
    start = time.monotonic()
    alone = run_module("reachability", {"serve": serve[:1], "serve_seconds": 0.5})
    assert 0.5 <= time.monotonic() - start and alone["served"][0]["clients"] == []
    assert run_module("reachability", {"probes": probes[:1], "timeout": 0.3})["matrix"][0]["result"] == "refused"
    wrong = run_module("reachability", {"probes": probes[3:4], "serve": [{"namespace": b, "port": 7302}], "timeout": 0.3})
    assert wrong["failed"] and "tcp/7302: reachable (expected denied)" in wrong["msg"]


def test_isolated_networks_are_proven_unreachable_from_each_other(netns, nsname):
    host = netns("host")
    blue, green = [nsname.adopt(f"{host}b{i}") for i in (1, 2)], [nsname.adopt(f"{host}g{i}") for i in (1, 2)]
    for name, subnet, members in (("blue", "10.61.0.0/24", blue), ("green", "10.62.0.0/24", green)):
        made = run_module("container_network", {"name": name, "subnet": subnet,
                                                "containers": [{"name": n} for n in members]}, netns=host)
        assert not made.get("failed"), made
    probes = [{"source": blue[0], "address": "10.61.0.3", "expect": "reachable"},
              {"source": blue[0], "address": "10.61.0.1", "expect": "reachable"},
              {"source": blue[0], "address": "10.62.0.2", "expect": "unreachable"},
              {"source": green[1], "address": "10.61.0.2", "expect": "unreachable"},
              {"source": green[1], "address": "10.62.0.2", "proto": "tcp", "port": 22}]  # reported only
    result = run_module("reachability", {"probes": probes, "timeout": 0.5}, netns=host)
    assert not result.get("failed"), result["summary"]
    # the isolation rule drops silently (timeout); inside a network, a port nobody listens on is refused
    assert [r["result"] for r in result["matrix"]] == ["reachable", "reachable", "timeout", "timeout", "refused"]
    for name, subnet, members in (("blue", "10.61.0.0/24", blue), ("green", "10.62.0.0/24", green)):
        run_module("container_network", {"name": name, "subnet": subnet, "state": "absent",
                                         "containers": [{"name": n} for n in members]}, netns=host)
