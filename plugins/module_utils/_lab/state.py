# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a lab started, recorded in its state directory (state.json): its hosts and every process, by PID and start
time, so that stopping it stops exactly those. Typed here; the file is JSON so that scripts and tests can read it."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Dict, List

from ansible_collections.linuxns.net.plugins.module_utils._lab.processes import start_time


@dataclass
class HostRecord:
    pid: int  # the holder process: it keeps the host's namespaces
    address: str  # its IPv4 underlay address
    port: str  # its switch port
    segment: int = 1


@dataclass
class ProcessRecord:
    host: str
    role: str  # holder, sshd, echo
    pid: int
    start: int  # its start time: with the PID, it names the process uniquely

    def alive(self):
        return start_time(self.pid) == self.start


@dataclass
class LabState:
    name: str
    switch: str
    root_link: str
    underlay: str
    underlay6: str = None  # None: a lab of an older release
    segments: int = 1
    upstream: bool = True
    hosts: Dict[str, HostRecord] = field(default_factory=dict)
    processes: List[ProcessRecord] = field(default_factory=list)

    @classmethod
    def load(cls, path):
        """The state in path, or None when the lab is not up."""
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        data["hosts"] = {h: HostRecord(**record) for h, record in data.get("hosts", {}).items()}
        data["processes"] = [ProcessRecord(**p) for p in data.get("processes", [])]
        data.setdefault("segments", 1)  # a lab of an older release
        return cls(**data)

    def save(self, path):
        path.write_text(json.dumps(dataclasses.asdict(self), indent=2))

    def processes_of(self, host, role=None):
        return [p for p in self.processes if p.host == host and (role is None or p.role == role)]

    def alive(self, host, role=None):
        """Whether the host's processes (or the one of that role) are still the ones the lab started."""
        procs = self.processes_of(host, role)
        return bool(procs) and all(p.alive() for p in procs)

    def record(self, host, role, pid):
        self.processes = [p for p in self.processes if not (p.host == host and p.role == role)]
        self.processes.append(ProcessRecord(host, role, pid, start_time(pid)))
