"""A fleet that survives a reboot: fleet_network with persist, a web server under a unit bound to app1 by
netns_service on every host; one host rebooted (its processes and namespaces gone, its files kept, its enabled units
run as at boot) serves again on its published port, verify.yml proves the whole matrix, and the next run changes
nothing. Without persist, a reboot leaves nothing of the network."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.slow
HOSTS = ("host1", "host2", "host3")
FLEET = ("playbooks/fleet.yml", "-e", "containers_per_host=2", "-e", '{"app1_ports": ["8080:80"]}')


def served(lab, host):
    """What app1's web server answers on its host's published port, from the machine (outside the fleet), once it
    listens (a service just started takes a moment)."""
    address = lab.state()["hosts"][host]["address"]
    deadline = time.monotonic() + 15
    while True:
        try:
            with urllib.request.urlopen(f"http://{address}:8080/", timeout=5) as response:
                return response.status
        except urllib.error.URLError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def namespaces_of(lab, host):
    return lab.exec(host, "ip", "netns", "list").stdout.split()


def test_a_persisted_fleet_with_a_service_comes_back_after_a_reboot(lab, playbook, tmp_path):
    persist = ("-e", "fleet_network_persist=true")
    try:
        playbook(*FLEET, *persist)
        playbook("tests/fleet/playbooks/service.yml")
        for host in HOSTS:  # systemctl start, in effect
            assert lab.boot(host) == {"linuxns-net@fleet.service": "done", "lnweb.service": "started"}
        assert playbook(*FLEET, *persist).changed == 0, "the boot units rebuilt nothing that was there"
        assert all(served(lab, h) == 200 for h in HOSTS)
        saved = lab.exec("host2", "cat", "/var/lib/linuxns-net/networks/fleet.json").stdout
        before = lab.exec("host2", "ip", "-j", "link").stdout

        booted = lab.reboot("host2")
        assert booted == {"linuxns-net@fleet.service": "done", "lnweb.service": "started"}, booted
        assert served(lab, "host2") == 200, "the service answers again on its published port"
        assert lab.exec("host2", "cat", "/var/lib/linuxns-net/networks/fleet.json").stdout == saved
        macs = {link["ifname"]: link["address"] for link in json.loads(before)}
        assert {link["ifname"]: link["address"] for link in json.loads(lab.exec("host2", "ip", "-j", "link").stdout)} == macs
        report = tmp_path / "verify.json"
        playbook("playbooks/verify.yml", "-e", f"verify_report={report}")  # fails on any probe not as expected
        rows = json.loads(report.read_text())
        assert set(HOSTS) <= set(rows) and all(rows[h] for h in HOSTS), "every host probed, host2 too"
        assert any(row["address"] == lab.state()["hosts"]["host2"]["address"] and row["port"] == 8080
                   and row["result"] == "reachable" for row in rows.get("upstream", [])), "host2's port from outside"
        assert playbook(*FLEET, *persist).changed == 0, "the first run after the reboot changes nothing"

        # persist false: the saved state and the boot unit go; the next reboot leaves nothing of the network
        assert playbook(*FLEET, "-e", "fleet_network_persist=false").changed == 3
        assert lab.exec("host2", "ls", "-A", "/var/lib/linuxns-net").stdout.strip() == ""
        booted = lab.reboot("host2")
        assert booted["lnweb.service"] == "started" and "linuxns-net@fleet.service" not in booted
        assert namespaces_of(lab, "host2") == []
        assert [link["ifname"] for link in json.loads(lab.exec("host2", "ip", "-j", "link").stdout)] == ["lo", "eth0"]
        assert "linuxns" not in lab.exec("host2", "nft", "list", "ruleset").stdout
    finally:
        playbook(*FLEET, "-e", "fleet_network_state=absent", "-e", "fleet_network_stop_processes=true")
        playbook("tests/fleet/playbooks/service.yml", "-e", "service_state=absent")
