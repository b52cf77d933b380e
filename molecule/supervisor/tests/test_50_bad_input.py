"""Bad input fails before any change, with a message naming the variable and the allowed values.

Each case runs on both hosts at once: through converge.yml (main entry point, the bad program in
supervisor_programs) or through a one-task playbook using the `program` entry point as other roles
do. Each run must report no change (its recap), and the hosts must be unchanged: supervisord's PID,
the programs' PIDs and the checksums of /etc/supervisor and the unit's drop-ins, the same after the
last run as before the first. The runs change nothing, so they run two at a time.
"""

import concurrent.futures
import re

import pytest
import testinfra

from conftest import failure_message, run_playbook
from supervisor_helpers import entry_point_playbook

GOOD = {"name": "bad", "command": "/bin/sleep 1000"}
FCGI = dict(GOOD, kind="fcgi-program", socket="tcp://localhost:8002")

CASES = {
    # id: (entry point, program, expected words in the output)
    "unknown-kind": ("main", dict(GOOD, kind="cgi"),
                     ["kind", "program, fcgi-program", "supervisor_programs"]),
    "fcgi-numprocs-0": ("main", dict(FCGI, numprocs=0),
                        ["supervisor_programs[0].numprocs must be an integer >= 1"]),
    "socket-no-scheme": ("main", dict(FCGI, socket="localhost:8002"),
                         ["supervisor_programs[0].socket", "tcp://host:port", "unix:///absolute/path"]),
    "socket-bad-port": ("main", dict(FCGI, socket="tcp://localhost:99999"),
                        ["supervisor_programs[0].socket", "tcp://host:port"]),
    "fcgi-without-socket": ("main", {k: v for k, v in FCGI.items() if k != "socket"},
                            ["supervisor_programs[0].socket is required"]),
    "process-name-without-num": ("main", dict(FCGI, numprocs=2, process_name="%(program_name)s"),
                                 ["supervisor_programs[0].process_name must contain %(process_num)"]),
    "missing-command": ("main", {"name": "bad"}, ["command", "supervisor_programs"]),
    "socket-on-plain-program": ("main", dict(GOOD, socket="tcp://localhost:8002"),
                                ["supervisor_programs[0]", "fcgi-program only"]),
    "entry-point-bad-socket": ("program", dict(FCGI, socket="tcp://localhost"),
                               ["supervisor_program.socket", "tcp://host:port"]),
    "entry-point-unknown-kind": ("program", dict(GOOD, kind="daemon"),
                                 ["kind", "program, fcgi-program", "supervisor_program"]),
}

STATE_CMD = (
    # supervisorctl status without the uptime column: name, state, pid.
    "systemctl show -p MainPID --value supervisor; supervisorctl status | awk '{print $1, $2, $4}'; "
    "find /etc/supervisor /etc/systemd/system/supervisor.service.d -type f -print0 "
    "| sort -z | xargs -0 sha256sum"
)


def _run(case, directory):
    entry, program, _words = CASES[case]
    if entry == "main":
        return run_playbook("converge.yml", extra_vars={"supervisor_programs": [program]})
    return run_playbook(entry_point_playbook(directory / ("%s.yml" % case), program))


@pytest.fixture(scope="module")
def bad_runs(request, tmp_path_factory):
    """The hosts' state, every bad run (two at a time), the hosts' state again."""
    hosts = testinfra.get_hosts(
        ["all"], connection="ansible", ansible_inventory=request.config.option.ansible_inventory)
    directory = tmp_path_factory.mktemp("bad-input")
    before = {h.backend.get_hostname(): h.check_output(STATE_CMD) for h in hosts}
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = {case: pool.submit(_run, case, directory) for case in CASES}
        runs = {case: future.result() for case, future in futures.items()}
    after = {h.backend.get_hostname(): h.check_output(STATE_CMD) for h in hosts}
    return {"before": before, "after": after, "runs": runs}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_before_any_change(case, bad_runs):
    proc = bad_runs["runs"][case]
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-3000:]
    failure = failure_message(proc)
    for word in CASES[case][2]:
        assert word in failure, "%r not in the failure:\n%s" % (word, failure[:3000])
    assert not re.search(r"changed=[1-9]", output), output[-3000:]


def test_hosts_are_unchanged_by_the_bad_runs(bad_runs):
    assert bad_runs["after"] == bad_runs["before"]
