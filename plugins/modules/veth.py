#!/usr/bin/python
# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: veth
short_description: Manage veth pairs across network namespaces
version_added: 0.1.0
author:
  - linuxns.net contributors (@linuxns)
description:
  - Creates a veth pair with one end (O(name)) in O(namespace) and the other (O(peer)) in O(peer_namespace),
    creating the peer directly inside its namespace; sets MTU, MAC addresses, IP addresses, bridge master and
    link state on both ends.
  - An existing pair that matches is left alone; a differing pair is corrected where the kernel allows it (MTU,
    MAC, addresses, master, up). A name taken by a device that is not a veth, or a veth whose peer is another
    device, fails unless O(recreate=true).
extends_documentation_fragment:
  - linuxns.net.common
  - linuxns.net.common.attributes
options:
  name:
    description: Name of the end in O(namespace) (at most 15 characters). Required unless O(pairs) is given.
    type: str
  peer:
    description: Name of the other end, in O(peer_namespace). Required for V(present).
    type: str
  peer_namespace:
    description: Namespace of the peer end. Omitted means the same namespace as O(namespace).
    type: str
  state:
    description: V(absent) deletes the pair (deleting one end deletes both).
    type: str
    choices: [present, absent]
    default: present
  mtu:
    description: MTU of both ends.
    type: int
  mac:
    description: MAC address of the O(name) end.
    type: str
  peer_mac:
    description: MAC address of the peer end.
    type: str
  addresses:
    description:
      - The exact list of addresses (CIDR, for example V(10.0.0.1/24)) of the O(name) end. Addresses not listed
        are removed, except IPv6 link-local ones, which belong to the kernel. Omit to leave addresses alone.
    type: list
    elements: str
  peer_addresses:
    description: The exact list of addresses of the peer end, as for O(addresses).
    type: list
    elements: str
  master:
    description: Bridge (in O(namespace)) to enslave the O(name) end to.
    type: str
  up:
    description: Set both ends up (V(true)) or down (V(false)).
    type: bool
    default: true
  recreate:
    description: Replace a device that holds O(name) or O(peer) but is not this pair.
    type: bool
    default: false
  pairs:
    description:
      - Many pairs in one call, so that a role makes one call for any number of containers. Each item takes the
        options above (O(name), O(namespace), O(peer), O(peer_namespace), O(state), O(mtu), O(mac), O(peer_mac),
        O(addresses), O(peer_addresses), O(master), O(up), O(recreate)); options an item leaves out are taken from
        the top-level options.
    type: list
    elements: dict
"""

EXAMPLES = r"""
- name: Seed 004, two namespaces on one cable
  linuxns.net.veth:
    name: veth-red
    namespace: red
    addresses: [10.0.0.1/24]
    peer: veth-blue
    peer_namespace: blue
    peer_addresses: [10.0.0.2/24]

- name: Docker style, host end on a bridge, eth0 in each container
  linuxns.net.veth:
    master: br0
    pairs:
      - {name: veth-c1-br, peer: eth0, peer_namespace: c1, peer_addresses: [10.100.0.2/24]}
      - {name: veth-c2-br, peer: eth0, peer_namespace: c2, peer_addresses: [10.100.0.3/24]}
"""

RETURN = r"""
changes:
  description: What the run changed (or, in check mode, would change), one line per change.
  returned: always
  type: list
  elements: str
  sample: ["create veth 'veth-red' in namespace 'red' with peer 'veth-blue' in namespace 'blue'"]
"""

from ansible_collections.linuxns.net.plugins.module_utils._links import run_veth
from ansible_collections.linuxns.net.plugins.module_utils._module import run_batch_module

ITEM = dict(
    name=dict(type="str"),
    namespace=dict(type="str"),
    peer=dict(type="str"),
    peer_namespace=dict(type="str"),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    mtu=dict(type="int"),
    mac=dict(type="str"),
    peer_mac=dict(type="str"),
    addresses=dict(type="list", elements="str"),
    peer_addresses=dict(type="list", elements="str"),
    master=dict(type="str"),
    up=dict(type="bool", default=True),
    recreate=dict(type="bool", default=False),
)


def main():
    run_batch_module(ITEM, "pairs", "name", run_veth)


if __name__ == "__main__":
    main()
