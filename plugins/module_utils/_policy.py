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
from ansible_collections.linuxns.net.plugins.module_utils._programs import run_program

RULE_KEYS = {"ingress": ("from", "ports"), "egress": ("to", "ports")}
PEER_KINDS = ("container", "network", "cidr")
PROTOCOL_NUMBERS = {"tcp": 6, "udp": 17, "sctp": 132}
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
                elements = sorted({f"{net} . {proto} . {ports}" for net, proto, ports in triples if net.version == family})
                if elements:
                    lines.append(f"{rule} {fam} {addr} . meta l4proto . th dport {{ {', '.join(elements)} }} accept {comment}")
            lines.append(f"{rule} drop {comment}")
        return lines


def compile_rules(container, rules, resolve):
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
    """Our policy table in a namespace (already inside it): its rules' (chain, expr, comment), or None."""
    proc = run_program(["nft", "-j", "list", "table", "inet", POLICY_TABLE], where(ns), ok_codes=(0, 1))
    if proc.returncode != 0:
        if "No such file or directory" in proc.stderr:
            return None
        raise KernelError(f"nft list table {POLICY_TABLE} in {where(ns)} failed: {proc.stderr.strip()}")
    return _rule_texts(json.loads(proc.stdout).get("nftables", []))


def _rule_texts(items):
    chains = sorted((i["chain"]["name"], i["chain"].get("hook"), i["chain"].get("policy")) for i in items if "chain" in i)
    rules = [json.dumps([i["rule"]["chain"], without_counters(i["rule"]["expr"]), i["rule"].get("comment")], sort_keys=True)
             for i in items if "rule" in i]
    owners = sorted({tag.source for i in items if "rule" in i for tag in [RuleTag.parse(i["rule"].get("comment"))] if tag})
    return {"chains": chains, "rules": rules, "owners": owners}


def _printed(policies):
    """What each policy's table reads as once made: made in one scratch namespace, one table per policy."""
    if not policies:
        return {}
    with scratch_namespace():
        script = [line for i, p in enumerate(policies) for line in p.script(f"p{i}")]
        run_program(["nft", "-f", "-"], "a scratch namespace", stdin="\n".join(script) + "\n")
        items = json.loads(run_program(["nft", "-j", "list", "ruleset"], "a scratch namespace").stdout).get("nftables", [])
    out = {}
    for i, p in enumerate(policies):
        mine = [it for it in items if it.get("chain", it.get("rule", {})).get("table") == f"p{i}"]
        out[p.container] = _rule_texts(mine)
    return out


def plan_policies(plan, session, policies):
    """Make each container's policy table exact: policies is a list of ContainerPolicy (an empty one removes the
    table). One read per container; one scratch namespace for the comparison; one nft transaction per change."""
    current, wanted = {}, []
    if policies and not shutil.which("nft"):
        with_policy = next((p for p in policies if not p.empty), policies[0])
        raise InvalidInput(f"network '{with_policy.network}': container '{with_policy.container}' has a network policy, "
                           "which the collection enforces with nftables in the container's namespace, and nft is not "
                           "installed on this host (install the nftables package; the host's own firewall may stay "
                           "iptables)")
    for p in policies:
        if not session.exists(p.container):
            current[p.container] = None  # made by this plan, before its policy
            continue
        with session.inside(p.container):
            current[p.container] = _read_table(p.container)
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
    for p in policies:
        have = current[p.container]
        if p.empty:
            if have is not None:
                mark = plan.mark
                plan.add(f"remove the network policy of {where(p.container)}",
                         lambda ns=p.container: _apply(session, ns, [f"delete table inet {POLICY_TABLE}"]))
                plan.record(f"{p.container}/policy", {"policy": "present"}, None, mark)
            continue
        if have is not None and have == printed.get(p.container):
            continue
        mark = plan.mark
        script = [f"add table inet {POLICY_TABLE}", f"delete table inet {POLICY_TABLE}"] + p.script()
        plan.add(f"{'replace' if have is not None else 'make'} the network policy of {where(p.container)}",
                 lambda ns=p.container, s=script: _apply(session, ns, s),
                 None if have is not None else lambda ns=p.container: _remove_if_present(session, ns))
        before = None if have is None else {"rules": "missing or altered by hand" if any(
            str(p.tag) in r for r in have["rules"]) else "of another spec"}
        plan.record(f"{p.container}/policy", before, p.view(), mark)


def _apply(session, ns, script):
    with session.inside(ns):
        run_program(["nft", "-f", "-"], where(ns), stdin="\n".join(script) + "\n")


def _remove_if_present(session, ns):
    if session.exists(ns):
        with session.inside(ns):
            run_program(["nft", "delete", "table", "inet", POLICY_TABLE], where(ns), ok_codes=(0, 1))
