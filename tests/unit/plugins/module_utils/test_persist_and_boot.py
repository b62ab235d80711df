"""persist's core without a kernel (the saved parameters, the plan of files and links, the rebuild program's
contents) and the lab's boot (which units run, in which order, wrapped how)."""

from __future__ import annotations

import io
import ipaddress
import json
import zipfile

import pytest

from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput
from ansible_collections.linuxns.net.plugins.module_utils._hosts import ETC_NETNS
from ansible_collections.linuxns.net.plugins.module_utils._lab.boot import enabled_units, plan_boot
from ansible_collections.linuxns.net.plugins.module_utils._lab.spec import LabError
from ansible_collections.linuxns.net.plugins.module_utils._network_spec import normalize_network
from ansible_collections.linuxns.net.plugins.module_utils._addressing import network_layout
from ansible_collections.linuxns.net.plugins.module_utils._persist import (
    PACKAGE, STATE_DIR, check_persistable, plan_persist, program_bytes, render_template, saved_parameters)
from ansible_collections.linuxns.net.plugins.module_utils._plan import Plan
from ansible_collections.linuxns.net.plugins.module_utils._service import normalize_service, render


def _params(**extra):
    return dict({"name": "app", "bridge": "br-app", "subnet": "10.70.0.0/24", "subnet6": "fd42:70::/64",
                 "persist": True, "stop_processes": False, "stop_timeout": 10.0,
                 "containers": [{"name": "a", "address": None, "mac": None, "state": "present"},
                                {"name": "b", "address": "10.70.0.9", "mac": "02:00:00:00:00:0b"},
                                {"name": "gone", "state": "absent"}]}, **extra)


def test_saved_parameters_make_every_address_and_mac_explicit_and_drop_the_runs_own_options():
    params = _params()
    layout = network_layout(normalize_network(params), {})
    saved = saved_parameters(params, layout, {"a": ("02:00:00:00:00:0a", "02:00:00:00:01:0a"),
                                              "b": ("02:00:00:00:00:99", "02:00:00:00:01:0b")})
    assert [c["name"] for c in saved["containers"]] == ["a", "b"], "a container that left is not saved"
    a, b = saved["containers"]
    assert a == {"name": "a", "address": "10.70.0.2", "address6": "fd42:70::2", "mac": "02:00:00:00:00:0a",
                 "host_mac": "02:00:00:00:01:0a", "state": "present"}
    assert b["mac"] == "02:00:00:00:00:0b", "a MAC the request gives wins over the kernel's"
    assert b["address"] == "10.70.0.9"
    assert not {"persist", "stop_processes", "stop_timeout"} & set(saved)
    # what a rebuild gets back from the saved parameters is the same layout, with the MACs on both ends
    net = normalize_network(dict(saved, persist=None))
    pairs = {p.peer_namespace: p for p in network_layout(net, {}).pairs}
    assert pairs["a"].peer_mac == "02:00:00:00:00:0a" and pairs["a"].mac == "02:00:00:00:01:0a"
    assert network_layout(net, {}).families[4].addresses["b"] == ipaddress.ip_address("10.70.0.9")


def test_macs_must_be_unique_unicast_and_not_zero():
    with pytest.raises(InvalidInput, match="containers 'a' and 'b' both have mac 02:00:00:00:00:01"):
        normalize_network(_params(containers=[{"name": "a", "mac": "02:00:00:00:00:01"},
                                              {"name": "b", "mac": "02:00:00:00:00:01"}]))
    with pytest.raises(InvalidInput, match="zero MAC"):
        normalize_network(_params(containers=[{"name": "a", "mac": "00:00:00:00:00:00"}]))
    with pytest.raises(InvalidInput, match="multicast"):
        normalize_network(_params(containers=[{"name": "a", "mac": "01:00:5e:00:00:01"}]))


@pytest.mark.parametrize("name", ["my net", "a/b", "x" * 201, "-lead", "web@1"])
def test_a_name_that_no_unit_can_take_is_refused(name, tmp_path):
    with pytest.raises(InvalidInput, match="persist needs a name"):
        check_persistable(name, str(tmp_path))


def test_no_systemd_is_refused(tmp_path):
    with pytest.raises(InvalidInput, match="persist needs systemd, and this host has no .*/nope"):
        check_persistable("app", str(tmp_path / "nope"))


def test_the_plan_writes_state_program_units_and_links_once_and_removes_them_all(tmp_path):
    state, units = tmp_path / "state", tmp_path / "units"
    units.mkdir()
    saved = {"name": "app", "containers": []}
    plan = Plan()
    plan_persist(plan, "app", saved, "/usr/bin/python3", state_dir=str(state), unit_dir=str(units))
    assert len(plan.actions) == 7, plan.actions  # program, template, target, 3 links, state
    plan.apply()
    assert json.loads((state / "networks" / "app.json").read_text()) == {"format": 1, "network": "app",
                                                                         "parameters": saved}
    again = Plan()
    plan_persist(again, "app", saved, "/usr/bin/python3", state_dir=str(state), unit_dir=str(units))
    assert not again.actions, again.actions
    gone = Plan()
    plan_persist(gone, "app", None, "/usr/bin/python3", state_dir=str(state), unit_dir=str(units))
    gone.apply()
    assert not [p for p in tmp_path.rglob("*") if not p.is_dir()]


def test_a_foreign_unit_of_the_same_name_is_left_alone(tmp_path):
    (tmp_path / "linuxns-net@.service").write_text("[Unit]\nDescription=someone else's\n")
    with pytest.raises(InvalidInput, match="was not written by linuxns.net"):
        plan_persist(Plan(), "app", {}, "/usr/bin/python3", state_dir=str(tmp_path / "s"), unit_dir=str(tmp_path))


def test_the_program_holds_the_core_and_not_the_ansible_adapter_and_is_the_same_bytes_each_time():
    data = program_bytes()
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    base = PACKAGE.replace(".", "/")
    assert f"{base}/_network.py" in names and f"{base}/_persist.py" in names and "__main__.py" in names
    assert f"{base}/_module.py" not in names and not any("/_lab/" in n for n in names)
    assert program_bytes() == data
    assert f"ExecStart=/opt/py/bin/python3 {STATE_DIR}/rebuild.pyz %i" in render_template("/opt/py/bin/python3")


def _unit(units, name, text):
    path = units / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_the_boot_runs_network_units_before_the_services_bound_to_their_containers(tmp_path):
    units = tmp_path
    _unit(units, "linuxns-net@.service", render_template("/usr/bin/python3"))
    _unit(units, "linuxns-net.target", "[Unit]\nDescription=t\n[Install]\nWantedBy=multi-user.target\n")
    _unit(units, "web.service", "[Unit]\nDescription=web\n[Service]\nExecStart=/usr/bin/python3 -m http.server 80\n")
    _unit(units, "web.service.d/50-linuxns-net.conf", render(normalize_service({"unit": "web", "container": "c1"})))
    for wants, name in (("multi-user.target", "web.service"), ("multi-user.target", "linuxns-net.target"),
                        ("linuxns-net.target", "linuxns-net@app.service"), ("multi-user.target", "linuxns-net@app.service")):
        (units / f"{wants}.wants").mkdir(exist_ok=True)
        (units / f"{wants}.wants" / name).symlink_to(f"../{name}")
    assert set(enabled_units(str(units))) == {"web.service", "linuxns-net@app.service"}
    steps = plan_boot(str(units), exists=lambda path: True)
    assert [s.unit for s in steps] == ["linuxns-net@app.service", "web.service"]
    network, web = steps
    assert network.wait and not web.wait
    assert "rebuild.pyz app" in network.argv[-1]
    assert f"then mount --bind -o ro {ETC_NETNS}/c1/hosts /etc/hosts; fi" in web.argv[-1]
    assert "exec nsenter --net=/run/netns/c1 /usr/bin/python3 -m http.server 80" in web.argv[-1]
    assert plan_boot(str(units), exists=lambda path: "rebuild" in path or "netns" in path)[0].unit == "web.service", \
        "a network whose saved state is gone is not rebuilt (ConditionPathExists)"


def test_a_unit_setting_the_lab_does_not_run_as_systemd_is_refused(tmp_path):
    _unit(tmp_path, "odd.service", "[Service]\nExecStart=/bin/true\nUser=nobody\n")
    (tmp_path / "multi-user.target.wants").mkdir()
    (tmp_path / "multi-user.target.wants" / "odd.service").symlink_to("../odd.service")
    with pytest.raises(LabError, match="unit odd.service: .*'User=nobody' is not something the lab's boot runs"):
        plan_boot(str(tmp_path))
