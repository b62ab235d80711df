# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The firewall engine: rule sets of any kind, planned per namespace with one read and one atomic change.

Everything lives in objects the collection owns: the nftables table `inet linuxns_net`, or the iptables chains
LINUXNS-NET-NAT and LINUXNS-NET-DNAT (nat), LINUXNS-NET-FWD and LINUXNS-NET-IN (filter), each reached by one tagged
jump rule per hook. Every rule carries the comment "linuxns.net <key> <hash of its set's spec> [<note>]", which is
how a run finds its own rules; nothing else is touched. A set whose tag is found is still compared rule by rule with
what it would make (printed by the same program, from a scratch namespace), so a rule deleted or altered by hand is
restored. How rules are stored, read and written is the backends' job
(_firewall_backends.py); what the rules are is the kinds' job.

The engine knows no rule kind: a kind is any class that satisfies RuleSet. The kinds are masquerade
(_masquerade.py), forwarding (_forwarding.py: forward-accept, isolation, internal networks) and published ports
(_port_forward.py).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Protocol, Set, Tuple

from ansible_collections.linuxns.net.plugins.module_utils._errors import NamespaceMissing, where
from ansible_collections.linuxns.net.plugins.module_utils._firewall_backends import (
    ForeignRules, Nftables, OwnRules, RuleTag, detect_backend)
from ansible_collections.linuxns.net.plugins.module_utils._sysctl import (
    FORWARDING, accept_ra_key, read_sysctl_in, router_advertised_interfaces, write_sysctl_in)


class Backend(Protocol):
    """What the engine asks of a backend (nftables, iptables-nft, iptables-legacy)."""
    name: str
    repair: bool  # its hooks need mending even if no rule changes

    def read(self) -> OwnRules:
        """Our rules in the namespace (run inside it)."""

    def apply(self, current: OwnRules, remove_tags: List[RuleTag], add_sets: List["RuleSet"], keep_any: bool) -> None:
        """One atomic change: remove_tags' rules out, add_sets' rules in; keep_any False removes all of ours."""

    def read_foreign(self) -> ForeignRules:
        """The rules of others, to check against."""

    def printed(self, sets: List["RuleSet"]) -> Dict[RuleTag, Dict[str, List[str]]]:
        """The rules of sets as read() would show them once made (OwnRules.texts), made in a scratch namespace."""


@dataclass
class RuleContext:
    """What a rule set's check sees of its namespace's firewall: read once for every set of its group."""
    backend: Optional[Backend]  # None: the namespace does not exist yet (check mode)
    own: OwnRules
    leaving: Set[str]  # keys of the sets that this run removes
    shared: Dict[str, Any] = field(default_factory=dict)  # what the kinds keep between the sets of one group
    _foreign: Optional[ForeignRules] = None

    def foreign(self):
        """The rules of others, read on first need."""
        if self._foreign is None:
            self._foreign = ForeignRules({}, []) if self.backend is None else self.backend.read_foreign()
        return self._foreign


class RuleSet(Protocol):
    """A rule kind: a group of rules with one tag, replaced as a whole. Every member here is what the engine uses."""
    namespace: Optional[str]
    state: str  # present or absent
    backend: str  # one of BACKENDS

    @property
    def key(self) -> str:
        """Unique per namespace and family: the tag's source, how a run finds the set's rules."""

    @property
    def family(self) -> int:
        """4 or 6."""

    @property
    def tag(self) -> RuleTag:
        """RuleTag.of(key, everything that the rules are made of)."""

    def describe(self) -> str:
        """The set in words, for change lines ("masquerade of 10.0.0.0/24")."""

    def view(self) -> dict:
        """Diff mode's view of the set."""

    def sysctls(self) -> List[str]:
        """Sysctls the rules need set to 1 (forwarding, route_localnet)."""

    def check(self, context: RuleContext) -> None:
        """Refuse, before any change, what clashes with the firewall's state (raise a LinuxnsError)."""

    def nft_rules(self, tag: RuleTag, table: str) -> List[str]:
        """nft commands ("add rule inet <table> ..." or "insert rule ...") that make the set."""

    def iptables_rules(self, tag: RuleTag, chains: Dict[str, str]) -> List[Tuple[str, str]]:
        """(table, rule) pairs in iptables-restore form; chains: role (nat, dnat, forward, input) -> our chain."""


def plan_rule_sets(plan, session, rule_sets, check_mode, notes=None):
    """Group the rule sets by the rules they share (nftables: one table for both families; iptables: one program
    per family), read each group's own rules once, check them, and plan one atomic change each, then the sysctls
    they need. notes, if given (a dict), gets the notes of the rules read, per namespace: [(RuleTag, note)].

    Returns the backend chosen per namespace."""
    requests = {}
    for r in rule_sets:
        requests.setdefault((r.namespace, r.family, r.backend), []).append(r)
    groups, backends_used = {}, {}
    for (ns, family, requested), sets in requests.items():
        missing = not session.exists(ns)
        if missing and not check_mode:
            raise NamespaceMissing(f"{where(ns)} does not exist (create it with linuxns.net.netns)")
        backend = None
        if not missing:
            with session.inside(ns):
                backend = detect_backend(requested, ns, family)
            backends_used.setdefault(ns or "", backend.name)  # IPv4's, when a namespace has both
        key = (ns, "nftables") if isinstance(backend, Nftables) else (ns, family, requested, backend and backend.name)
        if key not in groups:
            groups[key] = (backend, [])
        groups[key][1].extend(sets)
    for (ns, *_rest), (backend, group) in groups.items():
        leaving = {r.key for r in group if r.state == "absent"}
        if backend is not None:
            with session.inside(ns):
                context = RuleContext(backend, backend.read(), leaving)
                for r in group:
                    r.check(context)
        else:
            context = RuleContext(None, OwnRules(), leaving)
            for r in group:
                r.check(context)
        if notes is not None:
            notes.setdefault(ns, []).extend(context.own.notes)
        _plan_group(plan, session, ns, backend, context.own, group)
        keys = sorted({k for r in group if r.state == "present" for k in r.sysctls()})
        _plan_sysctls(plan, session, ns, keys, backend is None)
    return backends_used


def _plan_group(plan, session, ns, backend, current, group):
    by_key = {}
    for tag in current.refs:
        by_key.setdefault(tag.source, []).append(tag)
    # a set whose tag is there may still have lost or changed a rule by hand: compare its rules, as the program
    # prints them, with the rules it makes (one scratch namespace per group, only when some tag is there)
    kept = [r for r in group if r.state == "present" and r.tag in current.refs]
    printed = backend.printed(kept) if kept and backend is not None else {}
    remove_tags, add_sets, views = [], [], []
    for r in group:
        key = f"{ns or ''}/{r.describe()}"
        tags = by_key.pop(r.key, [])
        if r.state == "absent":
            remove_tags += tags
            if tags:
                views.append((key, {"key": r.key}, None))
            continue
        remove_tags += [t for t in tags if t != r.tag]
        if r.tag not in tags:
            add_sets.append(r)
            views.append((key, {"key": r.key, "spec": "differs"} if tags else None, r.view()))
        elif current.texts.get(r.tag) != printed.get(r.tag):
            remove_tags.append(r.tag)  # drift: the set's rules are replaced as a whole
            add_sets.append(r)
            views.append((key, dict(r.view(), rules="missing or altered by hand"), dict(r.view(), rules="as the spec makes them")))
    if not (remove_tags or add_sets or (backend is not None and backend.repair)):
        return
    keep_any = bool(by_key) or any(r.state == "present" for r in group)
    described = {r.key: r.describe() for r in group}
    what = sorted({described.get(t.source, f"rules of {t.source}") for t in remove_tags} | {r.describe() for r in add_sets})
    mark = plan.mark
    plan.add(f"update firewall rules in {where(ns)} ({backend.name if backend else 'backend chosen at run time'}): "
             f"{', '.join(what) or ('its chains' if isinstance(backend, Nftables) else 'the jump rules')}",
             functools.partial(_apply_inside, session, ns, backend, current, remove_tags, add_sets, keep_any))
    for key, before, after in views:
        plan.record(key, before, after, mark)


def _apply_inside(session, ns, backend, current, remove_tags, add_sets, keep_any):
    with session.inside(ns):
        backend.apply(current, remove_tags, add_sets, keep_any)


def _plan_sysctls(plan, session, ns, keys, missing):
    """Set each of keys to 1 (forwarding, route_localnet). They are left set when the rules go: other users of the
    namespace may rely on them, as they do on Docker's. Before IPv6 forwarding, the interfaces that get their IPv6
    set-up from router advertisements are told to keep accepting them."""
    if FORWARDING[6] in keys and not missing:
        for interface in router_advertised_interfaces(session, ns):
            key = accept_ra_key(interface)
            if read_sysctl_in(session, ns, key) == "1":
                mark = plan.mark
                plan.add(f"set accept_ra=2 on '{interface}' in {where(ns)} (it learns its IPv6 routes from router "
                         "advertisements, which IPv6 forwarding would make it ignore)",
                         functools.partial(write_sysctl_in, session, ns, key, 2))
                plan.record(f"{ns or ''}/{key}", "1", "2", mark)
    for key in keys:
        current = None if missing else read_sysctl_in(session, ns, key)
        if current != "1":
            mark = plan.mark
            plan.add(f"set {key}=1 in {where(ns)}", functools.partial(write_sysctl_in, session, ns, key, 1))
            plan.record(f"{ns or ''}/{key}", current, "1", mark)
