"""A fleet at scale: 32 lab hosts (reduced to two containers each), built, proven, re-run and torn down by the playbooks
in two module calls per host, and the lab taken down leaving nothing. The timings at scale are bench/'s."""

from __future__ import annotations

import json

import pytest

from conftest import _playbook_runner, private_lab
from hoststate import address_of, ping

pytestmark = pytest.mark.slow
HOSTS = 32


def test_fleet_of_32_hosts(tmp_path, record):
    # apart from the other labs
    with private_lab("lnscale", tmp_path / "lab", "198.18.70.0/24", "2001:db8:170::/64", HOSTS) as lab:
        run = _playbook_runner(lab)
        hosts = [h for h in lab.state()["hosts"] if h.startswith("host")]
        assert len(hosts) == HOSTS
        extra = ("-f", "16", "-e", "containers_per_host=2")
        first = run("playbooks/fleet.yml", *extra)
        assert set(first.hosts) == set(hosts) and all(h["failed"] == 0 for h in first.hosts.values())
        subnets = {h: json.loads(lab.exec(h, "ip", "-j", "-4", "addr", "show", "dev", "br-fleet", "scope", "global").stdout)
                   [0]["addr_info"][0]["local"] for h in hosts}
        assert len(set(subnets.values())) == HOSTS, "every host its own subnet"
        for host in ("host1", f"host{HOSTS}"):
            routes = [r for r in json.loads(lab.exec(host, "ip", "-j", "-4", "route").stdout)
                      if r["dst"].startswith("10.244.") and r.get("gateway")]
            assert len(routes) == HOSTS - 1, f"{host} routes to every other host's subnet"

        # the datapath across every host, both families: each host's app1 reaches the next host's app2 (a ring), and
        # host1's app1 every host's app1
        pairs = [(h, hosts[(i + 1) % HOSTS], "app2") for i, h in enumerate(hosts)] + [("host1", h, "app1") for h in hosts[1:]]
        unreachable = [(src, dst, c, family) for src, dst, c in pairs for family in (4, 6)
                       if not ping(lab, src, "app1", address_of(lab, dst, c, family=family))]
        assert not unreachable, f"pings across the fleet: {unreachable}"
        record("scale_fleet_pings", len(pairs) * 2)

        again = run("playbooks/fleet.yml", *extra)
        assert again.changed == 0, again.stdout[-3000:]
        run("playbooks/teardown.yml", *extra)
        for host in ("host1", f"host{HOSTS}"):
            assert lab.exec(host, "ip", "netns", "list").stdout.strip() == ""
            assert "br-fleet" not in lab.exec(host, "ip", "-br", "link").stdout
