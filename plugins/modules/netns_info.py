#!/usr/bin/python
# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: netns_info
short_description: Read the links, addresses, routes, forwarding and NAT rules of network namespaces
version_added: 0.1.0
author:
  - linuxns.net contributors (@linuxns)
description:
  - Returns, for the module's own namespace and each named namespace, what C(ip -d link), C(ip addr),
    C(ip route) and the collection's own NAT rules would show, as data a playbook can assert on.
  - Each veth link names its peer and the namespace the peer is in.
extends_documentation_fragment:
  - linuxns.net.common
  - linuxns.net.common.read_only
seealso:
  - module: linuxns.net.container_network
    description: A whole bridge network in one call.
  - module: linuxns.net.netns
    description: Create and delete the namespaces the other modules work in.
options:
  namespaces:
    description:
      - Names of the namespaces to read. Omitted means every named network namespace.
      - Entries of C(/run/netns) that bind another kind of namespace are not network namespaces; naming one is an error.
    type: list
    elements: str
  ignore_missing:
    description: Leave out namespaces of O(namespaces) that do not exist, instead of failing.
    type: bool
    default: false
  host:
    description: Also read the module's own namespace (returned as RV(host)).
    type: bool
    default: true
  nat:
    description: Read the collection's NAT rules (runs C(nft) and C(iptables-save), a few ms per namespace).
    type: bool
    default: true
  policy:
    description:
      - Read each named namespace's network policy in force (a container's C(ingress) and C(egress), as
        M(linuxns.net.container_network) made them), as data. Needs C(nft) on the host; without it, V(null).
    type: bool
    default: true
    version_added: 2.0.0
  stats:
    description:
      - Also read what each namespace counted, for monitoring (see RV(namespaces)), that is every link's packets, bytes,
        errors and drops in each direction (from the link dump, no request per link), the conntrack table's fill and
        insert failures, and the packets and bytes refused by each kind of the collection's drop rules.
      - Cheap enough to run every minute on a host of 1,000 containers (see the benchmarks); O(nat=false) and
        O(policy=false) make it cheaper still, and P(linuxns.net.metrics#role) writes it for Prometheus.
    type: bool
    default: false
    version_added: 2.0.0
  fleet_member:
    description:
      - Return only what the C(linuxns.net.fleet_network) role's plan needs of this host (RV(fleet_member)),
        computed here from what is read, instead of the whole views (RV(namespaces) and RV(host) are then empty).
        The role reads each host this way, so that a host's part of the plan crosses the network small, and
        without a task on the controller per host.
      - Keys C(bridge), C(address) (the underlay address, either family), C(address6), C(state), C(vxlan_device)
        and C(containers) (the role's list), as P(linuxns.net.fleet_member#filter) takes them. The namespaces read
        are those containers', and O(namespaces) is not needed.
      - With C(name), the network's name, the read also compares the kernel with the network's last converge by
        M(linuxns.net.container_network) (the options it recorded, planned again unapplied) and returns
        RV(converged).
    type: dict
    version_added: 2.0.0
"""

EXAMPLES = r"""
- name: Read container c1
  linuxns.net.netns_info:
    namespaces: [c1]
    host: false
  register: info

- name: Its eth0 has the address the lab gave it
  ansible.builtin.assert:
    that: "'10.100.0.2/24' in (info.namespaces.c1.links | selectattr('name', 'eq', 'eth0') | first).addresses"
"""

RETURN = r"""
namespace_names:
  description: All named network namespaces.
  returned: always
  type: list
  elements: str
namespaces:
  description:
    - For each namespace read, C(links) (name, index, kind, state, operstate, mtu, mac, addresses, master, hairpin and
      isolated (of a bridge port), peer with name and namespace, bridge ports, device group and C(network) (the network
      a network's bridge belongs to)), C(routes), C(ip_forward),
      C(ipv6_forwarding), C(nat) (the collection's own rules, as text, a container's network policy included) and
      C(masquerade) (the subnets its masquerade rules cover, as data; with O(nat=true)).
    - >-
      With O(nat=true), also C(forwarding): per subnet whose forwarding rules are the collection's, what they put in
      force (C(source), C(gateway_mode) V(nat), V(routed) or V(nat-unprotected), C(icc), C(policy), whether a
      container of the network has a network policy, and C(internal)), read back from the rules' comments.
    - >-
      With O(nat=true), also C(published): each published port the collection's rules hold, as C(owner) (the network
      or port forward), C(protocol), C(family), C(host_ip) (V(null): every address of the host), C(published) (the
      host port or range), C(destination) and C(target) (the container's address and port or range) and
      C(allow_from) (V(null): every source; else the source ranges it lets in), read back from the rules.
    - >-
      With O(policy=true), each named namespace's C(policy) in force, read back from its table: V(null) when it has
      none, else C(ingress) and C(egress), each V(null) (no restriction) or the list of what it allows, as C(peer) (a
      range of one family: a prefix, an address, or C(first-last)), C(protocol) and C(ports) (a name, a number, a
      range, or V(any)). Replies to allowed connections always pass.
    - >-
      With O(stats=true), each link's C(stats) (C(rx_packets), C(tx_packets), C(rx_bytes), C(tx_bytes), C(rx_errors),
      C(tx_errors), C(rx_dropped), C(tx_dropped): the kernel's counters since the link was made, as the link counts
      them; a host end's C(rx) is what its container sent), the namespace's C(conntrack) (C(entries), C(limit),
      C(insert_failed); V(null) where conntrack is not loaded) and C(drops): per kind of the collection's drop rules
      (C(isolation), C(icc), C(direct-access), C(internal), C(allow-list) (new connections to a published port that its
      allow-list refused), C(policy)) and rule set (C(rule_set): V(forward:<subnet>), V(ports:<owner>) or
      V(policy:<network>)), the C(packets) and C(bytes) refused, with C(family) (V(null) for a policy, whose drops count
      both) and, for a policy, C(direction).
  returned: always
  type: dict
  sample:
    c1:
      ip_forward: false
      links:
        - {name: eth0, kind: veth, state: up, mtu: 1500, addresses: [10.100.0.2/24], peer: {name: veth-c1-br, namespace: null}}
      routes:
        - {dest: default, gateway: 10.100.0.1, dev: eth0, table: main, metric: 0, family: 4, scope: universe, proto: static}
      masquerade: []
      policy:
        ingress:
          - {peer: 10.244.0.0/16, protocol: tcp, ports: "80"}
        egress: null
fleet_member:
  description:
    - With O(fleet_member), the fleet plan's view of this host, as P(linuxns.net.fleet_member#filter) makes it.
  returned: when O(fleet_member) is given
  type: dict
  version_added: 2.0.0
converged:
  description:
    - With a C(name) in O(fleet_member), the token of that network's last converge by M(linuxns.net.container_network)
      when a converge of the same options would change nothing now, else an empty string (no record, or the kernel
      differs). Given to container_network as O(linuxns.net.container_network#module:converged), it lets the task
      skip the module run when the options are also the same.
  returned: when O(fleet_member) is given
  type: str
  sample: 3c6e0b8a5f...e1
  version_added: 2.0.0
host:
  description: The same view of the module's own namespace (peer namespace V(null) means this one).
  returned: when O(host=true)
  type: dict
  sample:
    forwarding:
      - {source: 10.88.0.0/24, gateway_mode: nat, icc: true, policy: false, internal: false}
    published:
      - {owner: "network:web", protocol: tcp, family: 4, host_ip: null, published: "8080", destination: 10.88.0.3,
         target: "80", allow_from: [198.51.100.0/24]}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.linuxns.net.plugins.module_utils._converged import converged_token
from ansible_collections.linuxns.net.plugins.module_utils._fleet_member import fleet_member_namespaces, fleet_member_read
from ansible_collections.linuxns.net.plugins.module_utils._info import gather
from ansible_collections.linuxns.net.plugins.module_utils._module import run


def main():
    module = AnsibleModule(argument_spec=dict(namespaces=dict(type="list", elements="str"),
                                              host=dict(type="bool", default=True),
                                              nat=dict(type="bool", default=True),
                                              ignore_missing=dict(type="bool", default=False),
                                              policy=dict(type="bool", default=True),
                                              stats=dict(type="bool", default=False),
                                              fleet_member=dict(type="dict")),
                           supports_check_mode=True)
    params = module.params
    request = params["fleet_member"]

    def read(session, check):
        namespaces = params["namespaces"] if request is None else fleet_member_namespaces(request)
        info = gather(session, namespaces, params["host"], params["nat"], params["ignore_missing"], params["policy"],
                      params["stats"])
        if request is None:
            return dict(changed=False, **info)
        converged = converged_token(session, request["name"]) if request.get("name") else ""
        return dict(changed=False, **fleet_member_read(info, request, converged))
    run(module, read)


if __name__ == "__main__":
    main()
