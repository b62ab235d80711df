# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The forwarding rule kind: which forwarded traffic of a subnet passes. Forward-accept (beside a DROP policy), the
isolation of networks from each other (Docker's isolation chains, as a device group match), and the two drops that
make a network internal.

A kind of the firewall engine (_firewall.RuleSet); its key is "forward:<subnet>"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ansible_collections.linuxns.net.plugins.module_utils._firewall_backends import RuleTag
from ansible_collections.linuxns.net.plugins.module_utils._sysctl import FORWARDING


@dataclass
class ForwardRules:
    """The forwarding rules of one source subnet, validated."""
    namespace: Optional[str]
    source: object  # an ipaddress network
    bridge: Optional[str] = None  # the subnet's own interface (isolation and internal need it)
    forward_accept: bool = True
    isolation_group: Optional[int] = None  # None: not isolated
    internal: bool = False  # nothing forwarded between the bridge and any other interface
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
        return not (self.forward_accept or self.isolation_group is not None or self.internal)

    @property
    def tag(self):
        return RuleTag.of(self.key, [self.bridge, self.forward_accept, self.isolation_group, self.internal])

    def describe(self):
        return f"forwarding of {self.source}"

    def view(self):
        view = {"source": str(self.source), "forward_accept": self.forward_accept}
        if self.isolation_group is not None:
            view["isolation_group"] = self.isolation_group
        if self.internal:
            view["internal"] = True
        return view

    def sysctls(self):
        return [] if not self.ip_forward or self.internal else [FORWARDING[self.family]]

    def check(self, context):
        """Nothing to check against the firewall's state."""

    def nft_rules(self, tag, table):
        fam = "ip" if self.family == 4 else "ip6"
        src, comment = f"{fam} saddr {self.source}", f'comment "{tag}"'
        if self.internal:
            # the drops inserted at the top, ahead of every network's accept rules; the accept of traffic from the
            # bridge to itself, as Docker's, for hosts whose FORWARD policy is DROP and whose bridges pass frames
            # through it (bridge-nf-call-iptables)
            return [f'insert rule inet {table} forward {src} oifname != "{self.bridge}" drop {comment}',
                    f'insert rule inet {table} forward {fam} daddr {self.source} iifname != "{self.bridge}" drop {comment}',
                    f'add rule inet {table} forward iifname "{self.bridge}" oifname "{self.bridge}" accept {comment}']
        out = []
        if self.isolation_group is not None:
            # inserted at the top, ahead of every network's accept rules; published ports (DNAT) pass
            out.append(f'insert rule inet {table} forward {src} oifgroup {self.isolation_group} '
                       f'oifname != "{self.bridge}" ct status & dnat == 0 drop {comment}')
        if self.forward_accept:
            out.append(f"add rule inet {table} forward {src} accept {comment}")
            out.append(f"add rule inet {table} forward {fam} daddr {self.source} accept {comment}")
        return out

    def iptables_rules(self, tag, chains):
        src, comment = f"-s {self.source}", f'-m comment --comment "{tag}"'
        if self.internal:
            return [("filter", f"-I {chains['forward']} 1 {src} ! -o {self.bridge} {comment} -j DROP"),
                    ("filter", f"-I {chains['forward']} 1 -d {self.source} ! -i {self.bridge} {comment} -j DROP"),
                    ("filter", f"-A {chains['forward']} -i {self.bridge} -o {self.bridge} {comment} -j ACCEPT")]
        out = []
        if self.isolation_group is not None:
            out.append(("filter", f"-I {chains['forward']} 1 {src} -m devgroup --dst-group {self.isolation_group} "
                                  f"! -o {self.bridge} -m conntrack ! --ctstate DNAT {comment} -j DROP"))
        if self.forward_accept:
            out.append(("filter", f"-A {chains['forward']} {src} {comment} -j ACCEPT"))
            out.append(("filter", f"-A {chains['forward']} -d {self.source} {comment} -j ACCEPT"))
        return out
