"""Restarts, run after the other tests of the scenario: Redis restarted under connected clients,
then the whole container rebooted (the checks: molecule/reboot_checks.py). The host must still
be converged afterwards (the shared check-mode test runs after this file). The steps are shared
with the faults scenario (conftest).

Not on default-trixie: the faults scenario deploys the same site (this scenario's converge.yml,
the defaults, Debian 13) on faults-trixie and runs both steps there under load, with these
checks and more (test_f_redis_restart.py: the broadcast within 10 s; test_z_reboot.py: the same
RebootChecks).
"""

import pytest

from conftest import broadcast_after_redis_restart, reboot
from reboot_checks import ANSWER_WITHIN, RebootChecks

# the same site on the same release is restarted in the faults scenario (faults-trixie)
RESTARTED_ELSEWHERE = {"default-trixie": "faults-trixie (test_f_redis_restart.py, test_z_reboot.py)"}


# module scope: before the module's own fixture (the reboot), which must not run on that host
@pytest.fixture(scope="module", autouse=True)
def restarted_here(host):
    elsewhere = RESTARTED_ELSEWHERE.get(host.backend.get_hostname())
    if elsewhere:
        pytest.skip("the same site on the same release is restarted on %s" % elsewhere)


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
