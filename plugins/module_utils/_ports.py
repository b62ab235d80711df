# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Published ports (Docker's -p): parsing the mapping forms, the claims they make on a host's ports, and the DNAT
rule set of one owner (a container network, or a port_forward item).

How a published port is reached (the datapath, chosen to work without a proxy process):
- from other hosts and from containers: DNAT in prerouting, for the host address given or for every local address;
- from the host itself: the same DNAT in the nat output hook; 127.0.0.1 works because the interface towards the
  container gets route_localnet=1 and loopback sources are masqueraded there (as Docker without its userland
  proxy), while an input rule drops new connections to 127.0.0.0/8 that arrive on that interface;
- hairpin (a container reaching a published port of its own network): masqueraded to the gateway, because the
  reply would otherwise go straight back on the bridge, bypassing the NAT; the container's bridge port is put in
  hairpin mode so that a container can reach its own published port;
- other containers of the host keep their own source address (a DNATed connection is neither masqueraded nor
  dropped by network isolation): the service sees its real client, as it does for other hosts.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import shutil
from dataclasses import dataclass, field
from typing import NamedTuple

from ansible_collections.linuxns.net.plugins.module_utils import _validate as validate
from ansible_collections.linuxns.net.plugins.module_utils._errors import Conflict, InvalidInput, where
from ansible_collections.linuxns.net.plugins.module_utils._nat import BACKENDS, CHAIN_PREFIX, NFT_TABLE, RuleTag, plan_rule_sets, run_program
from ansible_collections.linuxns.net.plugins.module_utils._plan import Plan
from ansible_collections.linuxns.net.plugins.module_utils._snapshot import Snapshots, missing_reference

FOREIGN_SKIP_TABLE, FOREIGN_SKIP_PREFIX = NFT_TABLE, CHAIN_PREFIX  # our own rules are read from their comments

PROTOCOLS = ("tcp", "udp", "sctp")
ALL, ALL6 = "*", "*6"  # a claim on every IPv4, or every IPv6, address of the host
EVERY = (ALL, ALL6)
# [host_ip:]host_port[-end]:container_port[-end][/protocol]; an IPv6 host address is written in brackets
_MAPPING = re.compile(r"^(?:(?P<ip>\[[^\]]*\]|[^:\[\]]+):)?(?P<host>[^:]+):(?P<target>[^:/]+)(?:/(?P<proto>.*))?$")


class PortRange(NamedTuple):
    first: int
    last: int

    def __str__(self):
        return str(self.first) if self.first == self.last else f"{self.first}-{self.last}"

    def overlaps(self, other):
        return self.first <= other.last and other.first <= self.last

    @property
    def size(self):
        return self.last - self.first + 1


@dataclass(frozen=True)
class PublishedPort:
    """One mapping, validated: host address (None: all of them), host ports, container ports, protocol."""
    text: str
    protocol: str
    host_ip: object  # an ipaddress address, or None for every address of the host
    host_ports: PortRange
    target_ports: PortRange

    @property
    def host(self):
        return ALL if self.host_ip is None else str(self.host_ip)

    @property
    def reaches_loopback(self):
        """Published on every address or on a loopback one: 127.0.0.1 must work from the host."""
        return self.host_ip is None or self.host_ip.is_loopback


def _port_range(text, what, obj):
    parts = str(text).split("-")
    if len(parts) > 2 or not all(p.isdigit() for p in parts):
        raise InvalidInput(f"{obj}: {what} '{text}' is not a port or a range of ports (write 8080 or 9000-9003)")
    first, last = int(parts[0]), int(parts[-1])
    for port in (first, last):
        if not 1 <= port <= 65535:
            raise InvalidInput(f"{obj}: {what} {port} is out of range (ports are 1 to 65535)")
    if last < first:
        raise InvalidInput(f"{obj}: {what} range '{text}' ends before it starts")
    return PortRange(first, last)


def parse_port(value, obj):
    """One mapping in Docker's -p forms: 8080:80, 8080:80/udp, 127.0.0.1:8443:443, 198.51.100.11:8080:80,
    9000-9003:9000-9003, [::1]:8080:80. obj names the container for messages."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidInput(f"{obj}: published port {value!r} must be a string such as '8080:80'")
    if isinstance(value, int):
        raise InvalidInput(f"{obj}: published port {value} is a number: quote the mapping (YAML reads an unquoted "
                           "22:22 as the number 1342) and give the host port too, as '8080:80'")
    text = value.strip()
    m = _MAPPING.match(text)
    if not m:
        hint = ""
        if re.fullmatch(r"[\d-]+(/\w*)?", text):
            hint = " (a host port is required: the collection does not pick one)"
        elif text.count(":") > 2 and "[" not in text:
            hint = " (write an IPv6 host address in brackets, as [::1]:8080:80)"
        raise InvalidInput(f"{obj}: published port '{value}' is not in the form [host_ip:]host_port:container_port"
                           f"[/protocol]{hint}")
    proto = (m.group("proto") if m.group("proto") is not None else "tcp").lower()
    if proto not in PROTOCOLS:
        raise InvalidInput(f"{obj}: published port '{value}': protocol '{m.group('proto')}' must be one of {', '.join(PROTOCOLS)}")
    host_ip = None
    if m.group("ip") is not None:
        raw = m.group("ip")
        bracketed = raw.startswith("[")
        try:
            host_ip = ipaddress.ip_address(raw[1:-1] if bracketed else raw)
        except ValueError:
            raise InvalidInput(f"{obj}: published port '{value}': host address '{raw}' is not an IP address") from None
        if host_ip.version == 6 and not bracketed:
            raise InvalidInput(f"{obj}: published port '{value}': write an IPv6 host address in brackets, as [{raw}]")
        if host_ip.is_unspecified:
            host_ip = None  # 0.0.0.0 and [::] mean every address, as in Docker
        elif host_ip.is_multicast:
            raise InvalidInput(f"{obj}: published port '{value}': host address {host_ip} is a multicast address")
    host_ports = _port_range(m.group("host"), "host port", f"{obj}: published port '{value}'")
    target_ports = _port_range(m.group("target"), "container port", f"{obj}: published port '{value}'")
    if host_ports.size != target_ports.size:
        raise InvalidInput(f"{obj}: published port '{value}': the host range has {host_ports.size} ports and the "
                           f"container range {target_ports.size}; they must be the same length")
    return PublishedPort(text, proto, host_ip, host_ports, target_ports)


# ---------------------------------------------------------------- claims

class Claim(NamedTuple):
    """What a DNAT rule takes from the host: a protocol's ports on one address (or all), for a destination."""
    protocol: str
    host: str  # an address, or ALL
    ports: PortRange
    destination: str
    owner: str  # who holds it, for messages
    label: str = ""  # the claimant in words, when known ("container 'c1' of network 'web'")

    def token(self):
        """The claim as stored in the rule's comment: protocol/host/ports/destination."""
        return f"{self.protocol}/{self.host}/{self.ports.first}-{self.ports.last}/{self.destination}"

    @classmethod
    def from_token(cls, token, owner):
        try:
            protocol, host, ports, destination = token.split("/")
            first, last = ports.split("-")
            return cls(protocol, host, PortRange(int(first), int(last)), destination, owner)
        except ValueError:
            return None

    @property
    def family(self):
        return 6 if self.host == ALL6 or ":" in self.host else 4

    def overlaps(self, other):
        return (self.protocol == other.protocol and self.family == other.family and self.ports.overlaps(other.ports)
                and (self.host in EVERY or other.host in EVERY or self.host == other.host))

    def __str__(self):
        host = {ALL: "0.0.0.0", ALL6: "[::]"}.get(self.host, f"[{self.host}]" if ":" in self.host else self.host)
        return f"{self.protocol} {host}:{self.ports} -> {self.destination}"


def owner_label(owner):
    """'network:web' -> "network 'web'"; the owners' texts are the rule sets' own."""
    kind, _sep, name = owner.partition(":")
    return f"{kind} '{name}'" if name else f"'{owner}'"


def check_claims(wanted, held):
    """Refuse a wanted claim that overlaps one held by another owner, or another wanted one: name both claimants."""
    for position, claim in enumerate(wanted):
        for other in list(held) + wanted[:position]:
            if claim.overlaps(other):
                shared = PortRange(max(claim.ports.first, other.ports.first), min(claim.ports.last, other.ports.last))
                on = "every address" if claim.host in EVERY and other.host in EVERY else \
                    (claim.host if claim.host not in EVERY else other.host)
                raise Conflict(f"published port {claim} ({claim.label or owner_label(claim.owner)}) conflicts with "
                               f"{other} ({other.label or owner_label(other.owner)}): both claim {claim.protocol} port "
                               f"{shared} on {on}")


# ---------------------------------------------------------------- the rule set of one owner

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
        return RuleTag.of(self.key, [self.owner, [[str(f.destination), [p.text for p in f.ports], f.via_interface,
                                                   str(f.via_subnet) if f.via_subnet else None] for f in self.forwards]])

    def claims(self):
        return [Claim(p.protocol, ALL6 if p.host_ip is None and self.family == 6 else p.host, p.host_ports,
                      str(f.destination), self.owner,
                      f"{f.label} of {owner_label(self.owner)}" if f.label else owner_label(self.owner))
                for f in self.forwards for p in f.ports]

    def check(self, backend, held, leaving_keys):
        """Before any change (inside the namespace): refuse ports that another owner's rule, ours or not, already
        publishes. held: the claims of the rule sets checked before this one; this set's claims are added to it."""
        if self.state != "present" or not self.forwards:
            return
        if backend is not None:
            if backend.foreign_claims is None:
                backend.foreign_claims = foreign_claims(self.namespace)
            others = held + backend.foreign_claims + held_claims(backend, leaving_keys | {self.key})
        else:
            others = list(held)
        mine = self.claims()
        check_claims(mine, others)
        held.extend(mine)

    def describe(self):
        return f"published ports of {owner_label(self.owner)}"

    def view(self):
        return {"owner": self.owner, "ports": {str(f.destination): [p.text for p in f.ports] for f in self.forwards}}

    def sysctls(self):
        """Forwarding (the DNATed connections are forwarded), and route_localnet on the interfaces that carry
        127.0.0.1 to a container."""
        if not self.forwards or not self.ip_forward:
            return []
        if self.family == 6:
            return ["net.ipv6.conf.all.forwarding"]
        return ["net.ipv4.ip_forward"] + [f"net/ipv4/conf/{name}/route_localnet" for name in self.loopback_interfaces()]

    def loopback_interfaces(self):
        if self.family != 4:
            return []
        return sorted({f.via_interface for f in self.forwards if f.via_interface and any(p.reaches_loopback for p in f.ports)})

    def _dnat_targets(self, f, p):
        """(host ports, destination) pairs: one rule keeps the ports when the ranges are equal, else one per port."""
        if p.host_ports == p.target_ports:
            return [(p.host_ports, (str(f.destination), None))]
        if p.host_ports.size == 1:
            return [(p.host_ports, (str(f.destination), p.target_ports.first))]
        return [(PortRange(p.host_ports.first + i, p.host_ports.first + i), (str(f.destination), p.target_ports.first + i))
                for i in range(p.host_ports.size)]

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
            for ports, (addr, port) in self._dnat_targets(f, p):
                rule = f'{p.protocol} dport {ports} dnat {fam} to {self._to(addr, port, self.family)} comment "{tag} {claim.token()}"'
                out += [f"add rule inet {table} prerouting {dest} {rule}", f"add rule inet {table} output {local} {rule}"]
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
            for ports, (addr, port) in self._dnat_targets(f, p):
                out.append(("nat", f"-A {chains['dnat']} {dest} -p {p.protocol} -m {p.protocol} --dport "
                                   f"{str(ports).replace('-', ':')} -m comment --comment \"{tag} {claim.token()}\" "
                                   f"-j DNAT --to-destination {self._to(addr, port, self.family)}"))
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


def parse_ports(values, obj, destination=None):
    ports = [parse_port(v, obj) for v in values or []]
    for p in ports:
        if destination is not None and p.host_ip is not None and p.host_ip.version != destination.version:
            raise InvalidInput(f"{obj}: published port '{p.text}' has an IPv{p.host_ip.version} host address for "
                               f"the IPv{destination.version} address {destination}")
        if p.host_ip is not None and p.host_ip.version == 6 and p.host_ip.is_loopback:
            raise InvalidInput(f"{obj}: published port '{p.text}': [::1] cannot be forwarded by the kernel (IPv6 has no "
                               "route_localnet; Docker needs its userland proxy for it): publish on [::] or on an "
                               "address of the host")
    claims = [Claim(p.protocol, p.host, p.host_ports, "", "") for p in ports]
    for i, claim in enumerate(claims):
        for j in range(i):
            if claim.overlaps(claims[j]):
                raise InvalidInput(f"{obj}: published ports '{ports[j].text}' and '{ports[i].text}' claim the same "
                                   f"{claim.protocol} port")
    return ports


def check_host_addresses(forward_set, local_addresses):
    """A published port's host address must be one of the namespace's own (or a loopback one)."""
    for f in forward_set.forwards:
        for p in f.ports:
            if p.host_ip is not None and not p.host_ip.is_loopback and p.host_ip not in local_addresses:
                raise InvalidInput(f"{f.label} in {where(forward_set.namespace)}: published port '{p.text}': "
                                   f"{p.host_ip} is not an address of this host ({owner_label(forward_set.owner)})")


# ---------------------------------------------------------------- what others publish

_SAVE_DNAT = re.compile(r"^-A (?P<chain>\S+) .*-j (?:DNAT|REDIRECT)\b")
_SAVE_FIELD = {"proto": re.compile(r"(?:^| )-p (\w+)"), "dport": re.compile(r"--dports? ([\d:,]+)"),
               "daddr": re.compile(r"(?:^| )(!? ?)-d (\S+)"), "to": re.compile(r"--to-destination (\S+)")}


def held_claims(backend, leaving_keys):
    """Claims stored in our own rules' comments, less those of the rule sets this run removes or replaces."""
    out = []
    for key, token in backend.claim_tokens:
        owner = owner_from_key(key)
        if owner is not None and key not in leaving_keys:
            claim = Claim.from_token(token, owner)
            if claim is not None:
                out.append(claim)
    return out


def _ranges(text):
    out = []
    for part in text.split(","):
        first, _sep, last = part.partition(":")
        out.append(PortRange(int(first), int(last or first)))
    return out


def _save_claims(lines, what, family=4):
    """DNAT and REDIRECT rules of an iptables-save nat table that are not ours."""
    out, table = [], None
    for line in lines:
        if line.startswith("*"):
            table = line[1:].strip()
        m = _SAVE_DNAT.match(line) if table == "nat" else None
        if not m or m.group("chain").startswith(FOREIGN_SKIP_PREFIX):
            continue
        proto, dport = _SAVE_FIELD["proto"].search(line), _SAVE_FIELD["dport"].search(line)
        if not proto or not dport:
            continue
        daddr, to = _SAVE_FIELD["daddr"].search(line), _SAVE_FIELD["to"].search(line)
        every = ALL if family == 4 else ALL6
        host = every if not daddr or daddr.group(1).strip() else daddr.group(2).split("/")[0]
        for ports in _ranges(dport.group(1)):
            out.append(Claim(proto.group(1), host, ports, to.group(1) if to else "this host",
                             "", f"a rule linuxns.net does not own: {what} nat chain {m.group('chain')}"))
    return out


def _nft_value_ports(right):
    if isinstance(right, int):
        return [PortRange(right, right)]
    if isinstance(right, dict) and "range" in right:
        return [PortRange(*right["range"])]
    if isinstance(right, dict) and "set" in right:
        return [r for item in right["set"] for r in _nft_value_ports(item)]
    return []


def _nft_claims(ruleset):
    out = []
    for item in ruleset.get("nftables", []):
        rule = item.get("rule")
        if not rule or rule.get("table") == FOREIGN_SKIP_TABLE or rule.get("chain", "").startswith(FOREIGN_SKIP_PREFIX):
            continue
        protos, host, target, nat = [], ALL6 if rule.get("family") == "ip6" else ALL, "this host", False
        if any("xt" in expr for expr in rule.get("expr", [])):
            continue  # an iptables-nft rule: read, with its target, from iptables-nft-save
        for expr in rule.get("expr", []):
            if "dnat" in expr or "redirect" in expr:
                nat = True
                if isinstance(expr.get("dnat"), dict) and expr["dnat"].get("addr"):
                    target = str(expr["dnat"]["addr"])
                    if expr["dnat"].get("family") == "ip6" and host == ALL:
                        host = ALL6
            match = expr.get("match")
            left = (match or {}).get("left", {})
            payload = left.get("payload", {}) if isinstance(left, dict) else {}
            if payload.get("field") == "dport" and payload.get("protocol") in PROTOCOLS and match.get("op") == "==":
                protos += [(payload["protocol"], r) for r in _nft_value_ports(match.get("right"))]
            elif payload.get("field") == "daddr" and match.get("op") == "==" and isinstance(match.get("right"), str):
                host = match["right"]
        if nat:
            where_ = f"nft table {rule.get('family')} {rule.get('table')} chain {rule.get('chain')}"
            out += [Claim(proto, host, ports, target, "", f"a rule linuxns.net does not own: {where_}")
                    for proto, ports in protos]
    return out


def foreign_claims(namespace):
    """Ports that rules we do not own publish (Docker's DNAT rules, a user's): in nftables, iptables-nft and
    iptables-legacy."""
    out = []
    if shutil.which("nft"):
        out += _nft_claims(json.loads(run_program(["nft", "-j", "list", "ruleset"], namespace).stdout or "{}"))
    for prefix, family in (("iptables", 4), ("ip6tables", 6)):
        for variant in ("nft", "legacy"):
            if shutil.which(f"{prefix}-{variant}-save"):
                # without -t: only the tables already there, so reading loads no kernel module and makes no table
                out += _save_claims(run_program([f"{prefix}-{variant}-save"], namespace).stdout.splitlines(),
                                    f"{prefix}-{variant}", family)
    return out


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
            found = session.netlink(forward_set.namespace).route("get", dst=str(f.destination))
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
    result = plan.result(check_mode)
    result["backends"] = backends
    return result
