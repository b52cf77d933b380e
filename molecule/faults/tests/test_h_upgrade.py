"""The upgrade from the previous version of the collection: the host is deployed again by the main
branch as it was before the redesign of issue 16 (git PREVIOUS, taken from this repository's own
history with `git archive`, with that version's sample app and deployment variables), then the
current collection converges it under load with today's: no HTTP request fails, every process
restarts once, and the run after it changes nothing."""

import pathlib
import subprocess
import time

import pytest

from conftest import host_time, parse_json_output, run_playbook, steady_load
from faults_helpers import current_release, daphne_pids, record_result

# The last main before the roles' redesign (stock modules, stamps, layered platform variables).
PREVIOUS = "4328df5"
PROJECT = pathlib.Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def previous_collection(tmp_path_factory):
    """The previous version's tree (its collections/ link resolves asgi.channels to it)."""
    root = tmp_path_factory.mktemp("previous")
    archive = subprocess.run(["git", "-C", str(PROJECT), "archive", PREVIOUS], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive.stdout, check=True)
    return root


@pytest.fixture(scope="module")
def upgrade(host, previous_collection):
    # The previous version with the sample app and deployment variables of its own time (a user's
    # inventory of then: e.g. STATIC_ROOT in daphne_environment, which the role now exports itself).
    old = run_playbook(str(previous_collection / "molecule" / "faults" / "converge.yml"),
                       extra_vars={"chat_source_path": str(previous_collection / "examples" / "chat")},
                       collections_path=previous_collection / "collections")
    assert old.returncode == 0, "the previous version did not deploy:\n%s" % old.stdout[-3000:]
    before = {"release": current_release(host), "pids": daphne_pids(host)}
    with steady_load(host, "upgrade") as load:
        time.sleep(1)
        started = host_time(host)
        proc = run_playbook("converge.yml")
        load.notes["converge"] = "rc %d in %.0f s" % (proc.returncode, host_time(host) - started)
        time.sleep(2)
    after = {"release": current_release(host), "pids": daphne_pids(host)}
    record_result(load)
    again = run_playbook("converge.yml", json_output=True)
    return {"proc": proc, "load": load, "before": before, "after": after, "again": again}


def test_the_upgrade_succeeds(upgrade):
    assert upgrade["proc"].returncode == 0, upgrade["proc"].stdout[-3000:]


def test_the_upgrade_fails_no_request(upgrade):
    load = upgrade["load"]
    assert load.result["http"]["failed"] == 0, "%s\n%s" % (load, load.result["http"]["failures"])


def test_the_upgrade_restarts_every_process_once(upgrade):
    before, after = upgrade["before"]["pids"], upgrade["after"]["pids"]
    assert sorted(after) == sorted(before)
    assert all(after[name] not in (None, before[name]) for name in after), (before, after)


def test_the_run_after_the_upgrade_changes_nothing(upgrade):
    result = parse_json_output(upgrade["again"])
    changed = {h: s["changed"] for h, s in result["stats"].items()}
    failed = {h: s["failures"] for h, s in result["stats"].items() if s["failures"]}
    assert not failed and set(changed.values()) == {0}, (changed, failed)
