# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Domain errors of the linuxns.net core. Modules turn them into fail_json in one place."""

from __future__ import annotations


class LinuxnsError(Exception):
    """Base class: every message names the object, the namespace and what is wrong."""


class InvalidInput(LinuxnsError):
    """The request itself is wrong (a bad name, CIDR, option combination)."""


class NamespaceMissing(LinuxnsError):
    """A named network namespace that the request needs does not exist."""


class Conflict(LinuxnsError):
    """The kernel holds an object that the request may not overwrite."""


class KernelError(LinuxnsError):
    """The kernel refused a change that passed validation."""


def where(namespace):
    """Human name of a namespace for messages."""
    return f"namespace '{namespace}'" if namespace else "the module's own namespace"
