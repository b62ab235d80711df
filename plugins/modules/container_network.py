#!/usr/bin/python
# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: container_network
short_description: A whole Docker-style bridge network, with its containers, in one call
version_added: 0.1.0
author:
  - linuxns.net contributors (@linuxns)
description:
  - Builds, in one module run, what Docker builds for a bridge network. A bridge with the gateway address, one
    network namespace per container (C(lo) up), a veth per container (C(eth0) inside, with the container's address,
    and a deterministic 13-character name on the bridge), each container's default route via the gateway, and
    IP forwarding, masquerade and isolation for the subnet.
  - It does what M(linuxns.net.bridge), M(linuxns.net.netns), M(linuxns.net.veth), M(linuxns.net.netns_route) and
    M(linuxns.net.masquerade) do, with the same code, in one plan. One module call for any number of containers
    is what the C(linuxns.net.bridge_network) role uses.
  - Addresses are stable. A container keeps the address its interface already has, a fixed C(address) is honoured,
    and the other containers get the lowest free addresses. A full subnet, an address outside it, a duplicate
    container or a bad name fails before anything changes.
  - Published ports (C(docker run -p)), as M(linuxns.net.port_forward) makes them, from each container's C(ports).
  - Internal networks (C(docker network create --internal)) with O(internal).
  - Several networks per container (C(docker network connect)), one interface each, with a container's C(interface)
    and C(default_route). A network only touches its own interface of a container; a container's namespace goes
    with the last network it is on.
  - Names (the containers of a network resolve each other's names) with O(hosts_file).
extends_documentation_fragment:
  - linuxns.net.common
  - linuxns.net.common.attributes
seealso:
  - module: linuxns.net.netns
    description: Create and delete the namespaces the other modules work in.
  - module: linuxns.net.veth
    description: Veth pairs across namespaces.
  - module: linuxns.net.bridge
    description: Bridges and their ports.
  - module: linuxns.net.netns_route
    description: Routes in namespaces.
  - module: linuxns.net.masquerade
    description: NAT and forwarding for a subnet.
  - ref: ansible_collections.linuxns.net.docsite.roles
    description: The roles that call this module.
options:
  name:
    description:
      - Name of the network (for messages, the default bridge name, the bridge's owner and the blocks of the
        containers' hosts files).
      - Printable, without whitespace or control characters, at most 200 characters.
    type: str
    required: true
  bridge:
    description: >-
      Bridge name, at most 15 characters. Defaults to C(br-) and the first 12 characters of O(name). The bridge names
      its network in its alias (C(linuxns.net network <name>)). A bridge of another network is refused, naming both
      networks, present or absent; a bridge without that alias (made by an older release, or by hand) is adopted only
      if it holds no address outside the network's subnets.
    type: str
  subnet:
    description:
      - The network's IPv4 subnet in CIDR form. It identifies the NAT rules, so give it for both states.
      - O(subnet), O(subnet6) or both are required; without O(subnet) the network is IPv6-only.
    type: str
  gateway:
    description: The bridge's address. Defaults to the subnet's first address.
    type: str
  subnet6:
    description:
      - The network's IPv6 subnet in CIDR form (dual-stack beside O(subnet), or IPv6-only), for example a unique
        local V(fd42:0:0:1::/64). Link-local and multicast ranges, prefixes longer than /126, and a range that
        overlaps an address of another link of the host are refused.
      - Containers get stable addresses by the same rules as IPv4 (kept, fixed C(address6), else the lowest free),
        an IPv6 default route via O(gateway6), and their addresses are usable at once (no duplicate address
        detection, as the CNI bridge plugin does; the plan rules out duplicates). The kernel's link-local and
        autoconfigured addresses stay the kernel's.
    type: str
    version_added: 0.2.0
  gateway6:
    description: The bridge's IPv6 address. Defaults to the IPv6 subnet's first address (C(::1)).
    type: str
    version_added: 0.2.0
  masquerade6:
    description:
      - Masquerade IPv6 traffic from O(subnet6) that leaves through another interface than the bridge. Defaults to
        V(true), as Docker does for IPv6 networks since it manages ip6tables by default (Docker 27), and to
        V(false) with O(gateway_mode6=routed), which cannot be combined with V(true). Set V(false) for globally
        routed prefixes, which need no NAT.
    type: bool
    version_added: 0.2.0
  mtu:
    description: MTU of the bridge and the veth pairs.
    type: int
  containers:
    description:
      - The containers, each with a C(name) and an optional fixed C(address). The role
        P(linuxns.net.bridge_network#role) also takes plain names.
      - The list is the network's whole membership, as C(connected) is in C(community.docker.docker_network). A
        container attached to the network but not listed leaves it, as one listed with C(state=absent) does. Its
        interface, published ports and names in this network go, and its namespace too when this was its last
        network. With O(state=absent), every container of the network leaves, listed or not.
      - In an ad-hoc command, pass the arguments as one JSON object after C(-a) (see the examples), since key=value
        text splits a list at its commas.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - The container's name, which is also the name of its network namespace. Docker's rule applies, a letter
            or digit, then letters, digits, C(_), C(.) and C(-), at most 63 characters (a DNS label's length).
        type: str
        required: true
      address:
        description: A fixed address in O(subnet) (without prefix). Unset keeps the address the container has, or
          gives it the lowest free one.
        type: str
      address6:
        description: A fixed address in O(subnet6) (without prefix), as C(address) is for IPv4.
        type: str
        version_added: 0.2.0
      interface:
        description:
          - The container's interface in this network. A container on a second network gets another one, say
            C(eth1). Two networks claiming the same interface of a container fail.
        type: str
        default: eth0
        version_added: 0.2.0
      default_route:
        description:
          - Give the container its default route via this network's gateway. Defaults to V(true) for C(eth0) and
            V(false) for other interfaces. A second network cannot take over the default route of the first; set
            it to V(false) in the first network before.
        type: bool
        version_added: 0.2.0
      ports:
        description:
          - Published ports, in Docker's C(-p) forms, as M(linuxns.net.port_forward)'s O(linuxns.net.port_forward#module:ports),
            for example V(8080:80), V(8080:80/udp), V(127.0.0.1:8443:443), V(198.51.100.11:8080:80) or
            V(9000-9003:9000-9003). Quote them.
          - Or, as in compose's long syntax, a dict with C(target) (the container port or range), C(published) (the
            host port or range), C(host_ip) and C(protocol), and our C(allow_from), a list of source ranges of either
            family. A port with C(allow_from) answers those sources only; every other client, the host's own
            processes through C(127.0.0.1) included, gets nothing from it. A family with no range listed is not
            published on that family.
          - With O(gateway_mode=routed) (or O(gateway_mode6=routed) for IPv6), nothing is published on the host's
            addresses; the container port is opened at the container's own address instead (the host port is not
            used), as Docker's routed mode does.
          - Not allowed on an internal network.
        type: list
        elements: raw
        version_added: 0.2.0
      ingress:
        description:
          - Network policy, as Kubernetes' C(NetworkPolicy) ingress. Unset, the container accepts anything that
            reaches it. Set, it accepts only what one of its rules allows (a list with no rule allows nothing);
            replies to its own connections, its loopback and IPv6 neighbour discovery always pass.
          - >-
            Each rule is a dict with C(from), a list of peers, and C(ports). A peer is a container of this network
            (its name, or C({container: NAME})), a network (C({network: NAME}), this one or another network of the
            host, by name, or a name in O(policy_peers)), or an address range (C(10.1.0.0/16), or
            C({cidr: 10.1.0.0/16})). C(from) left out means every peer.
          - C(ports) is a list of C(80/tcp), C(53/udp), C(8000-8080/tcp), C(443) (TCP) or C(udp) (every UDP port);
            left out, every protocol and port, ICMP included.
          - Clients of a published port keep their own address (other hosts, other networks), so the rules must
            allow them; a container of the same network that reaches a published port arrives from the gateway.
          - Enforced in the container's own namespace (table C(inet linuxns_net_policy)), with nftables. A
            container's policy is given in one of its networks only.
        type: list
        elements: dict
        version_added: 2.0.0
      egress:
        description:
          - As O(containers[].ingress), for what the container sends, with C(to) instead of C(from).
        type: list
        elements: dict
        version_added: 2.0.0
      mac:
        description:
          - The MAC address of the container's interface in this network (C(docker run --mac-address)). Unset, the
            kernel gives a random one when the interface is made, and it is left as it is.
          - Unique on the network; not multicast, not zero.
        type: str
        version_added: 2.0.0
      aliases:
        description:
          - More names of the container on this network (C(docker network connect --alias)), in the hosts files of
            the network's containers beside its name. They resolve on this network only.
          - An alias that is the name or an alias of another container of the network is refused.
        type: list
        elements: str
        version_added: 2.0.0
      sysctls:
        description:
          - C(net.*) sysctls of the container's namespace (C(docker run --sysctl)), set once its interface exists, so
            that a key may name it (C(net.ipv6.conf.eth0.accept_ra)). Keys the kernel does not have are refused
            before any change.
          - Set a key in one network only; a container on two networks gets each network's values in turn.
        type: dict
        version_added: 2.0.0
      dns:
        description:
          - >-
            The container's resolver (C(docker run --dns --dns-search --dns-option)), written to
            C(/etc/netns/<container>/resolv.conf), which C(ip netns exec) and M(linuxns.net.netns_service) bind over
            C(/etc/resolv.conf). Left out, the container keeps the host's resolver, and a file this network wrote is
            removed.
          - One network sets a container's resolver; a file of another network, or one the collection did not
            write, is refused and left as it is.
        type: dict
        version_added: 2.0.0
        suboptions:
          nameservers:
            description: Up to three addresses.
            type: list
            elements: str
          search:
            description: Search domains.
            type: list
            elements: str
          options:
            description: Resolver options (C(ndots:2), C(timeout:1), C(rotate)).
            type: list
            elements: str
      mtu:
        description:
          - The MTU of the container's interface in this network, when it differs from the network's (O(mtu), or
            1500). Not above the network's. The host end keeps the network's MTU, so the bridge keeps its own; a
            frame to the container larger than its MTU is dropped on the way in (TCP adapts through its MSS).
        type: int
        version_added: 2.0.0
      bandwidth:
        description:
          - >-
            Rate limits, as the CNI bandwidth plugin sets them (Docker has none: moby#26767). On the host end of the
            container's veth: C(ingress) (into the container) is a token bucket (C(tbf)) as its root qdisc;
            C(egress) (out of the container) is redirected to an C(ifb) device of the container's with the token
            bucket. Queued packets wait at most 25 ms; beyond that they are dropped, as from a full link.
          - Left out, no limit, and limits set before are removed exactly.
        type: dict
        version_added: 2.0.0
        suboptions:
          ingress:
            description: What the container may receive, as tc writes a rate (V(10mbit), V(1gbit), V(500kbps) for
              bytes per second); a bare number is bits per second.
            type: str
          egress:
            description: What the container may send, as C(ingress).
            type: str
          burst:
            description: The bucket's size, as tc writes a size (V(64kb), V(1mb)); by default 20 ms at the rate, at
              least 64 KiB (a veth passes 64 KiB segments).
            type: str
      state:
        description:
          - V(absent) takes the container off this network (C(docker network disconnect)). Its interface in this
            network goes, and its namespace too when it is on no other network.
        type: str
        choices: [present, absent]
        default: present
        version_added: 0.2.0
  masquerade:
    description:
      - Masquerade traffic from the subnet that leaves through another interface than the bridge. Defaults to
        V(true), and to V(false) with O(gateway_mode=routed), which cannot be combined with V(true).
    type: bool
  gateway_mode:
    description:
      - Who may reach the containers at their own IPv4 addresses, with Docker 28's values
        (C(com.docker.network.bridge.gateway_mode_ipv4)).
      - V(nat) (the default since 2.0.0) lets in, from outside the network's bridge, only replies, published ports
        (on the host's addresses) and the sources in O(direct_access_from); a neighbour that routes the subnet via
        this host reaches nothing else, on any port. Containers of networks that are not isolated (O(isolated=false))
        reach each other when both are not isolated.
      - V(nat-unprotected) lets in whatever is routed to the containers (the behaviour before 2.0.0).
      - V(routed) masquerades nothing; the published container ports are reachable at the container's own address
        (with their C(allow_from)), and nothing else.
      - Not with O(internal=true), which lets nothing in in any mode.
    type: str
    choices: [nat, nat-unprotected, routed]
    default: nat
    version_added: 2.0.0
  gateway_mode6:
    description: As O(gateway_mode), for IPv6 (C(com.docker.network.bridge.gateway_mode_ipv6)).
    type: str
    choices: [nat, nat-unprotected, routed]
    default: nat
    version_added: 2.0.0
  direct_access_from:
    description:
      - Source ranges, of either family, that may reach the containers at their own addresses, on any port, whatever
        the gateway mode. The role P(linuxns.net.fleet_network#role) lists the fleet's own ranges here, so that
        containers on different hosts reach each other.
    type: list
    elements: str
    default: []
    version_added: 2.0.0
  policy_peers:
    description:
      - >-
        Names that the containers' O(containers[].ingress) and O(containers[].egress) rules may use beyond this host,
        each with its address ranges, for example C({fleet: [10.244.0.0/16], db-on-host2: [10.244.2.7/32]}).
        The role P(linuxns.net.fleet_network#role) passes its network's name with the fleet's ranges. A name here
        wins over a container or network of the same name on this host.
    type: dict
    default: {}
    version_added: 2.0.0
  icc:
    description:
      - Inter-container communication (C(com.docker.network.bridge.enable_icc)). V(false) keeps the network's
        containers from reaching each other on either family, at layer 2 too; each container's bridge port is
        isolated (C(bridge link set dev PORT isolated on)), and traffic routed from the bridge back into it is
        dropped unless it is for a published port. The containers still reach the gateway, the outside, other
        networks as isolation allows, and published ports.
    type: bool
    default: true
    version_added: 2.0.0
  masquerade_exclude:
    description: Destinations that the subnet reaches without NAT (for example a cluster range).
    type: list
    elements: str
    default: []
  isolated:
    description:
      - Keep this network from reaching the host's other isolated networks (as Docker's networks). Published
        ports stay reachable from them, since they are entries of the host.
      - The bridges of networks that are not isolated carry device group 27759; in gateway mode V(nat) they reach
        each other's containers, and nothing else reaches them directly.
    type: bool
    default: true
  internal:
    description:
      - As C(docker network create --internal). No masquerade, no default route in the containers, and nothing
        forwarded between the bridge and any other interface. Containers still reach each other and the gateway.
    type: bool
    default: false
    version_added: 0.2.0
  stop_processes:
    description:
      - What happens to the processes that run in a container's namespace when the container goes (O(state=absent),
        or it leaves its last network).
      - >-
        V(false) refuses, before any change, naming the container, the processes and their commands: a namespace
        that processes are in outlives its name, and keeps the container's veth on the host.
      - V(true) stops them first, as C(docker rm -f) does (SIGTERM, then SIGKILL after O(stop_timeout)), and
        removes everything. Check mode and the diff name them.
    type: bool
    default: false
    version_added: 2.0.0
  stop_timeout:
    description: Seconds between SIGTERM and SIGKILL with O(stop_processes=true) (0 to 3600).
    type: float
    default: 10
    version_added: 2.0.0
  ip_range:
    description:
      - Where automatic IPv4 addresses come from (C(docker network create --ip-range)), a network inside O(subnet).
        Fixed addresses may lie anywhere in the subnet; a container keeps the address it has.
    type: str
    version_added: 2.0.0
  ip_range6:
    description: As O(ip_range), inside O(subnet6).
    type: str
    version_added: 2.0.0
  host_names:
    description:
      - >-
        The host resolves the network's containers by name (and alias): a block of the host's C(/etc/hosts) between
        C(# BEGIN linuxns.net network <name>) and C(# END ...) lines, kept exact; every other line stays as it is.
        V(false) and O(state=absent) remove the block.
    type: bool
    default: false
    version_added: 2.0.0
  fleet_host:
    description:
      - This host's name in a fleet (the P(linuxns.net.fleet_network#role) role sets the inventory name). The network's
        containers then also resolve as C(<container>.<fleet_host>) (and their aliases as C(<alias>.<fleet_host>)).
    type: str
    version_added: 2.0.0
  remote_containers:
    description:
      - The network's containers on the fleet's other hosts, which this host's containers resolve too (the
        P(linuxns.net.fleet_network#role) role fills it). Each as C(<name>.<host>), and as C(<name>) alone when no other
        container of the fleet has that name and this host has no container or alias of it. Aliases the same way.
      - A list of dicts with C(name), C(host), C(addresses) (a list, either family) and C(aliases) (a list); or a
        text with one container per line, C(NAME HOST ADDRESS,... [ALIAS,...]), which is what the role sends
        (Ansible templates and sends one string per host far faster than a large list of dicts).
      - Entries of O(fleet_host) itself are left out, so one list serves every host. Needs O(fleet_host).
    type: raw
    default: []
    version_added: 2.0.0
  remote_hosts:
    description:
      - The hosts whose containers O(remote_containers) lists in full (the play's hosts). The names of other hosts'
        containers that the hosts files hold now are kept as they are, so that a play over part of a fleet leaves
        the rest resolvable. Unset, O(remote_containers) is the whole fleet, and every other name goes.
    type: list
    elements: str
    version_added: 2.0.0
  reserved:
    description:
      - Addresses (either family) never handed out (C(docker network create --aux-address)). A fixed address on one
        is refused; a container whose address becomes reserved gets another.
    type: list
    elements: str
    default: []
    version_added: 2.0.0
  persist:
    description:
      - >-
        V(true) makes the network survive a reboot: the converged network (every container's addresses and MACs
        made explicit) is saved in C(/var/lib/linuxns-net/networks/<name>.json), and the boot unit
        C(linuxns-net@<name>.service) is installed in C(/etc/systemd/system) and enabled. At boot it runs after the
        firewall's own unit and before C(network-online.target), and rebuilds the network with the host's Python
        and pyroute2 (the program C(/var/lib/linuxns-net/rebuild.pyz) that this module installs), without Ansible.
        The next run then finds nothing to change.
      - Services bound to a container by M(linuxns.net.netns_service) start after C(linuxns-net.target), which the
        boot units come before.
      - V(false) removes the network's saved state and its unit's links (and the shared program and units with the
        last saved network). So does O(state=absent).
      - V(true) needs systemd (C(/etc/systemd/system)) and a name of letters, digits and C(_.:-).
    type: bool
    default: false
    version_added: 2.0.0
  hosts_file:
    description:
      - Write each container's C(/etc/netns/<container>/hosts) with the names and addresses of the network's
        containers, which C(ip netns exec) bind-mounts over C(/etc/hosts), so that C(getent hosts c2) works
        inside C(c1). A file holds one block per network; files the collection did not write are left alone.
      - V(false) removes this network's block.
    type: bool
    default: true
    version_added: 0.2.0
  routes:
    description:
      - Routes of the host (the module's own namespace) that belong with this network, made in the same plan after
        the bridge, and removed before it when O(state=absent). The C(linuxns.net.fleet_network) role puts the
        routes to the other hosts' container subnets here (host-gw), so that a host converges in one module call.
      - Each is a route as M(linuxns.net.netns_route) takes it, without C(namespace).
    type: list
    elements: dict
    default: []
    version_added: 1.0.0
    suboptions:
      dest:
        description: Destination, V(default) or a CIDR.
        type: str
        required: true
      gateway:
        description: Next hop.
        type: str
      dev:
        description: Outgoing link.
        type: str
      metric:
        description: Metric. Defaults to the kernel's default for the family (0 for IPv4, 1024 for IPv6).
        type: int
      onlink:
        description: Treat the gateway as on the link even when no address of the link covers it.
        type: bool
        default: false
      state:
        description: V(absent) removes the route.
        type: str
        choices: [present, absent]
        default: present
  vxlan:
    description:
      - An overlay device of the host that belongs with this network, as M(linuxns.net.vxlan) takes it (without
        C(namespace)), made in the same plan after the bridge, and removed before it when O(state=absent). The
        C(linuxns.net.fleet_network) role puts its overlay to the hosts it does not share a link with here.
      - See M(linuxns.net.vxlan) for what each option does.
    type: dict
    version_added: 1.0.0
    suboptions:
      name:
        description: Name of the VXLAN device.
        type: str
        required: true
      state:
        description: V(absent) deletes the device.
        type: str
        choices: [present, absent]
        default: present
      vni:
        description: The VXLAN network identifier.
        type: int
      port:
        description: The UDP destination port.
        type: int
        default: 4789
      local:
        description: This host's underlay address.
        type: str
      dev:
        description: The underlay link.
        type: str
      mtu:
        description: MTU of the device.
        type: int
      mac:
        description: MAC of the device.
        type: str
      addresses:
        description: The exact list of the device's addresses.
        type: list
        elements: str
      up:
        description: Set the device up or down.
        type: bool
        default: true
      peers:
        description: The other hosts of the overlay (C(address), C(mac), C(vtep_addresses), C(subnets), C(state)).
        type: list
        elements: dict
        default: []
        suboptions:
          address:
            description: The peer's underlay address.
            type: str
            required: true
          mac:
            description: The peer's VTEP MAC.
            type: str
          vtep_addresses:
            description: The peer's VTEP overlay addresses, at most one per family.
            type: list
            elements: str
            default: []
          subnets:
            description: The container subnets behind the peer.
            type: list
            elements: str
            default: []
          state:
            description: V(absent) forgets the peer.
            type: str
            choices: [present, absent]
            default: present
      purge_peers:
        description: Forget every peer not listed.
        type: bool
        default: false
  isolation_group:
    description: Device group that marks the bridges of isolated networks.
    type: int
    default: 27758
  state:
    description:
      - V(absent) takes the containers off the network (their namespaces go when they are on no other network; the
        module waits until the kernel has removed the host ends), and deletes the network's firewall rules, its
        names and the bridge.
    type: str
    choices: [present, absent]
    default: present
  converged:
    description:
      - The token that M(linuxns.net.netns_info) returned for this network (RV(linuxns.net.netns_info#module:converged),
        read with the network's C(name) in its O(linuxns.net.netns_info#module:fleet_member)); the
        C(linuxns.net.fleet_network) role passes it.
      - When it is the token of this task's other options, that read found the host exactly as these options make
        it (it planned this network's last converge again, unapplied, against the kernel), and the task reports
        C(changed=false) from the controller, with RV(converged) true and no module run on the host. A re-run of a
        converged fleet then costs one module call per host, the read.
      - Otherwise the module runs, and after a converge that succeeds it records these options and their token
        (under C(/run/linuxns-net/converged/), gone with a reboot as the namespaces are, for a network whose name is a
        file name), where the next read
        finds them. An empty string runs the module and records.
      - Left unset, the module always runs and records nothing.
      - The kernel can drift between the read and this task, as it can after any run; the next run repairs it.
    type: raw
    version_added: 2.0.0
"""

EXAMPLES = r"""
# Ad hoc, the arguments as JSON:
#   ansible localhost -m linuxns.net.container_network \
#     -a '{"name": "web", "subnet": "10.1.0.0/24", "containers": [{"name": "c1"}, {"name": "c2", "address": "10.1.0.9"}]}'

- name: A network that comes back after a reboot (boot unit linuxns-net@app.service), web1 with a MAC of its own
  linuxns.net.container_network:
    name: app
    subnet: 10.88.0.0/24
    containers:
      - {name: web1, mac: "02:42:0a:58:00:02", ports: ["8080:80"]}
      - {name: db1}
    persist: true

- name: A bridge br0 with gateway 10.100.0.1 and two containers with fixed addresses, masqueraded
  linuxns.net.container_network:
    name: lab
    bridge: br0
    subnet: 10.100.0.0/24
    containers:
      - {name: c1, address: 10.100.0.2}
      - {name: c2, address: 10.100.0.3}

- name: A web server published on port 8080 of the host, and a database on an internal network
  linuxns.net.container_network:
    name: front
    subnet: 10.1.0.0/24
    containers:
      - {name: web, ports: ["8080:80", "127.0.0.1:8443:443"]}

- name: The web server also on the internal back network, as its eth1
  linuxns.net.container_network:
    name: back
    subnet: 10.2.0.0/24
    internal: true
    containers:
      - {name: web, interface: eth1}
      - {name: db}

- name: Two hundred containers, addresses chosen and kept
  linuxns.net.container_network:
    name: web
    subnet: 10.101.0.0/16
    containers: "{{ range(1, 201) | map('string') | map('regex_replace', '^', 'web') | linuxns.net.container_items }}"

- name: A fleet host in one call, as the fleet_network role makes it (routes to two hosts, one of them over VXLAN)
  linuxns.net.container_network:
    name: fleet
    bridge: br-fleet
    subnet: 10.244.1.0/24
    mtu: 1450
    masquerade_exclude: [10.244.0.0/16]
    containers: [{name: app1}]
    routes:
      - {dest: 10.244.2.0/24, gateway: 198.51.100.12}
    vxlan:
      name: vxlan.fleet
      vni: 1
      local: 198.51.100.11
      addresses: [10.244.1.0/32]
      peers:
        - {address: 198.19.1.13, vtep_addresses: [10.244.3.0], subnets: [10.244.3.0/24]}
"""

RETURN = r"""
converged:
  description:
    - True when O(converged) matched this task's options, so that the module did not run (the host was as they make
      it). The other return values are then absent.
  returned: when O(converged) matched
  type: bool
  sample: true
addresses:
  description: Container name to its address.
  returned: when O(state=present)
  type: dict
  sample: {"c1": "10.100.0.2", "c2": "10.100.0.3"}
gateway:
  description: The gateway address (null for an IPv6-only network).
  returned: when O(state=present)
  type: str
  sample: 10.100.0.1
addresses6:
  description: Container name to its IPv6 address (empty without O(subnet6)).
  returned: when O(state=present)
  type: dict
  sample: {"c1": "fd42:0:0:1::2", "c2": "fd42:0:0:1::3"}
  version_added: 0.2.0
gateway6:
  description: The IPv6 gateway address (null without O(subnet6)).
  returned: when O(state=present)
  type: str
  sample: fd42:0:0:1::1
  version_added: 0.2.0
bridge:
  description: The bridge name.
  returned: when O(state=present)
  type: str
  sample: br0
published:
  description: Container name to its published ports.
  returned: when O(state=present)
  type: dict
  sample: {"web": ["8080:80"]}
  version_added: 0.2.0
backends:
  description: The firewall backend used for the NAT rules.
  returned: when O(state=present)
  type: dict
  sample: {"": "nftables"}
changes:
  description: What the run changed (or, in check mode, would change), one line per change.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.linuxns.net.plugins.module_utils._converged import check_token, record_converge
from ansible_collections.linuxns.net.plugins.module_utils._defaults import (
    CONTAINER_END, GATEWAY_MODE, GATEWAY_MODES, ISOLATION_GROUP)
from ansible_collections.linuxns.net.plugins.module_utils._module import run
from ansible_collections.linuxns.net.plugins.module_utils._network import run_container_network
from ansible_collections.linuxns.net.plugins.module_utils._vxlan import VXLAN_OPTIONS


def main():
    module = AnsibleModule(argument_spec=dict(
        name=dict(type="str", required=True),
        bridge=dict(type="str"),
        subnet=dict(type="str"),
        gateway=dict(type="str"),
        subnet6=dict(type="str"),
        gateway6=dict(type="str"),
        masquerade6=dict(type="bool"),
        mtu=dict(type="int"),
        containers=dict(type="list", elements="dict", default=[], options=dict(
            name=dict(type="str", required=True),
            address=dict(type="str"),
            address6=dict(type="str"),
            interface=dict(type="str", default=CONTAINER_END),
            default_route=dict(type="bool"),
            ports=dict(type="list", elements="raw"),
            ingress=dict(type="list", elements="dict"),
            egress=dict(type="list", elements="dict"),
            mac=dict(type="str"),
            aliases=dict(type="list", elements="str"),
            sysctls=dict(type="dict"),
            dns=dict(type="dict", options=dict(
                nameservers=dict(type="list", elements="str"),
                search=dict(type="list", elements="str"),
                options=dict(type="list", elements="str"),
            )),
            mtu=dict(type="int"),
            bandwidth=dict(type="dict", options=dict(
                ingress=dict(type="str"),
                egress=dict(type="str"),
                burst=dict(type="str"),
            )),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        )),
        masquerade=dict(type="bool"),
        gateway_mode=dict(type="str", choices=list(GATEWAY_MODES), default=GATEWAY_MODE),
        gateway_mode6=dict(type="str", choices=list(GATEWAY_MODES), default=GATEWAY_MODE),
        direct_access_from=dict(type="list", elements="str", default=[]),
        icc=dict(type="bool", default=True),
        policy_peers=dict(type="dict", default={}),
        masquerade_exclude=dict(type="list", elements="str", default=[]),
        isolated=dict(type="bool", default=True),
        isolation_group=dict(type="int", default=ISOLATION_GROUP),
        internal=dict(type="bool", default=False),
        hosts_file=dict(type="bool", default=True),
        stop_processes=dict(type="bool", default=False),
        stop_timeout=dict(type="float", default=10.0),
        persist=dict(type="bool", default=False),
        ip_range=dict(type="str"),
        ip_range6=dict(type="str"),
        reserved=dict(type="list", elements="str", default=[]),
        host_names=dict(type="bool", default=False),
        fleet_host=dict(type="str"),
        remote_hosts=dict(type="list", elements="str"),
        remote_containers=dict(type="raw", default=[]),
        routes=dict(type="list", elements="dict", default=[], options=dict(
            dest=dict(type="str", required=True),
            gateway=dict(type="str"),
            dev=dict(type="str"),
            metric=dict(type="int"),
            onlink=dict(type="bool", default=False),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        )),
        vxlan=dict(type="dict", options=VXLAN_OPTIONS),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        converged=dict(type="raw"),
    ), supports_check_mode=True)
    options = {k: v for k, v in module.params.items() if k != "converged"}

    def converge(session, check):
        check_token(options["name"], module.params["converged"])
        result = run_container_network(session, options, check)
        if not check and (module.params["converged"] or options["state"] == "absent"):
            # the action set converged to these options' token: the next run's netns_info compares the kernel with
            # them; a network removed takes its record with it, however it is removed
            record_converge(options["name"], module.params["converged"], options)
        return result
    run(module, converge)


if __name__ == "__main__":
    main()
