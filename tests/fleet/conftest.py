"""The lab fleet fixture: three namespace hosts and an upstream, reached over SSH, for the roles' tests."""

from __future__ import annotations

import contextlib
import json
import os
import re

import pytest

# pylint: disable-next=unused-import
from fixtures import netns, netns_module, nothing_left_behind, nsname, record, root_and_cleanup  # noqa: F401
from ansible_collections.linuxns.net.plugins.module_utils._lab.lab import Lab
import support
from support import REPO, ansible_env, sh


def _lab_up(fleet, hosts):
    """Start a lab for the session, known to the cleanliness checks (the root namespace's and its hosts')."""
    support.ROOT_LAB_LINKS.add(fleet.root_link)
    fleet.up(hosts)
    _active.append(fleet)
    yield fleet
    _active.remove(fleet)
    fleet.down()
    support.ROOT_LAB_LINKS.discard(fleet.root_link)


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    yield from _lab_up(Lab("lntest", tmp_path_factory.mktemp("lab"), "198.51.100.0/24"), 3)


_active = []


@contextlib.contextmanager
def private_lab(name, directory, underlay, underlay6, hosts):
    """A lab of a test's own (its own ranges, apart from the session labs'), up for the block; afterwards it is down
    and nothing of it is left: no link or namespace named after it, no state, none of its processes."""
    lab = Lab(name, directory, underlay, underlay6)
    support.ROOT_LAB_LINKS.add(lab.root_link)
    try:
        lab.up(hosts)
        yield lab
    finally:
        state = lab.state() or {"processes": [], "hosts": {}}
        pids = [p["pid"] for p in state["processes"]] + [info["pid"] for info in state["hosts"].values()]
        lab.down()
        support.ROOT_LAB_LINKS.discard(lab.root_link)
    left = sh("ip", "-br", "link").stdout + sh("ip", "netns", "list").stdout
    assert name not in left, f"the lab left {left}"
    assert lab.state() is None and not [pid for pid in pids if os.path.exists(f"/proc/{pid}")], "its processes are gone"


@pytest.fixture(scope="session")
def routed_lab(tmp_path_factory):
    """A routed lab: four hosts on two segments joined by a router (host1 and host3 on 198.18.40.0/24, host2 and
    host4 on 198.18.50.0/24), apart from the flat lab's ranges, so that both can be up in one session."""
    yield from _lab_up(Lab("lnroute", tmp_path_factory.mktemp("routed"), "198.18.40.0/24", "2001:db8:140::/64",
                           segments=2, segment_range="198.18.48.0/20"), 4)


@pytest.fixture(scope="module", autouse=True)
def lab_hosts_left_clean(request):
    """After every test module that used the lab: its hosts hold no namespace, bridge, veth or rule of ours."""
    yield
    for fleet in _active:
        _check_clean(fleet, request.module.__name__)


def _check_clean(fleet, module):
    for host in fleet.state()["hosts"]:
        links = [l["ifname"] for l in json.loads(fleet.exec(host, "ip", "-j", "link").stdout)]
        assert links == ["lo", "eth0"], f"{module} left links on {host}: {links}"
        assert fleet.exec(host, "ip", "netns", "list").stdout.strip() == "", f"namespaces left on {host}"
        assert fleet.exec(host, "ls", "-A", "/etc/netns").stdout.strip() == "", f"hosts files left on {host}"
        assert "linuxns" not in fleet.exec(host, "cat", "/etc/hosts").stdout, f"{module} left names in {host}'s /etc/hosts"
        kept = fleet.exec(host, "find", "/etc/systemd/system", "/var/lib/linuxns-net", "-mindepth", "1").stdout.split()
        assert not kept, f"{module} left files in {host}'s own directories: {kept}"
        segments = {str(n) for networks in fleet.networks for n in networks}  # a routed lab's, via its router
        for family in ("-4", "-6"):  # the lab's own: connected routes and the default route to the upstream
            routes = json.loads(fleet.exec(host, "ip", "-j", family, "route").stdout or "[]")
            left = [r["dst"] for r in routes if r["dst"] != "default" and r["dst"] not in segments
                    and (r.get("gateway") or r.get("dev") != "eth0")]
            assert not left, f"{module} left routes on {host}: {left}"
        for tool in ("nft list ruleset", "iptables-nft-save", "iptables-legacy-save"):
            out = fleet.exec(host, *tool.split(), check=False).stdout
            assert "linuxns" not in out.lower(), f"{module} left rules on {host} ({tool})"


class Run:
    def __init__(self, proc):
        self.stdout = proc.stdout + proc.stderr
        self.returncode = proc.returncode
        self.hosts = {m[0]: {"ok": int(m[1]), "changed": int(m[2]), "failed": int(m[4])}
                      for m in re.findall(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                                          proc.stdout, re.M)}

    @property
    def changed(self):
        return sum(h["changed"] for h in self.hosts.values())


def _playbook_runner(fleet):
    def run(path, *extra, ok=True):
        proc = sh("ansible-playbook", "-i", str(fleet.inventory), str(REPO / path), *extra, check=False,
                  env=ansible_env(ANSIBLE_PIPELINING="1"))
        result = Run(proc)
        if ok:
            assert proc.returncode == 0, result.stdout
        return result
    return run


@pytest.fixture
def playbook(lab):
    """Run a playbook (a path relative to the repo) against the lab; returns the recap per host."""
    return _playbook_runner(lab)


@pytest.fixture
def routed_playbook(routed_lab):
    """The same, against the routed lab."""
    return _playbook_runner(routed_lab)
