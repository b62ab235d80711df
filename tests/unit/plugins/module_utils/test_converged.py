"""A converge's record (container_network converged): the token of its options, the file, what is not read."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.linuxns.net.plugins.module_utils._converged import (
    check_token, options_token, read_record, record_converge, record_path)
from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput


def test_the_token_does_not_depend_on_the_order_of_the_options_but_on_every_value():
    options = {"name": "fleet", "containers": [{"name": "app1"}], "routes": [], "mtu": None}
    reordered = {"mtu": None, "routes": [], "containers": [{"name": "app1"}], "name": "fleet"}
    assert options_token(options) == options_token(reordered)
    assert options_token(options) != options_token(dict(options, mtu=1450))
    assert options_token(options) != options_token(dict(options, containers=[{"name": "app2"}]))
    assert len(options_token(options)) == 64


def test_a_converged_option_is_text():
    check_token("fleet", "abc")
    check_token("fleet", "")
    check_token("fleet", None)
    with pytest.raises(InvalidInput, match=r"network 'fleet': converged must be the text .* not \['abc'\]"):
        check_token("fleet", ["abc"])


def test_the_record_is_written_when_it_differs_and_removed_with_the_network(tmp_path):
    options = {"name": "fleet", "state": "present", "subnet": "10.244.1.0/24"}
    record_converge("fleet", "tok-a", options, run_dir=tmp_path)
    path = record_path("fleet", tmp_path)
    assert read_record("fleet", tmp_path) == {"format": 1, "token": "tok-a", "options": options}
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    os.utime(path, (0, 0))
    record_converge("fleet", "tok-a", options, run_dir=tmp_path)
    assert os.stat(path).st_mtime == 0, "the same record is not written again"
    record_converge("fleet", "tok-b", options, run_dir=tmp_path)
    assert read_record("fleet", tmp_path)["token"] == "tok-b"
    assert not [f for f in os.listdir(os.path.dirname(path)) if f.endswith(".tmp")]
    record_converge("fleet", "tok-c", dict(options, state="absent"), run_dir=tmp_path)
    assert not os.path.exists(os.path.dirname(path)), "the last record gone, its directory goes"


def test_a_record_of_another_format_or_damaged_is_not_read(tmp_path):
    record_converge("fleet", "tok-a", {"name": "fleet"}, run_dir=tmp_path)
    path = record_path("fleet", tmp_path)
    with open(path, "w", encoding="utf-8") as damaged:
        damaged.write('{"format": 2, "token": "t", "options": {}}')
    assert read_record("fleet", tmp_path) is None
    with open(path, "w", encoding="utf-8") as damaged:
        damaged.write("{")
    assert read_record("fleet", tmp_path) is None
    assert read_record("other", tmp_path) is None


def test_a_network_whose_name_is_no_file_name_is_not_recorded(tmp_path):
    for name in ("../etc", "a/b", "", None):
        assert record_path(name, tmp_path) is None
        record_converge(name, "tok", {"name": name}, run_dir=tmp_path)
        assert read_record(name, tmp_path) is None
    assert json.dumps(os.listdir(tmp_path)) == "[]"
