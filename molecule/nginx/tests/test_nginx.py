"""asgi.channels.nginx in front of the stand-in backend (prepare.yml), on Debian 12 and 13.

Sites (converge.yml): "plain" (plain.test, default server on port 80, /static/ and /media/ from
disk) and "tls" (tls.test on 443 with HTTP/2, port 80 redirected, 8 connections per client).
The slow checks run on every host at once from session fixtures, started early so their waits
overlap the other tests: an idle WebSocket held 95 s, WebSockets held across reloads, a
deliberately invalid directive, bad input.
"""

import concurrent.futures
import json
import os
import pathlib
import time

import pytest
import testinfra
import yaml

from conftest import parse_json_output, run_playbook

PLAIN_WS = "ws://127.0.0.1/ws/ --host-header plain.test"
TLS_WSS = "wss://127.0.0.1/ws/ --host-header tls.test --insecure"
IDLE_SECONDS = 95
RELOAD_HOLD_COUNT = 4
RELOAD_HOLD_SECONDS = 75
RELOAD_HEADER = "X-Reload-Test"
LIMITS_DROPIN = "/etc/systemd/system/nginx.service.d/limits.conf"
SCENARIO = pathlib.Path(__file__).resolve().parents[1]
CONVERGED_SITES = yaml.safe_load((SCENARIO / "converge.yml").read_text())[0]["vars"]["nginx_sites"]
# A site added by the reload test (and removed again with state: absent).
EXTRA_SITE = {"name": "extra", "server_name": ["extra.test"], "upstream": "channels-backend", "upstream_servers": []}


def _all_hosts():
    inventory = pathlib.Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    return testinfra.get_hosts(["ansible://all"], ansible_inventory=str(inventory))


def _name(host):
    return host.backend.get_hostname()


def _wsclient(host, args):
    return json.loads(host.run("wsclient " + args).stdout)


def _start_background(host, unit, command):
    """Run ``command`` as a transient systemd unit writing its stdout to /run/<unit>.json."""
    host.run("rm -f /run/%s.json" % unit)
    started = host.run(
        "systemd-run --unit=%s --collect -p StandardOutput=file:/run/%s.json %s" % (unit, unit, command)
    )
    assert started.rc == 0, started.stderr


def _wait_background(host, unit, timeout):
    deadline = time.monotonic() + timeout
    while host.run("systemctl is-active --quiet %s" % unit).rc == 0:
        assert time.monotonic() < deadline, "%s still running after %ss" % (unit, timeout)
        time.sleep(2)
    return json.loads(host.file("/run/%s.json" % unit).content_string)


def _master_pid(host):
    return host.file("/run/nginx.pid").content_string.strip()


def _worker_pids(host):
    """PIDs of the current workers (not those shutting down after a reload)."""
    return set(host.run("pgrep -f 'nginx: worker process$'").stdout.split())


def _curl(host, args):
    return host.run("curl -s --max-time 10 " + args)


def _backend_echo(host, path="/echo", host_header="plain.test"):
    out = _curl(host, "-H 'Host: %s' http://127.0.0.1%s" % (host_header, path))
    assert out.rc == 0, out.stderr
    return json.loads(out.stdout)


# --- session fixtures (every host at once) --------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def idle_websockets():
    """Start one idle WebSocket per host through nginx right away; the result is read at the end."""
    hosts = _all_hosts()
    for host in hosts:
        _start_background(host, "ws-idle", "/usr/local/bin/wsclient hold %s --count 1 --seconds %d"
                          % (PLAIN_WS, IDLE_SECONDS))
    return {_name(h): h for h in hosts}


@pytest.fixture(scope="session")
def invalid_directive_run():
    """A converge that changes nginx.conf (valid) and the unit's open-file limit, disables a site
    and adds one with a directive nginx does not know, on every host: the whole change must be
    undone."""
    hosts = _all_hosts()
    before = {_name(h): {"pid": _master_pid(h), "conf": h.file("/etc/nginx/nginx.conf").sha256sum,
                         "limits": h.file(LIMITS_DROPIN).sha256sum} for h in hosts}
    broken = {"name": "broken", "server_name": ["broken.test"], "extra_directives": ["no_such_directive on;"]}
    proc = run_playbook("converge.yml", json_output=True, extra_vars={
        "nginx_http_extra_directives": ["gzip_comp_level 5;"],
        # a new open-file limit too: its drop-in belongs to the change set the test guards
        "nginx_worker_rlimit_nofile": 12345,
        "nginx_sites": CONVERGED_SITES[:-1] + [dict(CONVERGED_SITES[-1], state="absent"), broken],
    })
    return {"proc": proc, "before": before}


@pytest.fixture(scope="session")
def reload_with_open_websockets():
    """Hold WebSockets on every host, reload nginx twice under them (a real change, then back)."""
    hosts = _all_hosts()
    for host in hosts:
        _start_background(host, "ws-reload", "/usr/local/bin/wsclient hold %s --count %d --seconds %d "
                          "--send still-here --expect still-here" % (PLAIN_WS, RELOAD_HOLD_COUNT, RELOAD_HOLD_SECONDS))
    held_since = time.monotonic()
    time.sleep(3)
    before = {_name(h): {"pid": _master_pid(h), "workers": _worker_pids(h)} for h in hosts}
    # a header of the plain site's own (an http-level add_header would not reach it: nginx drops
    # inherited add_header directives in a server that has its own, the security headers)
    plain = dict(CONVERGED_SITES[0], extra_directives=["add_header %s reloaded always;" % RELOAD_HEADER])
    changed = run_playbook("converge.yml", extra_vars={
        "nginx_sites": [plain] + CONVERGED_SITES[1:] + [EXTRA_SITE],
    })
    reloaded_after = time.monotonic() - held_since
    after = {}
    for host in hosts:
        headers = _curl(host, "-D - -o /dev/null -H 'Host: plain.test' http://127.0.0.1/echo").stdout
        extra = _curl(host, "-H 'Host: extra.test' http://127.0.0.1/echo").stdout
        after[_name(host)] = {"pid": _master_pid(host), "workers": _worker_pids(host), "headers": headers,
                              "extra": extra}
    restored = run_playbook("converge.yml", extra_vars={
        "nginx_sites": CONVERGED_SITES + [dict(EXTRA_SITE, state="absent")]})
    holds = {_name(h): _wait_background(h, "ws-reload", RELOAD_HOLD_SECONDS + 60) for h in hosts}
    return {"changed": changed, "restored": restored, "before": before, "after": after, "holds": holds,
            "reloaded_after": reloaded_after}


def _tls_site(certificate, key, source="host"):
    return {"name": "x", "server_name": ["x.test"], "upstream_servers": ["127.0.0.1:8000"],
            "tls": {"enabled": True, "source": source, "certificate": certificate, "key": key}}


BAD_INPUT = {
    "tls without key": ({"nginx_sites": [{"name": "x", "tls": {"enabled": True, "certificate": "/etc/x.crt"}}]},
                        "tls.key"),
    "port out of range": ({"nginx_sites": [{"name": "x", "listen": [70000]}]}, "listen"),
    "empty upstream list": ({"nginx_upstream_servers": []}, "nginx_upstream_servers"),
    "bad site state": ({"nginx_sites": [{"name": "x", "state": "gone"}]}, "state"),
    "old tls protocol": ({"nginx_ssl_protocols": ["TLSv1"]}, "nginx_ssl_protocols"),
    "alias without trailing slash": ({"nginx_sites": [{"name": "x", "static_locations": [
        {"location": "/static/", "alias": "/srv/static"}]}]}, "alias"),
    "bad timeout": ({"nginx_proxy_read_timeout": "one hour"}, "nginx_proxy_read_timeout"),
    "removed worker minimum": ({"nginx_worker_processes_min": 4}, "use nginx_worker_processes"),
    "split asgi path without slash": ({"nginx_sites": [{"name": "x", "wsgi_upstream_servers": ["127.0.0.1:8100"],
                                                        "asgi_locations": ["ws/"]}]}, "asgi_locations"),
    "split asgi path is /": ({"nginx_sites": [{"name": "x", "wsgi_upstream_servers": ["127.0.0.1:8100"],
                                               "asgi_locations": ["/"]}]}, "asgi_locations"),
    # certificates (prepare.yml made them): refused before nginx is touched, the site named
    "expired certificate": ({"nginx_sites": [_tls_site("/etc/ssl/nginx-test/expired.crt", "/etc/ssl/nginx-test/tls.test.key")]},
                            "nginx_sites item x: the certificate /etc/ssl/nginx-test/expired.crt expired on"),
    "certificate of another key": ({"nginx_sites": [_tls_site("/etc/ssl/nginx-test/tls.test.crt",
                                                              "/etc/ssl/nginx-test/other.key")]},
                                   "nginx_sites item x: the certificate /etc/ssl/nginx-test/tls.test.crt does not match the key"),
    "missing certificate": ({"nginx_sites": [_tls_site("/etc/ssl/nginx-test/none.crt", "/etc/ssl/nginx-test/tls.test.key")]},
                            "nginx_sites item x: the certificate /etc/ssl/nginx-test/none.crt is missing"),
    "missing key on the controller": ({"nginx_sites": [_tls_site(
        "{{ lookup('ansible.builtin.env', 'MOLECULE_EPHEMERAL_DIRECTORY') }}/tls/ctl.test.crt", "/nonexistent/ctl.key",
        source="controller")]}, "nginx_sites item x: the key /nonexistent/ctl.key is missing"),
    "acme for the catch-all name": ({"nginx_sites": [{"name": "x", "server_name": ["_"],
                                                      "tls": {"enabled": True, "source": "acme"}}]}, "tls.source acme"),
    "acme directory over http": ({"nginx_acme_directory": "http://acme.test/dir"}, "nginx_acme_directory"),
    "security header with a quote": ({"nginx_security_headers": {"X-Test": "a'b"}}, "nginx_security_headers"),
    "challenge proxy beside an acme site": ({"nginx_acme_challenge_proxy": "web1:80", "nginx_sites": [
        {"name": "x", "server_name": ["x.test"], "tls": {"enabled": True, "source": "acme"}}]}, "nginx_acme_challenge_proxy"),
}


@pytest.fixture(scope="session", autouse=True)
def bad_input_runs():
    """Start the bad-input runs right away in the background (they change nothing, so they may
    overlap the other tests). Input checks do not depend on the release: one host is enough."""
    first_host = sorted(_name(h) for h in _all_hosts())[0]
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)
    futures = {
        case: pool.submit(run_playbook, "converge.yml", extra_vars=extra_vars, json_output=True, limit=first_host)
        for case, (extra_vars, _expected) in BAD_INPUT.items()
    }
    yield futures
    pool.shutdown(wait=True)


# --- the service ------------------------------------------------------------------------------------


def test_nginx_is_running_and_enabled(host):
    service = host.service("nginx")
    assert service.is_running
    assert service.is_enabled


def test_configuration_test_passes(host):
    assert host.run("nginx -t").rc == 0


def test_distribution_default_site_is_gone(host):
    assert not host.file("/etc/nginx/sites-enabled/default").exists


def test_open_file_limit_is_capped_at_the_hosts_hard_limit(host):
    hard = int(host.file("/proc/1/limits").content_string.split("Max open files")[1].split()[1])
    master = host.file("/proc/%s/limits" % _master_pid(host)).content_string
    soft_master = int(master.split("Max open files")[1].split()[0])
    assert soft_master == min(65536, hard)


def test_worker_connections_fit_the_open_file_limit(host):
    config = host.run("nginx -T").stdout
    connections = int(config.split("worker_connections")[1].split(";")[0])
    rlimit = int(config.split("worker_rlimit_nofile")[1].split(";")[0])
    assert 8192 <= connections <= rlimit


def test_auto_runs_one_worker_per_cpu(host):
    cores = int(host.check_output("nproc"))
    assert len(_worker_pids(host)) == cores


def test_reuseport_gives_every_worker_its_own_listening_socket(host):
    """With reuseport the kernel keeps one accept queue per worker on the default server's port
    (and spreads new connections over them), instead of one queue all workers race for."""
    listeners = host.check_output("ss -Hltn 'sport = :80'").splitlines()
    ipv4 = [line for line in listeners if "0.0.0.0:80" in line]
    assert len(ipv4) == len(_worker_pids(host))


def test_server_tokens_are_off(host):
    headers = _curl(host, "-D - -o /dev/null -H 'Host: plain.test' http://127.0.0.1/echo").stdout
    assert "Server: nginx\r\n" in headers


# --- the plain HTTP site ------------------------------------------------------------------------------


def test_static_file_is_served_by_nginx(host):
    out = _curl(host, "-D - -H 'Host: plain.test' http://127.0.0.1/static/hello.txt")
    assert out.stdout.endswith("static file served by nginx\n")
    assert "Cache-Control: max-age=604800" in out.stdout


def test_missing_static_file_is_a_404_from_nginx_not_the_backend(host):
    out = _curl(host, "-o /dev/null -w '%{http_code}' -H 'Host: plain.test' http://127.0.0.1/static/nope.txt")
    assert out.stdout == "404"


@pytest.mark.parametrize("header,value", [
    ("host", "plain.test"),
    ("x-forwarded-host", "plain.test"),
    ("x-forwarded-proto", "http"),
    ("x-forwarded-for", "127.0.0.1"),
    ("x-real-ip", "127.0.0.1"),
])
def test_proxied_request_reaches_the_backend_with_forwarded_headers(host, header, value):
    echo = _backend_echo(host, "/app/?q=1")
    assert echo["path"] == "/app/?q=1"
    assert echo["headers"].get(header) == value


def test_plain_http_keeps_the_upstream_connection_alive(host):
    # One client connection (one worker): the second request reuses the upstream connection.
    out = _curl(host, "-H 'Host: plain.test' http://127.0.0.1/one http://127.0.0.1/two")
    second = json.loads(out.stdout[out.stdout.index("}{") + 1:])
    assert "connection" not in second["headers"]
    assert second["connection_requests"] >= 2


def test_websocket_upgrade_through_nginx_answers_101(host):
    result = _wsclient(host, "probe %s --send hello --expect hello" % PLAIN_WS)
    assert result["ok"], result
    assert result["status"] == 101


# --- the TLS site ------------------------------------------------------------------------------------


def test_tls_site_answers_over_http2(host):
    out = _curl(host, "-k --http2 -w '\\n%{http_version}' --resolve tls.test:443:127.0.0.1 https://tls.test/echo")
    body, version = out.stdout.rsplit("\n", 1)
    assert version == "2"
    assert json.loads(body)["headers"]["x-forwarded-proto"] == "https"


def test_http_redirects_to_https(host):
    out = _curl(host, "-o /dev/null -w '%{http_code} %{redirect_url}' -H 'Host: tls.test' http://127.0.0.1/a/b?c=1")
    assert out.stdout == "301 https://tls.test/a/b?c=1"


def test_websocket_over_tls_answers_101(host):
    result = _wsclient(host, "probe %s --send hello --expect hello" % TLS_WSS)
    assert result["ok"], result


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_tls_site_speaks_modern_tls(host, version):
    out = _curl(host, "-k -o /dev/null -w '%%{http_code}' --tlsv%s --tls-max %s --resolve tls.test:443:127.0.0.1 "
                "https://tls.test/echo" % (version, version))
    assert out.stdout == "200", out.stderr


def test_connection_limit_per_client(host):
    result = _wsclient(host, "hold %s --count 12 --seconds 1" % TLS_WSS)
    assert result["opened"] == 8, result
    assert result["failed_handshakes"] == 4, result
    assert any("429" in reason for reason in result["errors"]), result


# --- an invalid change --------------------------------------------------------------------------------


def _failure_messages(result):
    for play in result["plays"]:
        for task in play["tasks"]:
            for res in task["hosts"].values():
                if res.get("failed"):
                    yield str(res.get("msg", ""))
                    for item in res.get("results", []):
                        yield str(item.get("msg", ""))


def test_invalid_directive_fails_the_play(invalid_directive_run):
    proc = invalid_directive_run["proc"]
    assert proc.returncode != 0
    result = parse_json_output(proc)
    assert all(s["failures"] for s in result["stats"].values()), result["stats"]
    messages = list(_failure_messages(result))
    assert any('failed "nginx -t"' in m and "no_such_directive" in m for m in messages), messages


def test_invalid_change_restores_the_previous_nginx_conf(host, invalid_directive_run):
    assert host.file("/etc/nginx/nginx.conf").sha256sum == invalid_directive_run["before"][_name(host)]["conf"]
    assert host.run("nginx -t").rc == 0


def test_invalid_change_restores_the_previous_open_file_limit_dropin(host, invalid_directive_run):
    """So the next run still finds the new limit to apply (with a restart)."""
    assert host.file(LIMITS_DROPIN).sha256sum == invalid_directive_run["before"][_name(host)]["limits"]


@pytest.mark.parametrize("path", ["/etc/nginx/sites-enabled/broken.conf", "/etc/nginx/sites-available/broken.conf"])
def test_invalid_change_removes_the_new_site(host, invalid_directive_run, path):
    assert not host.file(path).exists


@pytest.mark.parametrize("directory", ["sites-enabled", "sites-available"])
def test_invalid_change_keeps_the_site_it_disabled(host, invalid_directive_run, directory):
    assert host.file("/etc/nginx/%s/%s.conf" % (directory, CONVERGED_SITES[-1]["name"])).exists


def test_invalid_change_leaves_no_backup_files(host, invalid_directive_run):
    assert not host.run("ls /etc/nginx/*~ /etc/nginx/sites-available/*~ %s.*~ 2>/dev/null" % LIMITS_DROPIN).stdout


def test_invalid_directive_leaves_nginx_running_untouched(host, invalid_directive_run):
    assert _master_pid(host) == invalid_directive_run["before"][_name(host)]["pid"]
    assert _backend_echo(host)["headers"]["host"] == "plain.test"


# --- reloads under open WebSockets ---------------------------------------------------------------------


def test_config_change_reloads_nginx_without_restart(host, reload_with_open_websockets):
    run = reload_with_open_websockets
    assert run["changed"].returncode == 0, run["changed"].stdout[-3000:]
    before, after = run["before"][_name(host)], run["after"][_name(host)]
    assert "%s: reloaded" % RELOAD_HEADER in after["headers"]
    assert after["pid"] == before["pid"]
    assert after["workers"] and after["workers"].isdisjoint(before["workers"])


def test_websockets_stay_open_across_reloads(host, reload_with_open_websockets):
    # The reload must have happened while the connections were held, or this proves nothing.
    assert reload_with_open_websockets["reloaded_after"] < RELOAD_HOLD_SECONDS - 5
    hold = reload_with_open_websockets["holds"][_name(host)]
    assert hold["ok"], hold
    assert hold["alive_at_end"] == RELOAD_HOLD_COUNT


def test_added_site_was_served(host, reload_with_open_websockets):
    extra = json.loads(reload_with_open_websockets["after"][_name(host)]["extra"])
    assert extra["headers"]["x-forwarded-host"] == "extra.test"


def test_converged_config_is_restored_after_the_reload_test(host, reload_with_open_websockets):
    restored = reload_with_open_websockets["restored"]
    assert restored.returncode == 0, restored.stdout[-3000:]
    headers = _curl(host, "-D - -o /dev/null -H 'Host: plain.test' http://127.0.0.1/echo").stdout
    assert RELOAD_HEADER not in headers


@pytest.mark.parametrize("path", ["/etc/nginx/sites-enabled/extra.conf", "/etc/nginx/sites-available/extra.conf"])
def test_absent_site_is_removed(host, reload_with_open_websockets, path):
    assert not host.file(path).exists


# --- bad input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_fails_before_any_change(bad_input_runs, case):
    proc = bad_input_runs[case].result()
    result = parse_json_output(proc)
    stats = result["stats"]
    assert stats and all(s["failures"] for s in stats.values()), stats
    assert all(s["changed"] == 0 for s in stats.values()), stats
    messages = list(_failure_messages(result))
    assert any(BAD_INPUT[case][1] in m for m in messages), messages


# --- last: the idle WebSocket started at the beginning ----------------------------------------------------


def test_idle_websocket_survives_90_seconds(host, idle_websockets):
    result = _wait_background(idle_websockets[_name(host)], "ws-idle", IDLE_SECONDS + 60)
    assert result["ok"], result
    assert result["alive_at_end"] == 1
