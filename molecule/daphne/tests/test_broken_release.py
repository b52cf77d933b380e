"""A release whose ASGI application does not import: the play fails with the import error and the
previous release keeps serving (same link, same processes). Deployed on every host at once; the
fixture removes the failed release directories afterwards."""

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

BROKEN_MODULE = "chat.no_such_module_in_this_release"


@pytest.fixture(scope="module")
def broken_deploy(tmp_path_factory):
    hosts = all_hosts()
    app = copy_app(tmp_path_factory.mktemp("broken"))
    asgi = app / "chatsite" / "asgi.py"
    asgi.write_text(asgi.read_text(encoding="utf-8") + "\nimport %s  # noqa\n" % BROKEN_MODULE, encoding="utf-8")
    before = {name: {"release": current_release(h), "procs": processes(h),
                     "releases": set(h.check_output("ls %s/releases", APP_ROOT).split())}
              for name, h in hosts.items()}
    proc = run_playbook("converge.yml", extra_vars={"daphne_source_path": str(app)})
    yield {"proc": proc, "output": proc.stdout + proc.stderr, "before": before}
    for name, host in hosts.items():
        for release in set(host.check_output("ls %s/releases", APP_ROOT).split()) - before[name]["releases"]:
            host.run("rm -rf %s/releases/%s", APP_ROOT, release)
        wait_all_running(host)


def test_play_fails(broken_deploy):
    assert broken_deploy["proc"].returncode != 0, "the play passed with a release that does not import"


def test_play_reports_the_import_error(broken_deploy):
    output = broken_deploy["output"]
    assert "importing chatsite.asgi:application failed" in output, output[-3000:]
    assert "ModuleNotFoundError: No module named '%s'" % BROKEN_MODULE in output, output[-3000:]


def test_current_still_points_to_the_previous_release(host, broken_deploy):
    assert current_release(host) == broken_deploy["before"][host.backend.get_hostname()]["release"]


def test_processes_were_not_restarted(host, broken_deploy):
    assert processes(host) == broken_deploy["before"][host.backend.get_hostname()]["procs"]


def test_previous_release_keeps_serving(host, broken_deploy):
    previous = broken_deploy["before"][host.backend.get_hostname()]["release"]
    assert health(host)["release"] == release_name(previous)
