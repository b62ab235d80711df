# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The programs the collection runs (nft, iptables-save and -restore, ssh-keygen): run in the caller's namespace,
a missing program or a failure raised as a domain error that names the program and where it ran."""

from __future__ import annotations

import subprocess

from ansible_collections.linuxns.net.plugins.module_utils._errors import KernelError, kernel_error


def run_program(argv, place, stdin=None, ok_codes=(0,), error=KernelError):
    """Run argv; place says where, for messages ("namespace 'c1'", "lab 'lnlab'"); error is the class raised."""
    try:
        proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise error(f"{argv[0]} is not installed (needed in {place})") from None
    except OSError as exc:
        raise kernel_error(f"run {argv[0]} in {place}", exc) from None
    if proc.returncode not in ok_codes:
        raise error(f"{' '.join(argv[:3])} in {place} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc
