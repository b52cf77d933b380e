"""kill -9 of one Daphne process under load: supervisord starts a new one within 5 s, no request
started after the kill fails (a request the killed process was answering at that moment may), only
the killed process's WebSocket clients drop, and they reconnect."""

import pytest

from conftest import kill_under_load
from faults_helpers import assert_dropped_clients_reconnected, record_result

BACK_WITHIN = 5


@pytest.fixture(scope="module")
def kill(host):
    killed = kill_under_load(host, "kill-9-daphne")
    load = killed["load"]
    record_result(load, back_running_after_s=killed["back_after"],
                  failed_requests_started_before_the_kill=len(load.result["http"]["failures"])
                  - len(load.http_failures_after(killed["killed_at"])))
    return {"load": load, "victim": killed["victim"], "old_pids": killed["before"], "new_pids": killed["after"],
            "killed_at": killed["killed_at"], "back_after": killed["back_after"]}


def test_killed_process_is_back_within_5_s(kill):
    assert kill["back_after"] is not None and kill["back_after"] <= BACK_WITHIN, kill["load"]


def test_killed_process_has_a_new_pid_and_the_other_kept_its_own(kill):
    for name, pid in kill["new_pids"].items():
        assert (pid != kill["old_pids"][name]) == (name == kill["victim"]), (kill["old_pids"], kill["new_pids"])


def test_no_request_started_after_the_kill_fails(kill):
    load = kill["load"]
    assert load.http_failures_after(kill["killed_at"]) == [], load


def test_only_clients_of_the_killed_process_are_dropped(kill):
    victim_pid = kill["old_pids"][kill["victim"]]
    dropped = kill["load"].ws_events("dropped")
    assert {event["pid"] for event in dropped} <= {victim_pid}, dropped


def test_dropped_clients_reconnect(kill):
    assert_dropped_clients_reconnected(kill["load"], "the killed process held no WebSocket: %s")
