"""Who may talk to whom, against real namespaces and real traffic (TCP, UDP, ICMP, both families): direct-access
protection (gateway modes nat, nat-unprotected, routed), direct_access_from, ICC off (port isolation and the drop)
and allow-lists on published ports; on nftables and on iptables-nft beside Docker's rules; exact re-runs, check
mode, and nothing left after teardown."""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from ansible_collections.linuxns.net.plugins.module_utils._info_views import InfoView
from support import collections_root, docker_neighbour, ping, run_module, sh, start_whoami, whoami

HOST, LAN = "198.18.23.1", "198.18.23.2"  # the host, and a neighbour on its LAN
HOST6, LAN6 = "2001:db8:23::1", "2001:db8:23::2"
SUBNET, SUBNET6 = "10.23.0.0/24", "fd42:23::/64"
C1, C2 = "10.23.0.2", "10.23.0.3"
C1_6, C2_6 = "fd42:23::2", "fd42:23::3"
UNPUBLISHED = 5555  # every container serves it; nobody publishes it
# a minute of kernel behaviour that does not depend on ansible-core: the main suite runs it, the older cores' not
pytestmark = pytest.mark.long


@pytest.fixture
def site(netns, nsname):
    """A host with a neighbour on its LAN (lan) that routes the network's subnets via the host, as an attacker
    would, and a second neighbour (other) with an address of its own; the network's containers c1 and c2 serve
    whoami on 80 and 5555 (both families) once built."""
    host, lan = netns("host"), netns("lan")
    sh("ip", "-n", host, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", lan)
    for ns, four, six in ((host, HOST, HOST6), (lan, LAN, LAN6)):
        sh("ip", "-n", ns, "addr", "add", f"{four}/24", "dev", "eth0")
        sh("ip", "-n", ns, "addr", "add", f"{six}/64", "dev", "eth0", "nodad")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
    sh("ip", "-n", lan, "addr", "add", "198.18.23.3/24", "dev", "eth0")  # a second source on the same neighbour
    sh("ip", "-n", lan, "route", "add", SUBNET, "via", HOST)
    sh("ip", "-n", lan, "-6", "route", "add", SUBNET6, "via", HOST6)
    names = {"c1": nsname("c1"), "c2": nsname("c2")}
    servers = []
    network = {"name": "acc", "subnet": SUBNET, "subnet6": SUBNET6}

    def build(setup=None, c2_ports=("8080:80", "8080:80/udp"), **options):
        if setup and not servers:
            setup(host)
        net = dict(network, containers=[{"name": names["c1"]}, {"name": names["c2"], "ports": list(c2_ports)}], **options)
        result = run_module("container_network", net, netns=host)
        assert not result.get("failed"), result.get("msg")
        if not servers:
            servers.extend(start_whoami(names[c], 80, UNPUBLISHED) for c in ("c1", "c2"))
        return net, result

    yield host, lan, names, build
    for server in servers:
        server.kill()
        server.wait()
    run_module("container_network", dict(network, state="absent", containers=[{"name": n} for n in names.values()]),
               netns=host)
    assert "linuxns" not in sh("nft", "list", "ruleset", netns=host).stdout, "teardown leaves no rule"
    assert "LINUXNS" not in sh("iptables-nft-save", netns=host).stdout + sh("ip6tables-nft-save", netns=host).stdout


def answers(ns, address, port):
    """tcp and udp: what whoami answered (the client address), or None."""
    with ThreadPoolExecutor(2) as pool:
        seen = dict(zip(("tcp", "udp"), pool.map(lambda proto: whoami(ns, proto, address, port), ("tcp", "udp"))))
    return {proto: None if text.startswith("error") else text for proto, text in seen.items()}


def direct(lan):
    """What the LAN neighbour gets from the containers at their own addresses: (address, port) -> tcp/udp answers,
    and ping. The probes run side by side: most of them wait for an answer that must not come."""
    keys = [(address, port) for address in (C1, C2, C1_6, C2_6) for port in (80, UNPUBLISHED, "icmp")]

    def probe(key):
        address, port = key
        return ping(lan, address) if port == "icmp" else answers(lan, address, port)
    with ThreadPoolExecutor(len(keys)) as pool:
        return dict(zip(keys, pool.map(probe, keys)))


def in_force(host):
    """netns_info's forwarding in the host's namespace: subnet -> (gateway mode, icc)."""
    info = run_module("netns_info", {"namespaces": [], "host": True}, netns=host)["host"]
    return {f["source"]: (f["gateway_mode"], f["icc"]) for f in info["forwarding"]}


@pytest.mark.parametrize("neighbour", [None, docker_neighbour], ids=["nftables", "iptables-nft-beside-docker"])
def test_a_lan_neighbour_reaches_published_ports_only(site, neighbour):
    """The issue's reproduction: a neighbour routes the subnet via the host. Gateway mode nat (the default) lets it
    in only through the published port on the host's address; nat-unprotected lets everything in, as before 2.0."""
    host, lan, names, build = site
    net, result = build(neighbour)
    assert result["backends"][""] == ("nftables" if neighbour is None else "iptables-nft")
    assert in_force(host) == {SUBNET: ("nat", True), SUBNET6: ("nat", True)}, "what is in force, read back"
    seen = direct(lan)
    assert all(v == {"tcp": None, "udp": None} for k, v in seen.items() if k[1] != "icmp"), seen
    assert not any(v for k, v in seen.items() if k[1] == "icmp"), "no ping to a container's own address"
    assert answers(lan, HOST, 8080) == {"tcp": LAN, "udp": LAN}, "the published port, with the real client"
    assert answers(lan, f"{HOST6}", 8080) == {"tcp": LAN6, "udp": LAN6}
    # the containers still reach the neighbour (replies pass), the host and each other
    assert ping(names["c1"], LAN) and ping(names["c1"], LAN6) and ping(names["c1"], C2) and ping(names["c2"], C1_6)
    assert whoami(host, "tcp", C1, UNPUBLISHED) == "10.23.0.1", "the host itself reaches them directly"
    assert not run_module("container_network", net, netns=host)["changed"]
    assert not run_module("container_network", net, check_mode=True, netns=host)["changed"]

    unprotected = dict(net, gateway_mode="nat-unprotected", gateway_mode6="nat-unprotected")
    predicted = run_module("container_network", unprotected, check_mode=True, diff=True, netns=host)
    assert predicted["changed"] and answers(lan, C1, UNPUBLISHED)["tcp"] is None, "check mode changes nothing"
    assert run_module("container_network", unprotected, netns=host)["changed"]
    seen = direct(lan)
    assert all(v == {"tcp": LAN if "." in k[0] else LAN6, "udp": LAN if "." in k[0] else LAN6}
               for k, v in seen.items() if k[1] != "icmp"), seen
    assert all(v for k, v in seen.items() if k[1] == "icmp")
    assert not run_module("container_network", unprotected, netns=host)["changed"]
    assert in_force(host) == {SUBNET: ("nat-unprotected", True), SUBNET6: ("nat-unprotected", True)}


def test_direct_access_from_lets_declared_sources_in(site):
    host, lan, names, build = site
    build(direct_access_from=["198.18.23.2/32", "2001:db8:23::2/128"])
    assert answers(lan, C1, UNPUBLISHED)["tcp"] == LAN and ping(lan, C1) and ping(lan, C2_6)
    assert answers(lan, C1_6, UNPUBLISHED)["udp"] == LAN6
    other_source = sh("python3", "-c", "import socket; s = socket.socket(); s.bind(('198.18.23.3', 0)); s.settimeout(2)\n"
                      f"try:\n    s.connect(('{C1}', {UNPUBLISHED})); print('connected')\nexcept OSError as e: print('error', e)",
                      netns=lan).stdout
    assert other_source.startswith("error"), "a source that is not declared stays out"


@pytest.mark.parametrize("neighbour", [None, docker_neighbour], ids=["nftables", "iptables-nft-beside-docker"])
def test_routed_mode_opens_published_container_ports_at_their_own_addresses(site, neighbour):
    host, lan, names, build = site
    net, result = build(neighbour, gateway_mode="routed", gateway_mode6="routed",
                        c2_ports=("8080:80", "8080:80/udp"))
    assert in_force(host) == {SUBNET: ("routed", True), SUBNET6: ("routed", True)}
    seen = direct(lan)
    assert seen[(C2, 80)] == {"tcp": LAN, "udp": LAN} and seen[(C2_6, 80)] == {"tcp": LAN6, "udp": LAN6}, seen
    assert seen[(C2, UNPUBLISHED)] == seen[(C1, 80)] == seen[(C1_6, UNPUBLISHED)] == {"tcp": None, "udp": None}, seen
    assert not seen[(C1, "icmp")]
    assert answers(lan, HOST, 8080) == {"tcp": None, "udp": None}, "nothing is published on the host's address"
    # no masquerade: the neighbour sees the container's own address
    lan_server = start_whoami(lan, 7070)
    try:
        assert whoami(names["c1"], "tcp", LAN, 7070) == C1 and whoami(names["c1"], "tcp", LAN6, 7070) == C1_6
    finally:
        lan_server.kill()
        lan_server.wait()
    if neighbour is None:
        nft = sh("nft", "list", "table", "inet", "linuxns_net", netns=host).stdout
        assert "masquerade" not in nft and "dnat" not in nft.replace("ct status ! dnat", "").replace("ct status dnat", "")
    else:
        ours = [line for line in sh("iptables-nft-save", netns=host).stdout.splitlines() if "LINUXNS" in line]
        assert not any("MASQUERADE" in line or "-j DNAT" in line for line in ours), ours
    assert not run_module("container_network", net, netns=host)["changed"]


@pytest.mark.parametrize("neighbour", [None, docker_neighbour], ids=["nftables", "iptables-nft-beside-docker"])
def test_icc_off_stops_container_to_container_traffic_at_layer_2_and_3(site, neighbour):
    host, lan, names, build = site
    net, result = build(neighbour, icc=False)
    c1, c2 = names["c1"], names["c2"]
    ports = json.loads(sh("bridge", "-j", "-d", "link", "show", netns=host).stdout)
    assert ports and all(p.get("isolated") for p in ports), ports
    shown = [link for link in run_module("netns_info", {"namespaces": [], "nat": False}, netns=host)["host"]["links"]
             if (link.get("peer") or {}).get("namespace") in (c1, c2)]
    assert shown and all(link.get("isolated") for link in shown), "netns_info shows the isolated ports"
    assert not ping(c1, C2) and not ping(c2, C1_6)
    assert in_force(host) == {SUBNET: ("nat", False), SUBNET6: ("nat", False)}
    assert whoami(c1, "tcp", C2, UNPUBLISHED).startswith("error")
    # raw Ethernet: with c2's MAC written into c1's neighbour table, no ARP is needed, and still nothing passes
    mac = json.loads(sh("ip", "-j", "link", "show", "eth0", netns=c2).stdout)[0]["address"]
    sh("ip", "neigh", "replace", C2, "lladdr", mac, "dev", "eth0", "nud", "permanent", netns=c1)
    assert not ping(c1, C2)
    # nor routed through the gateway
    sh("ip", "route", "add", f"{C2}/32", "via", "10.23.0.1", "dev", "eth0", netns=c1)
    assert not ping(c1, C2)
    sh("ip", "route", "del", f"{C2}/32", netns=c1)
    # still: the gateway, the outside, and c2's published port on the host's address (routed through the host)
    assert ping(c1, "10.23.0.1") and ping(c1, LAN) and ping(c1, LAN6)
    assert whoami(lan, "tcp", HOST, 8080) == LAN
    bridge_nf = "/proc/sys/net/bridge/bridge-nf-call-iptables"
    if sh("test", "-e", bridge_nf, check=False, netns=host).returncode == 0:
        # the known limit (docs, "Who may talk to whom"): br_netfilter bridges a DNATed frame between two ports of
        # one bridge, and port isolation stops it; with it off in the namespace, the hairpin is routed and passes
        sh("sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1", netns=host)
        assert whoami(c1, "tcp", HOST, 8080).startswith("error")
        sh("sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0", netns=host)
    assert whoami(c1, "tcp", HOST, 8080) == "10.23.0.1"
    assert not run_module("container_network", net, netns=host)["changed"]
    assert not run_module("container_network", net, check_mode=True, netns=host)["changed"]
    on = dict(net, icc=True)
    assert run_module("container_network", on, netns=host)["changed"]
    ports = json.loads(sh("bridge", "-j", "-d", "link", "show", netns=host).stdout)
    assert not any(p.get("isolated") for p in ports), ports
    assert ping(c1, C2) and ping(c2, C1_6)


@pytest.mark.parametrize("neighbour", [None, docker_neighbour], ids=["nftables", "iptables-nft-beside-docker"])
def test_an_allow_list_lets_only_its_sources_reach_a_published_port(site, neighbour):
    host, lan, names, build = site
    allowed = {"target": 80, "published": 8080, "allow_from": ["198.18.23.2/32", "2001:db8:23::2/128"]}
    udp = dict(allowed, protocol="udp")
    only_v4 = {"target": 80, "published": 8081, "allow_from": ["198.18.23.0/24"]}
    net, result = build(neighbour, c2_ports=(allowed, udp, only_v4))
    assert answers(lan, HOST, 8080) == {"tcp": LAN, "udp": LAN}
    assert answers(lan, HOST6, 8080) == {"tcp": LAN6, "udp": LAN6}
    other = sh("python3", "-c", "import socket; s = socket.socket(); s.bind(('198.18.23.3', 0)); s.settimeout(2)\n"
               f"try:\n    s.connect(('{HOST}', 8080)); print('connected')\nexcept OSError as e: print('error', e)",
               netns=lan).stdout
    assert other.startswith("error"), "another source of the same neighbour gets nothing"
    # the host's own processes are sources like any other: 127.0.0.1 is not listed
    assert whoami(host, "tcp", "127.0.0.1", 8080).startswith("error")
    # a container of the network is not listed either (hairpin)
    assert whoami(names["c1"], "tcp", HOST, 8080).startswith("error")
    # 8081 lists IPv4 only: not published on IPv6 at all
    assert whoami(lan, "tcp", HOST, 8081) == LAN and whoami(lan, "tcp", HOST6, 8081).startswith("error")
    assert result["published"][names["c2"]][0] == "8080:80/tcp from 198.18.23.2/32,2001:db8:23::2/128"
    # netns_info reads them back as data, with their allow-lists, on either backend
    info = run_module("netns_info", {"namespaces": [], "host": True}, netns=host)["host"]
    assert sorted((p["protocol"], p["family"], p["published"], p["destination"], p["target"], tuple(p["allow_from"]))
                  for p in info["published"]) == [
        ("tcp", 4, "8080", C2, "80", ("198.18.23.2/32",)), ("tcp", 4, "8081", C2, "80", ("198.18.23.0/24",)),
        ("tcp", 6, "8080", C2_6, "80", ("2001:db8:23::2/128",)), ("udp", 4, "8080", C2, "80", ("198.18.23.2/32",)),
        ("udp", 6, "8080", C2_6, "80", ("2001:db8:23::2/128",))]
    assert not run_module("container_network", net, netns=host)["changed"]
    assert not run_module("container_network", net, check_mode=True, netns=host)["changed"]
    # the list changes exactly
    wider = dict(net, containers=[net["containers"][0], dict(net["containers"][1], ports=[
        dict(allowed, allow_from=["198.18.23.0/24", "127.0.0.1/32"])])])
    assert run_module("container_network", wider, netns=host)["changed"]
    assert whoami(host, "tcp", "127.0.0.1", 8080) == "10.23.0.1"
    assert whoami(lan, "tcp", HOST6, 8080).startswith("error"), "no IPv6 range listed any more"


def test_port_forward_takes_the_long_syntax_with_an_allow_list(site):
    host, lan, names, build = site
    build(c2_ports=())
    item = {"namespace": None, "name": "fwd", "to": C1,
            "ports": [{"target": UNPUBLISHED, "published": 9090, "allow_from": ["198.18.23.2/32"]}]}
    result = run_module("port_forward", {"forwards": [item]}, netns=host)
    assert result["changed"], result
    try:
        assert whoami(lan, "tcp", HOST, 9090) == LAN
        assert whoami(host, "tcp", HOST, 9090).startswith("error"), "the host's own address is not listed"
        assert not run_module("port_forward", {"forwards": [item]}, netns=host)["changed"]
    finally:
        run_module("port_forward", {"forwards": [dict(item, state="absent")]}, netns=host)


def test_network_policy_allows_exactly_what_its_rules_name(site, nsname):
    """Kubernetes-style policy: c1 accepts web traffic from c2 and from the LAN neighbour only; c3 sends only to the
    neighbour's port 7070; c2 has no policy. TCP, UDP and ICMP, both families; replies always pass."""
    host, lan, names, build = site
    c3 = nsname("c3")
    names["c3"] = c3
    net, _result = build()
    c1, c2 = names["c1"], names["c2"]
    policy = dict(net, containers=[
        {"name": c1, "ingress": [{"from": [c2], "ports": ["80/tcp", "80/udp"]},
                                 {"from": [{"network": "acc"}], "ports": ["70-90/udp"]},  # overlaps the rule above
                                 {"from": ["198.18.23.2/32", {"cidr": "2001:db8:23::2/128"}], "ports": ["80"]}]},
        {"name": c2, "ports": ["8080:80", "8080:80/udp"]},
        {"name": c3, "egress": [{"to": [LAN + "/32", LAN6 + "/128"], "ports": ["7070/tcp"]}]}])
    predicted = run_module("container_network", policy, check_mode=True, diff=True, netns=host)
    assert predicted["changed"] and any("network policy" in c for c in predicted["changes"]), predicted["changes"]
    result = run_module("container_network", policy, netns=host)
    assert not result.get("failed"), result.get("msg")
    lan_server = start_whoami(lan, 7070)
    try:
        # c1's ingress: c2 on 80, tcp and udp, both families; nothing else from c2; nothing from c3
        assert answers(c2, C1, 80) == {"tcp": C2, "udp": C2} and whoami(c2, "tcp", C1_6, 80) == C2_6
        assert answers(c2, C1, UNPUBLISHED) == {"tcp": None, "udp": None} and not ping(c2, C1) and not ping(c2, C1_6)
        assert whoami(c3, "tcp", C1, 80).startswith("error")
        # the neighbour on the host's published ports of c2 (no policy there) and c1 not published: it reaches c2
        assert whoami(lan, "tcp", HOST, 8080) == LAN
        # c1 itself sends anything (no egress rules), and its replies come back
        assert ping(c1, C2) and ping(c1, C2_6) and whoami(c1, "tcp", LAN, 7070) == HOST
        # c3's egress: the neighbour's 7070 only
        assert whoami(c3, "tcp", LAN, 7070) == HOST and whoami(c3, "tcp", LAN6, 7070) == HOST6, "masqueraded"
        assert whoami(c3, "udp", LAN, 7070).startswith("error") and not ping(c3, LAN) and not ping(c3, C2)
        # netns_info shows the policy in force, in the container's own rules
        info = run_module("netns_info", {"namespaces": [c1], "host": False}, netns=host)
        assert any("policy:acc" in line and "drop" in line for line in info["namespaces"][c1]["nat"]), info["namespaces"][c1]
        # and as data: what each direction allows, read back from the kernel's sets (overlapping rules merged)
        in_force = info["namespaces"][c1]["policy"]
        assert in_force["egress"] is None
        view = InfoView.parse(info, "c1").namespaces[c1].policy
        for peer in (C2, LAN, LAN6, C2_6):
            assert view.allows("ingress", peer, "tcp", 80), peer
        assert view.allows("ingress", "10.23.0.9", "udp", 90) and view.allows("ingress", "fd42:23::9", "udp", 70)
        assert not view.allows("ingress", "10.23.0.9", "tcp", 80) and not view.allows("ingress", LAN, "udp", 80)
        assert not view.allows("ingress", C2, "icmp") and not view.allows("ingress", C2, "tcp", 81)
        c3_info = run_module("netns_info", {"namespaces": [c3], "host": False, "nat": False}, netns=host)
        assert c3_info["namespaces"][c3]["policy"] == {"ingress": None, "egress": [
            {"peer": LAN, "protocol": "tcp", "ports": "7070"}, {"peer": LAN6, "protocol": "tcp", "ports": "7070"}]}
        # exact: re-run and check mode change nothing
        assert not run_module("container_network", policy, netns=host)["changed"]
        checked = run_module("container_network", policy, check_mode=True, netns=host)
        assert not checked.get("changed") and not checked.get("failed"), checked
        # a rule deleted by hand is put back
        table = json.loads(sh("nft", "-j", "list", "table", "inet", "linuxns_net_policy", netns=c1).stdout)["nftables"]
        handle = [r["rule"]["handle"] for r in table if "rule" in r][-1]
        sh("nft", "delete", "rule", "inet", "linuxns_net_policy", "input", "handle", str(handle), netns=c1)
        assert ping(c2, C1), "the drop was deleted by hand"
        assert run_module("container_network", policy, netns=host)["changed"]
        assert not ping(c2, C1)
        # a network as a peer
        by_network = dict(policy, containers=[dict(policy["containers"][0], ingress=[{"from": [{"network": "acc"}]}]),
                                              *policy["containers"][1:]])
        assert run_module("container_network", by_network, netns=host)["changed"]
        assert ping(c2, C1) and ping(c2, C1_6) and answers(c2, C1, UNPUBLISHED) == {"tcp": C2, "udp": C2}
        assert not ping(c3, C1), "c3's own egress still holds"
    finally:
        lan_server.kill()
        lan_server.wait()
    # policies removed: the tables go, everything passes again
    assert run_module("container_network", dict(net, containers=net["containers"] + [{"name": c3}]), netns=host)["changed"]
    for ns in (c1, c3):
        assert "linuxns_net_policy" not in sh("nft", "list", "tables", netns=ns).stdout
    assert ping(c2, C1) and ping(c3, LAN)


@pytest.mark.parametrize("neighbour", [None, docker_neighbour], ids=["nftables", "iptables-nft-beside-docker"])
def test_a_shifted_range_is_one_rule_whatever_its_length(site, neighbour):
    """A published range whose host ports differ from its container ports: one DNAT rule per hook (an nft map, an
    iptables shifted range), not one per port."""
    host, lan, names, build = site
    build(neighbour, c2_ports=("15000-15999:5000-5999", "20000-20999:80-1079/udp"))
    assert whoami(lan, "tcp", HOST, 15555) == LAN and whoami(lan, "udp", HOST, 20000) == LAN
    assert whoami(lan, "tcp", HOST6, 15555) == LAN6
    assert whoami(lan, "tcp", HOST, 15556).startswith("error"), "5556: nothing listens there"
    if neighbour is None:
        dnat = [line for line in sh("nft", "list", "table", "inet", "linuxns_net", netns=host).stdout.splitlines()
                if " dnat ip to " in line and "map" in line]
    else:
        dnat = [line for line in sh("iptables-nft-save", "-t", "nat", netns=host).stdout.splitlines()
                if "LINUXNS" in line and "-j DNAT" in line]
    assert len(dnat) == 2 * (2 if neighbour is None else 1), dnat  # nft: prerouting and output; iptables: one chain


def test_nft_through_the_library_and_through_the_program_agree(netns):
    """_nft.run_nft: the same commands, by libnftables in the process and by the nft program (the fallback)."""
    ns = netns("nft")
    code = (f"import json, sys; sys.path.insert(0, {str(collections_root())!r})\n"
            "from ansible_collections.linuxns.net.plugins.module_utils import _nft\n"
            "lib = _nft.run_nft('add table inet t\\nadd chain inet t c { type filter hook input priority 0; }\\n"
            "add rule inet t c tcp dport { 22, 80 } accept', 'here')\n"
            "a = _nft.run_nft('list table inet t', 'here', json_output=True)\n"
            "_nft._LIBRARY[:] = [None]\n"
            "b = _nft.run_nft('list table inet t', 'here', json_output=True)\n"
            "missing = _nft.run_nft('list table inet nope', 'here', ok_codes=(0, 1))\n"
            "strip = lambda r: [{k: v for k, v in i.get('rule', {}).items() if k != 'handle'} for i in json.loads(r.stdout)['nftables']]\n"
            "print(json.dumps([strip(a) == strip(b), len(strip(a)), missing.returncode, 'No such file' in missing.stderr]))")
    assert json.loads(sh(sys.executable, "-c", code, netns=ns).stdout) == [True, 4, 1, True]  # metainfo, table, chain, rule


def test_routed_mode_takes_overlapping_allow_lists(site):
    """Allow-lists that overlap (a range and a smaller one inside it, on two mappings of one port): nftables refuses
    overlapping elements in a set of concatenations, so the set is cut into pieces that do not."""
    host, lan, names, build = site
    build(gateway_mode="routed", gateway_mode6="routed",
          c2_ports=({"target": 80, "published": 8080, "allow_from": ["198.18.23.0/24", "2001:db8:23::/64"]},
                    {"target": 80, "published": 8081, "allow_from": ["198.18.23.2/32"]},
                    {"target": 80, "published": 8080, "protocol": "udp", "allow_from": ["198.18.23.2/32"]}))
    assert answers(lan, C2, 80) == {"tcp": LAN, "udp": LAN} and whoami(lan, "tcp", C2_6, 80) == LAN6
    assert answers(lan, C2, UNPUBLISHED) == {"tcp": None, "udp": None}
