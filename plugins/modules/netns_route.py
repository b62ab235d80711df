#!/usr/bin/python
# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: netns_route
short_description: Manage IPv4 and IPv6 routes in network namespaces
version_added: 0.1.0
author:
  - linuxns.net contributors (@linuxns)
description:
  - Adds, corrects and removes routes. A route is identified exactly by its destination, table and metric;
    its gateway, device, source, scope and onlink flag are corrected when they differ.
  - Routes that the kernel or another program owns (any protocol other than C(boot), what C(ip route add) uses,
    and C(static), what this module uses) are never rewritten or removed unless O(replace_foreign=true).
extends_documentation_fragment:
  - linuxns.net.common
  - linuxns.net.common.namespace
  - linuxns.net.common.attributes
seealso:
  - module: linuxns.net.veth
    description: Veth pairs across namespaces.
  - module: linuxns.net.netns_info
    description: Read back what the modules built.
  - module: linuxns.net.container_network
    description: A whole bridge network in one call.
options:
  dest:
    description: V(default) or a network in CIDR form (V(10.244.1.0/24), V(2001:db8::/64)). Required.
    type: str
  gateway:
    description:
      - Next hop. Must be on a connected network of the namespace (on O(dev), if given) unless O(onlink=true).
    type: str
  dev:
    description: Output device.
    type: str
  metric:
    description: Route metric (priority). Omitted means the kernel's default (0 for IPv4, 1024 for IPv6).
    type: int
  table:
    description: Routing table, V(main), V(local), V(default) or a number.
    type: str
    default: main
  scope:
    description: Route scope. Omitted means V(universe) with a gateway and V(link) without.
    type: str
    choices: [universe, global, site, link, host]
  onlink:
    description: Treat the gateway as on-link on O(dev) even if no address covers it.
    type: bool
    default: false
  src:
    description: Preferred source address.
    type: str
  state:
    description: V(absent) removes the route with this destination, table and metric.
    type: str
    choices: [present, absent]
    default: present
  replace_foreign:
    description: Allow rewriting or removing a route owned by the kernel or another program.
    type: bool
    default: false
  routes:
    description:
      - Many routes in one call.
        Each item takes the options above; an option an item leaves out is taken from the top-level options.
    type: list
    elements: dict
    suboptions:
      namespace:
        description: As the top-level O(namespace), which it inherits when left out.
        type: str
      dest:
        description: As the top-level O(dest), which it inherits when left out.
        type: str
      gateway:
        description: As the top-level O(gateway), which it inherits when left out.
        type: str
      dev:
        description: As the top-level O(dev), which it inherits when left out.
        type: str
      metric:
        description: As the top-level O(metric), which it inherits when left out.
        type: int
      table:
        description: As the top-level O(table), which it inherits when left out.
        type: str
      scope:
        description: As the top-level O(scope), which it inherits when left out.
        type: str
        choices: [universe, global, site, link, host]
      onlink:
        description: As the top-level O(onlink), which it inherits when left out.
        type: bool
      src:
        description: As the top-level O(src), which it inherits when left out.
        type: str
      state:
        description: As the top-level O(state), which it inherits when left out.
        type: str
        choices: [present, absent]
      replace_foreign:
        description: As the top-level O(replace_foreign), which it inherits when left out.
        type: bool
"""

EXAMPLES = r"""
- name: Default route of a container via its bridge gateway
  linuxns.net.netns_route:
    namespace: c1
    dest: default
    gateway: 10.100.0.1

- name: Routes to other hosts' container subnets (host-gw)
  linuxns.net.netns_route:
    routes:
      - {dest: 10.244.2.0/24, gateway: 198.51.100.12}
      - {dest: 10.244.3.0/24, gateway: 198.51.100.13}
"""

RETURN = r"""
changes:
  description: What the run changed (or, in check mode, would change), one line per change.
  returned: always
  type: list
  elements: str
  sample: ["add route 0.0.0.0/0 in namespace 'c1'"]
"""

from ansible_collections.linuxns.net.plugins.module_utils._module import run_batch_module
from ansible_collections.linuxns.net.plugins.module_utils._routes import run_routes

ITEM = dict(
    namespace=dict(type="str"),
    dest=dict(type="str"),
    gateway=dict(type="str"),
    dev=dict(type="str"),
    metric=dict(type="int"),
    table=dict(type="str", default="main"),
    scope=dict(type="str", choices=["universe", "global", "site", "link", "host"]),
    onlink=dict(type="bool", default=False),
    src=dict(type="str"),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    replace_foreign=dict(type="bool", default=False),
)


def main():
    run_batch_module(ITEM, "routes", "dest", run_routes)


if __name__ == "__main__":
    main()
