"""The bad input catalogue: hostile or mistaken inputs across the modules and the roles' module.

Each must fail with a message that names the object and the problem, and leave the host exactly as it was: links,
addresses, routes, rules and namespaces, compared as a full snapshot before and after."""

from __future__ import annotations

import json
import os

import pytest

from support import namespaces, run_module, sh

VXLAN = {"name": "vx0", "vni": 7, "local": "10.1.0.1"}

CATALOGUE = [
    # netns
    ("netns", {"name": ["a/b"]}, ["'a/b'", "must not contain '/'"]),
    ("netns", {"name": [".."]}, ["'..'", "/run/netns"]),
    ("netns", {"name": ["."]}, ["'.'", "/run/netns"]),
    ("netns", {"name": ["a b"]}, ["'a b'", "whitespace and control characters"]),
    ("netns", {"name": ["bell\x07"]}, ["'bell\\x07'", "whitespace and control characters"]),
    ("netns", {"name": ["ok", "ok"]}, ["'ok'", "more than once"]),
    ("netns", {"name": ["ok"], "sysctls": {"kernel.hostname": "x"}}, ["kernel.hostname", "only net.* sysctls"]),
    ("netns", {"name": ["ok"], "sysctls": {"net.ipv4.nope": 1}}, ["net.ipv4.nope", "does not exist"]),
    ("netns", {"name": ["ok"], "sysctls": {"net/../kernel/x": 1}}, ["net/../kernel/x", "only net.* sysctls"]),
    ("netns", {"name": ["ok"], "pid": 99999999}, ["pid 99999999", "no process"]),
    ("netns", {"name": ["ok"], "pid": -3}, ["pid -3", "positive integer"]),
    ("netns", {"name": ["ok"], "state": "absent", "stop_processes": True, "stop_timeout": -1},
     ["namespace 'ok'", "stop_timeout -1.0 must be a number of seconds from 0 to 3600"]),
    # veth
    ("veth", {"name": "x" * 16, "peer": "p"}, ["'xxxxxxxxxxxxxxxx'", "at most 15"]),
    ("veth", {"name": "a:b", "peer": "p"}, ["'a:b'", "contains ':'"]),
    ("veth", {"name": "a b", "peer": "p"}, ["'a b'", "contains ' '"]),
    ("veth", {"name": "a/b", "peer": "p"}, ["'a/b'", "contains '/'"]),
    ("veth", {"name": "..", "peer": "p"}, ["'..'", "not valid link names"]),
    ("veth", {"name": "v0", "peer": "p", "peer_namespace": "../../etc"}, ["'../../etc'", "/run/netns"]),
    ("veth", {"name": "v0"}, ["veth 'v0'", "'peer'"]),
    ("veth", {"name": "v0", "peer": "v0"}, ["veth 'v0'", "same name"]),
    ("veth", {"name": "v0", "peer": "p", "addresses": ["10.0.0.1"]}, ["10.0.0.1", "no prefix length"]),
    ("veth", {"name": "v0", "peer": "p", "addresses": ["300.0.0.1/24"]}, ["300.0.0.1/24", "not a valid address"]),
    ("veth", {"name": "v0", "peer": "p", "mtu": 10}, ["veth 'v0'", "mtu 10"]),
    ("veth", {"name": "v0", "peer": "p", "mac": "ff:ff:ff:ff:ff:ff"}, ["ff:ff:ff:ff:ff:ff", "multicast"]),
    ("veth", {"name": "v0", "peer": "p", "master": "nobr"}, ["master 'nobr'", "does not exist"]),
    ("veth", {"name": "v0", "peer": "p", "master": "taken0"}, ["master 'taken0'", "is a veth, not a bridge"]),
    ("veth", {"name": "br-own", "peer": "p"}, ["veth 'br-own'", "taken by a bridge"]),
    ("veth", {"name": "v0", "peer": "p", "peer_namespace": "no-such-ns"}, ["-missing'", "does not exist"]),
    ("veth", {"pairs": [{"name": "v1", "peer": "p"}] * 2}, ["'v1'", "more than once"]),
    ("veth", {"pairs": [{"name": "v1", "peer": "p", "mtu": "big"}]}, ["pairs", "mtu"]),
    ("veth", {"pairs": [{"name": "v1", "peer": "p", "colour": "red"}]}, ["pairs", "colour"]),
    # the kernel refuses (an interface may not be named "all": the name of every interface's sysctls): named, with
    # the kernel's errno, nothing left
    ("veth", {"name": "all", "peer": "p"}, ["veth 'all' in the module's own namespace: the kernel refused it", "errno 22"]),
    ("veth", {"name": "v0", "peer": "p", "peer_mac": "00:00:00:00:00:00"},
     ["peer of veth 'v0' in the module's own namespace", "the zero MAC address"]),
    # a name in /run/netns bound to a namespace that is not a network namespace: setns(2) refuses it
    ("veth", {"name": "v0", "peer": "p", "peer_namespace": "uts-ns"}, ["-uts'", "a network namespace?", "errno 22"]),
    ("masquerade", {"source": "10.1.0.0/24", "namespace": "uts-ns"}, ["-uts'", "errno 22"]),
    ("netns_route", {"namespace": "uts-ns", "dest": "default", "dev": "lo"}, ["-uts'", "errno 22"]),
    ("netns_info", {"namespaces": ["uts-ns"]}, ["-uts'", "not a network namespace"]),
    # bridge
    ("bridge", {"name": "taken0"}, ["bridge 'taken0'", "taken by a veth"]),
    ("bridge", {"name": "br1", "ports": ["ghost"]}, ["port 'ghost'", "does not exist"]),
    ("bridge", {"name": "br1", "ports": ["lo"]}, ["port 'lo'", "loopback"]),
    ("bridge", {"name": "br1", "ports": ["br1"]}, ["bridge 'br1'", "its own port"]),
    ("bridge", {"name": "br1", "purge_ports": True}, ["bridge 'br1'", "purge_ports needs"]),
    ("bridge", {"name": "br1", "addresses": ["10.1.0.1/99"]}, ["10.1.0.1/99", "not a valid address"]),
    ("bridge", {"name": "br1", "group": -1}, ["bridge 'br1'", "group -1"]),
    # routes
    ("netns_route", {"dest": "default"}, ["route default", "give a gateway, a dev"]),
    ("netns_route", {"dest": "10.9.0.1/16", "gateway": "10.1.0.9"}, ["10.9.0.1/16", "host bits"]),
    ("netns_route", {"dest": "10.9.0.0/16", "gateway": "10.77.0.1"}, ["gateway 10.77.0.1", "not reachable"]),
    ("netns_route", {"dest": "10.9.0.0/16", "gateway": "fe80::1"}, ["fe80::1", "is IPv6, the destination is IPv4"]),
    ("netns_route", {"dest": "10.9.0.0/16", "dev": "ghost0"}, ["dev 'ghost0'", "does not exist"]),
    ("netns_route", {"dest": "10.9.0.0/16", "gateway": "10.1.0.9", "table": "bogus"}, ["table 'bogus'", "must be"]),
    ("netns_route", {"dest": "10.1.0.0/24", "dev": "br-own", "state": "absent"}, ["belongs to kernel", "not removing"]),
    # masquerade
    ("masquerade", {"source": "10.1.0.1/24"}, ["10.1.0.1/24", "host bits"]),
    ("masquerade", {"source": "10.1.0.0/24", "exclude_destinations": ["2001:db8::/32"]}, ["2001:db8::/32", "is IPv6"]),
    ("masquerade", {"source": "10.1.0.0/24", "out_interface": "e0", "exclude_out_interface": "e0"}, ["'e0'", "both"]),
    ("masquerade", {"source": "10.1.0.0/24", "isolation_group": 5}, ["10.1.0.0/24", "isolation_group needs"]),
    ("masquerade", {"source": "10.1.0.0/24", "namespace": "no-such-ns"}, ["-missing'", "does not exist"]),
    # reachability
    ("reachability", {"sources": [None], "targets": ["10.0.0.999"]}, ["probe 1", "'10.0.0.999' is not a valid IP address"]),
    ("reachability", {"sources": [None], "targets": [{"address": "10.0.0.1", "proto": "tcp", "port": 70000}]},
     ["probe 1 to 10.0.0.1", "port from 1 to 65535, not 70000"]),
    ("reachability", {"sources": [None], "targets": [{"address": "10.0.0.1", "proto": "tcp"}]},
     ["probe 1 to 10.0.0.1", "tcp needs a port"]),
    ("reachability", {"sources": [None], "targets": [{"address": "10.0.0.1", "proto": "sctp"}]}, ["proto 'sctp'"]),
    ("reachability", {"sources": [None], "targets": [{"address": "10.0.0.1", "port": 80}]}, ["icmp takes no port"]),
    ("reachability", {"sources": ["no-such-ns"], "targets": ["10.0.0.1"]}, ["-missing'", "does not exist"]),
    ("reachability", {"sources": [None], "targets": ["10.0.0.1"], "timeout": 0}, ["timeout 0", "more than 0"]),
    ("reachability", {"probes": [{"address": "10.0.0.1", "expect": "maybe"}]}, ["expect", "maybe"]),
    ("reachability", {"serve": [{"port": 0}]}, ["listener 1 in the module's own namespace", "port from 1 to 65535, not 0"]),
    ("reachability", {"serve": [{"port": 80}, {"port": 80, "proto": "tcp"}]}, ["listener tcp/80", "more than once"]),
    ("reachability", {"serve": [{"port": 80}], "serve_seconds": 601}, ["serve_seconds 601", "at most 600"]),
    ("reachability", {"serve": [{"namespace": "no-such-ns", "port": 80}]}, ["-missing'", "does not exist"]),
    # lab (the molecule test bed)
    ("lab", {"hosts": 0}, ["lab 'lnlab'", "0 hosts asked for"]),
    ("lab", {"hosts": 1500}, ["lab 'lnlab'", "a lab has 1 to 1000 hosts"]),
    ("lab", {"name": "Lab_1"}, ["lab 'Lab_1'", "lowercase letters and digits"]),
    ("lab", {"hosts": ["web", "web"]}, ["lab 'lnlab'", "more than once"]),
    ("lab", {"name": "lncat", "underlay": "10.1.0.0/24"}, ["underlay 10.1.0.0/24 is already routed", "br-own"]),
    ("lab", {"underlay6": "2001:db8:100::/96"}, ["lab 'lnlab'", "underlay6 2001:db8:100::/96", "/64 or larger"]),
    ("lab", {"underlay6": "ff02::/16"}, ["underlay6 ff02::/16", "unicast IPv6 network"]),
    ("lab", {"underlay6": "198.18.0.0/24"}, ["underlay6 198.18.0.0/24", "unicast IPv6 network"]),
    ("lab", {"name": "lncat", "underlay": "198.18.30.0/24", "hosts": ["h1"], "reboot": ["h2"]},
     ["lab 'lncat'", "reboot ['h2'] must list hosts of the lab (h1)"]),
    # netns_service
    ("netns_service", {"unit": "../etc/passwd", "container": "c"}, ["service '../etc/passwd'", "not a service unit's name"]),
    ("netns_service", {"unit": "web.socket", "container": "c"}, ["service 'web.socket'", "ending in .service"]),
    ("netns_service", {"unit": "web", "container": "c", "unit_dir": "etc/systemd"},
     ["service 'web.service'", "unit_dir 'etc/systemd' must be an absolute path"]),
    ("netns_service", {"unit": "web", "container": "c", "unit_dir": "/etc/systemd/../x"},
     ["service 'web.service'", "without '..'"]),
    ("netns_service", {"unit": "lncat-nope", "container": "c"},
     ["service 'lncat-nope.service'", "no such unit", "install the unit first"]),
    ("netns_service", {"unit": "web"}, ["service 'web.service'", "'container'", "is required"]),
    # container_network persist (the kernel tests' unit directory does not exist: a host without systemd)
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "persist": True, "containers": [{"name": "k"}]},
     ["network 'n'", "persist needs systemd", "no systemd to run the boot unit"]),
    ("container_network", {"name": "n/x", "bridge": "br-nx", "subnet": "10.5.0.0/24", "persist": True},
     ["network 'n/x'", "persist needs a name of letters, digits and _.:-"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": [
        {"name": "k1", "mac": "02:00:00:00:00:01"}, {"name": "k2", "mac": "02:00:00:00:00:01"}]},
     ["network 'n'", "containers 'k1' and 'k2' both have mac 02:00:00:00:00:01"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": [{"name": "k", "mac": "00:00:00:00:00:00"}]},
     ["network 'n': container 'k' interface 'eth0' mac", "zero MAC"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": [{"name": "k", "mac": "33:33:00:00:00:01"}]},
     ["container 'k'", "multicast MAC"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": [{"name": "k", "mac": "nope"}]},
     ["container 'k'", "'nope' is not a MAC address"]),
    # aliases, sysctls, ip_range, reserved
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": [
        {"name": "k", "dns": {"nameservers": ["dns.example"]}}]},
     ["network 'n': container 'k': dns nameserver 'dns.example' is not an IP address"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": [
        {"name": "k", "dns": {"nameservers": ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]}}]},
     ["container 'k': dns has 4 nameservers; the resolver reads 3 at most"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": [{"name": "k", "dns": {}}]},
     ["container 'k': dns is empty"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": [
        {"name": "k", "dns": {"options": ["ndots 2; rm"]}}]},
     ["container 'k': dns option 'ndots 2; rm' is not a resolver option"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": [{"name": "k1"}, {"name": "k2", "aliases": ["k1"]}]},
     ["network 'n': container 'k2' alias 'k1' is already the name of container 'k1'"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": [
        {"name": "k1", "aliases": ["web"]}, {"name": "k2", "aliases": ["web"]}]},
     ["container 'k2' alias 'web' is already the name of an alias of container 'k1'"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": [{"name": "k", "aliases": ["a b"]}]},
     ["network 'n': container 'k' alias 'a b' must be a host name"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": [{"name": "k", "sysctls": {"kernel.pid_max": 9}}]},
     ["kernel.pid_max", "only net.* sysctls"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": [{"name": "k", "sysctls": {"net.ipv4.nope": 1}}]},
     ["sysctl 'net.ipv4.nope' does not exist"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "ip_range": "10.6.0.0/25"},
     ["network 'n': ip_range 10.6.0.0/25 must lie inside subnet 10.5.0.0/24"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "ip_range6": "fd42::/64"},
     ["network 'n': ip_range6 fd42::/64 must lie inside subnet6 None"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "reserved": ["10.9.0.1"]},
     ["network 'n': reserved address 10.9.0.1 is not a host address of the network's IPv4 subnet"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "reserved": ["10.5.0.1"]},
     ["network 'n': reserved address 10.5.0.1 is the gateway"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "reserved": ["10.5.0.7"],
                           "containers": [{"name": "k", "address": "10.5.0.7"}]},
     ["network 'n': container 'k' address 10.5.0.7 is already reserved"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "ip_range": "10.5.0.252/30", "reserved": ["10.5.0.253"],
                           "containers": [{"name": "k1"}, {"name": "k2"}, {"name": "k3"}]},
     ["network 'n': ip_range 10.5.0.252/30 of subnet 10.5.0.0/24 is full", "container 'k3'"]),
    # bandwidth, a container's own mtu, names across a fleet
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": [{"name": "k", "bandwidth": {"ingress": "10 furlongs"}}]},
     ["network 'n': container 'k': bandwidth ingress '10 furlongs' does not parse", "mbit"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": [{"name": "k", "bandwidth": {"egress": "0bit"}}]},
     ["network 'n': container 'k': bandwidth egress '0bit' must be from 8bit to 34gbit"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": [{"name": "k", "bandwidth": {"ingress": "1mbit", "burst": "100b"}}]},
     ["network 'n': container 'k': bandwidth burst '100b' must be at least 1500 bytes"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": [{"name": "k", "bandwidth": {"burst": "1mb"}}]},
     ["network 'n': container 'k': bandwidth needs an ingress rate, an egress rate or both"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "mtu": 1450, "containers": [{"name": "k", "mtu": 9000}]},
     ["network 'n': container 'k': mtu 9000 is above the network's (1450)"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": [{"name": "k", "mtu": 40}]},
     ["network 'n': container 'k'", "mtu 40 must be an integer from 68 to 65535"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "remote_containers": [{"name": "a", "host": "h2", "addresses": ["10.6.0.2"]}]},
     ["network 'n': remote_containers needs fleet_host"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "fleet_host": "h1",
                           "remote_containers": [{"name": "a", "host": "h2", "addresses": ["10.6.0.300"]}]},
     ["network 'n': remote container 'a' on host 'h2' address", "10.6.0.300"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "fleet_host": "h1", "remote_containers": "a h2\n"},
     ["network 'n': remote_containers line 1 ('a h2') must be NAME HOST ADDRESS,... [ALIAS,...]"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "fleet_host": "h 1"},
     ["network 'n': fleet_host 'h 1' must be a host name"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "fleet_host": "h1",
                           "remote_containers": [{"name": "a", "host": "h2", "addresses": ["10.6.0.2"]}] * 2},
     ["network 'n': remote container 'a' on host 'h2' is listed more than once"]),
    # container_network (the bridge_network role's one call)
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "stop_processes": True, "stop_timeout": 7200},
     ["network 'n'", "stop_timeout 7200.0 must be a number of seconds from 0 to 3600"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/29", "containers": [{"name": f"k{i}"} for i in range(7)]},
     ["network 'n'", "is full"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": [{"name": "k", "address": "10.6.0.2"}]},
     ["container 'k'", "outside subnet"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": [{"name": "k", "address": "10.5.0.1"}]},
     ["container 'k'", "already the gateway"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": [{"name": "k"}, {"name": "k"}]},
     ["'k'", "more than once"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": [{"name": "../k"}]},
     ["network 'n'", "container name '../k'", "letter or digit"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": [{"name": "-k"}]},
     ["container name '-k'", "letter or digit"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": [{"name": "k" * 64}]},
     ["network 'n'", "at most 63"]),
    # ad hoc key=value text: the list is split at its commas; AnsibleModule refuses the pieces (its own message)
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": '[{"name":"a","address":"10.5.0.9"}]'},
     ["dictionary requested, could not parse JSON or key=value"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "gateway": "10.6.0.1", "containers": [{"name": "k"}]},
     ["gateway 10.6.0.1", "not a host address"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "bridge": "taken0", "containers": [{"name": "k"}]},
     ["bridge 'taken0'", "taken by a veth"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "bridge": "way-too-long-name", "containers": [{"name": "k"}]},
     ["'way-too-long-name'", "at most 15"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": [{"name": "k", "ip": "10.5.0.3"}]},
     ["containers", "ip"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": [{"name": f"k{i}"} for i in range(3000)],
                           "mtu": 20}, ["network 'n'", "mtu 20"]),
    # published ports
    *[("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": [{"name": "k", "ports": ports}]},
       ["network 'n'", "container 'k'", *fragments]) for ports, fragments in [
        (["0:80"], ["port 0 is out of range"]),
        (["70000:80"], ["port 70000 is out of range"]),
        (["80:abc"], ["'abc' is not a port"]),
        (["9000-9003:9000-9002"], ["the host range has 4 ports and the container range 3"]),
        (["8080:80/sctpx"], ["protocol 'sctpx'"]),
        (["203.0.113.9:8080:80"], ["203.0.113.9 is not an address of this host"]),
        (["80"], ["a host port is required"]),
        ([1342], ["quote the mapping"]),
        (["[::1]:8080:80"], ["[::1] cannot be forwarded by the kernel"]),
        (["[2001:db8::11]:8080:80"], ["has an IPv6 host address, but the network has no IPv6 subnet"]),
        (["::1:8080:80"], ["write an IPv6 host address in brackets"]),
        (["9000-8000:80"], ["ends before it starts"]),
        (["8080:80", "8080-8081:90-91"], ["'8080:80' and '8080-8081:90-91' claim the same tcp port"]),
        # digits that int() reads but a port is not made of: only ASCII digits count
        (["\u00b2:80"], ["host port '\u00b2' is not a port"]),
        (["\u0661\u0662\u0663\u0664:80"], ["is not a port or a range of ports"]),
        (["8080:\u0668\u0660"], ["container port", "is not a port"]),
    ]],
    # masquerade exclusions that are not networks
    *[("container_network", {"name": "n", "subnet": "10.5.0.0/24", "masquerade_exclude": [value], "containers": [{"name": "k"}]},
       ["network 'n' masquerade_exclude", f"'{value}' is not a valid network"]) for value in ("not-a-cidr", "10.0.0.0/33")],
    # subnets that cannot hold containers: refused before anything is made, with what the range is
    *[("container_network", {"name": "n", key: subnet, "containers": [{"name": "k"}]}, ["network 'n'", f"{key} {subnet}", what])
      for key, subnet, what in [
        ("subnet", "224.0.0.0/24", "multicast"), ("subnet", "240.0.0.0/24", "reserved"), ("subnet", "127.1.0.0/24", "loopback"),
        ("subnet", "169.254.9.0/24", "link-local"), ("subnet", "0.0.0.0/0", "covers 0.0.0.0/8"),
        ("subnet6", "::ffff:0:0/96", "IPv4-mapped"), ("subnet6", "::/0", "covers ::/127"),
        ("subnet6", "ff05::/64", "multicast"), ("subnet6", "fe80:0:0:1::/64", "link-local")]],
    # the kernel measures names in bytes: 15 characters of which some are not ASCII are too long
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "bridge": "br-\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9",
                           "containers": [{"name": "k"}]}, ["bridge of network 'n'", "19 bytes in UTF-8 (11 characters)"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": [{"name": "k", "interface": "eth\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"}]},
     ["container 'k'", "17 bytes in UTF-8 (10 characters)"]),
    ("veth", {"name": "v\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9", "peer": "p"}, ["veth", "17 bytes in UTF-8"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24",
                           "containers": [{"name": "k", "ports": ["8080:80"]}, {"name": "j", "ports": ["8080:81"]}]},
     ["container 'k' of network 'n'", "container 'j' of network 'n'", "both claim tcp port 8080"]),
    # internal networks, several networks per container
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "internal": True, "containers": [{"name": "k", "ports": ["80:80"]}]},
     ["container 'k'", "the network is internal"]),
    # a network never takes over another network's bridge (own is on br-own), present or absent
    ("container_network", {"name": "evil2", "bridge": "br-own", "subnet": "10.57.0.0/24", "containers": [{"name": "k"}]},
     ["network 'evil2'", "bridge 'br-own'", "belongs to network 'own'"]),
    ("container_network", {"name": "evil2", "bridge": "br-own", "subnet": "10.57.0.0/24", "state": "absent",
                           "containers": [{"name": "k"}]}, ["network 'evil2'", "belongs to network 'own'"]),
    # a network name is written into hosts files and rule comments: no line breaks, no whitespace
    ("container_network", {"name": "evil\n10.0.0.66 injected", "subnet": "10.5.0.0/24", "bridge": "br-n",
                           "containers": [{"name": "k"}]}, ["'evil\\n10.0.0.66 injected'", "whitespace and control characters"]),
    ("container_network", {"name": "two words", "subnet": "10.5.0.0/24", "bridge": "br-n", "containers": [{"name": "k"}]},
     ["'two words'", "whitespace and control characters"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": [{"name": "k", "interface": "lo"}]},
     ["container 'k'", "cannot be 'lo'"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": [{"name": "k", "interface": "eth:1"}]},
     ["container 'k' interface", "contains ':'"]),
    ("container_network", {"name": "n", "subnet": "10.5.0.0/24", "containers": [{"name": "k", "state": "gone"}]},
     ["state", "gone"]),
    # IPv6 networks
    *[("container_network", dict({"name": "n", "containers": [{"name": "k"}]}, **args), ["network 'n'", *fragments])
      for args, fragments in [
        ({"subnet6": "fd42::/129"}, ["fd42::/129", "not a valid network"]),
        ({"subnet6": "fd42::/64", "gateway6": "10.5.0.1"}, ["gateway6 10.5.0.1", "not a host address of subnet6"]),
        ({"subnet6": "fd42::/126", "containers": [{"name": "k"}, {"name": "j"}]}, ["subnet6 fd42::/126 is full", "'j'"]),
        ({"subnet6": "fe80::/64"}, ["fe80::/64", "link-local"]),
        ({"subnet6": "2001:db8:99::/64"}, ["overlaps 2001:db8:99::/64", "'taken0'"]),
        ({"subnet6": "10.5.0.0/24"}, ["subnet6 10.5.0.0/24 is IPv4"]),
        ({"subnet": "fd42::/64"}, ["subnet fd42::/64 is IPv6"]),
        ({"subnet6": "fd42::/64", "containers": [{"name": "k", "address6": "fd43::5"}]}, ["'k' address6 fd43::5", "outside subnet6"]),
        ({"subnet6": "ff02::/64"}, ["ff02::/64", "multicast"]),
        ({}, ["give 'subnet', 'subnet6' (IPv6), or both"]),
    ]],
    # a fleet host's routes and overlay, converged with its network
    *[("container_network", dict({"name": "n", "subnet": "10.5.0.0/24", "containers": [{"name": "k"}]}, **args), fragments)
      for args, fragments in [
        ({"routes": [{"dest": "10.9.0.0/33", "gateway": "198.18.7.1"}]}, ["route 10.9.0.0/33", "not a valid network"]),
        ({"routes": [{"dest": "10.9.0.0/24", "gateway": "198.18.7.1"}]}, ["route 10.9.0.0/24", "198.18.7.1", "not reachable"]),
        ({"routes": [{"dest": "10.9.0.0/24", "gateway": "10.5.0.7"}] * 2}, ["route of network 'n'", "more than once"]),
        ({"vxlan": {"name": "vx0", "local": "198.18.7.1"}}, ["vxlan 'vx0'", "'vni' is required"]),
        ({"vxlan": {"name": "vx0", "vni": 7, "local": "198.18.7.1"}}, ["vxlan 'vx0'", "198.18.7.1"]),
    ]],
    # who may talk to whom: gateway modes, direct access, allow-lists (compose's long syntax)
    *[("container_network", dict({"name": "n", "subnet": "10.5.0.0/24", "containers": [{"name": "k"}]}, **args), fragments)
      for args, fragments in [
        ({"gateway_mode": "open"}, ["gateway_mode", "open"]),
        ({"gateway_mode": "routed", "masquerade": True}, ["network 'n'", "gateway_mode routed and masquerade true conflict"]),
        ({"gateway_mode": "routed", "internal": True}, ["network 'n'", "gateway_mode routed on an internal network"]),
        ({"direct_access_from": ["fd42:1::/64"]}, ["network 'n'", "direct_access_from fd42:1::/64 is IPv6",
                                                   "no IPv6 subnet"]),
        ({"direct_access_from": ["10.9.0.1/24"]}, ["network 'n'", "direct_access_from", "10.9.0.1/24"]),
        ({"isolation_group": 27759}, ["network 'n'", "isolation_group 27759", "not isolated"]),
        ({"containers": [{"name": "k", "ports": [{"target": 80, "published": 8080, "allow_from": ["fd42:1::/64"]}]}]},
         ["container 'k'", "allow_from fd42:1::/64 is IPv6", "no IPv6 subnet"]),
        ({"containers": [{"name": "k", "ports": [{"target": 80, "published": 8080, "allow_from": ["10.0.0.1/8"]}]}]},
         ["container 'k'", "allow_from '10.0.0.1/8'", "no host bits set"]),
        ({"containers": [{"name": "k", "ports": [{"target": 80, "published": 8080, "allow_from": []}]}]},
         ["container 'k'", "allow_from must be a non-empty list"]),
        ({"containers": [{"name": "k", "ports": [{"target": 80}]}]}, ["container 'k'", "'published'", "is required"]),
        ({"containers": [{"name": "k", "ports": [{"target": 90, "published": 80, "to": 1}]}]}, ["container 'k'", "unknown keys ['to']"]),
        ({"containers": [{"name": "k", "ports": [{"target": "90-80", "published": "80-90"}]}]},
         ["container 'k'", "container port range '90-80' ends before it starts"]),
        ({"containers": [{"name": "k", "ports": [{"target": 70000, "published": 80}]}]}, ["container 'k'", "70000 is out of range"]),
        ({"containers": [{"name": "k", "ports": [{"target": 80, "published": 80, "host_ip": "198.18.7.1",
                                                  "allow_from": ["fd42::/64"]}]}]},
         ["container 'k'", "allow_from lists no IPv4 range", "198.18.7.1"]),
        ({"internal": True, "containers": [{"name": "k", "ports": [{"target": 80, "published": 80, "allow_from": ["10.0.0.0/8"]}]}]},
         ["container 'k'", "the network is internal"]),
        # network policy
        ({"containers": [{"name": "k", "ingress": [{"from": ["ghost"]}]}]},
         ["container 'k': ingress", "container 'ghost' is not on network 'n'"]),
        ({"containers": [{"name": "k", "egress": [{"to": [{"network": "nowhere"}]}]}]},
         ["container 'k': egress", "network 'nowhere' is not on this host"]),
        ({"containers": [{"name": "k", "ingress": [{"from": ["10.1.0.0/16"], "ports": ["70000/tcp"]}]}]},
         ["container 'k': ingress rule #1", "port 70000 is out of range"]),
        ({"containers": [{"name": "k", "ingress": [{"from": ["10.1.0.0/16"], "ports": ["80/icmp"]}]}]},
         ["container 'k': ingress rule #1", "protocol 'icmp'"]),
        ({"containers": [{"name": "k", "ingress": [{"from": [{"pod": "x"}]}]}]},
         ["container 'k': ingress rule #1", "must name one of container, network, cidr"]),
        ({"containers": [{"name": "k", "egress": [{"from": ["10.1.0.0/16"]}]}]},
         ["container 'k': egress rule #1", "unknown keys ['from']"]),
        ({"containers": [{"name": "k", "ingress": [{"from": ["10.1.0.1/16"]}]}]},
         ["container 'k': ingress rule #1", "no host bits set"]),
        ({"policy_peers": {"db": ["10.9.0.1/24"]}}, ["network 'n' policy_peers 'db'", "10.9.0.1/24"]),
    ]],
    ("port_forward", {"name": "web", "to": "10.1.0.9", "ports": [{"target": 80, "published": 80, "allow_from": ["fd42::/64"]}]},
     ["port forward 'web'", "allow_from lists no IPv4 range", "10.1.0.9"]),
    # port_forward
    ("port_forward", {"name": "web", "ports": ["8080:80"]}, ["port forward 'web'", "'to'"]),
    ("port_forward", {"name": "web", "to": "10.1.0.300", "ports": ["8080:80"]}, ["port forward 'web'", "not an IP address"]),
    ("port_forward", {"name": "web", "to": "10.1.0.9", "ports": []}, ["port forward 'web'", "'ports' is empty"]),
    ("port_forward", {"name": "a b", "to": "10.1.0.9", "ports": ["80:80"]}, ["'a b'", "without spaces"]),
    ("port_forward", {"name": "web", "to": "10.1.0.1", "ports": ["80:80"]}, ["port forward 'web'", "address of this namespace itself"]),
    ("port_forward", {"name": "web", "to": "203.0.113.5", "ports": ["80:80"]}, ["port forward 'web'", "no route to 203.0.113.5"]),
    ("port_forward", {"name": "web", "to": "10.1.0.9", "ports": ["80:80"], "namespace": "no-such-ns"}, ["-missing'", "does not exist"]),
    ("port_forward", {"forwards": [{"name": "a", "to": "10.1.0.9", "ports": ["80:80"]}, {"name": "b", "to": "10.1.0.8", "ports": ["80:81"]}]},
     ["forward 'a'", "forward 'b'", "both claim tcp port 80"]),
    ("port_forward", {"forwards": [{"name": "a", "to": "10.1.0.9", "ports": ["80:80"]}] * 2}, ["'a'", "more than once"]),
    # vxlan (br-own's 10.1.0.1 stands in for an underlay address)
    ("vxlan", dict(VXLAN, vni=0), ["vxlan 'vx0'", "vni 0 must be an integer from 1 to 16777215"]),
    ("vxlan", dict(VXLAN, vni=2 ** 24), ["vxlan 'vx0'", "vni 16777216"]),
    ("vxlan", dict(VXLAN, port=0), ["vxlan 'vx0'", "port 0 must be an integer from 1 to 65535"]),
    ("vxlan", dict(VXLAN, port=65536), ["vxlan 'vx0'", "port 65536"]),
    ("vxlan", dict(VXLAN, local="10.9.9.9"), ["vxlan 'vx0'", "local 10.9.9.9 is not an address of any link"]),
    ("vxlan", dict(VXLAN, local="224.0.0.1"), ["vxlan 'vx0'", "local 224.0.0.1 must be a unicast address"]),
    ("vxlan", dict(VXLAN, dev="taken0"), ["vxlan 'vx0'", "local 10.1.0.1 is on 'br-own', not on dev 'taken0'"]),
    ("vxlan", dict(VXLAN, mtu=1451), ["vxlan 'vx0'", "mtu 1451 leaves no room for the VXLAN encapsulation", "at most 1450"]),
    ("vxlan", dict(VXLAN, name="br-own"), ["vxlan 'br-own'", "taken by a bridge device"]),
    ("vxlan", dict(VXLAN, peers=[{"address": "2001:db8:99::2"}]), ["peer 2001:db8:99::2 is IPv6", "local 10.1.0.1 is IPv4"]),
    ("vxlan", dict(VXLAN, peers=[{"address": "10.1.0.1"}]), ["peer 10.1.0.1", "this host (local)"]),
    ("vxlan", dict(VXLAN, peers=[{"address": "198.18.9.2"}] * 2), ["address 198.18.9.2 is given for two peers"]),
    ("vxlan", dict(VXLAN, peers=[{"address": "198.18.9.2", "mac": "01:00:5e:00:00:01"}]), ["peer 198.18.9.2 mac", "multicast"]),
    ("vxlan", dict(VXLAN, peers=[{"address": "198.18.9.2", "subnets": ["10.7.0.0/24"]}]),
     ["peer 198.18.9.2", "subnet 10.7.0.0/24 needs an IPv4 vtep address"]),
    ("vxlan", dict(VXLAN, peers=[{"address": "198.18.9.2", "vtep_addresses": ["10.7.0.0"], "subnets": ["10.7.0.0/24"]},
                                 {"address": "198.18.9.3", "vtep_addresses": ["10.7.0.128"], "subnets": ["10.7.0.128/25"]}]),
     ["subnet 10.7.0.0/24 of peer 198.18.9.2 overlaps subnet 10.7.0.128/25 of peer 198.18.9.3"]),
    ("vxlan", dict(VXLAN, peers=[{"address": "198.18.9.2", "vtep_addresses": ["10.1.0.0"], "subnets": ["10.1.0.0/24"]}]),
     ["subnet 10.1.0.0/24 of peer 198.18.9.2 overlaps 10.1.0.1/24 of link 'br-own'", "this host's own"]),
    # metrics: the textfile and its timer, refused before anything is read or written
    ("metrics_textfile", {"path": "/tmp/linuxns.txt"}, ["metrics textfile '/tmp/linuxns.txt'", "ending in .prom"]),
    ("metrics_textfile", {"path": "/no-such-dir/linuxns.prom"}, ["'/no-such-dir/linuxns.prom'", "its directory /no-such-dir does not exist"]),
    ("metrics_textfile", {"path": "/tmp/linuxns.prom", "schedule": "5s"}, ["metrics schedule '5s'", "at least 10s"]),
    ("metrics_textfile", {"path": "/tmp/linuxns.prom", "schedule": "hourly-ish"}, ["metrics schedule 'hourly-ish'", "30s, 1min or 2h"]),
    ("metrics_textfile", {"path": "/tmp/linuxns.prom", "namespaces": ["../etc"]}, ["'../etc'", "/run/netns"]),
    ("netns_info", {"namespaces": ["no-such-ns"], "stats": True}, ["-missing'", "does not exist"]),
    # the fleet role's read of a host
    ("netns_info", {"fleet_member": {"address": "198.18.7.1"}}, ["fleet member of this host", "give bridge and address"]),
    ("netns_info", {"fleet_member": {"bridge": "br-fleet", "address": "198.18.7.1", "colour": "red"}},
     ["fleet member of this host", "unknown keys ['colour']"]),
    ("netns_info", {"fleet_member": {"name": ["fleet"], "bridge": "br-fleet", "address": "198.18.7.1"}},
     ["fleet member of this host", "name (the network's", "must be a string, not ['fleet']"]),
    # a converge's token is text (netns_info's converged)
    ("container_network", {"name": "tok", "bridge": "br-tok", "subnet": "10.63.0.0/24", "converged": {"token": 1}},
     ["network 'tok'", "converged must be the text that netns_info returned", "not {'token': 1}"]),
]


def _resolve(args, host):
    """Name a namespace that certainly does not exist (this run's prefix, never created)."""
    return json.loads(json.dumps(args).replace('"no-such-ns"', f'"{host}-missing"').replace('"uts-ns"', f'"{host}-uts"'))


def snapshot(names):
    """What a module could change, without what the kernel manages by itself (IPv6 link-local autoconfiguration,
    carrier flags, counters)."""
    state = {"namespaces": namespaces(mine=True)}  # this run's: others may run too
    for ns in names:
        links = [(l["ifname"], l.get("master"), l.get("mtu"), "UP" in l["flags"], l.get("address"))
                 for l in json.loads(sh("ip", "-n", ns, "-d", "-j", "link").stdout)]
        addr_dump = json.loads(sh("ip", "-n", ns, "-j", "addr").stdout)
        addrs = sorted((a["ifname"], i["local"], i["prefixlen"])
                       for a in addr_dump for i in a.get("addr_info", []) if i.get("scope") != "link")
        routes4 = sh("ip", "-n", ns, "-4", "route", "show", "table", "all").stdout
        routes6 = [r for r in sh("ip", "-n", ns, "-6", "route", "show", "table", "all").stdout.splitlines()
                   if "proto kernel" not in r and not r.startswith(("local ", "multicast "))]
        rules = [sh("nft", "list", "ruleset", netns=ns).stdout,
                 [line for line in sh("iptables-save", netns=ns).stdout.splitlines() if not line.startswith("#")]]
        state[ns] = [links, addrs, routes4, routes6, rules, sh("sysctl", "-n", "net.ipv4.ip_forward", netns=ns).stdout]
    return state


@pytest.fixture(scope="module")
def prepared(netns_module):
    host, c1 = netns_module("host"), netns_module("c1")
    own = {"name": "own", "bridge": "br-own", "subnet": "10.1.0.0/24", "containers": []}
    assert not run_module("container_network", own, netns=host).get("failed")
    sh("ip", "-n", host, "link", "add", "taken0", "type", "veth", "peer", "name", "taken1")
    sh("ip", "-n", host, "addr", "add", "2001:db8:99::1/64", "dev", "taken0", "nodad")  # an underlay, say
    uts = f"/run/netns/{host}-uts"  # a UTS namespace where a network namespace is expected
    sh("touch", uts)
    sh("mount", "--bind", "/proc/self/ns/uts", uts)
    yield host, c1
    sh("umount", uts)
    os.unlink(uts)


def test_catalogue_is_big_enough(record):
    assert len(CATALOGUE) >= 40
    record("bad_inputs_tried", len(CATALOGUE))
    record("bad_inputs_modules", sorted({module for module, _args, _fragments in CATALOGUE}))


@pytest.mark.parametrize("module, args, fragments", CATALOGUE, ids=[f"{i:02d}-{c[0]}" for i, c in enumerate(CATALOGUE)])
def test_bad_input_fails_clearly_and_changes_nothing(prepared, module, args, fragments):
    host, c1 = prepared
    before = snapshot([host, c1])
    result = run_module(module, _resolve(args, host), netns=host)
    assert result.get("failed"), f"accepted: {args}"
    for fragment in fragments:
        assert fragment in result["msg"], f"message {result['msg']!r} lacks {fragment!r}"
    assert snapshot([host, c1]) == before
