"""nginx under load. A vhost with a directive nginx does not know fails the play while nginx keeps
serving its old configuration. A configuration change through the role (client_max_body_size)
and the change back reload nginx without losing a request or an established WebSocket; the
second run leaves the host converged again. The runs apply the role as the site playbook's web
play does (nginx.yml), which takes seconds instead of a whole site run."""

import copy
import time

import pytest

from conftest import host_time, run_playbook, steady_load
from faults_helpers import CHAT_SITES, main_pid, record_result

CHANGED_BODY_SIZE = "20m"
DEFAULT_BODY_SIZE = "10m"  # nginx_client_max_body_size's default
BROKEN_SITES = copy.deepcopy(CHAT_SITES)
BROKEN_SITES[0]["extra_directives"] = ["no_such_directive on;"]
NGINX_FILES_CMD = "find /etc/nginx -type f -print0 | sort -z | xargs -0 sha256sum"


def _worker_pids(host):
    return set(host.check_output("pgrep -f 'nginx: worker process'").split())


def _body_size_line(host, size):
    return "client_max_body_size %s;" % size in host.file("/etc/nginx/sites-available/channels.conf").content_string


@pytest.fixture(scope="module")
def invalid(host):
    """The sample site with a directive nginx does not know, under load: the play must fail."""
    before = {"master": main_pid(host, "nginx"), "files": host.check_output(NGINX_FILES_CMD)}
    with steady_load(host, "nginx-invalid-directive") as load:
        time.sleep(1)
        proc = run_playbook("nginx.yml", extra_vars={"nginx_sites": BROKEN_SITES})
        time.sleep(1)
    after = {"master": main_pid(host, "nginx"), "files": host.check_output(NGINX_FILES_CMD)}
    record_result(load)
    return {"proc": proc, "load": load, "before": before, "after": after}


@pytest.fixture(scope="module")
def reloads(host, invalid):
    """Under one load: the role changes nginx.conf (nginx reloads), then changes it back."""
    assert invalid["proc"].returncode != 0
    master = main_pid(host, "nginx")
    workers = [_worker_pids(host)]
    runs = []
    with steady_load(host, "nginx-reload") as load:
        for extra_vars in ({"nginx_client_max_body_size": CHANGED_BODY_SIZE}, {}):
            time.sleep(1)
            started = host_time(host)
            proc = run_playbook("nginx.yml", extra_vars=extra_vars)
            runs.append({"proc": proc, "body_size_changed": _body_size_line(host, CHANGED_BODY_SIZE)})
            load.notes["nginx run %d" % len(runs)] = "rc %d in %.0f s" % (proc.returncode, host_time(host) - started)
            workers.append(_worker_pids(host))
        time.sleep(1)
    record_result(load)
    return {"runs": runs, "load": load, "masters": (master, main_pid(host, "nginx")), "workers": workers}


def test_invalid_directive_fails_the_play(invalid):
    output = invalid["proc"].stdout + invalid["proc"].stderr
    assert invalid["proc"].returncode != 0, output[-3000:]
    assert "no_such_directive" in output, output[-3000:]


def test_invalid_directive_leaves_the_old_configuration(invalid):
    assert invalid["after"]["files"] == invalid["before"]["files"]


def test_invalid_directive_keeps_the_master_process(invalid):
    assert invalid["after"]["master"] == invalid["before"]["master"]


def test_invalid_directive_fails_no_request(invalid):
    load = invalid["load"]
    assert load.result["http"]["failed"] == 0, "%s\n%s" % (load, load.result["http"]["failures"])


def test_invalid_directive_drops_no_websocket(invalid):
    assert invalid["load"].result["ws"]["dropped"] == 0, invalid["load"]


def test_change_through_the_role_is_applied(reloads):
    change = reloads["runs"][0]
    assert change["proc"].returncode == 0, change["proc"].stdout[-3000:]
    assert change["body_size_changed"]


def test_change_back_restores_the_converged_configuration(host, reloads):
    back = reloads["runs"][1]
    assert back["proc"].returncode == 0, back["proc"].stdout[-3000:]
    assert not back["body_size_changed"]
    assert _body_size_line(host, DEFAULT_BODY_SIZE)


@pytest.mark.parametrize("run", [0, 1], ids=["change", "change-back"])
def test_each_run_starts_new_workers(reloads, run):
    # Old workers may still be finishing (they keep their WebSockets until those close).
    assert reloads["workers"][run + 1] - reloads["workers"][run], "nginx did not reload"


def test_reloads_keep_the_master_process(reloads):
    assert reloads["masters"][1] == reloads["masters"][0]


def test_reloads_fail_no_request(reloads):
    load = reloads["load"]
    assert load.result["http"]["failed"] == 0, "%s\n%s" % (load, load.result["http"]["failures"])


def test_reloads_keep_every_websocket_open(reloads):
    load = reloads["load"]
    assert load.result["ws"]["dropped"] == 0, "%s\n%s" % (load, load.result["ws"]["events"])
    assert load.result["ws"]["still_open"] == load.result["ws"]["opened"], load
