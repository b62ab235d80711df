"""Published ports (container_network's ports, linuxns.net.port_forward) against real namespaces and real traffic:
every way a published port is reached, the client address the service sees, conflicts, exactness."""

from __future__ import annotations

import pytest

from support import ping, run_module, sh, start_whoami, whoami

UNDERLAY_HOST, UNDERLAY_CLIENT = "198.18.100.1", "198.18.100.2"
WEB, OTHER = "10.31.0.0/24", "10.32.0.0/24"


@pytest.fixture
def site(netns, nsname):
    """A host (198.18.100.1) with a client host beside it (198.18.100.2); on the host, network web (w1, w2) and
    network other (o1), both built by container_network. w1 serves whoami on 80, 443, 9000 and 9001."""
    host, client = netns("host"), netns("client")
    sh("ip", "-n", host, "link", "add", "up0", "type", "veth", "peer", "name", "up0", "netns", client)
    for ns, addr in ((host, UNDERLAY_HOST), (client, UNDERLAY_CLIENT)):
        sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", "up0")
        sh("ip", "-n", ns, "link", "set", "up0", "up")
    names = {"w1": nsname("w1"), "w2": nsname("w2"), "o1": nsname("o1")}
    servers = []

    def build(backend_setup=None, ports=("8080:80", "8080:80/udp", "127.0.0.1:8443:443", f"{UNDERLAY_HOST}:9090:80",
                                         "9000-9001:9000-9001/udp")):
        if backend_setup:
            backend_setup(host)
        web = {"name": "web", "subnet": WEB, "containers": [{"name": names["w1"], "ports": list(ports)}, {"name": names["w2"]}]}
        other = {"name": "other", "subnet": OTHER, "containers": [{"name": names["o1"]}]}
        results = [run_module("container_network", web, netns=host), run_module("container_network", other, netns=host)]
        assert not any(r.get("failed") for r in results), [r.get("msg") for r in results]
        servers.append(start_whoami(names["w1"], 80, 443, 9000, 9001))
        return web, other, results

    yield host, client, names, build
    for server in servers:
        server.kill()
        server.wait()
    for name in ("web", "other"):
        run_module("container_network", {"name": name, "subnet": WEB if name == "web" else OTHER, "state": "absent",
                                         "containers": [{"name": n} for k, n in names.items() if k[0] == name[0]]},
                   netns=host)


def docker_neighbour(host):
    """What Docker leaves in a host's iptables-nft: FORWARD policy DROP, its own chains and a DNAT of its own."""
    sh("iptables-nft", "-P", "FORWARD", "DROP", netns=host)
    sh("iptables-nft", "-N", "DOCKER-USER", netns=host)
    sh("iptables-nft", "-A", "FORWARD", "-j", "DOCKER-USER", netns=host)
    sh("iptables-nft", "-t", "nat", "-N", "DOCKER", netns=host)
    sh("iptables-nft", "-t", "nat", "-A", "PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "DOCKER", netns=host)
    sh("iptables-nft", "-t", "nat", "-A", "DOCKER", "!", "-i", "docker0", "-p", "tcp", "-m", "tcp", "--dport", "5000",
       "-j", "DNAT", "--to-destination", "172.17.0.2:5000", netns=host)


@pytest.mark.parametrize("neighbour", [None, docker_neighbour], ids=["nftables", "iptables-nft-beside-docker"])
def test_every_way_to_reach_a_published_port(site, neighbour):
    host, client, names, build = site
    web, other, results = build(neighbour)
    backend = results[0]["backends"][""]
    assert backend == ("nftables" if neighbour is None else "iptables-nft")
    w1_address = results[0]["addresses"][names["w1"]]
    gateway = results[0]["gateway"]
    for proto in ("tcp", "udp"):
        # 1. from another host, at the host's address: the service sees the real client
        assert whoami(client, proto, UNDERLAY_HOST, 8080) == UNDERLAY_CLIENT, proto
        # 2. from the host itself, at its address (its own address is the client) and at 127.0.0.1 (masqueraded)
        assert whoami(host, proto, UNDERLAY_HOST, 8080) == UNDERLAY_HOST, proto
        assert whoami(host, proto, "127.0.0.1", 8080) == gateway, proto
        # 3. hairpin, to itself and from a neighbour: masqueraded to the gateway, so that the reply comes back via NAT
        assert whoami(names["w1"], proto, UNDERLAY_HOST, 8080) == gateway, proto
        assert whoami(names["w2"], proto, UNDERLAY_HOST, 8080) == gateway, proto
        # 4. from a container of another, isolated network: reached, with its real address
        assert whoami(names["o1"], proto, UNDERLAY_HOST, 8080) == results[1]["addresses"][names["o1"]], proto
    # published on 127.0.0.1 only: the host reaches it there, the client not at all
    assert whoami(host, "tcp", "127.0.0.1", 8443) == gateway
    assert whoami(client, "tcp", UNDERLAY_HOST, 8443).startswith("error")
    # published on one host address: reached there
    assert whoami(client, "tcp", UNDERLAY_HOST, 9090) == UNDERLAY_CLIENT
    # a range, port for port
    assert whoami(client, "udp", UNDERLAY_HOST, 9001) == UNDERLAY_CLIENT
    # isolation still holds for everything that is not a published port
    assert not ping(names["o1"], w1_address)
    # the container's other ports are not published
    assert whoami(client, "tcp", UNDERLAY_HOST, 9000).startswith("error")
    # 127.0.0.0/8 arriving on the bridge from a container does not reach the host's loopback services
    sh("ip", "-n", names["w2"], "route", "add", "127.0.0.0/8", "via", gateway, "dev", "eth0", "onlink", check=False)
    assert whoami(names["w2"], "tcp", "127.0.0.1", 8443).startswith("error")
    # exact: a re-run and a check run change nothing
    assert not run_module("container_network", web, netns=host)["changed"]
    assert not run_module("container_network", web, check_mode=True, netns=host)["changed"]


def test_changing_and_removing_ports_is_exact(site):
    host, client, names, build = site
    web, _other, _results = build(ports=["8080:80"])
    moved = dict(web, containers=[{"name": names["w1"], "ports": ["8081:80"]}, {"name": names["w2"]}])
    predicted = run_module("container_network", moved, check_mode=True, diff=True, netns=host)
    assert predicted["changed"] and whoami(client, "tcp", UNDERLAY_HOST, 8080) == UNDERLAY_CLIENT, "check mode changes nothing"
    after = predicted["diff"]["after"]
    assert any(v and v.get("ports") == {"10.31.0.2": ["8081:80"]} for v in after.values()), after
    assert run_module("container_network", moved, netns=host)["changed"]
    assert whoami(client, "tcp", UNDERLAY_HOST, 8081) == UNDERLAY_CLIENT
    assert whoami(client, "tcp", UNDERLAY_HOST, 8080).startswith("error")
    assert not run_module("container_network", moved, netns=host)["changed"]
    none = dict(web, containers=[{"name": names["w1"]}, {"name": names["w2"]}])
    assert run_module("container_network", none, netns=host)["changed"]
    assert "dnat ip to" not in sh("nft", "list", "table", "inet", "linuxns_net", netns=host).stdout
    assert not run_module("container_network", none, netns=host)["changed"]


def test_conflicts_name_both_claimants_and_change_nothing(site):
    host, client, names, build = site
    web, other, _results = build(docker_neighbour, ports=["8080:80"])

    def rules():
        return [line for line in sh("iptables-nft-save", netns=host).stdout.splitlines() if not line.startswith("#")]
    rules_before = rules()
    # two containers of one network
    both = dict(web, containers=[{"name": names["w1"], "ports": ["8080:80"]}, {"name": names["w2"], "ports": ["8080:81"]}])
    result = run_module("container_network", both, netns=host)
    assert result["failed"] and f"container '{names['w1']}'" in result["msg"] and f"container '{names['w2']}'" in result["msg"]
    # another network claims a port the first one has
    taken = dict(other, containers=[{"name": names["o1"], "ports": [f"{UNDERLAY_HOST}:8080:80"]}])
    result = run_module("container_network", taken, netns=host)
    assert result["failed"] and "network 'web'" in result["msg"] and f"container '{names['o1']}'" in result["msg"], result["msg"]
    # a port that Docker's own DNAT rule publishes
    result = run_module("container_network", dict(other, containers=[{"name": names["o1"], "ports": ["5000:80"]}]), netns=host)
    assert result["failed"] and "does not own" in result["msg"] and "DOCKER" in result["msg"] and "172.17.0.2" in result["msg"]
    # the ad-hoc module against a network's port
    result = run_module("port_forward", {"name": "adhoc", "to": "10.32.0.2", "ports": ["8080:80"]}, netns=host)
    assert result["failed"] and "network 'web'" in result["msg"] and "forward 'adhoc'" in result["msg"]
    assert rules() == rules_before, "a refused run changes nothing"
    # other protocol, other address on another port: no conflict
    fine = dict(other, containers=[{"name": names["o1"], "ports": ["8080:80/udp", f"{UNDERLAY_HOST}:8081:80"]}])
    assert not run_module("container_network", fine, netns=host).get("failed")


def test_port_forward_module_for_a_namespace_made_by_hand(netns):
    host, client, box = netns("host"), netns("client"), netns("box")
    sh("ip", "-n", host, "link", "add", "up0", "type", "veth", "peer", "name", "up0", "netns", client)
    sh("ip", "-n", host, "link", "add", "tobox", "type", "veth", "peer", "name", "eth0", "netns", box)
    for ns, dev, addr in ((host, "up0", UNDERLAY_HOST), (client, "up0", UNDERLAY_CLIENT), (host, "tobox", "10.40.0.1"),
                          (box, "eth0", "10.40.0.2")):
        sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
        sh("ip", "-n", ns, "link", "set", dev, "up")
    sh("ip", "-n", box, "route", "add", "default", "via", "10.40.0.1")
    server = start_whoami(box, 80)
    try:
        args = {"name": "web", "to": "10.40.0.2", "ports": ["8080:80", "127.0.0.1:8443:80"]}
        predicted = run_module("port_forward", args, check_mode=True, netns=host)
        assert predicted["changed"] and whoami(client, "tcp", UNDERLAY_HOST, 8080).startswith("error")
        assert run_module("port_forward", args, netns=host)["changed"]
        assert whoami(client, "tcp", UNDERLAY_HOST, 8080) == UNDERLAY_CLIENT
        assert whoami(host, "tcp", "127.0.0.1", 8443) == "10.40.0.1"
        assert whoami(box, "tcp", UNDERLAY_HOST, 8080) == "10.40.0.1", "hairpin from the target's own subnet"
        assert sh("sysctl", "-n", "net.ipv4.conf.tobox.route_localnet", netns=host).stdout.strip() == "1"
        assert sh("sysctl", "-n", "net.ipv4.ip_forward", netns=host).stdout.strip() == "1", "forwarding turned on"
        assert not run_module("port_forward", args, netns=host)["changed"]
        assert not run_module("port_forward", args, check_mode=True, netns=host)["changed"]
        assert run_module("port_forward", {"name": "web", "state": "absent"}, netns=host)["changed"]
        assert whoami(client, "tcp", UNDERLAY_HOST, 8080).startswith("error")
        assert sh("nft", "list", "table", "inet", "linuxns_net", netns=host, check=False).returncode != 0, "the table goes with its last rule"
    finally:
        server.kill()
        server.wait()


@pytest.mark.parametrize("ports, message", [
    (["0:80"], "port 0 is out of range"),
    (["70000:80"], "port 70000 is out of range"),
    (["80:abc"], "is not a port or a range"),
    (["9000-9003:9000-9002"], "must be the same length"),
    (["8080:80/sctpx"], "protocol 'sctpx' must be one of tcp, udp, sctp"),
    (["203.0.113.9:8080:80"], "203.0.113.9 is not an address of this host"),
    (["80"], "a host port is required"),
    ([1342], "quote the mapping"),
    (["8080:80", "8080:81"], "claim the same tcp port"),
    (["::1:8080:80"], "is not in the form"),
])
def test_bad_ports_are_refused_before_any_change(netns, nsname, ports, message):
    host = netns("host")
    c1 = nsname("c1")
    result = run_module("container_network", {"name": "web", "subnet": WEB, "containers": [{"name": c1, "ports": ports}]},
                        netns=host)
    assert result["failed"] and message in result["msg"] and c1 in result["msg"], result["msg"]
    assert c1 not in sh("ip", "netns", "list").stdout
