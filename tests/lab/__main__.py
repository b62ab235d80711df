"""python -m lab up --hosts N | down | status  (run with tests/ on PYTHONPATH, or through scripts/lab)."""

from __future__ import annotations

import argparse
import json
import sys

from lab import DEFAULT_STATE, Lab, LabError


def main(argv=None):
    parser = argparse.ArgumentParser(prog="lab", description="A fleet of namespace hosts on this machine, reached over SSH.")
    parser.add_argument("--name", default="lnlab", help="lab name (default lnlab)")
    parser.add_argument("--state-dir", default=str(DEFAULT_STATE), help="where labs keep keys, inventory and state")
    parser.add_argument("--underlay", default="198.51.100.0/24", help="the underlay network (default 198.51.100.0/24)")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start a lab and write its inventory")
    up.add_argument("--hosts", type=int, default=3)
    sub.add_parser("down", help="stop the lab and remove everything it made")
    sub.add_parser("status", help="show the lab's hosts")
    sub.add_parser("inventory", help="print the inventory path")
    args = parser.parse_args(argv)
    lab = Lab(args.name, args.state_dir, args.underlay)
    try:
        if args.command == "up":
            state = lab.up(args.hosts)
            print(f"lab {lab.name}: {len(state['hosts']) - 1} hosts and upstream up; inventory: {lab.inventory}")
        elif args.command == "down":
            lab.down()
            print(f"lab {lab.name}: down")
        elif args.command == "status":
            print(json.dumps(lab.status(), indent=2))
        else:
            print(lab.inventory)
    except LabError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
