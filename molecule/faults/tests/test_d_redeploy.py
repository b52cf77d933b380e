"""A new release of the app deployed under load: a rolling restart of every Daphne process, no HTTP
request lost, the WebSocket clients of the restarted processes reconnect. The run is at -vvv: the
scenario's secrets must appear nowhere in its output, nor in any command line sampled in the
container while it runs (a run that changes things: a release, every process restarted).

The host stays on the new release: test_h_upgrade.py deploys it again with the previous version and
then with converge.yml as the scenario runs it (the original source), so no run here puts the
original back. That deploying the configured source again makes its kept release current again is
the daphne scenario's test_redeploy.py::test_local_source_deploys_again_after_the_package."""

import shutil
import time

import pytest

from conftest import host_time, run_playbook, steady_load
from faults_helpers import (
    CHAT_DEPLOY, CHAT_SOURCE, SECRET_VARS, assert_dropped_clients_reconnected, current_release, daphne_pids,
    record_result, scenario_secrets,
)


@pytest.fixture(scope="module")
def new_source(tmp_path_factory):
    """A copy of the sample app with one harmless extra file (and its deploy vars beside it)."""
    root = tmp_path_factory.mktemp("release")
    source = root / "chat"
    shutil.copytree(CHAT_SOURCE, source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.sqlite3"))
    (source / "RELEASE.txt").write_text("faults scenario: a new release of the sample app\n", encoding="utf-8")
    shutil.copy(CHAT_DEPLOY, root / "chat-deploy.yml")
    return source


PS_LOG = "/tmp/ps-during-converge.log"


@pytest.fixture(scope="module")
def redeploy(host, new_source):
    """converge.yml with the new release's source under load, at -vvv, while every process's command
    line in the container is sampled ten times a second (into PS_LOG)."""
    before = {"release": current_release(host), "pids": daphne_pids(host)}
    with steady_load(host, "redeploy") as load:
        time.sleep(1)
        host.run("rm -f %s; setsid nohup sh -c 'while :; do ps -eo args; sleep 0.1; done' > %s 2>&1 < /dev/null & "
                 "echo $! > %s.pid" % (PS_LOG, PS_LOG, PS_LOG))
        started = host_time(host)
        try:
            proc = run_playbook("converge.yml", extra_vars={"chat_source_path": str(new_source)}, verbosity=3)
        finally:
            host.run("kill $(cat %s.pid)" % PS_LOG)
        load.notes["converge"] = "rc %d in %.0f s" % (proc.returncode, host_time(host) - started)
        time.sleep(2)
    after = {"release": current_release(host), "pids": daphne_pids(host)}
    record_result(load)
    return {"proc": proc, "load": load, "before": before, "after": after}


def test_redeploy_succeeds(redeploy):
    assert redeploy["proc"].returncode == 0, redeploy["proc"].stdout[-3000:]


def test_redeploy_switches_the_current_release(host, redeploy):
    assert redeploy["after"]["release"] != redeploy["before"]["release"]
    assert host.file(redeploy["after"]["release"] + "/RELEASE.txt").exists


def test_redeploy_restarts_every_process(redeploy):
    before, after = redeploy["before"]["pids"], redeploy["after"]["pids"]
    assert sorted(after) == sorted(before)
    assert all(after[name] not in (None, before[name]) for name in after), (before, after)


def test_redeploy_fails_no_request(redeploy):
    load = redeploy["load"]
    assert load.result["http"]["failed"] == 0, "%s\n%s" % (load, load.result["http"]["failures"])


def test_websocket_clients_of_restarted_processes_reconnect(redeploy):
    assert_dropped_clients_reconnected(redeploy["load"], "no client was dropped: were the processes restarted? %s")


@pytest.mark.parametrize("name", SECRET_VARS)
def test_secret_is_not_in_the_output_of_a_verbose_converge(host, redeploy, name):
    output = redeploy["proc"].stdout + redeploy["proc"].stderr
    assert "ESTABLISH" in output, "the run was not verbose (-vvv)"
    assert scenario_secrets(host)[name] not in output, "%s appears in the -vvv output" % name


@pytest.mark.parametrize("name", SECRET_VARS)
@pytest.mark.usefixtures("redeploy")
def test_secret_is_in_no_command_line_during_a_converge(host, name):
    samples = host.run("grep -c '^COMMAND$' %s", PS_LOG).stdout.strip()
    assert int(samples or 0) > 10, "too few ps samples during the run: %s" % samples
    assert host.run("grep -qF -- %s %s", scenario_secrets(host)[name], PS_LOG).rc == 1, \
        "%s appears in a command line during the converge" % name
