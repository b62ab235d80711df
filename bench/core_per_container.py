"""Cost of the core per container, in-process (no Ansible): build, re-check and tear down N containers.

Run as root: python bench/core_per_container.py [N ...]. Works only in namespaces it creates: a 'host' namespace
(entered with setns, so the bridge and host veth ends live there) and one namespace per container.
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
import support  # noqa: E402  (sets up the ansible_collections path)

sys.path.insert(0, str(support.collections_root()))
from ansible_collections.linuxns.net.plugins.module_utils import _bridge, _netns, _nsfiles, _routes, _session, _veth  # noqa: E402


def build(session, prefix, n, check_mode=False):
    containers = [f"{prefix}c{i}" for i in range(n)]
    t = {}
    start = time.perf_counter()
    _netns.run_netns(session, [{"name": c} for c in containers], check_mode)
    t["netns"] = time.perf_counter() - start
    start = time.perf_counter()
    _bridge.run_bridge(session, [{"name": "br0", "addresses": ["10.100.0.1/16"]}], check_mode)
    pairs = [{"name": f"v{prefix[-4:]}{i}", "master": "br0", "peer": "eth0", "peer_namespace": c,
              "peer_addresses": [f"10.100.{(i + 2) // 256}.{(i + 2) % 256}/16"]} for i, c in enumerate(containers)]
    _veth.run_veth(session, pairs, check_mode)
    t["links"] = time.perf_counter() - start
    start = time.perf_counter()
    _routes.run_routes(session, [{"namespace": c, "dest": "default", "gateway": "10.100.0.1"} for c in containers], check_mode)
    t["routes"] = time.perf_counter() - start
    return t


def main(sizes):
    for n in sizes:
        prefix = f"bench{os.getpid()}"
        host = f"{prefix}host"
        _nsfiles.create_namespace(host)
        try:
            with _session.Session() as outer:
                with outer.inside(host):
                    with _session.Session(lock=False) as session:
                        start = time.perf_counter()
                        first = build(session, prefix, n)
                        total_first = time.perf_counter() - start
                    with _session.Session(lock=False) as session:
                        start = time.perf_counter()
                        build(session, prefix, n)
                        total_again = time.perf_counter() - start
                    with _session.Session(lock=False) as session:
                        start = time.perf_counter()
                        _netns.run_netns(session, [{"name": f"{prefix}c{i}", "state": "absent"} for i in range(n)], False)
                        total_down = time.perf_counter() - start
            parts = ", ".join(f"{k} {v * 1000 / n:.2f}" for k, v in first.items())
            print(f"N={n}: first run {total_first:.3f} s ({total_first * 1000 / n:.2f} ms/container: {parts}); "
                  f"re-run {total_again:.3f} s ({total_again * 1000 / n:.2f} ms/container); "
                  f"teardown {total_down:.3f} s")
        finally:
            for name in _nsfiles.list_namespaces():
                if name.startswith(prefix):
                    _nsfiles.delete_namespace(name)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10, 100, 250])
