#!/usr/bin/python
# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: netns_service
short_description: Run a systemd service in a container's network namespace, with the container's names
version_added: 2.0.0
author:
  - linuxns.net contributors (@linuxns)
description:
  - Binds a systemd service to a container (a named network namespace) with a drop-in,
    C(<unit_dir>/<unit>.d/50-linuxns-net.conf), that sets C(NetworkNamespacePath=/run/netns/<container>) and binds
    the container's C(/etc/netns/<container>/hosts) and C(resolv.conf) over C(/etc/hosts) and C(/etc/resolv.conf)
    where they exist (as C(ip netns exec) does; C(NetworkNamespacePath=) alone does not), and asserts that the
    namespace exists when the service starts.
  - The drop-in is the only file written, and the only one removed with O(state=absent); the unit itself is never
    edited. A drop-in of the same name that the collection did not write is refused.
  - When systemd runs and O(unit_dir) is C(/etc/systemd/system), a change reloads systemd's units
    (C(systemctl daemon-reload)); restarting the service is left to the playbook (a handler).
extends_documentation_fragment:
  - linuxns.net.common
  - linuxns.net.common.attributes
seealso:
  - module: linuxns.net.container_network
    description: The network the container is on (its hosts file is the one bound).
  - ref: ansible_collections.linuxns.net.docsite.workloads
    description: Workloads in the containers.
options:
  unit:
    description:
      - The service, as C(web) or C(web.service); C(web@.service) binds every instance of a template.
      - It must exist in O(unit_dir) or where systemd looks for units (C(/run/systemd/system),
        C(/usr/local/lib/systemd/system), C(/usr/lib/systemd/system), C(/lib/systemd/system)).
    type: str
  container:
    description: The container (named network namespace) the service runs in. Required with O(state=present).
    type: str
  state:
    description: V(present) writes the drop-in; V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  unit_dir:
    description:
      - Where the drop-in goes (an absolute path), for an image being built or a test; systemd reads
        C(/etc/systemd/system).
    type: path
    default: /etc/systemd/system
  services:
    description:
      - Many services in one call. Each item takes the options above; an option an item leaves out is taken from
        the top-level options.
    type: list
    elements: dict
    suboptions:
      unit:
        description: As the top-level O(unit).
        type: str
      container:
        description: As the top-level O(container).
        type: str
      state:
        description: As the top-level O(state), which it inherits when left out.
        type: str
        choices: [present, absent]
      unit_dir:
        description: As the top-level O(unit_dir), which it inherits when left out.
        type: path
"""

EXAMPLES = r"""
- name: Run web.service in container web1's namespace, with web1's names and resolver
  linuxns.net.netns_service:
    unit: web.service
    container: web1
  notify: Restart web

- name: Every instance of worker@.service in container jobs
  linuxns.net.netns_service:
    unit: worker@.service
    container: jobs

- name: Back in the host's namespace
  linuxns.net.netns_service:
    unit: web.service
    state: absent
"""

RETURN = r"""
changes:
  description: What the run changed, or would change in check mode.
  returned: always
  type: list
  elements: str
drop_ins:
  description: The drop-in of each service with O(state=present).
  returned: always
  type: dict
  sample: {"web.service": /etc/systemd/system/web.service.d/50-linuxns-net.conf}
"""

from ansible_collections.linuxns.net.plugins.module_utils._module import run_batch_module
from ansible_collections.linuxns.net.plugins.module_utils._service import UNIT_DIR, run_services

ITEM = dict(
    unit=dict(type="str"),
    container=dict(type="str"),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    unit_dir=dict(type="path", default=UNIT_DIR),
)


def main():
    run_batch_module(ITEM, "services", "unit", run_services)


if __name__ == "__main__":
    main()
