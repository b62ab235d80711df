# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A network that survives a reboot (container_network persist): the converged network saved as the module's own
parameters (every address and MAC made explicit), a rebuild program (this core, zipped) and a systemd boot unit
linuxns-net@<network>.service that runs it. The rebuild is the module's own plan with the saved parameters, so the
first Ansible run after a reboot finds nothing to change."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import pkgutil
import re
import sys
import zipfile

from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput, LinuxnsError
from ansible_collections.linuxns.net.plugins.module_utils._hosts import remover, replacer

# the tests point both elsewhere (as LINUXNS_NET_ETC_NETNS for hosts files)
STATE_DIR = os.environ.get("LINUXNS_NET_STATE_DIR") or "/var/lib/linuxns-net"
UNIT_DIR = os.environ.get("LINUXNS_NET_UNIT_DIR") or "/etc/systemd/system"
TEMPLATE = "linuxns-net@.service"
TARGET = "linuxns-net.target"
PROGRAM = "rebuild.pyz"
FORMAT = 1  # of the saved state: a rebuild refuses a format it does not know
OWNED = "# Written by linuxns.net"  # the first words of every unit the collection writes
MARK = OWNED + " (container_network persist)"
PACKAGE = "ansible_collections.linuxns.net.plugins.module_utils"
# a unit's instance and a file's name: what systemd takes without escaping
_INSTANCE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,199}")
# the firewalls' own units, which load (and may flush) rule sets at boot: ours go in after them
FIREWALL_UNITS = "nftables.service netfilter-persistent.service iptables.service ip6tables.service " \
                 "firewalld.service ufw.service"


def state_path(network, state_dir=STATE_DIR):
    return os.path.join(state_dir, "networks", f"{network}.json")


def instance(network):
    return f"linuxns-net@{network}.service"


def check_persistable(network, unit_dir=UNIT_DIR):
    """Refuse, before any change, a network that a boot unit cannot name, and a host without systemd."""
    if not _INSTANCE.fullmatch(network):
        raise InvalidInput(f"network '{network}': persist needs a name of letters, digits and _.:- (it names the "
                           f"boot unit linuxns-net@<network>.service and the saved state's file)")
    if not os.path.isdir(unit_dir):
        raise InvalidInput(f"network '{network}': persist needs systemd, and this host has no {unit_dir} (no "
                           "systemd to run the boot unit); leave persist false here")


def render_template(python):
    return "\n".join([
        MARK + ": rebuilds a network saved by container_network persist=true, at boot.",
        "[Unit]",
        "Description=linuxns.net network %i (namespaces, veths, bridge, routes, rules)",
        f"After=local-fs.target systemd-sysctl.service {FIREWALL_UNITS}",
        "Before=network-online.target linuxns-net.target",
        f"ConditionPathExists={STATE_DIR}/networks/%i.json",
        "",
        "[Service]",
        "Type=oneshot",
        "RemainAfterExit=yes",
        f"ExecStart={python} {STATE_DIR}/{PROGRAM} %i",
        # routes via the underlay, an overlay's local address: a failed rebuild undoes itself and tries again
        "Restart=on-failure",
        "RestartSec=2s",
        "",
        "[Install]",
        "WantedBy=multi-user.target linuxns-net.target",
        ""])


def render_target():
    return "\n".join([
        MARK + ": reached when every saved network is rebuilt; services bound by netns_service start after it.",
        "[Unit]",
        "Description=linuxns.net networks rebuilt",
        "Before=network-online.target",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        ""])


def program_bytes(main_module="_persist", function="rebuild_main"):
    """A program of this core's modules in a zip that Python runs (the same bytes for the same sources), whose
    main is main_module.function(argv) -> exit code: by default the rebuild program."""
    package = sys.modules[PACKAGE]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        def add(name, data):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
        path = PACKAGE.replace(".", "/")
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            add("/".join(parts[:depth]) + "/__init__.py", b"")
        for module in sorted(m.name for m in pkgutil.iter_modules(package.__path__)):
            if not module.startswith("_") or module in ("_module", "_lab"):
                continue  # Ansible's adapter and the lab are not needed at boot
            spec = importlib.util.find_spec(f"{PACKAGE}.{module}")
            source = spec.loader.get_source(spec.name) if spec is not None and spec.loader is not None else None
            if source is None:
                raise InvalidInput(f"the rebuild program: the source of {spec.name if spec else module} cannot be read")
            # text from the file system's and zipimport's loaders; bytes from Ansible's collection loader
            add(f"{path}/{module}.py", source if isinstance(source, bytes) else source.encode())
        add("__main__.py", (f"import sys\nfrom {PACKAGE}.{main_module} import {function}\n"
                            f"sys.exit({function}(sys.argv[1:]))\n").encode())
    return buffer.getvalue()


def saved_parameters(params, layout, macs):
    """The module's parameters as a rebuild needs them: each container's addresses and MAC explicit (automatic
    ones as the kernel has them now), and nothing that only concerns the Ansible run."""
    families = layout.families
    containers = []
    for item in params.get("containers") or []:
        item = dict({"name": item} if isinstance(item, str) else item)
        if item.get("state", "present") == "absent":
            continue
        name = item["name"]
        if 4 in families and name in families[4].addresses:
            item["address"] = str(families[4].addresses[name])
        if 6 in families and name in families[6].addresses:
            item["address6"] = str(families[6].addresses[name])
        container_mac, host_mac = macs.get(name, (None, None))
        item["mac"] = item.get("mac") or container_mac
        item["host_mac"] = host_mac
        containers.append({k: v for k, v in item.items() if v is not None})
    saved = {k: v for k, v in params.items() if k not in ("persist", "stop_processes", "stop_timeout", "containers")}
    saved["containers"] = containers
    return saved


def render_state(network, params):
    return json.dumps({"format": FORMAT, "network": network, "parameters": params}, indent=1, sort_keys=True) + "\n"


def read(path, obj):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InvalidInput(f"{obj}: {path} cannot be read ({exc})") from None


def _linker(path, target):
    def link():
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        if os.path.islink(path):
            os.unlink(path)
        os.symlink(target, path)
    return link


def _enabled_links(network, unit_dir):
    """The links that `systemctl enable` makes for the network's unit (its [Install] section)."""
    name = instance(network)
    return [os.path.join(unit_dir, f"{wanted_by}.wants", name) for wanted_by in ("multi-user.target", TARGET)]


def plan_file(plan, path, data, obj, what):
    current = read(path, obj)
    if current is not None and path.endswith((".service", ".target", ".timer")) and not current.startswith(OWNED.encode()):
        raise InvalidInput(f"{obj}: {path} exists and was not written by linuxns.net; left as it is")
    if current != data:
        plan.add(f"write {path} ({what})", replacer(path, data), None if current is not None else remover(path))
    return current


def plan_link(plan, path, target, what):
    if os.path.islink(path) and os.readlink(path) == target:
        return
    if os.path.exists(path) and not os.path.islink(path):
        raise InvalidInput(f"{what}: {path} exists and is not a link; left as it is")
    plan.add(f"link {path} -> {target} ({what})", _linker(path, target),
             None if os.path.lexists(path) else remover(path))


def plan_persist(plan, network, saved, python, state_dir=STATE_DIR, unit_dir=UNIT_DIR, pending=None):
    """Save the network and enable its boot unit (saved: the parameters, or None to remove both). pending: a
    function that computes the parameters when the plan is applied (MACs of links this run creates); saved is then
    the prediction that check mode shows."""
    obj = f"network '{network}'"
    path = state_path(network, state_dir)
    mark = plan.mark
    current = read(path, obj)
    before = json.loads(current).get("parameters") if current else None
    if saved is None:
        links = [p for p in _enabled_links(network, unit_dir) if os.path.lexists(p)]
        for link in links:
            plan.add(f"remove {link} ({obj} is not rebuilt at boot)", remover(link))
        if current is not None:
            plan.add(f"remove {path} ({obj}'s saved state)", remover(path))
        others = [n for n in _saved_networks(state_dir) if n != network]
        if (links or current is not None) and not others:
            _plan_shared_removal(plan, state_dir, unit_dir)
        plan.record("persist", before, None, mark)
        return
    check_persistable(network, unit_dir)
    plan_file(plan, os.path.join(state_dir, PROGRAM), program_bytes(), obj, "the rebuild program of saved networks")
    plan_file(plan, os.path.join(unit_dir, TEMPLATE), render_template(python).encode(), obj, "the boot unit")
    plan_file(plan, os.path.join(unit_dir, TARGET), render_target().encode(), obj, "the networks' boot target")
    plan_link(plan, os.path.join(unit_dir, "multi-user.target.wants", TARGET), f"../{TARGET}",
              "the networks' boot target, enabled")
    for link in _enabled_links(network, unit_dir):
        plan_link(plan, link, f"../{TEMPLATE}", f"{obj}'s boot unit {instance(network)}, enabled")
    text = render_state(network, saved)
    if pending is not None:
        def write():
            replacer(path, render_state(network, pending()).encode())()
        plan.add(f"write {path} ({obj}'s saved state)", write, None if current is not None else remover(path))
    elif current != text.encode():
        plan.add(f"write {path} ({obj}'s saved state)", replacer(path, text.encode()),
                 None if current is not None else remover(path))
    plan.record("persist", before, saved, mark)


def _saved_networks(state_dir):
    try:
        return sorted(n[:-len(".json")] for n in os.listdir(os.path.join(state_dir, "networks")) if n.endswith(".json"))
    except FileNotFoundError:
        return []


def _plan_shared_removal(plan, state_dir, unit_dir):
    """The last saved network goes: the program, the template, the target and its link go with it."""
    for path in (os.path.join(unit_dir, "multi-user.target.wants", TARGET), os.path.join(unit_dir, TARGET),
                 os.path.join(unit_dir, TEMPLATE), os.path.join(state_dir, PROGRAM)):
        if os.path.lexists(path):
            plan.add(f"remove {path} (no saved network is left)", remover(path))


def load(network, state_dir=STATE_DIR):
    path = state_path(network, state_dir)
    data = read(path, f"network '{network}'")
    if data is None:
        raise InvalidInput(f"network '{network}': no saved state at {path}")
    try:
        saved = json.loads(data)
    except ValueError as exc:
        raise InvalidInput(f"network '{network}': {path} is not JSON ({exc})") from None
    if not isinstance(saved, dict) or saved.get("format") != FORMAT or saved.get("network") != network:
        raise InvalidInput(f"network '{network}': {path} is not a saved network of format {FORMAT}")
    return saved["parameters"]


def rebuild(session, network, state_dir=STATE_DIR):
    """Build the saved network as container_network would (and leave its persistence as it is)."""
    from ansible_collections.linuxns.net.plugins.module_utils._network import run_container_network
    params = dict(load(network, state_dir), persist=None)
    return run_container_network(session, params, False)


def rebuild_main(argv):
    """The boot unit's program: rebuild_main([network]) -> exit code; what it changed on stdout, errors on stderr."""
    from ansible_collections.linuxns.net.plugins.module_utils._session import Session
    if len(argv) != 1:
        sys.stderr.write("usage: rebuild.pyz NETWORK (rebuilds a network saved by linuxns.net container_network "
                         "persist=true)\n")
        return 2
    try:
        with Session() as session:
            result = rebuild(session, argv[0])
    except (LinuxnsError, OSError) as exc:
        sys.stderr.write(f"linuxns.net: network '{argv[0]}' not rebuilt: {exc}\n")
        return 1
    for change in result["changes"]:  # the journal's record of what the boot did
        sys.stdout.write(change + "\n")
    sys.stdout.write(f"linuxns.net: network '{argv[0]}' rebuilt ({len(result['changes'])} changes)\n")
    return 0
