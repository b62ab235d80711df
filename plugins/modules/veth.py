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
  - linuxns.net.common.namespace
  - linuxns.net.common.attributes
seealso:
  - module: linuxns.net.netns
    description: Create and delete the namespaces the other modules work in.
  - module: linuxns.net.bridge
    description: Bridges and their ports.
  - module: linuxns.net.container_network
    description: A whole bridge network in one call.
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
  hairpin:
    description:
      - Hairpin mode of the O(name) end's bridge port (C(bridge link set dev NAME hairpin on)), so that a frame can
        leave by the port it came in on. A container reaching its own published port needs it. Needs O(master).
      - Unset leaves the mode as it is.
    type: bool
    version_added: 0.2.0
  isolated:
    description:
      - Port isolation of the O(name) end's bridge port (C(bridge link set dev NAME isolated on)). An isolated port
        exchanges frames only with ports that are not isolated and with the bridge itself, never with another
        isolated port. M(linuxns.net.container_network) sets it on every container's port for O(linuxns.net.container_network#module:icc=false).
        Needs O(master).
      - Unset leaves the setting as it is.
    type: bool
    version_added: 2.0.0
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
      - Many pairs in one call, so that a role makes one call for any number of containers.
        Each item takes the options above; an option an item leaves out is taken from the top-level options.
    type: list
    elements: dict
    suboptions:
      name:
        description: As the top-level O(name), which it inherits when left out.
        type: str
      namespace:
        description: As the top-level O(namespace), which it inherits when left out.
        type: str
      peer:
        description: As the top-level O(peer), which it inherits when left out.
        type: str
      peer_namespace:
        description: As the top-level O(peer_namespace), which it inherits when left out.
        type: str
      state:
        description: As the top-level O(state), which it inherits when left out.
        type: str
        choices: [present, absent]
      mtu:
        description: As the top-level O(mtu), which it inherits when left out.
        type: int
      mac:
        description: As the top-level O(mac), which it inherits when left out.
        type: str
      peer_mac:
        description: As the top-level O(peer_mac), which it inherits when left out.
        type: str
      addresses:
        description: As the top-level O(addresses), which it inherits when left out.
        type: list
        elements: str
      peer_addresses:
        description: As the top-level O(peer_addresses), which it inherits when left out.
        type: list
        elements: str
      master:
        description: As the top-level O(master), which it inherits when left out.
        type: str
      hairpin:
        description: As the top-level O(hairpin), which it inherits when left out.
        type: bool
      isolated:
        description: As the top-level O(isolated), which it inherits when left out.
        type: bool
        version_added: 2.0.0
      up:
        description: As the top-level O(up), which it inherits when left out.
        type: bool
      recreate:
        description: As the top-level O(recreate), which it inherits when left out.
        type: bool
"""

EXAMPLES = r"""
- name: Two namespaces, red and blue, joined by one cable (a veth pair) on 10.0.0.0/24
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

from ansible_collections.linuxns.net.plugins.module_utils._veth import run_veth
from ansible_collections.linuxns.net.plugins.module_utils._defaults import UP
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
    hairpin=dict(type="bool"),
    isolated=dict(type="bool"),
    up=dict(type="bool", default=UP),
    recreate=dict(type="bool", default=False),
)


def main():
    run_batch_module(ITEM, "pairs", "name", run_veth)


if __name__ == "__main__":
    main()
