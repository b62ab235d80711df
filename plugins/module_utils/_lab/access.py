# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How Ansible reaches the lab: the keys the lab generates, each host's sshd on its underlay address, and the
inventory."""

from __future__ import annotations

import json
import os

from ansible_collections.linuxns.net.plugins.module_utils._lab.spec import ECHO_PORT, UPSTREAM, LabError
from ansible_collections.linuxns.net.plugins.module_utils._programs import run_program

CLIENT_KEY, HOST_KEY = "id_ed25519", "ssh_host_ed25519_key"


def make_keys(directory, lab):
    """The client key (Ansible's) and the hosts' key, once per lab."""
    for key, comment in ((CLIENT_KEY, "lab client"), (HOST_KEY, "lab hosts")):
        if not (directory / key).exists():
            run_program(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(directory / key)],
                        f"lab '{lab}' (it needs openssh-client)", error=LabError)
    (directory / CLIENT_KEY).chmod(0o600)


def sshd_argv(directory, host, address):
    """Write host's sshd configuration; the command that runs sshd with it (in the foreground)."""
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory
    config = directory / f"{host}.sshd_config"
    config.write_text("\n".join([
        f"ListenAddress {address}",
        f"HostKey {directory / HOST_KEY}",
        f"AuthorizedKeysFile {directory / (CLIENT_KEY + '.pub')}",
        "PermitRootLogin prohibit-password", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
        "UsePAM no", "StrictModes no", "PidFile none", "UseDNS no", "MaxStartups 200", "MaxSessions 200",
        "Subsystem sftp internal-sftp", "AcceptEnv LANG LC_*", "",
    ]))
    return ["/usr/sbin/sshd", "-D", "-e", "-f", str(config)]


def inventory_text(plan, addresses, key_path, python):
    """The lab's inventory (JSON, which is YAML): its hosts, the upstream, and how to reach them."""
    common = {
        "ansible_user": "root",
        "ansible_ssh_private_key_file": str(key_path),
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
        # the hosts share this machine's filesystem: modules run there with the Python that runs the lab
        "ansible_python_interpreter": python,
        # one SSH session per module call instead of several (the hosts' root has no requiretty)
        "ansible_pipelining": True,
        "lab_name": plan.name,
        "lab_upstream_address": str(plan.upstream_address),
        "lab_upstream_address6": plan.upstream_address6,
        "lab_echo_port": ECHO_PORT,
    }
    hosts = {h: {"ansible_host": a, "lab_underlay_address": a, "lab_underlay_address6": plan.address6(a),
                 "lab_segment": plan.segment_of(a)} for h, a in addresses.items() if h != UPSTREAM}
    children = {"lab_hosts": {"hosts": hosts}}
    if UPSTREAM in addresses:
        children["lab_upstream"] = {"hosts": {UPSTREAM: {"ansible_host": addresses[UPSTREAM],
                                                         "lab_underlay_address": addresses[UPSTREAM],
                                                         "lab_underlay_address6": plan.upstream_address6}}}
    return json.dumps({"all": {"vars": common, "children": children}}, indent=2) + "\n"
