"""A new release of the app deployed under load: a rolling restart of every Daphne process, no HTTP
request lost, the WebSocket clients of the restarted processes reconnect. Then the original
release is deployed again (the host ends as converge.yml leaves it), with -vvv: the scenario's
secrets must appear nowhere in that run's output, nor in any command line sampled in the container
while it runs."""

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


@pytest.fixture(scope="module")
def redeploy(host, new_source):
    before = {"release": current_release(host), "pids": daphne_pids(host)}
    with steady_load(host, "redeploy") as load:
        time.sleep(1)
        started = host_time(host)
        proc = run_playbook("converge.yml", extra_vars={"chat_source_path": str(new_source)})
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


PS_LOG = "/tmp/ps-during-converge.log"


@pytest.fixture(scope="module")
def original_again(host, redeploy):
    """converge.yml as the scenario runs it (the original release), with -vvv, while every process's
    command line in the container is sampled ten times a second (into PS_LOG)."""
    assert redeploy["proc"].returncode == 0
    host.run("rm -f %s; setsid nohup sh -c 'while :; do ps -eo args; sleep 0.1; done' > %s 2>&1 < /dev/null & "
             "echo $! > %s.pid" % (PS_LOG, PS_LOG, PS_LOG))
    try:
        return run_playbook("converge.yml", verbosity=3)
    finally:
        host.run("kill $(cat %s.pid)" % PS_LOG)


def test_original_release_is_deployed_again(host, redeploy, original_again):
    assert original_again.returncode == 0, original_again.stdout[-3000:]
    assert current_release(host) == redeploy["before"]["release"]


@pytest.mark.parametrize("name", SECRET_VARS)
def test_secret_is_not_in_the_output_of_a_verbose_converge(host, original_again, name):
    output = original_again.stdout + original_again.stderr
    assert "ESTABLISH" in output, "the run was not verbose (-vvv)"
    assert scenario_secrets(host)[name] not in output, "%s appears in the -vvv output" % name


@pytest.mark.parametrize("name", SECRET_VARS)
def test_secret_is_in_no_command_line_during_a_converge(host, original_again, name):
    samples = host.run("grep -c '^COMMAND$' %s", PS_LOG).stdout.strip()
    assert int(samples or 0) > 10, "too few ps samples during the run: %s" % samples
    assert host.run("grep -qF -- %s %s", scenario_secrets(host)[name], PS_LOG).rc == 1, \
        "%s appears in a command line during the converge" % name
