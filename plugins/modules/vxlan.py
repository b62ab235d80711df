#!/usr/bin/python
# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: vxlan
short_description: A VXLAN overlay device and its static peers (flannel's vxlan backend), in any network namespace
version_added: 0.2.0
author:
  - linuxns.net contributors (@linuxns)
description:
  - Creates a VXLAN device bound to this host's underlay address, without multicast and without learning, and
    keeps, for each peer host, a forwarding entry (its VTEP MAC to its underlay address), a permanent neighbour
    entry (its VTEP's overlay address to that MAC) and a route to each of its container subnets via that address,
    onlink through the device. This is what flannel's vxlan backend installs; M(linuxns.net.container_network)
    routes across routed underlays on top of it, and the C(linuxns.net.fleet_network) role builds it for a fleet.
  - A VTEP's MAC is derived from the VNI and its underlay address unless given, so that hosts need not exchange
    MACs, and a host rebuilt at the same address comes back with the same MAC.
  - Listed peers are made exact (a peer whose MAC or address changed has its old entries replaced); peers with
    C(state=absent) are forgotten; entries of peers that are not listed stay, unless O(purge_peers=true).
  - The VNI, port, local address and underlay device cannot be changed on a live device; a change recreates it
    (every peer's entries with it), and says so.
  - The MTU defaults to the underlay device's MTU less the encapsulation (50 bytes over IPv4, 70 over IPv6); a
    larger one is refused.
extends_documentation_fragment:
  - linuxns.net.common
  - linuxns.net.common.namespace
  - linuxns.net.common.attributes
seealso:
  - module: linuxns.net.container_network
    description: A whole bridge network, whose subnet the peers route to.
  - module: linuxns.net.netns_route
    description: Routes, for host-gw peers on a shared link.
options:
  name:
    description: Name of the VXLAN device (at most 15 characters).
    type: str
    required: true
  state:
    description: V(absent) deletes the device; the kernel removes its entries and routes with it.
    type: str
    choices: [present, absent]
    default: present
  vni:
    description: The VXLAN network identifier, 1 to 16777215. Required when O(state=present).
    type: int
  port:
    description: The UDP destination port.
    type: int
    default: 4789
  local:
    description:
      - This host's underlay address (IPv4 or IPv6), the source of the encapsulated packets. It must be an address
        of a link of the namespace. Required when O(state=present).
    type: str
  dev:
    description: The underlay link. Defaults to the link that holds O(local); when given, O(local) must be on it.
    type: str
  mtu:
    description: MTU of the device. Defaults to the underlay link's MTU less 50 (IPv4 underlay) or 70 (IPv6).
    type: int
  mac:
    description: MAC of the device. Defaults to the one derived from O(vni) and O(local) (returned as RV(mac)).
    type: str
  addresses:
    description:
      - The exact list of the device's addresses (CIDR), for example this host's VTEP overlay address
        V(10.244.1.0/32) (flannel gives the device its subnet's network address). Omit to leave them alone.
    type: list
    elements: str
  up:
    description: Set the device up or down.
    type: bool
    default: true
  peers:
    description: The other hosts of the overlay.
    type: list
    elements: dict
    default: []
    suboptions:
      address:
        description: The peer's underlay address (of the family of O(local)).
        type: str
        required: true
      mac:
        description: The peer's VTEP MAC. Defaults to the one derived from O(vni) and the peer's O(peers[].address).
        type: str
      vtep_addresses:
        description:
          - The peer VTEP's overlay addresses, at most one per family, the next hops of its subnets (flannel's
            choice is each subnet's network address).
        type: list
        elements: str
        default: []
      subnets:
        description: The peer's container subnets, routed via its VTEP address of the same family.
        type: list
        elements: str
        default: []
      state:
        description: V(absent) removes the peer's entries and routes.
        type: str
        choices: [present, absent]
        default: present
  purge_peers:
    description:
      - Remove the entries and routes of peers that O(peers) does not list. Leave it off when a play covers part of
        a fleet, so that the rest of the fleet keeps its entries.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: This host's end of the fleet's overlay, with two peers on other segments
  linuxns.net.vxlan:
    name: vxlan.fleet
    vni: 4096
    local: 198.51.100.11
    addresses: [10.244.0.0/32]
    peers:
      - address: 198.19.2.11
        vtep_addresses: [10.244.1.0]
        subnets: [10.244.1.0/24]
      - address: 198.19.2.12
        vtep_addresses: [10.244.2.0, "fd42:0:0:2::"]
        subnets: [10.244.2.0/24, "fd42:0:0:2::/64"]

- name: Forget a host that left the fleet
  linuxns.net.vxlan:
    name: vxlan.fleet
    vni: 4096
    local: 198.51.100.11
    peers:
      - {address: 198.19.2.11, state: absent, vtep_addresses: [10.244.1.0], subnets: [10.244.1.0/24]}
"""

RETURN = r"""
mac:
  description: The device's MAC, the one its peers need (derived from the VNI and O(local) unless O(mac) is given).
  returned: when O(state=present)
  type: str
  sample: 02:5c:0e:8a:41:9d
changes:
  description: What the run changed (or, in check mode, would change), one line per change.
  returned: always
  type: list
  elements: str
  sample: ["create vxlan 'vxlan.fleet' in the module's own namespace: vni 4096, local 198.51.100.11, port 4789, mtu 1450, mac 02:5c:0e:8a:41:9d"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.linuxns.net.plugins.module_utils._module import run
from ansible_collections.linuxns.net.plugins.module_utils._vxlan import VXLAN_OPTIONS, run_vxlan


def main():
    module = AnsibleModule(argument_spec=dict(VXLAN_OPTIONS, namespace=dict(type="str")), supports_check_mode=True,
                           required_if=[("state", "present", ("vni", "local"))])
    run(module, lambda session, check: run_vxlan(session, module.params, check))


if __name__ == "__main__":
    main()
