#!/usr/bin/python
# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: bridge
short_description: Manage Linux bridges, their addresses and ports, in any network namespace
version_added: 0.1.0
author:
  - linuxns.net contributors (@linuxns)
description:
  - Creates a Linux bridge, gives it addresses (the gateway of a container subnet), sets MTU, STP and VLAN
    filtering, and enslaves ports; optionally releases ports that are not listed.
extends_documentation_fragment:
  - linuxns.net.common
  - linuxns.net.common.namespace
  - linuxns.net.common.attributes
seealso:
  - module: linuxns.net.veth
    description: Veth pairs across namespaces.
  - module: linuxns.net.masquerade
    description: NAT and forwarding for a subnet.
  - module: linuxns.net.container_network
    description: A whole bridge network in one call.
options:
  name:
    description: Name of the bridge (at most 15 characters). Required unless O(bridges) is given.
    type: str
  state:
    description: V(absent) deletes the bridge (its ports are released by the kernel, not deleted).
    type: str
    choices: [present, absent]
    default: present
  addresses:
    description:
      - The exact list of addresses of the bridge (CIDR). Others are removed, except IPv6 link-local ones.
        Omit to leave addresses alone.
    type: list
    elements: str
  mtu:
    description: MTU of the bridge.
    type: int
  stp:
    description: Turn the spanning tree protocol on or off. Omit to leave it as it is (off for a new bridge).
    type: bool
  vlan_filtering:
    description:
      - Turn VLAN filtering on or off. Omit to leave it as it is. Fails clearly on kernels built without it.
    type: bool
  ports:
    description: Links (in the same namespace) to enslave to the bridge.
    type: list
    elements: str
  purge_ports:
    description: Release ports of the bridge that O(ports) does not list.
    type: bool
    default: false
  group:
    description:
      - Device group of the bridge (C(ip link set ... group N)). The roles put every network's bridge in one group,
        which O(linuxns.net.masquerade#module:isolation_group) uses to keep networks apart.
    type: int
  up:
    description: Set the bridge up or down.
    type: bool
    default: true
  bridges:
    description:
      - Many bridges in one call.
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
      state:
        description: As the top-level O(state), which it inherits when left out.
        type: str
        choices: [present, absent]
      addresses:
        description: As the top-level O(addresses), which it inherits when left out.
        type: list
        elements: str
      mtu:
        description: As the top-level O(mtu), which it inherits when left out.
        type: int
      stp:
        description: As the top-level O(stp), which it inherits when left out.
        type: bool
      vlan_filtering:
        description: As the top-level O(vlan_filtering), which it inherits when left out.
        type: bool
      ports:
        description: As the top-level O(ports), which it inherits when left out.
        type: list
        elements: str
      purge_ports:
        description: As the top-level O(purge_ports), which it inherits when left out.
        type: bool
      group:
        description: As the top-level O(group), which it inherits when left out.
        type: int
      up:
        description: As the top-level O(up), which it inherits when left out.
        type: bool
"""

EXAMPLES = r"""
- name: A bridge br0 holding the containers' gateway address, 10.100.0.1
  linuxns.net.bridge:
    name: br0
    addresses: [10.100.0.1/24]

- name: A bridge inside a namespace, with exactly these ports
  linuxns.net.bridge:
    name: br-lab
    namespace: router
    ports: [veth-a, veth-b]
    purge_ports: true
"""

RETURN = r"""
changes:
  description: What the run changed (or, in check mode, would change), one line per change.
  returned: always
  type: list
  elements: str
  sample: ["create bridge 'br0' in the module's own namespace", "add address 10.100.0.1/24 to bridge 'br0' in the module's own namespace"]
"""

from ansible_collections.linuxns.net.plugins.module_utils._bridge import run_bridge
from ansible_collections.linuxns.net.plugins.module_utils._defaults import UP
from ansible_collections.linuxns.net.plugins.module_utils._module import run_batch_module

ITEM = dict(
    name=dict(type="str"),
    namespace=dict(type="str"),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    addresses=dict(type="list", elements="str"),
    mtu=dict(type="int"),
    stp=dict(type="bool"),
    vlan_filtering=dict(type="bool"),
    ports=dict(type="list", elements="str"),
    purge_ports=dict(type="bool", default=False),
    group=dict(type="int"),
    up=dict(type="bool", default=UP),
)


def main():
    run_batch_module(ITEM, "bridges", "name", run_bridge)


if __name__ == "__main__":
    main()
