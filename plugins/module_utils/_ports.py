# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Published ports (Docker's -p, or compose's long syntax with an allow-list): the mapping forms parsed once, the
claims they make on a host's ports, and the claims that rules of others (Docker's, a user's) make. Pure functions;
the rule kind is in _port_forward.py."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import NamedTuple

from ansible_collections.linuxns.net.plugins.module_utils._errors import Conflict, InvalidInput
from ansible_collections.linuxns.net.plugins.module_utils._firewall_backends import CHAIN_PREFIX, NFT_TABLE

FOREIGN_SKIP_TABLE, FOREIGN_SKIP_PREFIX = NFT_TABLE, CHAIN_PREFIX  # our own rules are read from their comments

PORT_PROTOCOLS = ("tcp", "udp", "sctp")
ALL, ALL6 = "*", "*6"  # a claim on every IPv4, or every IPv6, address of the host
EVERY = (ALL, ALL6)
# [host_ip:]host_port[-end]:container_port[-end][/protocol]; an IPv6 host address is written in brackets
LONG_KEYS = ("target", "published", "host_ip", "protocol", "allow_from")  # compose's long syntax, and our allow-list
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
    allow_from: tuple = ()  # of ipaddress networks, either family: the only sources it answers (empty: everyone)

    @property
    def spec(self):
        """The mapping and its allow-list in one text: what rule tags and views carry."""
        return self.text if not self.allow_from else f"{self.text} from {','.join(str(n) for n in self.allow_from)}"

    def sources(self, family):
        """The allowed sources of one family: None for everyone, [] for nobody (only the other family's listed)."""
        if not self.allow_from:
            return None
        return [n for n in self.allow_from if n.version == family]

    @property
    def host(self):
        return ALL if self.host_ip is None else str(self.host_ip)

    @property
    def reaches_loopback(self):
        """Published on every address or on a loopback one: 127.0.0.1 must work from the host."""
        return self.host_ip is None or self.host_ip.is_loopback


def port_range(text, what, obj):
    parts = str(text).split("-")
    # ASCII digits only: int() would also read '²' (and fail) or '١٢٣٤' (as 1234)
    if len(parts) > 2 or not all(p.isascii() and p.isdigit() for p in parts):
        raise InvalidInput(f"{obj}: {what} '{text}' is not a port or a range of ports (write 8080 or 9000-9003)")
    first, last = int(parts[0]), int(parts[-1])
    for port in (first, last):
        if not 1 <= port <= 65535:
            raise InvalidInput(f"{obj}: {what} {port} is out of range (ports are 1 to 65535)")
    if last < first:
        raise InvalidInput(f"{obj}: {what} range '{text}' ends before it starts")
    return PortRange(first, last)


def parse_port(value, obj):
    """One mapping in Docker's -p forms (8080:80, 8080:80/udp, 127.0.0.1:8443:443, 198.51.100.11:8080:80,
    9000-9003:9000-9003, [::1]:8080:80), or a dict in compose's long syntax with an allow-list. obj names the
    container for messages."""
    if isinstance(value, dict):
        return _parse_long(value, obj)
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
    if proto not in PORT_PROTOCOLS:
        raise InvalidInput(f"{obj}: published port '{value}': protocol '{m.group('proto')}' must be one of {', '.join(PORT_PROTOCOLS)}")
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
    host_ports = port_range(m.group("host"), "host port", f"{obj}: published port '{value}'")
    target_ports = port_range(m.group("target"), "container port", f"{obj}: published port '{value}'")
    if host_ports.size != target_ports.size:
        raise InvalidInput(f"{obj}: published port '{value}': the host range has {host_ports.size} ports and the "
                           f"container range {target_ports.size}; they must be the same length")
    return PublishedPort(text, proto, host_ip, host_ports, target_ports)


def _parse_long(value, obj):
    """Compose's long syntax: {target, published, host_ip, protocol} and allow_from (source ranges)."""
    unknown = sorted(set(value) - set(LONG_KEYS))
    if unknown:
        raise InvalidInput(f"{obj}: published port {value!r} has unknown keys {unknown} (known: {', '.join(LONG_KEYS)})")
    for key in ("target", "published"):
        if value.get(key) is None or isinstance(value[key], bool) or not isinstance(value[key], (str, int)):
            hint = " (a host port is required: the collection does not pick one)" if key == "published" else ""
            raise InvalidInput(f"{obj}: published port {value!r}: '{key}' (a port or a range such as 9000-9003) is "
                               f"required{hint}")
    host_ip = value.get("host_ip")
    if host_ip is not None and not isinstance(host_ip, str):
        raise InvalidInput(f"{obj}: published port {value!r}: host_ip must be an address, as a string")
    protocol = value.get("protocol") or "tcp"
    host = ""
    if host_ip:
        host = (f"[{host_ip.strip('[]')}]" if ":" in host_ip else host_ip) + ":"
    port = parse_port(f"{host}{value['published']}:{value['target']}/{protocol}", obj)
    sources = value.get("allow_from")
    if sources is None:
        return port
    if isinstance(sources, str):
        sources = [sources]
    if not isinstance(sources, (list, tuple)) or not sources:
        raise InvalidInput(f"{obj}: published port '{port.text}': allow_from must be a non-empty list of source ranges "
                           "(leave it out to allow every source)")
    allowed = []
    for source in sources:
        try:
            allowed.append(ipaddress.ip_network(str(source), strict=True))
        except ValueError:
            raise InvalidInput(f"{obj}: published port '{port.text}': allow_from {source!r} is not a network in CIDR "
                               "form with no host bits set (write 10.1.0.0/16 or 198.51.100.7/32)") from None
    if port.host_ip is not None and not any(n.version == port.host_ip.version for n in allowed):
        raise InvalidInput(f"{obj}: published port '{port.text}': allow_from lists no IPv{port.host_ip.version} range, "
                           f"so nothing could reach the port on {port.host_ip}")
    unique = sorted(set(allowed), key=lambda n: (n.version, int(n.network_address), n.prefixlen))
    return PublishedPort(port.text, port.protocol, port.host_ip, port.host_ports, port.target_ports, tuple(unique))


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
        if destination is not None and p.allow_from and not p.sources(destination.version):
            raise InvalidInput(f"{obj}: published port '{p.text}': allow_from lists no IPv{destination.version} range, "
                               f"so nothing could reach {destination}")
    claims = [Claim(p.protocol, p.host, p.host_ports, "", "") for p in ports]
    for i, claim in enumerate(claims):
        for j in range(i):
            if claim.overlaps(claims[j]):
                raise InvalidInput(f"{obj}: published ports '{ports[j].text}' and '{ports[i].text}' claim the same "
                                   f"{claim.protocol} port")
    return ports


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
                if claim.host in EVERY and other.host in EVERY:
                    on = "every address"
                else:
                    on = claim.host if claim.host not in EVERY else other.host
                raise Conflict(f"published port {claim} ({claim.label or owner_label(claim.owner)}) conflicts with "
                               f"{other} ({other.label or owner_label(other.owner)}): both claim {claim.protocol} port "
                               f"{shared} on {on}")


# ---------------------------------------------------------------- what others publish

_SAVE_DNAT = re.compile(r"^-A (?P<chain>\S+) .*-j (?:DNAT|REDIRECT)\b")
_SAVE_FIELD = {"proto": re.compile(r"(?:^| )-p (\w+)"), "dport": re.compile(r"--dports? ([\d:,]+)"),
               "daddr": re.compile(r"(?:^| )(!? ?)-d (\S+)"), "to": re.compile(r"--to-destination (\S+)")}


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
            if payload.get("field") == "dport" and payload.get("protocol") in PORT_PROTOCOLS and match.get("op") == "==":
                protos += [(payload["protocol"], r) for r in _nft_value_ports(match.get("right"))]
            elif payload.get("field") == "daddr" and match.get("op") == "==" and isinstance(match.get("right"), str):
                host = match["right"]
        if nat:
            where_ = f"nft table {rule.get('family')} {rule.get('table')} chain {rule.get('chain')}"
            out += [Claim(proto, host, ports, target, "", f"a rule linuxns.net does not own: {where_}")
                    for proto, ports in protos]
    return out


def foreign_claims(rules):
    """Ports that rules we do not own publish (Docker's DNAT rules, a user's), from a _firewall_backends.ForeignRules:
    nftables, iptables-nft and iptables-legacy."""
    out = _nft_claims(rules.nft)
    for program, family, lines in rules.saves:
        out += _save_claims(lines, program[:-len("-save")], family)
    return out
