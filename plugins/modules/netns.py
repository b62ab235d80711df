#!/usr/bin/python
# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: netns
short_description: Create, name and delete network namespaces
version_added: 0.1.0
author:
  - linuxns.net contributors (@linuxns)
description:
  - Creates and deletes named network namespaces as C(ip netns add) and C(ip netns del) do (bind mounts under
    C(/run/netns)), brings their loopback up, and sets their C(net.*) sysctls.
  - Can give a name to the network namespace of a running process (a Docker container, for example), like
    C(ip netns attach).
extends_documentation_fragment:
  - linuxns.net.common
  - linuxns.net.common.attributes
seealso:
  - module: linuxns.net.veth
    description: Veth pairs across namespaces.
  - module: linuxns.net.container_network
    description: A whole bridge network in one call.
  - module: linuxns.net.netns_info
    description: Read back what the modules built.
options:
  name:
    description:
      - Name or list of names of the namespaces. Required unless O(namespaces) is given.
      - Must not contain C(/) nor be C(.) or C(..).
    type: list
    elements: str
  state:
    description:
      - V(present) creates the namespace; V(absent) removes its name. A namespace that still holds processes lives
        on until they exit, and the module warns about it, unless O(stop_processes=true).
    type: str
    choices: [present, absent]
    default: present
  loopback:
    description: Bring C(lo) up inside the namespace (a new namespace has it down). V(false) leaves it as it is.
    type: bool
    default: true
  sysctls:
    description:
      - C(net.*) sysctls to set inside the namespace, for example C(net.ipv4.ip_forward=1).
      - Keys may use C(/) as separator when a part contains dots (C(net/ipv4/conf/eth0.10/forwarding)).
    type: dict
  pid:
    description:
      - Give the name to the network namespace of this process instead of creating a new one. If the name points
        to another namespace (the container restarted), it is moved to this one.
    type: int
  stop_processes:
    description:
      - With O(state=absent), stop the processes in the namespace before its name goes, as C(docker rm -f) does
        (SIGTERM, then SIGKILL after O(stop_timeout)), so that the namespace and its links go with it.
      - Check mode and the diff name them.
    type: bool
    default: false
    version_added: 2.0.0
  stop_timeout:
    description: Seconds between SIGTERM and SIGKILL with O(stop_processes=true) (0 to 3600).
    type: float
    default: 10
    version_added: 2.0.0
  namespaces:
    description:
      - Many namespaces in one call.
        Each item takes the options above (O(name) as one string); an option an item leaves out is taken from
        the top-level options.
    type: list
    elements: dict
    suboptions:
      name:
        description: As the top-level O(name), which it inherits when left out.
        type: str
      state:
        description: As the top-level O(state), which it inherits when left out.
        type: str
        choices: [present, absent]
      loopback:
        description: As the top-level O(loopback), which it inherits when left out.
        type: bool
      sysctls:
        description: As the top-level O(sysctls), which it inherits when left out.
        type: dict
      pid:
        description: As the top-level O(pid), which it inherits when left out.
        type: int
      stop_processes:
        description: As the top-level O(stop_processes), which it inherits when left out.
        type: bool
      stop_timeout:
        description: As the top-level O(stop_timeout), which it inherits when left out.
        type: float
"""

EXAMPLES = r"""
- name: Create two namespaces with forwarding on
  linuxns.net.netns:
    name: [red, blue]
    sysctls:
      net.ipv4.ip_forward: 1

- name: Name the network namespace of a running container
  linuxns.net.netns:
    name: web
    pid: "{{ container_pid }}"

- name: Remove them
  linuxns.net.netns:
    name: [red, blue]
    state: absent

- name: Remove one, stopping what still runs in it
  linuxns.net.netns:
    name: web
    state: absent
    stop_processes: true
    stop_timeout: 5
"""

RETURN = r"""
changes:
  description: What the run changed (or, in check mode, would change), one line per change.
  returned: always
  type: list
  elements: str
  sample: ["create namespace 'red'", "set lo up in namespace 'red'"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.linuxns.net.plugins.module_utils._module import batch_items, batch_spec, run
from ansible_collections.linuxns.net.plugins.module_utils._netns import run_netns

ITEM = dict(
    name=dict(type="str"),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    loopback=dict(type="bool", default=True),
    sysctls=dict(type="dict"),
    pid=dict(type="int"),
    stop_processes=dict(type="bool", default=False),
    stop_timeout=dict(type="float", default=10.0),
)


def main():
    spec = dict(batch_spec(ITEM, "namespaces"), name=dict(type="list", elements="str"))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True,
                           required_one_of=[("name", "namespaces")], mutually_exclusive=[("name", "namespaces")])
    params = dict(module.params)
    if params["name"] is not None:
        params["namespaces"] = [{"name": n} for n in params.pop("name")]
    run(module, lambda session, check: run_netns(session, batch_items(params, "namespaces", ITEM), check))


if __name__ == "__main__":
    main()
