# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Domain errors of the linuxns.net core. Modules turn them into fail_json in one place (_module.run)."""

from __future__ import annotations

import os


class LinuxnsError(Exception):
    """Base class: every message names the object, the namespace and what is wrong."""


class InvalidInput(LinuxnsError):
    """The request itself is wrong (a bad name, CIDR, option combination)."""


class NamespaceMissing(LinuxnsError):
    """A named network namespace that the request needs does not exist."""


class Conflict(LinuxnsError):
    """The kernel holds an object that the request may not overwrite."""


class LibraryMissing(LinuxnsError):
    """A Python library the run needs cannot be imported; library says which, cause is the ImportError."""

    def __init__(self, library, cause):
        super().__init__(f"{library} cannot be imported: {cause}")
        self.library = library
        self.cause = cause


class KernelError(LinuxnsError):
    """The kernel refused a change or a read that passed validation; errno is the kernel's, when it gave one."""

    def __init__(self, message, errno=None):
        super().__init__(message)
        self.errno = errno


def kernel_error(what, exc):
    """A KernelError for an OSError or a netlink error (pyroute2's NetlinkError has .code): what names the object
    and the namespace; the kernel's errno and its message are kept."""
    code = getattr(exc, "code", None) or getattr(exc, "errno", None)
    reason = os.strerror(code) if isinstance(code, int) and code > 0 else str(exc)
    return KernelError(f"{what}: the kernel refused it ({reason}, errno {code})", code)


def where(namespace):
    """Human name of a namespace for messages."""
    return f"namespace '{namespace}'" if namespace else "the module's own namespace"
