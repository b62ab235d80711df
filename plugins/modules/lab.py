#!/usr/bin/python
# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: lab
short_description: A fleet of namespace hosts on this machine, reached over SSH, to test roles on
version_added: 0.2.0
author:
  - linuxns.net contributors (@linuxns)
description:
  - Starts, grows, shrinks, repairs and stops a lab of hosts on the machine it runs on (run it on the controller,
    as root). Each host is a process with its own network, mount and UTS namespaces (its own hostname, its own
    C(/run/netns) and C(/etc/netns), its own links, routes and firewall), an C(eth0) on an underlay switch, and sshd on its address,
    so that Ansible reaches it over real SSH. No container engine is needed; a host is up in milliseconds.
  - The switch is a bridge in a namespace of its own. The machine's own namespace gets exactly one veth to the
    switch, with the underlay's first address, and so one connected route; nothing else (no forwarding, no firewall
    rule). An C(upstream) host (the underlay's last address) stands in for the internet. The hosts' default route
    points at it, and its echo service (TCP 7007) answers each connection with the source address it saw, so a test
    can tell whether traffic was masqueraded.
  - Hosts share the machine's filesystem, so Ansible runs modules on them with the Python that runs this module;
    the inventory it writes sets C(ansible_python_interpreter) to it (see O(python)).
  - V(absent) stops exactly the processes the lab started (matched by PID and start time) and removes its switch
    namespace, its veth and its state directory; no namespace, link, mount, route or process of the lab is left.
  - The playbooks C(linuxns.net.molecule_create) and C(linuxns.net.molecule_destroy) run this module for a molecule
    scenario.
extends_documentation_fragment:
  - linuxns.net.common
  - linuxns.net.common.attributes
seealso:
  - ref: ansible_collections.linuxns.net.docsite.molecule
    description: Test your roles with molecule on a namespace fleet.
options:
  name:
    description: The lab's name, 1 to 8 lowercase letters and digits (the names of its links derive from it).
    type: str
    default: lnlab
  state:
    description: V(present) brings the lab to O(hosts); V(absent) stops it and removes everything it made.
    type: str
    choices: [present, absent]
    default: present
  hosts:
    description:
      - A count (1 to 1000; the hosts are then C(host1), C(host2), ...) or a list of host names (lowercase
        hostnames). A larger count or a longer list adds hosts, a smaller one stops the extra ones; hosts that stay
        keep their addresses and processes. Hosts take addresses from .11 of the underlay, so more than 243 need an
        underlay wider than a /24 (O(underlay=198.18.0.0/22) holds 1,000).
      - A host whose sshd died gets a new one; a host whose namespaces are gone is rebuilt at its address.
    type: raw
    default: 3
  underlay:
    description:
      - The underlay network, IPv4, at least a /28. Its first address goes to the machine's own end of the switch,
        hosts get addresses from its 11th on, the upstream host gets its last.
      - It must not be routed on the machine already (another lab, a real network); two labs at once need two
        names and two ranges.
    type: str
    default: 198.51.100.0/24
  underlay6:
    description:
      - The IPv6 underlay network, a /64 or larger. A host's IPv6 address in it is its IPv4 host number's
        digits, so that V(198.51.100.11) is also V(2001:db8:100::11). The upstream host has one too, and the hosts'
        IPv6 default route points at it. The machine's own end of the switch gets no IPv6 address.
      - Like O(underlay), it must not be routed on the machine already, and cannot change while the lab is up.
    type: str
    default: 2001:db8:100::/64
    version_added: 0.2.0
  segments:
    description:
      - The number of underlay segments. With more than one, the lab is routed, as a fleet across racks or sites
        is - host 1 on segment 1, host 2 on segment 2, and so on in turn. Segment 1 is O(underlay) and
        O(underlay6); segment k is the k-th /24 of O(segment_range) (V(198.19.2.0/24) for segment 2) and the k-th /64
        after O(underlay6) (V(2001:db8:100:2::/64)), each a switch of its own. A router joins them (its address is
        the segment's first, and O(underlay)'s second on segment 1); hosts on segment 1 route the other segments
        through it, hosts on the others have their default routes through it. Hosts on different segments share no
        link, so routes via each other's addresses (host-gw) do not work between them.
      - The machine's own namespace gets one route more, to O(segment_range) via the router, so that Ansible reaches
        every host.
      - Like O(underlay), it cannot change while the lab is up.
    type: int
    default: 1
    version_added: 0.2.0
  segment_range:
    description: The range the routed segments are carved from, at most a /20, apart from O(underlay).
    type: str
    default: 198.19.0.0/16
    version_added: 0.2.0
  upstream:
    description:
      - Start the upstream host (and point the hosts' default route at it).
      - Like O(underlay), it cannot change while the lab is up; stop the lab first.
    type: bool
    default: true
  inventory:
    description:
      - Also write the lab's Ansible inventory (groups C(lab_hosts) and C(lab_upstream)) to this path. It is always
        written to C(<state_dir>/<name>/inventory.yml).
    type: path
  python:
    description: The Python that Ansible uses on the lab hosts. Defaults to the one that runs this module.
    type: path
  state_dir:
    description: Where labs keep their keys, state, logs and inventory.
    type: path
    default: /run/linuxns-lab
  reboot:
    description:
      - >-
        Hosts to reboot, after the lab is as asked (always a change). As at a power cut, every process in the host's
        network namespace and in the namespaces it made is killed, and its namespaces, links and rules go with the
        last of them. Its own files stay: each host keeps its own C(/etc/netns), C(/etc/systemd/system) and
        C(/var/lib/linuxns-net) across reboots (and loses them when it leaves the lab).
      - >-
        The host comes back at its addresses with its MAC and sshd, and its enabled units (what
        C(multi-user.target) wants) run as systemd runs them at boot: the boot units of saved networks
        (M(linuxns.net.container_network) O(linuxns.net.container_network#module:persist=true)) first, then the
        services, with the settings of M(linuxns.net.netns_service)'s drop-ins. A unit setting the lab does not run
        as systemd would is refused by name.
    type: list
    elements: str
    default: []
    version_added: 2.0.0
notes:
  - Needs C(unshare) and C(nsenter) (util-linux), C(sshd) (openssh-server) and C(ssh-keygen) on the machine.
"""

EXAMPLES = r"""
- name: A lab of three hosts and an upstream, with an inventory for the next play
  linuxns.net.lab:
    name: demo
    hosts: 3
    inventory: "{{ playbook_dir }}/lab-inventory.yml"
  register: lab

- name: Named hosts on another range
  linuxns.net.lab:
    name: edge
    hosts: [router, web, db]
    underlay: 198.18.1.0/24

- name: Stop it
  linuxns.net.lab:
    name: demo
    state: absent
"""

RETURN = r"""
booted:
  description: What each rebooted host's boot ran, by unit; V(done) (a oneshot that succeeded), V(started) (a service), or the error.
  returned: when O(reboot) is set
  type: dict
  sample: {"host2": {"linuxns-net@app.service": "done", "web.service": "started"}}
hosts:
  description: Each host with its underlay addresses.
  returned: when O(state=present)
  type: dict
  sample: {"host1": {"address": "198.51.100.11", "address6": "2001:db8:100::11", "segment": 1},
           "host2": {"address": "198.19.2.11", "address6": "2001:db8:100:2::11", "segment": 2}}
upstream:
  description: The upstream host's addresses and echo port, or V(null) without one.
  returned: when O(state=present)
  type: dict
  sample: {"address": "198.51.100.254", "address6": "2001:db8:100::254", "echo_port": 7007}
key:
  description: The private key that reaches the hosts as root.
  returned: when O(state=present)
  type: str
  sample: /run/linuxns-lab/demo/id_ed25519
inventory:
  description: The inventory the lab keeps in its state directory.
  returned: when O(state=present)
  type: str
  sample: /run/linuxns-lab/demo/inventory.yml
underlay:
  description: The underlay network.
  returned: when O(state=present)
  type: str
  sample: 198.51.100.0/24
segments:
  description: The number of underlay segments.
  returned: when O(state=present)
  type: int
  sample: 2
  version_added: 0.2.0
underlay6:
  description: The IPv6 underlay network.
  returned: when O(state=present)
  type: str
  sample: 2001:db8:100::/64
  version_added: 0.2.0
changes:
  description: What the run changed (or, in check mode, would change), one line per change.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.linuxns.net.plugins.module_utils._lab.lab import run_lab
from ansible_collections.linuxns.net.plugins.module_utils._lab.spec import (
    DEFAULT_SEGMENT_RANGE, DEFAULT_STATE_DIR, DEFAULT_UNDERLAY, DEFAULT_UNDERLAY6)
from ansible_collections.linuxns.net.plugins.module_utils._module import run


def main():
    module = AnsibleModule(argument_spec=dict(
        name=dict(type="str", default="lnlab"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        hosts=dict(type="raw", default=3),
        underlay=dict(type="str", default=DEFAULT_UNDERLAY),
        underlay6=dict(type="str", default=DEFAULT_UNDERLAY6),
        segments=dict(type="int", default=1),
        segment_range=dict(type="str", default=DEFAULT_SEGMENT_RANGE),
        upstream=dict(type="bool", default=True),
        inventory=dict(type="path"),
        python=dict(type="path"),
        state_dir=dict(type="path", default=DEFAULT_STATE_DIR),
        reboot=dict(type="list", elements="str", default=[]),
    ), supports_check_mode=True)
    run(module, lambda session, check: run_lab(session, module.params, check))


if __name__ == "__main__":
    main()
