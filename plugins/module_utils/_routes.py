# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Routes: matched exactly by (family, destination, table, metric); routes owned by the kernel or another program
are never rewritten unless the request says replace_foreign."""

from __future__ import annotations

import functools
import ipaddress
import socket
from dataclasses import dataclass
from typing import NamedTuple

from ansible_collections.linuxns.net.plugins.module_utils._errors import Conflict, InvalidInput, kernel_error, where
from ansible_collections.linuxns.net.plugins.module_utils._kernel import (
    RTA_DST, RTA_GATEWAY, RTA_OIF, RTA_PREFSRC, RTA_PRIORITY, RTA_TABLE, RTNH_F_ONLINK, RTN_UNICAST, RTPROT_STATIC)
from ansible_collections.linuxns.net.plugins.module_utils._links import link_index
from ansible_collections.linuxns.net.plugins.module_utils._netlink import ip, u32
from ansible_collections.linuxns.net.plugins.module_utils._plan import Plan
from ansible_collections.linuxns.net.plugins.module_utils._session import netlink_call
from ansible_collections.linuxns.net.plugins.module_utils._snapshot import Snapshots, missing_reference
from ansible_collections.linuxns.net.plugins.module_utils import _validate as validate

TABLES = {"default": 253, "main": 254, "local": 255}
SCOPES = {"universe": 0, "global": 0, "site": 200, "link": 253, "host": 254}
ROUTE_PROTOCOLS = {2: "kernel", 3: "boot", 4: "static", 16: "dhcp", 9: "ra"}
ADMIN_PROTOCOLS = (3, 4)  # `ip route add` (boot) and ours (static): an administrator's routes, safe to correct
DEFAULT_METRIC = {4: 0, 6: 1024}  # what the kernel stores when no metric is given
DEFAULT_ROUTE = {4: ipaddress.ip_network("0.0.0.0/0"), 6: ipaddress.ip_network("::/0")}


class RouteKey(NamedTuple):
    """How the kernel tells routes apart."""
    namespace: str
    family: int
    dest: str
    table: int
    metric: int


@dataclass
class RouteSpec:
    """One route as requested, validated."""
    namespace: str
    dest: object  # an ipaddress network
    family: int
    gateway: object = None  # an ipaddress address
    src: object = None
    dev: str = None
    table: int = 254
    scope: int = None
    onlink: bool = False
    state: str = "present"
    replace_foreign: bool = False
    metric: int = 0
    gateway_on_planned_link: bool = False  # the gateway's subnet is planned on a link in the same run

    @property
    def key(self):
        return RouteKey(self.namespace, self.family, str(self.dest), self.table, self.metric)


@dataclass
class KernelRoute:
    """A unicast route as the kernel reports it."""
    dest: str
    gateway: str
    dev: object  # the link's name, or its index if the link is unknown
    src: str
    scope: int
    onlink: bool
    table: int
    metric: int
    proto: int


def _table(value, obj, namespace):
    if value is None:
        return 254
    if isinstance(value, str) and value in TABLES:
        return TABLES[value]
    try:
        table = int(value)
    except (TypeError, ValueError):
        table = -1
    if not 1 <= table < 2 ** 32:
        raise InvalidInput(f"{obj} in {where(namespace)}: table {value!r} must be main, local, default or 1..4294967295")
    return table


def _scope(value, obj, namespace):
    if value is None:
        return None
    if value in SCOPES:
        return SCOPES[value]
    raise InvalidInput(f"{obj} in {where(namespace)}: scope {value!r} must be one of {', '.join(SCOPES)}")


def normalize_route(r):
    ns = validate.namespace_name(r.get("namespace"))
    dest_text = str(r.get("dest") or "")
    obj = f"route {dest_text or '(no dest)'}"
    if not dest_text:
        raise InvalidInput(f"route in {where(ns)}: 'dest' is required (default or a CIDR)")
    gateway = validate.ip_address(r["gateway"], f"{obj} gateway", ns) if r.get("gateway") else None
    src = validate.ip_address(r["src"], f"{obj} src", ns) if r.get("src") else None
    if dest_text == "default":
        family = gateway.version if gateway else (src.version if src else 4)
        dest = ipaddress.ip_network("0.0.0.0/0" if family == 4 else "::/0")
    else:
        dest = validate.network(dest_text, obj, ns)
    family = dest.version
    for what, addr in (("gateway", gateway), ("src", src)):
        if addr is not None and addr.version != family:
            raise InvalidInput(f"{obj} in {where(ns)}: {what} {addr} is IPv{addr.version}, the destination is IPv{family}")
    metric = r.get("metric")
    if metric is not None and (not isinstance(metric, int) or isinstance(metric, bool) or not 0 <= metric < 2 ** 32):
        raise InvalidInput(f"{obj} in {where(ns)}: metric {metric!r} must be an integer from 0 to 4294967295")
    spec = RouteSpec(namespace=ns, dest=dest, family=family, gateway=gateway, src=src,
                     dev=validate.interface_name(r["dev"], f"{obj} dev", ns) if r.get("dev") else None,
                     table=_table(r.get("table"), obj, ns), scope=_scope(r.get("scope"), obj, ns),
                     onlink=bool(r.get("onlink")), state=r.get("state") or "present",
                     replace_foreign=bool(r.get("replace_foreign")),
                     metric=DEFAULT_METRIC[family] if metric is None else metric)
    if spec.state == "present" and gateway is None and spec.dev is None:
        raise InvalidInput(f"{obj} in {where(ns)}: give a gateway, a dev, or both")
    if spec.onlink and spec.dev is None:
        raise InvalidInput(f"{obj} in {where(ns)}: onlink needs dev")
    return spec


def describe_key(r):
    text = f"route {r.dest}"
    if r.table != 254:
        text += f" table {r.table}"
    if r.metric != DEFAULT_METRIC[r.family]:
        text += f" metric {r.metric}"
    return text


class RouteTable:
    """The unicast routes of a namespace (every table), one dump per family and run. Asking the kernel for one
    family keeps IPv6's many kernel routes out of an IPv4 plan (decoding them is most of a dump's cost)."""

    def __init__(self, session, namespace, snapshot, families=(4, 6)):
        self.by_key = {}
        if snapshot.missing:
            return
        messages = []
        for family in families:
            try:
                messages += session.route_socket(namespace).routes(socket.AF_INET if family == 4 else socket.AF_INET6)
            except OSError as exc:
                raise kernel_error(f"read the IPv{family} routes of {where(namespace)}", exc) from None
        for msg in messages:
            msg_family, dst_len, _src_len, _tos, msg_table, proto, scope, kind, flags = msg.header
            if kind != RTN_UNICAST or msg_family not in (socket.AF_INET, socket.AF_INET6):
                continue
            family = 4 if msg_family == socket.AF_INET else 6
            attrs = msg.attrs
            dst = ip(attrs.get(RTA_DST), msg_family) or ("0.0.0.0" if family == 4 else "::")
            dest = ipaddress.ip_network(f"{dst}/{dst_len}", strict=False)
            table = u32(attrs.get(RTA_TABLE)) or msg_table
            metric = u32(attrs.get(RTA_PRIORITY)) or 0
            oif = u32(attrs.get(RTA_OIF))
            dev = snapshot.by_index.get(oif)
            self.by_key[RouteKey(namespace, family, str(dest), table, metric)] = KernelRoute(
                dest=str(dest), gateway=ip(attrs.get(RTA_GATEWAY), msg_family), dev=dev.name if dev else oif,
                src=ip(attrs.get(RTA_PREFSRC), msg_family), scope=scope, onlink=bool(flags & RTNH_F_ONLINK),
                table=table, metric=metric, proto=proto)


def route_view(r):
    """Diff view of a RouteSpec or a KernelRoute."""
    view = {"dest": str(r.dest), "table": r.table, "metric": r.metric}
    for k in ("gateway", "dev", "src"):
        if getattr(r, k) is not None:
            view[k] = str(getattr(r, k))
    if r.scope is not None:
        view["scope"] = r.scope
    if r.onlink:
        view["onlink"] = True
    return view


def _differs(want, have):
    if want.gateway is not None and str(want.gateway) != (have.gateway or ""):
        return True
    if want.gateway is None and have.gateway is not None:
        return True
    if want.dev is not None and want.dev != have.dev:
        return True
    if want.src is not None and str(want.src) != (have.src or ""):
        return True
    if want.scope is not None and want.scope != have.scope:
        return True
    return want.onlink and not have.onlink


def _check_gateway(plan, session, snapshot, r, obj):
    """The gateway must be on a connected network of the namespace (on dev, if dev is given), unless onlink."""
    if r.gateway is None or r.onlink or snapshot.missing:
        return
    ns = r.namespace
    kwargs = {"dst": str(r.gateway)}
    if r.dev is not None:
        if r.dev not in snapshot.by_name:
            return  # check mode, dev still to be created
        kwargs["oif"] = snapshot.by_name[r.dev].index
    try:
        found = session.pyroute2(ns).route("get", **kwargs)
    except OSError:
        found = []
    if not found or found[0].get_attr("RTA_GATEWAY") is not None:
        on = f" on dev '{r.dev}'" if r.dev else ""
        missing_reference(plan, snapshot, f"{obj} in {where(ns)}: gateway {r.gateway} is not reachable{on}: no connected "
                          "network covers it (add an address in its subnet first, or set onlink with dev)")


def plan_route(plan, session, snaps, tables, r):
    ns = r.namespace
    snapshot = snaps[ns]
    table_key = (ns, r.family)
    if table_key not in tables:
        tables[table_key] = RouteTable(session, ns, snapshot, (r.family,))
    have = tables[table_key].by_key.get(r.key)
    obj = describe_key(r)
    key = f"{ns or ''}/{obj}"
    sock = functools.partial(session.route_socket, ns)
    mark = plan.mark
    foreign = have is not None and have.proto not in ADMIN_PROTOCOLS and not r.replace_foreign
    owner = ROUTE_PROTOCOLS.get(have.proto, f"protocol {have.proto}") if have else None

    if r.state == "absent":
        if have is not None:
            if foreign:
                raise Conflict(f"{obj} in {where(ns)} belongs to {owner}; not removing it (set replace_foreign: true)")
            # name the route's own protocol and scope: the kernel matches on them
            plan.add(f"delete {obj} in {where(ns)}",
                     lambda: netlink_call(obj, ns, sock().route, "del", r.dest, r.table, r.metric, have.proto, have.scope))
            plan.record(key, route_view(have), None, mark)
            del tables[table_key].by_key[r.key]  # later planning in this run sees it gone
        return

    if r.dev is not None and r.dev not in snapshot.by_name and r.dev not in snapshot.planned:
        missing_reference(plan, snapshot, f"{obj} in {where(ns)}: dev '{r.dev}' does not exist")
    if have is not None and not _differs(r, have):
        return
    if foreign:
        raise Conflict(f"{obj} in {where(ns)} exists and belongs to {owner} (via {have.gateway or have.dev}); "
                       "not rewriting it (set replace_foreign: true)")
    if not r.gateway_on_planned_link:
        _check_gateway(plan, session, snapshot, r, obj)

    def change(command):
        scope = r.scope
        if scope is None:
            scope = SCOPES["universe"] if r.gateway is not None else SCOPES["link"]
        netlink_call(obj, ns, sock().route, command, r.dest, r.table, r.metric, RTPROT_STATIC, scope,
                     gateway=r.gateway, oif=link_index(session, ns, r.dev) if r.dev is not None else None,
                     prefsrc=r.src, flags=RTNH_F_ONLINK if r.onlink else 0)

    if have is None:
        plan.add(f"add {obj} in {where(ns)}", functools.partial(change, "add"),
                 lambda: sock().route("del", r.dest, r.table, r.metric, RTPROT_STATIC))
    else:
        plan.add(f"replace {obj} in {where(ns)}", functools.partial(change, "replace"))
    plan.record(key, route_view(have) if have else None, route_view(r), mark)
    # later planning in this run sees the route as planned
    tables[table_key].by_key[r.key] = KernelRoute(
        dest=str(r.dest), gateway=r.gateway and str(r.gateway), dev=r.dev, src=r.src and str(r.src), scope=r.scope,
        onlink=r.onlink, table=r.table, metric=r.metric, proto=RTPROT_STATIC)


def run_routes(session, raw_routes, check_mode):
    routes = [normalize_route(r) for r in raw_routes]
    validate.unique(routes, lambda r: f"{describe_key(r)} in {where(r.namespace)}", "route")
    plan, snaps, tables = Plan(), Snapshots(session, check_mode), {}
    for r in routes:
        plan_route(plan, session, snaps, tables, r)
    return plan.execute(check_mode)
