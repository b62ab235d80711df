"""Real ansible-playbook and ad-hoc runs: the seed 004 lab, check mode, idempotence, the README's examples."""

from __future__ import annotations

import os
import pathlib
import re
import shlex

import pytest

from support import REPO, ansible_env, links, namespaces, ping, run_module, sh

pytestmark = pytest.mark.slow
PLAYBOOKS = pathlib.Path(__file__).parent / "playbooks"


def playbook(host, name, *extra):
    proc = sh("ansible-playbook", str(PLAYBOOKS / name), *extra, netns=host, check=False, env=ansible_env())
    recap = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", proc.stdout)
    assert proc.returncode == 0 and recap, proc.stdout + proc.stderr
    return {"ok": int(recap[1]), "changed": int(recap[2]), "failed": int(recap[4]), "output": proc.stdout}


def test_seed_004_lab_playbook(netns, nsname):
    host, upstream = netns("host"), netns("up")
    prefix = nsname("p")  # the playbook names its containers <prefix>c1 and <prefix>c2
    c1, c2 = nsname.adopt(f"{prefix}c1"), nsname.adopt(f"{prefix}c2")
    # upstream stands in for the internet: it has no route back to 10.100.0.0/24
    sh("ip", "-n", host, "link", "add", "uplink", "type", "veth", "peer", "name", "eth0", "netns", upstream)
    sh("ip", "-n", host, "addr", "add", "203.0.113.1/24", "dev", "uplink")
    sh("ip", "-n", upstream, "addr", "add", "203.0.113.254/24", "dev", "eth0")
    sh("ip", "-n", host, "link", "set", "uplink", "up")
    sh("ip", "-n", upstream, "link", "set", "eth0", "up")
    sh("ip", "-n", host, "route", "add", "default", "via", "203.0.113.254")
    extra = ("-e", f"prefix={prefix}")

    checked = playbook(host, "seed004.yml", "--check", *extra)
    assert checked["changed"] == 5 and c1 not in namespaces() and "br0" not in links(host)

    first = playbook(host, "seed004.yml", "--diff", *extra)
    assert first["changed"] == 5
    assert ping(c1, "10.100.0.3") and ping(c2, "10.100.0.2") and ping(c1, "10.100.0.1")
    assert ping(host, "10.100.0.2")
    assert ping(c1, "203.0.113.254"), "NAT to upstream"

    assert playbook(host, "seed004.yml", *extra)["changed"] == 0
    assert playbook(host, "seed004.yml", "--check", *extra)["changed"] == 0

    down = playbook(host, "seed004_teardown.yml", *extra)
    assert down["changed"] == 3 and c1 not in namespaces() and "br0" not in links(host)
    assert "linuxns_net" not in sh("nft", "list", "ruleset", netns=host).stdout
    assert playbook(host, "seed004_teardown.yml", *extra)["changed"] == 0


def readme_examples():
    """The ad-hoc commands of README.md's module section, in order."""
    text = (REPO / "README.md").read_text()
    section = text.split("<!-- adhoc-examples -->")[1]
    return [line.strip() for line in section.splitlines() if line.strip().startswith("ansible localhost -m linuxns.net.")]


@pytest.mark.global_names
def test_readme_ad_hoc_examples_work_as_written(netns):
    examples = readme_examples()
    assert len({re.search(r"-m (\S+)", e)[1] for e in examples}) == 7, "one example for each of the seven modules"
    used = sorted({n for e in examples for n in re.findall(r"namespaces?=([\w,-]+)", e) for n in n.split(",")}
                  | {n for e in examples for n in re.findall(r"peer_namespace=([\w-]+)", e)}
                  | {n for e in examples if "linuxns.net.netns " in e for n in re.findall(r"name=([\w,-]+)", e)[0].split(",")}
                  | {n for e in examples for n in re.findall(r'"name": "(demo-[\w-]+)"', e)})
    clash = [n for n in used if n in namespaces()]
    if clash:
        pytest.skip(f"the README examples use namespace names that exist on this machine: {clash}")
    host = netns("host")
    try:
        for command in examples:
            proc = sh(*shlex.split(command), netns=host, check=False, env=ansible_env())
            assert proc.returncode == 0 and ("SUCCESS" in proc.stdout or "CHANGED" in proc.stdout), command + "\n" + proc.stdout
    finally:
        for name in used:
            if name in namespaces():
                sh("ip", "netns", "del", name, check=False)
    assert not [n for n in used if n in namespaces()], "the README's last examples remove what the first made"


def test_a_broken_pyroute2_says_how_to_install_it_and_leaves_nothing(tmp_path, netns):
    """pyroute2 is imported when a run first needs it (a bridge with STP, here: a plain one goes over the lean
    netlink socket), not at the module's start."""
    ns = netns("host")
    fake = tmp_path / "pyroute2"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('pyroute2 hidden by the test')\n")
    from support import collections_root
    result = run_module("bridge", {"name": "br0", "namespace": ns, "stp": True, "addresses": ["10.1.0.1/24"]},
                        env={"PYTHONPATH": f"{tmp_path}{os.pathsep}{collections_root()}"})
    assert result["failed"] and "pyroute2" in result["msg"] and "pip install" in result["msg"]
    assert list(links(ns)) == ["lo"]


@pytest.mark.parametrize("module", ["netns", "veth", "bridge", "netns_route", "masquerade", "netns_info"])
def test_ansible_doc_renders(module):
    proc = sh("ansible-doc", f"linuxns.net.{module}", env=ansible_env(), check=False)
    assert proc.returncode == 0 and "EXAMPLES" in proc.stdout and "RETURN VALUES" in proc.stdout, proc.stderr


def test_module_defaults_group_sets_the_namespace_of_every_module(netns):
    host, target = netns("host"), netns("md")
    first = playbook(host, "module_defaults.yml", "-e", f"ns={target}")
    assert first["changed"] == 3
    assert links(target)["v-md"]["master"] == "br-md" and "br-md" not in links(host)
    assert sh("ip", "-n", target, "route", "show", "10.78.0.0/24").stdout.startswith("10.78.0.0/24 via 10.77.0.2")
    assert playbook(host, "module_defaults.yml", "-e", f"ns={target}")["changed"] == 0
