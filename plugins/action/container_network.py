# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""container_network's action: a task whose converged token (read by netns_info) is its options' token is answered
here, without a module run on the host; any other runs the module (as Ansible's normal action does, async too), told
its options' token to record."""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

from ansible_collections.linuxns.net.plugins.module_utils._converged import options_token

MODULE = "linuxns.net.container_network"


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # no longer has any effect
        args = dict(self._task.args)
        # a converged that is not text goes to the module as it is, which refuses it
        if isinstance(args.get("converged"), str):
            token = options_token({k: v for k, v in args.items() if k != "converged"})
            if args["converged"] == token:
                result.update(changed=False, converged=True,
                              msg="the host is as these options make it (netns_info compared it): the module did not run")
                return result
            args["converged"] = token
        wrap_async = self._task.async_val
        result = merge_hash(result, self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars,
                                                         wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)  # the one a module run without pipelining made
        return result
