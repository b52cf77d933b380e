"""A project whose requirements pin a Daphne the role's entry point does not support (3.0.2): the
release's self-test fails before the release goes live, with a message naming the version found
and the supported range; the previous release keeps serving with its processes untouched.
Deployed on every host at once; the fixture removes the failed release directories afterwards."""

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

UNSUPPORTED = "3.0.2"


@pytest.fixture(scope="module")
def unsupported_deploy(tmp_path_factory):
    hosts = all_hosts()
    app = copy_app(tmp_path_factory.mktemp("unsupported"))
    requirements = app / "requirements.txt"
    requirements.write_text(requirements.read_text(encoding="utf-8") + "daphne==%s\n" % UNSUPPORTED, encoding="utf-8")
    before = {name: {"release": current_release(h), "procs": processes(h),
                     "releases": set(h.check_output("ls %s/releases", APP_ROOT).split())}
              for name, h in hosts.items()}
    proc = run_playbook("converge.yml", extra_vars={"daphne_source_path": str(app)})
    yield {"proc": proc, "output": proc.stdout + proc.stderr, "before": before}
    for name, host in hosts.items():
        for release in set(host.check_output("ls %s/releases", APP_ROOT).split()) - before[name]["releases"]:
            host.run("rm -rf %s/releases/%s", APP_ROOT, release)
        wait_all_running(host)


def test_play_fails(unsupported_deploy):
    assert unsupported_deploy["proc"].returncode != 0, "the play passed with an unsupported Daphne"


def test_play_names_the_version_found_and_the_supported_range(unsupported_deploy):
    output = unsupported_deploy["output"]
    assert "self-test failed with Daphne %s (supported: >= 4.0.0, < 4.3)" % UNSUPPORTED in output, output[-3000:]
    assert "Daphne %s is not a supported version" % UNSUPPORTED in output, output[-3000:]


def test_current_still_points_to_the_previous_release(host, unsupported_deploy):
    assert current_release(host) == unsupported_deploy["before"][host.backend.get_hostname()]["release"]


def test_processes_were_not_restarted(host, unsupported_deploy):
    assert processes(host) == unsupported_deploy["before"][host.backend.get_hostname()]["procs"]


def test_previous_release_keeps_serving(host, unsupported_deploy):
    previous = unsupported_deploy["before"][host.backend.get_hostname()]["release"]
    assert health(host)["release"] == release_name(previous)
