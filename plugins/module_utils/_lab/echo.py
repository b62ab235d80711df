# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The echo service of the lab and the tests: it answers each TCP connection and UDP datagram with the address of
the client it saw (an IPv4 client as itself), so that a test learns whether it was masqueraded. One socket per
protocol and port, on both families.

It runs as a program inside namespaces (`python3 -c SERVER PORT...` prints "ready" once it listens; `python3 -c
CLIENT PROTO ADDRESS PORT` prints what the server saw, or "error: ..."), so these functions are shipped as their
own source text: they use nothing but the standard library."""

from __future__ import annotations

import inspect
import selectors
import socket
import sys


def serve(ports, unmap=True):
    """Answer on every port given, TCP and UDP, until killed; unmap=False answers an IPv4 client in the IPv6 form
    the socket saw (::ffff:198.51.100.1)."""
    sel = selectors.DefaultSelector()
    for port in map(int, ports):
        for kind, proto in ((socket.SOCK_STREAM, "tcp"), (socket.SOCK_DGRAM, "udp")):
            s = socket.socket(socket.AF_INET6, kind)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            s.bind(("::", port))
            if proto == "tcp":
                s.listen(128)
            sel.register(s, selectors.EVENT_READ, proto)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        for key, _events in sel.select():
            if key.data == "tcp":
                conn, peer = key.fileobj.accept()
                with conn:
                    conn.sendall(f"{peer[0].removeprefix('::ffff:') if unmap else peer[0]}\n".encode())
            else:
                _data, peer = key.fileobj.recvfrom(512)
                key.fileobj.sendto(f"{peer[0].removeprefix('::ffff:') if unmap else peer[0]}\n".encode(), peer)


def ask(proto, address, port, timeout=1.5):
    """What the echo service at address:port saw of this client, or "error: ..."."""
    try:
        if proto == "tcp":
            s = socket.create_connection((address, int(port)), timeout=timeout)
        else:
            s = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(timeout)
            s.sendto(b"?", (address, int(port)))
        with s:
            return s.recv(100).decode().strip()
    except OSError as exc:
        return f"error: {exc}"


def _program(call):
    return "\n".join(["import selectors, socket, sys", inspect.getsource(serve), inspect.getsource(ask), call]) + "\n"


# python3 -c SERVER PORT... ; python3 -c CLIENT PROTO ADDRESS PORT
SERVER = _program("serve(sys.argv[1:])")
SERVER_AS_SEEN = _program("serve(sys.argv[1:], unmap=False)")
CLIENT = _program("print(ask(*sys.argv[1:4]))")
