"""A rotated SECRET_KEY in daphne_environment, deployed with -v and --diff on every host at once:
the processes restart with it, and it shows nowhere in the play's output nor on a command line.
The rotated secret stays on the host: test_stamps.py, the next module, needs an environment change
for its interrupted run and deploys the configured environment over it, its last run the converge
(no restoring run here, which the next module would undo at once)."""

import os

import pytest

from conftest import run_playbook
from daphne_helpers import ENV_FILE, all_hosts, processes, wait_all_running


@pytest.fixture(scope="module")
def rotation():
    hosts = all_hosts()
    environment = dict(list(hosts.values())[0].ansible.get_variables()["daphne_environment"])
    new_secret = "rotated-" + environment["SECRET_KEY"][::-1]
    environment["SECRET_KEY"] = new_secret
    before = {name: processes(h) for name, h in hosts.items()}
    saved = {k: os.environ.get(k) for k in ("ANSIBLE_VERBOSITY", "ANSIBLE_DIFF_ALWAYS")}
    os.environ["ANSIBLE_VERBOSITY"] = "1"
    os.environ["ANSIBLE_DIFF_ALWAYS"] = "1"
    try:
        proc = run_playbook("converge.yml", extra_vars={"daphne_environment": environment})
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return {"proc": proc, "secret": new_secret, "before": before}


def test_rotation_play_succeeds(rotation):
    proc = rotation["proc"]
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr


def test_environment_file_task_ran_with_its_output_hidden(rotation):
    assert "the output has been hidden due to the fact that" in rotation["proc"].stdout


def test_rotated_secret_appears_nowhere_in_the_play_output(rotation):
    assert rotation["secret"] not in rotation["proc"].stdout
    assert rotation["secret"] not in rotation["proc"].stderr


def test_processes_restarted_with_the_rotated_secret(host, rotation):
    before = rotation["before"][host.backend.get_hostname()]
    after = wait_all_running(host)
    assert all(after[n][1] != before[n][1] for n in before), (before, after)
    assert host.run("grep -qxF -- %s %s", "SECRET_KEY=" + rotation["secret"], ENV_FILE).rc == 0
    for name, (_state, pid) in after.items():
        environ = host.check_output("tr '\\0' '\\n' < /proc/%s/environ", str(pid))
        assert "SECRET_KEY=" + rotation["secret"] in environ.splitlines(), name


def test_rotated_secret_is_on_no_command_line(host, rotation):
    assert rotation["secret"] not in host.check_output("ps -eo user,pid,args")
