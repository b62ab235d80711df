# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The forwarding rule kind: which forwarded traffic of a subnet passes. Forward-accept (beside a DROP policy), the
isolation of networks from each other (Docker's isolation chains, as a device group match), the two drops that
make a network internal, direct-access protection (a network's gateway mode: who may reach its containers at their
own addresses) and ICC off (no traffic between the containers of one network through the host).

Direct-access protection drops what is forwarded into the network's bridge from another interface unless it is a
reply (established, related), a published port (DNAT), from a declared source (the fleet's own ranges, say), from a
bridge of a network that is not isolated (device group OPEN_GROUP, when this network is not isolated either), or, in
routed mode, to a published container port at the container's own address (with its allow-list). One rule per
subnet, with anonymous sets: the rules a packet meets do not grow with the number of containers or ports.

A kind of the firewall engine (_firewall.RuleSet); its key is "forward:<subnet>"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Optional, Tuple

from ansible_collections.linuxns.net.plugins.module_utils._firewall_backends import RuleTag
from ansible_collections.linuxns.net.plugins.module_utils._nftsets import (
    disjoint, element_text, network_interval, number_interval)
from ansible_collections.linuxns.net.plugins.module_utils._sysctl import FORWARDING


class OpenPort(NamedTuple):
    """A container port reachable at the container's own address (routed mode): from sources (None: any)."""
    destination: object  # an ipaddress address
    protocol: str
    ports: object  # a _ports.PortRange
    sources: Optional[Tuple] = None  # ipaddress networks of the destination's family

    def spec(self):
        return [str(self.destination), self.protocol, str(self.ports), [str(n) for n in self.sources or ()]]


POLICY_NOTE, ICC_OFF_NOTE, INTERNAL_NOTE = "policy", "icc-off", "internal"


def note_words(note):
    """A forwarding rule's note as its words (see ForwardRules.note)."""
    return set((note or "").split(","))


def forwarding_in_force(comments):
    """Per source subnet, what our forwarding rules say is in force, from their comments: the gateway mode
    (nat-unprotected where not protected), ICC and whether a container of the network has a network policy."""
    found = {}
    for comment in comments:
        tag = RuleTag.parse(comment)
        if tag is None or not tag.source.startswith("forward:"):
            continue
        words = note_words(RuleTag.note(comment))
        mode = next((m for m in ("nat", "routed") if m in words), "nat-unprotected")
        found[tag.source[len("forward:"):]] = {"source": tag.source[len("forward:"):], "gateway_mode": mode,
                                               "icc": ICC_OFF_NOTE not in words, "policy": POLICY_NOTE in words,
                                               "internal": INTERNAL_NOTE in words}
    return [found[k] for k in sorted(found)]


@dataclass
class ForwardRules:
    """The forwarding rules of one source subnet, validated."""
    namespace: Optional[str]
    source: object  # an ipaddress network
    bridge: Optional[str] = None  # the subnet's own interface (isolation and internal need it)
    forward_accept: bool = True
    isolation_group: Optional[int] = None  # None: not isolated
    internal: bool = False  # nothing forwarded between the bridge and any other interface
    protect: bool = False  # direct-access protection (gateway modes nat and routed)
    trusted: Tuple = ()  # ipaddress networks of this family that may reach the containers directly
    open_group: Optional[int] = None  # exempt from the protection: bridges of this group (networks not isolated)
    open_ports: Tuple = ()  # of OpenPort (routed mode)
    icc: bool = True  # False: nothing forwarded from the bridge back into it unless DNATed (ports isolated too)
    policy: bool = False  # some container of the network has a policy: the rules' comments say so (note "policy")
    gateway_mode: Optional[str] = None  # container_network's (nat, routed, nat-unprotected), for the note
    ip_forward: bool = True
    state: str = "present"
    backend: str = "auto"

    @property
    def key(self):
        return f"forward:{self.source}"

    @property
    def family(self):
        return self.source.version

    @property
    def empty(self):
        return not (self.forward_accept or self.isolation_group is not None or self.internal or self.protect
                    or not self.icc)

    @property
    def tag(self):
        spec = [self.bridge, self.forward_accept, self.isolation_group, self.internal]
        if self.protect or not self.icc:  # networks without either keep the tags of 1.0
            spec += [self.protect, [str(n) for n in self.trusted], self.open_group, [p.spec() for p in self.open_ports],
                     self.icc]
        if self.policy:
            spec.append("policy")
        if self.protect and self.gateway_mode:
            spec.append(self.gateway_mode)
        return RuleTag.of(self.key, spec)

    @property
    def note(self):
        """What is in force, in the rules' comments (read back by netns_info; "policy" also tells a later run to look
        for the containers' policies): the gateway mode where protected, icc-off, policy; None when none applies."""
        words = ([self.gateway_mode or "nat"] if self.protect else []) + ([] if self.icc else [ICC_OFF_NOTE]) \
            + ([POLICY_NOTE] if self.policy else []) + ([INTERNAL_NOTE] if self.internal else [])
        return ",".join(words) or None

    def _comment(self, tag):
        """The rules' comment: the tag, and the note."""
        return tag.with_note(self.note) if self.note else str(tag)

    def describe(self):
        return f"forwarding of {self.source}"

    def view(self):
        view = {"source": str(self.source), "forward_accept": self.forward_accept}
        if self.isolation_group is not None:
            view["isolation_group"] = self.isolation_group
        if self.internal:
            view["internal"] = True
        if self.protect:
            view["direct_access"] = {"protected": True, "from": [str(n) for n in self.trusted],
                                     "open_ports": [f"{p.destination} {p.protocol}/{p.ports}" + (
                                         f" from {','.join(str(n) for n in p.sources)}" if p.sources else "")
                                         for p in self.open_ports]}
        if not self.icc:
            view["icc"] = False
        return view

    def sysctls(self):
        return [] if not self.ip_forward or self.internal else [FORWARDING[self.family]]

    def check(self, context):
        """Nothing to check against the firewall's state."""

    def nft_rules(self, tag, table):
        fam = "ip" if self.family == 4 else "ip6"
        src, comment = f"{fam} saddr {self.source}", f'comment "{self._comment(tag)}"'
        if self.internal:
            # the drops inserted at the top, ahead of every network's accept rules; the accept of traffic from the
            # bridge to itself, as Docker's, for hosts whose FORWARD policy is DROP and whose bridges pass frames
            # through it (bridge-nf-call-iptables)
            return self._nft_protection(fam, table, comment) + [
                f'insert rule inet {table} forward {src} oifname != "{self.bridge}" counter drop {comment}',
                f'insert rule inet {table} forward {fam} daddr {self.source} iifname != "{self.bridge}" counter drop {comment}',
                f'add rule inet {table} forward iifname "{self.bridge}" oifname "{self.bridge}" accept {comment}']
        out = self._nft_protection(fam, table, comment)
        if self.isolation_group is not None:
            # inserted at the top, ahead of every network's accept rules; published ports (DNAT) pass
            out.append(f'insert rule inet {table} forward {src} oifgroup {self.isolation_group} '
                       f'oifname != "{self.bridge}" ct status & dnat == 0 counter drop {comment}')
        if self.forward_accept:
            out.append(f"add rule inet {table} forward {src} accept {comment}")
            out.append(f"add rule inet {table} forward {fam} daddr {self.source} accept {comment}")
        return out

    def _nft_protection(self, fam, table, comment):
        """Direct-access protection and ICC off: drops inserted at the top, ahead of every accept rule."""
        out = []
        if not self.icc:
            # routed between two containers of the network (one that set a route via the gateway, or every packet on
            # a host that passes bridged frames through the firewall); frames between them are stopped by port
            # isolation already
            nfproto = "ipv4" if self.family == 4 else "ipv6"
            out.append(f'insert rule inet {table} forward meta nfproto {nfproto} iifname "{self.bridge}" '
                       f'oifname "{self.bridge}" ct status & dnat == 0 counter drop {comment}')
        if not self.protect:
            return out
        match = (f'oifname "{self.bridge}" iifname != "{self.bridge}" {fam} daddr {self.source}'
                 + (f" iifgroup != {self.open_group}" if self.open_group is not None else "")
                 + " ct state != { established, related } ct status & dnat == 0")
        if self.trusted:
            match += f" {fam} saddr != {{ {', '.join(str(n) for n in self.trusted)} }}"
        if self.open_ports:
            elements = [element_text(box, (self.family, self.family, None, None)) for box in self._open_boxes()]
            match += f" {fam} saddr . {fam} daddr . meta l4proto . th dport != {{ {', '.join(elements)} }}"
        out.append(f"insert rule inet {table} forward {match} counter drop {comment}")
        return out

    def _open_boxes(self):
        """The open ports as disjoint (source, destination, protocol, ports) boxes: allow-lists may overlap."""
        anywhere = "0.0.0.0/0" if self.family == 4 else "::/0"
        return disjoint((network_interval(source), network_interval(p.destination), number_interval(p.protocol),
                         (p.ports.first, p.ports.last)) for p in self.open_ports for source in (p.sources or (anywhere,)))

    def _iptables_protection(self, comment, chains):
        """The same drops in iptables form: the declared sources and open ports as accepts ahead of the drop (an
        iptables rule cannot say "none of these"), kept from other isolated networks."""
        out = []
        fwd, bits = chains["forward"], 32 if self.family == 4 else 128
        if not self.icc:
            out.append(("filter", f"-I {fwd} 1 -i {self.bridge} -o {self.bridge} -m conntrack ! --ctstate DNAT "
                                  f"{comment} -j DROP"))
        if not self.protect:
            return out
        into = f"! -i {self.bridge} -o {self.bridge}"
        drop = f"-I {fwd} 1 {into} -d {self.source}"
        if self.open_group is not None:
            drop += f" -m devgroup ! --src-group {self.open_group}"
        out.append(("filter", f"{drop} -m conntrack ! --ctstate RELATED,ESTABLISHED -m conntrack ! --ctstate DNAT "
                              f"{comment} -j DROP"))
        # inserted after the drop, so above it; not for sources on the host's isolated networks, which isolation drops
        not_isolated = f" -m devgroup ! --src-group {self.isolation_group}" if self.isolation_group is not None else ""
        for network in self.trusted:
            out.append(("filter", f"-I {fwd} 1 {into} -s {network} -d {self.source}{not_isolated} {comment} -j ACCEPT"))
        for p in self.open_ports:
            for source in p.sources or (None,):
                from_ = f" -s {source}" if source is not None else ""
                out.append(("filter", f"-I {fwd} 1 {into}{from_} -d {p.destination}/{bits} -p {p.protocol} -m {p.protocol} "
                                      f"--dport {str(p.ports).replace('-', ':')}{not_isolated} {comment} -j ACCEPT"))
        return out

    def iptables_rules(self, tag, chains):
        src, comment = f"-s {self.source}", f'-m comment --comment "{self._comment(tag)}"'
        if self.internal:
            return self._iptables_protection(comment, chains) + [
                ("filter", f"-I {chains['forward']} 1 {src} ! -o {self.bridge} {comment} -j DROP"),
                ("filter", f"-I {chains['forward']} 1 -d {self.source} ! -i {self.bridge} {comment} -j DROP"),
                ("filter", f"-A {chains['forward']} -i {self.bridge} -o {self.bridge} {comment} -j ACCEPT")]
        out = self._iptables_protection(comment, chains)
        if self.isolation_group is not None:
            out.append(("filter", f"-I {chains['forward']} 1 {src} -m devgroup --dst-group {self.isolation_group} "
                                  f"! -o {self.bridge} -m conntrack ! --ctstate DNAT {comment} -j DROP"))
        if self.forward_accept:
            out.append(("filter", f"-A {chains['forward']} {src} {comment} -j ACCEPT"))
            out.append(("filter", f"-A {chains['forward']} -d {self.source} {comment} -j ACCEPT"))
        return out
