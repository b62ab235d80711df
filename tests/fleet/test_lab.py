"""The lab fleet itself: hosts with their own network, mount and UTS namespaces, reached over SSH; down leaves nothing."""

from __future__ import annotations

import os
import pathlib

from ansible_collections.linuxns.net.plugins.module_utils._lab import Lab
from support import ansible_env, namespaces, sh


def test_lab_up_and_down_leaves_nothing(tmp_path):
    root_links = set(os.listdir("/sys/class/net"))
    root_routes = sh("ip", "route", "show", "table", "all").stdout
    mounts = pathlib.Path("/proc/self/mounts").read_text()
    lab = Lab("lnupdown", tmp_path, "203.0.113.0/24")
    lab.up(2)
    try:
        state = lab.state()
        assert set(os.listdir("/sys/class/net")) - root_links == {"lnupdown0"}, "one veth in the root namespace"
        assert sh("ip", "route", "show", "203.0.113.0/24").stdout.strip().startswith("203.0.113.0/24 dev lnupdown0")
        assert lab.exec("host1", "hostname").stdout.strip() == "host1"
        lab.exec("host1", "ip", "netns", "add", "private")
        assert "private" in lab.exec("host1", "ip", "netns", "list").stdout
        assert "private" not in namespaces() and "private" not in lab.exec("host2", "ip", "netns", "list").stdout
        assert lab.exec("host2", "ip", "-br", "link", "show", "eth0").stdout.startswith("eth0")
        proc = sh("ansible", "-i", str(lab.inventory), "all", "-m", "ansible.builtin.command", "-a", "hostname",
                  env=ansible_env(), check=False)
        assert proc.returncode == 0 and all(f"{h} | CHANGED" in proc.stdout for h in ("host1", "host2", "upstream"))
    finally:
        lab.down()
    pids = [p["pid"] for p in state["processes"]]
    assert not [p for p in pids if os.path.exists(f"/proc/{p}") and open(f"/proc/{p}/stat").read().split()[2] != "Z"]
    assert set(os.listdir("/sys/class/net")) == root_links
    assert sh("ip", "route", "show", "table", "all").stdout == root_routes
    assert "lnupdown-switch" not in namespaces()
    assert pathlib.Path("/proc/self/mounts").read_text() == mounts
    assert not lab.dir.exists()


def test_a_second_lab_on_the_same_name_is_refused(lab):
    other = Lab(lab.name, lab.dir.parent, str(lab.underlay))
    try:
        other.up(1)
    except Exception as exc:  # noqa: BLE001 - the message is what matters
        assert "already up" in str(exc)
    else:
        raise AssertionError("a second lab with the same name came up")
