"""daphne_rollback: back to the previous release and to a named one, with the deploy's rolling
restart. A changed copy of the sample app is deployed first (the newer release; the converged
one becomes the previous), then, in this order: a --check rollback, a rollback to previous under
an HTTP loop, the same rollback again, a rollback to the newer release by its id, a rollback to an
unknown id, and a deploy of the configured source with daphne_keep_releases 1 (which restores the
converged release as current). That last deploy also rotates SECRET_KEY in daphne_environment and
runs with -v and --diff: the processes restart with the new secret, which shows nowhere in the
play's output nor on a command line. One behaviour per test.

The rotated secret stays on the host: test_stamps.py, the next module, needs an environment change
for its interrupted run and deploys the configured environment over it, its last run the converge.
That a change of the environment alone restarts the processes (no release switched) is
test_stamps.py's: its interrupted run restarts the first process for it, its next run the others.
"""

import re
import time

import pytest

from conftest import changed_tasks, failure_message, parse_json_output, run_playbook
from daphne_helpers import (
    APP_ROOT,
    ENV_FILE,
    all_hosts,
    copy_app,
    current_release,
    health,
    http_loop_counts,
    http_loop_results,
    numprocs,
    own_socket,
    release_name,
    start_http_loop,
    stop_http_loop,
    wait_all_running,
)

UNKNOWN_ID = "0123456789abcdef"
ROLE = "asgi.channels.daphne"


def previous_link(host):
    return host.check_output("readlink -e %s/previous", APP_ROOT)


def process_stamps(host, procs):
    """{pid: stamp it started with} of the processes, and the stamp of the files on disk."""
    pids = [str(pid) for _state, pid in procs.values()]
    lines = host.check_output("%s/bin/daphne-run stamp" + " %s" * len(pids), APP_ROOT, *pids).splitlines()
    return dict(line.split(" ", 1) for line in lines[1:]), lines[0].split(" ", 1)[1]


def snapshot(host):
    """What a step left on the host. pytest runs one host's tests before the other's, after every
    step has run: each step's fixture keeps what the tests of every host read."""
    procs = wait_all_running(host)
    stamps, disk = process_stamps(host, procs)
    markers = host.check_output("ls %s/releases/*/.asgi-release-ok", APP_ROOT).split()
    return {
        "current": current_release(host),
        "previous": previous_link(host),
        "procs": procs,
        "stamps": stamps,
        "disk_stamp": disk,
        "served": [health(host, own_socket(num))["release"] for num in range(numprocs(host))],
        "releases": set(host.check_output("ls %s/releases", APP_ROOT).split()),
        "complete": {m.split("/")[-2] for m in markers},
    }


def snapshots():
    return {name: snapshot(h) for name, h in all_hosts().items()}


def at_the_converged_release(older):
    """True when every host serves ``older`` ({host: release}) from processes all started with it."""
    try:
        states = snapshots()
    except AssertionError:  # processes not all running
        return False
    return all(state["current"] == older[name] and set(state["stamps"].values()) == {state["disk_stamp"]}
               for name, state in states.items())


def rollback(value, **kwargs):
    return run_playbook("converge.yml", extra_vars={"daphne_rollback": value}, **kwargs)


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    """{host: {"older": converged release, "newer": a changed copy's}}, the newer one current."""
    hosts = all_hosts()
    older = {name: current_release(h) for name, h in hosts.items()}
    app = copy_app(tmp_path_factory.mktemp("rollback"))
    with open(app / "chat" / "views.py", "a", encoding="utf-8") as views:
        views.write("\n# rollback test: the newer release\n")
    try:
        deploy = run_playbook("converge.yml", extra_vars={"daphne_source_path": str(app)})
        assert deploy.returncode == 0, "deploying the newer release failed:\n%s" % deploy.stdout[-3000:]
        result = {}
        for name, host in hosts.items():
            wait_all_running(host)
            result[name] = {"older": older[name], "newer": current_release(host)}
            assert result[name]["newer"] != older[name]
        yield result
    finally:
        # The last step (pruned) deploys the converged release again (with the rotated secret, which
        # test_stamps.py deploys over); after a failed step (another release current, or processes
        # started with other files) a deploy of the configured source restores it: the later
        # modules expect the converged release.
        if not at_the_converged_release(older):
            restore = run_playbook("converge.yml")
            assert restore.returncode == 0, "restoring the converged release failed:\n%s" % restore.stdout[-3000:]
        for name, host in hosts.items():
            wait_all_running(host)
            assert current_release(host) == older[name]


@pytest.fixture(scope="module")
def check_run(releases):
    before = snapshots()
    proc = rollback("previous", check=True, json_output=True)
    return {"proc": proc, "result": parse_json_output(proc), "before": before, "after": snapshots()}


@pytest.fixture(scope="module")
def to_previous(releases, check_run):
    """A rollback to the previous release on every host at once, an HTTP loop running on each."""
    hosts = all_hosts()
    before = snapshots()
    for host in hosts.values():
        start_http_loop(host)
    proc = rollback("previous")
    time.sleep(2)  # a few more requests after the last restart
    for host in hosts.values():
        stop_http_loop(host)
    time.sleep(3)
    loop = {name: http_loop_results(h) for name, h in hosts.items()}
    return {"proc": proc, "before": before, "loop": loop, "after": snapshots()}


@pytest.fixture(scope="module")
def repeated(to_previous):
    proc = rollback("previous", json_output=True)
    return {"proc": proc, "result": parse_json_output(proc)}


@pytest.fixture(scope="module")
def to_named(releases, repeated):
    """A rollback to the newer release by its id (given per host: ids differ between hosts)."""
    ids = {name: release_name(r["newer"]) for name, r in releases.items()}
    proc = run_playbook("converge.yml", extra_vars={
        "daphne_rollback": "{{ rollback_test_ids[inventory_hostname] }}", "rollback_test_ids": ids})
    return {"proc": proc, "after": snapshots()}


@pytest.fixture(scope="module")
def unknown(to_named):
    name, host = sorted(all_hosts().items())[0]
    before = snapshot(host)
    proc = rollback(UNKNOWN_ID, limit=name)
    return {"proc": proc, "name": name, "before": before, "after": snapshot(host)}


@pytest.fixture(scope="module")
def pruned(to_named, unknown):
    """A deploy of the configured source (back to the older release) keeping 1 release, with a
    rotated SECRET_KEY, -v and --diff."""
    environment = dict(next(iter(all_hosts().values())).ansible.get_variables()["daphne_environment"])
    secret = "rotated-" + environment["SECRET_KEY"][::-1]
    environment["SECRET_KEY"] = secret
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ANSIBLE_VERBOSITY", "1")
        env.setenv("ANSIBLE_DIFF_ALWAYS", "1")
        proc = run_playbook("converge.yml", extra_vars={"daphne_keep_releases": 1, "daphne_environment": environment})
    return {"proc": proc, "secret": secret, "after": snapshots()}


# --- --check -----------------------------------------------------------------------------------

def test_check_mode_rollback_reports_the_switch_and_each_restart(check_run):
    changed = list(changed_tasks(check_run["result"]))
    for name, before in check_run["before"].items():
        assert "%s: %s : Point current at the release (an atomic rename of the link)" % (name, ROLE) in changed, changed
        stops = [task for task in changed if task.startswith("%s: %s : Stop " % (name, ROLE))]
        assert len(stops) == len(before["procs"]), changed


def test_check_mode_rollback_changes_nothing(host, check_run):
    name = host.backend.get_hostname()
    assert check_run["after"][name] == check_run["before"][name]


# --- back to the previous release under load ------------------------------------------------------

def test_rollback_to_previous_succeeds(to_previous):
    proc = to_previous["proc"]
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr


def test_current_points_at_the_previous_release(host, releases, to_previous):
    name = host.backend.get_hostname()
    assert to_previous["after"][name]["current"] == releases[name]["older"]


def test_no_request_fails_during_the_rollback(host, to_previous):
    loop = to_previous["loop"][host.backend.get_hostname()]
    total, failed, errors = http_loop_counts(loop)
    assert total > 100, "the request loop barely ran: %s" % loop[-3:]
    assert failed == 0, "%d of %d requests failed: %s" % (failed, total, errors)


def test_every_process_restarted_with_a_stamp_naming_the_previous_release(host, releases, to_previous):
    name = host.backend.get_hostname()
    before, after = to_previous["before"][name], to_previous["after"][name]
    assert all(after["procs"][p][1] != before["procs"][p][1] for p in before["procs"]), (before, after)
    older = release_name(releases[name]["older"])
    assert after["disk_stamp"].startswith(older + ":"), after
    assert set(after["stamps"].values()) == {after["disk_stamp"]}, after


def test_every_process_serves_the_previous_release(host, releases, to_previous):
    name = host.backend.get_hostname()
    served = to_previous["after"][name]["served"]
    assert served == [release_name(releases[name]["older"])] * len(served), served


def test_a_rollback_leaves_the_previous_link_alone(host, releases, to_previous):
    name = host.backend.get_hostname()
    assert to_previous["after"][name]["previous"] == releases[name]["older"]


def test_the_same_rollback_again_changes_nothing(repeated):
    stats = repeated["result"]["stats"]
    assert stats and all(s["changed"] == 0 and s["failures"] == 0 for s in stats.values()), (
        stats, list(changed_tasks(repeated["result"])))


# --- to a named release --------------------------------------------------------------------------

def test_rollback_to_a_named_release_succeeds(to_named):
    assert to_named["proc"].returncode == 0, to_named["proc"].stdout[-4000:] + to_named["proc"].stderr


def test_every_process_serves_the_named_release(host, releases, to_named):
    name = host.backend.get_hostname()
    after, newer = to_named["after"][name], releases[name]["newer"]
    assert after["current"] == newer
    assert after["served"] == [release_name(newer)] * len(after["served"]), after


# --- to an unknown release -------------------------------------------------------------------------

def test_rollback_to_an_unknown_release_fails(unknown):
    assert unknown["proc"].returncode != 0, unknown["proc"].stdout[-3000:]


def test_the_failure_names_the_variable_the_value_and_the_kept_releases(releases, unknown):
    message = " ".join(failure_message(unknown["proc"]).split())
    assert "daphne_rollback is %s: no complete release of that id is kept in %s/releases" % (
        UNKNOWN_ID, APP_ROOT) in message, message[:3000]
    name = unknown["name"]
    assert "%s (current)" % release_name(releases[name]["newer"]) in message, message[:3000]
    assert "%s (previous)" % release_name(releases[name]["older"]) in message, message[:3000]
    listing = message.split("newest first:", 1)[1].split(". Set daphne_rollback", 1)[0]
    listed = set(re.findall(r"\b[0-9a-f]{16}\b", listing))
    assert listed == unknown["before"]["complete"], (listed, unknown["before"]["complete"], message[:3000])


def test_rollback_to_an_unknown_release_changes_nothing(unknown):
    assert re.search(r"changed=0\b", unknown["proc"].stdout), unknown["proc"].stdout[-3000:]
    assert unknown["after"] == unknown["before"]


# --- prune ---------------------------------------------------------------------------------------

def test_a_deploy_records_the_release_it_replaces_as_previous(host, releases, pruned):
    assert pruned["proc"].returncode == 0, pruned["proc"].stdout[-4000:] + pruned["proc"].stderr
    name = host.backend.get_hostname()
    assert pruned["after"][name]["current"] == releases[name]["older"]
    assert pruned["after"][name]["previous"] == releases[name]["newer"]


def test_prune_keeps_the_previous_release(host, releases, pruned):
    name = host.backend.get_hostname()
    kept = {release_name(releases[name][which]) for which in ("older", "newer")}
    assert pruned["after"][name]["releases"] == kept, pruned["after"][name]


# --- a rotated secret, in the same deploy, under -v and --diff ------------------------------------

def test_environment_file_task_ran_with_its_output_hidden(pruned):
    assert "the output has been hidden due to the fact that" in pruned["proc"].stdout


def test_rotated_secret_appears_nowhere_in_the_play_output(pruned):
    assert pruned["secret"] not in pruned["proc"].stdout
    assert pruned["secret"] not in pruned["proc"].stderr


def test_processes_restarted_with_the_rotated_secret(host, to_named, pruned):
    name = host.backend.get_hostname()
    before, after = to_named["after"][name]["procs"], pruned["after"][name]["procs"]
    assert all(after[p][1] != before[p][1] for p in before), (before, after)
    assert host.run("grep -qxF -- %s %s", "SECRET_KEY=" + pruned["secret"], ENV_FILE).rc == 0
    for process, (_state, pid) in after.items():
        environ = host.check_output("tr '\\0' '\\n' < /proc/%s/environ", str(pid))
        assert "SECRET_KEY=" + pruned["secret"] in environ.splitlines(), process


def test_rotated_secret_is_on_no_command_line(host, pruned):
    assert pruned["secret"] not in host.check_output("ps -eo user,pid,args")
