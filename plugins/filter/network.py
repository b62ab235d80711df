# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display

from ansible_collections.linuxns.net.plugins.module_utils._errors import LinuxnsError
from ansible_collections.linuxns.net.plugins.module_utils._fleet import (
    fleet_drift, fleet_outside_member, fleet_routes as _fleet_routes, fleet_layout, fleet_subnet_layout)
from ansible_collections.linuxns.net.plugins.module_utils._fleet_member import (
    bridge_subnet as _bridge_subnet, fleet_member as _fleet_member, underlay_address6 as _underlay_address6)
from ansible_collections.linuxns.net.plugins.module_utils._compose import compose_networks as _compose_networks
from ansible_collections.linuxns.net.plugins.module_utils._container_items import container_items as _container_items
from ansible_collections.linuxns.net.plugins.module_utils import _pictures, _topology


def _filter_errors(func):
    def wrapped(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except LinuxnsError as exc:
            raise AnsibleFilterError(str(exc)) from None
    wrapped.__name__ = func.__name__
    return wrapped


@_filter_errors
def compose_networks(compose, project="app", pool="10.90.0.0/16"):
    return _compose_networks(compose, project, pool)


@_filter_errors
def container_items(containers):
    return _container_items(containers)


@_filter_errors
def fleet_subnets(hosts, cluster_cidr, host_prefix, fixed=None, current=None):
    return fleet_subnet_layout(cluster_cidr, host_prefix, list(hosts), fixed, current)


@_filter_errors
def bridge_subnet(info, bridge, family=4):
    return _bridge_subnet(info, bridge, family)


@_filter_errors
def underlay_address6(info, address):
    return _underlay_address6(info, address)


@_filter_errors
def fleet_routes(subnets, addresses, me, state="present", subnets6=None, addresses6=None):
    return _fleet_routes(subnets, addresses, me, state, subnets6, addresses6)


@_filter_errors
def fleet_member(info, bridge, address, address6=None, state="present", vxlan_device=None, containers=None):
    return _fleet_member(info, bridge, address, address6, state, vxlan_device, containers)


@_filter_errors
def fleet_plan(members, options, plan_for=None):
    members, options = dict(members), dict(options)
    plans = fleet_layout(members, options, plan_for)
    if any(m.get("source") == "inventory" for m in members.values()):  # a run of part of the fleet, no shared cache
        for note in fleet_drift(members, plans, options, list(plans)):
            Display().warning(note)
    return plans


RECORD_FACT = "fleet_network_records"  # network -> the host's record, a fact (cacheable) that the role writes


@_filter_errors
def fleet_members(fleet_hosts, hostvars, run_hosts, network, read_key="_fleet_network_info"):
    """The fleet's members, in its order: this run's hosts as they read themselves (read_key: netns_info's result with
    fleet_member), the others from their variables and records (what every run sees)."""
    run_hosts = set(run_hosts)
    members = {}
    for host in fleet_hosts:
        there = hostvars[host]
        if host in run_hosts:
            members[host] = there[read_key]["fleet_member"]
            continue
        inventory = {"address": there.get("fleet_network_address") or there.get("ansible_host") or host,
                     "address6": there.get("fleet_network_address6"), "state": there.get("fleet_network_state"),
                     "containers": there.get("fleet_network_containers")}
        records = there.get(RECORD_FACT) or {}
        members[host] = fleet_outside_member(host, inventory, records.get(network) if isinstance(records, dict) else None)
    return members


@_filter_errors
def verify_probes(infos, me, outside=None, containers=None):
    return _topology.verify_probes(dict(infos), me, outside, containers)


@_filter_errors
def verify_listeners(infos, me):
    return _topology.verify_listeners(dict(infos), me)


@_filter_errors
def verify_outside_probes(infos, outside):
    return _topology.outside_probes(dict(infos), outside)


@_filter_errors
def topology_dot(infos, hosts=None, title="linuxns.net", max_containers=12, max_host_pairs=8):
    return _pictures.topology_dot(dict(infos), hosts, title, max_containers, max_host_pairs)


@_filter_errors
def topology_mermaid(infos, hosts=None):
    return _pictures.topology_mermaid(dict(infos), hosts)


@_filter_errors
def verify_matrix_svg(matrices, infos=None, family=4, title=None):
    return _pictures.verify_matrix_svg(dict(matrices), dict(infos or {}), int(family), title)


class FilterModule:
    def filters(self):
        return {"fleet_subnets": fleet_subnets, "bridge_subnet": bridge_subnet, "fleet_routes": fleet_routes,
                "underlay_address6": underlay_address6, "fleet_member": fleet_member, "fleet_plan": fleet_plan,
                "fleet_members": fleet_members,
                "container_items": container_items, "verify_probes": verify_probes, "topology_dot": topology_dot,
                "verify_listeners": verify_listeners, "verify_outside_probes": verify_outside_probes,
                "topology_mermaid": topology_mermaid, "compose_networks": compose_networks,
                "verify_matrix_svg": verify_matrix_svg}
