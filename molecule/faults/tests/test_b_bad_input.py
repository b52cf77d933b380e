"""Bad input, across the four roles (bad_input.yml applies one) and the site playbook (through
converge.yml): every run fails in the checks, before any change, with a message naming the
variable; the host keeps its configuration, release, services and processes (snapshot before the
first run and after the last).

The runs change nothing, so they run two at a time in the background while the first tests of
this module wait for them.
"""

import concurrent.futures
import copy
import re

import pytest

from conftest import ANSI, failure_message, run_playbook
from faults_helpers import CHAT_SITES, snapshot

SITE_NO_NAME = [{k: v for k, v in CHAT_SITES[0].items() if k != "name"}]
SITE_BAD_STATE = [dict(copy.deepcopy(CHAT_SITES[0]), state="gone")]

CASES = {
    # id: (role, or "site" for converge.yml; extra vars; words the failure must contain)
    "redis-port-out-of-range": ("redis", {"redis_port": 70000}, ["redis_port"]),
    "redis-unknown-eviction-policy": ("redis", {"redis_maxmemory_policy": "allkeys-sometimes"},
                                      ["redis_maxmemory_policy", "allkeys-sometimes"]),
    "redis-open-bind-without-password": ("redis", {"redis_bind": ["0.0.0.0"], "redis_password": ""},
                                         ["redis_bind", "redis_password"]),
    "redis-default-acl-user": ("redis", {"redis_acl_user": "default"}, ["redis_acl_user"]),
    "redis-relative-dir": ("redis", {"redis_dir": "var/lib/redis"}, ["redis_dir"]),
    "supervisor-socket-open-to-others": ("supervisor", {"supervisor_socket_mode": "0777"},
                                         ["supervisor_socket_mode"]),
    "supervisor-package-state-absent": ("supervisor", {"supervisor_package_state": "absent"},
                                        ["supervisor_package_state"]),
    "supervisor-minfds-too-low": ("supervisor", {"supervisor_minfds": 100}, ["supervisor_minfds"]),
    "daphne-zero-processes": ("daphne", {"daphne_numprocs": 0}, ["daphne_numprocs"]),
    "daphne-unknown-source-type": ("daphne", {"daphne_source_type": "svn"}, ["daphne_source_type"]),
    "daphne-socket-without-port": ("daphne", {"daphne_socket": "tcp://localhost"}, ["daphne_socket"]),
    "daphne-no-asgi-application": ("daphne", {"daphne_asgi_application": ""}, ["daphne_asgi_application"]),
    "daphne-bind-in-extra-args": ("daphne", {"daphne_extra_args": ["-b", "0.0.0.0"]}, ["daphne_extra_args"]),
    "nginx-site-state-not-present-or-absent": ("nginx", {"nginx_sites": SITE_BAD_STATE},
                                               ["nginx_sites", "gone"]),
    "nginx-site-without-name": ("nginx", {"nginx_sites": SITE_NO_NAME}, ["nginx_sites", "name"]),
    "nginx-worker-connections-not-a-number": ("nginx", {"nginx_worker_connections": "many"},
                                              ["nginx_worker_connections"]),
    "nginx-ipv6-not-a-bool": ("nginx", {"nginx_listen_ipv6": "sometimes"}, ["nginx_listen_ipv6"]),
    "site-app-port-not-a-number": ("site", {"site_app_port": "eighty"}, ["site_app_port"]),
    "site-smoke-check-not-a-bool": ("site", {"site_smoke_check": "perhaps"}, ["site_smoke_check"]),
    "site-app-address-ipv6-literal": ("site", {"site_app_address": "fd00::10"}, ["site_app_address"]),
    "site-channel-layer-url-unknown-key": ("site", {"site_channel_layer_url_options": {"sockettimeout": 30}},
                                           ["site_channel_layer_url_options", "sockettimeout"]),
    "site-channel-layer-url-timeout-below-the-pop": ("site", {"site_channel_layer_url_options": {"socket_timeout": 5}},
                                                     ["site_channel_layer_url_options", "socket_timeout"]),
}


def _run(role, extra_vars):
    if role == "site":
        return run_playbook("converge.yml", extra_vars=extra_vars)
    return run_playbook("bad_input.yml", extra_vars=dict(extra_vars, bad_input_role=role))


@pytest.fixture(scope="module")
def bad_runs(host):
    """Snapshot, every bad run (two at a time), snapshot again."""
    before = snapshot(host)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = {case: pool.submit(_run, role, extra_vars) for case, (role, extra_vars, _words) in CASES.items()}
        runs = {case: future.result() for case, future in futures.items()}
    return {"before": before, "after": snapshot(host), "runs": runs}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_naming_the_variable(bad_runs, case):
    proc = bad_runs["runs"][case]
    assert proc.returncode != 0, "the play accepted %s:\n%s" % (CASES[case][1], proc.stdout[-3000:])
    # The failed task's result, not the task names before it.
    failure = failure_message(proc)
    for word in CASES[case][2]:
        assert word in failure, "%r not in the failure:\n%s" % (word, failure[:3000])


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_before_any_change(bad_runs, case):
    output = ANSI.sub("", bad_runs["runs"][case].stdout)
    recap = re.findall(r"\bchanged=(\d+)\b.*?\bfailed=(\d+)\b", output)
    assert recap == [("0", "1")], "the play changed something or did not fail once:\n%s" % output[-3000:]


def test_host_is_unchanged_by_the_bad_runs(bad_runs):
    assert bad_runs["after"] == bad_runs["before"]
