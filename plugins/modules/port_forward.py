#!/usr/bin/python
# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: port_forward
short_description: Publish ports of an address behind the host (Docker's -p), as DNAT rules the collection owns
version_added: 0.2.0
author:
  - linuxns.net contributors (@linuxns)
description:
  - Publishes ports of O(to) (a container's address) on the host, in Docker's C(-p) forms, for ad-hoc use and for
    namespaces that M(linuxns.net.container_network) did not make. That module publishes its containers' ports
    itself (the C(ports) of a container).
  - A published port answers from other hosts and containers at the host's addresses, from the host itself
    (also at C(127.0.0.1) when published on every address or on a loopback address), and from the container's own
    network (hairpin). Other hosts and other networks' containers keep their real source address; hairpin and
    loopback clients are masqueraded, as Docker does without its userland proxy.
  - The interface towards O(to) gets C(route_localnet=1) when C(127.0.0.1) must work, with a rule that drops new
    connections to C(127.0.0.0/8) arriving on that interface. Forwarded connections to the published ports are
    accepted even when the FORWARD policy is DROP (with the iptables backend, as for Docker's neighbours).
  - Two forwards claiming the same protocol and port on the same host address (or one on every address), or a
    port that a rule the collection does not own already forwards (Docker's C(DOCKER) chain, say), fail before any
    change, with a message naming both claimants.
  - A container reaching its own published port needs hairpin mode on its bridge port
    (O(linuxns.net.veth#module:hairpin)); M(linuxns.net.container_network) sets it.
  - IPv6 destinations work the same way, with C([2001:db8::11]:8080:80) forms. C([::1]) cannot be published, since
    IPv6 has no C(route_localnet) (Docker needs its userland proxy for it).
extends_documentation_fragment:
  - linuxns.net.common
  - linuxns.net.common.namespace
  - linuxns.net.common.attributes
seealso:
  - module: linuxns.net.container_network
    description: A whole bridge network, with its published ports, in one call.
  - module: linuxns.net.masquerade
    description: NAT and forwarding for a subnet.
  - ref: ansible_collections.linuxns.net.docsite.docker
    description: Each Docker networking command, and what replaces it.
options:
  name:
    description: Identifies the forward (and its rules). Required.
    type: str
  to:
    description: The address the ports are forwarded to. Required with O(state=present).
    type: str
  ports:
    description:
      - Published ports in Docker's forms, C(HOST_PORT:CONTAINER_PORT[/PROTOCOL]) with an optional host address in
        front, C(8080:80), C(8080:80/udp), C(127.0.0.1:8443:443), C(198.51.100.11:8080:80), and ranges of the same
        length, C(9000-9003:9000-9003). Protocols are C(tcp) (the default), C(udp) and C(sctp).
      - Quote each mapping. YAML reads an unquoted C(22:22) as the number 1342.
      - The host address must be one of the namespace's own addresses, or a loopback address.
      - >-
        Or a dict in compose's long syntax, C(target), C(published), C(host_ip), C(protocol), with C(allow_from), a
        list of the only source ranges the port answers (the host's own processes included, whose source through
        the loopback interface is C(127.0.0.1)). It must list a range of O(to)'s family.
        For example C({published: 8443, target: 443, allow_from: [198.51.100.0/24]}).
    type: list
    elements: raw
  backend:
    description: As for M(linuxns.net.masquerade).
    type: str
    choices: [auto, nftables, iptables]
    default: auto
  state:
    description: V(absent) removes the forward's rules.
    type: str
    choices: [present, absent]
    default: present
  forwards:
    description:
      - Many forwards in one call.
        Each item takes the options above; an option an item leaves out is taken from the top-level options.
    type: list
    elements: dict
    suboptions:
      namespace:
        description: As the top-level O(namespace), which it inherits when left out.
        type: str
      name:
        description: As the top-level O(name), which it inherits when left out.
        type: str
      to:
        description: As the top-level O(to), which it inherits when left out.
        type: str
      ports:
        description: As the top-level O(ports), which it inherits when left out.
        type: list
        elements: raw
      backend:
        description: As the top-level O(backend), which it inherits when left out.
        type: str
        choices: [auto, nftables, iptables]
      state:
        description: As the top-level O(state), which it inherits when left out.
        type: str
        choices: [present, absent]
requirements:
  - C(nft) (package nftables) or C(iptables) on the managed node.
"""

EXAMPLES = r"""
# Ad hoc (docker run -p 8080:80 ...):
#   ansible web1 -m linuxns.net.port_forward -a '{"name": "web", "to": "10.1.0.2", "ports": ["8080:80"]}'

- name: Publish a web server on every address of the host, and its admin port on 127.0.0.1 only
  linuxns.net.port_forward:
    name: web
    to: 10.1.0.2
    ports: ["8080:80", "127.0.0.1:8443:443"]

- name: A DNS server on one address of the host, UDP and TCP
  linuxns.net.port_forward:
    forwards:
      - {name: dns-udp, to: 10.1.0.3, ports: ["198.51.100.11:53:53/udp"]}
      - {name: dns-tcp, to: 10.1.0.3, ports: ["198.51.100.11:53:53/tcp"]}

- name: Stop publishing it
  linuxns.net.port_forward:
    name: web
    state: absent
"""

RETURN = r"""
changes:
  description: What the run changed (or, in check mode, would change), one line per change.
  returned: always
  type: list
  elements: str
  sample: ["update firewall rules in the module's own namespace (nftables): published ports of forward 'web'"]
backends:
  description: The backend used in each namespace (key V("") for the module's own namespace).
  returned: always
  type: dict
  sample: {"": "nftables"}
"""

from ansible_collections.linuxns.net.plugins.module_utils._module import run_batch_module
from ansible_collections.linuxns.net.plugins.module_utils._port_forward import run_port_forward

ITEM = dict(
    namespace=dict(type="str"),
    name=dict(type="str"),
    to=dict(type="str"),
    ports=dict(type="list", elements="raw"),
    backend=dict(type="str", choices=["auto", "nftables", "iptables"], default="auto"),
    state=dict(type="str", choices=["present", "absent"], default="present"),
)


def main():
    run_batch_module(ITEM, "forwards", "name", run_port_forward)


if __name__ == "__main__":
    main()
