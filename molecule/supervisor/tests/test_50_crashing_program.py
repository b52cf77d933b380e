"""A program that cannot start fails the play, instead of going FATAL after the play said ok.

supervisorctl counts a process in STARTING as started. The role waits, after it started or
restarted a program, until its processes are past STARTING and BACKOFF, and fails on FATAL. One
module fixture applies a program that exits half a second after each start (through the
`program` entry point, as other roles do), then removes it again. Without the wait, that play
ended ok with the program STARTING, and it went FATAL a few seconds later.
"""

import pytest
import testinfra

from conftest import failure_message, run_playbook, supervisor_status
from supervisor_helpers import entry_point_playbook

NAME = "crasher"
# It crashes half a second after each start, within its startsecs: when the role's start check
# runs, the process is STARTING, which supervisorctl counts as started.
PROGRAM = {"name": NAME, "command": "/bin/sh -c 'sleep 0.5; exit 1'", "user": "sample", "startsecs": 3,
           "startretries": 1}


def _playbook(directory, program):
    return entry_point_playbook(directory / ("%s-%s.yml" % (NAME, program.get("state", "present"))), program)


@pytest.fixture(scope="module")
def crash(request, tmp_path_factory):
    directory = tmp_path_factory.mktemp("crash")
    hosts = testinfra.get_hosts(
        ["all"], connection="ansible", ansible_inventory=request.config.option.ansible_inventory)
    try:
        proc = run_playbook(_playbook(directory, PROGRAM))
        states = {h.backend.get_hostname(): supervisor_status(h, NAME) for h in hosts}
    finally:
        removed = run_playbook(_playbook(directory, dict(PROGRAM, state="absent")))
        assert removed.returncode == 0, "removing the program failed:\n%s" % removed.stdout[-3000:]
    return proc, states


def test_the_play_fails(crash):
    assert crash[0].returncode != 0


def test_the_failure_is_the_wait_and_shows_fatal(crash):
    message = failure_message(crash[0])
    assert "FATAL" in message, message


def test_the_program_was_fatal_when_the_play_stopped(host, crash):
    assert crash[1][host.backend.get_hostname()][NAME][0] == "FATAL"


def test_the_program_is_gone_after_its_removal(host, crash):
    assert NAME not in supervisor_status(host)
    assert not host.file("/etc/supervisor/conf.d/%s.conf" % NAME).exists
