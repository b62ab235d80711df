"""The Prometheus textfile without a kernel: names, labels and values from a netns_info result, escaping, the drop
kinds read from rules, the timer's files and the plan against a directory."""

from __future__ import annotations

import os
import re

import pytest

from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput
from ansible_collections.linuxns.net.plugins.module_utils._firewall_backends import RuleTag
from ansible_collections.linuxns.net.plugins.module_utils._kernel import (
    NFT_CMP_EQ, NFT_CMP_NEQ, NFT_CT_STATE, NFT_META_IIFNAME, NFT_META_OIFGROUP, NFT_META_OIFNAME)
from ansible_collections.linuxns.net.plugins.module_utils._metrics import (
    check_path, interval_seconds, plan_metrics, render, render_timer)
from ansible_collections.linuxns.net.plugins.module_utils._netlink import CountedRule
from ansible_collections.linuxns.net.plugins.module_utils._observe import iptables_drop_kind, nft_drop_kind
from ansible_collections.linuxns.net.plugins.module_utils._plan import Plan

STATS = dict(rx_packets=1, tx_packets=2, rx_bytes=3, tx_bytes=4, rx_errors=0, tx_errors=0, rx_dropped=5, tx_dropped=0)
INFO = {
    "host": {
        "links": [{"name": "lo", "kind": "loopback", "state": "up", "stats": STATS},
                  {"name": "br-web", "kind": "bridge", "state": "up", "network": "web", "addresses": ["10.88.0.1/24"],
                   "stats": STATS},
                  {"name": "veth0123456789", "kind": "veth", "state": "up", "master": "br-web",
                   "peer": {"name": "eth0", "namespace": "c1"}, "stats": STATS},
                  {"name": "vx-fleet", "kind": "vxlan", "state": "down", "stats": STATS}],
        "conntrack": {"entries": 7, "limit": 262144, "insert_failed": 0},
        "drops": [{"kind": "icc", "rule_set": "forward:10.88.0.0/24", "family": 4, "packets": 3, "bytes": 252},
                  {"kind": "allow-list", "rule_set": "ports:network:web", "family": 4, "packets": 2, "bytes": 120}]},
    "namespaces": {"c1": {"links": [{"name": "lo", "kind": "loopback", "state": "up", "stats": STATS},
                                    {"name": "eth0", "kind": "veth", "state": "up", "stats": STATS}],
                          "conntrack": {"entries": 0, "limit": 262144, "insert_failed": 0},
                          "drops": [{"kind": "policy", "rule_set": "policy:web", "family": None, "direction": "ingress",
                                     "packets": 2, "bytes": 168}]}}}
SAMPLE = re.compile(r'^[a-z_]+\{([a-z_]+="(?:[^"\\]|\\.)*")(,[a-z_]+="(?:[^"\\]|\\.)*")*\} [0-9.]+$')


def test_render_names_labels_and_values():
    text = render(INFO, "host1")
    lines = text.splitlines()
    samples = [line for line in lines if not line.startswith("#")]
    assert all(SAMPLE.match(line) for line in samples), [line for line in samples if not SAMPLE.match(line)]
    assert 'linuxns_net_interface_receive_bytes_total{host="host1",network="web",interface="br-web",side="host"} 3' in lines
    assert ('linuxns_net_interface_receive_drop_total{host="host1",network="web",container="c1",interface="veth0123456789",'
            'side="host"} 5') in lines
    assert 'linuxns_net_interface_transmit_packets_total{host="host1",network="web",container="c1",interface="eth0",side="container"} 2' in lines
    assert 'linuxns_net_interface_up{host="host1",interface="vx-fleet",side="host"} 0' in lines
    assert not any('interface="lo"' in line for line in lines), "loopback is no network's"
    assert 'linuxns_net_conntrack_entries{host="host1"} 7' in lines
    assert 'linuxns_net_conntrack_limit{host="host1",container="c1"} 262144' in lines
    assert 'linuxns_net_dropped_packets_total{host="host1",kind="icc",network="web",family="ipv4"} 3' in lines
    assert 'linuxns_net_dropped_packets_total{host="host1",kind="allow-list",network="web",family="ipv4"} 2' in lines
    assert 'linuxns_net_dropped_bytes_total{host="host1",kind="policy",network="web",container="c1",direction="ingress"} 168' in lines
    # each family once, HELP then TYPE before its samples; counters end in _total
    names = [line.split()[2] for line in lines if line.startswith("# TYPE")]
    assert len(names) == len(set(names)) == 14
    for line in lines:
        if line.startswith("# TYPE") and line.endswith(" counter"):
            assert line.split()[2].endswith("_total")


def test_label_values_are_escaped():
    info = {"host": {"links": [{"name": "br-x", "kind": "bridge", "state": "up", "network": 'a"b\\c\nd', "stats": STATS}]}}
    assert 'network="a\\"b\\\\c\\nd"' in render(info, "h")


@pytest.mark.parametrize("path, message", [
    ("relative.prom", "absolute path ending in .prom"), ("/tmp/x.txt", "absolute path ending in .prom"),
    ("/nonexistent-dir/x.prom", "its directory /nonexistent-dir does not exist")])
def test_bad_paths(path, message):
    with pytest.raises(InvalidInput, match=re.escape(message)):
        check_path(path)


@pytest.mark.parametrize("text, seconds", [("30s", 30), ("1min", 60), ("2h", 7200), ("90", 90), ("1.5min", 90)])
def test_intervals(text, seconds):
    assert interval_seconds(text) == seconds


@pytest.mark.parametrize("text", ["5s", "often", "1 week", "-1min"])
def test_bad_intervals(text):
    with pytest.raises(InvalidInput, match="metrics schedule"):
        interval_seconds(text)


def rule(chain, *matches):
    return CountedRule(chain, None, 1, 2, matches)


def test_drop_kinds_from_nftables_rules():
    forward = RuleTag.of("forward:10.88.0.0/24", [])
    assert nft_drop_kind(forward, rule("forward", ("meta", NFT_META_OIFGROUP, NFT_CMP_EQ))) == "isolation"
    assert nft_drop_kind(forward, rule("forward", ("meta", NFT_META_OIFNAME, NFT_CMP_EQ), ("ct", NFT_CT_STATE, NFT_CMP_EQ))) \
        == "direct-access"
    assert nft_drop_kind(forward, rule("forward", ("meta", NFT_META_IIFNAME, NFT_CMP_EQ),
                                       ("meta", NFT_META_OIFNAME, NFT_CMP_EQ))) == "icc"
    assert nft_drop_kind(forward, rule("forward", ("meta", NFT_META_OIFNAME, NFT_CMP_NEQ))) == "internal"
    assert nft_drop_kind(RuleTag.of("policy:web", []), rule("input")) == "policy"
    assert nft_drop_kind(RuleTag.of("ports:network:web", []), rule("prerouting")) == "allow-list"
    assert nft_drop_kind(RuleTag.of("ports:network:web", []), rule("input")) is None


def test_drop_kinds_from_iptables_rules():
    tag = RuleTag.of("forward:10.88.0.0/24", [])
    assert iptables_drop_kind(tag, "filter", "-s 10.88.0.0/24 -m devgroup --dst-group 27758 ! -o br -j DROP") == "isolation"
    assert iptables_drop_kind(tag, "filter", "! -i br -o br -d 10.88.0.0/24 -m conntrack ! --ctstate "
                                             "RELATED,ESTABLISHED -j DROP") == "direct-access"
    assert iptables_drop_kind(tag, "filter", "-i br -o br -m conntrack ! --ctstate DNAT -j DROP") == "icc"
    assert iptables_drop_kind(tag, "filter", "-s 10.88.0.0/24 ! -o br -j DROP") == "internal"
    assert iptables_drop_kind(tag, "filter", "-s 10.88.0.0/24 -j ACCEPT") is None
    ports = RuleTag.of("ports:network:web", [])
    assert iptables_drop_kind(ports, "nat", "-p tcp -m tcp --dport 8080 -m comment --comment x") == "allow-list"
    assert iptables_drop_kind(ports, "nat", "-p tcp -m tcp --dport 8080 -j DNAT --to-destination 1.2.3.4:80") is None


def test_plan_writes_the_file_and_the_timer_and_removes_them(tmp_path):
    path, units, state = str(tmp_path / "linuxns_net.prom"), tmp_path / "units", tmp_path / "state"
    units.mkdir()
    text = render(INFO, "host1")
    plan = Plan()
    plan_metrics(plan, path, text, "30s", "/usr/bin/python3", "host1", unit_dir=str(units), state_dir=str(state))
    assert plan.after == {"textfile": {"series": text.count("\n") - 2 * 14}, "timer": {"every": "30s"}}
    plan.apply()
    assert open(path).read() == text and not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    timer = (units / "linuxns-net-metrics.timer").read_text()
    assert timer == render_timer(30) and "OnUnitActiveSec=30s" in timer
    assert "metrics.pyz " + path + " host1" in (units / "linuxns-net-metrics.service").read_text()
    assert os.readlink(units / "timers.target.wants" / "linuxns-net-metrics.timer") == "../linuxns-net-metrics.timer"
    import zipfile
    with zipfile.ZipFile(state / "metrics.pyz") as program:
        assert "import metrics_main" in program.read("__main__.py").decode() and "_metrics" in program.read("__main__.py").decode()
    again = Plan()
    plan_metrics(again, path, text, "30s", "/usr/bin/python3", "host1", unit_dir=str(units), state_dir=str(state))
    assert not again.changed, again.actions
    slower = Plan()
    plan_metrics(slower, path, text, "1min", "/usr/bin/python3", "host1", unit_dir=str(units), state_dir=str(state))
    assert [a.description for a in slower.actions] == [
        f"write {units}/linuxns-net-metrics.timer (the timer of metrics textfile '{path}', every 60s)"]
    assert slower.before["timer"] == {"every": "30s"}
    gone = Plan()
    plan_metrics(gone, path, None, None, state="absent", unit_dir=str(units), state_dir=str(state))
    gone.apply()
    assert not os.path.exists(path) and os.listdir(units) == ["timers.target.wants"] and not os.listdir(state)
