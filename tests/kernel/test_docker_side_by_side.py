"""Side by side with a real Docker daemon (tests/dockerd.py) on one host namespace with a neighbour on its LAN: the
same checks against Docker's networks and ours (the behaviour table of the Docker docs page, which this test
checks), then Docker restarted while ours stays up, our re-run exact, and our teardown leaving Docker's rules as
they were."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from dockerd import MISSING, WHY_MISSING, Dockerd
from support import (BUSYBOX_TCP_PROBE, ETC_NETNS, REPO, foreign_iptables_rules, ping, run_module, sh, start_whoami,
                     tcp_answer, wire_lan)

pytestmark = [pytest.mark.skipif(bool(MISSING), reason=WHY_MISSING), pytest.mark.long]

HOST, NEIGHBOUR = "198.18.210.1", "198.18.210.2"
HTTPD = ("httpd", "-f", "-p", "80", "-h", "/www")
OUT_PORT = 9000  # the neighbour's echo service: it answers with the address it saw

# The behaviours of the table, as (row, what it checks); the docs page lists the same rows with both results.
BEHAVIOURS = [
    ("same network", "a container reaches another on its network"),
    ("out, masqueraded", "a container reaches a host on the LAN, which sees the host's address"),
    ("published, from another host", "a host on the LAN reaches the published port at the host's address"),
    ("published, from the host", "the host reaches its own published port at its own address"),
    ("published, from 127.0.0.1", "the host reaches the published port at 127.0.0.1"),
    ("published, hairpin", "a container reaches its own network's published port at the host's address"),
    ("published, from another network", "a container of another network reaches the published port"),
    ("isolation between networks", "a container of another network reaches the container's own address"),
    ("internal network, no way out", "a container of an internal network reaches a host on the LAN"),
    ("names", "a container resolves another of its network by name"),
    ("direct, from the LAN", "a LAN host that routes the subnet via the host pings a container's address"),
    ("direct to a published port", "that LAN host reaches the published container port at the container's own address"),
]
# Where we differ on purpose (the docs page says why): Docker's isolation rules drop a packet from another network
# after it was translated to a container's address; ours keep a published port a service of the host, which every
# network reaches, as the host's other services are.
# And Docker 20.10 predates gateway modes: a LAN host that routes the subnet via the host reaches a published
# container port at the container's own address; our default is Docker 28's gateway mode nat, which does not.
DIFFERENCES = {"published, from another network", "direct to a published port"}


class DockerSide:
    """Docker's networks: dnet (d1 serving HTTP, published on 8081; d2), dother (d3), dint (internal; d4); every
    container with a restart policy."""

    port = 8081

    def __init__(self, docker):
        self.docker = docker
        docker.docker("network", "create", "--subnet", "10.219.1.0/24", "dnet")
        docker.docker("network", "create", "--subnet", "10.219.2.0/24", "dother")
        docker.docker("network", "create", "--internal", "--subnet", "10.219.3.0/24", "dint")
        docker.run_with("d1", "dnet", ("--restart", "always", "-p", f"{self.port}:80"), *HTTPD)
        always = ("--restart", "always")  # a restarted daemon starts them again
        docker.run_with("d2", "dnet", always, "sleep", "3600")
        docker.run_with("d3", "dother", always, "sleep", "3600")
        docker.run_with("d4", "dint", always, "sleep", "3600")

    def probe(self, container, address, port):
        out = self.docker.docker("exec", container, "sh", "-c", BUSYBOX_TCP_PROBE.format(address=address, port=port),
                                 check=False).stdout.strip()
        return out or "error: nothing"

    def resolves(self, container, name):
        """The name resolves to the server's address (Docker's embedded DNS, asked with busybox nslookup)."""
        out = self.docker.docker("exec", container, "nslookup", name, check=False).stdout
        address = self.server_address()
        return f"Address: {address}" in out or f"Address 1: {address}" in out

    def container(self, role):
        return {"server": "d1", "peer": "d2", "other": "d3", "internal": "d4"}[role]

    def server_address(self):
        """d1's address now (a restarted daemon may give it another one)."""
        return self.docker.docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                                  "d1").stdout.strip()

    def server_name(self):
        return "d1"

    def peer_address(self):
        return self.docker.docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                                  "d2").stdout.strip()


class OurSide:
    """Ours: front (a1 serving, published on 8082; a2), other (b1), back (internal; i1)."""

    port = 8082

    def __init__(self, host, nsname):
        self.host = host
        a1, a2, b1, i1 = nsname("a1"), nsname("a2"), nsname("b1"), nsname("i1")
        self.names = {"server": a1, "peer": a2, "other": b1, "internal": i1}
        self.networks = [
            {"name": "front", "bridge": "br-front", "subnet": "10.35.0.0/24",
             "containers": [{"name": a1, "ports": [f"{self.port}:7000"]}, {"name": a2}]},
            {"name": "other", "bridge": "br-other", "subnet": "10.36.0.0/24", "containers": [{"name": b1}]},
            {"name": "back", "bridge": "br-back", "subnet": "10.37.0.0/24", "internal": True, "containers": [{"name": i1}]},
        ]
        self.addresses = {}
        for network in self.networks:
            made = run_module("container_network", network, netns=host)
            assert not made.get("failed"), made.get("msg")
            assert made["backends"][""] == "iptables-nft", "beside Docker's rules, in the same engine"
            self.addresses.update(made["addresses"])
        self.server_process = start_whoami(a1, 7000)

    def probe(self, container, address, port):
        return tcp_answer(container, address, port)

    def resolves(self, container, name):
        """The name resolves to the server's address with getent hosts, the container's hosts file mounted over
        /etc/hosts as `ip netns exec` mounts it (the tests keep the files in a directory of their own)."""
        script = f'mount --bind "{ETC_NETNS / container / "hosts"}" /etc/hosts && exec getent hosts "{name}"'
        out = subprocess.run(["unshare", "--mount", "--propagation", "private", "nsenter", f"--net=/run/netns/{container}",
                              "sh", "-c", script], capture_output=True, text=True, check=False).stdout.split()
        return out[:1] == [self.server_address()]

    def container(self, role):
        return self.names[role]

    def server_address(self):
        return self.addresses[self.names["server"]]

    def server_name(self):
        return self.names["server"]

    def peer_address(self):
        return self.addresses[self.names["peer"]]

    def rerun_changes(self):
        return [run_module("container_network", network, netns=self.host)["changed"] for network in self.networks]

    def remove(self):
        self.server_process.kill()
        self.server_process.wait()
        for network in self.networks:
            run_module("container_network", dict(network, state="absent"), netns=self.host)


def reached(answer):
    return not answer.startswith("error")


def behaviours(side, host):
    """Each behaviour of the table, checked on one side: row -> True (it happens) or False."""
    server, peer, other, internal = (side.container(r) for r in ("server", "peer", "other", "internal"))
    port = 80 if isinstance(side, DockerSide) else 7000
    out = side.probe(peer, NEIGHBOUR, OUT_PORT)
    return {
        "same network": reached(side.probe(peer, side.server_address(), port)),
        "out, masqueraded": out == HOST,
        "published, from another host": reached(tcp_answer(host["neighbour"], HOST, side.port)),
        "published, from the host": reached(tcp_answer(host["host"], HOST, side.port)),
        "published, from 127.0.0.1": reached(tcp_answer(host["host"], "127.0.0.1", side.port)),
        "published, hairpin": reached(side.probe(peer, HOST, side.port)),
        "published, from another network": reached(side.probe(other, HOST, side.port)),
        "isolation between networks": reached(side.probe(other, side.server_address(), port)),
        "internal network, no way out": reached(side.probe(internal, NEIGHBOUR, OUT_PORT)),
        "names": side.resolves(peer, side.server_name()),
        "direct, from the LAN": ping(host["neighbour"], side.peer_address()),
        "direct to a published port": reached(tcp_answer(host["neighbour"], side.server_address(), port)),
    }


def documented_table():
    """The table on the Docker docs page: row -> (Docker's result, ours), each "yes" or "no"."""
    text = (REPO / "docs" / "docsite" / "rst" / "docker.rst").read_text()
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if len(cells) == 4 and cells[2] in ("yes", "no") and cells[3] in ("yes", "no"):
            rows[cells[0]] = (cells[2], cells[3])
    return rows


@pytest.fixture(scope="module")
def site(netns_module):
    """A host namespace with the daemon, and a neighbour on its LAN (the host's default route points at it) that runs
    the echo service."""
    host, neighbour = netns_module("dockhost"), netns_module("lan")
    wire_lan(host, neighbour, HOST, NEIGHBOUR)
    # the neighbour routes Docker's subnets and ours via the host, as one that tries the containers directly would
    for subnets in ("10.219.0.0/16", "10.32.0.0/11"):
        sh("ip", "-n", neighbour, "route", "add", subnets, "via", HOST)
    echo = start_whoami(neighbour, OUT_PORT)
    daemon = Dockerd(host)
    yield {"host": host, "neighbour": neighbour, "docker": daemon}
    daemon.stop()
    echo.kill()
    echo.wait()


def test_docker_and_ours_side_by_side_behave_alike_and_as_documented(site, nsname):
    docker_side = DockerSide(site["docker"])
    ours = OurSide(site["host"], nsname)
    try:
        theirs, mine = behaviours(docker_side, site), behaviours(ours, site)
        table = {row: ("yes" if theirs[row] else "no", "yes" if mine[row] else "no") for row, _what in BEHAVIOURS}
        out = REPO / "tests" / "output"
        out.mkdir(exist_ok=True)
        (out / "docker-behaviours.json").write_text(json.dumps(table, indent=2) + "\n")
        assert table == documented_table(), "the Docker page's table says what the daemon and we do"
        assert {row for row, (d, o) in table.items() if d != o} == DIFFERENCES, f"differences from Docker's: {table}"
    finally:
        ours.remove()


def test_docker_restarted_while_ours_stays_up_then_our_teardown_leaves_dockers_rules(site, nsname):
    docker = site["docker"]
    for name in ("d1", "d2", "d3", "d4"):
        docker.docker("rm", "-f", name, check=False)
    for network in ("dnet", "dother", "dint"):
        docker.docker("network", "rm", network, check=False)
    docker_side = DockerSide(docker)
    ours = OurSide(site["host"], nsname)
    try:
        docker.restart()  # Docker rebuilds its chains (and FORWARD's policy and jumps) and restarts d1
        assert _eventually(lambda: reached(tcp_answer(site["neighbour"], HOST, DockerSide.port)))
        assert reached(tcp_answer(site["neighbour"], HOST, OurSide.port)), "ours stayed up"
        assert ours.probe(ours.container("peer"), NEIGHBOUR, OUT_PORT) == HOST
        assert reached(ours.probe(ours.container("peer"), ours.server_address(), 7000))
        assert ours.rerun_changes() == [False, False, False], "our re-run after Docker's restart changes nothing"
        before = foreign_iptables_rules(site["host"])
    finally:
        ours.remove()
    assert foreign_iptables_rules(site["host"]) == before, "our teardown left Docker's rules as they were"
    assert reached(tcp_answer(site["neighbour"], HOST, DockerSide.port)), "Docker's port still works"
    assert _eventually(lambda: reached(docker_side.probe("d2", docker_side.server_address(), 80))), "and its network"


def _eventually(check, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.3)
    return False


def test_a_network_with_a_running_container_is_refused_by_both_and_stopped_by_both_when_asked(site, nsname):
    """docker network rm refuses a network with a running container, as our teardown refuses a container with a
    running process; docker stop (SIGTERM, then SIGKILL after its timeout) and docker network rm then do what our
    stop_processes does."""
    docker, host = site["docker"], site["host"]
    docker.docker("network", "create", "--subnet", "10.219.9.0/24", "dtear")
    docker.run_with("t1", "dtear", (), *HTTPD)
    x1 = nsname("x1")
    ours = {"name": "tear", "bridge": "br-tear", "subnet": "10.39.0.0/24", "containers": [{"name": x1}]}
    assert not run_module("container_network", ours, netns=host).get("failed")
    server = start_whoami(x1, 80)
    try:
        theirs = docker.docker("network", "rm", "dtear", check=False)
        mine = run_module("container_network", dict(ours, state="absent"), netns=host)
        assert theirs.returncode != 0 and "active endpoints" in theirs.stderr, theirs.stderr
        assert mine["failed"] and f"{server.pid} (" in mine["msg"], mine
        assert docker.docker("inspect", "-f", "{{.State.Running}}", "t1").stdout.strip() == "true"
        assert server.poll() is None, "both refused, and nothing stopped"

        docker.docker("stop", "-t", "2", "t1")
        docker.docker("network", "rm", "dtear")
        stopped = run_module("container_network", dict(ours, state="absent", stop_processes=True), netns=host)
        assert stopped["changed"] and not stopped.get("failed"), stopped.get("msg")
        # httpd as a container's PID 1 may leave SIGTERM unhandled: Docker then SIGKILLs it after the timeout, as ours does
        assert docker.docker("inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}", "t1").stdout.split() in (
            ["false", "143"], ["false", "137"])
        assert server.wait(timeout=5) == -15, "ours stopped its server with SIGTERM"
        assert "br-tear" not in sh("ip", "-n", host, "-br", "link").stdout
    finally:
        docker.docker("rm", "-f", "t1", check=False)
        docker.docker("network", "rm", "dtear", check=False)
        if server.poll() is None:
            server.kill()
        server.wait()
        run_module("container_network", dict(ours, state="absent", stop_processes=True), netns=host)
