"""Checks after a reboot (``docker restart`` of the container), shared by the default and faults
scenarios: a test module subclasses ``RebootChecks`` as ``Test...`` (pytest collects the
inherited tests there) and defines a module fixture ``rebooted``, a dict with ``state``
(systemd's), ``answered_after`` (seconds from the restart command to the site's first 2xx, or
None) and ``answer`` (the last answer), from ``conftest.reboot``.
"""

import time

import pytest

from conftest import STACK_UNITS, asgi_status, failed_units, manager_units

ANSWER_WITHIN = 60
# seconds after the site's first answer for the process manager to count every process RUNNING
RUNNING_WITHIN = 10
APP_USER = "daphne"


class RebootChecks:
    """Everything is back after the reboot (its name does not start with Test: not collected here)."""

    def test_system_is_up_after_the_reboot(self, rebooted):
        assert rebooted["state"] in ("running", "degraded")

    @pytest.mark.usefixtures("rebooted")
    def test_no_unit_of_the_stack_failed_at_boot(self, host):
        assert not set(failed_units(host)) & set(STACK_UNITS), host.run("systemctl --failed --no-pager").stdout

    @pytest.mark.usefixtures("rebooted")
    @pytest.mark.parametrize("service", ["nginx", "redis-server"])
    def test_service_runs_after_the_reboot(self, host, service):
        assert host.service(service).is_running

    @pytest.mark.usefixtures("rebooted")
    def test_the_process_managers_units_run_after_the_reboot(self, host):
        for unit in manager_units(host):
            assert host.service(unit).is_running, unit

    @pytest.mark.usefixtures("rebooted")
    def test_every_daphne_process_runs_after_the_reboot(self, host):
        # A process serves before supervisord counts it RUNNING (after its startsecs, 1 s), so the
        # site's first answer can come while supervisorctl still says STARTING: allow that second.
        deadline = time.monotonic() + RUNNING_WITHIN
        status = asgi_status(host)
        while not (status and all(state == "RUNNING" for state, _pid in status.values())) \
                and time.monotonic() < deadline:
            time.sleep(0.5)
            status = asgi_status(host)
        assert status and all(state == "RUNNING" for state, _pid in status.values()), status

    @pytest.mark.usefixtures("rebooted")
    def test_run_directory_is_recreated_at_boot(self, host):
        run_dir = host.file("/run/daphne")
        assert run_dir.is_directory
        assert run_dir.user == APP_USER

    def test_site_answers_within_60_s_of_the_reboot(self, rebooted):
        assert rebooted["answered_after"] is not None, rebooted
        assert rebooted["answered_after"] <= ANSWER_WITHIN
