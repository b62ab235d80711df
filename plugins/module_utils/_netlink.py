# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Lean rtnetlink: the requests a run makes per container (dumps of links, addresses and routes, namespace ids,
lookups by name; veth and bridge creation, link up, addresses, routes, link deletion), on a plain netlink socket, encoding and
decoding only the attributes the planners use.

Why: a run reads, and a first run builds, every container's namespace. Through pyroute2's IPRoute a link dump costs
about 0.8 ms (its asyncio loop and the full decoding of every attribute), any other request 0.3 to 0.5 ms, opening
the socket 0.3 ms; here each costs under 0.03 ms besides the kernel's own work, and dumps ask the kernel to leave
the statistics out (RTEXT_FILTER_SKIP_STATS). Everything else (a bridge's STP and VLAN settings, vxlan, forwarding
entries) goes through pyroute2, whose import alone costs a run about 0.17 s of CPU. The numbers are in _kernel.py.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct

from ansible_collections.linuxns.net.plugins.module_utils._kernel import (
    IFA_ADDRESS, IFA_FLAGS, IFA_LOCAL, IFF_UP, IFLA_ADDRESS, IFLA_EXT_MASK, IFLA_GROUP, IFLA_IFALIAS, IFLA_IFNAME,
    IFLA_INFO_DATA, IFLA_INFO_KIND, IFLA_LINKINFO, IFLA_MASTER, IFLA_MTU, IFLA_NET_NS_FD, NETNSA_FD, NETNSA_NSID, NLA_TYPE_MASK,
    NLMSG_DONE, NLMSG_ERROR, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST, RTA_DST,
    RTA_GATEWAY, RTA_OIF, RTA_PREFSRC, RTA_PRIORITY, RTA_TABLE, RTEXT_FILTER_SKIP_STATS, RTM_DELADDR, RTM_DELLINK,
    RTM_DELROUTE, RTM_GETADDR, RTM_GETLINK, RTM_GETNSID, RTM_GETROUTE, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWROUTE,
    RTN_UNICAST, RT_SCOPE_NOWHERE, RT_TABLE_COMPAT, VETH_INFO_PEER, NETLINK_NETFILTER, NFPROTO_INET, NFT_MSG_GETRULE,
    NFTA_CMP_OP, NFTA_CT_KEY, NFTA_COUNTER_BYTES, NFTA_COUNTER_PACKETS, NFTA_EXPR_DATA, NFTA_EXPR_NAME, NFTA_META_KEY,
    NFTA_RULE_CHAIN, NFTA_RULE_EXPRESSIONS, NFTA_RULE_TABLE, NFTA_RULE_USERDATA, NFTNL_UDATA_RULE_COMMENT,
    NFTA_LOOKUP_FLAGS, NFT_CMP_EQ, NFT_CMP_NEQ, NFT_LOOKUP_F_INV)


_HEADER = struct.Struct("=IHHII")
_IFINFOMSG = struct.Struct("=BxHiII")  # family, type, index, flags, change
_IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")  # family, dst_len, src_len, tos, table, protocol, scope, type, flags
_RTGENMSG = struct.Struct("=Bxxx")
_NFGENMSG = struct.Struct("=BBH")  # family, version, resource id (big-endian in the kernel's; 0 here)
_ATTR = struct.Struct("=HH")
_ACK = NLM_F_REQUEST | NLM_F_ACK
_U32 = struct.Struct("=I")
_I32 = struct.Struct("=i")


def _align(n):
    return (n + 3) & ~3


def attributes(data, start, end):
    """The attributes between start and end, by type (the first of a repeated type wins, as pyroute2's get_attr)."""
    found = {}
    while start + 4 <= end:
        length, kind = _ATTR.unpack_from(data, start)
        if length < 4:
            break
        found.setdefault(kind & NLA_TYPE_MASK, data[start + 4:start + length])
        start += _align(length)
    return found


def nested(value):
    """The attributes nested in an attribute's value ({} for none)."""
    return {} if value is None else attributes(value, 0, len(value))


def attr(length, kind, payload):
    return _ATTR.pack(length + 4, kind) + payload + b"\0" * (_align(length) - length)


def attr_u32(kind, value):
    return attr(4, kind, _U32.pack(value))


def attr_bytes(kind, payload):
    return attr(len(payload), kind, payload)


def attr_name(kind, name):
    return attr_bytes(kind, name.encode() + b"\0")


def attr_mac(kind, value):
    return attr_bytes(kind, bytes(int(octet, 16) for octet in value.split(":")))


def attr_ip(kind, address):
    return attr_bytes(kind, ipaddress.ip_address(address).packed)


def _link_attrs(name, mtu=None, mac_address=None):
    out = attr_name(IFLA_IFNAME, name)
    if mtu is not None:
        out += attr_u32(IFLA_MTU, mtu)
    if mac_address:
        out += attr_mac(IFLA_ADDRESS, mac_address)
    return out


def u32(value):
    return None if value is None else _U32.unpack(value[:4])[0]


def i32(value):
    return None if value is None else _I32.unpack(value[:4])[0]


def text(value):
    return None if value is None else bytes(value).split(b"\0", 1)[0].decode()


def mac(value):
    return None if not value else ":".join(f"{b:02x}" for b in value)


def ip(value, family):
    if value is None:
        return None
    return str(ipaddress.IPv4Address(bytes(value)) if family == socket.AF_INET else ipaddress.IPv6Address(bytes(value)))


class Message:
    """One reply: its fixed header as a tuple, and its attributes by type."""
    __slots__ = ("header", "attrs")

    def __init__(self, header, attrs):
        self.header = header
        self.attrs = attrs


class RouteSocket:
    """A NETLINK_ROUTE socket of the namespace it was opened in (open it inside the namespace)."""

    def __init__(self, protocol=socket.NETLINK_ROUTE):
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, protocol)
        self._sock.bind((0, 0))
        self._seq = 0

    def close(self):
        self._sock.close()

    def _request(self, msg_type, flags, body, fixed):
        """Send one request; return its replies as Messages (fixed: the struct of their header)."""
        self._seq += 1
        seq = self._seq
        self._sock.send(_HEADER.pack(_HEADER.size + len(body), msg_type, flags, seq, 0) + body)
        replies = []
        while True:
            data = self._sock.recv(1 << 17)
            offset = 0
            while offset + _HEADER.size <= len(data):
                length, kind, _flags, reply_seq, _pid = _HEADER.unpack_from(data, offset)
                if length < _HEADER.size:
                    raise OSError(errno.EBADMSG, "malformed netlink reply")
                start, end = offset + _HEADER.size, offset + length
                offset += _align(length)
                if reply_seq != seq:
                    continue
                if kind == NLMSG_DONE:
                    return replies
                if kind == NLMSG_ERROR:
                    code = -_I32.unpack_from(data, start)[0]
                    if code:
                        raise OSError(code, os.strerror(code))
                    return replies  # the ack of a request that was not a dump
                header = fixed.unpack_from(data, start)
                replies.append(Message(header, attributes(data, start + fixed.size, end)))
                if not flags & NLM_F_DUMP:
                    return replies

    def links(self, stats=False):
        """Every link, without statistics unless asked (IFLA_STATS64): Messages with header (family, type, index,
        flags, change)."""
        body = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
        if not stats:
            body += attr(4, IFLA_EXT_MASK, _U32.pack(RTEXT_FILTER_SKIP_STATS))
        return self._request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, body, _IFINFOMSG)

    def link_index(self, name):
        """The index of the link named name, or None: one request, whatever the number of links."""
        body = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + attr(4, IFLA_EXT_MASK, _U32.pack(RTEXT_FILTER_SKIP_STATS))
        encoded = name.encode() + b"\0"
        try:
            replies = self._request(RTM_GETLINK, NLM_F_REQUEST, body + attr(len(encoded), IFLA_IFNAME, encoded), _IFINFOMSG)
        except OSError as exc:
            if exc.errno == errno.ENODEV:
                return None
            raise
        return replies[0].header[2] if replies else None

    def set_up(self, index, up=True):
        """Set a link up (or down)."""
        self._request(RTM_NEWLINK, _ACK, _IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, IFF_UP if up else 0, IFF_UP), _IFINFOMSG)

    def delete_link(self, index):
        self._request(RTM_DELLINK, _ACK, _IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, 0, 0), _IFINFOMSG)

    def add_veth(self, name, peer, peer_netns_fd=None, mtu=None, mac_address=None, peer_mac_address=None, master=None,
                 peer_mtu=None):
        """Create a veth pair in this namespace, its peer directly in the namespace of peer_netns_fd (if given); the
        peer has mtu too unless peer_mtu is given."""
        peer_attrs = _link_attrs(peer, mtu if peer_mtu is None else peer_mtu, peer_mac_address)
        if peer_netns_fd is not None:
            peer_attrs += attr_u32(IFLA_NET_NS_FD, peer_netns_fd)
        peer_info = attr_bytes(VETH_INFO_PEER, _IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + peer_attrs)
        info = attr_name(IFLA_INFO_KIND, "veth") + attr_bytes(IFLA_INFO_DATA, peer_info)
        body = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + _link_attrs(name, mtu, mac_address)
        if master:
            body += attr_u32(IFLA_MASTER, master)
        self._request(RTM_NEWLINK, _ACK | NLM_F_CREATE | NLM_F_EXCL, body + attr_bytes(IFLA_LINKINFO, info), _IFINFOMSG)

    def add_bridge(self, name, mac_address=None, group=None):
        """Create a bridge with the kernel's defaults (STP off, no VLAN filtering): a network's, on its first run."""
        body = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + _link_attrs(name, None, mac_address)
        if group is not None:
            body += attr_u32(IFLA_GROUP, group)
        info = attr_name(IFLA_INFO_KIND, "bridge")
        self._request(RTM_NEWLINK, _ACK | NLM_F_CREATE | NLM_F_EXCL, body + attr_bytes(IFLA_LINKINFO, info), _IFINFOMSG)

    def set_link(self, index, mtu=None, alias=None):
        """Set a link's MTU and alias (the kernel takes an alias only on an existing link)."""
        body = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, 0, 0)
        if mtu is not None:
            body += attr_u32(IFLA_MTU, mtu)
        if alias is not None:
            body += attr_name(IFLA_IFALIAS, alias)
        self._request(RTM_NEWLINK, _ACK, body, _IFINFOMSG)

    def address(self, command, index, address, prefixlen, flags=0):
        """Add ("add") or remove ("del") an address of a link."""
        family = socket.AF_INET if ipaddress.ip_address(address).version == 4 else socket.AF_INET6
        body = _IFADDRMSG.pack(family, prefixlen, flags & 0xFF, 0, index) + attr_ip(IFA_LOCAL, address) + attr_ip(IFA_ADDRESS, address)
        if flags > 0xFF:
            body += attr_u32(IFA_FLAGS, flags)
        if command == "add":
            self._request(RTM_NEWADDR, _ACK | NLM_F_CREATE | NLM_F_EXCL, body, _IFADDRMSG)
        else:
            self._request(RTM_DELADDR, _ACK, body, _IFADDRMSG)

    def route(self, command, dst, table, metric, proto, scope=None, gateway=None, oif=None, prefsrc=None, flags=0):
        """Add ("add"), replace ("replace") or delete ("del") a unicast route to dst (an ipaddress network); a
        deletion without scope matches any."""
        if scope is None:
            scope = RT_SCOPE_NOWHERE if command == "del" else 0
        family = socket.AF_INET if dst.version == 4 else socket.AF_INET6
        header = _RTMSG.pack(family, dst.prefixlen, 0, 0, table if table < 256 else RT_TABLE_COMPAT, proto, scope,
                             RTN_UNICAST if command != "del" else 0, flags)
        body = header + attr_u32(RTA_TABLE, table) + attr_u32(RTA_PRIORITY, metric)
        if dst.prefixlen:
            body += attr_ip(RTA_DST, dst.network_address)
        if gateway is not None:
            body += attr_ip(RTA_GATEWAY, gateway)
        if oif is not None:
            body += attr_u32(RTA_OIF, oif)
        if prefsrc is not None:
            body += attr_ip(RTA_PREFSRC, prefsrc)
        request_flags = {"add": _ACK | NLM_F_CREATE | NLM_F_EXCL, "replace": _ACK | NLM_F_CREATE | NLM_F_REPLACE,
                         "del": _ACK}[command]
        self._request(RTM_DELROUTE if command == "del" else RTM_NEWROUTE, request_flags, body, _RTMSG)

    def addresses(self):
        """Every address of both families: header (family, prefixlen, flags, scope, index)."""
        return self._request(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, _IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0), _IFADDRMSG)

    def routes(self, family):
        """Every route of one family, every table: header (family, dst_len, src_len, tos, table, protocol, scope,
        type, flags)."""
        return self._request(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, _RTMSG.pack(family, 0, 0, 0, 0, 0, 0, 0, 0), _RTMSG)

    def netnsid(self, fd):
        """The id this namespace gives the namespace of fd, or None when it has given it none."""
        body = _RTGENMSG.pack(socket.AF_UNSPEC) + attr(4, NETNSA_FD, _U32.pack(fd))
        replies = self._request(RTM_GETNSID, NLM_F_REQUEST, body, _RTGENMSG)
        nsid = i32(replies[0].attrs.get(NETNSA_NSID)) if replies else None
        return None if nsid is None or nsid < 0 else nsid


def attribute_list(data):
    """The attributes of a value in order, repeated types kept: [(type, value)] (nf_tables' expression lists)."""
    found, start = [], 0
    while start + 4 <= len(data):
        length, kind = _ATTR.unpack_from(data, start)
        if length < 4:
            break
        found.append((kind & NLA_TYPE_MASK, data[start + 4:start + length]))
        start += _align(length)
    return found


def _be64(value):
    return None if value is None else struct.unpack(">Q", bytes(value[:8]))[0]


def _rule_comment(userdata):
    """A rule's comment, from libnftnl's user data (type, length, value records), or None."""
    data, start = bytes(userdata or b""), 0
    while start + 2 <= len(data):
        kind, length = data[start], data[start + 1]
        if kind == NFTNL_UDATA_RULE_COMMENT:
            return text(data[start + 2:start + 2 + length])
        start += 2 + length
    return None


class CountedRule:
    """One nf_tables rule that holds a counter: its chain, comment, counter, and the matches that tell its kind."""
    __slots__ = ("chain", "comment", "packets", "bytes", "matches")

    def __init__(self, chain, comment, packets, octets, matches):
        self.chain, self.comment, self.packets, self.bytes, self.matches = chain, comment, packets, octets, matches


class NftSocket(RouteSocket):
    """A NETLINK_NETFILTER socket of the namespace it was opened in: reads rule counters of one of our tables with
    one dump, no program run (an nft run costs milliseconds per namespace, this a fraction of one)."""

    def __init__(self):
        super().__init__(NETLINK_NETFILTER)

    def counted_rules(self, table):
        """The rules of inet table `table` that hold a counter (none when the table does not exist). matches: the
        (meta or ct key, comparison) pairs the rule tests, as ("meta", NFT_META_*, NFT_CMP_*) or ("ct", key, op)."""
        body = _NFGENMSG.pack(NFPROTO_INET, 0, 0) + attr_name(NFTA_RULE_TABLE, table)
        try:
            replies = self._request(NFT_MSG_GETRULE, NLM_F_REQUEST | NLM_F_DUMP, body, _NFGENMSG)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return []
            raise
        out = []
        for msg in replies:
            if text(msg.attrs.get(NFTA_RULE_TABLE)) != table:
                continue
            counter, matches, loaded = None, [], None
            for _kind, elem in attribute_list(msg.attrs.get(NFTA_RULE_EXPRESSIONS) or b""):
                expr = nested(elem)
                name, data = text(expr.get(NFTA_EXPR_NAME)), nested(expr.get(NFTA_EXPR_DATA))
                if name == "counter":
                    counter = (_be64(data.get(NFTA_COUNTER_PACKETS)) or 0, _be64(data.get(NFTA_COUNTER_BYTES)) or 0)
                elif name in ("meta", "ct"):
                    key = data.get(NFTA_META_KEY if name == "meta" else NFTA_CT_KEY)
                    loaded = None if key is None else (name, int.from_bytes(bytes(key[:4]), "big"))
                elif name == "cmp" and loaded is not None:
                    matches.append(loaded + (int.from_bytes(bytes(data.get(NFTA_CMP_OP, b"\0\0\0\0")[:4]), "big"),))
                    loaded = None
                elif name == "lookup" and loaded is not None:  # a match against a set: "ct state != { ... }"
                    inverted = int.from_bytes(bytes(data.get(NFTA_LOOKUP_FLAGS, b"\0\0\0\0")[:4]), "big") & NFT_LOOKUP_F_INV
                    matches.append(loaded + (NFT_CMP_NEQ if inverted else NFT_CMP_EQ,))
                    loaded = None
                elif name == "bitwise" and loaded is not None:
                    continue  # ct state & mask: the comparison follows
                else:
                    loaded = None
            if counter is not None:
                out.append(CountedRule(text(msg.attrs.get(NFTA_RULE_CHAIN)), _rule_comment(msg.attrs.get(NFTA_RULE_USERDATA)),
                                       counter[0], counter[1], tuple(matches)))
        return out
