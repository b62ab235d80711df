"""Acting and asserting inside lab hosts, with ip/nft/iptables (never with the code under test)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from ansible_collections.linuxns.net.plugins.module_utils._lab.processes import start_time


def kill_host(lab, host, timeout=10.0):
    """SIGKILL every process of a lab host (its namespaces go with them) and wait until each is gone or a zombie:
    a lab run right after must find the host dead, not dying (a dying holder would get a restarted sshd)."""
    procs = [p for p in lab.state()["processes"] if p["host"] == host]
    for proc in procs:
        os.kill(proc["pid"], signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while any(start_time(p["pid"]) == p["start"] for p in procs):
        assert time.monotonic() < deadline, f"the processes of lab host {host} outlived SIGKILL for {timeout} s"
        time.sleep(0.01)


def ns_exec(lab, host, ns, *argv, check=False):
    return lab.exec(host, "ip", "netns", "exec", ns, *argv, check=check)


def ping(lab, host, ns, address):
    return ns_exec(lab, host, ns, "ping", "-c", "1", "-W", "1", "-q", address).returncode == 0


def address_of(lab, host, ns, dev="eth0", family=4):
    """The first address of that family (IPv6: global) of a container's link."""
    out = json.loads(ns_exec(lab, host, ns, "ip", "-j", f"-{family}", "addr", "show", "dev", dev, "scope", "global",
                             check=True).stdout)
    return out[0]["addr_info"][0]["local"]


def source_seen(lab, host, ns, address, port):
    """Connect from a container to an echo service; returns the source address the service saw."""
    code = (f"import socket; s = socket.create_connection(({address!r}, {port}), timeout=3); "
            "print(s.recv(100).decode().strip())")
    return ns_exec(lab, host, ns, "python3", "-c", code, check=True).stdout.strip()


def snapshot(lab, host):
    """Everything a network change could touch on a lab host: links, addresses, routes, namespaces, rules."""
    def run(*argv):
        return lab.exec(host, *argv, check=False).stdout
    names = sorted(run("ip", "netns", "list").split())
    state = {"host": [run("ip", "-d", "-j", "link"), run("ip", "-j", "addr"), run("ip", "route", "show", "table", "all"),
                      run("nft", "list", "ruleset"), run("iptables-save"), run("sysctl", "net.ipv4.ip_forward")],
             "namespaces": names}
    for name in names:
        state[name] = [run("ip", "-n", name, "-j", "addr"), run("ip", "-n", name, "route", "show", "table", "all")]
    # link dumps carry counters that change with traffic; keep the fields that are state
    for key in ("host",):
        links = json.loads(state[key][0] or "[]")
        state[key][0] = [(l["ifname"], l.get("master"), l.get("mtu"), l.get("operstate"), l.get("address")) for l in links]
        addrs = json.loads(state[key][1] or "[]")
        state[key][1] = [(a["ifname"], [i["local"] for i in a.get("addr_info", [])]) for a in addrs]
    return state


def echo_server(lab, host, ns, address, port):
    """Start a one-connection echo service in a container; returns its Popen (it exits after one connection)."""
    pid = lab.state()["hosts"][host]["pid"]
    family = "socket.AF_INET6" if ":" in address else "socket.AF_INET"
    code = (f"import socket; s = socket.socket({family}); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
            f"s.bind(({address!r}, {port})); s.listen(1); s.settimeout(10); c, p = s.accept(); c.sendall(p[0].encode())")
    proc = subprocess.Popen(["nsenter", "-t", str(pid), "--net", "--mount", "--", "ip", "netns", "exec", ns,
                             "python3", "-c", code])
    for _attempt in range(100):
        if ns_exec(lab, host, ns, "ss", "-Htln", f"sport = :{port}").stdout.strip():
            break
        time.sleep(0.05)
    return proc
