# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Requirements and notes shared by every module of the collection.
    DOCUMENTATION = r"""
options: {}
requirements:
  - Python 3.9 to 3.13 and pyroute2 >= 0.9.3 (< 0.10) on the managed node.
  - Root (CAP_NET_ADMIN and CAP_SYS_ADMIN) on the managed node.
notes:
  - Talks netlink directly through pyroute2 in the module's own process (no C(ip) commands, no helper processes).
  - Runs on one host serialise on a lock per host network namespace (C(/run/lock/linuxns.net.<inode>.lock)).
  - Every item of a batch is validated before anything changes; if a change fails part-way, the objects this run
    created are removed again.
  - A refusal by the kernel fails the task with a message that names the object and keeps the kernel's errno
    (returned as C(errno)).
  - In an ad-hoc command, pass lists of dicts (for example O(ignore:routes)) as one JSON object after C(-a), since
    key=value text splits a list at its commas.
"""

    # The namespace option, for the modules that work in one namespace per object.
    NAMESPACE = r"""
options:
  namespace:
    description:
      - Name of the network namespace (a file in C(/run/netns), as C(ip netns) shows) to work in.
      - Omitted means the namespace the module runs in (the host's own, for a normal SSH connection).
      - In check mode a namespace that does not exist yet is read as empty, so a playbook can be checked before
        the task that creates the namespace has run.
      - All modules that take this option are in the action group C(linuxns.net.namespaced), so that
        C(module_defaults) can set it once for a block of tasks.
    type: str
attributes:
  action_group:
    description: Use C(group/linuxns.net.namespaced) in C(module_defaults) to set O(namespace) for all its modules.
    support: full
    membership:
      - linuxns.net.namespaced
"""

    ATTRIBUTES = r"""
attributes:
  check_mode:
    support: full
    description: Check mode predicts exactly the changes a real run would make, and makes none.
  diff_mode:
    support: full
    description: Shows each changed object before and after, as the kernel reports it.
  idempotent:
    support: full
    description: A second run with the same options reports no change.
"""

    # The attributes of the modules that only read (netns_info, reachability).
    READ_ONLY = r"""
attributes:
  check_mode:
    support: full
    description: Changes nothing, so a check-mode run is the same as any other.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to diff.
  idempotent:
    support: full
    description: Changes nothing.
"""
