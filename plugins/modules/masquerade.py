#!/usr/bin/python
# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: masquerade
short_description: Masquerade a container subnet and let its traffic be forwarded
version_added: 0.1.0
author:
  - linuxns.net contributors (@linuxns)
description:
  - Masquerades traffic from O(source) (the Docker form C(-s SUBNET ! -o BRIDGE -j MASQUERADE)), optionally
    accepts forwarded traffic from and to it, and turns IP forwarding on in the namespace.
  - Rules live only in objects the collection owns, each rule tagged with the comment
    C(linuxns.net <source> <hash>). With nftables, the table C(inet linuxns_net); with iptables, the chains
    C(LINUXNS-NET-NAT) (nat) and C(LINUXNS-NET-FWD) (filter), reached by one jump each from C(POSTROUTING) and
    C(FORWARD) (M(linuxns.net.port_forward) adds C(LINUXNS-NET-DNAT) and C(LINUXNS-NET-IN)). V(absent) removes
    only those rules, and the table or chains once they are empty.
  - With O(isolation_group), a connection that the host DNATed (a published port) to another network of the
    group is neither dropped nor masqueraded, so that the service sees its real client.
extends_documentation_fragment:
  - linuxns.net.common
  - linuxns.net.common.namespace
  - linuxns.net.common.attributes
seealso:
  - module: linuxns.net.bridge
    description: Bridges and their ports.
  - module: linuxns.net.container_network
    description: A whole bridge network in one call.
  - module: linuxns.net.netns_info
    description: Read back what the modules built.
options:
  source:
    description: The network (CIDR) whose traffic is masqueraded. Identifies the rule. Required.
    type: str
  out_interface:
    description: Masquerade only traffic leaving through this interface.
    type: str
  exclude_out_interface:
    description: Do not masquerade traffic leaving through this interface (Docker uses the bridge itself).
    type: str
  exclude_destinations:
    description: Networks that traffic from O(source) reaches without NAT (for example the cluster range).
    type: list
    elements: str
  ip_forward:
    description:
      - Set C(net.ipv4.ip_forward=1) (C(net.ipv6.conf.all.forwarding=1) for an IPv6 source) in the namespace.
        V(absent) never turns forwarding off, since other things may rely on it.
    type: bool
    default: true
  forward_accept:
    description:
      - Accept forwarded traffic from and to O(source), so that a host whose FORWARD policy is DROP (as Docker
        sets it) still forwards it. With nftables an accept cannot overrule a drop in another table, so on hosts
        whose iptables rules hold such a drop, V(auto) picks the iptables backend for this reason.
    type: bool
    default: true
  isolation_group:
    description:
      - Drop forwarded traffic from O(source) that would leave through another interface of this device group than
        O(exclude_out_interface) (the network's own bridge). With every network's bridge in one group
        (O(linuxns.net.bridge#module:group)), networks on one host cannot reach each other, as Docker's networks.
    type: int
  backend:
    description:
      - V(auto) uses the iptables variant (legacy or nft) that already holds rules in the namespace, else
        nftables, else iptables. iptables-legacy and nftables rules are never mixed in one namespace.
    type: str
    choices: [auto, nftables, iptables]
    default: auto
  state:
    description: V(absent) removes the collection's rules for O(source).
    type: str
    choices: [present, absent]
    default: present
  rules:
    description:
      - Many rules in one call.
        Each item takes the options above; an option an item leaves out is taken from the top-level options.
    type: list
    elements: dict
    suboptions:
      namespace:
        description: As the top-level O(namespace), which it inherits when left out.
        type: str
      source:
        description: As the top-level O(source), which it inherits when left out.
        type: str
      out_interface:
        description: As the top-level O(out_interface), which it inherits when left out.
        type: str
      exclude_out_interface:
        description: As the top-level O(exclude_out_interface), which it inherits when left out.
        type: str
      exclude_destinations:
        description: As the top-level O(exclude_destinations), which it inherits when left out.
        type: list
        elements: str
      ip_forward:
        description: As the top-level O(ip_forward), which it inherits when left out.
        type: bool
      forward_accept:
        description: As the top-level O(forward_accept), which it inherits when left out.
        type: bool
      isolation_group:
        description: As the top-level O(isolation_group), which it inherits when left out.
        type: int
      backend:
        description: As the top-level O(backend), which it inherits when left out.
        type: str
        choices: [auto, nftables, iptables]
      state:
        description: As the top-level O(state), which it inherits when left out.
        type: str
        choices: [present, absent]
requirements:
  - C(nft) (package nftables) or C(iptables) on the managed node.
"""

EXAMPLES = r"""
- name: Masquerade the containers' subnet 10.100.0.0/24 when it leaves through any link but its bridge br0
  linuxns.net.masquerade:
    source: 10.100.0.0/24
    exclude_out_interface: br0

- name: Fleet, no NAT inside the cluster range
  linuxns.net.masquerade:
    source: 10.244.1.0/24
    exclude_destinations: [10.244.0.0/16]
"""

RETURN = r"""
changes:
  description: What the run changed (or, in check mode, would change), one line per change.
  returned: always
  type: list
  elements: str
  sample:
    - "update firewall rules in the module's own namespace (nftables): masquerade of 10.100.0.0/24"
    - "set net.ipv4.ip_forward=1 in the module's own namespace"
backends:
  description: The backend used in each namespace (key V("") for the module's own namespace).
  returned: always
  type: dict
  sample: {"": "nftables"}
"""

from ansible_collections.linuxns.net.plugins.module_utils._masquerade import run_masquerade
from ansible_collections.linuxns.net.plugins.module_utils._module import run_batch_module

ITEM = dict(
    namespace=dict(type="str"),
    source=dict(type="str"),
    out_interface=dict(type="str"),
    exclude_out_interface=dict(type="str"),
    exclude_destinations=dict(type="list", elements="str"),
    ip_forward=dict(type="bool", default=True),
    forward_accept=dict(type="bool", default=True),
    isolation_group=dict(type="int"),
    backend=dict(type="str", choices=["auto", "nftables", "iptables"], default="auto"),
    state=dict(type="str", choices=["present", "absent"], default="present"),
)


def main():
    run_batch_module(ITEM, "rules", "source", run_masquerade)


if __name__ == "__main__":
    main()
