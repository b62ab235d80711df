"""Beside a real Docker daemon (tests/dockerd.py): Debian's docker.io in the test's own host namespace, with its
FORWARD DROP policy, its isolation chains and bridge-nf-call-iptables, and busybox containers serving HTTP. The
collection's networks work beside it, behave as Docker's do, and leave Docker's rules as they were."""

from __future__ import annotations

import pytest

from dockerd import MISSING, WHY_MISSING, Dockerd
from support import foreign_iptables_rules, run_module, sh, start_whoami, whoami

pytestmark = [pytest.mark.skipif(bool(MISSING), reason=WHY_MISSING), pytest.mark.long]
HTTPD = ("sh", "-c", "httpd -f -p 80 -h /www")


@pytest.fixture(scope="module")
def docker(netns_module):
    host = netns_module("dockerhost")
    daemon = Dockerd(host)
    yield daemon
    daemon.stop()


def http_from(docker, container, address):
    """What a busybox container gets for GET / at address:80 ('' when nothing answers)."""
    script = f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {address} 80"
    return docker.docker("exec", container, "sh", "-c", script, check=False).stdout


def test_internal_networks_side_by_side_with_dockers(docker, nsname):
    host = docker.netns
    docker.docker("network", "create", "--internal", "--subnet", "10.219.0.0/24", "dint")
    d1 = docker.run("d1", "dint", *HTTPD)
    docker.run("d2", "dint", "sleep", "600")
    assert "busybox httpd" in http_from(docker, "d2", d1), "Docker's internal network: containers reach each other"
    assert sh("sysctl", "-n", "net.bridge.bridge-nf-call-iptables", netns=host).stdout.strip() == "1"
    assert ":FORWARD DROP" in sh("iptables-nft-save", "-t", "filter", netns=host).stdout
    before = foreign_iptables_rules(host)

    a1, a2 = nsname("a1"), nsname("a2")
    ours = {"name": "back", "bridge": "br-back", "subnet": "10.34.0.0/24", "internal": True,
            "containers": [{"name": a1}, {"name": a2}]}
    made = run_module("container_network", ours, netns=host)
    assert not made.get("failed"), made.get("msg")
    assert made["backends"][""] == "iptables-nft", "beside Docker's rules, in the same engine"
    server = start_whoami(a1, 7000)
    try:
        # ours behaves as Docker's: its containers reach each other, TCP and UDP
        assert whoami(a2, "tcp", made["addresses"][a1], 7000) == made["addresses"][a2]
        assert whoami(a2, "udp", made["addresses"][a1], 7000) == made["addresses"][a2]
        # and neither internal network reaches the other
        assert whoami(a2, "tcp", d1, 80).startswith("error")
        assert http_from(docker, "d2", made["addresses"][a1]) == ""
    finally:
        server.kill()
        server.wait()
    assert "busybox httpd" in http_from(docker, "d2", d1), "Docker's network still works beside ours"
    assert not run_module("container_network", ours, netns=host)["changed"]

    run_module("container_network", dict(ours, state="absent"), netns=host)
    assert foreign_iptables_rules(host) == before, "Docker's rules are as they were"
    assert "busybox httpd" in http_from(docker, "d2", d1)
    docker.docker("rm", "-f", "d1", "d2")
    docker.docker("network", "rm", "dint")
