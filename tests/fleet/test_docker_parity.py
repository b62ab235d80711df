"""Docker parity on the lab fleet, through the roles: a published port reached from other hosts (with their real
address) and from the host itself, names resolved with `ip netns exec ... getent hosts`, an internal network with
no way out, and a container on two networks."""

from __future__ import annotations

import subprocess

import pytest

from hoststate import ns_exec, ping
from support import WHOAMI_CLIENT, WHOAMI_SERVER

pytestmark = pytest.mark.slow
PLAY = "tests/fleet/playbooks/parity.yml"


def whoami(lab, host, proto, address, port, ns=None):
    argv = ("python3", "-c", WHOAMI_CLIENT, proto, address, str(port))
    out = ns_exec(lab, host, ns, *argv) if ns else lab.exec(host, *argv)
    return out.stdout.strip()


def test_published_ports_names_internal_and_two_networks(lab, playbook):
    playbook(PLAY)
    hosts = lab.state()["hosts"]
    host1, host2 = hosts["host1"]["address"], hosts["host2"]["address"]
    pid = hosts["host1"]["pid"]
    server = subprocess.Popen(["nsenter", "-t", str(pid), "--net", "--mount", "--", "ip", "netns", "exec", "web",
                               "python3", "-c", WHOAMI_SERVER, "80"], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        for proto in ("tcp", "udp"):
            # from another lab host, at host1's address: the service sees host2's own address
            assert whoami(lab, "host2", proto, host1, 8080) == host2, proto
            # from a container on another host: it leaves host2 masqueraded, so host2's address again
            assert whoami(lab, "host2", proto, host1, 8080, ns="app1") == host2, proto
            # from host1 itself, at its own address and at 127.0.0.1
            assert whoami(lab, "host1", proto, host1, 8080) == host1, proto
            assert not whoami(lab, "host1", proto, "127.0.0.1", 8080).startswith("error"), proto
            # hairpin from a neighbour on the same network
            assert not whoami(lab, "host1", proto, host1, 8080, ns="app1").startswith("error"), proto
        assert not whoami(lab, "host1", "tcp", "127.0.0.1", 8443).startswith("error")
        assert whoami(lab, "host2", "tcp", host1, 8443).startswith("error"), "published on host1's loopback only"
    finally:
        server.kill()
        server.wait()
    # names, the iproute2 way: ip netns exec mounts /etc/netns/<ns>/hosts
    web_front = ns_exec(lab, "host1", "web", "ip", "-j", "-4", "addr", "show", "dev", "eth0", check=True).stdout
    resolved = ns_exec(lab, "host1", "app1", "getent", "hosts", "web", check=True).stdout.split()[0]
    assert resolved in web_front
    assert ns_exec(lab, "host1", "db", "getent", "hosts", "web", check=True).stdout.split()[0].startswith("10.60.0.")
    # web is on both networks; db, on the internal one only, has no way out
    upstream = hosts["upstream"]["address"]
    assert ping(lab, "host1", "web", "10.60.0.3") and ping(lab, "host1", "web", upstream)
    assert not ping(lab, "host1", "db", upstream)
    assert ns_exec(lab, "host1", "db", "ip", "route", "show", "default").stdout.strip() == ""
    # exact
    assert playbook(PLAY).changed == 0
    assert playbook(PLAY, "--check").changed == 0
    playbook(PLAY, "-e", "parity_state=absent")
    for host in ("host1", "host2", "host3"):
        assert lab.exec(host, "ls", "-A", "/etc/netns").stdout.strip() == "", f"names left on {host}"
