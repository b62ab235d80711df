#!/usr/bin/python
# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: metrics_textfile
short_description: Write the networks' counters as a Prometheus textfile for node_exporter, now and on a timer
version_added: 2.0.0
author:
  - linuxns.net contributors (@linuxns)
description:
  - Reads what M(linuxns.net.netns_info) reads with O(linuxns.net.netns_info#module:stats=true) (every interface of
    the host's networks, conntrack per namespace, what each kind of drop rule refused) and writes it in Prometheus'
    text format to O(path), for node_exporter's textfile collector, which cannot look into other network
    namespaces itself (prometheus/node_exporter#295).
  - The file is written whole or not at all (a temporary file in the same directory, then a rename), so a scrape
    never reads half of it.
  - >-
    Metric names: C(linuxns_net_interface_receive_bytes_total) and the other seven of node_exporter's
    C(node_network_*) counters, C(linuxns_net_interface_up), with labels C(host), C(network), C(container),
    C(interface) and C(side) (V(container): its own end; V(host): the host end, bridge or VXLAN device);
    C(linuxns_net_conntrack_entries), C(linuxns_net_conntrack_limit), C(linuxns_net_conntrack_insert_failed_total)
    (label C(container), none for the host's own table); C(linuxns_net_dropped_packets_total) and
    C(linuxns_net_dropped_bytes_total) with C(kind) (V(isolation), V(icc), V(direct-access), V(internal),
    V(allow-list), V(policy)), C(network), C(family) (V(ipv4), V(ipv6)), and for a policy C(container) and
    C(direction).
  - With O(schedule), also installs a systemd timer that rewrites the file at that interval without Ansible, that is
    C(/var/lib/linuxns-net/metrics.pyz) (the collection's core, zipped as the persist feature's rebuild program),
    C(linuxns-net-metrics.service) and C(linuxns-net-metrics.timer), enabled, and started now where systemd runs.
  - The role P(linuxns.net.metrics#role) runs this module on each host (and C(playbooks/metrics.yml) runs the role).
extends_documentation_fragment:
  - linuxns.net.common
attributes:
  check_mode:
    support: full
    description: Check mode reads the counters and says whether the file or the timer would change; it writes nothing.
  diff_mode:
    support: partial
    description: Shows the file's number of series and the timer's interval before and after, not each sample.
  idempotent:
    support: partial
    description: >-
      The file changes whenever a counter does: with no traffic in between, a second run reports no change. The
      timer's files are idempotent.
seealso:
  - module: linuxns.net.netns_info
    description: The same counters as data (O(linuxns.net.netns_info#module:stats=true)).
options:
  path:
    description:
      - The textfile to write, in node_exporter's C(--collector.textfile.directory) (Debian's package reads
        C(/var/lib/prometheus/node-exporter)). An absolute path ending in C(.prom); its directory must exist.
    type: path
    required: true
  host_label:
    description: The value of every series' C(host) label. Omitted means the host's name (C(hostname)).
    type: str
  namespaces:
    description:
      - The container namespaces to read. Omitted means the containers of the host's networks (the namespaces at the
        other end of a veth on a network's bridge).
    type: list
    elements: str
  schedule:
    description:
      - V(null) leaves the timer as it is (none, or the one an earlier run installed).
      - An interval as systemd writes it (V(30s), V(1min), V(5min); at least 10 s) installs or updates the timer
        that rewrites O(path) at that interval. V(off) removes the timer and its program.
    type: str
  state:
    description: V(absent) removes the file and the timer.
    type: str
    choices: [present, absent]
    default: present
"""

EXAMPLES = r"""
- name: Write the counters once, for node_exporter's textfile collector
  linuxns.net.metrics_textfile:
    path: /var/lib/prometheus/node-exporter/linuxns_net.prom
    host_label: "{{ inventory_hostname }}"

- name: And every 30 seconds from now on, without Ansible
  linuxns.net.metrics_textfile:
    path: /var/lib/prometheus/node-exporter/linuxns_net.prom
    host_label: "{{ inventory_hostname }}"
    schedule: 30s
"""

RETURN = r"""
series:
  description: The number of samples written (0 with O(state=absent)).
  returned: always
  type: int
  sample: 1350
read_seconds:
  description: How long reading the counters took, in seconds (V(null) with O(state=absent)).
  returned: always
  type: float
  sample: 0.084
changes:
  description: What the run changed (or would change, in check mode).
  returned: always
  type: list
  elements: str
  sample: ["write /var/lib/prometheus/node-exporter/linuxns_net.prom (metrics textfile ..., 1402 lines)"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.linuxns.net.plugins.module_utils._metrics import write_metrics
from ansible_collections.linuxns.net.plugins.module_utils._module import run


def main():
    module = AnsibleModule(argument_spec=dict(path=dict(type="path", required=True), host_label=dict(type="str"),
                                              namespaces=dict(type="list", elements="str"),
                                              schedule=dict(type="str"),
                                              state=dict(type="str", choices=["present", "absent"], default="present")),
                           supports_check_mode=True)
    params = module.params
    run(module, lambda session, check: write_metrics(
        session, params["path"], params["host_label"], params["namespaces"], check,
        schedule=False if params["schedule"] == "off" else params["schedule"], state=params["state"]), lock=False)


if __name__ == "__main__":
    main()
