# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reachability probes from inside namespaces: ICMP echo, TCP connect, UDP exchange, all at once.

Each source's sockets are opened inside its namespace (the thread enters it with setns and comes back; a socket
keeps the namespace it was opened in), then every probe of every source runs in one event loop. Nothing is
changed, and no program is started per probe.
"""

from __future__ import annotations

import errno
import os
import selectors
import socket
import struct
import time
from dataclasses import dataclass

from ansible_collections.linuxns.net.plugins.module_utils import _validate as validate
from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput, kernel_error, where

PROBE_PROTOCOLS = ("icmp", "tcp", "udp")
# allowed: the target's host answered (reachable or refused), so every firewall on the way let the probe through,
# whether a service listens or not: what a network policy's port is proven with
EXPECTATIONS = ("reachable", "unreachable", "allowed")
# results: reachable (answered), refused (the host answered that nothing listens: the path works, the service
# does not), unreachable (an ICMP error or a local "no route"), timeout (no answer at all, as a drop gives)
NOT_REACHED = ("unreachable", "timeout")
ICMP_ECHO = {4: (8, 0), 6: (128, 129)}  # request, reply
ICMP_UNREACH = {4: 3, 6: 1}
PAYLOAD = b"linuxns.net reachability probe\n"
MAX_PROBES = 65535  # an ICMP echo's sequence number tells the probes of a run apart


@dataclass
class Probe:
    source: str  # a namespace, or None for the module's own
    address: object  # an ipaddress address
    proto: str = "icmp"
    port: int = None
    expect: str = None  # None: report only
    result: str = None
    ms: float = None
    sock: object = None  # tcp and udp: the probe's own socket
    sent: float = None
    in_flight: bool = False

    @property
    def target(self):
        return f"{self.address}" + (f" {self.proto}/{self.port}" if self.port else " icmp")

    @property
    def ok(self):
        if self.expect == "reachable":
            return self.result == "reachable"
        if self.expect == "unreachable":
            return self.result in NOT_REACHED
        if self.expect == "allowed":
            return self.result in ("reachable", "refused")
        return True

    def row(self):
        return {"source": self.source, "address": str(self.address), "proto": self.proto, "port": self.port,
                "result": self.result, "ms": self.ms, "expect": self.expect, "ok": self.ok}


def _probe(item, position, defaults):
    where_ = f"probe {position}"
    source = item.get("source", defaults.get("source"))
    if source is not None:
        source = validate.namespace_name(source)
    if not item.get("address"):
        raise InvalidInput(f"{where_} from {where(source)}: 'address' is required")
    address = validate.ip_address(item["address"], f"{where_} address", source)
    proto = item.get("proto") or defaults.get("proto") or "icmp"
    if proto not in PROBE_PROTOCOLS:
        raise InvalidInput(f"{where_} to {address} from {where(source)}: proto '{proto}' must be one of {', '.join(PROBE_PROTOCOLS)}")
    port = item.get("port")
    if proto == "icmp" and port is not None:
        raise InvalidInput(f"{where_} to {address} from {where(source)}: icmp takes no port")
    if proto != "icmp":
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise InvalidInput(f"{where_} to {address} from {where(source)}: {proto} needs a port from 1 to 65535, "
                               f"not {port!r}")
    expect = item.get("expect") or defaults.get("expect")
    if expect is not None and expect not in EXPECTATIONS:
        raise InvalidInput(f"{where_} to {address} from {where(source)}: expect '{expect}' must be reachable or unreachable")
    return Probe(source, address, proto, port, expect)


def normalize_probes(params):
    """Every source to every target, then the explicit probes; all validated before anything is sent."""
    defaults = {"expect": params.get("expect")}
    probes = []
    for source in params.get("sources") or []:
        for target in params.get("targets") or []:
            target = {"address": target} if isinstance(target, str) else dict(target)
            probes.append(_probe(dict(target, source=source), len(probes) + 1, defaults))
    for item in params.get("probes") or []:
        probes.append(_probe(item, len(probes) + 1, defaults))
    if not probes:
        raise InvalidInput("reachability: no probes (give sources and targets, or probes)")
    if len(probes) > MAX_PROBES:
        raise InvalidInput(f"reachability: {len(probes)} probes in one run; at most {MAX_PROBES} (split the run)")
    timeout = 1.0 if params.get("timeout") is None else params["timeout"]
    if not 0 < float(timeout) <= 60:
        raise InvalidInput(f"reachability: timeout {timeout!r} must be more than 0 and at most 60 seconds")
    return probes, float(timeout)


def _checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _echo_request(family, ident, seq):
    kind = ICMP_ECHO[family][0]
    header = struct.pack("!BBHHH", kind, 0, 0, ident, seq) + PAYLOAD
    if family == 6:
        return header  # the kernel fills in ICMPv6 checksums
    return header[:2] + struct.pack("!H", _checksum(header)) + header[4:]


class _Run:
    """All probes of a run, in flight at once."""

    def __init__(self, session, probes, timeout):
        self.session, self.probes, self.timeout = session, probes, timeout
        self.selector = selectors.DefaultSelector()
        self.icmp = {}  # (source, family) -> raw socket
        self.echo = {}  # (source, family, seq) -> probe
        self.ident = os.getpid() & 0xFFFF
        self.pending = 0

    def open(self):
        """Open every probe's socket inside its source's namespace, entering each namespace once."""
        by_source = {}
        for seq, probe in enumerate(self.probes):
            by_source.setdefault(probe.source, []).append((seq, probe))
        for source, probes in by_source.items():
            with self.session.inside(source):
                for seq, probe in probes:
                    try:
                        self._open(seq, probe)
                    except OSError as exc:
                        self._close()
                        raise kernel_error(f"open a {probe.proto} socket in {where(source)}", exc) from None

    def _open(self, seq, probe):
        family = probe.address.version
        af = socket.AF_INET if family == 4 else socket.AF_INET6
        if probe.proto == "icmp":
            key = (probe.source, family)
            if key not in self.icmp:
                raw = socket.socket(af, socket.SOCK_RAW, socket.IPPROTO_ICMP if family == 4 else socket.IPPROTO_ICMPV6)
                raw.setblocking(False)
                self.icmp[key] = raw
                self.selector.register(raw, selectors.EVENT_READ, ("icmp", key))
            self.echo[(probe.source, family, seq)] = probe
            return
        kind = socket.SOCK_STREAM if probe.proto == "tcp" else socket.SOCK_DGRAM
        sock = socket.socket(af, kind)
        sock.setblocking(False)
        probe.sock = sock

    def start(self):
        self.started = time.monotonic()
        for (source, family, seq), probe in self.echo.items():
            probe.sent = time.monotonic()
            try:
                self.icmp[(source, family)].sendto(_echo_request(family, self.ident, seq), (str(probe.address), 0))
                probe.in_flight = True
                self.pending += 1
            except OSError as exc:
                self._finish(probe, _error_result(exc))
        for probe in self.probes:
            if probe.proto == "icmp":
                continue
            probe.sent = time.monotonic()
            code = probe.sock.connect_ex((str(probe.address), probe.port))
            if probe.proto == "udp" and code == 0:
                try:
                    probe.sock.send(PAYLOAD)
                except OSError as exc:
                    code = exc.errno
            if code not in (0, errno.EINPROGRESS):
                self._finish(probe, _error_result(OSError(code, os.strerror(code))))
                continue
            events = selectors.EVENT_WRITE if probe.proto == "tcp" else selectors.EVENT_READ
            self.selector.register(probe.sock, events, ("sock", probe))
            probe.in_flight = True
            self.pending += 1

    def loop(self):
        deadline = self.started + self.timeout
        while self.pending > 0:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for key, _mask in self.selector.select(left):
                kind, what = key.data
                if kind == "icmp":
                    self._icmp(what)
                else:
                    self._socket(what)
        for probe in self.probes:
            if probe.result is None:
                probe.result, probe.ms = "timeout", round(self.timeout * 1000, 1)
        self._close()

    def _socket(self, probe):
        if probe.proto == "tcp":
            code = probe.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            self._finish(probe, "reachable" if code == 0 else _error_result(OSError(code, os.strerror(code))))
            return
        try:
            probe.sock.recv(512)
            self._finish(probe, "reachable")
        except OSError as exc:
            self._finish(probe, _error_result(exc))

    def _icmp(self, key):
        source, family = key
        sock = self.icmp[key]
        while True:
            try:
                packet = sock.recv(2048)
            except (BlockingIOError, InterruptedError):
                return
            if family == 4:
                packet = packet[(packet[0] & 0x0F) * 4:]  # IPv4 raw sockets see the IP header
            if len(packet) < 8:
                continue
            kind, _code, _sum, ident, seq = struct.unpack("!BBHHH", packet[:8])
            if kind == ICMP_ECHO[family][1] and ident == self.ident:
                probe = self.echo.get((source, family, seq))
                if probe is not None and probe.result is None:
                    self._finish(probe, "reachable")
            elif kind == ICMP_UNREACH[family]:
                inner = packet[8:]
                if family == 4:
                    inner = inner[(inner[0] & 0x0F) * 4:] if inner else inner
                else:
                    inner = inner[40:]
                if len(inner) >= 8:
                    _k, _c, _s, ident, seq = struct.unpack("!BBHHH", inner[:8])
                    probe = self.echo.get((source, family, seq))
                    if ident == self.ident and probe is not None and probe.result is None:
                        self._finish(probe, "unreachable")

    def _finish(self, probe, result):
        if probe.result is not None:
            return
        probe.result = result
        probe.ms = round((time.monotonic() - probe.sent) * 1000, 1)
        if probe.in_flight:
            probe.in_flight = False
            self.pending -= 1
            if probe.sock is not None:
                self.selector.unregister(probe.sock)
        if probe.sock is not None:
            probe.sock.close()

    def _close(self):
        for sock in self.icmp.values():
            sock.close()
        for probe in self.probes:
            if probe.sock is not None and probe.sock.fileno() >= 0:
                probe.sock.close()
        self.selector.close()


def _error_result(exc):
    if exc.errno == errno.ECONNREFUSED:
        return "refused"
    if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EADDRNOTAVAIL, errno.EACCES, errno.EPERM):
        return "unreachable"
    if exc.errno == errno.ETIMEDOUT:
        return "timeout"
    return "unreachable"


def run_reachability(session, params, check_mode=False):
    """Probe, and fail (with the whole matrix) exactly when a probe's expectation is not met."""
    probes, timeout = normalize_probes(params)
    for source in {p.source for p in probes}:
        session.fd(source)  # a missing namespace fails here, before anything is sent
    run = _Run(session, probes, timeout)
    run.open()
    run.start()
    run.loop()
    wrong = [p for p in probes if not p.ok]
    counts = {r: sum(p.result == r for p in probes) for r in ("reachable", "refused", "unreachable", "timeout")}
    summary = (f"{len(probes)} probes: " + ", ".join(f"{n} {r}" for r, n in counts.items() if n)
               + (f"; {len(wrong)} not as expected: " + "; ".join(
                   f"{where(p.source)} -> {p.target}: {p.result} (expected {p.expect})" for p in wrong[:20])
                  + (" ..." if len(wrong) > 20 else "") if wrong else "; all as expected"))
    result = {"changed": False, "matrix": [p.row() for p in probes], "summary": summary, "counts": counts,
              "failed_probes": len(wrong)}
    if wrong:
        result.update(failed=True, msg=summary)
    return result
