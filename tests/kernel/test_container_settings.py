"""Per-container and per-network settings of container_network, as Docker has them: aliases (resolved with getent
inside the containers, on their network only), a container's MAC and net.* sysctls (one naming its own interface),
the network's ip_range and reserved addresses; check mode, exact re-runs, and a real service reached by its alias."""

from __future__ import annotations

import subprocess

from support import ETC_NETNS, HOSTS_FILE, ip_json, run_module, sh, start_whoami, sysctl, whoami
from test_networks import _getent


def test_aliases_mac_sysctls_ip_range_and_reserved(netns, nsname):
    host = netns("host")
    c1, c2, c3, other = nsname("s1"), nsname("s2"), nsname("s3"), nsname("so")
    net = {"name": "set", "bridge": "br-set", "subnet": "10.66.0.0/24", "subnet6": "fd42:66::/64",
           "ip_range": "10.66.0.128/25", "reserved": ["10.66.0.128", "10.66.0.130", "fd42:66::2"],
           "containers": [
               {"name": c1, "aliases": ["web", "www.set"],
                "sysctls": {"net.ipv4.ip_unprivileged_port_start": 80, "net.ipv6.conf.eth0.accept_ra": 0}},
               {"name": c2, "mac": "02:42:0a:42:00:02"},
               {"name": c3, "address": "10.66.0.9"}]}
    predicted = run_module("container_network", net, check_mode=True, netns=host)
    assert predicted["changed"] and not predicted.get("failed"), predicted
    made = run_module("container_network", net, netns=host)
    assert made["changed"] and not made.get("failed"), made
    assert made["addresses"] == {c1: "10.66.0.129", c2: "10.66.0.131", c3: "10.66.0.9"}, "from ip_range, past reserved"
    assert made["addresses6"][c1] == "fd42:66::3", "fd42:66::2 is reserved"
    assert ip_json(c2, "link", "show", "eth0")[0]["address"] == "02:42:0a:42:00:02"
    assert sysctl(c1, "net.ipv4.ip_unprivileged_port_start") == "80"
    assert sysctl(c1, "net.ipv6.conf.eth0.accept_ra") == "0"
    for check in (True, False):
        assert not run_module("container_network", net, check_mode=check, netns=host)["changed"]

    # the aliases resolve for the network's containers, and a service answers at one
    c1_addresses = {"10.66.0.129", "fd42:66::3"}  # getent hosts answers with either family's
    assert _getent(c2, "web") in c1_addresses and _getent(c3, "www.set") in c1_addresses
    server = start_whoami(c1, 80)
    try:
        assert whoami(c2, "tcp", _getent(c2, "web"), 80) in ("10.66.0.131", made["addresses6"][c2])
    finally:
        server.kill()
        server.wait()
    # on this network only: a container of another network does not see them
    assert not run_module("container_network", {"name": "other", "bridge": "br-other", "subnet": "10.67.0.0/24",
                                                "containers": [{"name": other}]}, netns=host).get("failed")
    assert _getent(other, "web") is None

    # a sysctl changed by hand is set back; an address that becomes reserved moves
    sh("sysctl", "-qw", "net.ipv4.ip_unprivileged_port_start=1024", netns=c1)
    moved = dict(net, reserved=net["reserved"] + ["10.66.0.131"])
    changed = run_module("container_network", moved, diff=True, netns=host)
    assert changed["changed"] and changed["addresses"][c2] == "10.66.0.132", changed
    assert sysctl(c1, "net.ipv4.ip_unprivileged_port_start") == "80"
    for name in ("set", "other"):
        assert run_module("container_network", {"name": name, "bridge": f"br-{name}", "state": "absent",
                                                "subnet": "10.66.0.0/24" if name == "set" else "10.67.0.0/24"},
                          netns=host)["changed"]


def test_a_containers_resolver_is_written_kept_exact_and_removed(netns, nsname):
    host = netns("host")
    c1, c2 = nsname("r1"), nsname("r2")
    dns = {"nameservers": ["10.68.0.1", "fd42:68::1"], "search": ["set.example"], "options": ["ndots:2"]}
    net = {"name": "res", "bridge": "br-res", "subnet": "10.68.0.0/24",
           "containers": [{"name": c1, "dns": dns}, {"name": c2}]}
    made = run_module("container_network", net, diff=True, netns=host)
    assert made["changed"] and not made.get("failed"), made
    path = ETC_NETNS / c1 / "resolv.conf"
    assert path.read_text() == ("# Written by linuxns.net for network res\nnameserver 10.68.0.1\nnameserver fd42:68::1\n"
                                "search set.example\noptions ndots:2\n")
    assert not (ETC_NETNS / c2 / "resolv.conf").exists(), "a container without dns keeps the host's resolver"
    # what a process started by ip netns exec reads (the file bound over /etc/resolv.conf, as ip netns exec does)
    seen = subprocess.run(["unshare", "--mount", "--propagation", "private", "nsenter", f"--net=/run/netns/{c1}", "sh",
                           "-c", f'mount --bind "{path}" /etc/resolv.conf && exec cat /etc/resolv.conf'],
                          capture_output=True, text=True, check=True).stdout
    assert "nameserver 10.68.0.1" in seen and "search set.example" in seen
    for check in (True, False):
        assert not run_module("container_network", net, check_mode=check, netns=host)["changed"]
    path.write_text(path.read_text().replace("ndots:2", "ndots:9"))  # edited by hand: set back
    assert run_module("container_network", net, netns=host)["changed"] and "ndots:2" in path.read_text()
    # another network may not set it too
    other = {"name": "res2", "bridge": "br-res2", "subnet": "10.69.0.0/24",
             "containers": [{"name": c1, "interface": "eth1", "dns": {"nameservers": ["10.69.0.1"]}}]}
    refused = run_module("container_network", other, netns=host)
    assert refused["failed"] and "container '" + c1 + "' dns" in refused["msg"] and "network 'res''s" in refused["msg"]
    # dns left out: the file goes
    assert run_module("container_network", dict(net, containers=[{"name": c1}, {"name": c2}]), netns=host)["changed"]
    assert not path.exists()
    assert run_module("container_network", dict(net, state="absent"), netns=host)["changed"]


def test_the_host_resolves_the_containers_from_a_block_of_its_hosts_file(netns, nsname):
    host = netns("host")
    c1, c2 = nsname("h1"), nsname("h2")
    HOSTS_FILE.write_text("127.0.0.1\tlocalhost\n10.1.1.1\tmine # the machine's own line\n")
    net = {"name": "hn", "bridge": "br-hn", "subnet": "10.70.0.0/24", "host_names": True,
           "containers": [{"name": c1, "aliases": ["web"]}, {"name": c2}]}
    predicted = run_module("container_network", net, check_mode=True, diff=True, netns=host)
    assert predicted["changed"] and "linuxns" not in HOSTS_FILE.read_text()
    assert run_module("container_network", net, netns=host)["changed"]
    text = HOSTS_FILE.read_text()
    assert text.startswith("127.0.0.1\tlocalhost\n10.1.1.1\tmine # the machine's own line\n# BEGIN linuxns.net network hn\n")
    assert f"10.70.0.2\t{c1} web\n" in text and f"10.70.0.3\t{c2}\n" in text

    def host_getent(name):  # as a program on the host resolves it
        proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                               f'mount --bind "{HOSTS_FILE}" /etc/hosts && exec getent hosts "{name}"'],
                              capture_output=True, text=True, check=False)
        return proc.stdout.split()[0] if proc.returncode == 0 else None
    assert host_getent(c1) == "10.70.0.2" and host_getent("web") == "10.70.0.2" and host_getent("mine") == "10.1.1.1"
    assert not run_module("container_network", net, netns=host)["changed"]
    HOSTS_FILE.write_text(text.replace("10.70.0.3", "10.70.0.99") + "10.1.1.2\tadded-later\n")  # edited: set back
    assert run_module("container_network", net, netns=host)["changed"]
    assert f"10.70.0.3\t{c2}\n" in HOSTS_FILE.read_text() and "added-later" in HOSTS_FILE.read_text()
    assert run_module("container_network", dict(net, state="absent"), netns=host)["changed"]
    assert HOSTS_FILE.read_text() == "127.0.0.1\tlocalhost\n10.1.1.1\tmine # the machine's own line\n10.1.1.2\tadded-later\n"
