# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A lab host's boot: its enabled units run as systemd runs them at boot, for the parts the collection writes
(container_network persist's boot units, netns_service's drop-ins) and simple services. Lab hosts run no systemd;
this reads the host's own /etc/systemd/system (kept across a reboot) and starts, in systemd's order for these
units, what multi-user.target wants: the linuxns-net@ units (oneshot, waited for) before the services that
order after linuxns-net.target. Supported: ExecStart (one command), Type oneshot or simple (the default),
NetworkNamespacePath, BindReadOnlyPaths (with '-'), AssertPathExists, %i; anything else is refused by name, so
that a test never passes on a unit the lab ran differently from systemd."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from typing import List

from ansible_collections.linuxns.net.plugins.module_utils._lab.spec import LabError

WANTS = ("multi-user.target",)
SYSTEMD_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SUPPORTED = {
    "Unit": {"Description", "After", "Before", "Wants", "Requires", "ConditionPathExists", "AssertPathExists",
             "Documentation"},
    "Service": {"Type", "ExecStart", "RemainAfterExit", "NetworkNamespacePath", "BindReadOnlyPaths", "Restart",
                "RestartSec"},
    "Install": {"WantedBy", "RequiredBy"},
}


@dataclass
class Unit:
    name: str
    settings: dict = field(default_factory=dict)  # (section, key) -> [values], drop-ins applied

    def get(self, section, key, default=None):
        values = self.settings.get((section, key))
        return values[-1] if values else default

    def all(self, section, key):
        return [v for v in self.settings.get((section, key), []) if v]

    @property
    def after_networks(self):
        return any("linuxns-net.target" in v.split() for v in self.all("Unit", "After"))


def _parse(path, unit, instance):
    section = None
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
                continue
            key, sep, value = line.partition("=")
            key, value = key.strip(), value.strip().replace("%i", instance or "")
            if not sep or section not in SUPPORTED or key not in SUPPORTED[section]:
                raise LabError(f"unit {unit.name}: {path}:{number}: '{line}' is not something the lab's boot runs "
                               "as systemd would (lab hosts run no systemd)")
            unit.settings.setdefault((section, key), []).append(value)


def load_unit(unit_dir, name):
    """The unit as systemd sees it: its file (a template's for an instance), then its drop-ins in order."""
    prefix, at, rest = name.partition("@")
    instance = rest.rsplit(".", 1)[0] if at else None
    template = f"{prefix}@.{name.rsplit('.', 1)[1]}" if at else None
    unit = Unit(name)
    main = next((p for p in (os.path.join(unit_dir, name), template and os.path.join(unit_dir, template))
                 if p and os.path.isfile(p)), None)
    if main is None:
        raise LabError(f"unit {name} is enabled but has no file in {unit_dir}")
    _parse(main, unit, instance)
    drop_ins = {}
    for directory in [d for d in (template and f"{template}.d", f"{name}.d") if d]:
        path = os.path.join(unit_dir, directory)
        if os.path.isdir(path):
            drop_ins.update({n: os.path.join(path, n) for n in os.listdir(path) if n.endswith(".conf")})
    for n in sorted(drop_ins):
        _parse(drop_ins[n], unit, instance)
    return unit


def enabled_units(unit_dir):
    """What the boot starts: the units that multi-user.target wants, and what the targets among them want."""
    found, todo = [], list(WANTS)
    while todo:
        wants = os.path.join(unit_dir, f"{todo.pop(0)}.wants")
        for name in sorted(os.listdir(wants)) if os.path.isdir(wants) else []:
            if name in found:
                continue
            found.append(name)
            if name.endswith(".target"):
                todo.append(name)
    return [n for n in found if n.endswith(".service")]


def boot_order(units):
    """The networks' boot units first (they come before linuxns-net.target), then the rest, each group by name."""
    return sorted(units, key=lambda u: (not u.name.startswith("linuxns-net@"), u.after_networks, u.name))


@dataclass
class Step:
    unit: str
    argv: List[str]
    wait: bool  # oneshot: the boot waits for it


def plan_boot(unit_dir, exists=os.path.exists):
    """The commands the boot runs, in order: each wrapped so that it runs in the unit's namespace with its binds."""
    steps = []
    for unit in boot_order([load_unit(unit_dir, n) for n in enabled_units(unit_dir)]):
        condition = unit.get("Unit", "ConditionPathExists")
        if condition and not exists(condition):
            continue
        argv = shlex.split(unit.get("Service", "ExecStart") or "")
        if not argv:
            raise LabError(f"unit {unit.name} has no ExecStart")
        script = ["set -e"]
        for path in unit.all("Unit", "AssertPathExists"):
            script.append(f"[ -e {shlex.quote(path)} ] || {{ echo {shlex.quote(f'assertion failed: {path}')} >&2; exit 1; }}")
        for bind in unit.all("Service", "BindReadOnlyPaths"):  # in the unit's own mount namespace (below)
            optional = bind.startswith("-")  # systemd's '-': a source that does not exist is skipped
            source, _sep, target = bind.lstrip("-").partition(":")
            mount = f"mount --bind -o ro {shlex.quote(source)} {shlex.quote(target or source)}"
            script.append(f"if [ -e {shlex.quote(source)} ]; then {mount}; fi" if optional else mount)
        namespace = unit.get("Service", "NetworkNamespacePath")
        command = (["nsenter", f"--net={namespace}"] if namespace else []) + argv
        script.append("exec " + " ".join(shlex.quote(a) for a in command))
        # systemd's environment for a unit: its own PATH, nothing inherited from whoever started the boot; a mount
        # namespace of its own only for a unit with binds, as systemd does (the networks' units mount namespaces
        # that must outlive them)
        binds = unit.all("Service", "BindReadOnlyPaths")
        private = ["unshare", "--mount", "--propagation", "slave", "--"] if binds else []
        wrapped = ["env", "-i", SYSTEMD_PATH] + private + ["/bin/sh", "-c", "\n".join(script)]
        steps.append(Step(unit.name, wrapped, unit.get("Service", "Type", "simple") == "oneshot"))
    return steps
