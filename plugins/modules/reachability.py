#!/usr/bin/python
# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: reachability
short_description: Prove the datapath, from inside namespaces, with ICMP, TCP and UDP probes in parallel
version_added: 0.2.0
author:
  - linuxns.net contributors (@linuxns)
description:
  - Sends probes from each source (a named namespace, or the module's own namespace) to each target, all at once,
    and reports a matrix of source, target, result and time. A probe's sockets are opened inside its source's
    namespace (the module's thread enters it and comes back); no program is started per probe.
  - Results are V(reachable) (an echo reply, a TCP connection, a UDP answer), V(refused) (the host answered that
    nothing listens on the port), V(unreachable) (an ICMP error, or no route) and V(timeout) (no answer, as a drop
    by an isolation rule gives).
  - With O(expect), the task fails exactly when a probe's result is not the expected one, and says which. A
    V(reachable) expectation is met by V(reachable) only; V(unreachable) by V(unreachable) or V(timeout). A
    V(refused) meets neither, since the packets got through but the service did not answer.
  - >-
    V(allowed) is met by V(reachable) or V(refused): the target's host answered, so every firewall on the way (a
    network policy, say) let the probe through, whether a service listens on the port or not.
  - >-
    V(denied) is met by anything but V(reachable): what a port that must not let the source in gives when a
    service listens behind it (the host refuses, or a firewall drops).
  - With O(serve), the module also answers TCP connections and UDP datagrams on ports of namespaces (a container's
    published ports, say), so that probes from another host can tell that container's port from its host's. It
    serves while its probes run, or O(serve_seconds) (run it with C(async) and probe from the other host meanwhile).
  - It changes nothing, so check mode runs the same probes.
extends_documentation_fragment:
  - linuxns.net.common
  - linuxns.net.common.read_only
seealso:
  - module: linuxns.net.netns_info
    description: Read what the network looks like.
  - ref: ansible_collections.linuxns.net.docsite.verify
    description: Verify a fleet's datapath and draw its topology.
options:
  sources:
    description:
      - Namespaces to probe from; V(null) (C(~) in YAML) is the module's own namespace (the host).
      - Every source probes every one of O(targets).
    type: list
    elements: raw
  targets:
    description: Targets of the O(sources), as addresses (ICMP) or dicts.
    type: list
    elements: raw
  probes:
    description: Single probes, each with its own source and expectation (for example a matrix a playbook computed).
    type: list
    elements: dict
    suboptions:
      source:
        description: A namespace, or V(null) for the module's own.
        type: str
      address:
        description: The target address, IPv4 or IPv6.
        type: str
        required: true
      proto:
        description: How to probe.
        type: str
        choices: [icmp, tcp, udp]
        default: icmp
      port:
        description: The TCP or UDP port (1 to 65535). A UDP target must answer a datagram to count as reachable.
        type: int
      expect:
        description: What the probe must find; unset, the probe is only reported.
        type: str
        choices: [reachable, unreachable, allowed, denied]
  expect:
    description: The expectation of every probe that does not set its own.
    type: str
    choices: [reachable, unreachable, allowed, denied]
  serve:
    description:
      - Ports to answer on, each in a namespace, on both families (IPv4 only where the namespace has no IPv6). Each
        TCP connection and UDP datagram gets a line of text back, and the client's address is noted in RV(served).
      - A port that something in the namespace already listens on is left to it (RV(served) says V(in use)).
    type: list
    elements: dict
    suboptions:
      namespace:
        description: A namespace, or V(null) for the module's own.
        type: str
      proto:
        description: The protocol.
        type: str
        choices: [tcp, udp]
        default: tcp
      port:
        description: The port, 1 to 65535.
        type: int
        required: true
  serve_seconds:
    description:
      - How long to serve O(serve), from the start (at most 600). Unset, the listeners serve while the probes run,
        or 10 seconds without probes.
    type: float
  timeout:
    description: How long to wait for answers, in seconds (all probes run at once, so this bounds the whole run).
    type: float
    default: 1.0
notes:
  - The elements of O(targets) are addresses or dicts with C(address), C(proto), C(port) and C(expect), as in
    O(probes).
"""

EXAMPLES = r"""
- name: The containers reach each other and the upstream's echo service; the host reaches them too
  linuxns.net.reachability:
    sources: [c1, c2, ~]
    targets:
      - 10.100.0.2
      - 10.100.0.3
      - {address: 198.51.100.254, proto: tcp, port: 7007}
    expect: reachable

- name: Two isolated networks cannot reach each other
  linuxns.net.reachability:
    sources: [blue1]
    targets: [10.30.0.2, 10.30.0.3]
    expect: unreachable
    timeout: 0.5

- name: Serve a container's published port for 20 seconds, while another host probes it
  linuxns.net.reachability:
    serve:
      - {namespace: web1, proto: tcp, port: 80}
    serve_seconds: 20
  async: 60
  poll: 0
"""

RETURN = r"""
matrix:
  description: One row per probe.
  returned: always
  type: list
  elements: dict
  sample:
    - {source: c1, address: 10.100.0.3, proto: icmp, port: null, result: reachable, ms: 0.1, expect: reachable, ok: true}
summary:
  description: One line, with the probes that were not as expected.
  returned: always
  type: str
  sample: "6 probes: 6 reachable; all as expected"
counts:
  description: Probes per result.
  returned: always
  type: dict
  sample: {"reachable": 6, "refused": 0, "unreachable": 0, "timeout": 0}
failed_probes:
  description: How many probes were not as expected.
  returned: always
  type: int
served:
  description: One row per listener of O(serve), with the addresses of the clients it answered.
  returned: always
  type: list
  elements: dict
  sample:
    - {namespace: web1, proto: tcp, port: 80, state: served, clients: ["198.51.100.254"]}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.linuxns.net.plugins.module_utils._module import run
from ansible_collections.linuxns.net.plugins.module_utils._reachability import EXPECTATIONS, PROBE_PROTOCOLS, run_reachability


def main():
    module = AnsibleModule(argument_spec=dict(
        sources=dict(type="list", elements="raw"),
        targets=dict(type="list", elements="raw"),
        probes=dict(type="list", elements="dict", options=dict(
            source=dict(type="str"),
            address=dict(type="str", required=True),
            proto=dict(type="str", choices=list(PROBE_PROTOCOLS), default="icmp"),
            port=dict(type="int"),
            expect=dict(type="str", choices=list(EXPECTATIONS)),
        )),
        expect=dict(type="str", choices=list(EXPECTATIONS)),
        timeout=dict(type="float", default=1.0),
        serve=dict(type="list", elements="dict", options=dict(
            namespace=dict(type="str"),
            proto=dict(type="str", choices=["tcp", "udp"], default="tcp"),
            port=dict(type="int", required=True),
        )),
        serve_seconds=dict(type="float"),
    ), supports_check_mode=True, required_together=[("sources", "targets")],
        required_one_of=[("sources", "probes", "serve")])
    # it changes nothing and may serve for minutes: it must not hold up the host's other runs
    run(module, lambda session, check: run_reachability(session, module.params, check), lock=False)


if __name__ == "__main__":
    main()
