# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Kernel constants, the one place they are written: the kernel's stable uapi (linux/netlink.h, rtnetlink.h, if_link.h,
if_addr.h, veth.h, net_namespace.h, neighbour.h, sched.h, nsfs.h, mount.h, netfilter/nf_tables.h)."""

from __future__ import annotations

# netlink and rtnetlink
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 0x100, 0x200, 0x400
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 16, 17, 18, 20, 21, 22
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE, RTM_GETNSID = 24, 25, 26, 90
IFF_UP = 1
VETH_INFO_PEER = 1
IFLA_NET_NS_FD = 28
NLA_TYPE_MASK = 0x3FFF  # without NLA_F_NESTED and NLA_F_NET_BYTEORDER

IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINK, IFLA_QDISC, IFLA_MASTER, IFLA_IFALIAS = 1, 3, 4, 5, 6, 10, 20
IFLA_OPERSTATE, IFLA_LINKINFO, IFLA_GROUP, IFLA_EXT_MASK, IFLA_LINK_NETNSID = 16, 18, 27, 29, 37
IFLA_INFO_KIND, IFLA_INFO_DATA, IFLA_INFO_SLAVE_KIND, IFLA_INFO_SLAVE_DATA = 1, 2, 4, 5
IFLA_BRPORT_MODE = 4
IFLA_BRPORT_ISOLATED = 33
IFLA_BR_STP_STATE, IFLA_BR_VLAN_FILTERING = 5, 7
IFLA_VXLAN_ID, IFLA_VXLAN_LINK, IFLA_VXLAN_LOCAL, IFLA_VXLAN_LEARNING, IFLA_VXLAN_PORT, IFLA_VXLAN_LOCAL6 = 1, 3, 4, 7, 15, 17
RTEXT_FILTER_SKIP_STATS = 1 << 3
IFA_ADDRESS, IFA_LOCAL, IFA_FLAGS = 1, 2, 8
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_PREFSRC, RTA_TABLE = 1, 4, 5, 6, 7, 15
NETNSA_NSID, NETNSA_FD = 1, 3
RTN_UNICAST, RT_TABLE_COMPAT, RT_SCOPE_NOWHERE = 1, 252, 255
OPERSTATES = ("unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up")
IFA_F_NODAD, IFA_F_PERMANENT = 0x02, 0x80
RTPROT_STATIC = 4
RTPROT_RA = 9  # a route learned from a router advertisement
RTNH_F_ONLINK = 4
NUD_PERMANENT = 0x80

# namespaces and mounts
CLONE_NEWNET = 0x40000000
NS_GET_NSTYPE = 0xB703  # ioctl on a namespace fd: its CLONE_NEW* type
MS_BIND, MS_REC, MS_SHARED = 0x1000, 0x4000, 1 << 20
MNT_DETACH = 2

# link statistics (if_link.h): IFLA_STATS64, struct rtnl_link_stats64's first eight counters, in order
IFLA_STATS64 = 23
LINK_STATS64 = ("rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_errors", "tx_errors", "rx_dropped", "tx_dropped")

# nf_tables over NETLINK_NETFILTER (nfnetlink.h, nf_tables.h): a rule dump, and the attributes a counter reading needs
NETLINK_NETFILTER = 12
NFT_MSG_GETRULE = (10 << 8) | 7  # NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETRULE
NFPROTO_INET = 1
NFTA_RULE_TABLE, NFTA_RULE_CHAIN, NFTA_RULE_EXPRESSIONS, NFTA_RULE_USERDATA = 1, 2, 4, 7
NFTA_LIST_ELEM, NFTA_EXPR_NAME, NFTA_EXPR_DATA = 1, 1, 2
NFTA_COUNTER_BYTES, NFTA_COUNTER_PACKETS = 1, 2
NFTA_META_KEY, NFTA_CT_KEY, NFTA_CMP_OP, NFTA_LOOKUP_FLAGS = 2, 2, 2, 5
NFT_LOOKUP_F_INV = 1
NFT_META_IIFNAME, NFT_META_OIFNAME, NFT_META_IIFGROUP, NFT_META_OIFGROUP = 6, 7, 21, 22
NFT_CT_STATE = 0
NFT_CMP_EQ, NFT_CMP_NEQ = 0, 1
NFTNL_UDATA_RULE_COMMENT = 0  # libnftnl's user data: the rule's comment
