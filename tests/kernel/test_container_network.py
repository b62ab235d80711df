"""linuxns.net.container_network: a whole network in one call, run from a throwaway 'host' namespace."""

from __future__ import annotations

import os

import pytest

from ansible_collections.linuxns.net.plugins.module_utils._addressing import host_end_name
from support import ETC_NETNS, addresses, links, namespaces, ping, routes, run_module, sh, start_whoami, whoami


def spec(prefix, **extra):
    return dict({"name": "lab", "bridge": "br0", "subnet": "10.100.0.0/24",
                 "containers": [{"name": f"{prefix}c1"}, {"name": f"{prefix}c2", "address": "10.100.0.9"}]}, **extra)


def test_build_check_mode_idempotence_and_teardown(netns, nsname):
    host = netns("host")
    prefix = nsname("p")
    c1, c2 = nsname.adopt(f"{prefix}c1"), nsname.adopt(f"{prefix}c2")
    predicted = run_module("container_network", spec(prefix), check_mode=True, netns=host)
    assert predicted["changed"] and c1 not in namespaces() and "br0" not in links(host)
    assert predicted["addresses"] == {c1: "10.100.0.2", c2: "10.100.0.9"}

    made = run_module("container_network", spec(prefix), diff=True, netns=host)
    assert made["changes"] == [c.replace("backend chosen at run time", made["backends"][""]) for c in predicted["changes"]]
    assert addresses(host, "br0") == ["10.100.0.1/24"] and addresses(c2, "eth0") == ["10.100.0.9/24"]
    assert routes(c1, "default")[0]["gateway"] == "10.100.0.1"
    assert ping(c1, "10.100.0.9") and ping(c1, "10.100.0.1") and ping(host, "10.100.0.2")
    ends = [l for l in links(host).values() if l.get("master") == "br0"]
    assert len(ends) == 2 and all(len(l["ifname"]) == 13 for l in ends)

    assert not run_module("container_network", spec(prefix), netns=host)["changed"]
    assert not run_module("container_network", spec(prefix), check_mode=True, netns=host)["changed"]

    down = run_module("container_network", spec(prefix, state="absent"), netns=host)
    assert down["changed"] and c1 not in namespaces() and c2 not in namespaces()
    assert set(links(host)) == {"lo"}, "bridge and host ends gone when the module returns"
    assert "linuxns_net" not in sh("nft", "list", "ruleset", netns=host).stdout
    assert not run_module("container_network", spec(prefix, state="absent"), netns=host)["changed"]


def test_a_killed_teardowns_leftovers_are_removed(netns, nsname):
    """What a teardown killed at the wrong moment leaves: a namespace file with nothing mounted on it (killed between
    unmount and unlink), and an empty /etc/netns/<container>/ (killed between the hosts file and its directory).
    The next teardown removes both, and check mode predicts it."""
    host = netns("host")
    prefix = nsname("p")
    c1, c2 = nsname.adopt(f"{prefix}c1"), nsname.adopt(f"{prefix}c2")
    run_module("container_network", spec(prefix), netns=host)
    sh("umount", f"/run/netns/{c1}")
    (ETC_NETNS / c1 / "hosts").unlink()
    (ETC_NETNS / c1).rmdir()
    (ETC_NETNS / c2 / "hosts").unlink()
    assert c1 in namespaces() and (ETC_NETNS / c2).is_dir()

    predicted = run_module("container_network", spec(prefix, state="absent"), check_mode=True, netns=host)
    assert predicted["changed"] and os.path.lexists(f"/run/netns/{c1}") and (ETC_NETNS / c2).is_dir()
    assert any(c.startswith(f"remove the stale file of namespace '{c1}'") for c in predicted["changes"])
    assert f"remove the empty directory {ETC_NETNS / c2} (a killed run's leftover)" in predicted["changes"]
    down = run_module("container_network", spec(prefix, state="absent"), netns=host)
    assert down["changes"] == predicted["changes"]
    assert not os.path.lexists(f"/run/netns/{c1}") and not {c1, c2} & set(namespaces())
    assert not (ETC_NETNS / c1).exists() and not (ETC_NETNS / c2).exists()
    assert set(links(host)) == {"lo"}
    assert not run_module("container_network", spec(prefix, state="absent"), netns=host)["changed"]


def test_drift_is_repaired(netns, nsname):
    host = netns("host")
    prefix = nsname("p")
    c1, c2 = nsname.adopt(f"{prefix}c1"), nsname.adopt(f"{prefix}c2")
    run_module("container_network", spec(prefix), netns=host)
    c1_end = host_end_name("br0", c1)
    assert links(host)[c1_end]["master"] == "br0"
    sh("ip", "-n", host, "link", "del", c1_end)        # someone deletes c1's veth
    sh("ip", "-n", c2, "route", "del", "default")      # and c2's default route
    sh("nft", "flush", "ruleset", netns=host)          # and the NAT rules
    sh("ip", "-n", c2, "addr", "del", "10.100.0.9/24", "dev", "eth0")  # and changes c2's (fixed) address
    sh("ip", "-n", c2, "addr", "add", "10.100.0.99/24", "dev", "eth0")
    repaired = run_module("container_network", spec(prefix), netns=host)
    assert not repaired.get("failed"), repaired.get("msg")
    assert f"add address 10.100.0.9/24 to veth peer 'eth0' in namespace '{c2}'" in repaired["changes"]
    assert f"remove address 10.100.0.99/24 from veth peer 'eth0' in namespace '{c2}'" in repaired["changes"]
    assert any(c.startswith(f"create veth '{c1_end}'") for c in repaired["changes"])
    assert any(c.startswith("add route 0.0.0.0/0") and c2 in c for c in repaired["changes"])
    assert any("masquerade" in c for c in repaired["changes"])
    assert ping(c1, "10.100.0.9") and routes(c2, "default")
    assert "masquerade" in sh("nft", "list", "ruleset", netns=host).stdout
    assert not run_module("container_network", spec(prefix), netns=host)["changed"]


def test_bad_network_fails_before_any_change(netns, nsname):
    host = netns("host")
    prefix = nsname("p")
    before = (links(host), namespaces(mine=True))
    result = run_module("container_network", spec(prefix, subnet="10.100.0.0/30",
                                                  containers=[{"name": n} for n in "abc"]), netns=host)
    assert result["failed"] and "is full" in result["msg"] and "network 'lab'" in result["msg"]
    assert (links(host), namespaces(mine=True)) == before


def test_bridge_name_taken_fails_before_any_change(netns, nsname):
    host = netns("host")
    prefix = nsname("p")
    nsname.adopt(f"{prefix}c1"), nsname.adopt(f"{prefix}c2")
    sh("ip", "-n", host, "link", "add", "br0", "type", "veth", "peer", "name", "br0p")
    before = (links(host), namespaces(mine=True))
    result = run_module("container_network", spec(prefix), netns=host)
    assert result["failed"] and "taken by a veth" in result["msg"]
    assert (links(host), namespaces(mine=True)) == before


def _break_rules(host, backend):
    """By hand: delete the published port's DNAT rules and turn the subnet's forward-accept into a drop (the
    comment, and so the tag, kept)."""
    if backend == "nftables":
        listing = sh("nft", "-a", "list", "table", "inet", "linuxns_net", netns=host).stdout
        chain = None
        for line in listing.splitlines():
            if line.strip().startswith("chain "):
                chain = line.split()[1]
            if "dport 25000" in line and "dnat" in line:  # prerouting's and output's (the host's own connections)
                sh("nft", "delete", "rule", "inet", "linuxns_net", chain, "handle", line.split()[-1], netns=host)
            if chain == "forward" and "ip saddr 10.90.0.0/24 accept" in line:
                comment = line[line.index('comment "'):line.index(" # handle")]
                sh("nft", "replace", "rule", "inet", "linuxns_net", "forward", "handle", line.split()[-1],
                   "ip", "saddr", "10.90.0.0/24", "drop", *comment.split(" ", 1), netns=host)
        return
    program, save = backend, f"{backend}-save"
    for line in sh(save, "-t", "nat", netns=host).stdout.splitlines():
        if line.startswith("-A LINUXNS-NET-DNAT") and "--dport 25000" in line and "DNAT" in line:
            sh("sh", "-c", f"{program} -t nat -D {line[3:]}", netns=host)
    for line in sh(save, "-t", "filter", netns=host).stdout.splitlines():
        if line.startswith("-A LINUXNS-NET-FWD -s 10.90.0.0/24") and line.endswith("-j ACCEPT"):
            sh("sh", "-c", f"{program} -D {line[3:]} && {program} -A {line[3:-len('ACCEPT')]}DROP", netns=host)


@pytest.mark.parametrize("backend", ["nftables", "iptables-legacy", "iptables-nft"])
def test_a_rule_deleted_or_altered_by_hand_is_restored(netns, nsname, backend):
    """Every rule set's rules are compared with what it makes, not only its tag: a published port's rule deleted by
    hand and a forward-accept turned into a drop are found (check mode too) and restored."""
    host = netns("host")
    if backend != "nftables":
        sh(backend, "-N", "SOMEONE-ELSES", netns=host)  # a neighbour's chain: auto picks that iptables variant
    d0 = nsname("d0")
    spec = {"name": "dr", "bridge": "br-dr", "subnet": "10.90.0.0/24", "containers": [{"name": d0, "ports": ["25000:80"]}]}
    made = run_module("container_network", spec, netns=host)
    assert made["backends"][""] == backend
    server = start_whoami(d0, 80)
    try:
        assert whoami(host, "tcp", "10.90.0.1", 25000) == "10.90.0.1"
        _break_rules(host, backend)
        assert whoami(host, "tcp", "10.90.0.1", 25000).startswith("error")

        predicted = run_module("container_network", spec, check_mode=True, diff=True, netns=host)
        assert predicted["changed"], "check mode sees the drift"
        assert whoami(host, "tcp", "10.90.0.1", 25000).startswith("error"), "check mode changed nothing"
        views = {k: v for k, v in predicted["diff"]["before"].items() if v and "rules" in v}
        assert views and all(v["rules"] == "missing or altered by hand" for v in views.values())
        repaired = run_module("container_network", spec, netns=host)
        assert repaired["changed"] and repaired["changes"] == predicted["changes"]
        assert whoami(host, "tcp", "10.90.0.1", 25000) == "10.90.0.1"
        assert not run_module("container_network", spec, netns=host)["changed"]
        assert not run_module("container_network", spec, check_mode=True, netns=host)["changed"]
    finally:
        server.kill()
        server.wait()
    run_module("container_network", dict(spec, state="absent"), netns=host)


def test_a_base_chain_changed_by_hand_is_mended(netns, nsname):
    """Our nftables forward chain given a drop policy by hand (the containers' traffic out stops), and our
    prerouting chain deleted with its rules: the next run mends both, check mode predicts it."""
    host = netns("host")
    d0 = nsname("d0")
    spec = {"name": "mend", "bridge": "br-mend", "subnet": "10.91.0.0/24", "containers": [{"name": d0, "ports": ["25001:80"]}]}
    run_module("container_network", spec, netns=host)
    sh("nft", "add chain inet linuxns_net forward { type filter hook forward priority filter; policy drop; }", netns=host)
    sh("nft", "flush", "chain", "inet", "linuxns_net", "prerouting", netns=host)  # a chain goes only empty
    sh("nft", "delete", "chain", "inet", "linuxns_net", "prerouting", netns=host)
    predicted = run_module("container_network", spec, check_mode=True, netns=host)
    assert predicted["changed"]
    mended = run_module("container_network", spec, netns=host)
    assert mended["changes"] == predicted["changes"]
    listing = sh("nft", "list", "table", "inet", "linuxns_net", netns=host).stdout
    assert "policy drop" not in listing and "chain prerouting" in listing and "dport 25001" in listing
    assert not run_module("container_network", spec, netns=host)["changed"]
    run_module("container_network", dict(spec, state="absent"), netns=host)
