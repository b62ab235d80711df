# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One host's part of a fleet as the host reads it (netns_info's fleet_member): its underlay, its bridge's subnets and
its containers' addresses. Apart from the plan (_fleet) because netns_info runs it on every host: a module compiles
what it imports on each call (AnsiballZ sends sources), so this imports only the views it reads."""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.linuxns.net.plugins.module_utils._container_items import container_items
from ansible_collections.linuxns.net.plugins.module_utils._defaults import CONTAINER_END
from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput
from ansible_collections.linuxns.net.plugins.module_utils._info_views import InfoView, NamespaceView


def _host(info):
    """The host view of a netns_info result (an empty one if the result has none)."""
    return InfoView.parse(info, "fleet").host or NamespaceView()


def bridge_subnet(info, bridge, family=4):
    """The subnet of the bridge's first address of that family (IPv6: not link-local), from netns_info's host view
    ('' if none)."""
    link = _host(info).link(bridge)
    for iface in link.interfaces if link else []:
        if iface.version == int(family) and not (iface.version == 6 and iface.is_link_local):
            return str(iface.network)
    return ""


def _family(address):
    try:
        return ipaddress.ip_address(str(address)).version
    except ValueError:
        return None


def _underlay_link(host, *addresses):
    """The link (a LinkView) that holds the first of addresses found, and its addresses parsed, from a host view."""
    links = [(link, link.interfaces) for link in host.links]
    for address in addresses:
        if _family(address) is not None:
            ip = ipaddress.ip_address(str(address))
            found = next(((link, ifaces) for link, ifaces in links if any(i.ip == ip for i in ifaces)), None)
            if found:
                return found
    return None, []


def _first(ifaces, family):
    return next((str(i.ip) for i in ifaces if i.version == family and not i.is_link_local), "")


def underlay_address6(info, address):
    """A host's IPv6 underlay address: address itself when it is IPv6, else the first global IPv6 address of the
    link that holds the IPv4 address, from netns_info's host view ('' if none)."""
    if _family(address) == 6:
        return str(ipaddress.ip_address(str(address)))
    return _first(_underlay_link(_host(info), address)[1], 6)


def fleet_member(info, bridge, address, address6=None, state="present", vxlan_device=None, containers=None):
    """What the fleet plan needs to know of one host, from its netns_info result (host view): its underlay
    addresses of both families (address, of either family, is also its VTEP's: the overlay's underlay), the networks
    its underlay link is on (who shares a link with it), that link's MTU, the subnets its bridge has, its routes via
    gateways (for prune), and whether its VXLAN device exists. With containers (the role's list), also those
    containers and the addresses they have now (from the result's namespaces), so that the plan knows every host's
    container addresses, which policies across the fleet name."""
    host = _host(info)
    link, ifaces = _underlay_link(host, address, address6)
    if not address6:
        address6 = str(address) if _family(address) == 6 else _first(ifaces, 6)
    # an IPv6 address makes an IPv6 underlay for the overlay; host-gw over IPv4 then uses the link's IPv4 address
    address4 = _first(ifaces, 4) if _family(address) == 6 else str(address or "")
    underlay = sorted({str(i.network) for i in ifaces if not i.is_link_local})
    routes = [{"dest": r.dest, "gateway": r.gateway, "dev": r.dev} for r in host.gateway_routes]
    return {"address": address4, "address6": address6 or "", "vtep": str(address) if address else "",
            "state": state or "present",
            "subnet": bridge_subnet(info, bridge), "subnet6": bridge_subnet(info, bridge, 6), "underlay": underlay,
            "mtu": link.mtu if link else None, "routes": routes,
            "vxlan": host.link(vxlan_device) is not None, "containers": _member_containers(info, containers)}


FLEET_MEMBER_KEYS = ("name", "bridge", "address", "address6", "state", "vxlan_device", "containers")
# names that container_network would refuse are not read here: the converge that follows says what is wrong with them
_READABLE_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")


def fleet_member_namespaces(request):
    """netns_info's fleet_member, checked before anything is read: the namespaces to read (its containers')."""
    unknown = sorted(set(request) - set(FLEET_MEMBER_KEYS))
    if unknown or not request.get("bridge") or not request.get("address"):
        raise InvalidInput(f"fleet member of this host: give bridge and address (keys: {', '.join(FLEET_MEMBER_KEYS)})"
                           + (f"; unknown keys {unknown}" if unknown else ""))
    if not isinstance(request.get("name") or "", str):
        raise InvalidInput(f"fleet member of this host: name (the network's, whose last converge is compared) must be "
                           f"a string, not {request['name']!r:.100}")
    names = (item.get("name") for item in container_items(request.get("containers")))
    return [name for name in names if isinstance(name, str) and _READABLE_NAME.fullmatch(name)]


def fleet_member_read(info, request, converged=""):
    """netns_info's fleet_member: the member of this host (fleet_member of what was read), the views left empty, and
    converged, the token of the network's last converge if the kernel is still as it left it (_converged)."""
    member = fleet_member(info, request["bridge"], request["address"], request.get("address6"),
                          request.get("state") or "present", request.get("vxlan_device"), request.get("containers"))
    return {"namespace_names": info.get("namespace_names", []), "namespaces": {}, "fleet_member": member,
            "converged": converged}


def _member_containers(info, containers):
    """The role's containers (container_network items) with the addresses of their interface now: [item, addresses]."""
    views = InfoView.parse(info, "fleet member").namespaces
    out = []
    for item in container_items(containers):
        view = views.get(item.get("name"))
        link = view.link(item.get("interface") or CONTAINER_END) if view else None
        out.append([item, list(link.managed_addresses) if link else []])
    return out
