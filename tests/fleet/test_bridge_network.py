"""Role bridge_network on lab hosts over SSH: seed 004, stable addresses, two isolated networks, bad input."""

from __future__ import annotations

import json

import pytest

from hoststate import address_of, ping, snapshot, source_seen

pytestmark = pytest.mark.slow


def networks(target, *nets):
    return ["-e", json.dumps({"target": target, "networks": list(nets)})]


def test_seed_004_lab_playbook(lab, playbook):
    checked = playbook("playbooks/lab.yml", "--check", "-l", "host1")
    assert checked.hosts["host1"]["changed"] == 1 and "c1" not in lab.exec("host1", "ip", "netns", "list").stdout
    first = playbook("playbooks/lab.yml", "-l", "host1")
    assert first.hosts["host1"]["changed"] == 1
    assert address_of(lab, "host1", "c1") == "10.100.0.2" and address_of(lab, "host1", "c2") == "10.100.0.3"
    assert ping(lab, "host1", "c1", "10.100.0.3") and ping(lab, "host1", "c2", "10.100.0.2")
    assert ping(lab, "host1", "c1", "10.100.0.1")
    upstream = lab.state()["hosts"]["upstream"]["address"]
    assert source_seen(lab, "host1", "c1", upstream, 7007) == lab.state()["hosts"]["host1"]["address"], "masqueraded"
    assert playbook("playbooks/lab.yml", "-l", "host1").changed == 0
    assert playbook("playbooks/lab.yml", "-l", "host1", "--check").changed == 0
    down = playbook("playbooks/teardown.yml", "-l", "host1", "-e", "containers_per_host=0")
    assert down.hosts["host1"]["changed"] > 0
    assert lab.exec("host1", "ip", "netns", "list").stdout.strip() == ""
    assert "br0" not in lab.exec("host1", "ip", "-br", "link").stdout
    assert "linuxns" not in lab.exec("host1", "nft", "list", "ruleset").stdout


def test_module_calls_do_not_grow_with_containers(lab, playbook):
    small = playbook("tests/fleet/playbooks/networks.yml", *networks(
        "host3", {"name": "calls", "subnet": "10.60.0.0/24", "containers": ["k1"]}))
    large = playbook("tests/fleet/playbooks/networks.yml", *networks(
        "host3", {"name": "calls", "subnet": "10.60.0.0/24", "containers": [f"k{i}" for i in range(1, 31)]}))
    assert small.hosts["host3"]["ok"] == large.hosts["host3"]["ok"], "same tasks for 1 and 30 containers"
    playbook("tests/fleet/playbooks/networks.yml", *networks(
        "host3", {"name": "calls", "subnet": "10.60.0.0/24", "containers": [f"k{i}" for i in range(1, 31)],
                  "state": "absent"}))
    assert lab.exec("host3", "ip", "netns", "list").stdout.strip() == ""


def test_addresses_are_stable_as_containers_come_and_go(lab, playbook):
    net = {"name": "stable", "subnet": "10.50.0.0/24"}
    playbook("tests/fleet/playbooks/networks.yml", *networks("host2", dict(net, containers=["a", "b", "c"])))
    before = {n: address_of(lab, "host2", n) for n in ("a", "b", "c")}
    assert before == {"a": "10.50.0.2", "b": "10.50.0.3", "c": "10.50.0.4"}
    # a leaves, d joins in front: b and c keep theirs, d takes the lowest free address (a's old one)
    playbook("tests/fleet/playbooks/networks.yml", *networks("host2", dict(net, containers=["a"], state="absent")))
    playbook("tests/fleet/playbooks/networks.yml", *networks("host2", dict(net, containers=["d", "b", "c"])))
    after = {n: address_of(lab, "host2", n) for n in ("b", "c", "d")}
    assert after == {"b": "10.50.0.3", "c": "10.50.0.4", "d": "10.50.0.2"}
    assert ping(lab, "host2", "d", "10.50.0.3")
    playbook("tests/fleet/playbooks/networks.yml", *networks("host2", dict(net, containers=["b", "c", "d"], state="absent")))


def test_two_networks_coexist_isolated_unless_asked(lab, playbook):
    blue = {"name": "blue", "subnet": "10.20.0.0/24", "containers": ["blue1", "blue2"]}
    green = {"name": "green", "subnet": "10.30.0.0/24", "containers": ["green1"]}
    playbook("tests/fleet/playbooks/networks.yml", *networks("host2", blue, green))
    assert ping(lab, "host2", "blue1", "10.20.0.3") and ping(lab, "host2", "green1", "10.30.0.1")
    assert not ping(lab, "host2", "blue1", "10.30.0.2"), "blue must not reach green"
    assert not ping(lab, "host2", "green1", "10.20.0.2"), "green must not reach blue"
    upstream = lab.state()["hosts"]["upstream"]["address"]
    assert ping(lab, "host2", "blue1", upstream) and ping(lab, "host2", "green1", upstream)

    opened = playbook("tests/fleet/playbooks/networks.yml", *networks(
        "host2", dict(blue, isolated=False), dict(green, isolated=False)))
    assert opened.changed > 0
    assert ping(lab, "host2", "blue1", "10.30.0.2") and ping(lab, "host2", "green1", "10.20.0.2")
    playbook("tests/fleet/playbooks/networks.yml", *networks("host2", dict(blue, state="absent"), dict(green, state="absent")))
    assert lab.exec("host2", "ip", "netns", "list").stdout.strip() == ""


@pytest.mark.parametrize("net, message", [
    ({"subnet": "10.70.0.0/29", "containers": [f"x{i}" for i in range(7)]}, "subnet 10.70.0.0/29 is full"),
    ({"subnet": "10.70.0.0/24", "containers": [{"name": "x1", "address": "10.71.0.5"}]}, "outside subnet 10.70.0.0/24"),
    ({"subnet": "10.70.0.0/24", "containers": ["x1", "x1"]}, "'x1' is listed more than once"),
    ({"subnet": "10.70.0.0/24", "containers": [{"name": "x1", "address": "10.70.0.9"},
                                               {"name": "x2", "address": "10.70.0.9"}]}, "already container 'x1'"),
    ({"subnet": "10.70.0.0/24", "containers": ["../x"]}, "container name '../x' must start with a letter or digit"),
    ({"subnet": "10.70.0.0/24", "containers": ["x" * 64]}, "at most 63"),
    ({"subnet": "10.70.0.0/24", "bridge": "a-bridge-name-too-long", "containers": ["x1"]}, "at most 15"),
    ({"subnet": "10.70.0.300/24", "containers": ["x1"]}, "not a valid network"),
])
def test_bad_networks_fail_clearly_and_change_nothing(lab, playbook, net, message):
    before = snapshot(lab, "host3")
    failed = playbook("tests/fleet/playbooks/networks.yml", *networks("host3", dict(net, name="bad")), ok=False)
    assert failed.returncode != 0 and message in failed.stdout, failed.stdout
    assert snapshot(lab, "host3") == before
