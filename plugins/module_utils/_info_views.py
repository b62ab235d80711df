# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller/node contract: netns_info's result (what _info.gather returns on a node, registered on the
controller) read as typed views. The fleet planner (_fleet.py) and the pictures (_topology.py) read these views,
never the result's dicts; a result of the wrong shape is refused here, naming the host and what is wrong."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from ansible_collections.linuxns.net.plugins.module_utils._defaults import CONTAINER_END
from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput
from ansible_collections.linuxns.net.plugins.module_utils._nftsets import EVERY_PORT, EVERY_PROTOCOL, KNOWN_PROTOCOLS

DEFAULT_DESTINATION = "default"  # how netns_info writes 0.0.0.0/0 and ::/0
ICMP_PROTOCOL = {4: 1, 6: 58}
PROBED_PROTOCOLS = ("tcp", "udp")  # the ports of a policy that verify probes


@dataclass(frozen=True)
class LinkView:
    name: str
    kind: str
    addresses: tuple = ()  # CIDR text, as the kernel shows them (link-local ones included)
    mtu: Optional[int] = None
    master: Optional[str] = None  # its bridge's name
    group: int = 0
    peer_name: Optional[str] = None  # a veth's other end
    peer_namespace: Optional[str] = None  # where it is (None: the same namespace)
    isolated: bool = False  # a bridge port with port isolation (its network's ICC is off)

    @property
    def interfaces(self):
        """Its addresses as ipaddress interfaces."""
        return [ipaddress.ip_interface(a) for a in self.addresses]

    @property
    def managed_addresses(self):
        """Its addresses less the link-local ones (the kernel's)."""
        return [a for a in self.addresses if not ipaddress.ip_interface(a).is_link_local]


@dataclass(frozen=True)
class RouteView:
    dest: str  # a CIDR, or "default"
    gateway: Optional[str] = None
    dev: Optional[str] = None

    @property
    def is_default(self):
        return self.dest == DEFAULT_DESTINATION


@dataclass(frozen=True)
class PolicyEntry:
    """One allowed (peer, protocol, ports) of a container's policy in force, as integer intervals."""
    family: int
    peer: tuple
    protocol: tuple
    ports: tuple

    def covers(self, address, protocol, port):
        """Whether it lets through a packet to or from address (an ipaddress address) of that protocol (a name, or
        "icmp") and port. An ICMP packet matches the policy's port field by its checksum: only every port covers it."""
        if address.version != self.family or not self.peer[0] <= int(address) <= self.peer[1]:
            return False
        if protocol == "icmp":
            number, port = ICMP_PROTOCOL[self.family], None
        else:
            number = KNOWN_PROTOCOLS[protocol]
        if not self.protocol[0] <= number <= self.protocol[1]:
            return False
        return self.ports == EVERY_PORT if port is None else self.ports[0] <= port <= self.ports[1]


@dataclass
class PolicyView:
    """A container's network policy in force (netns_info's "policy"): per direction None (no restriction) or the
    allowed entries (replies always pass)."""
    ingress: Optional[List[PolicyEntry]] = None
    egress: Optional[List[PolicyEntry]] = None

    def allows(self, direction, address, protocol, port=None):
        entries = getattr(self, direction)
        if entries is None:
            return True
        address = ipaddress.ip_address(str(address))
        return any(e.covers(address, protocol, port) for e in entries)

    def ports(self, direction):
        """The (protocol, first port) of each entry of a direction that names TCP or UDP ports: what to probe."""
        return {(name, e.ports[0]) for e in getattr(self, direction) or () for name in PROBED_PROTOCOLS
                if e.protocol[0] <= KNOWN_PROTOCOLS[name] <= e.protocol[1] and e.ports != EVERY_PORT}


def _policy(view, who):
    if view is None:
        return None
    if not isinstance(view, dict):
        raise InvalidInput(f"{who}: policy must be a dict of ingress and egress, not {type(view).__name__}")
    sides = {}
    for direction in ("ingress", "egress"):
        entries = view.get(direction)
        if entries is None:
            sides[direction] = None
            continue
        try:
            sides[direction] = [_policy_entry(e) for e in entries]
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"{who}: an {direction} policy entry is not one netns_info writes ({exc})") from None
    return PolicyView(**sides)


def _policy_entry(entry):
    peer = str(entry["peer"])
    if "-" in peer:
        first, last = (ipaddress.ip_address(x) for x in peer.split("-", 1))
        family, interval = first.version, (int(first), int(last))
    else:
        net = ipaddress.ip_network(peer, strict=False)
        family, interval = net.version, (int(net.network_address), int(net.broadcast_address))
    return PolicyEntry(family, interval, _interval(entry["protocol"], EVERY_PROTOCOL), _interval(entry["ports"], EVERY_PORT))


def _interval(text, every):
    text = str(text)
    if text == "any":
        return every
    if text in KNOWN_PROTOCOLS:
        return (KNOWN_PROTOCOLS[text],) * 2
    first, _sep, last = text.partition("-")
    return (int(first), int(last or first))


@dataclass(frozen=True)
class PublishedView:
    """A published port in force (netns_info's "published"): host ports on host_ip (None: every address of the
    host) to a destination's ports, for the sources of allow_from (None: everyone)."""
    protocol: str
    family: int
    host_ip: Optional[str]
    published: int  # the first host port
    destination: str
    target: int  # the first container port
    allow_from: Optional[tuple] = None
    published_ports: str = ""  # the host ports as written ("8080", "9000-9002")
    target_ports: str = ""

    def text(self):
        """As the pictures say it: [host_ip:]ports->container ports/protocol."""
        host = "" if self.host_ip is None else (f"[{self.host_ip}]:" if ":" in self.host_ip else f"{self.host_ip}:")
        return f"{host}{self.published_ports}->{self.target_ports}/{self.protocol}"

    def lets_in(self, address):
        return self.allow_from is None or any(ipaddress.ip_address(str(address)) in ipaddress.ip_network(n)
                                              for n in self.allow_from)


@dataclass
class NamespaceView:
    links: List[LinkView] = field(default_factory=list)
    routes: List[RouteView] = field(default_factory=list)
    masquerade: List[str] = field(default_factory=list)  # the subnets our masquerade rules cover
    policy: Optional[PolicyView] = None  # a container's network policy in force
    published: List[PublishedView] = field(default_factory=list)  # the published ports in force (with nat)
    internal: List[str] = field(default_factory=list)  # the subnets of internal networks (with nat)

    def link(self, name):
        return next((link for link in self.links if link.name == name), None)

    def links_of(self, kind):
        return [link for link in self.links if link.kind == kind]

    @property
    def container_end(self):
        """A container's end of its veth (defaults.CONTAINER_END), or None."""
        return self.link(CONTAINER_END)

    @property
    def gateway_routes(self):
        """Routes via a gateway, less the default ones: routes to other hosts' subnets."""
        return [r for r in self.routes if r.gateway and not r.is_default]

    @property
    def underlay(self):
        """The link of the host's default route; without one, the first link that holds a global address and is
        neither a bridge, a bridge's port, an overlay device nor loopback."""
        default = next((r for r in self.routes if r.is_default and r.dev), None)
        if default is not None and self.link(default.dev) is not None:
            return self.link(default.dev)
        return next((link for link in self.links if link.managed_addresses and not link.master
                     and link.kind not in ("bridge", "vxlan", "loopback")), None)


@dataclass
class InfoView:
    """One host's netns_info result."""
    host: Optional[NamespaceView]
    namespaces: Dict[str, NamespaceView] = field(default_factory=dict)

    @classmethod
    def parse(cls, result, who):
        """The view of a registered result (None: an empty one); who names the host for messages."""
        if result is None:
            return cls(None)
        if not isinstance(result, dict):
            raise InvalidInput(f"{who}: a netns_info result must be a dict, not {type(result).__name__}")
        host = result.get("host")
        return cls(None if host is None else _namespace(host, f"{who}: host view"),
                   {name: _namespace(view, f"{who}: namespace '{name}'") for name, view in (result.get("namespaces") or {}).items()})


def _namespace(view, who):
    if not isinstance(view, dict):
        raise InvalidInput(f"{who}: must be a dict of links, routes and rules, not {type(view).__name__}")
    try:
        links = [_link(link) for link in view.get("links") or []]
        routes = [RouteView(str(r["dest"]), r.get("gateway"), r.get("dev")) for r in view.get("routes") or []]
    except (KeyError, TypeError, AttributeError) as exc:
        raise InvalidInput(f"{who}: a link or route lacks {exc} (is this a linuxns.net.netns_info result?)") from None
    internal = [str(f.get("source")) for f in view.get("forwarding") or [] if isinstance(f, dict) and f.get("internal")]
    return NamespaceView(links, routes, list(view.get("masquerade") or []), _policy(view.get("policy"), who),
                         _published(view.get("published"), who), internal)


def _published(entries, who):
    try:
        return [PublishedView(e["protocol"], int(e["family"]), e.get("host_ip"), int(str(e["published"]).split("-", maxsplit=1)[0]),
                              str(e["destination"]), int(str(e["target"]).split("-", maxsplit=1)[0]),
                              None if e.get("allow_from") is None else tuple(str(n) for n in e["allow_from"]),
                              str(e["published"]), str(e["target"]))
                for e in entries or []]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidInput(f"{who}: a published port is not one netns_info writes ({exc!r})") from None


def _link(link):
    peer = link.get("peer") or {}
    return LinkView(name=link["name"], kind=link.get("kind") or "", addresses=tuple(link.get("addresses") or ()),
                    mtu=link.get("mtu"), master=link.get("master"), group=link.get("group") or 0,
                    peer_name=peer.get("name"), peer_namespace=peer.get("namespace"), isolated=bool(link.get("isolated")))
