# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Names: each container's /etc/netns/<namespace>/hosts, which `ip netns exec` bind-mounts over /etc/hosts (the
iproute2 way; nsenter users mount it themselves). A file holds one block per network the container is on, so two
networks share it; a file the collection did not write (no header) is never touched.

The file is rewritten in place, not replaced by a rename: a process started by `ip netns exec` has the file's
inode bind-mounted, and sees the new names only if that inode is the one written."""

from __future__ import annotations

import os

from ansible_collections.linuxns.net.plugins.module_utils._errors import InvalidInput, kernel_error

# iproute2's directory; the variable moves it (the kernel tests point it at a temporary directory, so that they
# never write to the machine's own /etc)
ETC_NETNS = os.environ.get("LINUXNS_NET_ETC_NETNS") or "/etc/netns"
HEADER = "# Written by linuxns.net: one block per network, kept exact on every run."
BASE = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]


def _begin(network):
    return f"# BEGIN linuxns.net network {network}"


def _end(network):
    return f"# END linuxns.net network {network}"


def read_blocks(text):
    """A file of ours: network -> its lines; None for a file the collection did not write."""
    lines = text.splitlines()
    if not lines or lines[0] != HEADER:
        return None
    blocks, block, end = {}, None, None
    begin = _begin("")
    for line in lines[1:]:  # a file holds every name of the network: keep this loop cheap
        if block is None:
            if line.startswith(begin):
                network = line[len(begin):]
                block, end = blocks.setdefault(network, []), _end(network)
        elif line == end:
            block = None
        else:
            block.append(line)
    return blocks


def render(blocks):
    out = [HEADER] + BASE
    for network in sorted(blocks):
        out += [_begin(network)] + blocks[network] + [_end(network)]
    return "\n".join(out) + "\n"


def read_text(path, what):
    """A file the collection may have written, or None when there is none; what: what it holds, for the error."""
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise kernel_error(f"read {path} ({what})", exc) from None


def entries(addresses, aliases=None, fleet_host=None):
    """The lines of one network's block: every container of the network by name, and by its aliases on it; in a
    fleet also as NAME.HOST."""
    aliases = aliases or {}
    lines = []
    for name, address in sorted(addresses.items(), key=lambda kv: kv[0]):
        names = (name,) + tuple(aliases.get(name, ()))
        if fleet_host:
            names += tuple(f"{n}.{fleet_host}" for n in names)
        lines.append(f"{address}\t{' '.join(names)}")
    return lines


REMOTE_MARK = "  # host "  # ends a remote container's line: which host it is on (a play over part of a fleet keeps the rest)


def remote_entries(remote, local_names):
    """The lines for a fleet's containers on other hosts: each name (and alias) N of a container on host H as N.H,
    and as N alone when no other container of the fleet has N and this host has no container or alias N. Each line
    ends with a comment that names the host."""
    owners = {}
    for r in remote:
        for n in (r.name,) + r.aliases:
            owners[n] = owners.get(n, 0) + 1
    lines = []
    for r in sorted(remote, key=lambda r: (r.host, r.name)):
        names = (r.name,) + r.aliases
        text = " ".join([f"{n}.{r.host}" for n in names] + [n for n in names if owners[n] == 1 and n not in local_names])
        lines += [f"{address}\t{text}{REMOTE_MARK}{r.host}" for address in sorted(r.addresses, key=lambda a: (a.version, int(a)))]
    return lines


def remote_lines_of(lines, hosts):
    """From a block's lines, the remote containers of the hosts not in hosts: (name, host, addresses, aliases)
    tuples, as remote_entries wrote them (a play over part of a fleet keeps what it does not know)."""
    found = {}
    for line in lines or []:
        text, mark, host = line.partition(REMOTE_MARK)
        if not mark or host in hosts:
            continue
        address, _tab, names = text.partition("\t")
        qualified = [n[:-len(host) - 1] for n in names.split() if n.endswith(f".{host}")]
        if not qualified:
            continue
        entry = found.setdefault((qualified[0], host), ([], qualified[1:]))
        entry[0].append(address)
    return [(name, host, addresses, aliases) for (name, host), (addresses, aliases) in found.items()]


def current_block(network, containers, etc_dir=ETC_NETNS):
    """The network's block as the first of the containers' hosts files that has one holds it (None: none has)."""
    for name in containers:
        text = read_text(os.path.join(etc_dir, name, "hosts"), f"names of network '{network}'")
        blocks = read_blocks(text) if text is not None else None
        if blocks and network in blocks:
            return blocks[network]
    return None


def plan_hosts(plan, network, wanted, leaving, etc_dir=ETC_NETNS):
    """wanted: container -> its block's lines; leaving: containers whose block goes. Files of others are left alone
    (with a warning)."""
    if any(c.isspace() or not c.isprintable() for c in network):
        raise InvalidInput(f"network {network!r}: a name with whitespace or control characters cannot mark a hosts file block")
    for name in sorted(set(wanted) | set(leaving)):
        path = os.path.join(etc_dir, name, "hosts")
        text = read_text(path, f"names of network '{network}'")
        blocks = {} if text is None else read_blocks(text)
        if blocks is None:
            plan.warnings.append(f"{path} was not written by linuxns.net: left as it is, without the names of "
                                 f"network '{network}'")
            continue
        before = blocks.get(network)
        after = wanted.get(name)
        if before == after:
            if text is None and after is None and name in leaving:
                _plan_empty_directory(plan, os.path.dirname(path))
            continue
        new_blocks = dict(blocks)
        if after is None:
            new_blocks.pop(network, None)
        else:
            new_blocks[network] = after
        mark = plan.mark
        if new_blocks:
            plan.add(f"write the names of network '{network}' to {path}", rewriter(path, render(new_blocks)))
        else:
            plan.add(f"remove {path} (its last network, '{network}', is gone)", remover(path))
        plan.record(f"{path}#{network}", before, after, mark)


def _plan_empty_directory(plan, directory):
    """A run killed between removing a hosts file and its directory leaves the directory empty: remove it. One
    that holds anything is not ours to remove."""
    try:
        empty = not os.listdir(directory)
    except OSError:
        return
    if empty:
        mark = plan.mark
        plan.add(f"remove the empty directory {directory} (a killed run's leftover)", remover(os.path.join(directory, "hosts")))
        plan.record(directory, {"directory": "empty"}, None, mark)


def rewriter(path, text):
    """A plan step that rewrites a file in place (processes have its inode bind-mounted: they see the new text)."""
    def write():
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        with open(path, "a+") as f:  # in place: keep the inode that running processes have bind-mounted
            f.seek(0)
            f.truncate()
            f.write(text)
    return write


def replacer(path, data, mode=0o644):
    """A plan step that writes a file the collection owns (bytes) whole or not at all: a unit, a drop-in, a saved
    network (hosts files are written in place instead: running processes have them bind-mounted)."""
    def write():
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        temporary = f"{path}.linuxns-net.tmp"
        with open(temporary, "wb") as f:
            f.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    return write


def remover(path):
    """A plan step that removes a file the collection wrote, and its directory once empty (other files in it are
    not ours: they stay)."""
    def remove():
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        try:
            os.rmdir(os.path.dirname(path))
        except OSError:
            pass  # the directory holds other files (resolv.conf, a unit's other drop-ins): not ours
    return remove


# The host's own hosts file, where a network's containers resolve for the host (host_names); the variable moves it
# (the tests point it at a file of their own)
HOST_HOSTS = os.environ.get("LINUXNS_NET_HOSTS_FILE") or "/etc/hosts"


def plan_host_names(plan, network, lines, path=HOST_HOSTS):
    """The network's block in the host's hosts file (lines: its entries, or None to remove it), between markers;
    every other line stays as it is. Rewritten in place (the file may be bind-mounted)."""
    text = read_text(path, f"the host's names of network '{network}'")
    current = (text or "").splitlines()
    begin, end = _begin(network), _end(network)
    if current.count(begin) > 1 or (begin in current) != (end in current) or \
            (begin in current and current.index(end) < current.index(begin)):
        raise InvalidInput(f"network '{network}': {path} has a broken block of the network (its BEGIN and END "
                           "lines); mend or remove it by hand")
    if begin in current:
        start, stop = current.index(begin), current.index(end)
        before, outside = current[start + 1:stop], current[:start] + current[stop + 1:]
        at = start
    else:
        before, outside, at = None, current, len(current)
    if before == lines:
        return
    new = outside[:at] + ([begin] + lines + [end] if lines is not None else []) + outside[at:]
    mark = plan.mark
    plan.add(f"{'write' if lines is not None else 'remove'} the names of network '{network}' "
             f"{'to' if lines is not None else 'from'} {path}", rewriter(path, "\n".join(new) + "\n" if new else ""))
    plan.record(f"{path}#{network}", before, lines, mark)
