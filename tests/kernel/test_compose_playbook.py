"""playbooks/compose.yml: a docker-compose.yml's networks built by the bridge_network role, with a real service in
a container reached at its published port, an internal network, a service on two networks; exact re-runs and a
teardown that leaves nothing."""

from __future__ import annotations

import re

import pytest

from support import REPO, ansible_env, ip_json, links, namespaces, sh, start_whoami, whoami

pytestmark = pytest.mark.slow


def compose(host, path, *extra):
    proc = sh("ansible-playbook", "-i", "localhost,", "-c", "local", str(REPO / "playbooks" / "compose.yml"),
              "-e", "target=localhost", "-e", f"compose_file={path}", "-e", "compose_project=cmp", *extra,
              netns=host, check=False, env=ansible_env())
    recap = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)", proc.stdout)
    assert proc.returncode == 0 and recap, proc.stdout + proc.stderr
    return int(recap[2])


def test_a_compose_files_networks_are_built_as_docker_builds_them(netns, nsname, tmp_path):
    host = netns("host")
    web, db = nsname.adopt(nsname("cw")), nsname.adopt(nsname("cd"))
    path = tmp_path / "docker-compose.yml"
    path.write_text(f"""
services:
  {web}:
    image: web
    ports: ["8080:80"]
    networks:
      front: {{}}
      back: {{aliases: [api]}}
  {db}:
    image: db
    volumes: [data:/data]
    networks:
      back: {{ipv4_address: 10.72.0.50}}
networks:
  front:
    ipam: {{config: [{{subnet: 10.71.0.0/24}}]}}
  back:
    internal: true
    ipam: {{config: [{{subnet: 10.72.0.0/24}}]}}
volumes:
  data: {{}}
""")
    assert compose(host, path) > 0
    assert {web, db} <= set(namespaces())
    assert [a["local"] for a in ip_json(db, "-4", "address", "show", "eth0")[0]["addr_info"]] == ["10.72.0.50"]
    assert {link["ifname"] for link in ip_json(web, "link")} == {"lo", "eth0", "eth1"}
    assert sh("ip", "route", "show", "default", netns=db).stdout.strip() == "", "an internal network has no way out"
    server = start_whoami(web, 80)
    try:
        assert whoami(host, "tcp", "10.71.0.1", 8080) == "10.71.0.1", "the published port reaches the service"
        assert whoami(db, "tcp", "10.72.0.2", 80) == "10.72.0.50", "db reaches web on back"
    finally:
        server.kill()
        server.wait()
    assert compose(host, path) == 0, "exact"
    assert compose(host, path, "-e", "compose_state=absent") > 0
    assert not {web, db} & set(namespaces()) and set(links(host)) == {"lo"}
