"""The defaults live in _defaults.py; the module and role documentation, which must be literal text, state the same."""

from __future__ import annotations

import importlib.util
import pathlib

import yaml

from ansible_collections.linuxns.net.plugins.module_utils import _defaults

REPO = pathlib.Path(__file__).resolve().parents[4]  # the collection: tests/unit/plugins/modules/ is four below it


def module_doc(name):
    spec = importlib.util.spec_from_file_location(name, REPO / "plugins" / "modules" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return yaml.safe_load(module.DOCUMENTATION)["options"]


def test_module_docs_state_the_core_defaults():
    network = module_doc("container_network")
    assert network["isolation_group"]["default"] == _defaults.ISOLATION_GROUP
    assert "C(br-) and the first 12 characters" in network["bridge"]["description"]
    assert _defaults.bridge_name("abcdefghijklmnopq") == "br-abcdefghijkl"
    assert str(_defaults.CONTAINER_NAME_MAX) in " ".join(network["containers"]["suboptions"]["name"]["description"])
    for name in ("veth", "bridge"):
        assert module_doc(name)["up"]["default"] is _defaults.UP


def test_role_docs_state_the_module_defaults_and_leave_them_unset():
    role = REPO / "roles" / "bridge_network"
    options = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert str(_defaults.ISOLATION_GROUP) in options["bridge_network_isolation_group"]["description"]
    assert "default" not in options["bridge_network_isolation_group"] and "default" not in options["bridge_network_bridge"]
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text())
    assert "bridge_network_isolation_group" not in defaults and "bridge_network_bridge" not in defaults
    assert str(_defaults.ISOLATION_GROUP) in (REPO / "docs" / "docsite" / "rst" / "roles.rst").read_text()
