"""Verify the fleet scenario over SSH: subnets, host-gw routes, ping matrix, source kept inside, NAT outside, on both
address families."""

import ipaddress

import pytest

from conftest import ECHO_PORT, address, in_ns, ping, source_seen, upstream

CONTAINERS = ("app1", "app2")


def subnet_of(host, family=4):
    cidr = host.run(f"ip -{family} -o addr show dev br-fleet scope global").stdout.split()[3]
    return ipaddress.ip_interface(cidr).network


def underlay(host, family):
    return host.run(f"ip -{family} -o addr show dev eth0 scope global").stdout.split()[3].split("/")[0]


@pytest.mark.parametrize("family, cluster, prefix", [(4, "10.244.0.0/16", 24), (6, "fd42::/48", 64)])
def test_each_host_has_its_own_subnet_and_routes_to_the_others(hosts, family, cluster, prefix):
    subnets = {name: subnet_of(h, family) for name, h in hosts.items()}
    assert len(set(subnets.values())) == len(hosts)
    assert all(s.subnet_of(ipaddress.ip_network(cluster)) and s.prefixlen == prefix for s in subnets.values())
    for name, host in hosts.items():
        routes = host.run(f"ip -{family} route").stdout
        for other, other_host in hosts.items():
            if other != name:
                gateway = underlay(other_host, family)
                assert f"{subnets[other]} via {gateway} dev eth0" in routes


@pytest.mark.parametrize("family", [4, 6])
def test_ping_matrix_across_hosts(hosts, family):
    everyone = [(name, ns, address(h, ns, family)) for name, h in hosts.items() for ns in CONTAINERS]
    failures = [(s, sn, ip) for s, sn, _own in everyone for d, dn, ip in everyone
                if (s, sn) != (d, dn) and not ping(hosts[s], sn, ip)]
    assert not failures


def test_cross_host_traffic_keeps_the_container_address(hosts):
    receiver, sender = hosts["host2"], hosts["host1"]
    target = address(receiver, "app1")
    server = (f"import socket; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
              f"s.bind(('{target}', 7100)); s.listen(1); s.settimeout(20); c, p = s.accept(); c.sendall(p[0].encode())")
    receiver.run(f"setsid nohup ip netns exec app1 python3 -c \"{server}\" >/dev/null 2>&1 &")
    for _attempt in range(50):  # each check is an SSH round trip: this waits up to several seconds
        if in_ns(receiver, "app1", "ss -Htln sport = :7100").stdout.strip():
            break
    assert source_seen(sender, "app1", target, 7100) == address(sender, "app1")


def test_traffic_leaving_the_cluster_is_masqueraded(hosts):
    for name, host in hosts.items():
        assert source_seen(host, "app2", upstream(host), ECHO_PORT) == underlay(host, 4)
        assert source_seen(host, "app2", upstream(host, 6), ECHO_PORT) == underlay(host, 6)
