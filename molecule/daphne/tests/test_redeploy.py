"""A redeploy with changed code (only the code: a changed file makes a new release), on every host
at once, while a loop of HTTP requests runs against the shared socket in every container. Each
container is limited to one CPU for the deploy (`docker update --cpuset-cpus 0`, so nproc says 1):
the default process count must still give the rolling restart a second process. One deploy,
several behaviours (one per test). The fixture restores the converged state at the end.
"""

import os
import subprocess
import time

import pytest

from conftest import run_playbook
from daphne_helpers import (
    PROGRAM,
    all_hosts,
    copy_app,
    current_release,
    health,
    http_loop_counts,
    http_loop_results,
    numprocs,
    own_socket,
    processes,
    release_name,
    start_http_loop,
    stop_http_loop,
    supervisor_events,
    supervisor_log_lines,
    wait_all_running,
)


@pytest.fixture(scope="module")
def redeploy(tmp_path_factory):
    hosts = all_hosts()
    app = copy_app(tmp_path_factory.mktemp("redeploy"))
    with open(app / "chat" / "views.py", "a", encoding="utf-8") as views:
        views.write("\n# redeploy test: a changed file makes a new release\n")

    before = {}
    for name in hosts:
        subprocess.run(["docker", "update", "--cpuset-cpus", "0", name], check=True, capture_output=True)
    for name, host in hosts.items():
        before[name] = {
            "nproc": int(host.check_output("nproc")),
            "release": current_release(host),
            "procs": processes(host),
            "log_lines": supervisor_log_lines(host),
        }
        start_http_loop(host)

    proc = run_playbook("converge.yml", extra_vars={"daphne_source_path": str(app)})

    time.sleep(2)  # a few more requests after the last restart
    after = {}
    for name, host in hosts.items():
        stop_http_loop(host)
    time.sleep(3)
    for name, host in hosts.items():
        after[name] = {
            "loop": http_loop_results(host),
            "events": supervisor_events(host, before[name]["log_lines"]),
        }
    result = {"proc": proc, "before": before, "after": after}
    yield result

    for name, host in hosts.items():
        stop_http_loop(host)
        subprocess.run(["docker", "update", "--cpuset-cpus", "0-%d" % (os.cpu_count() - 1), name],
                       check=True, capture_output=True)
    restore = run_playbook("converge.yml")
    assert restore.returncode == 0, "restoring the converged state failed:\n%s" % restore.stdout[-3000:]
    for name, host in hosts.items():
        wait_all_running(host)
        assert current_release(host) == before[name]["release"]


def test_redeploy_play_succeeds(redeploy):
    proc = redeploy["proc"]
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr


def test_the_deploy_ran_on_one_cpu_with_two_processes(host, redeploy):
    before = redeploy["before"][host.backend.get_hostname()]
    assert before["nproc"] == 1
    assert len(before["procs"]) == 2, before["procs"]


def test_no_request_fails_during_the_rolling_restart(host, redeploy):
    loop = redeploy["after"][host.backend.get_hostname()]["loop"]
    total, failed, errors = http_loop_counts(loop)
    assert total > 100, "the request loop barely ran: %s" % loop[-3:]
    assert failed == 0, "%d of %d requests failed: %s" % (failed, total, errors)


def test_processes_restart_one_at_a_time(host, redeploy):
    events = redeploy["after"][host.backend.get_hostname()]["events"]
    down = set()
    for name, kind in events:
        if kind == "down":
            down.add(name)
            assert len(down) == 1, "two processes down at once: %s" % events
        else:
            down.discard(name)


def test_every_process_was_restarted_once(host, redeploy):
    events = redeploy["after"][host.backend.get_hostname()]["events"]
    ups = sorted(name for name, kind in events if kind == "up")
    assert ups == ["%s%d" % (PROGRAM, n) for n in range(numprocs(host))], events


def test_every_process_serves_the_new_release(host, redeploy):
    before = redeploy["before"][host.backend.get_hostname()]
    new_release = current_release(host)
    assert new_release != before["release"]
    procs = wait_all_running(host)
    assert all(procs[n][1] != before["procs"][n][1] for n in before["procs"]), (before["procs"], procs)
    for num in range(numprocs(host)):
        assert health(host, own_socket(num))["release"] == release_name(new_release)
