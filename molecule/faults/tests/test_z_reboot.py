"""A reboot (docker restart) under load, last of the scenario: everything comes back by itself
and the site answers within 60 s of the restart (the checks: molecule/reboot_checks.py). The load
generator dies with the container; the summary says so and gives the time until the site
answered."""

import pytest

from conftest import reboot, steady_load
from faults_helpers import record_result
from reboot_checks import ANSWER_WITHIN, RebootChecks


class TestRebootUnderLoad(RebootChecks):
    """The shared checks of molecule/reboot_checks.py, after the reboot of ``rebooted`` below."""


@pytest.fixture(scope="module")
def rebooted(host):
    with steady_load(host, "reboot", may_die=True) as load:
        state, answered_after, answer = reboot(host, answer_within=ANSWER_WITHIN)
        load.notes["systemd"] = state
        load.notes["site answered after"] = "%s s" % (None if answered_after is None else round(answered_after, 1))
    record_result(load, answered_after_s=None if answered_after is None else round(answered_after, 1))
    return {"load": load, "state": state, "answered_after": answered_after, "answer": answer}
