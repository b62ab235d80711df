# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The netns_service feature: a systemd drop-in that runs a service in a container's network namespace, with the
container's hosts and resolv.conf files bound over /etc's, as ip netns exec does (NetworkNamespacePath= alone does
not bind them: systemd#28694). The drop-in is the only file written; a unit is never edited."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from ansible_collections.linuxns.net.plugins.module_utils import _validate as validate
from ansible_collections.linuxns.net.plugins.module_utils._errors import Conflict, InvalidInput, where
from ansible_collections.linuxns.net.plugins.module_utils._hosts import ETC_NETNS, remover, replacer
from ansible_collections.linuxns.net.plugins.module_utils._nsfiles import is_namespace_file, namespace_path
from ansible_collections.linuxns.net.plugins.module_utils._plan import Plan
from ansible_collections.linuxns.net.plugins.module_utils._programs import run_program

UNIT_DIR = "/etc/systemd/system"
# where systemd looks for units, besides the unit_dir given (the drop-in goes there)
SYSTEM_UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system",
                    "/usr/lib/systemd/system", "/lib/systemd/system")
DROP_IN = "50-linuxns-net.conf"
MARK = "# Written by linuxns.net (netns_service)"
_UNIT = re.compile(r"^[A-Za-z0-9:_.\\-]+(@[A-Za-z0-9:_.\\-]*)?\.service$")


@dataclass
class ServiceSpec:
    unit: str
    container: str = None
    state: str = "present"
    unit_dir: str = UNIT_DIR

    @property
    def drop_in(self):
        return os.path.join(self.unit_dir, f"{self.unit}.d", DROP_IN)

    @property
    def obj(self):
        return f"service '{self.unit}'"


def unit_name(value):
    """A service unit's name: web, web.service, web@1.service, web@.service (a template's drop-in holds for each
    instance)."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"netns_service: 'unit' {value!r} must be a service's name (web or web.service)")
    name = value if "." in value.rsplit("@", 1)[-1] else value + ".service"
    if not _UNIT.match(name) or len(name) > 255:
        raise InvalidInput(f"service '{value}': not a service unit's name (letters, digits and :_.\\- with an "
                           "optional @instance, ending in .service; no '/')")
    return name


def normalize_service(item):
    unit = unit_name(item.get("unit"))
    state = item.get("state") or "present"
    container = item.get("container")
    if state == "present":
        if container is None:
            raise InvalidInput(f"service '{unit}': 'container' (the namespace it runs in) is required")
        container = validate.namespace_name(container)
    unit_dir = item.get("unit_dir") or UNIT_DIR
    if not os.path.isabs(unit_dir) or os.path.normpath(unit_dir) != unit_dir.rstrip("/") or ".." in unit_dir.split("/"):
        raise InvalidInput(f"service '{unit}': unit_dir {unit_dir!r} must be an absolute path without '..'")
    return ServiceSpec(unit, container, state, unit_dir.rstrip("/") or "/")


def render(spec):
    """The drop-in: the namespace, and the container's files over /etc's where they exist when the unit starts."""
    etc = os.path.join(ETC_NETNS, spec.container)
    return "\n".join([
        MARK + f": service '{spec.unit}' runs in the network namespace of container '{spec.container}'.",
        "# Removed by netns_service state=absent; edit the unit itself, not this file.",
        "[Unit]",
        "After=linuxns-net.target",  # the boot units of saved networks (container_network persist) come first
        f"AssertPathExists={namespace_path(spec.container)}",
        "",
        "[Service]",
        f"NetworkNamespacePath={namespace_path(spec.container)}",
        f"BindReadOnlyPaths=-{etc}/hosts:/etc/hosts",
        f"BindReadOnlyPaths=-{etc}/resolv.conf:/etc/resolv.conf",
        ""])


def unit_file(spec):
    """The unit's own file (a template's for an instance), in unit_dir or where systemd looks, or None."""
    name = spec.unit
    template = re.sub(r"@[^.]*\.service$", "@.service", name)
    for directory in dict.fromkeys((spec.unit_dir,) + SYSTEM_UNIT_DIRS):
        for candidate in dict.fromkeys((name, template)):
            path = os.path.join(directory, candidate)
            if os.path.exists(path):
                return path
    return None


def _read(path, spec):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{spec.obj}: {path} cannot be read ({exc})") from None


def plan_service(plan, spec):
    """Write or remove the drop-in; refuse a file of the same name that is not ours, and a unit that does not exist."""
    current = _read(spec.drop_in, spec)
    if current is not None and not current.startswith(MARK):
        raise Conflict(f"{spec.obj}: {spec.drop_in} exists and was not written by linuxns.net; left as it is")
    mark = plan.mark
    if spec.state == "absent":
        if current is not None:
            plan.add(f"remove {spec.drop_in} ({spec.obj} leaves its container's namespace)", remover(spec.drop_in))
        plan.record(spec.unit, current, None, mark)
        return
    if unit_file(spec) is None:
        raise InvalidInput(f"{spec.obj}: no such unit in {spec.unit_dir} nor where systemd looks "
                           f"({', '.join(SYSTEM_UNIT_DIRS[1:])}); install the unit first")
    if not is_namespace_file(namespace_path(spec.container)):
        plan.warnings.append(f"{spec.obj}: {where(spec.container)} does not exist now; the service will not start "
                             "until it does")
    wanted = render(spec)
    if current != wanted:
        plan.add(f"write {spec.drop_in} ({spec.obj} in the network namespace of container '{spec.container}')",
                 replacer(spec.drop_in, wanted.encode()), None if current is not None else remover(spec.drop_in))
    plan.record(spec.unit, current, wanted, mark)


def plan_reload(plan):
    """systemd reads the changed units, where it runs (not in an image being built, nor on a lab host)."""
    if os.path.isdir("/run/systemd/system"):
        plan.add("reload systemd's units (systemctl daemon-reload)",
                 lambda: run_program(["systemctl", "daemon-reload"], "systemd"))


def run_services(session, items, check_mode):
    specs = [normalize_service(item) for item in items]
    validate.unique(specs, lambda s: f"'{s.unit}' in {s.unit_dir}", "service")
    plan = Plan()
    for spec in specs:
        plan_service(plan, spec)
    if plan.changed and any(s.unit_dir == UNIT_DIR for s in specs):
        plan_reload(plan)
    result = plan.execute(check_mode)
    result["drop_ins"] = {s.unit: s.drop_in for s in specs if s.state == "present"}
    return result
