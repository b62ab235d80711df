"""Internal networks, containers on several networks, and names, against real namespaces."""

from __future__ import annotations

import subprocess

import pytest

from support import ETC_NETNS, addresses, links, namespaces, ping, routes, run_module, sh, start_whoami, whoami

UPSTREAM = "198.18.101.2"


@pytest.fixture
def host(netns):
    """A host with an upstream neighbour (198.18.101.2) to prove what leaves it and what does not."""
    host, upstream = netns("host"), netns("upstream")
    sh("ip", "-n", host, "link", "add", "up0", "type", "veth", "peer", "name", "up0", "netns", upstream)
    for ns, addr in ((host, "198.18.101.1/24"), (upstream, f"{UPSTREAM}/24")):
        sh("ip", "-n", ns, "addr", "add", addr, "dev", "up0")
        sh("ip", "-n", ns, "link", "set", "up0", "up")
    return host, upstream


def network(name, subnet, containers, **extra):
    return dict({"name": name, "subnet": subnet, "containers": containers}, **extra)


def docker_like(host, program):
    """What Docker sets up on a host: FORWARD policy DROP (bridged frames pass through it too: the namespace's
    bridge-nf-call-iptables is 1, the default) and a rule of its own."""
    sh(program, "-P", "FORWARD", "DROP", netns=host)
    sh(program, "-N", "DOCKER-USER", netns=host)
    sh(program, "-A", "FORWARD", "-j", "DOCKER-USER", netns=host)
    assert sh("sysctl", "-n", "net.bridge.bridge-nf-call-iptables", netns=host).stdout.strip() == "1"


@pytest.mark.parametrize("program", ["iptables-legacy", "iptables-nft"])
def test_internal_network_beside_a_drop_policy(host, nsname, program):
    """On a Docker-like host (FORWARD DROP, bridged frames through iptables) an internal network's containers still
    reach each other (a served port, not only a ping), and still nothing else."""
    host, upstream = host
    docker_like(host, program)
    a, b = nsname("a"), nsname("b")
    internal = network("back", "10.34.0.0/24", [{"name": a}, {"name": b}], internal=True)
    made = run_module("container_network", internal, netns=host)
    assert not made.get("failed"), made.get("msg")
    assert made["backends"][""] == program
    server = start_whoami(b, 7000)
    try:
        assert whoami(a, "tcp", made["addresses"][b], 7000) == made["addresses"][a]
        assert whoami(a, "udp", made["addresses"][b], 7000) == made["addresses"][a]
    finally:
        server.kill()
        server.wait()
    assert ping(a, made["addresses"][b]) and ping(a, made["gateway"])
    sh("ip", "-n", upstream, "route", "add", "10.34.0.0/24", "via", "198.18.101.1")
    assert not ping(upstream, made["addresses"][b]) and not ping(a, UPSTREAM)
    assert not run_module("container_network", internal, netns=host)["changed"]
    run_module("container_network", dict(internal, state="absent"), netns=host)


def test_internal_network_has_no_path_out(host, nsname):
    host, upstream = host
    a, b = nsname("a"), nsname("b")
    internal = network("back", "10.33.0.0/24", [{"name": a}, {"name": b}], internal=True)
    made = run_module("container_network", internal, netns=host)
    assert made["changed"] and not made.get("failed"), made.get("msg")
    # the containers talk to each other and to the gateway
    assert ping(a, made["addresses"][b]) and ping(a, made["gateway"])
    # no route out
    assert routes(a, "default") == []
    assert not ping(a, UPSTREAM)
    # not even with a route added by hand inside the container, nor from outside in
    sh("ip", "-n", a, "route", "add", "default", "via", made["gateway"])
    sh("ip", "-n", upstream, "route", "add", "10.33.0.0/24", "via", "198.18.101.1")
    assert not ping(a, UPSTREAM)
    assert not ping(upstream, made["addresses"][b])
    assert "masquerade" not in sh("nft", "list", "table", "inet", "linuxns_net", netns=host).stdout
    sh("ip", "-n", a, "route", "del", "default")
    assert not run_module("container_network", internal, netns=host)["changed"]
    assert not run_module("container_network", internal, check_mode=True, netns=host)["changed"]
    # a network that becomes internal loses its containers' default routes, and its way out
    outside = network("front", "10.34.0.0/24", [{"name": nsname("c")}])
    c = outside["containers"][0]["name"]
    run_module("container_network", outside, netns=host)
    assert ping(c, UPSTREAM)
    assert run_module("container_network", dict(outside, internal=True), netns=host)["changed"]
    assert routes(c, "default") == [] and not ping(c, UPSTREAM)
    published = network("back", "10.33.0.0/24", [{"name": a, "ports": ["8080:80"]}], internal=True)
    refused = run_module("container_network", published, netns=host)
    assert refused["failed"] and "internal" in refused["msg"] and a in refused["msg"]
    for net in (internal, dict(outside, internal=True)):
        assert run_module("container_network", dict(net, state="absent"), netns=host)["changed"]


def test_container_on_two_networks_joins_and_leaves_cleanly(host, nsname):
    host, upstream = host
    api, web, db = nsname("api"), nsname("web"), nsname("db")
    front = network("front", "10.35.0.0/24", [{"name": api}, {"name": web}])
    back = network("back", "10.36.0.0/24", [{"name": api, "interface": "eth1"}, {"name": db}], internal=True)
    assert run_module("container_network", front, netns=host)["changed"]
    joined = run_module("container_network", back, netns=host)
    assert joined["changed"] and not joined.get("failed"), joined.get("msg")
    assert addresses(api, "eth0") == ["10.35.0.2/24"] and addresses(api, "eth1") == ["10.36.0.2/24"]
    # api pings both networks; its default route stays on eth0, so it still reaches the upstream
    assert ping(api, "10.35.0.3") and ping(api, joined["addresses"][db])
    assert [r["dev"] for r in routes(api, "default")] == ["eth0"] and ping(api, UPSTREAM)
    assert not ping(db, "10.35.0.3"), "db is only on the internal network"
    assert not run_module("container_network", front, netns=host)["changed"]
    assert not run_module("container_network", back, netns=host)["changed"]
    # a second network claiming the same interface, or the default route, fails clearly and changes nothing
    before = links(api)
    clash = network("third", "10.37.0.0/24", [{"name": api}])
    refused = run_module("container_network", clash, netns=host)
    assert refused["failed"] and "already has an interface 'eth0'" in refused["msg"] and api in refused["msg"]
    steal = network("third", "10.37.0.0/24", [{"name": api, "interface": "eth2", "default_route": True}])
    refused = run_module("container_network", steal, netns=host)
    assert refused["failed"] and "default route via 'eth0'" in refused["msg"], refused["msg"]
    assert links(api).keys() == before.keys() and "br-third" not in links(host)
    # api leaves the back network: eth1 goes, eth0 and its routes stay
    leaving = [{"name": api, "interface": "eth1", "state": "absent"}, {"name": db}]
    left = run_module("container_network", dict(back, containers=leaving), netns=host)
    assert left["changed"] and "eth1" not in links(api) and addresses(api, "eth0") == ["10.35.0.2/24"]
    assert ping(api, "10.35.0.3") and ping(api, UPSTREAM)
    # the back network goes: db's namespace with it; api stays on front
    run_module("container_network", dict(back, state="absent"), netns=host)
    assert db not in sh("ip", "netns", "list").stdout and api in sh("ip", "netns", "list").stdout
    run_module("container_network", dict(front, state="absent"), netns=host)
    assert api not in sh("ip", "netns", "list").stdout


def _hosts(name):
    path = ETC_NETNS / name / "hosts"
    return path.read_text() if path.exists() else None


def _getent(container, name):
    """getent hosts inside container, with its hosts file mounted as `ip netns exec` mounts it."""
    script = f'mount --bind "{ETC_NETNS / container / "hosts"}" /etc/hosts && exec getent hosts "{name}"'
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "nsenter", f"--net=/run/netns/{container}",
                           "sh", "-c", script], capture_output=True, text=True, check=False)
    return proc.stdout.split()[0] if proc.returncode == 0 else None


def test_names_resolve_and_go_with_the_network(host, nsname):
    host, _upstream = host
    c1, c2, c3 = nsname("c1"), nsname("c2"), nsname("c3")
    front = network("front", "10.38.0.0/24", [{"name": c1}, {"name": c2}])
    back = network("back", "10.39.0.0/24", [{"name": c2, "interface": "eth1"}, {"name": c3}])
    made = run_module("container_network", front, netns=host)
    assert _getent(c1, c2) == made["addresses"][c2] and _getent(c2, c1) == made["addresses"][c1]
    assert _getent(c1, "localhost") in ("127.0.0.1", "::1")
    assert _getent(c1, c3) is None
    # a file the collection did not write is left alone
    (ETC_NETNS / c3).mkdir(parents=True, exist_ok=True)
    (ETC_NETNS / c3 / "hosts").write_text("10.0.0.1 mine\n")
    result = run_module("container_network", back, netns=host)
    assert any("not written by linuxns.net" in w for w in result["warnings"])
    assert _hosts(c3) == "10.0.0.1 mine\n"
    # c2 is on both networks: one block each
    assert "network front" in _hosts(c2) and "network back" in _hosts(c2)
    assert _getent(c2, c3) == result["addresses"][c3]
    # kept exact: an edited block is rewritten, and check mode predicts it
    (ETC_NETNS / c1 / "hosts").write_text(_hosts(c1).replace(made["addresses"][c2], "10.38.0.99"))
    assert run_module("container_network", front, check_mode=True, netns=host)["changed"]
    assert run_module("container_network", front, netns=host)["changed"]
    assert _getent(c1, c2) == made["addresses"][c2]
    assert not run_module("container_network", front, netns=host)["changed"]
    # removed with the network: back's block goes from c2's file, and c3's own file stays
    run_module("container_network", dict(back, state="absent"), netns=host)
    assert "network back" not in _hosts(c2) and "network front" in _hosts(c2) and _hosts(c3) == "10.0.0.1 mine\n"
    (ETC_NETNS / c3 / "hosts").unlink()
    run_module("container_network", dict(front, state="absent"), netns=host)
    assert _hosts(c1) is None and _hosts(c2) is None and not (ETC_NETNS / c1).exists()


def test_a_network_never_takes_over_another_networks_bridge(host, nsname):
    """Issue 20 (a): a second network naming the first one's bridge is refused, naming both, present or absent; the
    first network's containers keep their gateway, and its own teardown still works."""
    host, _upstream = host
    c1, c2 = nsname("c1"), nsname("c2")
    base = network("base", "10.56.0.0/24", [{"name": c1}], bridge="br-base")
    made = run_module("container_network", base, netns=host)
    assert not made.get("failed"), made.get("msg")
    before = (addresses(host, "br-base"), {name: link.get("master") for name, link in links(host).items()})
    for state in ("present", "absent"):
        evil = network("evil2", "10.57.0.0/24", [{"name": c2}], bridge="br-base", state=state)
        refused = run_module("container_network", evil, netns=host)
        assert refused["failed"], f"evil2 ({state}) was accepted"
        assert "network 'evil2'" in refused["msg"] and "bridge 'br-base'" in refused["msg"]
        assert "network 'base'" in refused["msg"]
        assert (addresses(host, "br-base"), {name: link.get("master") for name, link in links(host).items()}) == before
    assert addresses(host, "br-base") == ["10.56.0.1/24"] and ping(c1, "10.56.0.1")
    # a bridge made by hand with addresses of its own is not adopted either
    sh("ip", "-n", host, "link", "add", "br-hand", "type", "bridge")
    sh("ip", "-n", host, "addr", "add", "10.58.0.1/24", "dev", "br-hand")
    refused = run_module("container_network", network("other", "10.59.0.0/24", [], bridge="br-hand"), netns=host)
    assert refused["failed"] and "10.58.0.1/24" in refused["msg"] and "network 'other'" in refused["msg"]
    assert addresses(host, "br-hand") == ["10.58.0.1/24"]
    assert not run_module("container_network", base, netns=host)["changed"]
    assert run_module("container_network", dict(base, state="absent"), netns=host)["changed"]
    assert "br-base" not in links(host)


def test_a_network_name_cannot_write_lines_of_its_own(host, nsname):
    """Issue 20 (b): whitespace and control characters in a network name are refused before anything is written."""
    host, _upstream = host
    c1 = nsname("c1")
    for name in ("evil\n10.0.0.66 injected", "two words", "tab\there", "bell\x07"):
        refused = run_module("container_network", network(name, "10.60.0.0/24", [{"name": c1}], bridge="br-x"), netns=host)
        assert refused["failed"] and "whitespace and control characters" in refused["msg"], refused.get("msg")
        assert "br-x" not in links(host) and _hosts(c1) is None


def test_the_containers_list_is_the_whole_membership(host, nsname):
    """A request that names only some of a network's containers: the others leave it (ports, names, interface, and
    the namespace when it was their last network); state absent takes every container of the network, listed or not."""
    host, _upstream = host
    b1, b2, b3 = nsname("b1"), nsname("b2"), nsname("b3")
    base = network("base", "10.38.0.0/24", [{"name": b1, "ports": ["8080:80"]}, {"name": b2}, {"name": b3}])
    other = network("other", "10.39.0.0/24", [{"name": b3, "interface": "eth1"}])
    made = run_module("container_network", base, netns=host)
    run_module("container_network", other, netns=host)
    server = start_whoami(b1, 80)
    try:
        assert whoami(host, "tcp", "10.38.0.1", 8080) == "10.38.0.1"
    finally:
        server.kill()
        server.wait()

    only_b2 = dict(base, containers=[{"name": b2}])
    predicted = run_module("container_network", only_b2, check_mode=True, netns=host)
    assert predicted["changed"] and b1 in namespaces() and "eth0" in links(b3)
    shrunk = run_module("container_network", only_b2, netns=host)
    assert shrunk["changes"] == predicted["changes"] and shrunk["addresses"] == {b2: made["addresses"][b2]}
    assert b1 not in namespaces() and not (ETC_NETNS / b1).exists(), "b1 was only on base: its namespace went"
    assert b3 in namespaces() and "eth0" not in links(b3) and addresses(b3, "eth1") == ["10.39.0.2/24"]
    assert "base" not in _hosts(b3) and f"10.38.0.3\t{b2}" in _hosts(b2) and b1 not in _hosts(b2)
    ports = [l for l in links(host).values() if l.get("master") == "br-base"]
    assert len(ports) == 1
    assert "dport 8080" not in sh("nft", "list", "table", "inet", "linuxns_net", netns=host).stdout
    assert not run_module("container_network", only_b2, netns=host)["changed"]

    # back to three, then absent naming none of them: every member goes, b3 stays on other
    run_module("container_network", base, netns=host)
    gone = run_module("container_network", dict(base, state="absent", containers=[]), netns=host)
    assert gone["changed"] and not {b1, b2} & set(namespaces()) and b3 in namespaces()
    assert "br-base" not in links(host) and [l for l in links(host) if l.startswith("veth")] == [
        l for l, v in links(host).items() if v.get("master") == "br-other"]
    assert not (ETC_NETNS / b1).exists() and not (ETC_NETNS / b2).exists() and "base" not in _hosts(b3)
    run_module("container_network", dict(other, state="absent"), netns=host)
    assert b3 not in namespaces()
