# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The networks' counters as a Prometheus text-format file, for node_exporter's textfile collector (which cannot see
into other network namespaces itself: prometheus/node_exporter#295): rendered from netns_info's stats (render()),
written whole or not at all, and, when asked, rewritten by a systemd timer of the host's (metrics.pyz, the same core
zipped as persist's rebuild program)."""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
import time

from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput, LinuxnsError
from ansible_collections.linuxns.net.plugins.module_utils._hosts import replacer
from ansible_collections.linuxns.net.plugins.module_utils._info import gather_stats
from ansible_collections.linuxns.net.plugins.module_utils._persist import (
    OWNED, STATE_DIR, UNIT_DIR, plan_file, plan_link, program_bytes, read)
from ansible_collections.linuxns.net.plugins.module_utils._plan import Plan
from ansible_collections.linuxns.net.plugins.module_utils._programs import run_program

PREFIX = "linuxns_net_"
PROGRAM = "metrics.pyz"
SERVICE = "linuxns-net-metrics.service"
TIMER = "linuxns-net-metrics.timer"
# (metric suffix, stats key, help): node_exporter's node_network_* names, for interfaces of our networks
LINK_METRICS = (("receive_bytes_total", "rx_bytes", "Bytes received"),
                ("receive_packets_total", "rx_packets", "Packets received"),
                ("receive_errs_total", "rx_errors", "Receive errors"),
                ("receive_drop_total", "rx_dropped", "Packets dropped on receive"),
                ("transmit_bytes_total", "tx_bytes", "Bytes sent"),
                ("transmit_packets_total", "tx_packets", "Packets sent"),
                ("transmit_errs_total", "tx_errors", "Transmit errors"),
                ("transmit_drop_total", "tx_dropped", "Packets dropped on transmit"))
_UNITS = {"s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600}


def _escape(value):
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels):
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items() if v not in (None, "")) + "}"


class _Family:
    """One metric family: its HELP and TYPE, then its samples."""

    def __init__(self, name, kind, text):
        self.name, self.kind, self.text, self.samples = PREFIX + name, kind, text, []

    def add(self, labels, value):
        self.samples.append(f"{self.name}{_labels(labels)} {value}")

    def lines(self):
        if not self.samples:
            return []
        return [f"# HELP {self.name} {self.text}", f"# TYPE {self.name} {self.kind}"] + self.samples


def _networks(host_view):
    """The host's bridges of networks: bridge name -> network, and its subnets -> network."""
    by_bridge, by_subnet = {}, {}
    for link in host_view.get("links") or []:
        network = link.get("network")
        if link.get("kind") == "bridge" and network:
            by_bridge[link["name"]] = network
            for address in link.get("addresses") or []:
                by_subnet[str(ipaddress.ip_interface(address).network)] = network
    return by_bridge, by_subnet


def _drop_network(rule_set, by_subnet):
    kind, _sep, rest = rule_set.partition(":")
    if kind == "forward":
        return by_subnet.get(rest, rest)
    if kind in ("ports", "ports6"):
        owner_kind, _sep, owner = rest.partition(":")
        return owner if owner_kind == "network" else rest
    return rest  # policy:<network>


def render(info, host):
    """The text-format file of a host's netns_info result (read with stats=true): per interface of a network (its
    bridge, VXLAN devices, both ends of each container's veth) the link counters; per namespace conntrack; per
    kind of drop what it refused. host: the host label's value."""
    host_view = info.get("host") or {}
    by_bridge, by_subnet = _networks(host_view)
    link_families = [_Family(f"interface_{suffix}", "counter", f"{text} by an interface of a linuxns.net network, as "
                             "the kernel counts them") for suffix, _key, text in LINK_METRICS]
    up = _Family("interface_up", "gauge", "Whether the interface is up (administratively)")
    entries = _Family("conntrack_entries", "gauge", "Connections in the namespace's conntrack table")
    limit = _Family("conntrack_limit", "gauge", "The size limit of the namespace's conntrack table (nf_conntrack_max)")
    failed = _Family("conntrack_insert_failed_total", "counter", "Connections the conntrack table failed to insert")
    dropped = _Family("dropped_packets_total", "counter", "Packets refused by a kind of the collection's drop rules "
                      "(isolation, icc, direct-access, internal, allow-list, policy)")
    dropped_bytes = _Family("dropped_bytes_total", "counter", "Bytes refused by a kind of the collection's drop rules")
    containers = {}  # (namespace, interface) -> network, from the host ends

    def link_samples(links, labels_of):
        for link in links:
            stats = link.get("stats")
            labels = labels_of(link)
            if stats is None or labels is None:
                continue
            labels = dict(host=host, **labels)
            for family, (_suffix, key, _text) in zip(link_families, LINK_METRICS):
                family.add(labels, stats[key])
            up.add(labels, 1 if link.get("state") == "up" else 0)

    def host_labels(link):
        peer = link.get("peer") or {}
        if link.get("kind") == "bridge" and link["name"] in by_bridge:
            return {"network": by_bridge[link["name"]], "interface": link["name"], "side": "host"}
        if link.get("kind") == "vxlan":
            return {"interface": link["name"], "side": "host"}
        if link.get("kind") == "veth" and peer.get("namespace"):
            network = by_bridge.get(link.get("master"))
            containers[(peer["namespace"], peer.get("name"))] = network
            return {"network": network, "container": peer["namespace"], "interface": link["name"], "side": "host"}
        return None

    link_samples(host_view.get("links") or [], host_labels)
    for name, view in sorted((info.get("namespaces") or {}).items()):
        link_samples(view.get("links") or [], lambda link, name=name: None if link.get("kind") == "loopback" else {
            "network": containers.get((name, link["name"])), "container": name, "interface": link["name"],
            "side": "container"})
    for name, view in [(None, host_view)] + sorted((info.get("namespaces") or {}).items()):
        track = view.get("conntrack")
        if track is not None:
            labels = {"host": host, "container": name}
            entries.add(labels, track["entries"])
            limit.add(labels, track["limit"])
            failed.add(labels, track["insert_failed"])
        for drop in view.get("drops") or []:
            labels = {"host": host, "kind": drop["kind"], "network": _drop_network(drop["rule_set"], by_subnet),
                      "family": f"ipv{drop['family']}" if drop.get("family") else None, "container": name,
                      "direction": drop.get("direction")}
            dropped.add(labels, drop["packets"])
            dropped_bytes.add(labels, drop["bytes"])
    lines = []
    for family in link_families + [up, entries, limit, failed, dropped, dropped_bytes]:
        lines += family.lines()
    return "\n".join(lines) + "\n"


def check_path(path):
    if not isinstance(path, str) or not path.startswith("/") or not path.endswith(".prom"):
        raise InvalidInput(f"metrics textfile '{path}': give an absolute path ending in .prom (node_exporter's "
                           "textfile collector reads only *.prom files)")
    if os.path.isdir(path):
        raise InvalidInput(f"metrics textfile '{path}' is a directory")
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise InvalidInput(f"metrics textfile '{path}': its directory {directory} does not exist (node_exporter's "
                           "--collector.textfile.directory; create it first)")


def interval_seconds(text):
    """A timer interval as systemd writes it ("30s", "1min", "2h", "90"), in seconds; 10 s at least."""
    value = str(text).strip()
    number = value.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = value[len(number):] or "s"
    try:
        seconds = float(number) * _UNITS[unit]
    except (ValueError, KeyError):
        raise InvalidInput(f"metrics schedule '{text}': give an interval such as 30s, 1min or 2h") from None
    if seconds < 10:
        raise InvalidInput(f"metrics schedule '{text}': at least 10s (node_exporter scrapes every 15 to 60 s)")
    return int(seconds)


def render_service(python, path, host):
    return "\n".join([
        OWNED + " (metrics_textfile schedule): writes the networks' counters for node_exporter.",
        "[Unit]",
        "Description=linuxns.net networks' counters for node_exporter's textfile collector",
        "",
        "[Service]",
        "Type=oneshot",
        f"ExecStart={python} {STATE_DIR}/{PROGRAM} {path} {host}",
        "Nice=10",
        ""])


def render_timer(seconds):
    return "\n".join([
        OWNED + " (metrics_textfile schedule): runs linuxns-net-metrics.service.",
        "[Unit]",
        "Description=linuxns.net networks' counters, every %ds" % seconds,
        "",
        "[Timer]",
        "OnBootSec=%ds" % seconds,
        "OnUnitActiveSec=%ds" % seconds,
        "AccuracySec=1s",
        "",
        "[Install]",
        "WantedBy=timers.target",
        ""])


def _series(text):
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def _unlinker(path):
    def remove():
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    return remove


def plan_metrics(plan, path, text, schedule=None, python=None, host=None, state="present", unit_dir=UNIT_DIR,
                 state_dir=STATE_DIR):
    """Write the textfile (text; None with state absent), and install (schedule: an interval), keep (None) or remove
    (False) the timer that rewrites it."""
    obj = f"metrics textfile '{path}'"
    current = read(path, obj)
    mark = plan.mark
    if state == "absent":
        if current is not None:
            plan.add(f"remove {path} ({obj})", _unlinker(path))
    elif current != text.encode():
        plan.add(f"write {path} ({obj}, {text.count(chr(10))} lines)", replacer(path, text.encode()),
                 None if current is not None else _unlinker(path))
    plan.record("textfile", None if current is None else {"series": _series(current.decode(errors="replace"))},
                None if text is None else {"series": _series(text)}, mark)
    units = [os.path.join(unit_dir, "timers.target.wants", TIMER), os.path.join(unit_dir, TIMER),
             os.path.join(unit_dir, SERVICE), os.path.join(state_dir, PROGRAM)]
    if schedule is False or state == "absent":
        for unit in units:
            if os.path.lexists(unit):
                plan.add(f"remove {unit} (the timer of {obj})", _unlinker(unit))
        return
    if schedule is None:
        return
    if not os.path.isdir(unit_dir):
        raise InvalidInput(f"{obj}: schedule needs systemd, and this host has no {unit_dir}; run "
                           "playbooks/metrics.yml from cron instead")
    seconds = interval_seconds(schedule)
    mark = plan.mark
    timer = read(units[1], obj)
    before = next((int(line.split("=")[1][:-1]) for line in (timer or b"").decode(errors="replace").splitlines()
                   if line.startswith("OnUnitActiveSec=")), None)
    plan_file(plan, os.path.join(state_dir, PROGRAM), program_bytes("_metrics", "metrics_main"), obj,
              f"the program the timer of {obj} runs")
    plan_file(plan, os.path.join(unit_dir, SERVICE), render_service(python, path, host).encode(), obj,
              f"the service the timer of {obj} starts")
    plan_file(plan, os.path.join(unit_dir, TIMER), render_timer(seconds).encode(), obj, f"the timer of {obj}, every {seconds}s")
    plan_link(plan, units[0], f"../{TIMER}", f"the timer of {obj}, enabled")
    # systemd runs this host and reads these units: start the timer now
    if plan.mark > mark and os.path.isdir("/run/systemd/system") and os.path.realpath(unit_dir) == "/etc/systemd/system":
        plan.add(f"start {TIMER} (systemctl daemon-reload; systemctl restart {TIMER})", _start_timer)
    plan.record("timer", None if before is None else {"every": f"{before}s"}, {"every": f"{seconds}s"}, mark)


def _start_timer():
    for argv in (["systemctl", "daemon-reload"], ["systemctl", "restart", TIMER]):
        run_program(argv, "this host")


def write_metrics(session, path, host, namespaces=None, check_mode=False, schedule=None, python=None, state="present"):
    """Read the counters, render them and write the textfile (the module's and the timer's work)."""
    check_path(path)
    if schedule:
        interval_seconds(schedule)  # refused before the counters are read
    host = host or socket.gethostname()
    text, series, read_seconds = None, 0, None
    if state == "present":
        started = time.monotonic()
        info = gather_stats(session, namespaces)
        read_seconds = time.monotonic() - started
        text = render(info, host)
        series = _series(text)
    plan = Plan()
    plan_metrics(plan, path, text, schedule, python or sys.executable, host, state)
    result = plan.execute(check_mode)
    result["series"] = series
    result["read_seconds"] = None if read_seconds is None else round(read_seconds, 6)
    return result


def metrics_main(argv):
    """The timer's program: metrics.pyz PATH [HOST] -> exit code."""
    from ansible_collections.linuxns.net.plugins.module_utils._session import Session
    if len(argv) not in (1, 2):
        sys.stderr.write("usage: metrics.pyz PATH [HOST] (writes linuxns.net's counters as a Prometheus textfile)\n")
        return 2
    try:
        with Session(lock=False) as session:
            result = write_metrics(session, argv[0], argv[1] if len(argv) == 2 else None)
    except (LinuxnsError, OSError) as exc:
        sys.stderr.write(f"linuxns.net: metrics not written to {argv[0]}: {exc}\n")
        return 1
    sys.stdout.write(f"linuxns.net: {result['series']} series written to {argv[0]}\n")
    return 0
