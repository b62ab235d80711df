"""Per-container bandwidth limits and MTU in container_network: the qdiscs, ifb and filter as the kernel has them,
real transfers that land within 10% of each limit in each direction, check mode, exact re-runs, a changed rate in the
diff, and removal that leaves nothing; a container whose MTU is its own drops larger frames and still serves TCP."""

from __future__ import annotations

import json
import subprocess
import sys

from support import run_module, sh, ip_json

# A receiver that counts what arrives between 0.5 s and 2.5 s after the first byte (the bucket's first burst is
# left out), and prints the rate in bits per second; a sender that sends for 3 s.
RECEIVER = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
first = None; counted = 0
while True:
    data = c.recv(65536)
    if not data:
        break
    now = time.monotonic()
    first = first or now
    if 0.5 <= now - first <= 2.5:
        counted += len(data)
print(counted * 8 / 2.0, flush=True)
"""
SENDER = """
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
chunk = b"x" * 16384
end = time.monotonic() + 3.0
while time.monotonic() < end:
    s.sendall(chunk)
s.close()
"""


def measure(sender, receiver, address, port):
    """bits per second of a TCP transfer from namespace sender to receiver (listening at address:port)."""
    proc = subprocess.Popen(["nsenter", f"--net=/run/netns/{receiver}", sys.executable, "-c", RECEIVER, str(port)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        sh(sys.executable, "-c", SENDER, address, str(port), netns=sender)
        return float(proc.stdout.readline())
    finally:
        proc.kill()
        proc.wait()


def qdiscs(netns):
    return json.loads(sh("tc", "-j", "qdisc", "show", netns=netns).stdout)


def test_bandwidth_limits_each_way_and_a_containers_own_mtu(netns, nsname):
    host = netns("host")
    limited, peer, small = nsname("bwl"), nsname("bwp"), nsname("bws")
    net = {"name": "bw", "bridge": "br-bw", "subnet": "10.68.0.0/24",
           "containers": [{"name": limited, "bandwidth": {"ingress": "8mbit", "egress": "4mbit"}},
                          {"name": peer}, {"name": small, "mtu": 1400}]}
    predicted = run_module("container_network", net, check_mode=True, netns=host)
    assert predicted["changed"] and not predicted.get("failed"), predicted
    made = run_module("container_network", net, diff=True, netns=host)
    assert made["changed"] and not made.get("failed"), made
    assert [c for c in made["changes"] if "limit" in c or "ifb" in c or "redirect" in c] == \
        [c for c in predicted["changes"] if "limit" in c or "ifb" in c or "redirect" in c]
    assert made["diff"]["after"][f"{limited}#bandwidth"] == {"ingress": {"rate": "8mbit", "burst": 65536},
                                                             "egress": {"rate": "4mbit", "burst": 65536}}
    for check in (True, False):
        again = run_module("container_network", net, check_mode=check, netns=host)
        assert not again["changed"], again

    # the kernel's state: a tbf on the host end (to the container), the host end's ingress redirected to the ifb,
    # and a tbf on the ifb (from the container)
    ends = {link["ifname"]: link for link in ip_json(host, "link", "show")}
    end = next(name for name, link in ends.items() if link.get("qdisc") == "tbf")
    ifb = "ifb" + end[len("veth"):]
    assert ifb in ends and "UP" in ends[ifb]["flags"]
    rates = {q["dev"]: q["options"]["rate"] for q in qdiscs(host) if q["kind"] == "tbf"}
    assert rates == {end: 1_000_000, ifb: 500_000}, rates  # bytes per second
    assert any(q["kind"] == "ingress" and q["dev"] == end for q in qdiscs(host))
    assert f"Egress Redirect to device {ifb}" in sh("tc", "filter", "show", "dev", end, "ingress", netns=host).stdout

    # real transfers: each direction within 10% of its limit; the unlimited peer is far faster
    addresses = made["addresses"]
    into = measure(peer, limited, addresses[limited], 5001)
    out_of = measure(limited, peer, addresses[peer], 5002)
    unlimited = measure(small, peer, addresses[peer], 5003)
    assert abs(into - 8e6) <= 0.8e6, f"into the container: {into / 1e6:.2f} Mbit/s for a limit of 8"
    assert abs(out_of - 4e6) <= 0.4e6, f"out of the container: {out_of / 1e6:.2f} Mbit/s for a limit of 4"
    assert unlimited > 10 * 8e6, f"the unlimited pair: {unlimited / 1e6:.2f} Mbit/s"

    # the container's own MTU: its end has it, the host end and the bridge keep the network's; a larger frame is
    # dropped, a TCP transfer adapts
    small_links = {link["ifname"]: link for link in ip_json(small, "link", "show")}
    assert small_links["eth0"]["mtu"] == 1400 and ends["br-bw"]["mtu"] == 1500
    assert sh("ping", "-c1", "-W1", "-M", "do", "-s", str(1400 - 28), addresses[small], netns=peer, check=False).returncode == 0
    assert sh("ping", "-c1", "-W1", "-M", "do", "-s", str(1500 - 28), addresses[small], netns=peer, check=False).returncode != 0
    assert measure(peer, small, addresses[small], 5004) > 1e6

    # a changed rate is in the diff, and one way removed goes exactly
    changed = dict(net, containers=[{"name": limited, "bandwidth": {"ingress": "16mbit"}}, {"name": peer},
                                    {"name": small, "mtu": 1400}])
    result = run_module("container_network", changed, diff=True, netns=host)
    assert result["changed"], result
    assert result["diff"]["before"][f"{limited}#bandwidth"]["ingress"]["rate"] == "8mbit"
    assert result["diff"]["after"][f"{limited}#bandwidth"] == {"ingress": {"rate": "16mbit", "burst": 65536}}
    assert ifb not in {link["ifname"] for link in ip_json(host, "link", "show")}
    assert not any(q["kind"] == "ingress" for q in qdiscs(host))
    assert not run_module("container_network", changed, netns=host)["changed"]

    # no limit at all: the host end's tbf goes; the MTU goes back to the network's
    plain = dict(net, containers=[{"name": limited}, {"name": peer}, {"name": small}])
    assert run_module("container_network", plain, netns=host)["changed"]
    assert not [q for q in qdiscs(host) if q["kind"] in ("tbf", "ingress")]
    assert {link["ifname"]: link for link in ip_json(small, "link", "show")}["eth0"]["mtu"] == 1500
    assert not run_module("container_network", plain, netns=host)["changed"]

    # a container that leaves with an egress limit takes its ifb along; the network's removal leaves nothing
    assert run_module("container_network", net, netns=host)["changed"]
    left = run_module("container_network", dict(net, containers=[{"name": peer}, {"name": small, "mtu": 1400}]),
                      netns=host)
    assert left["changed"] and not left.get("failed"), left
    assert not [link for link in ip_json(host, "link", "show") if link["ifname"].startswith("ifb")]
    assert run_module("container_network", net, netns=host)["changed"]
    gone = run_module("container_network", dict(net, state="absent"), netns=host)
    assert gone["changed"] and not gone.get("failed"), gone
    assert {link["ifname"] for link in ip_json(host, "link", "show")} == {"lo"}
