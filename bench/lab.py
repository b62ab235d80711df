"""Lab timings: the linuxns.net.lab module bringing a lab of N hosts up (hosts, switch, upstream, sshd listening),
re-running it (no change), and taking it down, as whole `ansible localhost -m linuxns.net.lab` commands. Medians of
--repeats runs; the underlay is 198.18.60.0/24, never a range the tests use. Writes docs/benchmarks/lab.md."""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support import ansible_env  # noqa: E402


def lab(args, *extra):
    start = time.monotonic()
    proc = subprocess.run(["ansible", "localhost", "-m", "linuxns.net.lab", "-a", json.dumps(args), *extra],
                          capture_output=True, text=True, env=ansible_env(), check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"lab {args}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return elapsed, '"changed": true' in proc.stdout


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="3,32")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(REPO / "docs" / "benchmarks" / "lab.md"))
    opts = parser.parse_args()
    base = {"name": "lnbenlab", "underlay": "198.18.60.0/24", "state_dir": f"/run/linuxns-lab-bench-{os.getpid()}"}
    rows = []
    for n in [int(x) for x in opts.sizes.split(",")]:
        times = {"up": [], "again": [], "down": []}
        for _repeat in range(opts.repeats):
            up, changed = lab(dict(base, hosts=n))
            assert changed
            again, changed = lab(dict(base, hosts=n))
            assert not changed, "a second run must change nothing"
            down, changed = lab(dict(base, state="absent"))
            assert changed
            for key, value in (("up", up), ("again", again), ("down", down)):
                times[key].append(value)
        rows.append((n, *(statistics.median(times[k]) for k in ("up", "again", "down"))))
    if os.path.isdir(base["state_dir"]):  # the last lab to go removes it itself
        os.rmdir(base["state_dir"])
    table = ["| hosts (and the upstream) | lab up | again (changed=0) | down |", "|---|---|---|---|"]
    table += [f"| {n} | {up:.2f} s | {again:.2f} s | {down:.2f} s |" for n, up, again, down in rows]
    text = ("Whole `ansible localhost -m linuxns.net.lab` commands (about 0.5 s of it is Ansible starting), "
            f"medians of {opts.repeats}; up means every host's sshd is listening.\n\n" + "\n".join(table) + "\n")
    pathlib.Path(opts.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
