"""Restarts, run after the other tests of the scenario: Redis restarted under connected clients,
then the whole container rebooted (the checks: molecule/reboot_checks.py). The host must still
be converged afterwards (the shared check-mode test runs after this file). The steps are shared
with the faults scenario (conftest)."""

import pytest

from conftest import broadcast_after_redis_restart, reboot
from reboot_checks import ANSWER_WITHIN, RebootChecks


def test_broadcast_reaches_clients_connected_before_redis_restart(host):
    received, seconds = broadcast_after_redis_restart(host, "restart")
    assert received is not None, "no broadcast reached the listener within 10 s of the Redis restart"
    assert received["ok"], received
    assert seconds <= 10


@pytest.fixture(scope="module")
def rebooted(host):
    state, answered_after, answer = reboot(host, answer_within=ANSWER_WITHIN)
    return {"state": state, "answered_after": answered_after, "answer": answer}


class TestReboot(RebootChecks):
    """The shared checks of molecule/reboot_checks.py, after the reboot of ``rebooted`` above."""
