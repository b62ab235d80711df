# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Masquerade and forward-accept rules, through the nft or iptables programs, run inside the target namespace.

Everything lives in objects the collection owns: the nftables table `inet linuxns_net`, or the iptables chains
LINUXNS-NET-NAT (nat) and LINUXNS-NET-FWD (filter), each reached by one tagged jump rule. Every rule carries the
comment "linuxns.net <source> <hash of its spec>", which is how a run finds its own rules; nothing else is touched.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import NamedTuple

from ansible_collections.linuxns.net.plugins.module_utils import _validate as validate
from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput, KernelError, NamespaceMissing, kernel_error, where
from ansible_collections.linuxns.net.plugins.module_utils._session import read_sysctl_in, write_sysctl_in
from ansible_collections.linuxns.net.plugins.module_utils._plan import Plan

TAG = "linuxns.net"
NFT_TABLE = "linuxns_net"
NAT_CHAIN, FWD_CHAIN = "LINUXNS-NET-NAT", "LINUXNS-NET-FWD"
HOOKS = {"nat": ("POSTROUTING", NAT_CHAIN), "filter": ("FORWARD", FWD_CHAIN)}  # table -> (built-in chain, our chain)
BACKENDS = ("auto", "nftables", "iptables")
_COMMENT = re.compile(r'--comment "?(linuxns\.net [^" ]+ [0-9a-f]+)"?')


class RuleTag(NamedTuple):
    """The comment on every rule of a masquerade: "linuxns.net <source> <hash of the rest of its spec>". A run finds
    its own rules by it, and a changed spec changes the hash. Built and parsed only here."""
    source: str
    digest: str

    @classmethod
    def of(cls, rule):
        spec = json.dumps([str(rule.source), rule.out_interface, rule.exclude_out_interface,
                           [str(n) for n in rule.exclude_destinations], rule.forward_accept, rule.isolation_group])
        return cls(str(rule.source), hashlib.sha256(spec.encode()).hexdigest()[:12])

    @classmethod
    def parse(cls, text):
        """The tag in a comment, or None for a comment that is not ours."""
        parts = str(text or "").split()
        if len(parts) != 3 or parts[0] != TAG:
            return None
        return cls(parts[1], parts[2])

    def __str__(self):
        return f"{TAG} {self.source} {self.digest}"


class NftRuleRef(NamedTuple):
    chain: str
    handle: int


class IptablesRuleRef(NamedTuple):
    table: str
    rule: str  # the rule as iptables-save prints it, less "-A "


@dataclass
class MasqueradeRule:
    """One masquerade request, validated."""
    namespace: str
    source: object  # an ipaddress network
    state: str = "present"
    backend: str = "auto"
    ip_forward: bool = True
    forward_accept: bool = True
    out_interface: str = None
    exclude_out_interface: str = None
    exclude_destinations: list = field(default_factory=list)
    isolation_group: int = None

    @property
    def tag(self):
        return RuleTag.of(self)


def normalize_rule(r):
    ns = validate.namespace_name(r.get("namespace"))
    if not r.get("source"):
        raise InvalidInput(f"masquerade rule in {where(ns)}: 'source' (the CIDR to masquerade) is required")
    source = validate.network(r["source"], "masquerade source", ns)
    obj = f"masquerade of {source}"
    rule = MasqueradeRule(namespace=ns, source=source, state=r.get("state") or "present",
                          backend=r.get("backend") or "auto",
                          ip_forward=True if r.get("ip_forward") is None else r["ip_forward"],
                          forward_accept=True if r.get("forward_accept") is None else r["forward_accept"])
    if rule.backend not in BACKENDS:
        raise InvalidInput(f"{obj} in {where(ns)}: backend '{rule.backend}' must be one of {', '.join(BACKENDS)}")
    for key in ("out_interface", "exclude_out_interface"):
        setattr(rule, key, validate.interface_name(r[key], f"{obj} {key}", ns) if r.get(key) else None)
    if rule.out_interface and rule.out_interface == rule.exclude_out_interface:
        raise InvalidInput(f"{obj} in {where(ns)}: out_interface and exclude_out_interface are both '{rule.out_interface}'")
    excluded = []
    for value in r.get("exclude_destinations") or []:
        net = validate.network(value, f"{obj} exclude_destinations", ns)
        if net.version != source.version:
            raise InvalidInput(f"{obj} in {where(ns)}: exclude_destinations {net} is IPv{net.version}, the source is IPv{source.version}")
        excluded.append(net)
    rule.exclude_destinations = sorted(set(excluded), key=lambda n: (int(n.network_address), n.prefixlen))
    rule.isolation_group = r.get("isolation_group")
    if rule.isolation_group is not None:
        if not rule.exclude_out_interface:
            raise InvalidInput(f"{obj} in {where(ns)}: isolation_group needs exclude_out_interface (the network's own bridge)")
        if not 0 < rule.isolation_group < 2 ** 32:
            raise InvalidInput(f"{obj} in {where(ns)}: isolation_group {rule.isolation_group} must be from 1 to 4294967295")
    return rule


def rule_view(r):
    view = {"source": str(r.source), "forward_accept": r.forward_accept}
    for key in ("out_interface", "exclude_out_interface"):
        if getattr(r, key):
            view[key] = getattr(r, key)
    if r.exclude_destinations:
        view["exclude_destinations"] = [str(n) for n in r.exclude_destinations]
    if r.isolation_group is not None:
        view["isolation_group"] = r.isolation_group
    return view


def run_program(argv, namespace, stdin=None, ok_codes=(0,)):
    """Run nft or iptables (already inside namespace); a failure names the program, its namespace and its message."""
    try:
        proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise KernelError(f"{argv[0]} is not installed (needed in {where(namespace)})") from None
    except OSError as exc:
        raise kernel_error(f"run {argv[0]} in {where(namespace)}", exc) from None
    if proc.returncode not in ok_codes:
        raise KernelError(f"{' '.join(argv[:3])} in {where(namespace)} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


# ---------------------------------------------------------------- nftables

class Nftables:
    name = "nftables"
    repair = False  # the table is replaced or edited as a whole: there are no jumps to lose

    def __init__(self, namespace):
        self.namespace = namespace

    def read(self):
        """tag -> handles of our rules, per chain."""
        proc = run_program(["nft", "-j", "list", "table", "inet", NFT_TABLE], self.namespace, ok_codes=(0, 1))
        if proc.returncode != 0:
            if "No such file or directory" in proc.stderr:
                return {}
            raise KernelError(f"nft list table in {where(self.namespace)} failed: {proc.stderr.strip()}")
        found = {}
        for item in json.loads(proc.stdout).get("nftables", []):
            rule = item.get("rule")
            tag = RuleTag.parse(rule.get("comment")) if rule else None
            if tag is not None:
                found.setdefault(tag, []).append(NftRuleRef(rule["chain"], rule["handle"]))
        return found

    def rules(self, r):
        fam = "ip" if r.source.version == 4 else "ip6"
        src, tag = f"{fam} saddr {r.source}", f'comment "{r.tag}"'
        out = [f"add rule inet {NFT_TABLE} postrouting {src} {fam} daddr {n} return {tag}" for n in r.exclude_destinations]
        match = ""
        if r.out_interface:
            match += f' oifname "{r.out_interface}"'
        if r.exclude_out_interface:
            match += f' oifname != "{r.exclude_out_interface}"'
        out.append(f"add rule inet {NFT_TABLE} postrouting {src}{match} masquerade {tag}")
        if r.isolation_group is not None:
            # inserted at the top, ahead of every network's accept rules
            out.append(f'insert rule inet {NFT_TABLE} forward {src} oifgroup {r.isolation_group} '
                       f'oifname != "{r.exclude_out_interface}" drop {tag}')
        if r.forward_accept:
            out.append(f"add rule inet {NFT_TABLE} forward {src} accept {tag}")
            out.append(f"add rule inet {NFT_TABLE} forward {fam} daddr {r.source} accept {tag}")
        return out

    def apply(self, current, remove_tags, add_rules, keep_any):
        script = [f"add table inet {NFT_TABLE}",
                  f"add chain inet {NFT_TABLE} postrouting {{ type nat hook postrouting priority srcnat; policy accept; }}",
                  f"add chain inet {NFT_TABLE} forward {{ type filter hook forward priority filter; policy accept; }}"]
        if not keep_any:
            script.append(f"delete table inet {NFT_TABLE}")
        else:
            for tag in remove_tags:
                script += [f"delete rule inet {NFT_TABLE} {ref.chain} handle {ref.handle}" for ref in current.get(tag, [])]
            for r in add_rules:
                script += self.rules(r)
        run_program(["nft", "-f", "-"], self.namespace, stdin="\n".join(script) + "\n")


# ---------------------------------------------------------------- iptables

class Iptables:
    def __init__(self, namespace, variant, family):
        self.namespace = namespace
        self.variant = variant  # "legacy" or "nft"
        self.family = family
        self.name = f"iptables-{variant}"
        self.prefix = "iptables" if family == 4 else "ip6tables"

    def _save(self, table):
        return run_program([f"{self.prefix}-{self.variant}-save", "-t", table], self.namespace).stdout.splitlines()

    def read(self):
        found = {}
        self.chains = set()
        self.jumps = {}  # chain -> number of our jump rules to it (more than one is repaired)
        for table, (hook, chain) in HOOKS.items():
            for line in self._save(table):
                if line.startswith(f":{chain} "):
                    self.chains.add(chain)
                elif line.startswith(f"-A {chain} "):
                    m = _COMMENT.search(line)
                    if m:
                        found.setdefault(RuleTag.parse(m.group(1)), []).append(IptablesRuleRef(table, line[3:]))
                elif line in (f"-A {hook} -m comment --comment {TAG} -j {chain}",
                              f'-A {hook} -m comment --comment "{TAG}" -j {chain}'):
                    self.jumps[chain] = self.jumps.get(chain, 0) + 1
        # a missing or doubled jump (someone edited the hooks by hand) is repaired on the next change
        used = {HOOKS[ref.table][1] for refs in found.values() for ref in refs}
        self.repair = any(self.jumps.get(chain, 0) != 1 for chain in used) or any(n > 1 for n in self.jumps.values())
        return found

    def rules(self, r):
        src, tag = f"-s {r.source}", f'-m comment --comment "{r.tag}"'
        out = [IptablesRuleRef("nat", f"-A {NAT_CHAIN} {src} -d {n} {tag} -j RETURN") for n in r.exclude_destinations]
        match = ""
        if r.out_interface:
            match += f" -o {r.out_interface}"
        if r.exclude_out_interface:
            match += f" ! -o {r.exclude_out_interface}"
        out.append(IptablesRuleRef("nat", f"-A {NAT_CHAIN} {src}{match} {tag} -j MASQUERADE"))
        if r.isolation_group is not None:
            # inserted at the top, ahead of every network's accept rules
            out.append(IptablesRuleRef("filter", f"-I {FWD_CHAIN} 1 {src} -m devgroup --dst-group {r.isolation_group} "
                                                 f"! -o {r.exclude_out_interface} {tag} -j DROP"))
        if r.forward_accept:
            out.append(IptablesRuleRef("filter", f"-A {FWD_CHAIN} {src} {tag} -j ACCEPT"))
            out.append(IptablesRuleRef("filter", f"-A {FWD_CHAIN} -d {r.source} {tag} -j ACCEPT"))
        return out

    def apply(self, current, remove_tags, add_rules, keep_any):
        lines = {"nat": [], "filter": []}
        for table, (hook, chain) in HOOKS.items():
            jumps = self.jumps.get(chain, 0)
            if keep_any and chain not in self.chains:
                lines[table].append(f":{chain} - [0:0]")
            lines[table] += [f"-D {hook} -m comment --comment {TAG} -j {chain}"] * (jumps - 1 if keep_any else jumps)
            if keep_any and not jumps:
                lines[table].append(f"-I {hook} 1 -m comment --comment {TAG} -j {chain}")
        for tag in remove_tags:
            for ref in current.get(tag, []):
                lines[ref.table].append(f"-D {ref.rule}")
        for r in add_rules:
            for ref in self.rules(r):
                lines[ref.table].append(ref.rule)
        if not keep_any:
            for table, (hook, chain) in HOOKS.items():
                if chain in self.chains:
                    lines[table] += [f"-F {chain}", f"-X {chain}"]
        script = "".join(f"*{t}\n" + "".join(x + "\n" for x in ls) + "COMMIT\n" for t, ls in lines.items() if ls)
        run_program([f"{self.prefix}-{self.variant}-restore", "--noflush"], self.namespace, stdin=script)


def _in_use(save_output):
    """True if an iptables save shows any rule, user chain (policy "-") or non-ACCEPT policy."""
    for line in save_output.splitlines():
        if line.startswith("-A ") or (line.startswith(":") and line.split()[1] != "ACCEPT"):
            return True
    return False


def detect_backend(requested, namespace, family):
    """auto: the iptables variant that already holds rules (so forward-accept sits beside a DROP policy), else nftables."""
    prefix = "iptables" if family == 4 else "ip6tables"
    legacy = shutil.which(f"{prefix}-legacy-save") and _in_use(run_program([f"{prefix}-legacy-save"], namespace).stdout)
    if requested == "nftables":
        if legacy:
            raise InvalidInput(f"masquerade in {where(namespace)}: iptables-legacy rules are in use there; "
                               "nftables rules beside them would mix two NAT engines (use backend: iptables)")
        return Nftables(namespace)
    if legacy:
        return Iptables(namespace, "legacy", family)
    has_nft_iptables = shutil.which(f"{prefix}-nft-save")
    if requested == "iptables":
        return Iptables(namespace, "nft" if has_nft_iptables else "legacy", family)
    if has_nft_iptables and _in_use(run_program([f"{prefix}-nft-save"], namespace).stdout):
        return Iptables(namespace, "nft", family)
    if shutil.which("nft"):
        return Nftables(namespace)
    if has_nft_iptables:
        return Iptables(namespace, "nft", family)
    raise KernelError(f"masquerade in {where(namespace)}: neither nft nor iptables is installed")


def plan_masquerade(plan, session, rules, check_mode):
    """Group the rules by (namespace, family, backend), read each group's own rules once, and plan one atomic change each.

    Returns the backend chosen per namespace."""
    groups = {}
    for r in rules:
        groups.setdefault((r.namespace, r.source.version, r.backend), []).append(r)
    backends_used = {}
    for (ns, family, requested), group in groups.items():
        backend, current = None, {}
        missing = not session.exists(ns)
        if missing and not check_mode:
            raise NamespaceMissing(f"{where(ns)} does not exist (create it with linuxns.net.netns)")
        if not missing:
            with session.inside(ns):
                backend = detect_backend(requested, ns, family)
                current = backend.read()
            backends_used[ns or ""] = backend.name
        _plan_group(plan, session, ns, backend, current, group)
        _plan_forwarding(plan, session, ns, family, [r for r in group if r.state == "present" and r.ip_forward], missing)
    return backends_used


def _plan_group(plan, session, ns, backend, current, group):
    by_source = {}
    for tag in current:
        by_source.setdefault(tag.source, []).append(tag)
    remove_tags, add_rules, views = [], [], []
    for r in group:
        key = f"{ns or ''}/masquerade {r.source}"
        tags = by_source.pop(str(r.source), [])
        if r.state == "absent":
            remove_tags += tags
            if tags:
                views.append((key, {"source": str(r.source)}, None))
            continue
        remove_tags += [t for t in tags if t != r.tag]
        if r.tag not in tags:
            add_rules.append(r)
            views.append((key, {"source": str(r.source), "spec": "differs"} if tags else None, rule_view(r)))
    if not (remove_tags or add_rules or (backend is not None and backend.repair)):
        return
    keep_any = bool(by_source) or any(r.state == "present" for r in group)
    sources = sorted({t.source for t in remove_tags} | {str(r.source) for r in add_rules}) or ["the jump rules"]
    mark = plan.mark
    plan.add(f"update masquerade rules for {', '.join(sources)} in {where(ns)} ({backend.name if backend else 'backend chosen at run time'})",
             lambda: _apply_inside(session, ns, backend, current, remove_tags, add_rules, keep_any))
    for key, before, after in views:
        plan.record(key, before, after, mark)


def _apply_inside(session, ns, backend, current, remove_tags, add_rules, keep_any):
    with session.inside(ns):
        backend.apply(current, remove_tags, add_rules, keep_any)


def _plan_forwarding(plan, session, ns, family, wanting, missing):
    if not wanting:
        return
    key = "net.ipv4.ip_forward" if family == 4 else "net.ipv6.conf.all.forwarding"
    current = None if missing else read_sysctl_in(session, ns, key)
    if current != "1":
        mark = plan.mark
        plan.add(f"set {key}=1 in {where(ns)}", lambda: write_sysctl_in(session, ns, key, 1))
        plan.record(f"{ns or ''}/{key}", current, "1", mark)


def run_masquerade(session, raw_rules, check_mode):
    rules = [normalize_rule(r) for r in raw_rules]
    validate.unique(rules, lambda r: f"source {r.source} in {where(r.namespace)}", "masquerade rule for")
    plan = Plan()
    backends = plan_masquerade(plan, session, rules, check_mode)
    result = plan.result(check_mode)
    result["backends"] = backends
    return result
