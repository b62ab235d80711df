# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A whole Docker-style bridge network in one plan: bridge, container namespaces, veth pairs, routes, firewall rule
sets, published ports and names.

One module call, one session, each namespace read once: the request becomes typed specs at the edge
(_network_spec.py), the state is read, the addresses are planned against it (_addressing.py), and every change is
queued in one plan by the same planners the single-object modules use, so check mode stays exact and a failure
part-way undoes this run's objects.

A container may be on several networks, one interface each (eth0 by default): a network only ever touches its own
interface of a container, and a container's namespace goes with the last network it is on. The containers listed
are the network's whole membership: one attached to the bridge but not listed leaves it. A network never touches
another network's bridge: the bridge's alias names its owner.
"""

from __future__ import annotations

import ipaddress
import sys

from ansible_collections.linuxns.net.plugins.module_utils._addressing import host_end_name, network_layout
from ansible_collections.linuxns.net.plugins.module_utils._bandwidth import plan_bandwidth
from ansible_collections.linuxns.net.plugins.module_utils._bridge import BridgeSpec, plan_bridge
from ansible_collections.linuxns.net.plugins.module_utils._defaults import BRIDGE_ALIAS_PREFIX, OPEN_GROUP
from ansible_collections.linuxns.net.plugins.module_utils._errors import Conflict, InvalidInput
from ansible_collections.linuxns.net.plugins.module_utils._firewall import plan_rule_sets
from ansible_collections.linuxns.net.plugins.module_utils._forwarding import POLICY_NOTE, OpenPort, note_words
from ansible_collections.linuxns.net.plugins.module_utils._hosts import (
    ETC_NETNS, current_block, entries, plan_host_names, plan_hosts, remote_entries, remote_lines_of)
from ansible_collections.linuxns.net.plugins.module_utils._masquerade import masquerade_rule_sets
from ansible_collections.linuxns.net.plugins.module_utils._netns import NetnsSpec, normalize_netns, plan_netns, plan_sysctls
from ansible_collections.linuxns.net.plugins.module_utils._network_spec import (
    Container, RemoteContainer, normalize_network)
from ansible_collections.linuxns.net.plugins.module_utils._nsfiles import list_namespaces
from ansible_collections.linuxns.net.plugins.module_utils._persist import plan_persist, saved_parameters
from ansible_collections.linuxns.net.plugins.module_utils._plan import Plan
from ansible_collections.linuxns.net.plugins.module_utils._policy import ContainerPolicy, compile_rules, plan_policies
from ansible_collections.linuxns.net.plugins.module_utils._port_forward import (
    Forward, PortForwardSet, check_host_addresses)
from ansible_collections.linuxns.net.plugins.module_utils._resolv import plan_resolvers
from ansible_collections.linuxns.net.plugins.module_utils._routes import (
    DEFAULT_METRIC, DEFAULT_ROUTE, RouteKey, RouteSpec, RouteTable, plan_route)
from ansible_collections.linuxns.net.plugins.module_utils._service import plan_reload
from ansible_collections.linuxns.net.plugins.module_utils._snapshot import Snapshot, Snapshots
from ansible_collections.linuxns.net.plugins.module_utils._veth import VethSpec, plan_veth
from ansible_collections.linuxns.net.plugins.module_utils._vxlan import plan_vxlan


def _published(net, layout, family):
    """(container, its ports published on this family) pairs: on every address a port is published on both
    families, as Docker does; a port whose allow-list names no source of the family is not published there."""
    if net.state != "present":
        return []
    out = []
    for c in net.containers:
        ports = [p for p in c.ports if (p.host_ip is None or p.host_ip.version == family) and p.sources(family) != []]
        if c.state == "present" and ports:
            out.append((c, ports))
    return out


def _access(net, layout, family):
    """The forwarding set's direct-access and ICC settings for one family (ForwardRules' fields)."""
    mode = net.gateway_mode_of(family)
    open_ports = ()
    if mode == "routed" and layout is not None:
        addresses = layout.family(family).addresses
        open_ports = tuple(OpenPort(addresses[c.name], p.protocol, p.target_ports,
                                    None if p.sources(family) is None else tuple(p.sources(family)))
                           for c, ports in _published(net, layout, family) for p in ports)
    return {"protect": mode != "nat-unprotected" and not net.internal, "icc": net.icc, "gateway_mode": mode,
            "trusted": tuple(n for n in net.direct_access_from if n.version == family),
            "open_group": OPEN_GROUP if net.isolation_group is None else None, "open_ports": open_ports}


def _rule_sets(net, layout=None, policy=False):
    """The network's firewall rule sets: per address family its masquerade and forwarding sets, and its published
    ports (DNAT in the nat modes; in routed mode the forwarding set opens the container ports instead)."""
    state = net.state
    sets = []
    for family, masquerade in ((4, net.masquerade), (6, net.masquerade6)):
        subnet = net.subnet_of(family)
        if subnet is None:
            continue
        rule = masquerade_rule_sets(None, subnet, state=state, bridge=net.bridge,
                                    exclude_destinations=[n for n in net.masquerade_exclude if n.version == family],
                                    isolation_group=net.isolation_group, masquerade=masquerade, internal=net.internal,
                                    access=dict(_access(net, layout, family), policy=policy))
        sets += [rule, rule.forwarding]
    for family in (4, 6):
        subnet = net.subnet_of(family)
        if subnet is None:
            continue
        forwards = []
        if net.gateway_mode_of(family) != "routed":
            addresses = layout.family(family).addresses if layout is not None else {}
            forwards = [Forward(label=f"container '{c.name}'", destination=addresses[c.name], ports=ports,
                                via_interface=net.bridge, via_subnet=subnet) for c, ports in _published(net, layout, family)]
        sets.append(PortForwardSet(namespace=None, owner=f"network:{net.name}", forwards=forwards, empty_family=family,
                                   state="present" if forwards else "absent"))
    return sets


def _policy_resolver(net, layout, host):
    """(kind, name) -> address ranges: the names in policy_peers (a fleet's), this network's containers (their
    addresses, both families) and its own name (its subnets), and the host's other networks (their bridges' subnets,
    found by the bridges' aliases)."""
    containers = {}
    for half in layout.families.values():
        for name, ip in half.addresses.items():
            containers.setdefault(name, []).append(ipaddress.ip_network(ip))
    networks = {net.name: [s for s in (net.subnet, net.subnet6) if s is not None]}
    for link in host.by_name.values():
        if link.kind == "bridge" and link.alias and link.alias.startswith(BRIDGE_ALIAS_PREFIX):
            networks.setdefault(link.alias[len(BRIDGE_ALIAS_PREFIX):], [
                ipaddress.ip_interface(a).network for a in link.addresses if not ipaddress.ip_interface(a).is_link_local])

    def resolve(peer, obj):
        kind, name = peer
        # policy_peers first: a fleet's network name stands for the whole fleet, not this host's part of it
        found = net.policy_peers.get(name)
        if found is None:
            found = (containers if kind == "container" else networks).get(name)
        if found is None:
            where_ = (f"on network '{net.name}' (nor in policy_peers)" if kind == "container"
                      else "on this host (nor in policy_peers)")
            raise InvalidInput(f"{obj}: {kind} '{name}' is not {where_}")
        return found
    return resolve


def _policies(net, layout, host):
    """The containers' policies, resolved (ContainerPolicy each; empty for a container without one)."""
    resolve = _policy_resolver(net, layout, host)
    out = []
    for c in net.containers:
        if c.state != "present":
            continue
        obj = f"network '{net.name}': container '{c.name}'"
        out.append(ContainerPolicy(net.name, c.name, *(
            compile_rules(rules, lambda peer, d=direction: resolve(peer, f"{obj}: {d}"))
            for direction, rules in (("ingress", c.ingress), ("egress", c.egress)))))
    return out


def _remote_containers(net, present, etc_netns):
    """The fleet's containers on other hosts: the ones given, and, when the given ones cover some hosts only (a play
    over part of the fleet), those of the other hosts as the network's hosts files have them now."""
    if net.fleet_host is None or net.remote_hosts is None:
        return net.remote_containers
    known = set(net.remote_hosts) | {net.fleet_host}
    kept = remote_lines_of(current_block(net.name, [c.name for c in present], etc_netns), known)
    return net.remote_containers + [
        RemoteContainer(name, host, tuple(ipaddress.ip_address(a) for a in addresses), tuple(aliases))
        for name, host, addresses, aliases in kept]


def _plan_leave(plan, session, snaps, net, leaving):
    """Containers leave the network: their interface in it goes, and their namespace too when nothing else of
    theirs is left. Other networks' interfaces are veths whose host ends are in this namespace too, so the host's
    one link dump tells, by the peers' namespace ids, without entering each container."""
    host = snaps[None]
    veths_by_nsid = {}
    for link in host.by_name.values():
        if link.kind == "veth" and link.peer_nsid != -1:
            veths_by_nsid[link.peer_nsid] = veths_by_nsid.get(link.peer_nsid, 0) + 1
    doomed = []
    for c in leaving:
        if not session.exists(c.name):
            # nothing to do, unless a killed run left its namespace's file (that goes), or a run that met a process
            # entering the namespace left the host end of its veth behind: it goes now, and its peer with it
            end = host.by_name.get(host_end_name(net.bridge, c.name))
            if end is not None and end.kind == "veth":
                plan_veth(plan, session, snaps, VethSpec(end.name, None, None, state="absent"))
            doomed.append(c.name)
            continue
        end = host.by_name.get(host_end_name(net.bridge, c.name))
        if end is not None and end.kind == "veth" and end.peer_nsid != -1:
            others = veths_by_nsid.get(end.peer_nsid, 0) - 1
        else:  # not attached here: look inside
            others = len([n for n in snaps[c.name].by_name if n not in ("lo", c.interface)])
        if others:
            plan_veth(plan, session, snaps, VethSpec(host_end_name(net.bridge, c.name), None, None, state="absent"))
        else:
            doomed.append(c.name)
    # a namespace with processes in it: refused before any change, or they are stopped first
    processes = "stop" if net.stop_processes else "refuse"
    plan_netns(plan, session, [NetnsSpec(n, state="absent", processes=processes, stop_timeout=net.stop_timeout,
                                         label=f"container '{n}' of network '{net.name}'") for n in doomed], snaps)


def bridge_alias(network):
    """The ifalias a network's bridge carries: who owns it."""
    return BRIDGE_ALIAS_PREFIX + network


def _check_bridge_owner(host, net):
    """A network never adopts another network's bridge: its owner is named in the bridge's alias. A bridge without
    one (made before 0.3, or by hand) is adopted only if it holds no address outside this network's subnets."""
    link = host.by_name.get(net.bridge)
    if link is None or link.kind != "bridge":
        return
    obj = f"network '{net.name}': bridge '{net.bridge}'"
    if link.alias:
        if link.alias == bridge_alias(net.name):
            return
        if link.alias.startswith(BRIDGE_ALIAS_PREFIX):
            owner = link.alias[len(BRIDGE_ALIAS_PREFIX):]
            raise Conflict(f"{obj} belongs to network '{owner}'; a network never takes over another network's "
                           f"bridge: give network '{net.name}' a bridge of its own")
        raise Conflict(f"{obj} is not a linuxns.net network's (its alias is {link.alias!r}): give network "
                       f"'{net.name}' a bridge of its own")
    subnets = [s for s in (net.subnet, net.subnet6) if s is not None]
    interfaces = [ipaddress.ip_interface(a) for a in link.addresses]
    foreign = [str(i) for i in interfaces if not i.is_link_local and not any(i.ip in s for s in subnets)]
    if foreign:
        raise Conflict(f"{obj} holds {', '.join(foreign)}, outside the network's subnets: it belongs to another "
                       f"network or was made by hand; give network '{net.name}' a bridge of its own")


def _check_interface(snaps, net, c):
    """The container's interface in this network must be this network's veth, or not exist yet."""
    iface = snaps[c.name].by_name.get(c.interface)
    if iface is None:
        return
    host_end = snaps[None].by_name.get(host_end_name(net.bridge, c.name))
    if (host_end is not None and iface.kind == host_end.kind == "veth" and iface.peer_index == host_end.index
            and host_end.peer_index == iface.index):
        return
    raise Conflict(f"network '{net.name}': container '{c.name}' already has an interface '{c.interface}' that is not "
                   f"this network's (another network's, or made by hand): give this network another interface, for "
                   f"example {{name: {c.name}, interface: eth1}}")


def _default_route(session, snaps, tables, family, c):
    """The container's current default route of one family, or None."""
    snap = snaps[c.name]
    if snap.missing:
        return None
    if (c.name, family) not in tables:
        tables[(c.name, family)] = RouteTable(session, c.name, snap, (family,))
    return tables[(c.name, family)].by_key.get(RouteKey(c.name, family, str(DEFAULT_ROUTE[family]), 254, DEFAULT_METRIC[family]))


def _check_overlap(host, net):
    """A subnet must not overlap an address of the host's other links (its underlay, say). The subnet's own network
    address as a host address is allowed: an overlay's VTEP holds it (flannel's convention), and no container can."""
    for subnet in (net.subnet, net.subnet6):
        if subnet is None:
            continue
        for link in host.by_name.values():
            if link.name == net.bridge:
                continue
            for addr in link.addresses:
                iface = ipaddress.ip_interface(addr)
                vtep = iface.network.prefixlen == iface.max_prefixlen and iface.ip == subnet.network_address
                if iface.version == subnet.version and not iface.is_link_local and not vtep and iface.network.overlaps(subnet):
                    raise InvalidInput(f"network '{net.name}': subnet {subnet} overlaps {iface.network}, the network of "
                                       f"{iface} on the host's link '{link.name}'")


def _plan_host_parts(plan, session, snaps, net):
    """The host's routes, then its overlay device, planned against one route table: a route this plan moves off the
    device (or removes) is not the device's to remove again."""
    tables = {}
    for route in net.routes:
        plan_route(plan, session, snaps, tables, route)
    if net.vxlan is not None:
        plan_vxlan(plan, session, snaps, net.vxlan, tables)


def _plan_default_routes(plan, session, snaps, net, layout, present):
    """The containers' default routes via this network's gateway; ours that are no longer wanted go, and a default
    route via another network's interface is a conflict."""
    tables = {}
    routed = set() if net.internal else {route.namespace for route in layout.routes}
    for c in present:
        for family, half in layout.families.items():
            have = _default_route(session, snaps, tables, family, c)
            if (c.name in routed and have is not None and isinstance(have.dev, str) and have.dev != c.interface
                    and have.dev in snaps[c.name].by_name):
                raise Conflict(f"network '{net.name}': container '{c.name}' has its IPv{family} default route via "
                               f"'{have.dev}' (another network's interface); set default_route: false for its interface "
                               f"'{c.interface}' here, or false in the other network first")
            if c.name not in routed and have is not None and have.dev == c.interface and have.gateway == str(half.gateway):
                # no longer wanted (default_route: false, or the network became internal): only ours is removed
                plan_route(plan, session, snaps, tables, RouteSpec(
                    namespace=c.name, dest=DEFAULT_ROUTE[family], family=family, gateway=half.gateway,
                    metric=DEFAULT_METRIC[family], state="absent"))
    for route in layout.routes:
        if route.namespace in routed:
            plan_route(plan, session, snaps, tables, route)


def unlisted_members(session, host, net):
    """The containers attached to the network's bridge that the request does not list: named namespaces whose
    veth (by its deterministic host end name, and its peer's namespace id) is a port of the bridge. The bridge's
    ports tell, so this costs nothing unless some port is unaccounted for."""
    bridge = host.by_name.get(net.bridge)
    if bridge is None:
        return []
    listed = {host_end_name(net.bridge, c.name) for c in net.containers}
    unknown = {link.name: link for link in host.by_name.values()
               if link.master == bridge.index and link.kind == "veth" and link.peer_nsid != -1 and link.name not in listed}
    if not unknown:
        return []
    found = []
    for name in list_namespaces():
        end = unknown.get(host_end_name(net.bridge, name))
        if end is not None and session.nsid(None, session.fd(name)) == end.peer_nsid:
            found.append(Container(name=name, state="absent"))
    return found


def _plan_persist(plan, session, snaps, net, params, layout, present):
    """Save the network for its boot unit (persist true), or remove what was saved (false, or the network goes)."""
    if not net.persist or layout is None:
        mark = plan.mark
        plan_persist(plan, net.name, None, sys.executable)
        if plan.mark > mark:
            plan_reload(plan)
        return

    def macs(read):
        """container -> (its interface's MAC, the host end's), as the kernel has them"""
        out = {}
        for c in present:
            inside = read(c.name).by_name.get(c.interface) if session.exists(c.name) else None
            host = read(None).by_name.get(host_end_name(net.bridge, c.name))
            out[c.name] = (inside.mac if inside else None, host.mac if host else None)
        return out

    now = macs(lambda ns: snaps[ns])
    pending = None
    if any(None in pair for pair in now.values()):  # links this run creates: their MACs are known once they exist
        def pending():
            fresh = {}  # one dump per namespace, read once the links exist

            def read(ns):
                if ns not in fresh:
                    fresh[ns] = Snapshot(session, ns)
                return fresh[ns]
            return saved_parameters(params, layout, macs(read))
    mark = plan.mark
    plan_persist(plan, net.name, saved_parameters(params, layout, now), sys.executable, pending=pending)
    if plan.mark > mark:
        plan_reload(plan)


def run_container_network(session, params, check_mode, etc_netns=ETC_NETNS):
    net = normalize_network(params)
    plan = Plan()
    snaps = Snapshots(session, check_mode, planned_namespaces=[c.name for c in net.containers if not session.exists(c.name)])
    _check_bridge_owner(snaps[None], net)
    # the list is the whole membership: a container of the network that it does not name leaves the network
    net.containers += unlisted_members(session, snaps[None], net)
    present = [c for c in net.containers if c.state == "present"] if net.state == "present" else []
    leaving = [c for c in net.containers if c.state == "absent" or net.state == "absent"]
    if net.state == "absent":
        _plan_host_parts(plan, session, snaps, net)
        plan_bandwidth(plan, session, snaps[None], {}, {host_end_name(net.bridge, c.name): c.name for c in leaving},
                       f"network '{net.name}'")
        _plan_leave(plan, session, snaps, net, leaving)
        plan_rule_sets(plan, session, _rule_sets(net), check_mode)
        plan_bridge(plan, session, snaps, BridgeSpec(net.bridge, None, state="absent"))
        plan_resolvers(plan, net.name, {}, [c.name for c in leaving], etc_netns)
        plan_hosts(plan, net.name, {}, [c.name for c in leaving], etc_netns)
        plan_host_names(plan, net.name, None)
        if net.persist is not None:
            _plan_persist(plan, session, snaps, net, params, None, [])
        return plan.execute(check_mode)

    current = {}
    for c in present:
        _check_interface(snaps, net, c)
        end = snaps[c.name].by_name.get(c.interface)
        if end is not None:
            current[c.name] = end.addresses
    layout = network_layout(net, current)
    _check_overlap(snaps[None], net)
    all_policies = _policies(net, layout, snaps[None])
    policies = [p for p in all_policies if not p.empty]
    rule_sets = _rule_sets(net, layout, policy=bool(policies))
    local = {ipaddress.ip_interface(a).ip for link in snaps[None].by_name.values() for a in link.addresses}
    local |= {half.gateway for half in layout.families.values()}
    for rule_set in rule_sets:
        if isinstance(rule_set, PortForwardSet):
            check_host_addresses(rule_set, local)

    plan_bridge(plan, session, snaps, BridgeSpec(net.bridge, None, mtu=net.mtu, group=net.bridge_group,
                                                 addresses=layout.gateway_interfaces, alias=bridge_alias(net.name)))
    plan_netns(plan, session, [NetnsSpec(c.name) for c in present], snaps)
    for pair in layout.pairs:
        plan_veth(plan, session, snaps, pair)
    _plan_default_routes(plan, session, snaps, net, layout, present)
    plan_bandwidth(plan, session, snaps[None], {host_end_name(net.bridge, c.name): (c.name, c.bandwidth) for c in present},
                   {host_end_name(net.bridge, c.name): c.name for c in leaving}, f"network '{net.name}'")
    # the containers' sysctls, once their interfaces exist (a key may name one: net.ipv6.conf.eth0.accept_ra)
    for c in present:
        if c.sysctls:
            mark, before, after = plan.mark, {}, {}
            plan_sysctls(plan, session, c.name, normalize_netns({"name": c.name, "sysctls": c.sysctls}).sysctls,
                         not session.exists(c.name), before, after, device=c.interface)
            plan.record(f"{c.name}#sysctls", before, after, mark)
    _plan_leave(plan, session, snaps, net, leaving)
    notes = {}
    backends = plan_rule_sets(plan, session, rule_sets, check_mode, notes=notes)
    # the containers' policies: read only when some container has one now, or had one (the forwarding rules' note)
    subnets = {f"forward:{s}" for s in (net.subnet, net.subnet6) if s is not None}
    had = any(POLICY_NOTE in note_words(note) and tag.source in subnets for tag, note in notes.get(None, []))
    if policies or had:
        plan_policies(plan, session, [p for p in all_policies if not p.empty or had])
    aliases = {c.name: c.aliases for c in present if c.aliases}
    names = [line for version in sorted(layout.families)
             for line in entries(layout.families[version].addresses, aliases, net.fleet_host)]
    names += remote_entries(_remote_containers(net, present, etc_netns), {n for c in present for n in (c.name,) + c.aliases})
    plan_host_names(plan, net.name, names if net.host_names else None)
    plan_resolvers(plan, net.name, {c.name: c.dns for c in present if c.dns},
                   [c.name for c in present if not c.dns] + [c.name for c in leaving], etc_netns)
    plan_hosts(plan, net.name, {c.name: names for c in present} if net.hosts_file else {},
               [c.name for c in leaving] + ([] if net.hosts_file else [c.name for c in present]), etc_netns)
    _plan_host_parts(plan, session, snaps, net)
    if net.persist is not None:
        _plan_persist(plan, session, snaps, net, params, layout, present)
    result = plan.execute(check_mode)
    four, six = layout.family(4), layout.family(6)
    result.update(addresses={n: str(ip) for n, ip in four.addresses.items()} if four else {},
                  gateway=str(four.gateway) if four else None,
                  addresses6={n: str(ip) for n, ip in six.addresses.items()} if six else {},
                  gateway6=str(six.gateway) if six else None, bridge=net.bridge, backends=backends,
                  published={c.name: [p.spec for p in c.ports] for c in present if c.ports})
    return result
