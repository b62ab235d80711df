"""A converge recorded and compared (container_network converged, netns_info fleet_member name): netns_info returns
the record's token only while a converge of its options would change nothing, so that a drift by hand (a veth gone,
the rules flushed) is seen, and repaired by the converge that then runs; a record it cannot plan from is ignored;
check mode and state absent leave no record; through ansible-playbook (no pipelining, async), container_network's
action answers a task whose token matches on the controller."""

from __future__ import annotations

import json
import pathlib
import re

from support import RUN_DIR, ansible_env, run_module, sh, start_whoami, whoami

RECORDS = RUN_DIR / "converged"


def read_token(host, network):
    member = {"name": network, "bridge": "br-cvg", "address": "198.18.90.1", "containers": []}
    result = run_module("netns_info", {"host": True, "nat": False, "policy": False, "ignore_missing": True,
                                       "fleet_member": member}, netns=host)
    assert not result.get("failed"), result
    return result["converged"]


def test_a_converge_is_recorded_and_the_kernel_compared_with_it(netns, nsname):
    host = netns("host")
    c1, c2 = nsname("cv1"), nsname("cv2")
    network = f"cvg{host[-12:-4]}"  # the records directory is the run's, shared by its tests: a name of this test's
    record = RECORDS / f"{network}.json"
    net = {"name": network, "bridge": "br-cvg", "subnet": "10.62.0.0/24", "containers": [{"name": c1}, {"name": c2}], "converged": "tok-a"}
    assert read_token(host, network) == "", "no record yet"

    predicted = run_module("container_network", net, check_mode=True, netns=host)
    assert predicted["changed"] and not record.exists(), "check mode records nothing"
    built = run_module("container_network", net, netns=host)
    assert built["changed"] and not built.get("failed"), built
    saved = json.loads(record.read_text())
    assert saved["token"] == "tok-a" and "converged" not in saved["options"] and saved["options"]["subnet"] == "10.62.0.0/24"
    assert read_token(host, network) == "tok-a", "the kernel is as the record's options make it"

    server = start_whoami(c1, 80)
    try:
        assert whoami(c2, "tcp", "10.62.0.2", 80) == "10.62.0.3"
        # drift by hand: c2's host end goes (c2's own end with it); the read no longer vouches for the host
        peer_index = json.loads(sh("ip", "-j", "link", "show", "eth0", netns=c2).stdout)[0]["link_index"]
        host_end = next(link["ifname"] for link in json.loads(sh("ip", "-j", "link", "show", netns=host).stdout)
                        if link["ifindex"] == peer_index)
        sh("ip", "link", "del", host_end, netns=host)
        assert read_token(host, network) == ""
        repaired = run_module("container_network", net, netns=host)
        assert repaired["changed"], "the converge that runs repairs it"
        assert read_token(host, network) == "tok-a"
        assert whoami(c2, "tcp", "10.62.0.2", 80) == "10.62.0.3", "the service is reached again"

        # the rules flushed: seen, and repaired
        sh("nft", "flush", "ruleset", netns=host)
        assert read_token(host, network) == ""
        assert run_module("container_network", net, netns=host)["changed"]
        assert read_token(host, network) == "tok-a"
        assert not run_module("container_network", net, netns=host)["changed"]
    finally:
        server.kill()
        server.wait()

    # a record this code cannot plan from (another version's, or damaged) counts as not converged, and the read works
    good = record.read_text()
    record.write_text(json.dumps(dict(json.loads(good), options={"name": network, "subnet": "not a subnet"})))
    assert read_token(host, network) == ""
    record.write_text("{")
    assert read_token(host, network) == ""
    record.write_text(good)

    gone = run_module("container_network", dict(net, state="absent"), netns=host)
    assert gone["changed"] and not record.exists(), "state absent removes the record"
    assert read_token(host, network) == ""


def test_the_action_answers_a_matching_token_on_the_controller(netns, nsname):
    host = netns("host")
    container = nsname("cvp")
    network = f"cvp{host[-12:-4]}"
    playbook = pathlib.Path(__file__).parent / "playbooks" / "converged.yml"
    proc = sh("ansible-playbook", str(playbook), "-e", f"network_name={network}", "-e", f"container={container}",
              netns=host, check=False, env=ansible_env(ANSIBLE_PIPELINING="0"))
    recap = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", proc.stdout)
    assert proc.returncode == 0 and recap, proc.stdout + proc.stderr
    assert (recap[1], recap[2], recap[3]) == ("6", "3", "0"), proc.stdout
    assert not (RECORDS / f"{network}.json").exists() and container not in sh("ip", "netns", "list").stdout
