"""Dual-stack and IPv6-only container networks against real namespaces: addresses, routes, forwarding, NAT, with
real IPv6 traffic and the source address the far end saw."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from ansible_collections.linuxns.net.plugins.module_utils._lab.echo import SERVER_AS_SEEN

from support import ETC_NETNS, addresses, ip_json, ping, routes, run_module, sh, whoami

UP6_HOST, UP6_UPSTREAM = "2001:db8:102::1", "2001:db8:102::2"
SUBNET, SUBNET6 = "10.41.0.0/24", "fd42:0:0:41::/64"

SERVER6 = SERVER_AS_SEEN  # the echo service; an IPv4 client shows as the IPv6 socket saw it (::ffff:...)


def ping6(netns, address):
    """One echo, one second: reachable at once, with no duplicate address detection to wait for."""
    return sh("ping", "-6", "-c", "1", "-W", "1", "-q", address, netns=netns, check=False).returncode == 0


@pytest.fixture
def site(netns):
    """A host with an upstream neighbour on 198.18.102.0/24 and 2001:db8:102::/64; the upstream serves whoami on
    TCP 7000 over IPv6 and routes the containers' ULA range back to the host (for the unmasqueraded case)."""
    host, upstream = netns("host"), netns("upstream")
    sh("ip", "-n", host, "link", "add", "up0", "type", "veth", "peer", "name", "up0", "netns", upstream)
    for ns, v4, v6 in ((host, "198.18.102.1/24", f"{UP6_HOST}/64"), (upstream, "198.18.102.2/24", f"{UP6_UPSTREAM}/64")):
        sh("ip", "-n", ns, "addr", "add", v4, "dev", "up0")
        sh("ip", "-n", ns, "addr", "add", v6, "dev", "up0", "nodad")
        # a settled underlay, as on a real host: its link-local address usable now, not after DAD
        sh("sysctl", "-qw", "net.ipv6.conf.up0.accept_dad=0", netns=ns)
        sh("ip", "-n", ns, "link", "set", "up0", "up")
    sh("ip", "-n", host, "-6", "route", "add", "default", "via", UP6_UPSTREAM)
    # a settled underlay: the two ends know each other (the first exchange of two new namespaces takes a second)
    sh("ping", "-6", "-c", "1", "-W", "3", "-q", UP6_UPSTREAM, netns=host)
    sh("ip", "-n", upstream, "-6", "route", "add", "fd42::/16", "via", UP6_HOST)
    server = subprocess.Popen(["nsenter", f"--net=/run/netns/{upstream}", sys.executable, "-c", SERVER6, "7000"],
                              stdout=subprocess.PIPE, text=True)
    assert server.stdout.readline().strip() == "ready"
    yield host, upstream
    server.kill()
    server.wait()


def flags6(netns, ifname):
    return [a for l in json.loads(sh("ip", "-j", "-n", netns, "-6", "addr", "show", "dev", ifname).stdout)
            for a in l.get("addr_info", []) if a.get("scope") == "global"]


def test_dual_stack_network_end_to_end(site, nsname):
    host, _upstream = site
    c1, c2 = nsname("c1"), nsname("c2")
    spec = {"name": "dual", "subnet": SUBNET, "subnet6": SUBNET6,
            "containers": [{"name": c1}, {"name": c2, "address6": "fd42:0:0:41::99"}]}
    predicted = run_module("container_network", spec, check_mode=True, diff=True, netns=host)
    assert predicted["changed"] and not predicted.get("failed"), predicted.get("msg")
    made = run_module("container_network", spec, netns=host)
    assert made["changed"] and not made.get("failed"), made.get("msg")
    assert made["addresses6"] == {c1: "fd42:0:0:41::2", c2: "fd42:0:0:41::99"} and made["gateway6"] == "fd42:0:0:41::1"
    assert predicted["changes"] == made["changes"], "check mode predicts exactly"
    assert addresses(c1, "eth0") == ["10.41.0.2/24", "fd42:0:0:41::2/64"]
    assert "fd42:0:0:41::1/64" in addresses(host, "br-dual")
    # usable at once: no duplicate address detection, so nothing is tentative right after the run
    assert not any("tentative" in a for a in flags6(c1, "eth0")), flags6(c1, "eth0")
    assert [r.get("gateway") for r in ip_json(c1, "-6", "route", "show", "default")] == ["fd42:0:0:41::1"]
    assert sh("sysctl", "-n", "net.ipv6.conf.all.forwarding", netns=host).stdout.strip() == "1"
    # IPv6 between containers, to the gateway, and out: masqueraded (the default), so the upstream sees the host
    assert ping6(c1, "fd42:0:0:41::99") and ping6(c1, "fd42:0:0:41::1") and ping6(c1, UP6_UPSTREAM)
    assert whoami(c1, "tcp", UP6_UPSTREAM, 7000) == UP6_HOST
    assert ping(c1, "10.41.0.3"), "IPv4 still works beside it"
    names = (ETC_NETNS / c1 / "hosts").read_text()
    assert f"10.41.0.3\t{c2}" in names and f"fd42:0:0:41::99\t{c2}" in names, "names of both families"
    assert not run_module("container_network", spec, netns=host)["changed"]
    assert not run_module("container_network", spec, check_mode=True, netns=host)["changed"]
    # without IPv6 masquerade, the upstream sees the container's own address
    plain = dict(spec, masquerade6=False)
    assert run_module("container_network", plain, netns=host)["changed"]
    assert whoami(c1, "tcp", UP6_UPSTREAM, 7000) == "fd42:0:0:41::2"
    assert ping6(c1, UP6_UPSTREAM), "forwarded without NAT"
    assert not run_module("container_network", plain, netns=host)["changed"]
    assert run_module("container_network", dict(spec, state="absent"), netns=host)["changed"]
    assert "linuxns" not in sh("nft", "list", "ruleset", netns=host).stdout


def test_ipv6_only_network(site, nsname):
    host, _upstream = site
    c1, c2 = nsname("c1"), nsname("c2")
    spec = {"name": "six", "subnet6": "fd42:0:0:42::/64", "containers": [{"name": c1}, {"name": c2}]}
    made = run_module("container_network", spec, netns=host)
    assert made["changed"] and not made.get("failed"), made.get("msg")
    assert made["addresses"] == {} and made["gateway"] is None
    assert addresses(c1, "eth0") == ["fd42:0:0:42::2/64"]
    assert routes(c1, "default") == [], "no IPv4 default route"
    assert ping6(c1, "fd42:0:0:42::3") and ping6(c1, UP6_UPSTREAM)
    assert whoami(c1, "tcp", UP6_UPSTREAM, 7000) == UP6_HOST
    assert not run_module("container_network", spec, netns=host)["changed"]
    run_module("container_network", dict(spec, state="absent"), netns=host)


def test_kernel_addresses_stay_the_kernels(site, nsname):
    """An autoconfigured (non-permanent) address and the link-local one are not ours: never removed, never a diff."""
    host, _upstream = site
    c1 = nsname("c1")
    spec = {"name": "dual", "subnet": SUBNET, "subnet6": SUBNET6, "containers": [{"name": c1}]}
    run_module("container_network", spec, netns=host)
    sh("ip", "-n", c1, "-6", "addr", "add", "fd42:0:0:41::abcd/64", "dev", "eth0", "valid_lft", "600",
       "preferred_lft", "600", "nodad")  # what SLAAC would add: with lifetimes, not permanent
    assert not run_module("container_network", spec, netns=host)["changed"]
    assert "fd42:0:0:41::abcd/64" in addresses(c1, "eth0")
    run_module("container_network", dict(spec, state="absent"), netns=host)


def test_published_port_on_both_families(site, nsname):
    host, upstream = site
    c1, c2 = nsname("c1"), nsname("c2")
    spec = {"name": "dual", "subnet": SUBNET, "subnet6": SUBNET6,
            "containers": [{"name": c1, "ports": ["8080:80", f"[{UP6_HOST}]:9090:80", "198.18.102.1:9091:80"]}, {"name": c2}]}
    made = run_module("container_network", spec, netns=host)
    assert made["changed"] and not made.get("failed"), made.get("msg")
    server = subprocess.Popen(["nsenter", f"--net=/run/netns/{c1}", sys.executable, "-c", SERVER6, "80"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        # from another host over IPv6: the service sees the client's own address
        assert whoami(upstream, "tcp", UP6_HOST, 8080) == UP6_UPSTREAM
        assert whoami(upstream, "tcp", UP6_HOST, 9090) == UP6_UPSTREAM
        assert whoami(upstream, "tcp", "198.18.102.1", 9090).startswith("error"), "published on the IPv6 address only"
        # and over IPv4, the same published port (every address: both families, as Docker)
        assert whoami(upstream, "tcp", "198.18.102.1", 8080) == "::ffff:198.18.102.2"
        assert whoami(upstream, "tcp", "198.18.102.1", 9091) == "::ffff:198.18.102.2"
        assert whoami(upstream, "tcp", UP6_HOST, 9091).startswith("error"), "published on the IPv4 address only"
        # from the host itself at its IPv6 address, and hairpin from a neighbour (masqueraded to the gateway)
        assert whoami(host, "tcp", UP6_HOST, 8080) == UP6_HOST
        assert whoami(c2, "tcp", UP6_HOST, 8080) == "fd42:0:0:41::1"
    finally:
        server.kill()
        server.wait()
    assert not run_module("container_network", spec, netns=host)["changed"]
    assert not run_module("container_network", spec, check_mode=True, netns=host)["changed"]
    run_module("container_network", dict(spec, state="absent"), netns=host)
    assert "linuxns" not in sh("nft", "list", "ruleset", netns=host).stdout


# a router advertisement (router lifetime 1800 s) sent to all nodes on an interface: what a LAN's router sends
SEND_RA = """
import socket, struct, sys
index = socket.if_nametoindex(sys.argv[1])
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
s.sendto(struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 1800, 0, 0), ("ff02::1", 0, 0, index))
"""


def _ra_default_route(ns, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [r for r in ip_json(ns, "-6", "route", "show", "default") if r.get("protocol") == "ra"]
        if found:
            return found
        time.sleep(0.05)
    return []


def test_a_host_that_learns_its_ipv6_route_from_router_advertisements_keeps_it(netns, nsname):
    """Turning IPv6 forwarding on makes the kernel drop the default routes that RAs gave, and ignore later RAs,
    where accept_ra is 1: the host would lose its own IPv6 default route. The run sets accept_ra=2 on the uplink
    first (as Docker does), and on no other interface."""
    host, router = netns("host"), netns("router")
    sh("ip", "-n", host, "link", "add", "up0", "type", "veth", "peer", "name", "up0", "netns", router)
    for ns in (host, router):
        sh("sysctl", "-q", "-w", "net.ipv6.conf.up0.accept_dad=0", netns=ns)
        sh("ip", "-n", ns, "link", "set", "up0", "up")
    assert sh("sysctl", "-n", "net.ipv6.conf.up0.accept_ra", netns=host).stdout.strip() == "1"
    deadline = time.monotonic() + 5
    while not ip_json(router, "-6", "addr", "show", "dev", "up0", "scope", "link") and time.monotonic() < deadline:
        time.sleep(0.05)  # the router's link-local address, which it sends from
    sh(sys.executable, "-c", SEND_RA, "up0", netns=router)
    assert _ra_default_route(host), "the host learnt its default route from the router"

    c = nsname("c")
    spec = {"name": "ra", "bridge": "br-ra", "subnet6": "fd42:0:0:7::/64", "containers": [{"name": c}]}
    predicted = run_module("container_network", spec, check_mode=True, netns=host)
    assert any(line.startswith("set accept_ra=2 on 'up0'") for line in predicted["changes"])
    made = run_module("container_network", spec, netns=host)
    assert not made.get("failed"), made.get("msg")
    assert made["changes"].index(next(l for l in made["changes"] if l.startswith("set accept_ra=2"))) < made["changes"].index(
        f"set {'net.ipv6.conf.all.forwarding'}=1 in the module's own namespace"), "accept_ra before forwarding"
    assert sh("sysctl", "-n", "net.ipv6.conf.all.forwarding", netns=host).stdout.strip() == "1"
    assert sh("sysctl", "-n", "net.ipv6.conf.up0.accept_ra", netns=host).stdout.strip() == "2"
    assert sh("sysctl", "-n", "net.ipv6.conf.br-ra.accept_ra", netns=host).stdout.strip() != "2", "only the uplink"
    assert _ra_default_route(host, timeout=0.1), "forwarding on did not take the RA's default route away"
    # later advertisements still count: the route comes back after it is removed
    sh("ip", "-n", host, "-6", "route", "del", "default")
    sh(sys.executable, "-c", SEND_RA, "up0", netns=router)
    assert _ra_default_route(host)
    assert not run_module("container_network", spec, netns=host)["changed"]
    run_module("container_network", dict(spec, state="absent"), netns=host)
