"""A rendered file that drifted on the host is put back by the next run.

One module fixture makes supervisord.conf's mode and the service drop-in's content drift on both
hosts, runs converge.yml once (which also leaves the hosts converged again), and the tests read
what that run did.
"""

import pytest
import testinfra

from conftest import parse_json_output, run_playbook

CONF = "/etc/supervisor/supervisord.conf"
DROPIN = "/etc/systemd/system/supervisor.service.d/50-asgi-channels.conf"
WRITES = ("Write supervisord.conf", "Write the service's drop-in (open files, kill mode, restart)")


def _results(result, name):
    """{host: result} of the task called ``name`` in the run (a role's task is named
    '<role> : <name>')."""
    for play in result["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"] == name or task["task"]["name"].endswith(" : " + name):
                return task["hosts"]
    raise AssertionError("no task %r in the run" % name)


@pytest.fixture(scope="module")
def drift(request):
    hosts = testinfra.get_hosts(
        ["all"], connection="ansible", ansible_inventory=request.config.option.ansible_inventory)
    for host in hosts:
        host.run_expect([0], "chmod 0600 %s && echo '# drift' >> %s" % (CONF, DROPIN))
    proc = run_playbook("converge.yml", json_output=True)
    assert proc.returncode == 0, "the run after the drift failed:\n%s\n%s" % (proc.stdout[-3000:], proc.stderr)
    return parse_json_output(proc)


@pytest.mark.parametrize("task", WRITES)
def test_the_drifted_file_was_written_again(host, drift, task):
    assert _results(drift, task)[host.backend.get_hostname()]["changed"] is True


def test_the_mode_is_back(host, drift):
    assert host.file(CONF).mode == 0o644


def test_the_content_is_back(host, drift):
    assert "# drift" not in host.file(DROPIN).content_string
