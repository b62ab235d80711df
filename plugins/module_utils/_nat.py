# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Firewall rule sets (masquerade, forward-accept, isolation, internal networks, and the published ports of
_ports.py), through the nft or iptables programs, run inside the target namespace.

Everything lives in objects the collection owns: the nftables table `inet linuxns_net`, or the iptables chains
LINUXNS-NET-NAT and LINUXNS-NET-DNAT (nat), LINUXNS-NET-FWD and LINUXNS-NET-IN (filter), each reached by one tagged
jump rule per hook. Every rule carries the comment "linuxns.net <key> <hash of its set's spec>" (DNAT rules add
the ports they claim), which is how a run finds its own rules; nothing else is touched.

A rule set is any object with namespace, key, family, state, backend, tag, view(), sysctls(), check(),
nft_rules() and iptables_rules(): MasqueradeRule here, PortForwardSet in _ports.py.
"""

from __future__ import annotations

import functools
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
CHAIN_PREFIX = "LINUXNS-NET-"
CHAINS = {"nat": "LINUXNS-NET-NAT", "dnat": "LINUXNS-NET-DNAT", "forward": "LINUXNS-NET-FWD", "input": "LINUXNS-NET-IN"}
# (table, built-in chain, our chain): one tagged jump each
HOOKS = (("nat", "POSTROUTING", CHAINS["nat"]), ("nat", "PREROUTING", CHAINS["dnat"]), ("nat", "OUTPUT", CHAINS["dnat"]),
         ("filter", "FORWARD", CHAINS["forward"]), ("filter", "INPUT", CHAINS["input"]))
NFT_CHAINS = (("postrouting", "type nat hook postrouting priority srcnat"),
              ("prerouting", "type nat hook prerouting priority dstnat"),
              ("output", "type nat hook output priority -100"),
              ("forward", "type filter hook forward priority filter"),
              ("input", "type filter hook input priority filter"))
RULES_FORMAT = 2  # part of every tag's hash: a new rule text replaces the rules of older releases once
BACKENDS = ("auto", "nftables", "iptables")
# a rule with no target in our chain: "iptables-nft made this built-in chain for our jump", so that the last
# run to need it removes the chain again (iptables-nft makes base chains on first use, and never removes them)
_MADE_BASE = re.compile(r'--comment "?linuxns\.net made-base ([A-Z]+)"?')
_COMMENT = re.compile(r'--comment "?(linuxns\.net [^" ]+ [0-9a-f]+(?: [^" ]+)?)"?')


class RuleTag(NamedTuple):
    """The comment on every rule of a rule set: "linuxns.net <key> <hash of its spec>" (a DNAT rule adds its claim
    as a fourth word). A run finds its own rules by it, and a changed spec changes the hash. Built and parsed only here."""
    source: str
    digest: str

    @classmethod
    def of(cls, key, spec):
        text = json.dumps([RULES_FORMAT, key, spec])
        return cls(key, hashlib.sha256(text.encode()).hexdigest()[:12])

    @classmethod
    def parse(cls, text):
        """The tag in a comment, or None for a comment that is not ours."""
        parts = str(text or "").split()
        if len(parts) not in (3, 4) or parts[0] != TAG:
            return None
        return cls(parts[1], parts[2])

    @staticmethod
    def claim(text):
        """The fourth word of a DNAT rule's comment (the ports it claims), or None."""
        parts = str(text or "").split()
        return parts[3] if len(parts) == 4 and parts[0] == TAG else None

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
    masquerade: bool = True  # False: forward and isolation rules only
    internal: bool = False  # nothing forwarded between exclude_out_interface (the bridge) and any other interface

    @property
    def key(self):
        return str(self.source)

    @property
    def family(self):
        return self.source.version

    @property
    def tag(self):
        return RuleTag.of(self.key, [self.out_interface, self.exclude_out_interface, [str(n) for n in self.exclude_destinations],
                                     self.forward_accept, self.isolation_group, self.masquerade, self.internal])

    def describe(self):
        return f"masquerade of {self.source}"

    def view(self):
        return rule_view(self)

    def sysctls(self):
        if not self.ip_forward or self.internal:
            return []
        return ["net.ipv4.ip_forward" if self.family == 4 else "net.ipv6.conf.all.forwarding"]

    def check(self, backend, held, leaving_keys):
        """Nothing to check against the firewall's state."""

    def nft_rules(self, tag, table):
        fam = "ip" if self.family == 4 else "ip6"
        src, comment = f"{fam} saddr {self.source}", f'comment "{tag}"'
        out = []
        if self.internal:
            # inserted at the top, ahead of every network's accept rules
            bridge = self.exclude_out_interface
            return [f'insert rule inet {table} forward {src} oifname != "{bridge}" drop {comment}',
                    f'insert rule inet {table} forward {fam} daddr {self.source} iifname != "{bridge}" drop {comment}']
        if self.masquerade:
            out += [f"add rule inet {table} postrouting {src} {fam} daddr {n} return {comment}" for n in self.exclude_destinations]
            if self.isolation_group is not None:
                # a connection DNATed to another network of the host keeps its source (a published port's client)
                out.append(f"add rule inet {table} postrouting {src} ct status dnat oifgroup {self.isolation_group} return {comment}")
            match = ""
            if self.out_interface:
                match += f' oifname "{self.out_interface}"'
            if self.exclude_out_interface:
                match += f' oifname != "{self.exclude_out_interface}"'
            out.append(f"add rule inet {table} postrouting {src}{match} masquerade {comment}")
        if self.isolation_group is not None:
            # inserted at the top, ahead of every network's accept rules; published ports (DNAT) pass
            out.append(f'insert rule inet {table} forward {src} oifgroup {self.isolation_group} '
                       f'oifname != "{self.exclude_out_interface}" ct status & dnat == 0 drop {comment}')
        if self.forward_accept:
            out.append(f"add rule inet {table} forward {src} accept {comment}")
            out.append(f"add rule inet {table} forward {fam} daddr {self.source} accept {comment}")
        return out

    def iptables_rules(self, tag, chains):
        src, comment = f"-s {self.source}", f'-m comment --comment "{tag}"'
        if self.internal:
            bridge = self.exclude_out_interface
            return [("filter", f"-I {chains['forward']} 1 {src} ! -o {bridge} {comment} -j DROP"),
                    ("filter", f"-I {chains['forward']} 1 -d {self.source} ! -i {bridge} {comment} -j DROP")]
        out = []
        if self.masquerade:
            out += [("nat", f"-A {chains['nat']} {src} -d {n} {comment} -j RETURN") for n in self.exclude_destinations]
            if self.isolation_group is not None:
                out.append(("nat", f"-A {chains['nat']} {src} -m conntrack --ctstate DNAT -m devgroup --dst-group "
                                   f"{self.isolation_group} {comment} -j RETURN"))
            match = ""
            if self.out_interface:
                match += f" -o {self.out_interface}"
            if self.exclude_out_interface:
                match += f" ! -o {self.exclude_out_interface}"
            out.append(("nat", f"-A {chains['nat']} {src}{match} {comment} -j MASQUERADE"))
        if self.isolation_group is not None:
            out.append(("filter", f"-I {chains['forward']} 1 {src} -m devgroup --dst-group {self.isolation_group} "
                                  f"! -o {self.exclude_out_interface} -m conntrack ! --ctstate DNAT {comment} -j DROP"))
        if self.forward_accept:
            out.append(("filter", f"-A {chains['forward']} {src} {comment} -j ACCEPT"))
            out.append(("filter", f"-A {chains['forward']} -d {self.source} {comment} -j ACCEPT"))
        return out


def normalize_rule(r):
    ns = validate.namespace_name(r.get("namespace"))
    if not r.get("source"):
        raise InvalidInput(f"masquerade rule in {where(ns)}: 'source' (the CIDR to masquerade) is required")
    source = validate.network(r["source"], "masquerade source", ns)
    obj = f"masquerade of {source}"
    rule = MasqueradeRule(namespace=ns, source=source, state=r.get("state") or "present",
                          backend=r.get("backend") or "auto",
                          ip_forward=True if r.get("ip_forward") is None else r["ip_forward"],
                          forward_accept=True if r.get("forward_accept") is None else r["forward_accept"],
                          masquerade=r.get("masquerade", True) is not False, internal=bool(r.get("internal")))
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
    if rule.internal:
        if not rule.exclude_out_interface:
            raise InvalidInput(f"{obj} in {where(ns)}: an internal network needs exclude_out_interface (its own bridge)")
        rule.masquerade, rule.forward_accept = False, False
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
    if not r.masquerade:
        view["masquerade"] = False
    if r.internal:
        view["internal"] = True
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
        self.claim_tokens = []  # (tag source, claim) of our DNAT rules
        self.foreign_claims = None  # what rules we do not own publish: read once, when ports are checked

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
                claim = RuleTag.claim(rule.get("comment"))
                if claim:
                    self.claim_tokens.append((tag.source, claim))
        return found

    def apply(self, current, remove_tags, add_sets, keep_any):
        script = [f"add table inet {NFT_TABLE}"]
        script += [f"add chain inet {NFT_TABLE} {chain} {{ {hook}; policy accept; }}" for chain, hook in NFT_CHAINS]
        if not keep_any:
            script.append(f"delete table inet {NFT_TABLE}")
        else:
            for tag in remove_tags:
                script += [f"delete rule inet {NFT_TABLE} {ref.chain} handle {ref.handle}" for ref in current.get(tag, [])]
            for r in add_sets:
                script += r.nft_rules(r.tag, NFT_TABLE)
        run_program(["nft", "-f", "-"], self.namespace, stdin="\n".join(script) + "\n")


# ---------------------------------------------------------------- iptables

class Iptables:
    def __init__(self, namespace, variant, family):
        self.namespace = namespace
        self.variant = variant  # "legacy" or "nft"
        self.family = family
        self.name = f"iptables-{variant}"
        self.prefix = "iptables" if family == 4 else "ip6tables"
        self.claim_tokens = []
        self.foreign_claims = None

    def _save(self, table):
        return run_program([f"{self.prefix}-{self.variant}-save", "-t", table], self.namespace).stdout.splitlines()

    def read(self):
        found = {}
        self.chains = set()
        self.jumps = {}  # (hook, chain) -> number of our jump rules (more than one is repaired)
        self.made_bases = set()  # (table, hook): built-in chains that iptables-nft created for our jump
        ours = set(CHAINS.values())
        for table in ("nat", "filter"):
            hooks = {hook: chain for t, hook, chain in HOOKS if t == table}
            for line in self._save(table):
                words = line.split()
                if line.startswith(":") and words[0][1:] in ours:
                    self.chains.add(words[0][1:])
                elif len(words) > 1 and words[0] == "-A" and words[1] in ours:
                    made = _MADE_BASE.search(line)
                    m = _COMMENT.search(line)
                    if made:
                        self.made_bases.add((table, made.group(1)))
                    elif m:
                        found.setdefault(RuleTag.parse(m.group(1)), []).append(IptablesRuleRef(table, line[3:]))
                        claim = RuleTag.claim(m.group(1))
                        if claim:
                            self.claim_tokens.append((RuleTag.parse(m.group(1)).source, claim))
                elif len(words) > 1 and words[0] == "-A" and words[1] in hooks and \
                        line in (f"-A {words[1]} -m comment --comment {TAG} -j {hooks[words[1]]}",
                                 f'-A {words[1]} -m comment --comment "{TAG}" -j {hooks[words[1]]}'):
                    key = (words[1], hooks[words[1]])
                    self.jumps[key] = self.jumps.get(key, 0) + 1
        # a missing or doubled jump (someone edited the hooks by hand) is repaired on the next change
        used = {ref.rule.split()[0] for refs in found.values() for ref in refs}
        self.repair = any(self.jumps.get((hook, chain), 0) != 1 for _t, hook, chain in HOOKS if chain in used) \
            or any(n > 1 for n in self.jumps.values())
        return found

    def apply(self, current, remove_tags, add_sets, keep_any):
        """One iptables-restore: rules out, rules in, and a jump (exactly one) for each of our chains that holds
        rules afterwards; chains left empty go, with their jumps, so that hooks we do not need stay untouched."""
        lines = {"nat": [], "filter": []}
        added = [(table, rule) for r in add_sets for table, rule in r.iptables_rules(r.tag, CHAINS)]
        kept = [ref.rule.split()[0] for tag, refs in current.items() if tag not in remove_tags for ref in refs]
        needed = set(kept) | {rule.split()[1] for _table, rule in added} if keep_any else set()
        for table, hook, chain in HOOKS:
            if chain in needed and chain not in self.chains:
                self.chains.add(chain)
                lines[table].append(f":{chain} - [0:0]")
        new_jumps = [(t, h) for t, h, c in HOOKS if c in needed and not self.jumps.get((h, c), 0)]
        # which built-in chains exist: asked only when a jump is to be added (iptables-nft makes a missing one)
        bases = self._base_chains() if self.variant == "nft" and new_jumps else set()
        for table, hook, chain in HOOKS:
            jumps = self.jumps.get((hook, chain), 0)
            wanted = 1 if chain in needed else 0
            lines[table] += [f"-D {hook} -m comment --comment {TAG} -j {chain}"] * max(0, jumps - wanted)
            if wanted and not jumps:
                lines[table].append(f"-I {hook} 1 -m comment --comment {TAG} -j {chain}")
                if self.variant == "nft" and (table, hook) not in bases and (table, hook) not in self.made_bases:
                    lines[table].append(f'-A {chain} -m comment --comment "{TAG} made-base {hook}"')
                    self.made_bases.add((table, hook))
        for tag in remove_tags:
            for ref in current.get(tag, []):
                lines[ref.table].append(f"-D {ref.rule}")
        for table, rule in added:
            lines[table].append(rule)
        for table, chain in sorted({(t, c) for t, _h, c in HOOKS}):
            if chain in self.chains and chain not in needed:
                lines[table] += [f"-F {chain}", f"-X {chain}"]
        script = "".join(f"*{t}\n" + "".join(x + "\n" for x in ls) + "COMMIT\n" for t, ls in lines.items() if ls)
        run_program([f"{self.prefix}-{self.variant}-restore", "--noflush"], self.namespace, stdin=script)
        for table, hook, chain in HOOKS:
            if chain not in needed and (table, hook) in self.made_bases:
                self._drop_base_if_unused(table, hook)

    def _nft_family(self):
        return "ip" if self.family == 4 else "ip6"

    def _base_chains(self):
        """(table, chain) of the built-in chains that exist now in iptables-nft's tables."""
        found = set()
        for table in ("nat", "filter"):
            proc = run_program(["nft", "-j", "list", "table", self._nft_family(), table], self.namespace, ok_codes=(0, 1))
            if proc.returncode == 0:
                found |= {(table, item["chain"]["name"]) for item in json.loads(proc.stdout).get("nftables", [])
                          if "chain" in item and item["chain"].get("hook")}
        return found

    def _drop_base_if_unused(self, table, hook):
        """Remove a built-in chain that iptables-nft made for our jump, once it holds no rule and accepts."""
        proc = run_program(["nft", "-j", "list", "chain", self._nft_family(), table, hook], self.namespace, ok_codes=(0, 1))
        if proc.returncode != 0:
            return
        items = json.loads(proc.stdout).get("nftables", [])
        chain = next((i["chain"] for i in items if "chain" in i), {})
        if chain.get("policy", "accept") == "accept" and not any("rule" in i for i in items):
            run_program(["nft", "delete", "chain", self._nft_family(), table, hook], self.namespace, ok_codes=(0, 1))


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


def plan_rule_sets(plan, session, rule_sets, check_mode):
    """Group the rule sets by the rules they share (nftables: one table for both families; iptables: one program
    per family), read each group's own rules once, check them (published ports against what is already published),
    and plan one atomic change each, then the sysctls they need.

    Returns the backend chosen per namespace."""
    requests = {}
    for r in rule_sets:
        requests.setdefault((r.namespace, r.family, r.backend), []).append(r)
    groups, backends_used = {}, {}
    for (ns, family, requested), sets in requests.items():
        missing = not session.exists(ns)
        if missing and not check_mode:
            raise NamespaceMissing(f"{where(ns)} does not exist (create it with linuxns.net.netns)")
        backend = None
        if not missing:
            with session.inside(ns):
                backend = detect_backend(requested, ns, family)
            backends_used.setdefault(ns or "", backend.name)  # IPv4's, when a namespace has both
        key = (ns, "nftables") if isinstance(backend, Nftables) else (ns, family, requested, backend and backend.name)
        if key not in groups:
            groups[key] = (backend, [])
        groups[key][1].extend(sets)
    for (ns, *_rest), (backend, group) in groups.items():
        current = {}
        leaving = {r.key for r in group if r.state == "absent"}
        held = []
        if backend is not None:
            with session.inside(ns):
                current = backend.read()
                for r in group:
                    r.check(backend, held, leaving)
        else:
            for r in group:
                r.check(None, held, leaving)
        _plan_group(plan, session, ns, backend, current, group)
        keys = sorted({k for r in group if r.state == "present" for k in r.sysctls()})
        _plan_sysctls(plan, session, ns, keys, backend is None)
    return backends_used


def _plan_group(plan, session, ns, backend, current, group):
    by_key = {}
    for tag in current:
        by_key.setdefault(tag.source, []).append(tag)
    remove_tags, add_sets, views = [], [], []
    for r in group:
        key = f"{ns or ''}/{r.describe()}"
        tags = by_key.pop(r.key, [])
        if r.state == "absent":
            remove_tags += tags
            if tags:
                views.append((key, {"key": r.key}, None))
            continue
        remove_tags += [t for t in tags if t != r.tag]
        if r.tag not in tags:
            add_sets.append(r)
            views.append((key, {"key": r.key, "spec": "differs"} if tags else None, r.view()))
    if not (remove_tags or add_sets or (backend is not None and backend.repair)):
        return
    keep_any = bool(by_key) or any(r.state == "present" for r in group)
    described = {r.key: r.describe() for r in group}
    what = sorted({described.get(t.source, f"rules of {t.source}") for t in remove_tags} | {r.describe() for r in add_sets})
    mark = plan.mark
    plan.add(f"update firewall rules in {where(ns)} ({backend.name if backend else 'backend chosen at run time'}): "
             f"{', '.join(what) or 'the jump rules'}",
             lambda: _apply_inside(session, ns, backend, current, remove_tags, add_sets, keep_any))
    for key, before, after in views:
        plan.record(key, before, after, mark)


def _apply_inside(session, ns, backend, current, remove_tags, add_sets, keep_any):
    with session.inside(ns):
        backend.apply(current, remove_tags, add_sets, keep_any)


def _plan_sysctls(plan, session, ns, keys, missing):
    """Set each of keys to 1 (forwarding, route_localnet). They are left set when the rules go: other users of the
    namespace may rely on them, as they do on Docker's."""
    for key in keys:
        current = None if missing else read_sysctl_in(session, ns, key)
        if current != "1":
            mark = plan.mark
            plan.add(f"set {key}=1 in {where(ns)}", functools.partial(write_sysctl_in, session, ns, key, 1))
            plan.record(f"{ns or ''}/{key}", current, "1", mark)


def run_masquerade(session, raw_rules, check_mode):
    rules = [normalize_rule(r) for r in raw_rules]
    validate.unique(rules, lambda r: f"source {r.source} in {where(r.namespace)}", "masquerade rule for")
    plan = Plan()
    backends = plan_rule_sets(plan, session, rules, check_mode)
    result = plan.result(check_mode)
    result["backends"] = backends
    return result
