# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Bandwidth limits of a network's containers, set as the CNI bandwidth plugin sets them, on the host end of the
container's veth:

- ingress (into the container): a token bucket (tbf) as the host end's root qdisc, which is what the host end sends
  to the container;
- egress (out of the container): what the host end receives is redirected (an ingress qdisc, a u32 filter that
  matches everything, a mirred action) to an ifb device of the container's, whose root qdisc is the token bucket.

Everything is read with one qdisc dump of the host's namespace, and only when some container has a limit now or
had one (a tbf root on a host end, or an ifb of ours, in the link dump the run has already read)."""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass
from typing import Optional

from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput, where
from ansible_collections.linuxns.net.plugins.module_utils._links import delete_if_present, link_index, plan_link_delete
from ansible_collections.linuxns.net.plugins.module_utils._session import netlink_call

LATENCY = "25ms"  # how long a packet may wait in the bucket's queue, as the CNI bandwidth plugin sets it
TC_H_ROOT = 0xFFFFFFFF
ROOT_HANDLE = 0x10000  # 1:
INGRESS_HANDLE = 0xFFFF0000  # ffff:
ETH_P_ALL = 0x0003
MAX_RATE = 2 ** 32 - 1  # bytes per second: tbf's 32-bit rate (34 Gbit/s)
# tc's units: rates in bits (SI and IEC) or bytes per second; sizes in bytes (k, m, g are 1024s, as tc has them)
_RATE_UNITS = {"bit": 1, "kbit": 10 ** 3, "mbit": 10 ** 6, "gbit": 10 ** 9, "tbit": 10 ** 12,
               "kibit": 2 ** 10, "mibit": 2 ** 20, "gibit": 2 ** 30, "tibit": 2 ** 40,
               "bps": 8, "kbps": 8 * 10 ** 3, "mbps": 8 * 10 ** 6, "gbps": 8 * 10 ** 9, "tbps": 8 * 10 ** 12}
_SIZE_UNITS = {"b": 1, "k": 2 ** 10, "kb": 2 ** 10, "m": 2 ** 20, "mb": 2 ** 20, "g": 2 ** 30, "gb": 2 ** 30,
               "kbit": 2 ** 10 // 8, "mbit": 2 ** 20 // 8}
_QUANTITY = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*")
MIN_BURST = 64 * 1024  # a veth passes 64 KiB segments (GSO): a smaller bucket cuts the rate short
BURST_TIME = 0.02  # the default burst: 20 ms at the rate, at least MIN_BURST


def _quantity(value, units, default_unit, what, obj):
    text = str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    match = _QUANTITY.fullmatch(text) if isinstance(text, str) else None
    unit = match.group(2).lower() if match else None
    if match is None or (unit or default_unit) not in units:
        raise InvalidInput(f"{obj}: {what} {value!r} does not parse: give a number and one of the units "
                           f"{', '.join(units)} (as tc has them)")
    return float(match.group(1)) * units[unit or default_unit]


def parse_rate(value, obj, what):
    """A rate as tc writes it ('10mbit', '1gbit', '500kbps'; a bare number is bits per second) in bytes per second."""
    rate = int(_quantity(value, _RATE_UNITS, "bit", what, obj) / 8)
    if not 1 <= rate <= MAX_RATE:
        raise InvalidInput(f"{obj}: {what} {value!r} must be from 8bit to 34gbit (the token bucket's range)")
    return rate


def parse_size(value, obj, what):
    """A size as tc writes it ('64kb', '1mb'; a bare number is bytes) in bytes."""
    size = int(_quantity(value, _SIZE_UNITS, "b", what, obj))
    if not 1500 <= size < 2 ** 31:
        raise InvalidInput(f"{obj}: {what} {value!r} must be at least 1500 bytes (one full frame) and below 2gb")
    return size


def format_rate(rate):
    """bytes per second as tc's bits ('10mbit'): the largest unit that divides it."""
    bits = rate * 8
    for unit in ("tbit", "gbit", "mbit", "kbit"):
        if bits % _RATE_UNITS[unit] == 0:
            return f"{bits // _RATE_UNITS[unit]}{unit}"
    return f"{bits}bit"


@dataclass(frozen=True)
class Bandwidth:
    """A container's limits in bytes per second (None: unlimited that way) and its buckets' size in bytes."""
    ingress: Optional[int] = None
    egress: Optional[int] = None
    burst: Optional[int] = None  # None: the default for each rate

    def burst_of(self, rate):
        return self.burst if self.burst is not None else max(MIN_BURST, int(rate * BURST_TIME))


def normalize_bandwidth(value, obj):
    """bandwidth: {ingress, egress, burst} (rates and a size as tc writes them) as a Bandwidth; None for none."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInput(f"{obj}: bandwidth must be a dict with ingress, egress and burst, not {value!r}")
    unknown = sorted(set(value) - {"ingress", "egress", "burst"})
    if unknown:
        raise InvalidInput(f"{obj}: bandwidth has unknown keys {unknown} (known: ingress, egress, burst)")
    rates = {key: parse_rate(value[key], obj, f"bandwidth {key}") for key in ("ingress", "egress")
             if value.get(key) is not None}
    if not rates:
        raise InvalidInput(f"{obj}: bandwidth needs an ingress rate, an egress rate or both (leave it out for none)")
    burst = parse_size(value["burst"], obj, "bandwidth burst") if value.get("burst") is not None else None
    return Bandwidth(rates.get("ingress"), rates.get("egress"), burst)


def ifb_name(host_end):
    """The ifb device that carries a container's egress limit: named after its host end (veth + 9 hex digits)."""
    return "ifb" + host_end[len("veth"):]


def _bucket(rate, burst):
    """The token bucket's parameters as the kernel keeps them (rate, buffer in ticks, limit): what is compared."""
    from pyroute2.netlink.rtnl.tcmsg.common import get_rate_parameters  # imported only when a limit is in play
    parms = get_rate_parameters({"rate": rate, "burst": burst, "latency": LATENCY})
    return {"rate": parms["rate"], "buffer": parms["buffer"], "limit": parms["limit"]}


class _Qdiscs:
    """The host namespace's qdiscs, by link index: root (kind, bucket) and whether it has an ingress qdisc."""

    def __init__(self, messages):
        self.root, self.ingress = {}, set()
        for msg in messages:
            kind = msg.get_attr("TCA_KIND")
            if msg["parent"] == TC_H_ROOT:
                options = msg.get_attr("TCA_OPTIONS")
                parms = options.get_attr("TCA_TBF_PARMS") if kind == "tbf" and options else None
                bucket = {k: parms[k] for k in ("rate", "buffer", "limit")} if parms else None
                self.root[msg["index"]] = (kind, bucket)
            elif kind == "ingress":
                self.ingress.add(msg["index"])


def _redirect_target(sock, index):
    """The ifindex that the host end's ingress filters redirect to (None: no such filter)."""
    for msg in sock.get_filters(index=index, parent=INGRESS_HANDLE):
        options = msg.get_attr("TCA_OPTIONS")
        actions = options.get_attr("TCA_U32_ACT") if options else None
        for _name, action in (actions["attrs"] if actions else []):
            action_options = action.get_attr("TCA_ACT_OPTIONS")
            parms = action_options.get_attr("TCA_MIRRED_PARMS") if action_options else None
            if parms:
                return parms["ifindex"]
    return None


def _burst_of(bucket):
    """The bucket's size in bytes, from the kernel's buffer (in ticks) and rate: for the diff only."""
    from pyroute2.netlink.rtnl.tcmsg.common import TIME_UNITS_PER_SEC, tick_in_usec
    return int(round(bucket["buffer"] / tick_in_usec * bucket["rate"] / TIME_UNITS_PER_SEC))


def _limit_view(bucket):
    """What the diff shows of a token bucket the kernel has."""
    return {"rate": format_rate(bucket["rate"]), "burst": _burst_of(bucket)}


def _wanted(bw, rate):
    """One direction's limit as asked: (rate, burst, the bucket's kernel parameters); None for no limit."""
    return None if not rate else (rate, bw.burst_of(rate), _bucket(rate, bw.burst_of(rate)))


def plan_bandwidth(plan, session, snap, wanted, leaving, owner):
    """wanted: host end -> (container, Bandwidth or None for no limit), for the containers on the network; leaving:
    host end -> container, for those that leave (their ifb goes; their veth takes its qdiscs along). owner names the
    network. snap: the host namespace's link snapshot."""
    ns = snap.namespace
    ends = list(wanted) + list(leaving)
    in_play = any(bw for _c, bw in wanted.values()) or any(
        (snap.by_name.get(end) is not None and snap.by_name[end].qdisc == "tbf") or ifb_name(end) in snap.by_name
        for end in ends)
    if not in_play:
        return
    sock = session.pyroute2(ns)
    qdiscs = _Qdiscs(netlink_call(f"the qdiscs of {owner}", ns, sock.get_qdiscs) if not snap.missing else [])
    for end, container in sorted(leaving.items()):
        ifb = snap.by_name.get(ifb_name(end))
        if ifb is not None and ifb.kind == "ifb":
            mark = plan.mark
            plan_link_delete(plan, session, ns, ifb.name, f"delete ifb '{ifb.name}' in {where(ns)} (the egress limit "
                             f"of container '{container}', which leaves {owner})", f"ifb '{ifb.name}'")
            plan.record(f"{container}#bandwidth", {"egress": "limited"}, None, mark)
    for end, (container, bandwidth) in sorted(wanted.items()):
        _plan_limits(plan, session, snap, qdiscs, end, f"container '{container}' of {owner}", container, bandwidth)


def _plan_limits(plan, session, snap, qdiscs, end, obj, container, bw):
    ns, sock = snap.namespace, session.pyroute2(snap.namespace)
    link = snap.by_name.get(end)
    index = link.index if link is not None and link.kind == "veth" else None
    root_kind, current_in = qdiscs.root.get(index, (None, None))
    ifb = snap.by_name.get(ifb_name(end))
    if ifb is not None and ifb.kind != "ifb":
        raise InvalidInput(f"{obj}: the name of its egress limit's ifb, '{ifb.name}' in {where(ns)}, is taken by a "
                           f"{ifb.kind} device")
    has_ingress = index in qdiscs.ingress
    target = netlink_call(f"the ingress filters of {obj}", ns, _redirect_target, sock, index) if has_ingress else None
    redirected = ifb is not None and target == ifb.index
    ifb_kind, ifb_bucket = qdiscs.root.get(ifb.index, (None, None)) if ifb is not None else (None, None)
    current_out = ifb_bucket if redirected and ifb.up else None
    want_in, want_out = (_wanted(bw, rate) for rate in ((bw.ingress, bw.egress) if bw is not None else (None, None)))
    before = {k: _limit_view(v) for k, v in (("ingress", current_in), ("egress", current_out)) if v}
    after = {k: {"rate": format_rate(v[0]), "burst": v[1]} for k, v in (("ingress", want_in), ("egress", want_out)) if v}
    mark = plan.mark

    def index_of(name):
        return lambda: link_index(session, ns, name)

    if (want_in and want_in[2]) != current_in:
        if want_in is not None:
            plan.add(f"limit what {obj} receives to {format_rate(want_in[0])} (tbf on '{end}' in {where(ns)})",
                     _replace_bucket(sock, index_of(end), *want_in[:2]),
                     _delete_root(sock, index_of(end)) if root_kind in (None, "noqueue") else None)
        elif root_kind == "tbf":
            plan.add(f"remove the limit of what {obj} receives (tbf on '{end}' in {where(ns)})",
                     _delete_root(sock, index_of(end)))
    name = ifb_name(end)
    if want_out is not None:
        if ifb is None:
            plan.add(f"create ifb '{name}' in {where(ns)} for the egress limit of {obj}",
                     lambda: sock.link("add", ifname=name, kind="ifb"), lambda: delete_if_present(session, ns, name))
        if ifb is None or not ifb.up:
            plan.add(f"set ifb '{name}' in {where(ns)} up", lambda: sock.link("set", index=index_of(name)(), state="up"))
        if ifb_bucket != want_out[2] or ifb_kind != "tbf":
            plan.add(f"limit what {obj} sends to {format_rate(want_out[0])} (tbf on ifb '{name}' in {where(ns)})",
                     _replace_bucket(sock, index_of(name), *want_out[:2]))
        if not redirected:
            if has_ingress:
                plan.add(f"remove the ingress qdisc of '{end}' in {where(ns)} (it redirects elsewhere)",
                         _delete_ingress(sock, index_of(end)))
            plan.add(f"redirect what {obj} sends to ifb '{name}' (ingress qdisc and filter on '{end}' in {where(ns)})",
                     _redirect(sock, index_of(end), index_of(name)), _delete_ingress(sock, index_of(end)))
    else:
        if redirected:
            plan.add(f"remove the redirect of what {obj} sends (ingress qdisc on '{end}' in {where(ns)})",
                     _delete_ingress(sock, index_of(end)))
        if ifb is not None:
            plan_link_delete(plan, session, ns, name, f"delete ifb '{name}' in {where(ns)} (the egress limit of {obj})",
                             f"ifb '{name}'")
    plan.record(f"{container}#bandwidth", before or None, after or None, mark)


def _replace_bucket(sock, index_of, rate, burst):
    return lambda: sock.tc("replace", "tbf", index_of(), ROOT_HANDLE, rate=rate, burst=burst, latency=LATENCY)


def _delete_root(sock, index_of):
    return lambda: sock.tc("del", index=index_of(), parent=TC_H_ROOT)


def _delete_ingress(sock, index_of):
    def delete():
        try:
            sock.tc("del", "ingress", index_of(), INGRESS_HANDLE)
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.EINVAL):  # already gone (EINVAL: no ingress qdisc on the link)
                raise
    return delete


def _redirect(sock, end_index, ifb_index):
    def redirect():
        index = end_index()
        sock.tc("add", "ingress", index, INGRESS_HANDLE)
        sock.tc("add-filter", "u32", index, parent=INGRESS_HANDLE, protocol=ETH_P_ALL, prio=1, keys=["0x0/0x0+0"],
                target=0x1, action={"kind": "mirred", "direction": "egress", "action": "redirect",
                                    "ifindex": ifb_index()})
    return redirect
