"""The firewall engine and its rule kinds, without the kernel: every kind has every member the engine uses, and a
new kind is planned by the engine as it is (a fake backend stands in for nft and iptables)."""

from __future__ import annotations

import contextlib
import inspect
import ipaddress

import pytest

from ansible_collections.linuxns.net.plugins.module_utils import _firewall
from ansible_collections.linuxns.net.plugins.module_utils._errors import Conflict
from ansible_collections.linuxns.net.plugins.module_utils._firewall import RuleContext, RuleSet, plan_rule_sets
from ansible_collections.linuxns.net.plugins.module_utils._firewall_backends import OwnRules, RuleTag
from ansible_collections.linuxns.net.plugins.module_utils._forwarding import ForwardRules
from ansible_collections.linuxns.net.plugins.module_utils._masquerade import MasqueradeRule, masquerade_rule_sets
from ansible_collections.linuxns.net.plugins.module_utils._plan import Plan
from ansible_collections.linuxns.net.plugins.module_utils._port_forward import Forward, PortForwardSet
from ansible_collections.linuxns.net.plugins.module_utils._ports import parse_ports

SUBNET = ipaddress.ip_network("10.9.0.0/24")
CHAINS = {"nat": "NAT", "dnat": "DNAT", "forward": "FWD", "input": "IN"}


def protocol_members():
    """Every member that RuleSet declares: the engine's whole interface to a kind."""
    declared = set(getattr(RuleSet, "__annotations__", {}))
    declared |= {name for name, value in vars(RuleSet).items()
                 if not name.startswith("_") and (inspect.isfunction(value) or isinstance(value, property))}
    return declared


def kinds():
    ports = PortForwardSet(None, "network:web", [Forward("container 'c1'", ipaddress.ip_address("10.9.0.2"),
                                                         parse_ports(["8080:80"], "c1"), "br0", SUBNET)])
    rule = masquerade_rule_sets(None, SUBNET, bridge="br0", isolation_group=7)
    return [rule, rule.forwarding, ports]


def test_the_protocol_lists_what_the_engine_uses():
    assert protocol_members() == {"namespace", "state", "backend", "key", "family", "tag", "describe", "view", "sysctls",
                                  "check", "nft_rules", "iptables_rules"}


@pytest.mark.parametrize("rule_set", kinds(), ids=lambda s: type(s).__name__)
def test_every_kind_has_every_member_and_makes_tagged_rules(rule_set):
    for member in protocol_members():
        assert hasattr(rule_set, member), f"{type(rule_set).__name__} lacks {member}"
    tag = rule_set.tag
    assert RuleTag.parse(str(tag)) == tag and tag.source == rule_set.key
    nft = rule_set.nft_rules(tag, "t")
    ipt = rule_set.iptables_rules(tag, CHAINS)
    assert nft and all(str(tag) in line for line in nft), "every nft rule carries the set's tag"
    assert ipt and all(str(tag) in rule for _table, rule in ipt), "every iptables rule carries the set's tag"
    assert isinstance(rule_set.view(), dict) and rule_set.describe()


def test_one_request_is_a_masquerade_set_and_a_forwarding_set_with_keys_of_their_own():
    rule = masquerade_rule_sets(None, SUBNET, bridge="br0", isolation_group=7)
    assert isinstance(rule, MasqueradeRule) and isinstance(rule.forwarding, ForwardRules)
    assert rule.key == "10.9.0.0/24" and rule.forwarding.key == "forward:10.9.0.0/24"
    assert not any("forward" in line for line in rule.nft_rules(rule.tag, "t")), "masquerade makes NAT rules only"
    assert all(" forward " in line for line in rule.forwarding.nft_rules(rule.forwarding.tag, "t"))
    internal = masquerade_rule_sets(None, SUBNET, bridge="br0", internal=True)
    assert internal.state == "absent" and internal.forwarding.state == "present" and internal.forwarding.sysctls() == []
    nothing = masquerade_rule_sets(None, SUBNET, masquerade=False, forward_accept=False)
    assert nothing.state == nothing.forwarding.state == "absent", "a set with no rules is absent: its old rules go"


class FakeBackend:
    name = "fake"
    repair = False

    def __init__(self, own=None, foreign=None):
        self.own = own or OwnRules()
        self.foreign = foreign
        self.applied = []
        self.foreign_reads = 0

    def read(self):
        return self.own

    def read_foreign(self):
        self.foreign_reads += 1
        return self.foreign

    def apply(self, current, remove_tags, add_sets, keep_any):
        self.applied.append((list(remove_tags), [s.key for s in add_sets], keep_any))

    def printed(self, sets):
        return {s.tag: self.own.texts.get(s.tag) for s in sets}  # as found: no drift, unless a test says so


class FakeSession:
    def exists(self, namespace):
        return True

    @contextlib.contextmanager
    def inside(self, namespace):
        yield


class Marker:
    """A new rule kind, defined here: the engine plans it without knowing it."""

    def __init__(self, name, state="present", clash=None):
        self.namespace, self.state, self.backend, self.name, self.clash = None, state, "auto", name, clash

    key = property(lambda self: f"marker:{self.name}")
    family = property(lambda self: 4)
    tag = property(lambda self: RuleTag.of(self.key, [self.name]))

    def describe(self):
        return f"marker {self.name}"

    def view(self):
        return {"name": self.name}

    def sysctls(self):
        return []

    def check(self, context):
        assert isinstance(context, RuleContext)
        seen = context.shared.setdefault("names", [])
        if self.clash and self.clash in seen:
            raise Conflict(f"marker {self.name} clashes with marker {self.clash}")
        seen.append(self.name)

    def nft_rules(self, tag, table):
        return [f'add rule inet {table} input meta mark 7 accept comment "{tag}"']

    def iptables_rules(self, tag, chains):
        return [("filter", f'-A {chains["input"]} -m mark --mark 7 -m comment --comment "{tag}" -j ACCEPT')]


@pytest.fixture
def backend(monkeypatch):
    fake = FakeBackend()
    monkeypatch.setattr(_firewall, "detect_backend", lambda requested, namespace, family: fake)
    return fake


def test_a_new_kind_is_planned_applied_and_converges_without_touching_the_engine(backend):
    plan = Plan()
    assert plan_rule_sets(plan, FakeSession(), [Marker("a")], check_mode=False) == {"": "fake"}
    result = plan.execute(check_mode=False)
    assert result["changed"] and result["changes"] == ["update firewall rules in the module's own namespace (fake): marker a"]
    assert backend.applied == [([], ["marker:a"], True)]
    backend.own.add(Marker("a").tag, "ref", str(Marker("a").tag), "input", "rule a")  # now the backend holds its rules
    again = Plan()
    plan_rule_sets(again, FakeSession(), [Marker("a")], check_mode=False)
    assert not again.changed, "a set whose tag is there, with its rules as made, is left alone"
    drifted = Plan()
    backend.printed = lambda sets: {s.tag: {"input": ["rule a", "rule a2"]} for s in sets}  # it makes two rules
    plan_rule_sets(drifted, FakeSession(), [Marker("a")], check_mode=False)
    assert drifted.changed, "a rule of the set is missing: the set is replaced"
    drifted.execute(check_mode=False)
    assert backend.applied[-1] == ([Marker("a").tag], ["marker:a"], True)
    del backend.printed
    gone = Plan()
    plan_rule_sets(gone, FakeSession(), [Marker("a", state="absent")], check_mode=False)
    gone.execute(check_mode=False)
    assert backend.applied[-1] == ([Marker("a").tag], [], False)
    assert backend.foreign_reads == 0, "the rules of others are read only when a kind asks"


def test_checks_share_one_context_per_group_and_refuse_before_any_change(backend):
    plan = Plan()
    with pytest.raises(Conflict, match="marker b clashes with marker a"):
        plan_rule_sets(plan, FakeSession(), [Marker("a"), Marker("b", clash="a")], check_mode=False)
    assert not plan.changed and backend.applied == []
