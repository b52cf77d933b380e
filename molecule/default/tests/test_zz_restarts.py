"""Restarts, run after the other tests of the scenario: the whole container rebooted (the checks
imported from molecule/reboot_checks.py run first, in import order), then Redis restarted under
connected clients. The host must still be converged afterwards (the shared check-mode test runs
after this file). The steps are shared with the faults scenario (conftest)."""

import pytest

from conftest import broadcast_after_redis_restart, reboot
from reboot_checks import (  # noqa: F401  (test functions, collected here)
    ANSWER_WITHIN,
    test_every_daphne_process_runs_after_the_reboot,
    test_no_unit_of_the_stack_failed_at_boot,
    test_run_directory_is_recreated_at_boot,
    test_service_runs_after_the_reboot,
    test_site_answers_within_60_s_of_the_reboot,
    test_system_is_up_after_the_reboot,
)


def test_broadcast_reaches_clients_connected_before_redis_restart(host):
    received, seconds = broadcast_after_redis_restart(host, "restart")
    assert received is not None, "no broadcast reached the listener within 10 s of the Redis restart"
    assert received["ok"], received
    assert seconds <= 10


@pytest.fixture(scope="module")
def rebooted(host):
    state, answered_after, answer = reboot(host, answer_within=ANSWER_WITHIN)
    return {"state": state, "answered_after": answered_after, "answer": answer}
