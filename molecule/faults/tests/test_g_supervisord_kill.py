"""kill -9 of supervisord under load: systemd starts it again within 15 s, it starts every Daphne
process on its socket again (no orphan of the old one holds the port), and the site answers. What
the outage costs is reported, with no target (every process is down for a moment), but it ends
there: no request started after the site answers again fails, and every dropped WebSocket client
is connected again at the end (failed attempts while the processes are down are allowed)."""

import time

import pytest

from conftest import host_time, steady_load, wait_until
from faults_helpers import (
    NUMPROCS, SUPERVISORD_LOG, all_running, assert_every_dropped_client_reconnected, daphne_processes, main_pid,
    record_result, site_answers,
)

BACK_WITHIN = 15


@pytest.fixture(scope="module")
def kill(host):
    old_pid = main_pid(host, "supervisor")
    log_offset = int(host.check_output("stat -c %%s %s", SUPERVISORD_LOG))
    with steady_load(host, "kill-9-supervisord") as load:
        time.sleep(1)
        killed_at = host_time(host)
        host.run("kill -9 %s", str(old_pid))
        back_after = wait_until(lambda: main_pid(host, "supervisor") not in (0, old_pid) and all_running(host), 30)
        answers_after = wait_until(lambda: site_answers(host), 30) if back_after is not None else None
        # Just after the first answer (container clock): requests started from here on must not fail.
        answered_at = host_time(host) if answers_after is not None else None
        load.notes["back RUNNING after"] = "%s s" % back_after
        load.notes["site answered"] = "%s s later" % answers_after
        time.sleep(2)
    new_log = host.check_output("tail -c +%s %s", str(log_offset + 1), SUPERVISORD_LOG)
    failures = load.result["http"]["failures"]
    record_result(load, back_running_after_s=back_after, site_answered_after_s=answers_after,
                  failed_requests_span_s=round(max(f["t"] for f in failures) - min(f["t"] for f in failures), 2)
                  if failures else 0)
    return {"load": load, "old_pid": old_pid, "new_pid": main_pid(host, "supervisor"), "killed_at": killed_at,
            "back_after": back_after, "answers_after": answers_after, "answered_at": answered_at, "log": new_log}


def test_supervisord_is_back_within_15_s(kill):
    assert kill["back_after"] is not None and kill["back_after"] <= BACK_WITHIN, kill["load"]
    assert kill["new_pid"] not in (0, kill["old_pid"])


def test_every_daphne_process_belongs_to_the_new_supervisord(host, kill):
    processes = daphne_processes(host)
    assert len(processes) == NUMPROCS, processes
    assert {ppid for _pid, ppid, _user in processes} == {kill["new_pid"]}, processes


def test_no_address_already_in_use_since_the_kill(kill):
    assert "Address already in use" not in kill["log"], kill["log"][-3000:]


def test_site_answers_after_the_kill(kill):
    assert kill["answers_after"] is not None, kill["load"]


def test_no_request_started_after_the_site_answers_again_fails(kill):
    load, http = kill["load"], kill["load"].result["http"]
    assert kill["answered_at"] is not None, load
    # Every failure is recorded (the load keeps the first 200), else a later one could be missing.
    assert len(http["failures"]) == http["failed"], load
    assert load.http_failures_after(kill["answered_at"]) == [], load


def test_every_dropped_client_reconnects(kill):
    assert_every_dropped_client_reconnected(kill["load"])
