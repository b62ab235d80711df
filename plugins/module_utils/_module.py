# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one place where Ansible meets the core: batches, missing pyroute2, domain errors to fail_json."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.linuxns.net.plugins.module_utils._errors import (
    KernelError, LibraryMissing, LinuxnsError, kernel_error)
from ansible_collections.linuxns.net.plugins.module_utils._session import PYROUTE2, Session, pyroute2_missing


def item_spec(spec):
    """The suboptions of a batch list: the top-level options without defaults, so that unset keys can inherit."""
    return {k: {kk: vv for kk, vv in v.items() if kk != "default"} for k, v in spec.items()}


def batch_spec(spec, list_key):
    """The argument spec of a batch module: the options of one object, and list_key, a list of such objects
    (AnsibleModule validates each item against the same options)."""
    return dict(spec, **{list_key: dict(type="list", elements="dict", options=item_spec(spec))})


def batch_items(params, list_key, spec):
    """One item per list entry (unset keys inherit the top-level options), or the top-level options alone."""
    top = {k: params.get(k) for k in spec}
    if params.get(list_key) is None:
        return [top]
    return [{k: top[k] if entry.get(k) is None else entry[k] for k in spec} for entry in params[list_key]]


def run(module, operation, lock=True, **extra):
    """Open a session, run operation(session, check_mode) -> result dict, and report it. Without lock, the run
    neither waits for the host's other runs nor holds them up (one that changes nothing and may last: probes)."""
    if pyroute2_missing():
        module.fail_json(msg=missing_required_lib(PYROUTE2))
    try:
        try:
            with Session(lock=lock) as session:
                result = operation(session, module.check_mode)
        except OSError as exc:
            # the last line of defence: the core names what it was doing where it can; this names the module
            raise kernel_error(f"{module._name}", exc) from None
    except LibraryMissing as exc:
        module.fail_json(msg=missing_required_lib(exc.library), exception=repr(exc.cause))
    except LinuxnsError as exc:
        if isinstance(exc, KernelError) and exc.errno is not None:
            extra = dict(extra, errno=exc.errno)
        # a failure part-way tells whether what it did stays done (the plan undid what it could)
        module.fail_json(msg=str(exc), changed=getattr(exc, "changed", False), **extra)
    for warning in result.pop("warnings", []):
        module.warn(warning)
    if not module._diff:
        result.pop("diff", None)
    if result.pop("failed", False):  # a check that ran and found the state wrong (reachability)
        module.fail_json(**result)
    module.exit_json(**result)


def run_batch_module(item_spec, list_key, identity, operation):
    """A module that manages one object from its top-level options, or many from the list option list_key."""
    module = AnsibleModule(argument_spec=batch_spec(item_spec, list_key), supports_check_mode=True,
                           required_one_of=[(identity, list_key)])
    run(module, lambda session, check: operation(session, batch_items(module.params, list_key, item_spec), check))
