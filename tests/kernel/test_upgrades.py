"""Upgrades: a network built by an earlier release (0.1.0, and 1.0.0, the last release before 2.0), taken from this
repository's history, converges under this code while a TCP connection and a continuous ping cross it. The first
run changes only what the changelog announces for that upgrade, the second nothing; neither the connection nor a
single ping is lost. No release before 2.0 saved networks for a reboot (persist is new in 2.0), so there is no
saved state of an earlier release to read; the saved state carries a format number for the releases to come."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest

from support import REPO, namespaces, run_module, sh

RELEASES = {
    # release -> (the commit that was released, the changes that the changelog announces for an upgrade from it)
    "0.1.0": ("f6ada92^", [
        # 1.0.0: "a network's bridge now names its owner in its alias"
        r"^set bridge 'br-up' in the module's own namespace: ifalias=linuxns\.net network up$",
        # 1.0.0: the rules are described and laid per subnet (forwarding, masquerade); 2.0.0: forwarding rules carry
        # their gateway mode in their comments, drop rules their counters
        r"^update firewall rules in the module's own namespace \(nftables\): forwarding of 10\.64\.0\.0/24, "
        r"masquerade of 10\.64\.0\.0/24$",
        # 1.0.0: names (hosts_file, default true, writes /etc/netns/<container>/hosts)
        r"^write the names of network 'up' to \S+/hosts$",
    ]),
    "1.0.0": ("8b49482^", [
        # 2.0.0: "read back from the notes the forwarding rules now carry in their comments", and the drop rules'
        # counters (rule format 4: every rule set of an earlier release is replaced once)
        r"^update firewall rules in the module's own namespace \(nftables\): forwarding of 10\.64\.0\.0/24, "
        r"masquerade of 10\.64\.0\.0/24$",
    ]),
}

ECHO = """
import socket, sys
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", 7000)); server.listen(1); print("ready", flush=True)
conn, _ = server.accept()
while True:
    data = conn.recv(64)
    if not data:
        break
    conn.sendall(data)
"""
# sends a numbered line every 20 ms over one connection and checks each answer, until stdin closes
CLIENT = """
import select, socket, sys
conn = socket.create_connection((sys.argv[1], 7000), timeout=2)
sent = 0
while not select.select([sys.stdin], [], [], 0.02)[0]:
    sent += 1
    conn.sendall(b"%d\\n" % sent)
    answer = b""
    while not answer.endswith(b"\\n"):
        answer += conn.recv(64)
    assert answer == b"%d\\n" % sent, answer
print(sent, flush=True)
"""


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    """Each release's plugins, from this repository's history, as a collection tree."""
    if not (REPO / ".git").exists():
        pytest.skip("this is not a git checkout: the earlier releases come from its history")
    trees = {}
    for release, (commit, _expected) in RELEASES.items():
        known = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--verify", "--quiet", commit + "^{commit}"],
                               capture_output=True, text=True, check=False)
        if known.returncode != 0:
            pytest.skip(f"release {release} ({commit}) is not in this clone's history (a shallow clone?)")
        root = tmp_path_factory.mktemp(f"release-{release}")
        tree = root / "ansible_collections" / "linuxns" / "net"
        tree.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(REPO), "archive", commit, "plugins"], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
        trees[release] = root
    return trees


def run_release_module(root, name, args, netns):
    """Run a module of an earlier release (its own core) as Ansible would."""
    module = root / "ansible_collections" / "linuxns" / "net" / "plugins" / "modules" / f"{name}.py"
    args_file = root / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    proc = sh("nsenter", f"--net=/run/netns/{netns}", sys.executable, str(module), str(args_file), check=False,
              env=dict(os.environ, PYTHONPATH=str(root)))
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("release", list(RELEASES))
def test_a_network_of_an_earlier_release_converges_without_losing_a_packet(releases, release, netns, nsname):
    host = netns("host")
    c1, c2 = nsname("u1"), nsname("u2")
    net = {"name": "up", "bridge": "br-up", "subnet": "10.64.0.0/24", "containers": [{"name": c1}, {"name": c2}]}
    built = run_release_module(releases[release], "container_network", net, host)
    assert built["changed"] and not built.get("failed"), built
    server = subprocess.Popen(["nsenter", f"--net=/run/netns/{c1}", sys.executable, "-c", ECHO],
                              stdout=subprocess.PIPE, text=True)
    ping = client = None
    try:
        assert server.stdout.readline().strip() == "ready"
        address = "10.64.0.2"
        ping = subprocess.Popen(["nsenter", f"--net=/run/netns/{c2}", "ping", "-i", "0.05", "-W", "1", address],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        client = subprocess.Popen(["nsenter", f"--net=/run/netns/{c2}", sys.executable, "-c", CLIENT, address],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)

        first = run_module("container_network", net, netns=host)
        assert first["changed"] and not first.get("failed"), first
        announced = RELEASES[release][1]
        unannounced = [c for c in first["changes"] if not any(re.search(p, c) for p in announced)]
        assert not unannounced, f"the upgrade from {release} changed what its changelog does not announce: {unannounced}"
        for check in (True, False):
            again = run_module("container_network", net, check_mode=check, netns=host)
            assert not again["changed"], again["changes"]
        time.sleep(0.5)

        out, err = client.communicate("", timeout=10)
        assert client.returncode == 0 and int(out) > 20, f"the TCP connection broke: {err}"
        ping.send_signal(2)
        summary = ping.communicate(timeout=10)[0]
        sent, received = map(int, re.search(r"(\d+) packets transmitted, (\d+) received", summary).groups())
        assert sent > 20 and received == sent, summary
    finally:
        for proc in (client, ping, server):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    assert run_module("container_network", dict(net, state="absent"), netns=host)["changed"]
    assert c1 not in namespaces() and c2 not in namespaces()
