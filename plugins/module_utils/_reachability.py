# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reachability probes from inside namespaces: ICMP echo, TCP connect, UDP exchange, all at once; and listeners
that answer them (what a probe from another host needs to tell a container's port from its host's).

Each source's sockets are opened inside its namespace (the thread enters it with setns and comes back; a socket
keeps the namespace it was opened in), then every probe of every source, and every listener, runs in one event
loop. Nothing is changed, and no program is started per probe.
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
# denied: anything but reachable (refused, unreachable or a timeout): what a published port that does not let the
# source in gives, when its container serves it (the host answers refused, or a policy drops it)
EXPECTATIONS = ("reachable", "unreachable", "allowed", "denied")
# results: reachable (answered), refused (the host answered that nothing listens: the path works, the service
# does not), unreachable (an ICMP error or a local "no route"), timeout (no answer at all, as a drop gives)
NOT_REACHED = ("unreachable", "timeout")
ICMP_ECHO = {4: (8, 0), 6: (128, 129)}  # request, reply
ICMP_UNREACH = {4: 3, 6: 1}
PAYLOAD = b"linuxns.net reachability probe\n"
MAX_PROBES = 65535  # an ICMP echo's sequence number tells the probes of a run apart
MAX_SERVE_SECONDS = 600


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
        if self.expect == "denied":
            return self.result != "reachable"
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
        raise InvalidInput(f"{where_} to {address} from {where(source)}: expect '{expect}' must be one of {', '.join(EXPECTATIONS)}")
    return Probe(source, address, proto, port, expect)


@dataclass
class Listener:
    """A TCP or UDP port served in a namespace (both families): it answers every connection or datagram with
    PAYLOAD and notes the client's address."""
    namespace: str
    proto: str
    port: int
    state: str = None  # served, or in use (something of the namespace's own listens there: it answers instead)
    clients: list = None
    sock: object = None

    def row(self):
        return {"namespace": self.namespace, "proto": self.proto, "port": self.port, "state": self.state,
                "clients": sorted(set(self.clients or []))}


def normalize_listeners(params):
    listeners = []
    for position, item in enumerate(params.get("serve") or [], 1):
        item = item if isinstance(item, dict) else {}
        namespace = validate.namespace_name(item.get("namespace")) if item.get("namespace") is not None else None
        proto, port = item.get("proto") or "tcp", item.get("port")
        who = f"listener {position} in {where(namespace)}"
        if proto not in ("tcp", "udp"):
            raise InvalidInput(f"{who}: proto '{proto}' must be tcp or udp")
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise InvalidInput(f"{who}: {proto} needs a port from 1 to 65535, not {port!r}")
        listeners.append(Listener(namespace, proto, port))
    validate.unique(listeners, lambda item: f"{item.proto}/{item.port} in {where(item.namespace)}", "listener")
    seconds = params.get("serve_seconds")
    if seconds is not None and not 0 < float(seconds) <= MAX_SERVE_SECONDS:
        raise InvalidInput(f"reachability: serve_seconds {seconds!r} must be more than 0 and at most {MAX_SERVE_SECONDS}")
    return listeners, None if seconds is None else float(seconds)


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
    if not probes and not params.get("serve"):
        raise InvalidInput("reachability: no probes (give sources and targets, or probes) and nothing to serve")
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

    def __init__(self, session, probes, timeout, listeners=(), serve_seconds=None):
        self.session, self.probes, self.timeout = session, probes, timeout
        self.listeners, self.serve_seconds = list(listeners), serve_seconds
        self.selector = selectors.DefaultSelector()
        self.icmp = {}  # (source, family) -> raw socket
        self.echo = {}  # (source, family, seq) -> probe
        self.ident = os.getpid() & 0xFFFF
        self.pending = 0

    def open(self):
        """Open every listener's and every probe's socket inside its namespace, entering each namespace once."""
        by_source = {}
        for listener in self.listeners:
            by_source.setdefault(listener.namespace, []).append((None, listener))
        for seq, probe in enumerate(self.probes):
            by_source.setdefault(probe.source, []).append((seq, probe))
        for source, items in by_source.items():
            with self.session.inside(source):
                for seq, item in items:
                    try:
                        self._listen(item) if seq is None else self._open(seq, item)
                    except OSError as exc:
                        self._close()
                        raise kernel_error(f"open a {item.proto} socket in {where(source)}", exc) from None

    def _listen(self, listener):
        """One socket for both families where the namespace has IPv6, else an IPv4 one."""
        kind = socket.SOCK_STREAM if listener.proto == "tcp" else socket.SOCK_DGRAM
        try:
            sock = socket.socket(socket.AF_INET6, kind)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            address = ("::", listener.port)
        except OSError:
            sock, address = socket.socket(socket.AF_INET, kind), ("0.0.0.0", listener.port)
        # the connections a previous run answered wait out TIME_WAIT on this port; a listener still refuses the bind
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            sock.close()
            if exc.errno != errno.EADDRINUSE:
                raise
            listener.state = "in use"
            return
        if listener.proto == "tcp":
            sock.listen(128)
        sock.setblocking(False)
        listener.sock, listener.state, listener.clients = sock, "served", []
        self.selector.register(sock, selectors.EVENT_READ, ("listen", listener))

    def _answer(self, listener):
        try:
            if listener.proto == "tcp":
                conn, peer = listener.sock.accept()
                with conn:
                    conn.setblocking(True)
                    conn.settimeout(1)
                    conn.sendall(PAYLOAD)
            else:
                _data, peer = listener.sock.recvfrom(2048)
                listener.sock.sendto(PAYLOAD, peer)
        except OSError:
            return  # a client that went away: nothing to answer
        ip = peer[0][len("::ffff:"):] if peer[0].startswith("::ffff:") else peer[0]
        listener.clients.append(ip)

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
        """Until every probe has its answer or the timeout, and then, with serve_seconds, until the listeners' time
        is over (without, the listeners serve while the probes run)."""
        deadline = self.started + self.timeout
        serving = None if self.serve_seconds is None else self.started + self.serve_seconds
        while True:
            now = time.monotonic()
            if self.pending > 0 and now >= deadline:
                for probe in self.probes:
                    if probe.result is None:
                        self._finish(probe, "timeout")
                        probe.ms = round(self.timeout * 1000, 1)
            wake = [t for t in (deadline if self.pending > 0 else None, serving) if t is not None and t > now]
            if not wake:
                break
            for key, _mask in self.selector.select(min(wake) - now):
                kind, what = key.data
                if kind == "icmp":
                    self._icmp(what)
                elif kind == "listen":
                    self._answer(what)
                else:
                    self._socket(what)
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
        for sock in list(self.icmp.values()) + [item.sock for item in self.listeners if item.sock is not None]:
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
    """Serve and probe, and fail (with the whole matrix) exactly when a probe's expectation is not met."""
    listeners, serve_seconds = normalize_listeners(params)
    probes, timeout = normalize_probes(params)
    if listeners and not probes and serve_seconds is None:
        serve_seconds = 10.0
    for source in {p.source for p in probes} | {item.namespace for item in listeners}:
        session.fd(source)  # a missing namespace fails here, before anything is sent
    run = _Run(session, probes, timeout, listeners, serve_seconds)
    run.open()
    run.start()
    run.loop()
    wrong = [p for p in probes if not p.ok]
    counts = {r: sum(p.result == r for p in probes) for r in ("reachable", "refused", "unreachable", "timeout")}
    summary = (f"{len(probes)} probes: " + ", ".join(f"{n} {r}" for r, n in counts.items() if n)
               + (f"; {len(wrong)} not as expected: " + "; ".join(
                   f"{where(p.source)} -> {p.target}: {p.result} (expected {p.expect})" for p in wrong[:20])
                  + (" ..." if len(wrong) > 20 else "") if wrong else "; all as expected"))
    if listeners:
        served = [f"{item.proto}/{item.port} in {where(item.namespace)} "
                  + (f"({len(set(item.clients))} clients)" if item.state == "served" else "(in use)") for item in listeners]
        summary += "; served " + ", ".join(served)
    result = {"changed": False, "matrix": [p.row() for p in probes], "summary": summary, "counts": counts,
              "failed_probes": len(wrong), "served": [item.row() for item in listeners]}
    if wrong:
        result.update(failed=True, msg=summary)
    return result
