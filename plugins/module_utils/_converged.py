# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A network's last converge, kept on its host so that the next run can skip a converge that has nothing to do.

container_network records the options it converged to and their token (the container_network action computes the
token from the task's arguments on the controller). netns_info's fleet_member plans that network again from those
options, unapplied, against the kernel now: when nothing would change, it returns the token. The fleet role hands
it back to container_network, whose action answers changed=false on the controller when the task's arguments have
the same token, without a module run on the host. The kernel is always compared, by the converge's own planners:
the record says only what to compare it with."""

from __future__ import annotations

import hashlib
import json
import os
import re

from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput, LinuxnsError

# runtime state, as the namespaces are: a reboot takes both (the tests point it elsewhere, each lab host has its own)
RUN_DIR = os.environ.get("LINUXNS_NET_RUN_DIR") or "/run/linuxns-net"
FORMAT = 1  # of the record: a record of another format is not read (the converge runs)
# a network's name as a file's: others are not recorded (their converges always run)
_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,199}")


def check_token(network, token):
    """A converged option is a token's text (or empty, or unset): refuse anything else before a change."""
    if token is not None and not isinstance(token, str):
        raise InvalidInput(f"network '{network}': converged must be the text that netns_info returned as converged "
                           f"(or empty), not {token!r:.100}")


def options_token(options):
    """The token of a converge's options (a dict of JSON values): the same on the controller and on the host."""
    text = json.dumps(options, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_path(network, run_dir=None):
    """The record's file, or None for a network whose name is not a safe file name."""
    if not isinstance(network, str) or not _FILE_NAME.fullmatch(network):
        return None
    return os.path.join(run_dir or RUN_DIR, "converged", f"{network}.json")


def record_converge(network, token, options, run_dir=None):
    """After a converge that succeeded: its token and options (present), or no record (absent), in RUN_DIR/converged.
    Written only when it differs, through a temporary file, so that a reader never sees half of it."""
    path = record_path(network, run_dir)
    if path is None:
        return
    if options.get("state") == "absent":
        if os.path.exists(path):
            os.unlink(path)
            try:
                os.rmdir(os.path.dirname(path))  # the last record gone: nothing of ours is left in the directory
            except OSError:
                pass
        return
    text = json.dumps({"format": FORMAT, "token": token, "options": options}, sort_keys=True, default=str) + "\n"
    try:
        with open(path, encoding="utf-8") as old:
            if old.read() == text:
                return
    except OSError:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as new:
        new.write(text)
    os.replace(temporary, path)


def read_record(network, run_dir=None):
    """The last converge's record ({token, options}), or None (none, unreadable, or of another format)."""
    path = record_path(network, run_dir)
    try:
        with open(path, encoding="utf-8") as source:
            record = json.load(source)
    except (TypeError, OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != FORMAT or not isinstance(record.get("options"), dict):
        return None
    return record


def converged_token(session, network, run_dir=None):
    """The token of the network's last converge when the kernel is still as those options make it (a converge of
    them would change nothing), else ''. A record this code cannot plan from counts as not converged."""
    record = read_record(network, run_dir)
    if record is None:
        return ""
    # the converge's planners, imported only where there is a record to check (a first build's read compiles less)
    from ansible_collections.linuxns.net.plugins.module_utils._network import run_container_network

    try:
        planned = run_container_network(session, record["options"], True)
    except (LinuxnsError, KeyError, TypeError, ValueError):
        return ""
    return "" if planned.get("changed") else str(record.get("token") or "")
