# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The programs the collection runs (nft, iptables-save and -restore, ssh-keygen, the lab's unshare, nsenter and sshd):
run in the caller's namespace, a missing program or a failure raised as a domain error that names the program and
where it ran.

This is the one place that starts programs. The module_utils take plain parameters and run without an AnsibleModule
(unit tests, the lab's supervisor), so they cannot use run_command; ansible-core 2.21's sanity check that asks for it
is ignored for this file alone (tests/sanity/ignore-2.21.txt)."""

from __future__ import annotations

import subprocess

from ansible_collections.linuxns.net.plugins.module_utils._errors import KernelError, kernel_error


def run_program(argv, place, stdin=None, ok_codes=(0,), error=KernelError):
    """Run argv; place says where, for messages ("namespace 'c1'", "lab 'lnlab'"); error is the class raised.
    ok_codes=None takes any exit code (the caller reads it)."""
    try:
        proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise error(f"{argv[0]} is not installed (needed in {place})") from None
    except OSError as exc:
        raise kernel_error(f"run {argv[0]} in {place}", exc) from None
    if ok_codes is not None and proc.returncode not in ok_codes:
        raise error(f"{' '.join(argv[:3])} in {place} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def start_program(argv, stdin=None, stdout=None, stderr=None, text=False):
    """Start argv in a session of its own (a daemon the caller supervises by PID and stops); returns the Popen."""
    return subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=stderr, text=text, start_new_session=True)
