# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a namespace's network counted (netns_info stats=true): its conntrack table's fill and insert failures, and
the packets and bytes each kind of our drop rules refused. Link counters come with the link dump (_snapshot.Snapshot
stats=True). Read only: through netlink for nf_tables (one rule dump per table, no program run), iptables-save -c
where the iptables backends hold our rules, and /proc for conntrack."""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.linuxns.net.plugins.module_utils._errors import KernelError, kernel_error, where
from ansible_collections.linuxns.net.plugins.module_utils._firewall_backends import (
    CHAINS, NFT_TABLE, POLICY_TABLE, RuleTag, rule_comment, save_programs)
from ansible_collections.linuxns.net.plugins.module_utils._kernel import (
    NFT_CMP_EQ, NFT_CT_STATE, NFT_META_IIFNAME, NFT_META_OIFGROUP, NFT_META_OIFNAME)
from ansible_collections.linuxns.net.plugins.module_utils._netlink import NftSocket
from ansible_collections.linuxns.net.plugins.module_utils._programs import run_program
from ansible_collections.linuxns.net.plugins.module_utils._sysctl import read_sysctl

# what refuses traffic, by rule kind: network isolation, ICC off, direct-access protection (gateway modes nat and
# routed), internal networks, a published port's allow-list, a container's network policy
DROP_KINDS = ("isolation", "icc", "direct-access", "internal", "allow-list", "policy")
POLICY_DIRECTIONS = {"input": "ingress", "output": "egress"}  # the policy table's chains
_COUNTED = re.compile(r"^\[(\d+):(\d+)\] -A (\S+) (.*)$")


_LIMIT = {}  # nf_conntrack_max: one for the whole host (read-only and the same in every other namespace), read once


def conntrack(namespace):
    """The namespace's conntrack table (already inside it): entries, its limit, and insert failures (summed over the
    CPUs), from one file, /proc/net/stat/nf_conntrack; None where conntrack is not loaded."""
    try:  # thread-self: the namespace this thread entered, whichever thread it is
        with open("/proc/thread-self/net/stat/nf_conntrack") as f:
            header = f.readline().split()
            rows = [line.split() for line in f if line.strip()]
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise kernel_error(f"read the conntrack statistics of {where(namespace)}", exc) from None
    if "limit" not in _LIMIT:
        try:
            _LIMIT["limit"] = int(read_sysctl("/proc/sys/net/netfilter/nf_conntrack_max"))
        except (OSError, ValueError):
            _LIMIT["limit"] = None
    try:
        entries, failed = header.index("entries"), header.index("insert_failed")
        return {"entries": int(rows[0][entries], 16) if rows else 0, "limit": _LIMIT["limit"],
                "insert_failed": sum(int(row[failed], 16) for row in rows)}
    except (ValueError, IndexError):
        raise KernelError(f"read the conntrack statistics of {where(namespace)}: /proc/net/stat/nf_conntrack has a "
                          f"layout this release does not know ({' '.join(header)})") from None


def _family(source):
    if source.startswith("forward:"):
        return ipaddress.ip_network(source[len("forward:"):]).version
    if source.startswith("ports6:"):
        return 6
    return 4 if source.startswith("ports:") else None


def nft_drop_kind(tag, rule):
    """The kind of drop a counted nf_tables rule of ours is (netlink's view, _netlink.CountedRule), or None."""
    if tag.source.startswith("policy:"):
        return "policy"
    if tag.source.startswith(("ports:", "ports6:")):
        return "allow-list" if rule.chain == "prerouting" else None
    if not tag.source.startswith("forward:"):
        return None
    metas = {(key, op) for what, key, op in rule.matches if what == "meta"}
    if any(key == NFT_META_OIFGROUP for key, _op in metas):
        return "isolation"
    if any(what == "ct" and key == NFT_CT_STATE for what, key, _op in rule.matches):
        return "direct-access"
    if {(NFT_META_IIFNAME, NFT_CMP_EQ), (NFT_META_OIFNAME, NFT_CMP_EQ)} <= metas:
        return "icc"
    return "internal"


def iptables_drop_kind(tag, table, rule):
    """The kind of drop an iptables rule of ours is (as iptables-save prints it, less "-A CHAIN"), or None."""
    if tag.source.startswith(("ports:", "ports6:")):
        return "allow-list" if table == "nat" and " -j " not in f" {rule} " else None
    if not tag.source.startswith("forward:") or not rule.endswith("-j DROP"):
        return None
    if "--dst-group" in rule:
        return "isolation"
    if "RELATED,ESTABLISHED" in rule:
        return "direct-access"
    if re.search(r"(^| )-i \S+ -o \S+", rule):
        return "icc"
    return "internal"


def _add(found, kind, tag, packets, octets, direction=None):
    key = (kind, tag.source, direction)
    entry = found.setdefault(key, {"kind": kind, "rule_set": tag.source, "family": _family(tag.source),
                                   "packets": 0, "bytes": 0})
    if direction:
        entry["direction"] = direction
    entry["packets"] += packets
    entry["bytes"] += octets


def drops(namespace, iptables=False):
    """What our rules in the namespace (already inside it) refused, per kind and rule set: [{kind, rule_set, family,
    packets, bytes}] (a policy's also with direction). iptables: also read the iptables backends (a host's
    namespace, where networks' forwarding rules may be iptables rules)."""
    found = {}
    sock = NftSocket()
    try:
        for table in (NFT_TABLE, POLICY_TABLE):
            for rule in sock.counted_rules(table):
                tag = RuleTag.parse(rule.comment)
                kind = nft_drop_kind(tag, rule) if tag else None
                if kind:
                    _add(found, kind, tag, rule.packets, rule.bytes, POLICY_DIRECTIONS.get(rule.chain) if kind == "policy" else None)
    except OSError as exc:
        raise kernel_error(f"read the counters of our rules in {where(namespace)}", exc) from None
    finally:
        sock.close()
    ours = tuple(CHAINS.values())
    for program, _family_ in save_programs() if iptables else ():
        table = None
        for line in run_program([program, "-c"], where(namespace), ok_codes=(0, 1)).stdout.splitlines():
            if line.startswith("*"):
                table = line[1:].strip()
                continue
            match = _COUNTED.match(line)
            if not match or match.group(3) not in ours:
                continue
            tag = RuleTag.parse(rule_comment(match.group(4)))
            kind = iptables_drop_kind(tag, table, match.group(4)) if tag else None
            if kind:
                _add(found, kind, tag, int(match.group(1)), int(match.group(2)))
    return [found[k] for k in sorted(found, key=lambda k: (k[0], k[1], k[2] or ""))]
