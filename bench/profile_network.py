"""Where a container_network run spends its time, in-process (no Ansible): a first run, a re-run, --check and a
teardown of N containers, inside a 'host' namespace this script creates (and removes).

Run as root: python bench/profile_network.py N [--top 25] [--phase first|rerun|check|absent]. Prints per phase the wall
time and the peak memory of the process (ru_maxrss); for the phases that change something, the time of each kind of
change (the plan's actions); for the phases named with --phase, cProfile's functions with the most cumulative and
own time (profiling slows the phase it profiles about 2 times).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import resource
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
import support  # noqa: E402  (sets up the ansible_collections path)

sys.path.insert(0, str(support.collections_root()))
from ansible_collections.linuxns.net.plugins.module_utils import _nsfiles, _plan, _session  # noqa: E402
from ansible_collections.linuxns.net.plugins.module_utils._network import run_container_network  # noqa: E402


def spec(prefix, n, state="present"):
    return {"name": "bench", "bridge": "br-bench", "subnet": "10.100.0.0/16", "state": state,
            "containers": [{"name": f"{prefix}c{i}"} for i in range(n)]}


ACTIONS = {}  # kind of change -> [seconds, count], of the phase running


def _timed(action):
    """The action, its time added to ACTIONS under its kind (its description without names and numbers)."""
    kind = re.sub(r"'[^']*'|\S*\d\S*", "_", action.description)[:80]

    def do():
        start = time.perf_counter()
        action.do()
        entry = ACTIONS.setdefault(kind, [0.0, 0])
        entry[0] += time.perf_counter() - start
        entry[1] += 1
    return action._replace(do=do)


def _timed_apply(self, apply=_plan.Plan.apply):
    """Plan.apply (its order and its undo), each action timed."""
    self.actions = [_timed(action) for action in self.actions]
    apply(self)


def phase(host, prefix, n, etc, state="present", check=False, profile=None):
    with _session.Session() as outer, outer.inside(host), _session.Session(lock=False) as session:
        start = time.perf_counter()
        if profile is not None:
            profile.enable()
        result = run_container_network(session, spec(prefix, n, state), check, etc_netns=etc)
        if profile is not None:
            profile.disable()
        return time.perf_counter() - start, result["changed"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("n", type=int)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--phase", action="append", choices=["first", "rerun", "check", "absent"])
    args = parser.parse_args()
    phases = args.phase or ["first", "rerun", "check", "absent"]
    prefix = f"prof{os.getpid()}"
    host = f"{prefix}host"
    etc = tempfile.mkdtemp()
    _nsfiles.create_namespace(host)
    _plan.Plan.apply = _timed_apply
    try:
        for name in ("first", "rerun", "check", "absent"):
            ACTIONS.clear()
            profile = cProfile.Profile() if name in phases else None
            elapsed, changed = phase(host, prefix, args.n, etc, state="absent" if name == "absent" else "present",
                                     check=name == "check", profile=profile)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"== {name}: N={args.n} {elapsed:.3f} s ({elapsed * 1000 / args.n:.2f} ms/container), changed={changed}, "
                  f"peak RSS so far {rss:.0f} MiB")
            for kind, (seconds, count) in sorted(ACTIONS.items(), key=lambda kv: -kv[1][0]):
                print(f"   {seconds:7.3f} s {count:5d} x {seconds * 1000 / count:6.2f} ms  {kind}")
            if profile is not None:
                out = io.StringIO()
                stats = pstats.Stats(profile, stream=out)
                stats.sort_stats("cumulative").print_stats(args.top)
                stats.sort_stats("tottime").print_stats(args.top)
                print(out.getvalue())
    finally:
        for name in _nsfiles.list_namespaces():
            if name.startswith(prefix):
                _nsfiles.delete_namespace(name)


if __name__ == "__main__":
    main()
