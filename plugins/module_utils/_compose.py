# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A docker-compose.yml's networking as the bridge_network role's variables (the compose_networks filter): its
networks (subnets from ipam, internal, enable_ipv6, the bridge driver's ICC and bridge name options), and on each
the services that join it (aliases, fixed addresses, published ports in both syntaxes, MAC, sysctls). What is not
networking (volumes, images, commands) is ignored; what cannot be mapped (host networking, other drivers, external
networks, a port without a host port) is refused, naming the service or network."""

from __future__ import annotations

import ipaddress

from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput

ICC_OPTION = "com.docker.network.bridge.enable_icc"
BRIDGE_OPTION = "com.docker.network.bridge.name"
KNOWN_DRIVER_OPTIONS = (ICC_OPTION, BRIDGE_OPTION, "com.docker.network.driver.mtu")
# every variable the filter sets, as the role's defaults have it, so that a playbook can pass each one as it is
ROLE_DEFAULTS = {"bridge_network_bridge": None, "bridge_network_subnet": None, "bridge_network_subnet6": None,
                 "bridge_network_gateway": None, "bridge_network_gateway6": None, "bridge_network_ip_range": None,
                 "bridge_network_ip_range6": None, "bridge_network_reserved": [], "bridge_network_mtu": None}


def _load(compose):
    if isinstance(compose, dict):
        return compose
    if not isinstance(compose, str):
        raise InvalidInput(f"compose_networks: the input must be a compose file's text or its data, not {type(compose).__name__}")
    import yaml  # the controller's (Ansible needs it): the module side never loads compose files
    try:
        data = yaml.safe_load(compose)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"compose_networks: the compose file is not YAML ({exc})".replace("\n", " ")) from None
    if not isinstance(data, dict):
        raise InvalidInput("compose_networks: the compose file is not a mapping (services:, networks:)")
    return data


def _addressing(name, config, pool):
    """A network's role variables for addresses: subnets from its ipam config (IPv4: the next /24 of pool when it has
    none), ip ranges, gateways and aux addresses (reserved)."""
    out, reserved = {}, []
    for entry in ((config.get("ipam") or {}).get("config") or []):
        entry = entry or {}
        if entry.get("subnet") is None:
            continue
        try:
            network = ipaddress.ip_network(str(entry["subnet"]))
        except ValueError:
            raise InvalidInput(f"compose network '{name}': ipam subnet {entry['subnet']!r} is not a network") from None
        six = "6" if network.version == 6 else ""
        out[f"bridge_network_subnet{six}"] = str(network)
        if entry.get("ip_range"):
            out[f"bridge_network_ip_range{six}"] = str(entry["ip_range"])
        if entry.get("gateway"):
            out[f"bridge_network_gateway{six}"] = str(entry["gateway"])
        reserved += [str(a) for a in (entry.get("aux_addresses") or {}).values()]
    if config.get("enable_ipv6") and "bridge_network_subnet6" not in out:
        raise InvalidInput(f"compose network '{name}': enable_ipv6 needs an IPv6 subnet in its ipam config")
    if not config.get("enable_ipv6"):
        out.pop("bridge_network_subnet6", None)
        out.pop("bridge_network_ip_range6", None)
        out.pop("bridge_network_gateway6", None)
    if "bridge_network_subnet" not in out and not config.get("enable_ipv6"):
        out["bridge_network_subnet"] = str(next(pool))
    if reserved:
        out["bridge_network_reserved"] = reserved
    return out


def _network_names(name, service):
    networks = service.get("networks")
    if networks is None:
        return {"default": {}}
    if isinstance(networks, list):
        return {n: {} for n in networks}
    if isinstance(networks, dict):
        return {n: (v or {}) for n, v in networks.items()}
    raise InvalidInput(f"compose service '{name}': networks must be a list or a mapping")


def _ports(name, ports):
    out = []
    for port in ports or []:
        if isinstance(port, dict):  # the long syntax
            if port.get("published") in (None, ""):
                raise InvalidInput(f"compose service '{name}': port {port!r} has no published (host) port; a port "
                                   "picked at random by the engine cannot be declared")
            item = {"target": port["target"], "published": port["published"]}
            if port.get("protocol"):
                item["protocol"] = port["protocol"]
            if port.get("host_ip"):
                item["host_ip"] = port["host_ip"]
            out.append(item)
            continue
        text = str(port)
        body = text.split("/", maxsplit=1)[0]
        if ":" not in body or (body.count(":") == 1 and body.startswith("[")):
            raise InvalidInput(f"compose service '{name}': port '{text}' has no host port; a port picked at random "
                               "by the engine cannot be declared")
        out.append(text)
    return out


def _sysctls(name, sysctls):
    if sysctls is None:
        return None
    if isinstance(sysctls, list):
        pairs = [str(s).split("=", 1) for s in sysctls]
        if any(len(p) != 2 for p in pairs):
            raise InvalidInput(f"compose service '{name}': sysctls {sysctls!r} must be key=value items")
        sysctls = dict(pairs)
    return {str(k): str(v) for k, v in sysctls.items()}


def compose_networks(compose, project="app", pool="10.90.0.0/16"):
    """The role's variables, one dict per network of the compose file that a service joins (sorted by name)."""
    data = _load(compose)
    services = data.get("services") or {}
    declared = data.get("networks") or {}
    if not isinstance(services, dict) or not isinstance(declared, dict):
        raise InvalidInput("compose_networks: services and networks must be mappings")
    try:
        subnets_pool = ipaddress.ip_network(pool).subnets(new_prefix=24)
    except ValueError:
        raise InvalidInput(f"compose_networks: pool {pool!r} must be an IPv4 network of /24 or larger") from None
    members = {}
    for service, spec in sorted(services.items()):
        spec = spec or {}
        if spec.get("network_mode"):
            raise InvalidInput(f"compose service '{service}': network_mode {spec['network_mode']!r} is not a bridge "
                               "network; linuxns.net builds bridge networks only")
        joined = _network_names(service, spec)
        for position, (network, options) in enumerate(joined.items()):
            if network != "default" and network not in declared:
                raise InvalidInput(f"compose service '{service}': network '{network}' is not declared under networks")
            item = {"name": spec.get("container_name") or service,
                    "interface": f"eth{position}", "default_route": position == 0}
            aliases = [a for a in (options.get("aliases") or []) if a != item["name"]]
            if item["name"] != service:
                aliases.insert(0, service)  # compose's DNS answers the service's name too
            if aliases:
                item["aliases"] = aliases
            for key, ours in (("ipv4_address", "address"), ("ipv6_address", "address6")):
                if options.get(key):
                    item[ours] = str(options[key])
            if position == 0:  # a service's own settings go on its first network's interface
                if spec.get("ports"):
                    item["ports"] = _ports(service, spec["ports"])
                if spec.get("mac_address"):
                    item["mac"] = str(spec["mac_address"])
                sysctls = _sysctls(service, spec.get("sysctls"))
                if sysctls:
                    item["sysctls"] = sysctls
            members.setdefault(network, []).append(item)
    out = []
    for network in sorted(members):
        config = declared.get(network) or {}
        if config.get("external"):
            raise InvalidInput(f"compose network '{network}' is external (made outside this compose file); declare "
                               "it, or build it with the role first")
        driver = config.get("driver") or "bridge"
        if driver != "bridge":
            raise InvalidInput(f"compose network '{network}': driver '{driver}' is not a bridge; linuxns.net builds "
                               "bridge networks only (fleets: the fleet_network role)")
        options = config.get("driver_opts") or {}
        unknown = sorted(set(options) - set(KNOWN_DRIVER_OPTIONS))
        if unknown:
            raise InvalidInput(f"compose network '{network}': driver_opts {unknown} cannot be mapped (known: "
                               f"{', '.join(KNOWN_DRIVER_OPTIONS)})")
        name = config.get("name") or f"{project}_{network}"
        role = dict(ROLE_DEFAULTS, bridge_network_name=name, bridge_network_internal=bool(config.get("internal")),
                    bridge_network_icc=str(options.get(ICC_OPTION, "true")).lower() != "false")
        role.update(_addressing(network, config, subnets_pool))
        role["bridge_network_containers"] = members[network]
        if options.get(BRIDGE_OPTION):
            role["bridge_network_bridge"] = options[BRIDGE_OPTION]
        if options.get("com.docker.network.driver.mtu"):
            role["bridge_network_mtu"] = int(options["com.docker.network.driver.mtu"])
        out.append(role)
    return out
