"""A release that fails its checks before it goes live, shared by test_broken_release.py and
test_unsupported_daphne.py (not a test module): ``failing_deploy`` deploys a changed copy of the
sample app on every host at once and removes the failed release directories afterwards;
``FailedReleaseChecks`` holds the tests every such deploy must pass. A test module sets
``failed_deploy = failed_deploy_fixture(label, change)`` and subclasses the checks as ``Test...``
with its ``MESSAGES`` (what the play must say)."""

import contextlib

import pytest

from conftest import run_playbook
from daphne_helpers import (
    APP_ROOT,
    all_hosts,
    copy_app,
    current_release,
    health,
    processes,
    release_name,
    wait_all_running,
)


@contextlib.contextmanager
def failing_deploy(tmp_path_factory, label, change):
    """Deploy the sample app changed by ``change(app_directory)``; yields the run and the state before."""
    hosts = all_hosts()
    app = copy_app(tmp_path_factory.mktemp(label))
    change(app)
    before = {name: {"release": current_release(h), "procs": processes(h),
                     "releases": set(h.check_output("ls %s/releases", APP_ROOT).split())}
              for name, h in hosts.items()}
    proc = run_playbook("converge.yml", extra_vars={"daphne_source_path": str(app)})
    try:
        yield {"proc": proc, "output": proc.stdout + proc.stderr, "before": before}
    finally:
        for name, host in hosts.items():
            for release in set(host.check_output("ls %s/releases", APP_ROOT).split()) - before[name]["releases"]:
                host.run("rm -rf %s/releases/%s", APP_ROOT, release)
            wait_all_running(host)


def failed_deploy_fixture(label, change):
    """The module fixture ``failed_deploy`` of a test module: one failing deploy for all its tests."""

    @pytest.fixture(scope="module")
    def failed_deploy(tmp_path_factory):
        with failing_deploy(tmp_path_factory, label, change) as result:
            yield result

    return failed_deploy


class FailedReleaseChecks:
    """The play fails saying why; the previous release keeps serving, untouched (not collected here:
    its name does not start with Test)."""

    MESSAGES = ()

    def test_play_fails(self, failed_deploy):
        assert failed_deploy["proc"].returncode != 0, "the play passed with a release that fails its checks"

    def test_play_says_why(self, failed_deploy):
        for message in self.MESSAGES:
            assert message in failed_deploy["output"], (message, failed_deploy["output"][-3000:])

    def test_current_still_points_to_the_previous_release(self, host, failed_deploy):
        assert current_release(host) == failed_deploy["before"][host.backend.get_hostname()]["release"]

    def test_processes_were_not_restarted(self, host, failed_deploy):
        assert processes(host) == failed_deploy["before"][host.backend.get_hostname()]["procs"]

    def test_previous_release_keeps_serving(self, host, failed_deploy):
        previous = failed_deploy["before"][host.backend.get_hostname()]["release"]
        assert health(host)["release"] == release_name(previous)
