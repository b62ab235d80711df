"""linuxns.net.netns against the real kernel."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from support import collections_root as support_collections_root, links, namespaces, run_module, sh, sysctl


def test_create_check_mode_idempotence_and_delete(nsname):
    red, blue = nsname("red"), nsname("blue")
    args = {"name": [red, blue], "sysctls": {"net.ipv4.ip_forward": 1}}

    predicted = run_module("netns", args, check_mode=True, diff=True)
    assert predicted["changed"] and red not in namespaces()
    assert predicted["diff"]["before"] == {red: None, blue: None}

    made = run_module("netns", args, diff=True)
    assert made["changed"] and made["changes"] == predicted["changes"]
    assert {red, blue} <= set(namespaces())
    for ns in (red, blue):
        assert "UP" in links(ns)["lo"]["flags"]
        assert sysctl(ns, "net.ipv4.ip_forward") == "1"

    again = run_module("netns", args)
    assert not again["changed"] and again["changes"] == []
    assert not run_module("netns", args, check_mode=True)["changed"]

    gone = run_module("netns", {"name": [red, blue], "state": "absent"})
    assert gone["changed"] and red not in namespaces() and blue not in namespaces()
    assert not run_module("netns", {"name": [red], "state": "absent"})["changed"]


def test_sysctl_drift_is_corrected_and_reported(nsname):
    ns = nsname()
    run_module("netns", {"name": [ns], "sysctls": {"net.ipv4.ip_forward": 1}})
    sh("sysctl", "-qw", "net.ipv4.ip_forward=0", netns=ns)
    fixed = run_module("netns", {"name": [ns], "sysctls": {"net.ipv4.ip_forward": 1}}, diff=True)
    assert fixed["changes"] == [f"set sysctl net.ipv4.ip_forward=1 in namespace '{ns}'"]
    assert fixed["diff"]["before"][ns]["sysctls"] == {"net.ipv4.ip_forward": "0"}
    assert sysctl(ns, "net.ipv4.ip_forward") == "1"


def test_deleting_a_namespace_with_processes_warns(netns):
    ns = netns()
    proc = subprocess.Popen(["ip", "netns", "exec", ns, "sleep", "60"])
    try:
        for _attempt in range(50):  # wait until the sleep runs inside the namespace
            if sh("ip", "netns", "pids", ns).stdout.strip():
                break
            time.sleep(0.05)
        result = run_module("netns", {"name": [ns], "state": "absent"})
        assert result["changed"]
        assert any("still holds processes" in w for w in result.get("warnings", []))
    finally:
        proc.kill()
        proc.wait()


def test_pid_gives_a_name_to_a_running_process_namespace(nsname):
    name = nsname("ctr")
    proc = subprocess.Popen(["unshare", "--net", "sleep", "60"])
    try:
        for _attempt in range(50):
            if os.readlink(f"/proc/{proc.pid}/ns/net") != os.readlink("/proc/self/ns/net"):
                break
            time.sleep(0.05)
        result = run_module("netns", {"name": [name], "pid": proc.pid, "loopback": False})
        assert result["changed"]
        assert os.stat(f"/run/netns/{name}").st_ino == os.stat(f"/proc/{proc.pid}/ns/net").st_ino
        assert not run_module("netns", {"name": [name], "pid": proc.pid, "loopback": False})["changed"]
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("name, message", [
    ("a/b", "must not contain '/'"), ("..", "must not contain '/' or be '.' or '..'"), (".", "'.' or '..'"),
])
def test_bad_names_fail_before_anything_is_created(nsname, name, message):
    good = nsname()
    before = namespaces(mine=True)
    result = run_module("netns", {"namespaces": [{"name": good}, {"name": name}]})
    assert result["failed"] and message in result["msg"] and repr(name)[1:-1] in result["msg"]
    assert namespaces(mine=True) == before
    assert "/" not in name or not os.path.lexists(f"/run/netns/{name.split('/')[0]}"), "nothing made of the name's first part"


def test_sysctl_outside_net_is_refused(nsname):
    ns = nsname()
    result = run_module("netns", {"name": [ns], "sysctls": {"kernel.pid_max": 4096}})
    assert result["failed"] and "only net.* sysctls" in result["msg"] and ns in result["msg"]
    assert ns not in namespaces()


def test_unknown_sysctl_fails_and_leaves_no_namespace(nsname):
    ns = nsname()
    result = run_module("netns", {"name": [ns], "sysctls": {"net.ipv4.no_such_thing": 1}})
    assert result["failed"] and "does not exist" in result["msg"]
    assert ns not in namespaces()


def test_missing_pid_is_refused(nsname):
    result = run_module("netns", {"name": [nsname()], "pid": 2 ** 22 + 7})
    assert result["failed"] and "no process with pid" in result["msg"]


def test_a_stale_namespace_file_is_removed_on_delete(nsname):
    """A delete killed between unmount and unlink leaves /run/netns/<name> as a plain file, which `ip netns list`
    shows and `ip netns exec` cannot enter: state absent removes it, in check mode predicts it."""
    name = nsname("stale")
    run_module("netns", {"name": [name]})
    sh("umount", f"/run/netns/{name}")
    assert name in namespaces() and os.path.isfile(f"/run/netns/{name}")
    predicted = run_module("netns", {"name": [name], "state": "absent"}, check_mode=True, diff=True)
    assert predicted["changed"] and os.path.exists(f"/run/netns/{name}")
    assert predicted["diff"]["before"] == {name: {"exists": False, "stale_file": True}}
    gone = run_module("netns", {"name": [name], "state": "absent"})
    assert gone["changed"] and gone["changes"] == predicted["changes"]
    assert not os.path.lexists(f"/run/netns/{name}") and name not in namespaces()
    assert not run_module("netns", {"name": [name], "state": "absent"})["changed"]


FAKE_PYROUTE2 = """
import os
IMPORTED_IN = os.stat("/proc/thread-self/ns/net").st_ino


class IPRoute:
    def close(self):
        pass
"""


def test_pyroute2_is_imported_in_the_module_own_namespace_not_in_a_target(tmp_path, netns):
    """pyroute2 0.9.1 and 0.9.2 open sockets when imported, which keep the namespace of the import alive (a lab's
    switch could then not be removed). A stand-in pyroute2 records where it was imported; it must be the module's
    home namespace even when the first socket is opened for another namespace."""
    target = netns("target")
    package = tmp_path / "pyroute2"
    (package / "iproute").mkdir(parents=True)
    (package / "netlink").mkdir()
    (package / "__init__.py").write_text("")
    (package / "iproute" / "__init__.py").write_text("")
    (package / "iproute" / "linux.py").write_text(FAKE_PYROUTE2)
    (package / "netlink" / "__init__.py").write_text("")
    (package / "netlink" / "exceptions.py").write_text("class NetlinkError(Exception):\n    code = 0\n")
    script = (
        "import os, sys\n"
        "from ansible_collections.linuxns.net.plugins.module_utils._session import Session\n"
        "with Session(lock=False) as session:\n"
        f"    session.pyroute2({target!r})\n"
        "from pyroute2.iproute import linux\n"
        "print(linux.IMPORTED_IN, os.stat('/proc/thread-self/ns/net').st_ino, os.stat('/run/netns/' + sys.argv[1]).st_ino)\n")
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}:{support_collections_root()}")
    out = subprocess.run([sys.executable, "-c", script, target], env=env, capture_output=True, text=True, check=True).stdout
    imported_in, home, target_inode = (int(x) for x in out.split())
    assert imported_in == home != target_inode
