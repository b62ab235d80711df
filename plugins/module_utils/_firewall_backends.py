# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where our rules live: the comment tag that marks them, and the backends that read and write them (nftables,
iptables-nft, iptables-legacy), run inside the target namespace; detecting which backend a namespace uses; and
reading, never changing, the rules of others."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass, field
from typing import Dict, List, NamedTuple, Tuple

from ansible_collections.linuxns.net.plugins.module_utils._nsfiles import scratch_namespace
from ansible_collections.linuxns.net.plugins.module_utils._programs import run_program
from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput, KernelError, where

NFT_TABLE = "linuxns_net"
POLICY_TABLE = "linuxns_net_policy"  # in a container's own namespace: its network policy (_policy.py)
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
TAG = "linuxns.net"
RULES_FORMAT = 4  # part of every tag's hash: a new rule text replaces the rules of older releases once
BACKENDS = ("auto", "nftables", "iptables")


class RuleTag(NamedTuple):
    """The comment on every rule of a rule set: "linuxns.net <key> <hash of its spec>". A run finds its own rules by
    it, and a changed spec changes the hash. Built and parsed only here."""
    source: str  # the rule set's key
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
    def note(text):
        """The fourth word of one of our comments (a published port's claim, say), or None."""
        parts = str(text or "").split()
        return parts[3] if len(parts) == 4 and parts[0] == TAG else None

    def with_note(self, note):
        """The comment of a rule that carries a note."""
        return f"{self} {note}"

    def __str__(self):
        return f"{TAG} {self.source} {self.digest}"


class NftRuleRef(NamedTuple):
    chain: str
    handle: int


class IptablesRuleRef(NamedTuple):
    table: str
    rule: str  # the rule as iptables-save prints it, less "-A "


@dataclass
class OwnRules:
    """The rules of ours that a backend found in a namespace."""
    refs: Dict[RuleTag, list] = field(default_factory=dict)  # tag -> the backend's references to its rules
    notes: List[Tuple[RuleTag, str]] = field(default_factory=list)  # the notes their comments carry
    # tag -> chain -> its rules there, in order, as the program prints them (less handles and counters): what a
    # run compares with the rules it would make, so that a rule deleted or altered by hand is found
    texts: Dict[RuleTag, Dict[str, List[str]]] = field(default_factory=dict)

    def add(self, tag, ref, comment, chain, text):
        self.refs.setdefault(tag, []).append(ref)
        self.texts.setdefault(tag, {}).setdefault(chain, []).append(text)
        note = RuleTag.note(comment)
        if note:
            self.notes.append((tag, note))


def without_counters(expr):
    """An nft rule's expressions with counters' values left out (they change with every packet)."""
    return [{"counter": None} if "counter" in e else e for e in expr]


@dataclass
class ForeignRules:
    """Rules that the collection does not own, as the programs print them: to check against, never to change."""
    nft: dict  # `nft -j list ruleset`
    saves: List[Tuple[str, int, List[str]]]  # (program, family, lines of its save output)


# a rule with no target in our chain: "iptables-nft made this built-in chain for our jump", so that the last
# run to need it removes the chain again (iptables-nft makes base chains on first use, and never removes them)
_MADE_BASE = re.compile(r'--comment "?linuxns\.net made-base ([A-Z]+)"?')
# our comment in a rule as nft or iptables-save prints it (comment "..." or --comment "...")
_COMMENT = re.compile(r'comment "?(linuxns\.net [^" ]+ [0-9a-f]+(?: [^" ]+)?)"?')
IPTABLES_PROGRAMS = (("iptables", 4), ("ip6tables", 6))
VARIANTS = ("legacy", "nft")


# ---------------------------------------------------------------- nftables

class _Printing:
    """What both backends share: the rules of sets as read() shows them once made (OwnRules.texts), made in a
    scratch namespace of their own, never in the target. So the comparison with what a namespace holds is exact,
    whatever the program's version prints."""

    def printed(self, sets):
        with scratch_namespace():
            fresh = self.fresh()
            fresh.apply(OwnRules(), [], sets, True)
            return fresh.read().texts


class Nftables(_Printing):
    name = "nftables"

    def __init__(self, namespace):
        self.namespace = namespace
        self.repair = False

    def fresh(self):
        """The same backend with nothing read yet (for printed)."""
        return Nftables(self.namespace)

    def read(self):
        """Our rules: their handles and texts, per chain; a base chain of ours missing or changed is repaired."""
        proc = run_program(["nft", "-j", "list", "table", "inet", NFT_TABLE], where(self.namespace), ok_codes=(0, 1))
        found = OwnRules()
        if proc.returncode != 0:
            if "No such file or directory" in proc.stderr:
                return found
            raise KernelError(f"nft list table in {where(self.namespace)} failed: {proc.stderr.strip()}")
        chains = {}
        for item in json.loads(proc.stdout).get("nftables", []):
            rule, chain = item.get("rule"), item.get("chain")
            if chain:
                chains[chain["name"]] = (chain.get("hook"), chain.get("policy"))
            tag = RuleTag.parse(rule.get("comment")) if rule else None
            if tag is not None:
                text = json.dumps([without_counters(rule["expr"]), rule.get("comment")], sort_keys=True)
                found.add(tag, NftRuleRef(rule["chain"], rule["handle"]), rule.get("comment"), rule["chain"], text)
        # a hook deleted or its policy changed by hand: the next change mends it (apply adds the chains first)
        self.repair = any(chains.get(name, (None, None)) != (spec.split()[3], "accept") for name, spec in NFT_CHAINS)
        return found

    def read_foreign(self):
        return read_foreign(self.namespace)

    def apply(self, current, remove_tags, add_sets, keep_any):
        script = [f"add table inet {NFT_TABLE}"]
        script += [f"add chain inet {NFT_TABLE} {chain} {{ {hook}; policy accept; }}" for chain, hook in NFT_CHAINS]
        if not keep_any:
            script.append(f"delete table inet {NFT_TABLE}")
        else:
            for tag in remove_tags:
                script += [f"delete rule inet {NFT_TABLE} {ref.chain} handle {ref.handle}" for ref in current.refs.get(tag, [])]
            for r in add_sets:
                script += r.nft_rules(r.tag, NFT_TABLE)
        run_program(["nft", "-f", "-"], where(self.namespace), stdin="\n".join(script) + "\n")


# ---------------------------------------------------------------- iptables

class Iptables(_Printing):
    def __init__(self, namespace, variant, family):
        self.namespace = namespace
        self.variant = variant  # "legacy" or "nft"
        self.family = family
        self.name = f"iptables-{variant}"
        self.prefix = "iptables" if family == 4 else "ip6tables"
        self.chains = set()
        self.jumps = {}  # (hook, chain) -> number of our jump rules (more than one is repaired)
        self.made_bases = set()  # (table, hook): built-in chains that iptables-nft created for our jump
        self.repair = False

    def fresh(self):
        """The same backend with nothing read yet (for printed)."""
        return Iptables(self.namespace, self.variant, self.family)

    def _save(self, table):
        return run_program([f"{self.prefix}-{self.variant}-save", "-t", table], where(self.namespace)).stdout.splitlines()

    def read_foreign(self):
        return read_foreign(self.namespace)

    def read(self):
        """Our rules, as iptables-save prints them; our chains, jumps and the base chains we made."""
        found = OwnRules()
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
                        found.add(RuleTag.parse(m.group(1)), IptablesRuleRef(table, line[3:]), m.group(1),
                                  f"{table} {words[1]}", line[3:])  # read without -c: no counters
                elif len(words) > 1 and words[0] == "-A" and words[1] in hooks and line in (
                        f"-A {words[1]} -m comment --comment {TAG} -j {hooks[words[1]]}",
                        f'-A {words[1]} -m comment --comment "{TAG}" -j {hooks[words[1]]}'):
                    key = (words[1], hooks[words[1]])
                    self.jumps[key] = self.jumps.get(key, 0) + 1
        # a missing or doubled jump (someone edited the hooks by hand) is repaired on the next change
        used = {ref.rule.split()[0] for refs in found.refs.values() for ref in refs}
        self.repair = (any(self.jumps.get((hook, chain), 0) != 1 for _t, hook, chain in HOOKS if chain in used)
                       or any(n > 1 for n in self.jumps.values()))
        return found

    def apply(self, current, remove_tags, add_sets, keep_any):
        """One iptables-restore: rules out, rules in, and a jump (exactly one) for each of our chains that holds
        rules afterwards; chains left empty go, with their jumps, so that hooks we do not need stay untouched."""
        lines = {"nat": [], "filter": []}
        added = [(table, rule) for r in add_sets for table, rule in r.iptables_rules(r.tag, CHAINS)]
        kept = [ref.rule.split()[0] for tag, refs in current.refs.items() if tag not in remove_tags for ref in refs]
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
            for ref in current.refs.get(tag, []):
                lines[ref.table].append(f"-D {ref.rule}")
        for table, rule in added:
            lines[table].append(rule)
        for table, chain in sorted({(t, c) for t, _h, c in HOOKS}):
            if chain in self.chains and chain not in needed:
                lines[table] += [f"-F {chain}", f"-X {chain}"]
        script = "".join(f"*{t}\n" + "".join(x + "\n" for x in ls) + "COMMIT\n" for t, ls in lines.items() if ls)
        run_program([f"{self.prefix}-{self.variant}-restore", "--noflush"], where(self.namespace), stdin=script)
        for table, hook, chain in HOOKS:
            if chain not in needed and (table, hook) in self.made_bases:
                self._drop_base_if_unused(table, hook)

    def _nft_family(self):
        return "ip" if self.family == 4 else "ip6"

    def _base_chains(self):
        """(table, chain) of the built-in chains that exist now in iptables-nft's tables."""
        found = set()
        for table in ("nat", "filter"):
            proc = run_program(["nft", "-j", "list", "table", self._nft_family(), table], where(self.namespace), ok_codes=(0, 1))
            if proc.returncode == 0:
                found |= {(table, item["chain"]["name"]) for item in json.loads(proc.stdout).get("nftables", [])
                          if "chain" in item and item["chain"].get("hook")}
        return found

    def _drop_base_if_unused(self, table, hook):
        """Remove a built-in chain that iptables-nft made for our jump, once it holds no rule and accepts."""
        proc = run_program(["nft", "-j", "list", "chain", self._nft_family(), table, hook], where(self.namespace), ok_codes=(0, 1))
        if proc.returncode != 0:
            return
        items = json.loads(proc.stdout).get("nftables", [])
        chain = next((i["chain"] for i in items if "chain" in i), {})
        if chain.get("policy", "accept") == "accept" and not any("rule" in i for i in items):
            run_program(["nft", "delete", "chain", self._nft_family(), table, hook], where(self.namespace), ok_codes=(0, 1))


def save_programs():
    """(program, family) of every iptables-save that is installed: both variants, both families. The one place
    that asks which exist."""
    return [(f"{prefix}-{variant}-save", family) for prefix, family in IPTABLES_PROGRAMS for variant in VARIANTS
            if shutil.which(f"{prefix}-{variant}-save")]


def _in_use(save_output):
    """True if an iptables save shows any rule, user chain (policy "-") or non-ACCEPT policy."""
    for line in save_output.splitlines():
        if line.startswith("-A ") or (line.startswith(":") and line.split()[1] != "ACCEPT"):
            return True
    return False


def detect_backend(requested, namespace, family):
    """auto: the iptables variant that already holds rules (so forward-accept sits beside a DROP policy), else nftables."""
    installed = {program for program, _family in save_programs()}
    prefix = "iptables" if family == 4 else "ip6tables"
    legacy_save, nft_save = f"{prefix}-legacy-save", f"{prefix}-nft-save"
    legacy = legacy_save in installed and _in_use(run_program([legacy_save], where(namespace)).stdout)
    if requested == "nftables":
        if legacy:
            raise InvalidInput(f"masquerade in {where(namespace)}: iptables-legacy rules are in use there; "
                               "nftables rules beside them would mix two NAT engines (use backend: iptables)")
        return Nftables(namespace)
    if legacy:
        return Iptables(namespace, "legacy", family)
    has_nft_iptables = nft_save in installed
    if requested == "iptables":
        return Iptables(namespace, "nft" if has_nft_iptables else "legacy", family)
    if has_nft_iptables and _in_use(run_program([nft_save], where(namespace)).stdout):
        return Iptables(namespace, "nft", family)
    if shutil.which("nft"):
        return Nftables(namespace)
    if has_nft_iptables:
        return Iptables(namespace, "nft", family)
    raise KernelError(f"masquerade in {where(namespace)}: neither nft nor iptables is installed")


def read_foreign(namespace):
    """Every rule in the namespace, from nftables and each installed iptables-save (already inside it); the kinds
    leave out ours (our table and chains) themselves."""
    nft = json.loads(run_program(["nft", "-j", "list", "ruleset"], where(namespace)).stdout or "{}") if shutil.which("nft") else {}
    # without -t: only the tables already there, so reading loads no kernel module and makes no table
    saves = [(program, family, run_program([program], where(namespace)).stdout.splitlines()) for program, family in save_programs()]
    return ForeignRules(nft, saves)


def rule_comment(line):
    """Our comment on a rule as nft or iptables-save prints it (tag and note), or None."""
    m = _COMMENT.search(line)
    return m.group(1) if m else None


def our_rule_lines(namespace):
    """Our own rules in this namespace (already inside it), from whichever backends hold them: (program, rule as the
    program prints it, its RuleTag)."""
    rules = []
    if shutil.which("nft"):
        for table in (NFT_TABLE, POLICY_TABLE):  # the host's rules; a container's network policy
            proc = run_program(["nft", "list", "table", "inet", table], where(namespace), ok_codes=(0, 1))
            rules += [("nftables", line.strip()) for line in proc.stdout.splitlines() if TAG in line]
    for program, _family in save_programs():
        proc = run_program([program], where(namespace), ok_codes=(0, 1))
        rules += [(program[:-len("-save")], line) for line in proc.stdout.splitlines()
                  if line.startswith(tuple(f"-A {chain} " for chain in CHAINS.values()))]
    return [(program, line, RuleTag.parse(m.group(1)) if m else None)
            for program, line in rules for m in [_COMMENT.search(line)]]
