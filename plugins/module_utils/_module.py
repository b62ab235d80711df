# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one place where Ansible meets the core: batches, missing pyroute2, domain errors to fail_json."""

from __future__ import annotations

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput, LinuxnsError
from ansible_collections.linuxns.net.plugins.module_utils._namespace import PYROUTE2_IMPORT_ERROR, Session


def item_spec(spec):
    """The spec of one batch item: the top-level options without defaults, so unset keys can inherit."""
    return {k: {kk: vv for kk, vv in v.items() if kk != "default"} for k, v in spec.items()}


def batch_items(params, list_key, spec):
    """One item per list entry (unset keys inherit the top-level options), or the top-level options alone."""
    top = {k: params.get(k) for k in spec}
    if params.get(list_key) is None:
        return [top]
    validator = ArgumentSpecValidator(item_spec(spec))
    items = []
    for position, entry in enumerate(params[list_key]):
        checked = validator.validate(entry)
        if checked.error_messages:
            raise InvalidInput(f"{list_key}[{position}]: {checked.error_messages[0]}")
        items.append({k: top[k] if checked.validated_parameters.get(k) is None else checked.validated_parameters[k]
                      for k in spec})
    return items


def run(module, operation, **extra):
    """Open a session, run operation(session, check_mode) -> result dict, and report it."""
    if PYROUTE2_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("pyroute2 >= 0.9 (pip install 'pyroute2>=0.9')"),
                         exception="".join(traceback.format_exception(PYROUTE2_IMPORT_ERROR)))
    try:
        with Session() as session:
            result = operation(session, module.check_mode)
    except LinuxnsError as exc:
        module.fail_json(msg=str(exc), **extra)
    for warning in result.pop("warnings", []):
        module.warn(warning)
    if not module._diff:
        result.pop("diff", None)
    module.exit_json(**result)


def run_batch_module(item_spec, list_key, identity, operation):
    """A module that manages one object from its top-level options, or many from the list option list_key."""
    module = AnsibleModule(argument_spec=dict(item_spec, **{list_key: dict(type="list", elements="dict")}),
                           supports_check_mode=True, required_one_of=[(identity, list_key)])
    run(module, lambda session, check: operation(session, batch_items(module.params, list_key, item_spec), check))
