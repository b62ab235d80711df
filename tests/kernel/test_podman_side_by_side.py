"""Beside a real podman with netavark (tests/podman.py) on one host namespace with a neighbour on its LAN: a podman
network with a published port and one of ours, both working (containers to each other, out, published ports from
the LAN, the host and 127.0.0.1), our re-run exact beside netavark's rules, and our teardown leaving them as they
were with podman's traffic still flowing."""

from __future__ import annotations

import pytest

from podman import MISSING, WHY_MISSING, Podman
from support import BUSYBOX_TCP_PROBE, foreign_iptables_rules, run_module, start_whoami, tcp_answer, wire_lan

pytestmark = pytest.mark.skipif(bool(MISSING), reason=WHY_MISSING)

HOST, NEIGHBOUR = "198.18.212.1", "198.18.212.2"
HTTPD = ("httpd", "-f", "-p", "80", "-h", "/www")
OUT_PORT, PODMAN_PORT, OUR_PORT = 9000, 8083, 8084


def podman_probe(podman, container, address, port):
    script = BUSYBOX_TCP_PROBE.format(address=address, port=port)
    return podman.podman("exec", container, "sh", "-c", script, check=False).stdout.strip() or "error: nothing"


def test_podman_and_ours_side_by_side(netns, nsname):
    host, lan = netns("podhost"), netns("lan")
    wire_lan(host, lan, HOST, NEIGHBOUR)
    echo = start_whoami(lan, OUT_PORT)
    podman = Podman(host)
    a1, a2 = nsname("a1"), nsname("a2")
    ours = {"name": "front", "bridge": "br-front", "subnet": "10.38.0.0/24",
            "containers": [{"name": a1, "ports": [f"{OUR_PORT}:7000"]}, {"name": a2}]}
    server = None
    try:
        podman.podman("network", "create", "--subnet", "10.220.1.0/24", "pnet")
        p1 = podman.run_with("p1", "pnet", ("-p", f"{PODMAN_PORT}:80"), *HTTPD)
        podman.run_with("p2", "pnet", (), "sleep", "3600")
        for answer, what in ((podman_probe(podman, "p2", p1, 80), "container to container"),
                             (tcp_answer(lan, HOST, PODMAN_PORT), "published, from the LAN"),
                             (tcp_answer(host, HOST, PODMAN_PORT), "published, from the host"),
                             (tcp_answer(host, "127.0.0.1", PODMAN_PORT), "published, from 127.0.0.1")):
            assert answer.startswith("HTTP/1."), f"podman alone, {what}: {answer}"
        assert podman_probe(podman, "p2", NEIGHBOUR, OUT_PORT) == HOST, "podman's container out, masqueraded"
        before = foreign_iptables_rules(host)

        made = run_module("container_network", ours, netns=host)
        assert not made.get("failed"), made.get("msg")
        server = start_whoami(a1, 7000)
        # ours works beside netavark's rules
        assert tcp_answer(a2, made["addresses"][a1], 7000) == made["addresses"][a2]
        assert tcp_answer(a2, NEIGHBOUR, OUT_PORT) == HOST
        for source, address in ((lan, HOST), (host, HOST), (host, "127.0.0.1")):
            assert not tcp_answer(source, address, OUR_PORT).startswith("error"), (source, address)
        # and podman's still does, exactly as before ours came
        assert "HTTP" in podman_probe(podman, "p2", p1, 80)
        assert not tcp_answer(lan, HOST, PODMAN_PORT).startswith("error")
        assert not tcp_answer(host, "127.0.0.1", PODMAN_PORT).startswith("error")
        assert podman_probe(podman, "p2", NEIGHBOUR, OUT_PORT) == HOST
        assert not run_module("container_network", ours, netns=host)["changed"], "our re-run beside netavark"

        server.kill()
        server.wait()
        server = None
        assert run_module("container_network", dict(ours, state="absent"), netns=host)["changed"]
        assert foreign_iptables_rules(host) == before, "our teardown left netavark's rules as they were"
        assert not tcp_answer(lan, HOST, PODMAN_PORT).startswith("error"), "podman's port still works"
        assert podman_probe(podman, "p2", NEIGHBOUR, OUT_PORT) == HOST
    finally:
        if server:
            server.kill()
            server.wait()
        podman.stop()
        echo.kill()
        echo.wait()
