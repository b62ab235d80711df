"""playbooks/verify.yml and the topology pictures on the lab's three hosts: the reachability matrix is complete and
correct (and drawn as SVG), a veth deleted by hand fails verify by name (and is crossed out in the drawing),
inspect.yml draws every namespace, bridge and veth pair, and metrics.yml writes each host's counters."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from hoststate import address_of

pytestmark = pytest.mark.slow
HOSTS = ("host1", "host2", "host3")
EXTRA = ("-e", "containers_per_host=2")


@pytest.fixture
def fleet(lab, playbook):
    playbook("playbooks/fleet.yml", *EXTRA)
    yield
    playbook("playbooks/teardown.yml", *EXTRA)


def summaries(run):
    return re.findall(r'"msg": "(\d+ probes: [^"]*)"', run.stdout)


def test_verify_proves_the_whole_matrix_and_names_broken_pairs(lab, playbook, fleet, tmp_path):
    run = playbook("playbooks/verify.yml", "-v", "-e", f"verify_picture_dir={tmp_path}")
    # each of 2 containers per host: both addresses of 5 other containers of the fleet, and the upstream's echo
    # service on both families
    assert sorted(summaries(run)) == ["24 probes: 24 reachable; all as expected"] * 3, run.stdout
    matrix = [row for result in re.findall(r'"matrix": (\[.*?\])', run.stdout) for row in json.loads(result)]
    assert len(matrix) == 72 and all(r["ok"] and r["result"] == "reachable" for r in matrix)
    addresses = {(h, c, family): address_of(lab, h, c, family=family) for h in HOSTS for c in ("app1", "app2") for family in (4, 6)}
    for (host, container, family), address in addresses.items():
        peers = [r for r in matrix if r["address"] == address]
        assert len(peers) == 5, f"every other container probes {host}/{container} over IPv{family}"
    upstream = [r["address"] for r in matrix if r["port"] == 7007]
    assert sorted(set(upstream)) == ["198.51.100.254", "2001:db8:100::254"]
    # the matrices, drawn: 6 containers probing each other and the upstream, every cell as expected
    for family in (4, 6):
        svg = (tmp_path / f"verify-ipv{family}.svg").read_text()
        assert f"verify.yml, IPv{family}: 6 sources x 7 targets, 0 not as expected" in svg, svg[:400]
        assert svg.count('class="cell allowed"') == 6 * 5 + 6 and 'class="cell mismatch"' not in svg
        assert ">host2/app1<" in svg

    lab.exec("host2", "ip", "netns", "exec", "app1", "ip", "link", "del", "eth0")
    broken = playbook("playbooks/verify.yml", "-e", f"verify_picture_dir={tmp_path}", ok=False)
    assert broken.returncode != 0 and broken.hosts["host2"]["failed"] == 1
    assert broken.hosts["host1"]["failed"] == 0 and broken.hosts["host3"]["failed"] == 0
    gone = addresses[("host2", "app2", 4)]
    assert f"namespace 'app1' -> {gone} icmp: unreachable (expected reachable)" in broken.stdout, broken.stdout
    # drawn before the play fails: host2/app1's row is crossed out (it reaches no one), and it is named in the tips
    svg = (tmp_path / "verify-ipv4.svg").read_text()
    assert "not as expected" in svg and 'class="cell mismatch"' in svg
    assert f"host2/app1 -&gt; host2/app2\n{gone} icmp: expected reachable, saw unreachable" in svg, svg


def test_inspect_draws_every_namespace_bridge_and_veth_pair(lab, playbook, fleet, tmp_path):
    run = playbook("playbooks/inspect.yml", "-e", f"inspect_picture_dir={tmp_path}")
    fleet_dot = (tmp_path / "fleet.dot").read_text()
    for host in HOSTS:
        host_dot = (tmp_path / f"{host}.dot").read_text()
        underlay = lab.state()["hosts"][host]["address"]
        bridge = json.loads(lab.exec(host, "ip", "-j", "-4", "addr", "show", "dev", "br-fleet").stdout)[0]["addr_info"][0]
        assert f"br-fleet\\n{bridge['local']}/{bridge['prefixlen']}" in host_dot and f"eth0 {underlay}/24" in host_dot
        for link in json.loads(lab.exec(host, "ip", "-j", "link", "show", "master", "br-fleet").stdout):
            assert f"eth0 = {link['ifname']}" in host_dot, f"{host}'s veth {link['ifname']} is drawn"
        for container in ("app1", "app2"):
            address, address6 = (lab.exec(host, "ip", "netns", "exec", container, "ip", f"-{f}", "-o", "addr", "show", "eth0",
                                          "scope", "global").stdout.split()[3] for f in (4, 6))
            label = f"{container}\\neth0 {address}\\neth0 {address6}"
            assert f'"{host}/{container}" [shape=component, label="{label}"]' in host_dot, host_dot
            assert f'"{host}/{container}" -> "{host}/br-fleet"' in fleet_dot
        network = f"{bridge['local'].rsplit('.', 1)[0]}.0/24"
        assert f"NAT: masquerade {network}" in host_dot
        assert f"{network} via {underlay}" in fleet_dot, "the other hosts' routes to this host's subnet"
    # the text view shows both families' routes (the host-gw routes to the other hosts' IPv6 subnets among them)
    assert run.stdout.count("IPv6 forwarding on") == 3 and "route fe80::/64" not in run.stdout
    for host in HOSTS:
        underlay6 = lab.address6(lab.state()["hosts"][host]["address"])
        assert len(re.findall(rf"route fd42:\S+/64 via {underlay6} dev eth0 \(static\)", run.stdout)) == 2, run.stdout
    assert "flowchart LR" in (tmp_path / "fleet.mmd").read_text()
    if shutil.which("dot"):
        for name in (*HOSTS, "fleet"):
            svg = (tmp_path / f"{name}.svg").read_text()
            assert svg.lstrip().startswith("<?xml") and ">app1<" in svg and ">10.244." in svg
        assert f"Pictures: {tmp_path}/fleet.svg" in run.stdout
    else:
        pytest.skip("Graphviz's dot is not installed: the SVG render is not exercised")


def test_metrics_yml_writes_each_hosts_counters_through_the_role(lab, playbook, fleet, tmp_path):
    """playbooks/metrics.yml (the metrics role, one module call per host): a textfile per host, with every
    container's interfaces and its fleet network's name, and a counter that rises with traffic."""
    args = ("-e", f"metrics_dir={tmp_path}", "-e", "metrics_file={{ inventory_hostname }}.prom")
    run = playbook("playbooks/metrics.yml", *args)
    assert run.returncode == 0
    before = {}
    for host in HOSTS:
        text = (tmp_path / f"{host}.prom").read_text()
        for container in ("app1", "app2"):
            line = next(line for line in text.splitlines() if line.startswith(
                f'linuxns_net_interface_receive_packets_total{{host="{host}",network="fleet",container="{container}",'
                'interface="eth0",side="container"}'))
            before[(host, container)] = int(line.rsplit(" ", 1)[1])
    target = address_of(lab, "host2", "app1")
    lab.exec("host1", "ip", "netns", "exec", "app1", "ping", "-c", "5", "-i", "0.2", "-q", target)
    playbook("playbooks/metrics.yml", *args)
    text = (tmp_path / "host2.prom").read_text()
    line = next(line for line in text.splitlines() if line.startswith(
        'linuxns_net_interface_receive_packets_total{host="host2",network="fleet",container="app1",interface="eth0",'))
    assert int(line.rsplit(" ", 1)[1]) >= before[("host2", "app1")] + 5
