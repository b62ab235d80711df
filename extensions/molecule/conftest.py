"""testinfra helpers shared by the scenarios: hosts by name, and commands inside a host's containers."""

import os

import pytest
import testinfra

ECHO_PORT = 7007


def upstream(host, family=4):
    """The lab's upstream host, in the scenario's underlay: the hosts' default routes point at it."""
    return host.run(f"ip -{family} route show default").stdout.split()[2]


@pytest.fixture(scope="module")
def hosts():
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    names = [n.strip() for n in os.environ["LAB_PLATFORMS"].split(",")]
    return {n: testinfra.get_host(f"ansible://{n}?ansible_inventory={inventory}") for n in names}


def in_ns(host, ns, command):
    return host.run(f"ip netns exec {ns} {command}")


def ping(host, ns, address):
    return in_ns(host, ns, f"ping -c 1 -W 1 -q {address}").rc == 0


def address(host, ns, family=4):
    out = in_ns(host, ns, f"ip -{family} -o addr show dev eth0 scope global").stdout.split()
    return out[3].split("/")[0]


def source_seen(host, ns, target, port):
    code = (f"import socket; s = socket.create_connection(('{target}', {port}), timeout=3); "
            "print(s.recv(100).decode().strip())")
    result = in_ns(host, ns, f'python3 -c "{code}"')
    assert result.rc == 0, result.stderr
    return result.stdout.strip()
