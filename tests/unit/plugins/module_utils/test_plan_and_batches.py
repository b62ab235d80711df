"""Plans (check mode, rollback) and batch expansion, without the kernel."""

from __future__ import annotations

import errno

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.linuxns.net.plugins.module_utils._errors import KernelError
from ansible_collections.linuxns.net.plugins.module_utils._module import batch_items, batch_spec
from ansible_collections.linuxns.net.plugins.module_utils._plan import Plan


def test_check_mode_reports_changes_and_runs_none():
    ran = []
    plan = Plan()
    plan.add("one", lambda: ran.append(1))
    result = plan.execute(check_mode=True)
    assert result["changed"] and result["changes"] == ["one"] and ran == []


def test_failure_part_way_undoes_what_the_run_created():
    log = []
    plan = Plan()
    plan.add("create a", lambda: log.append("a"), lambda: log.append("undo a"))
    plan.add("set a up", lambda: log.append("a up"))
    plan.add("create b", lambda: log.append("b"), lambda: log.append("undo b"))

    def fail():
        raise RuntimeError("kernel said no")
    plan.add("create c", fail, lambda: log.append("undo c"))
    with pytest.raises(RuntimeError):
        plan.apply()
    assert log == ["a", "a up", "b", "undo b", "undo a"]


def test_a_kernel_refusal_is_named_after_the_change_and_keeps_the_errno():
    def refuse():
        raise OSError(errno.EEXIST, "File exists")
    plan = Plan()
    plan.add("create bridge 'br0' in namespace 'red'", refuse)
    with pytest.raises(KernelError) as err:
        plan.apply()
    assert err.value.errno == errno.EEXIST
    assert str(err.value) == "create bridge 'br0' in namespace 'red': the kernel refused it (File exists, errno 17)"


def test_diff_shows_only_managed_fields_of_changed_objects():
    plan = Plan()
    mark = plan.mark
    plan.record("untouched", {"mtu": 1500}, {"mtu": 1500}, mark)
    plan.add("x", lambda: None)
    plan.record("x", {"mtu": 1500, "mac": "aa", "up": False}, {"up": True}, mark)
    assert plan.before == {"x": {"up": False}} and plan.after == {"x": {"up": True}}


SPEC = {"name": {"type": "str"}, "mtu": {"type": "int"}, "up": {"type": "bool", "default": True}}


def _validated(params):
    """What AnsibleModule hands the module: the batch spec applied, suboptions included."""
    result = ArgumentSpecValidator(batch_spec(SPEC, "pairs")).validate(params)
    return result.validated_parameters, result.error_messages


def test_batch_items_inherit_top_level_options_and_are_type_checked():
    params, errors = _validated({"mtu": 1400, "pairs": [{"name": "a"}, {"name": "b", "mtu": "9000", "up": "no"}]})
    assert not errors
    assert batch_items(params, "pairs", SPEC) == [
        {"name": "a", "mtu": 1400, "up": True}, {"name": "b", "mtu": 9000, "up": False}]


def test_batch_item_errors_name_the_list_and_the_option():
    _params, errors = _validated({"pairs": [{"name": "a"}, {"name": "b", "mtu": "big"}]})
    assert errors and "pairs" in errors[0] and "mtu" in errors[0]
    _params, errors = _validated({"pairs": [{"name": "a", "colour": "red"}]})
    assert errors and "pairs" in errors[0] and "colour" in errors[0]


def test_batch_lists_declare_the_same_options_without_defaults():
    assert batch_spec(SPEC, "pairs")["pairs"] == {"type": "list", "elements": "dict", "options": {
        "name": {"type": "str"}, "mtu": {"type": "int"}, "up": {"type": "bool"}}}


def test_without_a_list_the_top_level_options_are_the_one_item():
    assert batch_items({"name": "a", "mtu": None, "up": True}, "pairs", SPEC) == [{"name": "a", "mtu": None, "up": True}]
