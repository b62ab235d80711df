# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The published-ports rule kind: the DNAT rule set of one owner (a container network, or a port_forward item), and
the port_forward module. What a mapping is and what it claims is in _ports.py.

How a published port is reached (the datapath, chosen to work without a proxy process):
- from other hosts and from containers: DNAT in prerouting, for the host address given or for every local address;
- from the host itself: the same DNAT in the nat output hook; 127.0.0.1 works because the interface towards the
  container gets route_localnet=1 and loopback sources are masqueraded there (as Docker without its userland
  proxy), while an input rule drops new connections to 127.0.0.0/8 that arrive on that interface;
- hairpin (a container reaching a published port of its own network): masqueraded to the gateway, because the
  reply would otherwise go straight back on the bridge, bypassing the NAT; the container's bridge port is put in
  hairpin mode so that a container can reach its own published port;
- other containers of the host keep their own source address (a DNATed connection is neither masqueraded nor
  dropped by network isolation): the service sees its real client, as it does for other hosts;
- a port with an allow-list is DNATed for its sources only, in both hooks: every other client, the host's own
  processes included (127.0.0.1 is a source like any other), meets the host's own port instead.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass, field

from ansible_collections.linuxns.net.plugins.module_utils import _validate as validate
from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput, where
from ansible_collections.linuxns.net.plugins.module_utils._firewall import plan_rule_sets
from ansible_collections.linuxns.net.plugins.module_utils._firewall_backends import BACKENDS, RuleTag, rule_comment
from ansible_collections.linuxns.net.plugins.module_utils._plan import Plan
from ansible_collections.linuxns.net.plugins.module_utils._ports import (
    ALL, ALL6, Claim, PortRange, check_claims, foreign_claims, owner_label, parse_ports)
from ansible_collections.linuxns.net.plugins.module_utils._snapshot import Snapshots, missing_reference
from ansible_collections.linuxns.net.plugins.module_utils._sysctl import FORWARDING


@dataclass
class Forward:
    """The published ports of one destination (a container), with what its hairpin and loopback cases need."""
    label: str  # for messages: "container 'c1'"
    destination: object  # an ipaddress address
    ports: list  # of PublishedPort
    via_interface: str = None  # the interface towards the destination (a bridge): route_localnet, loopback guard
    via_subnet: object = None  # the subnet on that interface: hairpin clients, masqueraded


@dataclass
class PortForwardSet:
    """All published ports of one owner in one namespace: one tagged group of DNAT rules, replaced as a whole."""
    namespace: str
    owner: str  # "network:<name>" or "forward:<name>"
    forwards: list = field(default_factory=list)
    state: str = "present"
    backend: str = "auto"
    ip_forward: bool = True
    empty_family: int = 4  # the family of a set with no forwards (one that removes its rules)

    @property
    def key(self):
        """The rule tag's source field: how a run finds this owner's rules."""
        return ("ports:" if self.family == 4 else "ports6:") + _owner_token(self.owner)

    @property
    def family(self):
        return self.empty_family if not self.forwards else self.forwards[0].destination.version

    @property
    def tag(self):
        return RuleTag.of(self.key, [self.owner, [[str(f.destination), [p.spec for p in f.ports], f.via_interface,
                                                   str(f.via_subnet) if f.via_subnet else None] for f in self.forwards]])

    def claims(self):
        return [Claim(p.protocol, ALL6 if p.host_ip is None and self.family == 6 else p.host, p.host_ports,
                      str(f.destination), self.owner,
                      f"{f.label} of {owner_label(self.owner)}" if f.label else owner_label(self.owner))
                for f in self.forwards for p in f.ports]

    def check(self, context):
        """Before any change (inside the namespace): refuse ports that another owner's rule, ours or not, already
        publishes, or that a set checked before this one in the same run claims."""
        if self.state != "present" or not self.forwards:
            return
        held = context.shared.setdefault("claims", [])
        others = list(held)
        if context.backend is not None:
            if "foreign_claims" not in context.shared:
                context.shared["foreign_claims"] = foreign_claims(context.foreign())
            others += context.shared["foreign_claims"] + held_claims(context.own, context.leaving | {self.key})
        mine = self.claims()
        check_claims(mine, others)
        held.extend(mine)

    def describe(self):
        return f"published ports of {owner_label(self.owner)}"

    def view(self):
        return {"owner": self.owner, "ports": {str(f.destination): [p.spec for p in f.ports] for f in self.forwards}}

    def sysctls(self):
        """Forwarding (the DNATed connections are forwarded), and route_localnet on the interfaces that carry
        127.0.0.1 to a container."""
        if not self.forwards or not self.ip_forward:
            return []
        if self.family == 6:
            return [FORWARDING[6]]
        return [FORWARDING[4]] + [f"net/ipv4/conf/{name}/route_localnet" for name in self.loopback_interfaces()]

    def loopback_interfaces(self):
        if self.family != 4:
            return []
        return sorted({f.via_interface for f in self.forwards if f.via_interface and any(p.reaches_loopback for p in f.ports)})

    def _nft_dnat(self, f, p, fam):
        """One DNAT statement per mapping, whatever its length: the ports kept when the ranges are equal, one port,
        or a map from each host port to the destination and its container port (one lookup per packet)."""
        if p.host_ports == p.target_ports:
            return f"dnat {fam} to {f.destination}"
        if p.host_ports.size == 1:
            return f"dnat {fam} to {self._to(f.destination, p.target_ports.first, self.family)}"
        pairs = ", ".join(f"{p.host_ports.first + i} : {f.destination} . {p.target_ports.first + i}" for i in range(p.host_ports.size))
        return f"dnat {fam} to {p.protocol} dport map {{ {pairs} }}"

    def _iptables_dnat(self, f, p):
        """The same in iptables: a shifted range (--to-destination ADDR:FIRST-LAST/BASE) when the ranges differ."""
        if p.host_ports == p.target_ports:
            return str(f.destination)
        if p.host_ports.size == 1:
            return self._to(f.destination, p.target_ports.first, self.family)
        return self._to(f.destination, f"{p.target_ports}/{p.host_ports.first}", self.family)

    def _ports_and_claims(self):
        claims = iter(self.claims())
        return [(f, p, next(claims)) for f in self.forwards for p in f.ports]

    @staticmethod
    def _to(addr, port, family):
        if port is None:
            return addr
        return f"{addr}:{port}" if family == 4 else f"[{addr}]:{port}"

    def nft_rules(self, tag, table):
        """nft commands: DNAT for other hosts and containers (prerouting) and for the host (output), masquerade
        for hairpin and loopback clients (inserted ahead of the networks' masquerade and return rules), a guard
        against outside packets to 127.0.0.0/8, and forward-accept for the forwarded connections."""
        out = []
        comment = f'comment "{tag}"'
        fam = "ip" if self.family == 4 else "ip6"
        for f, p, claim in self._ports_and_claims():
            dest = "fib daddr type local" if p.host_ip is None else f"{fam} daddr {p.host_ip}"
            # ::1 cannot be forwarded (no route_localnet in IPv6): leave it to the host's own services
            local = dest if self.family == 4 or p.host_ip is not None else f"{fam} daddr != ::1 {dest}"
            sources = p.sources(self.family)
            refused = None
            if sources:
                # after the DNAT, which ends the chain for allowed sources: counts the connections the list refuses
                refused = f"add rule inet {table} prerouting {dest} {p.protocol} dport {p.host_ports} counter {comment}"
                allowed = f"{fam} saddr {{ {', '.join(str(n) for n in sources)} }} "
                dest, local = allowed + dest, allowed + local
            rule = f'{p.protocol} dport {p.host_ports} {self._nft_dnat(f, p, fam)} comment "{tag.with_note(claim.token())}"'
            out += [f"add rule inet {table} prerouting {dest} {rule}", f"add rule inet {table} output {local} {rule}"]
            out += [refused] if refused else []
            match = f"{fam} daddr {f.destination} {p.protocol} dport {p.target_ports}"
            if f.via_subnet is not None:
                out.append(f"insert rule inet {table} postrouting {fam} saddr {f.via_subnet} {match} ct status dnat masquerade {comment}")
            if self.family == 4 and p.reaches_loopback and f.via_interface:
                out.append(f"insert rule inet {table} postrouting ip saddr 127.0.0.0/8 {match} masquerade {comment}")
            out.append(f"add rule inet {table} forward {match} ct status dnat accept {comment}")
            out.append(f"add rule inet {table} forward {fam} saddr {f.destination} {p.protocol} sport {p.target_ports} "
                       f"ct status dnat accept {comment}")
        for name in self.loopback_interfaces():
            out.append(f'add rule inet {table} input iifname "{name}" ip daddr 127.0.0.0/8 '
                       f'ct state != {{ established, related }} drop {comment}')
        return out

    def iptables_rules(self, tag, chains):
        """(table, rule) pairs, the same rules as nft_rules in iptables form; chains: role -> our chain name."""
        out = []
        comment = f'-m comment --comment "{tag}"'
        host_bits = 32 if self.family == 4 else 128
        for f, p, claim in self._ports_and_claims():
            if p.host_ip is None:
                dest = "-m addrtype --dst-type LOCAL" if self.family == 4 else "! -d ::1/128 -m addrtype --dst-type LOCAL"
            else:
                dest = f"-d {p.host_ip}/{host_bits}"
            sources = p.sources(self.family)
            ports = f"-p {p.protocol} -m {p.protocol} --dport {str(p.host_ports).replace('-', ':')}"
            refused = ("nat", f"-A {chains['dnat']} {dest} {ports} {comment}") if sources else None  # counts, no target
            if sources:
                dest = f"-s {','.join(str(n) for n in sources)} {dest}"
            out.append(("nat", f"-A {chains['dnat']} {dest} {ports} -m comment --comment \"{tag.with_note(claim.token())}\" "
                               f"-j DNAT --to-destination {self._iptables_dnat(f, p)}"))
            out += [refused] if refused else []
            match = (f"-d {f.destination}/{host_bits} -p {p.protocol} -m {p.protocol} --dport "
                     f"{str(p.target_ports).replace('-', ':')}")
            if f.via_subnet is not None:
                out.append(("nat", f"-I {chains['nat']} 1 -s {f.via_subnet} {match} -m conntrack --ctstate DNAT "
                                   f"{comment} -j MASQUERADE"))
            if self.family == 4 and p.reaches_loopback and f.via_interface:
                out.append(("nat", f"-I {chains['nat']} 1 -s 127.0.0.0/8 {match} {comment} -j MASQUERADE"))
            out.append(("filter", f"-A {chains['forward']} {match} -m conntrack --ctstate DNAT {comment} -j ACCEPT"))
            out.append(("filter", f"-A {chains['forward']} -s {f.destination}/{host_bits} -p {p.protocol} -m {p.protocol} "
                                  f"--sport {str(p.target_ports).replace('-', ':')} -m conntrack --ctstate DNAT "
                                  f"{comment} -j ACCEPT"))
        for name in self.loopback_interfaces():
            out.append(("filter", f"-A {chains['input']} -d 127.0.0.0/8 -i {name} -m conntrack ! --ctstate "
                                  f"RELATED,ESTABLISHED {comment} -j DROP"))
        return out


def _owner_token(owner):
    """The owner as one comment word: readable when short and plain, else a prefix and a hash."""
    if re.fullmatch(r"[A-Za-z0-9_.:@-]{1,40}", owner):
        return owner
    return re.sub(r"[^A-Za-z0-9_.:@-]", "_", owner)[:24] + "~" + hashlib.sha256(owner.encode()).hexdigest()[:8]


def owner_from_key(key):
    """The owner as stored in a rule tag's source field ("ports:<owner>", "ports6:<owner>")."""
    prefix, sep, owner = key.partition(":")
    return owner if sep and prefix in ("ports", "ports6") else None


def held_claims(own, leaving_keys):
    """Claims stored in our own rules' comments (_firewall_backends.OwnRules), less those of the rule sets this run
    removes or replaces."""
    out = []
    for tag, token in own.notes:
        owner = owner_from_key(tag.source)
        if owner is not None and tag.source not in leaving_keys:
            claim = Claim.from_token(token, owner)
            if claim is not None:
                out.append(claim)
    return out


def normalize_forward_item(item, owner, namespace):
    """A port_forward item's destination and ports."""
    obj = f"port forward '{owner}' in {where(namespace)}"
    if not item.get("to"):
        raise InvalidInput(f"{obj}: 'to' (the address the ports are forwarded to) is required")
    try:
        destination = ipaddress.ip_address(str(item["to"]))
    except ValueError:
        raise InvalidInput(f"{obj}: 'to' {item['to']!r} is not an IP address") from None
    return destination, parse_ports(item.get("ports"), obj, destination)


def check_host_addresses(forward_set, local_addresses):
    """A published port's host address must be one of the namespace's own (or a loopback one)."""
    for f in forward_set.forwards:
        for p in f.ports:
            if p.host_ip is not None and not p.host_ip.is_loopback and p.host_ip not in local_addresses:
                raise InvalidInput(f"{f.label} in {where(forward_set.namespace)}: published port '{p.text}': "
                                   f"{p.host_ip} is not an address of this host ({owner_label(forward_set.owner)})")


# ---------------------------------------------------------------- what is in force, read back

_NFT_SOURCES = re.compile(r"\bip6? saddr (\{ [^}]* \}|\S+)")
# the first container port: of a map, [v6]:port, v4:port; none when the ports are kept (a bare address)
_NFT_TARGET = re.compile(r"\bdnat ip6? to (?:(?:tcp|udp|sctp) dport map \{ \d+ : \S+ \. (\d+)|\[[^\]]+\]:(\d+)|[0-9.]+:(\d+)|\S+)")
_IPT_SOURCE = re.compile(r"(?:^| )-s (\S+)")
# a shifted range prints ADDR:FIRST-LAST/BASE; one port ADDR:PORT ([v6]:PORT); the same ports ADDR
_IPT_TARGET = re.compile(r"--to-destination (?:\[[^\]]+\]:(\d+)|[0-9.]+:(\d+)|\S+)")


def _published_entry(program, line, claim):
    """(first container port, sources) of one of our DNAT rules, as nft or iptables-save prints it."""
    if program == "nftables":
        target, sources = _NFT_TARGET.search(line), _NFT_SOURCES.search(line)
        if target is None:
            return None
        first = int(target.group(1) or target.group(2) or target.group(3) or claim.ports.first)
        found = sources.group(1).strip("{} ").split(", ") if sources else []
    else:
        target, sources = _IPT_TARGET.search(line), _IPT_SOURCE.search(line)
        if target is None:
            return None
        first = int(target.group(1) or target.group(2) or claim.ports.first)
        found = [sources.group(1)] if sources else []
    return first, [str(ipaddress.ip_network(n, strict=False)) for n in found]


def published_in_force(rules):
    """The published ports our DNAT rules hold in a namespace (rules: _firewall_backends.our_rule_lines), as data:
    one entry per mapping with its protocol, host address (None: every address), host ports, container address and
    ports, and allow-list (None: every source). nft writes a mapping in two hooks and iptables one rule per source:
    both are merged."""
    found = {}
    for program, line, tag in rules:
        note = RuleTag.note(rule_comment(line))
        owner = owner_from_key(tag.source) if tag is not None else None
        claim = Claim.from_token(note, owner) if note and owner else None
        if claim is None or "dnat" not in line.lower():
            continue
        entry = _published_entry(program, line, claim)
        if entry is None:
            continue
        first, sources = entry
        key = (claim.owner, claim.token())
        item = found.setdefault(key, {
            "owner": claim.owner, "protocol": claim.protocol, "family": claim.family,
            "host_ip": None if claim.host in (ALL, ALL6) else claim.host, "published": str(claim.ports),
            "destination": claim.destination, "target": str(PortRange(first, first + claim.ports.size - 1)),
            "allow_from": [] if sources else None})
        if item["allow_from"] is not None:
            item["allow_from"] = sorted(set(item["allow_from"]) | set(sources)) if sources else None
    return [found[k] for k in sorted(found)]


# ---------------------------------------------------------------- the port_forward module

def normalize_forward_set(item):
    ns = validate.namespace_name(item.get("namespace"))
    name = item.get("name")
    if not name or not isinstance(name, str) or any(c.isspace() for c in name):
        raise InvalidInput(f"port forward in {where(ns)}: 'name' {name!r} must be a non-empty string without spaces "
                           "(it identifies the forward's rules)")
    state = item.get("state") or "present"
    backend = item.get("backend") or "auto"
    if backend not in BACKENDS:
        raise InvalidInput(f"port forward '{name}' in {where(ns)}: backend '{backend}' must be one of {', '.join(BACKENDS)}")
    forwards = []
    if state == "present":
        destination, ports = normalize_forward_item(item, name, ns)
        if not ports:
            raise InvalidInput(f"port forward '{name}' in {where(ns)}: 'ports' is empty (use state: absent to remove it)")
        forwards.append(Forward(label=f"port forward '{name}'", destination=destination, ports=ports))
    return PortForwardSet(namespace=ns, owner=f"forward:{name}", forwards=forwards, state=state, backend=backend)


def _resolve_path(plan, session, snaps, forward_set):
    """The interface towards each destination, and its connected subnet (for hairpin clients), from the kernel."""
    snap = snaps[forward_set.namespace]
    if snap.missing:
        return
    for f in forward_set.forwards:
        try:
            found = session.pyroute2(forward_set.namespace).route("get", dst=str(f.destination))
        except OSError:
            found = []
        if not found:
            missing_reference(plan, snap, f"{f.label} in {where(forward_set.namespace)}: no route to {f.destination}")
            continue
        link = snap.by_index.get(found[0].get_attr("RTA_OIF"))
        if link is None or link.name == "lo":
            raise InvalidInput(f"{f.label} in {where(forward_set.namespace)}: {f.destination} is an address of this "
                               "namespace itself; forward to a container's address")
        f.via_interface = link.name
        if found[0].get_attr("RTA_GATEWAY") is None:
            for addr in link.addresses:
                iface = ipaddress.ip_interface(addr)
                if f.destination in iface.network:
                    f.via_subnet = iface.network
                    break


def run_port_forward(session, items, check_mode):
    sets = [normalize_forward_set(item) for item in items]
    validate.unique(sets, lambda s: f"'{s.owner[len('forward:'):]}' in {where(s.namespace)}", "port forward")
    plan, snaps = Plan(), Snapshots(session, check_mode)
    for forward_set in sets:
        if forward_set.state == "present":
            snap = snaps[forward_set.namespace]
            if not snap.missing:
                check_host_addresses(forward_set, {ipaddress.ip_interface(a).ip for link in snap.by_name.values()
                                                   for a in link.addresses})
            _resolve_path(plan, session, snaps, forward_set)
    backends = plan_rule_sets(plan, session, sets, check_mode)
    result = plan.execute(check_mode)
    result["backends"] = backends
    return result
