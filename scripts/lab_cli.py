"""scripts/lab up --hosts N | down | status | inventory: the lab fleet from a checkout, without Ansible.

The lab itself is plugins/module_utils/_lab/, the same code that the linuxns.net.lab module runs."""

from __future__ import annotations

import argparse
import json
import sys

from ansible_collections.linuxns.net.plugins.module_utils._errors import LinuxnsError
from ansible_collections.linuxns.net.plugins.module_utils._lab.lab import Lab
from ansible_collections.linuxns.net.plugins.module_utils._lab.spec import DEFAULT_STATE_DIR, DEFAULT_UNDERLAY, DEFAULT_UNDERLAY6


def main(argv=None):
    parser = argparse.ArgumentParser(prog="lab", description="A fleet of namespace hosts on this machine, reached over SSH.")
    parser.add_argument("--name", default="lnlab", help="lab name (default lnlab)")
    parser.add_argument("--state-dir", default=DEFAULT_STATE_DIR, help="where labs keep keys, inventory and state")
    parser.add_argument("--underlay", default=DEFAULT_UNDERLAY, help=f"the underlay network (default {DEFAULT_UNDERLAY})")
    parser.add_argument("--underlay6", default=DEFAULT_UNDERLAY6,
                        help=f"the IPv6 underlay network (default {DEFAULT_UNDERLAY6})")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start (or grow, or shrink) a lab and write its inventory")
    up.add_argument("--hosts", type=int, default=3)
    up.add_argument("--segments", type=int, default=1, help="underlay segments joined by a router (default 1: flat)")
    sub.add_parser("down", help="stop the lab and remove everything it made")
    sub.add_parser("status", help="show the lab's hosts")
    sub.add_parser("inventory", help="print the inventory path")
    args = parser.parse_args(argv)
    lab = Lab(args.name, args.state_dir, args.underlay, args.underlay6, getattr(args, "segments", 1))
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
    except LinuxnsError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
