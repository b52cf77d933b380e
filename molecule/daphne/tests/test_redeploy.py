"""A redeploy of new code on every host at once, while a loop of HTTP requests runs against the
shared socket in every container: the sample app as a package (daphne_source_type package, a
wheel built here: wheel_helpers.py) over the converged local-source release. Each container is
limited to one CPU for the deploy (`docker update --cpuset-cpus 0`, so nproc says 1): the default
process count must still give the rolling restart a second process. One deploy, several
behaviours (one per test): the rolling restart's and the package release's. The last test deploys
the local source again (the later modules need the converged host); the fixture's end makes sure
of it whatever failed.
"""

import csv
import io
import json
import os
import subprocess
import time
import zipfile

import pytest

from conftest import run_playbook
from daphne_helpers import (
    APP_ROOT,
    APP_USER,
    PROGRAM,
    all_hosts,
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
from wheel_helpers import DIST, VERSION, build_wheel, record_hash


ALL_CPUS = "0-%d" % (os.cpu_count() - 1)


def set_cpus(hosts, cpus):
    for name in hosts:
        subprocess.run(["docker", "update", "--cpuset-cpus", cpus, name], check=True, capture_output=True)


@pytest.fixture(scope="module")
def redeploy(tmp_path_factory):
    hosts = all_hosts()
    wheel = build_wheel(tmp_path_factory.mktemp("wheel"))

    before = {}
    set_cpus(hosts, "0")
    for name, host in hosts.items():
        before[name] = {
            "nproc": int(host.check_output("nproc")),
            "release": current_release(host),
            "procs": processes(host),
            "log_lines": supervisor_log_lines(host),
        }
        start_http_loop(host)

    proc = run_playbook("converge.yml", extra_vars={"daphne_source_type": "package", "daphne_package": str(wheel)})

    time.sleep(2)  # a few more requests after the last restart
    after = {}
    for name, host in hosts.items():
        stop_http_loop(host)
    time.sleep(3)
    for name, host in hosts.items():
        after[name] = {
            "loop": http_loop_results(host),
            "events": supervisor_events(host, before[name]["log_lines"]),
            "release": current_release(host),
            "installed": host.run("%s/venv/bin/python -m pip show %s", current_release(host), DIST).stdout,
            "manage": host.run("runuser -u %s -- %s/bin/manage check", APP_USER, APP_ROOT),
            "listing": host.run("ls %s", current_release(host)).stdout.split(),
            "page": host.run("wsclient http http://localhost:8000/").stdout,
        }
    set_cpus(hosts, ALL_CPUS)
    yield {"proc": proc, "before": before, "after": after}

    if any(current_release(host) != before[name]["release"] for name, host in hosts.items()):
        restore = run_playbook("converge.yml")
        assert restore.returncode == 0, "restoring the converged state failed:\n%s" % restore.stdout[-3000:]


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


def test_built_wheel_lists_every_file_in_its_record(tmp_path):
    """The test's own wheel is well formed: RECORD names every file with its hash."""
    with zipfile.ZipFile(build_wheel(tmp_path)) as archive:
        names = set(archive.namelist())
        record = {row[0]: row[1] for row in csv.reader(io.StringIO(archive.read(
            "%s-%s.dist-info/RECORD" % (DIST, VERSION)).decode()))}
        assert set(record) == names
        assert all(record[n] == record_hash(archive.read(n)) for n in names if not n.endswith("RECORD"))
    assert "chatsite/asgi.py" in names and "chat/templates/chat/index.html" in names


def test_package_is_installed_in_the_release_venv(host, redeploy):
    installed = redeploy["after"][host.backend.get_hostname()]["installed"]
    assert "Name: %s" % DIST in installed
    assert "Version: %s" % VERSION in installed


def test_package_release_holds_no_source_tree(host, redeploy):
    listing = redeploy["after"][host.backend.get_hostname()]["listing"]
    assert "manage.py" not in listing
    assert "%s-%s-py3-none-any.whl" % (DIST, VERSION) in listing


def test_package_release_renders_the_app_page(host, redeploy):
    """Templates and the app come from the installed package (site-packages), not a source tree."""
    page = json.loads(redeploy["after"][host.backend.get_hostname()]["page"])
    assert page["ok"] and "asgi.channels chat" in page["bodies"][0], page


def test_manage_wrapper_runs_django_admin_for_a_package(host, redeploy):
    manage = redeploy["after"][host.backend.get_hostname()]["manage"]
    assert manage.rc == 0 and "no issues" in manage.stdout, manage.stdout + manage.stderr


@pytest.fixture(scope="module")
def local_again(redeploy):
    """The configured local source deployed again after the package (the converged release)."""
    proc = run_playbook("converge.yml")
    return {"proc": proc, "releases": {name: current_release(host) for name, host in all_hosts().items()},
            "procs": {name: wait_all_running(host) for name, host in all_hosts().items()}}


def test_local_source_deploys_again_after_the_package(host, redeploy, local_again):
    name = host.backend.get_hostname()
    assert local_again["proc"].returncode == 0, local_again["proc"].stdout[-3000:]
    assert local_again["releases"][name] == redeploy["before"][name]["release"]
