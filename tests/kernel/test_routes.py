"""linuxns.net.netns_route against the real kernel."""

from __future__ import annotations

from support import ip_json, routes, run_module, sh


def support_routes6(ns, *args):
    return ip_json(ns, "-6", "route", "show", *args)


def _wired(netns):
    ns = netns()
    sh("ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p")
    sh("ip", "-n", ns, "addr", "add", "10.100.0.2/24", "dev", "eth0")
    sh("ip", "-n", ns, "addr", "add", "2001:db8:1::2/64", "dev", "eth0", "nodad")
    sh("ip", "-n", ns, "link", "set", "eth0", "up")
    sh("ip", "-n", ns, "link", "set", "eth0p", "up")
    return ns


def test_default_route_check_mode_idempotence_and_correction(netns):
    ns = _wired(netns)
    args = {"namespace": ns, "dest": "default", "gateway": "10.100.0.1"}
    assert run_module("netns_route", args, check_mode=True)["changed"] and routes(ns, "default") == []
    assert run_module("netns_route", args)["changed"]
    (route,) = routes(ns, "default")
    assert route["gateway"] == "10.100.0.1" and route["dev"] == "eth0" and route["protocol"] == "static"
    assert not run_module("netns_route", args)["changed"]

    moved = run_module("netns_route", dict(args, gateway="10.100.0.254"), diff=True)
    assert moved["changes"] == [f"replace route 0.0.0.0/0 in namespace '{ns}'"]
    assert moved["diff"]["before"][f"{ns}/route 0.0.0.0/0"]["gateway"] == "10.100.0.1"
    assert routes(ns, "default")[0]["gateway"] == "10.100.0.254"

    assert run_module("netns_route", dict(args, state="absent"))["changed"] and routes(ns, "default") == []


def test_routes_match_exactly_on_table_and_metric(netns):
    ns = _wired(netns)
    run_module("netns_route", {"namespace": ns, "routes": [
        {"dest": "10.9.0.0/16", "gateway": "10.100.0.1"},
        {"dest": "10.9.0.0/16", "gateway": "10.100.0.3", "metric": 100},
        {"dest": "10.9.0.0/16", "gateway": "10.100.0.4", "table": "100"}]})
    main = sorted((r.get("metric", 0), r["gateway"]) for r in routes(ns, "10.9.0.0/16"))
    assert main == [(0, "10.100.0.1"), (100, "10.100.0.3")]
    assert routes(ns, "table", "100")[0]["gateway"] == "10.100.0.4"
    assert run_module("netns_route", {"namespace": ns, "dest": "10.9.0.0/16", "metric": 100, "state": "absent"})["changed"]
    assert [r["gateway"] for r in routes(ns, "10.9.0.0/16")] == ["10.100.0.1"]


def test_ipv6_route(netns):
    ns = _wired(netns)
    args = {"namespace": ns, "dest": "2001:db8:99::/48", "gateway": "2001:db8:1::1"}
    assert run_module("netns_route", args)["changed"]
    assert support_routes6(ns, "2001:db8:99::/48")[0]["gateway"] == "2001:db8:1::1"
    assert not run_module("netns_route", args)["changed"]


def test_unreachable_gateway_is_refused(netns):
    ns = _wired(netns)
    result = run_module("netns_route", {"namespace": ns, "dest": "default", "gateway": "10.5.0.1"})
    assert result["failed"] and "gateway 10.5.0.1 is not reachable" in result["msg"] and ns in result["msg"]
    assert routes(ns, "default") == []


def test_onlink_gateway(netns):
    ns = _wired(netns)
    args = {"namespace": ns, "dest": "10.7.0.0/16", "gateway": "172.31.0.1", "dev": "eth0", "onlink": True}
    assert run_module("netns_route", args)["changed"]
    assert "onlink" in routes(ns, "10.7.0.0/16")[0]["flags"]


def test_kernel_routes_are_never_rewritten_unless_asked(netns):
    ns = _wired(netns)
    args = {"namespace": ns, "dest": "10.100.0.0/24", "dev": "eth0", "scope": "link"}
    refused = run_module("netns_route", dict(args, src="10.100.0.99", state="present"))
    assert refused["failed"] and "belongs to kernel" in refused["msg"]
    refused = run_module("netns_route", dict(args, state="absent"))
    assert refused["failed"] and "not removing it" in refused["msg"]
    assert routes(ns, "10.100.0.0/24")[0]["protocol"] == "kernel"
    assert run_module("netns_route", dict(args, state="absent", replace_foreign=True))["changed"]
    assert routes(ns, "10.100.0.0/24") == []


def test_missing_dev_is_refused(netns):
    ns = _wired(netns)
    result = run_module("netns_route", {"namespace": ns, "dest": "10.8.0.0/16", "dev": "nope0"})
    assert result["failed"] and "dev 'nope0' does not exist" in result["msg"]
