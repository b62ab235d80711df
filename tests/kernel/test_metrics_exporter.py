"""The metrics textfile with the real thing: Debian's prometheus-node-exporter, started by the test on loopback in a
namespace of its own with the textfile directory, scraped over HTTP; the series checked (and promtool check metrics);
a counter rises after traffic; the timer's program rewrites the file without Ansible; check mode and removal."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time

import pytest

import support
from support import ping, run_module, sh, start_whoami

SCRAPE = ("import sys, urllib.request\n"
          "print(urllib.request.urlopen('http://127.0.0.1:9100/metrics', timeout=5).read().decode())\n")
pytestmark = pytest.mark.skipif(not shutil.which("prometheus-node-exporter"),
                                reason="Debian's prometheus-node-exporter is not installed (scripts/setup installs it)")


@pytest.fixture
def exporter(netns, tmp_path):
    """node_exporter with only its textfile collector, on 127.0.0.1:9100 in a namespace of its own."""
    home = netns("exporter")
    directory = tmp_path / "textfile"
    directory.mkdir()
    proc = subprocess.Popen(["nsenter", f"--net=/run/netns/{home}", "prometheus-node-exporter",
                             "--web.listen-address=127.0.0.1:9100", "--collector.disable-defaults",
                             "--collector.textfile", f"--collector.textfile.directory={directory}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while sh(sys.executable, "-c", SCRAPE, netns=home, check=False).returncode != 0:
        assert proc.poll() is None and time.monotonic() < deadline, f"node_exporter did not start: {proc.stderr.read()}"
        time.sleep(0.1)
    yield home, directory
    proc.terminate()
    proc.wait(timeout=10)


def scrape(home):
    return sh(sys.executable, "-c", SCRAPE, netns=home).stdout


def value(text, name, **labels):
    """The value of the one series of that name whose labels include these."""
    found = [line for line in text.splitlines() if line.startswith((name + "{", name + " "))
             and all(f'{k}="{v}"' in line for k, v in labels.items())]
    assert len(found) == 1, (name, labels, found)
    return float(found[0].rsplit(" ", 1)[1])


def test_node_exporter_serves_the_networks_counters_and_they_rise_with_traffic(netns, nsname, exporter):
    home, directory = exporter
    host = netns("host")
    c1, c2 = nsname("c1"), nsname("c2")
    net = {"name": "mon", "bridge": "br-mon", "subnet": "10.25.0.0/24", "icc": False,
           "containers": [{"name": c1, "ports": ["8080:80"]}, {"name": c2, "ingress": [{"from": [c1], "ports": ["80/tcp"]}]}]}
    made = run_module("container_network", net, netns=host)
    assert not made.get("failed"), made.get("msg")
    server = start_whoami(c1, 80)
    try:
        path = str(directory / "linuxns_net.prom")
        args = {"path": path, "host_label": "host1"}
        predicted = run_module("metrics_textfile", args, check_mode=True, netns=host)
        assert predicted["changed"] and not (directory / "linuxns_net.prom").exists(), predicted
        written = run_module("metrics_textfile", args, netns=host, diff=True)
        assert written["changed"] and written["series"] > 30 and not written.get("failed"), written
        assert written["diff"]["after"]["textfile"]["series"] == written["series"]
        assert [p.name for p in directory.iterdir()] == ["linuxns_net.prom"], "no temporary file is left"
        if shutil.which("promtool"):
            lint = subprocess.run(["promtool", "check", "metrics"], input=(directory / "linuxns_net.prom").read_text(),
                                  capture_output=True, text=True, check=False)
            assert lint.returncode == 0 and not lint.stdout.strip() and not lint.stderr.strip(), lint.stdout + lint.stderr

        text = scrape(home)
        assert value(text, "node_textfile_scrape_error") == 0, "node_exporter parsed the file"
        first = value(text, "linuxns_net_interface_receive_packets_total", container=c1, interface="eth0", side="container",
                      network="mon", host="host1")
        assert value(text, "linuxns_net_interface_up", network="mon", interface="br-mon") == 1
        assert value(text, "linuxns_net_conntrack_limit", host="host1", container="") > 0
        containers = set(re.findall(r'container="([^"]+)"', text))
        assert containers == {c1, c2}, "the textfile covers the networks' containers, not every namespace"
        assert value(text, "linuxns_net_dropped_packets_total", kind="icc", network="mon", family="ipv4") == 0
        assert value(text, "linuxns_net_dropped_packets_total", kind="policy", network="mon", container=c2,
                     direction="ingress") == 0
        assert "# TYPE linuxns_net_interface_receive_bytes_total counter" in text

        # traffic: ten pings from the host to c1, two refused by c2's policy; the counters rise
        sh("ping", "-c", "10", "-i", "0.01", "-q", made["addresses"][c1], netns=host)
        assert not ping(host, made["addresses"][c2], count=2)
        assert run_module("metrics_textfile", args, netns=host)["changed"]
        text = scrape(home)
        assert value(text, "linuxns_net_interface_receive_packets_total", container=c1, interface="eth0",
                     side="container") >= first + 10
        assert value(text, "linuxns_net_dropped_packets_total", kind="policy", container=c2) == 2

        # the timer: its program rewrites the file without Ansible, as the service would run it
        units = support.PERSIST_DIR / "etc-systemd-system"
        units.mkdir(parents=True, exist_ok=True)  # the host's /etc/systemd/system, in the tests
        timed = run_module("metrics_textfile", dict(args, schedule="30s"), netns=host)
        assert timed["changed"] and not timed.get("failed"), timed
        service = (units / "linuxns-net-metrics.service").read_text()
        assert "OnUnitActiveSec=30s" in (units / "linuxns-net-metrics.timer").read_text()
        assert (units / "timers.target.wants" / "linuxns-net-metrics.timer").is_symlink()
        timer_again = run_module("metrics_textfile", dict(args, schedule="30s"), check_mode=True, netns=host)
        assert not [c for c in timer_again["changes"] if "timer" in c], timer_again["changes"]
        command = re.search(r"^ExecStart=(.*)$", service, re.M).group(1).split()
        (directory / "linuxns_net.prom").unlink()
        ran = sh(*command, netns=host)
        assert "series written to" in ran.stdout and (directory / "linuxns_net.prom").exists(), ran.stdout + ran.stderr
        assert value(scrape(home), "linuxns_net_dropped_packets_total", kind="policy", container=c2) == 2

        # removal: the file and the timer go
        gone = run_module("metrics_textfile", dict(args, state="absent"), netns=host)
        assert gone["changed"] and not (directory / "linuxns_net.prom").exists()
        assert not (units / "linuxns-net-metrics.timer").exists() and not (units / "linuxns-net-metrics.service").exists()
        assert not run_module("metrics_textfile", dict(args, state="absent"), netns=host)["changed"]
    finally:
        server.kill()
        server.wait()
        run_module("container_network", dict(net, state="absent"), netns=host)
