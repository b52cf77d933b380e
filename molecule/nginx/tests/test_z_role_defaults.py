"""The nginx role with nothing set (role_defaults.yml): the guide's site in front of 127.0.0.1:8000
(the stand-in backend), HTTP and WebSocket. Runs last of the scenario's modules (after
test_tls.py, whose last run leaves nginx-bookworm's sites with nginx_acme_challenge_proxy set);
converge.yml (with the "channels" site absent) puts the scenario's sites back on both hosts, so the
shared check-mode test sees the converged hosts."""

import json
import os
import pathlib
import re

import pytest
import testinfra
import yaml

from conftest import run_playbook, wsclient

SCENARIO = pathlib.Path(__file__).resolve().parents[1]
CONVERGE = yaml.safe_load((SCENARIO / "converge.yml").read_text())[0]["vars"]["nginx_sites"]


def _hosts():
    inventory = pathlib.Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    return testinfra.get_hosts(["ansible://all"], ansible_inventory=str(inventory))


@pytest.fixture(scope="module")
def defaults_run():
    hosts = _hosts()
    errors_before = {h.backend.get_hostname(): int(h.check_output("wc -l < /var/log/nginx/error.log")) for h in hosts}
    proc = run_playbook("role_defaults.yml")
    seen = {}
    for host in hosts:
        name = host.backend.get_hostname()
        config = host.run("nginx -T").stdout
        answer = host.run("curl -s --max-time 10 -H 'Host: any-name.example' http://127.0.0.1/whatever?x=1")
        websocket = wsclient(host, "probe ws://127.0.0.1/ws/ --host-header any-name.example --send ping --expect ping")
        errors = host.run("tail -n +%d /var/log/nginx/error.log" % (errors_before[name] + 1)).stdout
        seen[name] = {"config": config, "answer": answer, "websocket": websocket, "errors": errors,
                      "enabled": sorted(host.run("ls /etc/nginx/sites-enabled").stdout.split())}
    restored = run_playbook("converge.yml", extra_vars={
        "nginx_sites": CONVERGE + [{"name": "channels", "state": "absent"}]})
    return {"proc": proc, "seen": seen, "restored": restored}


def _seen(host, defaults_run):
    return defaults_run["seen"][host.backend.get_hostname()]


def test_role_applies_with_no_variables(defaults_run):
    proc = defaults_run["proc"]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr


def test_only_the_guide_site_is_enabled(host, defaults_run):
    assert _seen(host, defaults_run)["enabled"] == ["channels.conf"]


def test_guide_site_is_the_default_server_on_port_80(host, defaults_run):
    config = _seen(host, defaults_run)["config"]
    assert re.search(r"^\s*listen 0\.0\.0\.0:80 default_server\b", config, re.M), config
    assert re.search(r"^\s*server_name _;", config, re.M), config


def test_guide_site_proxies_to_the_ipv4_loopback_upstream(host, defaults_run):
    config = _seen(host, defaults_run)["config"]
    upstream = config[config.index("upstream channels-backend"):]
    upstream = upstream[:upstream.index("}")]
    assert re.findall(r"^\s*server\s+(\S+);", upstream, re.M) == ["127.0.0.1:8000"], upstream


def test_any_host_name_reaches_the_backend(host, defaults_run):
    answer = _seen(host, defaults_run)["answer"]
    assert answer.rc == 0, answer.stderr
    request = json.loads(answer.stdout)
    assert request["path"] == "/whatever?x=1"
    assert request["headers"]["host"] == "any-name.example"


def test_websocket_through_the_guide_site(host, defaults_run):
    result = _seen(host, defaults_run)["websocket"]
    assert result["ok"] and result["status"] == 101, result


def test_no_upstream_error_is_logged(host, defaults_run):
    """No refused attempt at ::1 (what "localhost" would add) or any other upstream error."""
    assert "upstream" not in _seen(host, defaults_run)["errors"], _seen(host, defaults_run)["errors"]


def test_scenario_sites_are_back(host, defaults_run):
    restored = defaults_run["restored"]
    assert restored.returncode == 0, restored.stdout[-3000:]
    assert sorted(host.run("ls /etc/nginx/sites-enabled").stdout.split()) == ["ctl.conf", "plain.conf", "tls.conf"]
    assert not host.file("/etc/nginx/sites-available/channels.conf").exists
