"""Fixtures shared by the kernel and fleet tests (their conftest.py files import them): throwaway namespaces and a
check that nothing leaks into the root namespace. The unit tests need neither root nor these."""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import re
import shutil

import pytest

import support

PREFIX = support.RUN_PREFIX
_counter = itertools.count()


def _root_state():
    """What must not change in the namespace the tests run in (a running lab's one veth and its routes aside)."""
    lab_links = set(support.ROOT_LAB_LINKS)
    if os.environ.get("LINUXNS_NET_LABS_BESIDE"):
        # the main suite's other lane runs labs meanwhile: their root veths are named <lab>0, and no test here makes
        # a link in the root namespace
        lab_links |= {link for link in support.links(None) if re.fullmatch(r"ln[a-z0-9]+0", link)}
    return {
        "links": sorted(set(support.links(None)) - lab_links),
        "routes": [r for r in support.sh("ip", "route", "show", "table", "all").stdout.splitlines()
                   if not any(f"dev {link} " in r + " " for link in lab_links)],
        "ip_forward": open("/proc/sys/net/ipv4/ip_forward").read(),
        "nft": support.sh("nft", "list", "ruleset", check=False).stdout,
        "iptables": [line for line in support.sh("iptables-save", check=False).stdout.splitlines() if not line.startswith("#")],
        "etc_netns": sorted(os.listdir("/etc/netns")) if os.path.isdir("/etc/netns") else [],
    }


@pytest.fixture(scope="session", autouse=True)
def root_and_cleanup():
    """The tests need root. Whatever a failed test left of this run's namespaces is removed at the end (the
    per-module check below has already failed the suite for it)."""
    if os.geteuid() != 0:
        pytest.exit("these tests need root (they create network namespaces)", returncode=2)
    yield
    for name in support.namespaces():
        if name.startswith(PREFIX):
            support.sh("ip", "netns", "del", name, check=False)
    shutil.rmtree(support.ETC_NETNS, ignore_errors=True)
    shutil.rmtree(support.PERSIST_DIR, ignore_errors=True)
    shutil.rmtree(support.RUN_DIR, ignore_errors=True)
    support.HOSTS_FILE.unlink(missing_ok=True)


_figures = {}


@pytest.fixture(scope="session")
def record():
    """Figures for the reliability page (docs/docsite/rst/reliability.rst) (inputs tried, kills survived, ...), written to tests/output/."""
    yield _figures.__setitem__
    if _figures:
        out = support.REPO / "tests" / "output"
        out.mkdir(exist_ok=True)
        path = out / "reliability.json"
        with open(out / ".reliability.lock", "w") as lock:  # the main suite's two lanes both record
            fcntl.flock(lock, fcntl.LOCK_EX)
            figures = json.loads(path.read_text()) if path.exists() else {}
            figures.update(_figures)
            path.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")


@pytest.fixture(scope="module", autouse=True)
def nothing_left_behind(request):
    """After every test module: no namespace of this run is left, and the root namespace is as it was."""
    before = _root_state()
    yield
    leftover = [n for n in support.namespaces() if n.startswith(PREFIX)]
    assert not leftover, f"{request.module.__name__} left namespaces behind: {leftover}"
    hosts_files = sorted(p.parent.name for p in support.ETC_NETNS.glob("*/hosts"))
    assert not hosts_files, f"{request.module.__name__} left hosts files behind: {hosts_files}"
    assert _root_state() == before, f"{request.module.__name__} changed the root network namespace"


@pytest.fixture
def nsname():
    """Factory of unique namespace names (not created); every namespace with such a name is removed afterwards."""
    made = []

    def make(label="ns"):
        name = f"{PREFIX}{next(_counter)}{label}"[:40]
        made.append(name)
        return name

    def adopt(name):
        """Also clean up a name that the code under test derives (it must carry the run's prefix)."""
        assert name.startswith(PREFIX)
        made.append(name)
        return name
    make.adopt = adopt
    yield make
    existing = set(support.namespaces())
    for name in made:
        if name in existing:
            support.sh("ip", "netns", "del", name, check=False)  # a stale file too: ip unmounts what it can, unlinks
        shutil.rmtree(support.ETC_NETNS / name, ignore_errors=True)  # names a test did not tear down itself
    left = sorted(set(made) & set(support.namespaces()))
    assert not left, f"namespaces this test made could not be removed: {left}"


@pytest.fixture(scope="module")
def netns_module():
    """Like netns, for namespaces that a whole test module shares."""
    made = []

    def make(label="ns"):
        name = f"{PREFIX}{next(_counter)}{label}"[:40]
        support.sh("ip", "netns", "add", name)
        support.sh("ip", "-n", name, "link", "set", "lo", "up")
        made.append(name)
        return name
    yield make
    for name in made:
        support.sh("ip", "netns", "del", name, check=False)


@pytest.fixture
def netns(nsname):
    """Factory that creates a namespace (with ip netns add, independent of the code under test), lo up."""
    def make(label="ns"):
        name = nsname(label)
        support.sh("ip", "netns", "add", name)
        support.sh("ip", "-n", name, "link", "set", "lo", "up")
        return name
    return make
