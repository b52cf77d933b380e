"""Restarts converge: a rolling restart that fails half-way (the first restarted process does not
pass its health check) leaves the other processes on the old environment; the next run, with
nothing left to change on disk, restarts exactly those, because each process carries the stamp of
what it was started with.

The interrupted run deploys the configured environment over another one: the rotated secret that
test_rollback.py's last deploy, the module before, leaves on the host. The next run is then the plain
converge, which also leaves the host converged for the later modules (a failed step is followed by
a restoring converge). Run without that module, on a host that already has the configured secret,
a first run sets the configured environment plus a marker for the interrupted run to take away."""

import re

import pytest

from conftest import run_playbook
from daphne_helpers import ENV_FILE, PROGRAM, all_hosts, wait_all_running

MARKER = "ASGI_TEST_STAMP_RUN"


def environ(host, pid):
    return host.check_output("tr '\\0' '\\n' < /proc/%s/environ", str(pid)).splitlines()


def env_file_has(host, line):
    return host.run("grep -qxF -- %s %s", line, ENV_FILE).rc == 0


def env_file_differs(host, secret):
    """The environment file holds another secret than the configured one, or the marker."""
    return not env_file_has(host, "SECRET_KEY=" + secret) or env_file_has(host, MARKER + "=1")


@pytest.fixture(scope="module")
def interrupted(ansible_vars_all):
    hosts = all_hosts()
    configured = ansible_vars_all["daphne_environment"]
    if not all(env_file_differs(h, configured["SECRET_KEY"]) for h in hosts.values()):
        setup = run_playbook("converge.yml", extra_vars={"daphne_environment": dict(configured, **{MARKER: "1"})})
        assert setup.returncode == 0, "setting another environment first failed:\n%s" % setup.stdout[-3000:]
    before = {name: wait_all_running(h) for name, h in hosts.items()}
    # The health path answers 404, and only 200 is accepted: the first process restarts, fails its
    # check, the play stops.
    failed = run_playbook("converge.yml", extra_vars={
        "daphne_health_path": "/no-such-page-here/", "daphne_health_status": [200], "daphne_health_timeout": 3})
    half = {name: wait_all_running(h) for name, h in hosts.items()}
    completed = run_playbook("converge.yml")
    after = {name: wait_all_running(h) for name, h in hosts.items()}
    yield {"failed": failed, "completed": completed, "before": before, "half": half, "after": after,
           "secret": configured["SECRET_KEY"]}
    if completed.returncode != 0:
        restore = run_playbook("converge.yml")
        assert restore.returncode == 0, "restoring the converged state failed:\n%s" % restore.stdout[-3000:]
    for host in hosts.values():
        wait_all_running(host)


@pytest.fixture(scope="module")
def ansible_vars_all():
    return next(iter(all_hosts().values())).ansible.get_variables()


def first(procs):
    return sorted(procs)[0]


def test_the_interrupted_run_failed(interrupted):
    assert interrupted["failed"].returncode != 0, interrupted["failed"].stdout[-3000:]


def test_the_interrupted_run_restarted_only_the_first_process(host, interrupted):
    name = host.backend.get_hostname()
    before, half = interrupted["before"][name], interrupted["half"][name]
    restarted = sorted(p for p in half if half[p][1] != before[p][1])
    assert restarted == [first(before)], (before, half)


def test_the_failed_health_check_names_the_process_the_status_and_the_variables(interrupted):
    failed = interrupted["failed"]
    # the failure goes to stderr; the YAML callback folds long messages
    out = " ".join((failed.stdout + failed.stderr).split())
    assert re.search(r"%s:%s\d+ did not answer GET /no-such-page-here/ \(Host localhost\)" % (PROGRAM, PROGRAM), out), (
        out[-3000:])
    assert "with an accepted status (200)" in out and "it got 404" in out, out[-3000:]
    assert all(name in out for name in ("daphne_health_path", "daphne_health_host", "daphne_health_status")), (
        out[-3000:])


def test_the_next_run_succeeds(interrupted):
    assert interrupted["completed"].returncode == 0, interrupted["completed"].stdout[-3000:]


def test_the_next_run_restarts_exactly_the_processes_left_stale(host, interrupted):
    name = host.backend.get_hostname()
    half, after = interrupted["half"][name], interrupted["after"][name]
    restarted = sorted(p for p in after if after[p][1] != half[p][1])
    assert restarted == sorted(p for p in half if p != first(half)), (half, after)


def test_every_process_now_runs_the_configured_environment(host, interrupted):
    """The configured secret, not the rotated one (nor the marker of a first run)."""
    after = interrupted["after"][host.backend.get_hostname()]
    for process, (_state, pid) in after.items():
        env = environ(host, pid)
        assert "SECRET_KEY=" + interrupted["secret"] in env and "%s=1" % MARKER not in env, process


def test_every_process_carries_the_stamp_of_the_files_on_disk(host, interrupted):
    after = interrupted["after"][host.backend.get_hostname()]
    pids = [str(pid) for _state, pid in after.values()]
    lines = host.check_output("/srv/%s/bin/daphne-run stamp" + " %s" * len(pids), PROGRAM, *pids).splitlines()
    disk = lines[0].split(" ", 1)[1]
    assert disk and all(line == "%s %s" % (pid, disk) for pid, line in zip(pids, lines[1:])), lines
