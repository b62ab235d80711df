# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Network policy: per container, ingress and egress rules (Kubernetes' NetworkPolicy, on plain namespaces).

A container with ingress rules accepts only what they allow, and one with egress rules sends only what they allow;
replies to allowed connections, and the container's own loopback and IPv6 neighbour discovery, always pass. The
rules are enforced in the container's own namespace (table inet linuxns_net_policy: an input chain for ingress, an
output chain for egress), because only there does a packet between two containers of one bridge meet conntrack on
every host (bridged frames pass the host's IP hooks only where br_netfilter is on, and this kernel has no bridge
conntrack). Each chain holds a fixed handful of rules, whatever the number of peers: the allowed (peer, protocol,
ports) triples are one anonymous set per family.

Parsing (plain values, at the edge) is here; names are resolved to addresses by the caller (_network.py), which
knows the network's layout and the host's other networks. Planning reads each container's table once, compares it
rule by rule with what the spec makes (printed in one scratch namespace for all containers), and replaces a table
as a whole, in one nft transaction per container.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
from dataclasses import dataclass
from typing import Optional, Tuple

from ansible_collections.linuxns.net.plugins.module_utils._errors import Conflict, InvalidInput, KernelError, where
from ansible_collections.linuxns.net.plugins.module_utils._firewall_backends import POLICY_TABLE, RuleTag, without_counters
from ansible_collections.linuxns.net.plugins.module_utils._nsfiles import scratch_namespace
from ansible_collections.linuxns.net.plugins.module_utils._ports import PortRange, port_range
from ansible_collections.linuxns.net.plugins.module_utils._nft import run_nft
from ansible_collections.linuxns.net.plugins.module_utils._nftsets import (
    EVERY_PORT, EVERY_PROTOCOL, PROTOCOL_NAMES, PROTOCOL_NUMBERS, disjoint, element_text, interval_text,
    network_interval, number_interval, read_element)
from ansible_collections.linuxns.net.plugins.module_utils._programs import run_program

RULE_KEYS = {"ingress": ("from", "ports"), "egress": ("to", "ports")}
PEER_KINDS = ("container", "network", "cidr")
ANY_PROTOCOL, ANY_PORT = "0-255", "0-65535"


@dataclass(frozen=True)
class PolicyPort:
    protocol: str
    ports: Optional[PortRange]  # None: every port of the protocol

    def __str__(self):
        return f"{self.ports}/{self.protocol}" if self.ports else self.protocol


@dataclass(frozen=True)
class PolicyRule:
    peers: Tuple[Tuple[str, object], ...]  # (kind, name or ipaddress network); empty: every peer
    ports: Tuple[PolicyPort, ...]  # empty: every protocol and port (ICMP too)


def parse_policy(value, direction, obj):
    """A container's ingress or egress: None (no restriction) or a tuple of PolicyRules ([] allows nothing)."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise InvalidInput(f"{obj}: {direction} must be a list of rules (dicts with '{RULE_KEYS[direction][0]}' and "
                           f"'ports'), not {value!r}")
    peer_key = RULE_KEYS[direction][0]
    rules = []
    for position, rule in enumerate(value, 1):
        what = f"{obj}: {direction} rule #{position}"
        if not isinstance(rule, dict):
            raise InvalidInput(f"{what} must be a dict with '{peer_key}' and 'ports', not {rule!r}")
        unknown = sorted(set(rule) - set(RULE_KEYS[direction]))
        if unknown:
            raise InvalidInput(f"{what} has unknown keys {unknown} (known: {', '.join(RULE_KEYS[direction])})")
        peers = rule.get(peer_key)
        if peers is not None and not isinstance(peers, list):
            peers = [peers]
        ports = rule.get("ports")
        if ports is not None and not isinstance(ports, list):
            ports = [ports]
        rules.append(PolicyRule(tuple(_peer(p, what) for p in peers or []),
                                tuple(_policy_port(p, what) for p in ports or [])))
    return tuple(rules)


def _peer(value, what):
    """'10.1.0.0/16' or '10.1.0.5' (a range), 'web1' (a container), or a dict {container|network|cidr: value}."""
    if isinstance(value, dict):
        if len(value) != 1 or next(iter(value)) not in PEER_KINDS:
            raise InvalidInput(f"{what}: peer {value!r} must name one of {', '.join(PEER_KINDS)}, as {{container: web1}}")
        kind, name = next(iter(value.items()))
        if kind == "cidr":
            return ("cidr", _cidr(name, what))
        if not isinstance(name, str) or not name:
            raise InvalidInput(f"{what}: peer {value!r}: the {kind}'s name must be a non-empty string")
        return (kind, name)
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{what}: peer {value!r} must be a container name, an address range, or a dict")
    try:
        return ("cidr", _cidr(value, what))
    except InvalidInput:
        if any(c in value for c in "/:") or value.replace(".", "").isdigit():
            raise
    return ("container", value)


def _cidr(value, what):
    try:
        return ipaddress.ip_network(str(value), strict=True)
    except ValueError:
        raise InvalidInput(f"{what}: {value!r} is not an address range in CIDR form with no host bits set "
                           "(write 10.1.0.0/16 or 10.1.0.5/32)") from None


def _policy_port(value, what):
    """'80/tcp', '53/udp', '8000-8080/tcp', '443' (tcp, as Kubernetes), 'udp' (every UDP port)."""
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if text is None:
        raise InvalidInput(f"{what}: port {value!r} must be a string such as '80/tcp' or '8000-8080/udp'")
    number, _sep, protocol = text.partition("/")
    if number in PROTOCOL_NUMBERS and not protocol:
        return PolicyPort(number, None)
    protocol = (protocol or "tcp").lower()
    if protocol not in PROTOCOL_NUMBERS:
        raise InvalidInput(f"{what}: port '{value}': protocol '{protocol}' must be one of {', '.join(PROTOCOL_NUMBERS)}")
    return PolicyPort(protocol, port_range(number, "port", f"{what}: port '{value}'"))


def peer_names(policy):
    """The (kind, name) pairs a policy names, to resolve."""
    return {p for rules in policy for rule in rules or () for p in rule.peers if p[0] != "cidr"}


@dataclass
class ContainerPolicy:
    """One container's policy, resolved: per direction None, or a tuple of (network, protocol, ports) triples. The
    network that gives it owns the table: a container's policy is given in one of its networks."""
    network: str
    container: str
    ingress: Optional[tuple] = None
    egress: Optional[tuple] = None

    @property
    def empty(self):
        return self.ingress is None and self.egress is None

    @property
    def key(self):
        return f"policy:{self.network}"

    @property
    def tag(self):
        return RuleTag.of(self.key, [self.container] + [None if d is None else [list(map(str, t)) for t in d]
                                                        for d in (self.ingress, self.egress)])

    def view(self):
        def side(triples):
            return None if triples is None else [f"{net} {proto} {ports}" for net, proto, ports in triples]
        return {"ingress": side(self.ingress), "egress": side(self.egress)}

    def script(self, table=POLICY_TABLE):
        """The table as an nft script (its chains, rules and sets), every rule tagged."""
        comment = f'comment "{self.tag}"'
        lines = [f"add table inet {table}"]
        sides = (("input", "input", self.ingress, "saddr", "iif"), ("output", "output", self.egress, "daddr", "oif"))
        for chain, hook, triples, addr, lo in sides:
            if triples is None:
                continue
            lines.append(f"add chain inet {table} {chain} {{ type filter hook {hook} priority filter; policy accept; }}")
            rule = f"add rule inet {table} {chain}"
            lines += [f"{rule} ct state established,related accept {comment}",
                      f'{rule} {lo} "lo" accept {comment}',
                      f"{rule} icmpv6 type {{ nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, "
                      f"nd-router-advert }} accept {comment}"]
            for family, fam in ((4, "ip"), (6, "ip6")):
                elements = [element_text(box, (family, None, None)) for box in boxes_of(triples, family)]
                if elements:
                    lines.append(f"{rule} {fam} {addr} . meta l4proto . th dport {{ {', '.join(elements)} }} accept {comment}")
            lines.append(f"{rule} counter drop {comment}")  # the counter: what the policy refused
        return lines


def compile_rules(rules, resolve):
    """A direction's rules as (network, protocol interval, port interval) triples; resolve maps (kind, name) to
    networks. Every peer of a rule with no peers is every address of both families."""
    if rules is None:
        return None
    triples = set()
    for rule in rules:
        nets = [n for peer in rule.peers for n in ([peer[1]] if peer[0] == "cidr" else resolve(peer))]
        if not rule.peers:
            nets = [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
        ports = [(str(PROTOCOL_NUMBERS[p.protocol]), str(p.ports) if p.ports else ANY_PORT) for p in rule.ports]
        for net in nets:
            for proto, port in ports or [(ANY_PROTOCOL, ANY_PORT)]:
                triples.add((net, proto, port if "-" in port else f"{port}-{port}"))
    return tuple(sorted(triples, key=lambda t: (t[0].version, int(t[0].network_address), t[0].prefixlen, t[1], t[2])))


def _read_table(ns):
    """Our policy table in a namespace (already inside it), as _rule_texts makes it, or None."""
    result = run_nft(f"list table inet {POLICY_TABLE}", where(ns), json_output=True, ok_codes=(0, 1))
    if result.returncode != 0:
        if "No such file or directory" in result.stderr:
            return None
        raise KernelError(f"nft list table {POLICY_TABLE} in {where(ns)} failed: {result.stderr.strip()}")
    return _rule_texts(json.loads(result.stdout).get("nftables", []))


def _rule_texts(items):
    """A table as read (nft -j): its chains, and its rules with each anonymous set's elements taken out (as canonical
    (network, protocol interval, port interval) tuples per chain and family) and the comments apart, so that tables
    that differ only in their sets and tags compare equal in shape."""
    chains = sorted((i["chain"]["name"], i["chain"].get("hook"), i["chain"].get("policy")) for i in items if "chain" in i)
    rules, elements, comments = [], {}, []
    for item in items:
        rule = item.get("rule")
        if not rule:
            continue
        expr = without_counters(rule["expr"])
        for e in expr:
            match = e.get("match") or {}
            right = match.get("right")
            # our allowed (peer, protocol, port) sets: anonymous sets matched by a concatenation
            if isinstance(right, dict) and isinstance(right.get("set"), list) and "concat" in (match.get("left") or {}):
                left = json.dumps(e["match"]["left"], sort_keys=True)
                elements[(rule["chain"], left)] = sorted(read_element(x) for x in right["set"])
                e["match"]["right"] = {"set": "elements"}
        rules.append(json.dumps([rule["chain"], expr], sort_keys=True))
        comments.append(rule.get("comment"))
    owners = sorted({tag.source for c in comments for tag in [RuleTag.parse(c)] if tag})
    return {"chains": chains, "rules": rules, "elements": elements, "comments": comments, "owners": owners}


DIRECTIONS = (("ingress", "input"), ("egress", "output"))


def policy_in_force(ns):
    """The network policy in force in a namespace (already inside it), as read back from our table: None (no table),
    or per direction None (no restriction) or the allowed {peer, protocol, ports} (peer: a range of one family;
    protocol and ports: a name or number, a range, or "any")."""
    table = _read_table(ns)
    if table is None:
        return None
    chains = {name for name, _hook, _policy in table["chains"]}
    view = {}
    for direction, chain in DIRECTIONS:
        if chain not in chains:
            view[direction] = None
            continue
        view[direction] = [
            {"peer": element_text((box[0],), (6 if '"ip6"' in left else 4,)),
             "protocol": interval_text(box[1], EVERY_PROTOCOL, PROTOCOL_NAMES), "ports": interval_text(box[2], EVERY_PORT)}
            for (name, left), boxes in sorted(table["elements"].items()) if name == chain for box in boxes]
    return view


def boxes_of(triples, family):
    """The (address, protocol, port) triples of one family as disjoint boxes of integer intervals (_nftsets)."""
    return disjoint((network_interval(net), number_interval(proto), number_interval(ports))
                    for net, proto, ports in triples if net.version == family)


def _wanted_elements(policy):
    """What _rule_texts' elements of this policy's table are: chain and set -> canonical tuples."""
    out = {}
    for chain, triples, addr in (("input", policy.ingress, "saddr"), ("output", policy.egress, "daddr")):
        for family, fam in ((4, "ip"), (6, "ip6")):
            mine = boxes_of(triples or (), family)
            if mine:
                left = json.dumps({"concat": [{"payload": {"protocol": fam, "field": addr}}, {"meta": {"key": "l4proto"}},
                                              {"payload": {"protocol": "th", "field": "dport"}}]}, sort_keys=True)
                out[(chain, left)] = mine
    return out


def _shape(policy):
    """Policies of one shape make the same rules but for their sets and tags: one is printed for all of them."""
    return tuple(None if triples is None else tuple(sorted({net.version for net, _p, _d in triples}))
                 for triples in (policy.ingress, policy.egress))


def _printed(policies):
    """The shape (chains, rules less sets and comments) of each policy's table once made: one table per shape, made in
    one scratch namespace, never in the target."""
    shapes = {}
    for p in policies:
        shapes.setdefault(_shape(p), p)
    if not shapes:
        return {}
    with scratch_namespace():
        examples = list(shapes.values())
        script = [line for i, p in enumerate(examples) for line in p.script(f"p{i}")]
        run_nft("\n".join(script), "a scratch namespace")
        items = json.loads(run_nft("list ruleset", "a scratch namespace", json_output=True).stdout).get("nftables", [])
    printed = {}
    for i, (shape, _p) in enumerate(shapes.items()):
        texts = _rule_texts([it for it in items if it.get("chain", it.get("rule", {})).get("table") == f"p{i}"])
        printed[shape] = (texts["chains"], texts["rules"])
    return {p.container: printed[_shape(p)] for p in policies}


def _exact(have, printed, policy):
    """The table as read is the policy's: same shape, every rule tagged with the policy's tag, the same elements."""
    return ((have["chains"], have["rules"]) == printed and all(c == str(policy.tag) for c in have["comments"])
            and have["elements"] == _wanted_elements(policy))


def plan_policies(plan, session, policies):
    """Make each container's policy table exact: policies is a list of ContainerPolicy (an empty one removes the
    table). Each table is read once and compared by shape (one scratch table per shape) and by its sets; what differs
    is made, replaced or removed as a whole, one nft transaction per container. Reads and changes run side by side
    (nft's latency, mostly the kernel's commit, is paid once per batch, not once per container)."""
    if policies and not shutil.which("nft"):
        with_policy = next((p for p in policies if not p.empty), policies[0])
        raise InvalidInput(f"network '{with_policy.network}': container '{with_policy.container}' has a network policy, "
                           "which the collection enforces with nftables in the container's namespace, and nft is not "
                           "installed on this host (install the nftables package; the host's own firewall may stay "
                           "iptables)")
    existing = [p.container for p in policies if session.exists(p.container)]  # the others: made by this plan
    current = dict.fromkeys(p.container for p in policies)
    current.update(session.in_each(existing, _read_table))
    wanted = []
    for p in policies:
        owners = (current[p.container] or {}).get("owners", [])
        if any(owner != p.key for owner in owners):
            if p.empty:
                current[p.container] = None  # another network's: not this one's to remove
                continue
            others = ", ".join(f"'{o[len('policy:'):]}'" if o.startswith("policy:") else repr(o) for o in owners if o != p.key)
            raise Conflict(f"network '{p.network}': container '{p.container}' has a network policy given in network "
                           f"{others}; give a container's ingress and egress in one of its networks only")
        if not p.empty and current[p.container] is not None:
            wanted.append(p)
    printed = _printed(wanted)
    scripts, made, views = {}, [], []
    for p in policies:
        have = current[p.container]
        if p.empty:
            if have is not None:
                scripts[p.container] = [f"delete table inet {POLICY_TABLE}"]
                views.append((p.container, {"policy": "present"}, None))
            continue
        if have is not None and _exact(have, printed[p.container], p):
            continue
        scripts[p.container] = [f"add table inet {POLICY_TABLE}", f"delete table inet {POLICY_TABLE}"] + p.script()
        if have is None:
            made.append(p.container)
        views.append((p.container, None if have is None else {
            "rules": "missing or altered by hand" if str(p.tag) in have["comments"] else "of another spec"}, p.view()))
    if not scripts:
        return
    mark = plan.mark
    names = sorted(scripts)
    shown = ", ".join(f"'{n}'" for n in names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    plan.add(f"make, replace or remove the network policy of {len(names)} container{'s' if len(names) > 1 else ''} "
             f"({shown})", lambda: session.in_each(names, lambda ns: _apply(ns, scripts[ns])),
             (lambda: session.in_each([n for n in made if session.exists(n)], _remove_if_present)) if made else None)
    for container, before, after in views:
        plan.record(f"{container}/policy", before, after, mark)


def _apply(ns, script):
    """One transaction, by the program: changes wait on the kernel's commit, and programs wait side by side."""
    run_program(["nft", "-f", "-"], where(ns), stdin="\n".join(script) + "\n")


def _remove_if_present(ns):
    run_program(["nft", "delete", "table", "inet", POLICY_TABLE], where(ns), ok_codes=(0, 1))
