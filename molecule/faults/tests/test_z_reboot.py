"""A reboot (docker restart) under load, last of the scenario: everything comes back by itself
and the site answers within 60 s of the restart. The load generator dies with the container; the
summary says so and gives the time until the site answered."""

import pytest

from conftest import STACK_UNITS, failed_units, reboot, steady_load
from faults_helpers import APP_USER, all_running

ANSWER_WITHIN = 60


@pytest.fixture(scope="module")
def rebooted(host):
    with steady_load(host, "reboot", may_die=True) as load:
        state, answered_after, answer = reboot(host, answer_within=ANSWER_WITHIN)
        load.notes["systemd"] = state
        load.notes["site answered after"] = "%s s" % (None if answered_after is None else round(answered_after, 1))
    return {"load": load, "state": state, "answered_after": answered_after, "answer": answer}


def test_system_is_up(rebooted):
    assert rebooted["state"] in ("running", "degraded")


@pytest.mark.usefixtures("rebooted")
def test_no_unit_of_the_stack_failed(host):
    assert not set(failed_units(host)) & set(STACK_UNITS), host.run("systemctl --failed --no-pager").stdout


@pytest.mark.usefixtures("rebooted")
@pytest.mark.parametrize("service", ["nginx", "supervisor", "redis-server"])
def test_service_is_running(host, service):
    assert host.service(service).is_running


@pytest.mark.usefixtures("rebooted")
def test_every_daphne_process_is_running(host):
    assert all_running(host), host.run("supervisorctl status").stdout


@pytest.mark.usefixtures("rebooted")
def test_run_directory_is_recreated(host):
    run_dir = host.file("/run/daphne")
    assert run_dir.is_directory
    assert run_dir.user == APP_USER


def test_site_answers_within_60_s_of_the_restart(rebooted):
    assert rebooted["answered_after"] is not None, "%s\n%s" % (rebooted["load"], rebooted["answer"])
    assert rebooted["answered_after"] <= ANSWER_WITHIN
