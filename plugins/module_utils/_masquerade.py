# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The masquerade rule kind (what leaves a subnet for another interface goes out with the host's address), and the
masquerade module: one request is a masquerade rule set and the forwarding rule set that goes with it
(_forwarding.py).

A kind of the firewall engine (_firewall.RuleSet); its key is the subnet itself."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Optional

from ansible_collections.linuxns.net.plugins.module_utils import _validate as validate
from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput, where
from ansible_collections.linuxns.net.plugins.module_utils._firewall import plan_rule_sets
from ansible_collections.linuxns.net.plugins.module_utils._firewall_backends import BACKENDS, RuleTag
from ansible_collections.linuxns.net.plugins.module_utils._forwarding import ForwardRules
from ansible_collections.linuxns.net.plugins.module_utils._plan import Plan
from ansible_collections.linuxns.net.plugins.module_utils._sysctl import FORWARDING


@dataclass
class MasqueradeRule:
    """The masquerade of one source subnet, validated."""
    namespace: Optional[str]
    source: object  # an ipaddress network
    state: str = "present"
    backend: str = "auto"
    ip_forward: bool = True
    out_interface: Optional[str] = None
    exclude_out_interface: Optional[str] = None
    exclude_destinations: list = field(default_factory=list)  # of ipaddress networks, sorted
    isolation_group: Optional[int] = None  # a connection DNATed into this group keeps its source
    forwarding: Optional[ForwardRules] = None  # the forwarding rules the same request asks for

    @property
    def key(self):
        return str(self.source)

    @property
    def family(self):
        return self.source.version

    @property
    def tag(self):
        return RuleTag.of(self.key, [self.out_interface, self.exclude_out_interface,
                                     [str(n) for n in self.exclude_destinations], self.isolation_group])

    def describe(self):
        return f"masquerade of {self.source}"

    def view(self):
        view = {"source": str(self.source)}
        for key in ("out_interface", "exclude_out_interface"):
            if getattr(self, key):
                view[key] = getattr(self, key)
        if self.exclude_destinations:
            view["exclude_destinations"] = [str(n) for n in self.exclude_destinations]
        if self.isolation_group is not None:
            view["isolation_group"] = self.isolation_group
        return view

    def sysctls(self):
        return [FORWARDING[self.family]] if self.ip_forward else []

    def check(self, context):
        """Nothing to check against the firewall's state."""

    def nft_rules(self, tag, table):
        fam = "ip" if self.family == 4 else "ip6"
        src, comment = f"{fam} saddr {self.source}", f'comment "{tag}"'
        out = [f"add rule inet {table} postrouting {src} {fam} daddr {n} return {comment}" for n in self.exclude_destinations]
        if self.isolation_group is not None:
            # a connection DNATed to another network of the host keeps its source (a published port's client)
            out.append(f"add rule inet {table} postrouting {src} ct status dnat oifgroup {self.isolation_group} return {comment}")
        match = ""
        if self.out_interface:
            match += f' oifname "{self.out_interface}"'
        if self.exclude_out_interface:
            match += f' oifname != "{self.exclude_out_interface}"'
        out.append(f"add rule inet {table} postrouting {src}{match} masquerade {comment}")
        return out

    def iptables_rules(self, tag, chains):
        src, comment = f"-s {self.source}", f'-m comment --comment "{tag}"'
        out = [("nat", f"-A {chains['nat']} {src} -d {n} {comment} -j RETURN") for n in self.exclude_destinations]
        if self.isolation_group is not None:
            out.append(("nat", f"-A {chains['nat']} {src} -m conntrack --ctstate DNAT -m devgroup --dst-group "
                               f"{self.isolation_group} {comment} -j RETURN"))
        match = ""
        if self.out_interface:
            match += f" -o {self.out_interface}"
        if self.exclude_out_interface:
            match += f" ! -o {self.exclude_out_interface}"
        out.append(("nat", f"-A {chains['nat']} {src}{match} {comment} -j MASQUERADE"))
        return out


def normalize_rule(r):
    """A masquerade module item (a dict of its options), validated: its masquerade rule set, with the forwarding
    rule set of the same request in .forwarding. A set that would hold no rule is absent (its old rules go)."""
    ns = validate.namespace_name(r.get("namespace"))
    if not r.get("source"):
        raise InvalidInput(f"masquerade rule in {where(ns)}: 'source' (the CIDR to masquerade) is required")
    source = validate.network(r["source"], "masquerade source", ns)
    obj = f"masquerade of {source}"
    state = r.get("state") or "present"
    backend = r.get("backend") or "auto"
    if backend not in BACKENDS:
        raise InvalidInput(f"{obj} in {where(ns)}: backend '{backend}' must be one of {', '.join(BACKENDS)}")
    out_interface, exclude_out_interface = (
        validate.interface_name(r[key], f"{obj} {key}", ns) if r.get(key) else None
        for key in ("out_interface", "exclude_out_interface"))
    if out_interface and out_interface == exclude_out_interface:
        raise InvalidInput(f"{obj} in {where(ns)}: out_interface and exclude_out_interface are both '{out_interface}'")
    excluded = []
    for value in r.get("exclude_destinations") or []:
        net = validate.network(value, f"{obj} exclude_destinations", ns)
        if net.version != source.version:
            raise InvalidInput(f"{obj} in {where(ns)}: exclude_destinations {net} is IPv{net.version}, the source is IPv{source.version}")
        excluded.append(net)
    group = r.get("isolation_group")
    if group is not None:
        if not exclude_out_interface:
            raise InvalidInput(f"{obj} in {where(ns)}: isolation_group needs exclude_out_interface (the network's own bridge)")
        if not 0 < group < 2 ** 32:
            raise InvalidInput(f"{obj} in {where(ns)}: isolation_group {group} must be from 1 to 4294967295")
    internal = bool(r.get("internal"))
    if internal and not exclude_out_interface:
        raise InvalidInput(f"{obj} in {where(ns)}: an internal network needs exclude_out_interface (its own bridge)")
    ip_forward = True if r.get("ip_forward") is None else r["ip_forward"]
    return masquerade_rule_sets(
        ns, source, state=state, backend=backend, ip_forward=ip_forward, out_interface=out_interface,
        bridge=exclude_out_interface, exclude_destinations=excluded, isolation_group=group,
        masquerade=r.get("masquerade", True) is not False, internal=internal,
        forward_accept=True if r.get("forward_accept") is None else r["forward_accept"])


def masquerade_rule_sets(namespace, source, *, state="present", backend="auto", ip_forward=True, out_interface=None,
                         bridge=None, exclude_destinations=(), isolation_group=None, masquerade=True, internal=False,
                         forward_accept=True, access=None):
    """The masquerade rule set of a subnet, with its forwarding rule set in .forwarding, from validated values. An
    internal network is neither masqueraded nor accepted. access: the forwarding set's direct-access and ICC
    settings (ForwardRules' protect, trusted, open_group, open_ports, icc)."""
    forwarding = ForwardRules(namespace, source, bridge=bridge, forward_accept=forward_accept and not internal,
                              isolation_group=isolation_group, internal=internal, ip_forward=ip_forward,
                              state=state, backend=backend, **(access or {}))
    if forwarding.empty:
        forwarding.state = "absent"
    rule = MasqueradeRule(namespace, source, state=state if masquerade and not internal else "absent", backend=backend,
                          ip_forward=ip_forward, out_interface=out_interface, exclude_out_interface=bridge,
                          exclude_destinations=sorted(set(exclude_destinations),
                                                      key=lambda n: (int(n.network_address), n.prefixlen)),
                          isolation_group=isolation_group, forwarding=forwarding)
    return rule


def masquerade_sources(tags):
    """The subnets that our masquerade rules cover, from their tags: a masquerade set's key is its subnet."""
    sources = set()
    for tag in tags:
        try:
            sources.add(ipaddress.ip_network(tag.source))
        except ValueError:
            continue  # another kind's key ("forward:...", "ports:...")
    return [str(n) for n in sorted(sources, key=lambda n: (n.version, int(n.network_address), n.prefixlen))]


def run_masquerade(session, raw_rules, check_mode):
    rules = [normalize_rule(r) for r in raw_rules]
    validate.unique(rules, lambda r: f"source {r.source} in {where(r.namespace)}", "masquerade rule for")
    plan = Plan()
    backends = plan_rule_sets(plan, session, [s for rule in rules for s in (rule, rule.forwarding)], check_mode)
    result = plan.execute(check_mode)
    result["backends"] = backends
    return result
