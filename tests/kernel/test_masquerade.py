"""linuxns.net.masquerade: real NAT to an upstream namespace that has no route back to the containers.

A container's ping to upstream succeeds only if its source address was rewritten, so each ping proves the NAT."""

from __future__ import annotations

import pytest

from support import ping, run_module, sh, sysctl

SUBNET = "10.100.0.0/24"
UPSTREAM = "203.0.113.254"


@pytest.fixture
def network(netns):
    """Seed 004 built with the modules inside a throwaway 'host' namespace, plus an upstream namespace."""
    host, upstream, c1, c2 = netns("host"), netns("up"), netns("c1"), netns("c2")
    assert not run_module("bridge", {"name": "br0", "namespace": host, "addresses": ["10.100.0.1/24"]}).get("failed")
    assert not run_module("veth", {"namespace": host, "pairs": [
        {"name": "veth-c1-br", "master": "br0", "peer": "eth0", "peer_namespace": c1, "peer_addresses": ["10.100.0.2/24"]},
        {"name": "veth-c2-br", "master": "br0", "peer": "eth0", "peer_namespace": c2, "peer_addresses": ["10.100.0.3/24"]},
        {"name": "uplink", "addresses": ["203.0.113.1/24"], "peer": "eth0", "peer_namespace": upstream,
         "peer_addresses": ["203.0.113.254/24"]}]}).get("failed")
    assert not run_module("netns_route", {"routes": [
        {"namespace": c1, "dest": "default", "gateway": "10.100.0.1"},
        {"namespace": c2, "dest": "default", "gateway": "10.100.0.1"},
        {"namespace": host, "dest": "default", "gateway": UPSTREAM}]}).get("failed")
    return {"host": host, "upstream": upstream, "c1": c1, "c2": c2}


def _foreign_state(ns):
    """Every firewall line in ns that is not the collection's."""
    nft = sh("nft", "list", "ruleset", netns=ns).stdout
    nft_foreign = nft.split("table inet linuxns_net")[0] if "table inet linuxns_net" in nft else nft
    ipt = {}
    for tool in ("iptables-nft-save", "iptables-legacy-save"):
        ipt[tool] = [line for line in sh(tool, netns=ns).stdout.splitlines()
                     if not line.startswith("#") and "LINUXNS-NET" not in line]
    return nft_foreign, ipt


def test_seed_004_nat_to_upstream(network):
    host, c1 = network["host"], network["c1"]
    assert ping(c1, "10.100.0.3") and ping(c1, "10.100.0.1")
    assert not ping(c1, UPSTREAM), "without forwarding and NAT the upstream must be unreachable"
    sh("sysctl", "-qw", "net.ipv4.ip_forward=1", netns=host)
    assert not ping(c1, UPSTREAM), "forwarding alone: upstream has no route back, so no reply"
    sh("sysctl", "-qw", "net.ipv4.ip_forward=0", netns=host)

    args = {"namespace": host, "source": SUBNET, "exclude_out_interface": "br0"}
    predicted = run_module("masquerade", args, check_mode=True, diff=True)
    assert predicted["changed"] and sysctl(host, "net.ipv4.ip_forward") == "0"
    made = run_module("masquerade", args)
    assert made["changes"] == [c.replace("backend chosen at run time", made["backends"][host]) for c in predicted["changes"]]
    assert sysctl(host, "net.ipv4.ip_forward") == "1"
    assert ping(network["c1"], UPSTREAM) and ping(network["c2"], UPSTREAM)
    assert not run_module("masquerade", args)["changed"]
    assert not run_module("masquerade", args, check_mode=True)["changed"]

    removed = run_module("masquerade", dict(args, state="absent"))
    assert removed["changed"] and not ping(c1, UPSTREAM)
    assert "linuxns_net" not in sh("nft", "list", "ruleset", netns=host).stdout


@pytest.mark.parametrize("backend", ["nftables", "iptables"])
def test_backends_touch_only_their_own_rules(network, backend):
    host, c1 = network["host"], network["c1"]
    # someone else's rules, in both engines the host might use
    sh("nft", "add", "table", "ip", "theirs", netns=host)
    sh("nft", "add chain ip theirs post { type nat hook postrouting priority 100 ; }", netns=host)
    sh("nft", "add rule ip theirs post ip saddr 172.30.0.0/24 masquerade", netns=host)
    sh("iptables-nft", "-t", "nat", "-A", "POSTROUTING", "-s", "172.31.0.0/24", "-j", "MASQUERADE", netns=host)
    sh("iptables-nft", "-A", "FORWARD", "-s", "172.31.0.0/24", "-j", "ACCEPT", netns=host)
    before = _foreign_state(host)

    args = {"namespace": host, "source": SUBNET, "exclude_out_interface": "br0", "backend": backend}
    made = run_module("masquerade", args)
    assert made["changed"] and made["backends"][host] == ("nftables" if backend == "nftables" else "iptables-nft")
    assert ping(c1, UPSTREAM)
    assert not run_module("masquerade", args)["changed"]
    assert run_module("masquerade", dict(args, state="absent"))["changed"]
    assert _foreign_state(host) == before
    assert "LINUXNS-NET" not in sh("iptables-nft-save", netns=host).stdout


def test_forward_drop_policy_like_docker_still_forwards(network):
    host, c1 = network["host"], network["c1"]
    sh("iptables-nft", "-P", "FORWARD", "DROP", netns=host)
    sh("iptables-nft", "-N", "DOCKER-USER", netns=host)
    sh("iptables-nft", "-A", "FORWARD", "-j", "DOCKER-USER", netns=host)
    made = run_module("masquerade", {"namespace": host, "source": SUBNET, "exclude_out_interface": "br0"})
    assert made["backends"][host] == "iptables-nft", "auto must join the engine that holds the DROP policy"
    assert ping(c1, UPSTREAM)
    run_module("masquerade", {"namespace": host, "source": SUBNET, "state": "absent"})
    assert not ping(c1, UPSTREAM)
    assert ":FORWARD DROP" in sh("iptables-nft-save", netns=host).stdout


def test_iptables_legacy_in_use_is_joined_never_mixed(network):
    host, c1 = network["host"], network["c1"]
    sh("iptables-legacy", "-t", "nat", "-A", "POSTROUTING", "-s", "172.31.0.0/24", "-j", "MASQUERADE", netns=host)
    refused = run_module("masquerade", {"namespace": host, "source": SUBNET, "backend": "nftables"})
    assert refused["failed"] and "iptables-legacy rules are in use" in refused["msg"] and host in refused["msg"]
    made = run_module("masquerade", {"namespace": host, "source": SUBNET, "exclude_out_interface": "br0"})
    assert made["backends"][host] == "iptables-legacy" and ping(c1, UPSTREAM)
    assert "LINUXNS-NET-NAT" in sh("iptables-legacy-save", netns=host).stdout
    run_module("masquerade", {"namespace": host, "source": SUBNET, "state": "absent"})
    assert "LINUXNS-NET" not in sh("iptables-legacy-save", netns=host).stdout
    assert "-A POSTROUTING -s 172.31.0.0/24 -j MASQUERADE" in sh("iptables-legacy-save", netns=host).stdout


def test_exclude_destinations_are_not_natted(network):
    host = network["host"]
    args = {"namespace": host, "source": SUBNET, "exclude_destinations": ["203.0.113.0/24"]}
    run_module("masquerade", args)
    assert not ping(network["c1"], UPSTREAM), "traffic to an excluded destination keeps its source, so no reply"
    changed = run_module("masquerade", dict(args, exclude_destinations=[]), diff=True)
    assert changed["changed"] and ping(network["c1"], UPSTREAM)


def test_missing_namespace(nsname):
    missing = nsname("missing")
    failed = run_module("masquerade", {"namespace": missing, "source": SUBNET})
    assert failed["failed"] and f"namespace '{missing}' does not exist" in failed["msg"]
    assert run_module("masquerade", {"namespace": missing, "source": SUBNET}, check_mode=True)["changed"]


@pytest.mark.parametrize("backend", ["nftables", "iptables"])
def test_a_masquerade_rule_deleted_by_hand_is_restored(network, backend):
    """The masquerade module's own rule, deleted by hand (its forward-accept left): the upstream gets no reply
    back, check mode sees it, the run restores it."""
    host, c1 = network["host"], network["c1"]
    args = {"namespace": host, "source": SUBNET, "exclude_out_interface": "br0", "backend": backend}
    made = run_module("masquerade", args)
    assert ping(c1, UPSTREAM)
    if backend == "nftables":
        listing = sh("nft", "-a", "list", "chain", "inet", "linuxns_net", "postrouting", netns=host).stdout
        handle = next(line.split()[-1] for line in listing.splitlines() if " masquerade " in line)
        sh("nft", "delete", "rule", "inet", "linuxns_net", "postrouting", "handle", handle, netns=host)
    else:
        save = f"{made['backends'][host]}-save"
        rule = next(line for line in sh(save, "-t", "nat", netns=host).stdout.splitlines() if line.endswith("-j MASQUERADE"))
        sh("sh", "-c", f"{made['backends'][host]} -t nat -D {rule[3:]}", netns=host)
    assert not ping(c1, UPSTREAM)
    predicted = run_module("masquerade", args, check_mode=True)
    assert predicted["changed"] and not ping(c1, UPSTREAM)
    repaired = run_module("masquerade", args)
    assert repaired["changes"] == predicted["changes"] and ping(c1, UPSTREAM)
    assert not run_module("masquerade", args)["changed"]
    run_module("masquerade", dict(args, state="absent"))
