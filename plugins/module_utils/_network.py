# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A whole Docker-style bridge network in one plan: bridge, container namespaces, veth pairs, routes and NAT.

One module call, one session, each namespace read once: the state is read, the addresses are planned against it,
and every change is queued in one plan, so check mode stays exact and a failure part-way undoes this run's objects.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ansible_collections.linuxns.net.plugins.module_utils import _validate as validate
from ansible_collections.linuxns.net.plugins.module_utils._addressing import normalize_containers, plan_bridge_network
from ansible_collections.linuxns.net.plugins.module_utils._bridge import normalize_bridge, plan_bridge
from ansible_collections.linuxns.net.plugins.module_utils._defaults import CONTAINER_END, ISOLATION_GROUP, bridge_name
from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput
from ansible_collections.linuxns.net.plugins.module_utils._nat import normalize_rule, plan_masquerade
from ansible_collections.linuxns.net.plugins.module_utils._netns import normalize_netns, plan_netns
from ansible_collections.linuxns.net.plugins.module_utils._plan import Plan
from ansible_collections.linuxns.net.plugins.module_utils._routes import normalize_route, plan_route
from ansible_collections.linuxns.net.plugins.module_utils._snapshot import Snapshots
from ansible_collections.linuxns.net.plugins.module_utils._veth import normalize_veth, plan_veth


@dataclass
class NetworkSpec:
    """One network as requested, validated."""
    name: str
    bridge: str
    subnet: object  # an ipaddress network
    gateway: str = None
    mtu: int = None
    state: str = "present"
    containers: list = field(default_factory=list)  # of _addressing.Container
    masquerade: bool = True
    masquerade_exclude: list = field(default_factory=list)
    isolation_group: int = None  # None: not isolated


def normalize_network(spec):
    name = spec.get("name")
    if not name:
        raise InvalidInput("container_network: 'name' is required")
    bridge = spec.get("bridge") or bridge_name(name)
    validate.interface_name(bridge, f"bridge of network '{name}'")
    if not spec.get("subnet"):
        raise InvalidInput(f"network '{name}': 'subnet' is required")
    isolated = spec.get("isolated", True) is not False
    group = spec.get("isolation_group")
    net = NetworkSpec(name=name, bridge=bridge, subnet=validate.network(spec["subnet"], f"network '{name}' subnet"),
                      gateway=spec.get("gateway"), mtu=validate.mtu(spec.get("mtu"), f"network '{name}'"),
                      state=spec.get("state") or "present",
                      containers=normalize_containers(spec.get("containers") or [], name),
                      masquerade=spec.get("masquerade", True) is not False,
                      masquerade_exclude=list(spec.get("masquerade_exclude") or []),
                      isolation_group=(ISOLATION_GROUP if group is None else group) if isolated else None)
    return net


def _masquerade_rule(net, state):
    return normalize_rule({"source": str(net.subnet), "exclude_out_interface": net.bridge, "state": state,
                           "exclude_destinations": net.masquerade_exclude, "isolation_group": net.isolation_group})


def run_container_network(session, spec, check_mode):
    net = normalize_network(spec)
    names = [c.name for c in net.containers]
    plan = Plan()
    if net.state == "absent":
        plan_netns(plan, session, [normalize_netns({"name": n, "state": "absent"}) for n in names])
        plan_masquerade(plan, session, [_masquerade_rule(net, "absent")], check_mode)
        plan_bridge(plan, session, Snapshots(session, check_mode), normalize_bridge({"name": net.bridge, "state": "absent"}))
        return plan.result(check_mode)

    snaps = Snapshots(session, check_mode, planned_namespaces=[n for n in names if not session.exists(n)])
    current = {}
    for n in names:
        end = snaps[n].by_name.get(CONTAINER_END)
        if end is not None:
            current[n] = end.addresses
    layout = plan_bridge_network(net.containers, net.name, net.bridge, str(net.subnet), net.gateway, current, net.mtu)

    plan_bridge(plan, session, snaps, normalize_bridge({
        "name": net.bridge, "addresses": [layout.gateway_cidr], "mtu": net.mtu, "group": net.isolation_group}))
    plan_netns(plan, session, [normalize_netns({"name": n}) for n in names], snaps)
    for pair in layout.pairs:
        plan_veth(plan, session, snaps, normalize_veth(pair))
    tables = {}
    for route in layout.routes:
        # the gateway is on the subnet that this plan gives the container's eth0, even if eth0 is (re)made now
        plan_route(plan, session, snaps, tables, dataclasses.replace(normalize_route(route), gateway_on_planned_link=True))
    rules = [_masquerade_rule(net, "present" if net.masquerade else "absent")]
    backends = plan_masquerade(plan, session, rules, check_mode)
    result = plan.result(check_mode)
    result.update(addresses=layout.addresses, gateway=layout.gateway, bridge=net.bridge, backends=backends)
    return result
