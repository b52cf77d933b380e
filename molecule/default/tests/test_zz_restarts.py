"""Restarts, run after the other tests of the scenario: Redis restarted under connected clients,
then the whole container rebooted. The host must still be converged afterwards (the shared
check-mode test runs after this file). The steps are shared with the faults scenario (conftest)."""

import pytest

from conftest import STACK_UNITS, broadcast_after_redis_restart, failed_units, reboot

ANSWER_WITHIN = 60


def test_broadcast_reaches_clients_connected_before_redis_restart(host):
    received, seconds = broadcast_after_redis_restart(host, "restart")
    assert received is not None, "no broadcast reached the listener within 10 s of the Redis restart"
    assert received["ok"], received
    assert seconds <= 10


@pytest.fixture(scope="module")
def rebooted(host):
    state, answered_after, answer = reboot(host, answer_within=ANSWER_WITHIN)
    return {"state": state, "answered_after": answered_after, "answer": answer}


def test_system_is_up_after_a_reboot(rebooted):
    assert rebooted["state"] in ("running", "degraded")


@pytest.mark.usefixtures("rebooted")
def test_no_unit_of_the_stack_failed_at_boot(host):
    assert not set(failed_units(host)) & set(STACK_UNITS), host.run("systemctl --failed --no-pager").stdout


@pytest.mark.usefixtures("rebooted")
@pytest.mark.parametrize("service", ["nginx", "supervisor", "redis-server"])
def test_service_runs_after_a_reboot(host, service):
    assert host.service(service).is_running


@pytest.mark.usefixtures("rebooted")
def test_run_directory_is_recreated_at_boot(host):
    run_dir = host.file("/run/daphne")
    assert run_dir.is_directory
    assert run_dir.user == "daphne"


def test_site_answers_within_60_s_of_the_reboot(rebooted):
    assert rebooted["answered_after"] is not None, rebooted["answer"]
    assert rebooted["answered_after"] <= ANSWER_WITHIN
