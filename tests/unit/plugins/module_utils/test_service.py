"""netns_service's core without systemd: unit names, the drop-in's text, and the plan against a unit directory."""

from __future__ import annotations

import pytest

from ansible_collections.linuxns.net.plugins.module_utils._errors import Conflict, InvalidInput
from ansible_collections.linuxns.net.plugins.module_utils._hosts import ETC_NETNS
from ansible_collections.linuxns.net.plugins.module_utils._plan import Plan
from ansible_collections.linuxns.net.plugins.module_utils._service import (
    MARK, normalize_service, plan_service, render, unit_name)


@pytest.mark.parametrize("given, name", [("web", "web.service"), ("web.service", "web.service"),
                                         ("worker@.service", "worker@.service"), ("worker@3", "worker@3.service"),
                                         ("a:b_c-d.e.service", "a:b_c-d.e.service")])
def test_unit_names(given, name):
    assert unit_name(given) == name


@pytest.mark.parametrize("bad", ["", "../etc/passwd", "web/x", "web.socket", "we b", "web\n", None, 5, "x" * 300])
def test_bad_unit_names_are_refused(bad):
    with pytest.raises(InvalidInput):
        unit_name(bad)


def test_the_drop_in_runs_the_unit_in_the_namespace_with_the_containers_files():
    text = render(normalize_service({"unit": "web", "container": "web1"}))
    assert text.startswith(MARK)
    assert "\n[Service]\nNetworkNamespacePath=/run/netns/web1\n" in text
    # the container's files where ip netns exec finds them (/etc/netns, or the tests' own directory)
    assert f"BindReadOnlyPaths=-{ETC_NETNS}/web1/hosts:/etc/hosts\n" in text
    assert f"BindReadOnlyPaths=-{ETC_NETNS}/web1/resolv.conf:/etc/resolv.conf\n" in text
    assert "AssertPathExists=/run/netns/web1\n" in text


def test_bad_input_is_named():
    with pytest.raises(InvalidInput, match="service 'web.service': 'container'"):
        normalize_service({"unit": "web"})
    with pytest.raises(InvalidInput, match="unit_dir 'relative' must be an absolute path"):
        normalize_service({"unit": "web", "container": "c", "unit_dir": "relative"})
    with pytest.raises(InvalidInput, match="unit_dir '/etc/../tmp' must be an absolute path without"):
        normalize_service({"unit": "web", "container": "c", "unit_dir": "/etc/../tmp"})


def test_the_plan_writes_once_refuses_what_is_not_ours_and_removes_only_its_file(tmp_path):
    units = tmp_path / "units"
    units.mkdir()
    (units / "web.service").write_text("[Service]\nExecStart=/bin/true\n")
    spec = normalize_service({"unit": "web", "container": "web1", "unit_dir": str(units)})
    plan = Plan()
    plan_service(plan, spec)
    assert plan.changed and plan.after["web.service"] == render(spec) and plan.before["web.service"] is None
    plan.apply()
    assert (units / "web.service.d" / "50-linuxns-net.conf").read_text() == render(spec)
    again = Plan()
    plan_service(again, spec)
    assert not again.changed
    (units / "web.service.d" / "10-mine.conf").write_text("[Service]\nNice=5\n")
    gone = Plan()
    plan_service(gone, normalize_service({"unit": "web", "state": "absent", "unit_dir": str(units)}))
    gone.apply()
    assert sorted(p.name for p in (units / "web.service.d").iterdir()) == ["10-mine.conf"]
    (units / "web.service.d" / "50-linuxns-net.conf").write_text("[Service]\nNice=1\n")
    with pytest.raises(Conflict, match="was not written by linuxns.net"):
        plan_service(Plan(), spec)
    with pytest.raises(InvalidInput, match="service 'api.service': no such unit"):
        plan_service(Plan(), normalize_service({"unit": "api", "container": "c", "unit_dir": str(units)}))
