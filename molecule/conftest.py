"""Shared testinfra fixtures and hooks for every Molecule scenario.

- On a failed test that used the ``host`` fixture, the host's recent journal (and supervisor's
  view, where supervisor is installed) is attached to the report, so a CI log says why.
- ``ansible_vars`` gives a test the variables Ansible sees for its host (role defaults are not
  included: scenarios state the values they test in their inventory or converge vars).
"""

import os

import pytest

JOURNAL_LINES = 80


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    host = item.funcargs.get("host") if hasattr(item, "funcargs") else None
    if host is None:
        return
    try:
        journal = host.run("journalctl --no-pager -n %d -o short-precise", JOURNAL_LINES).stdout
        report.sections.append(("journal (last %d lines)" % JOURNAL_LINES, journal))
        status = host.run("supervisorctl status 2>&1 || true").stdout
        report.sections.append(("supervisorctl status", status))
    except Exception as exc:  # the report must never fail because the host is gone
        report.sections.append(("journal", "could not read the journal: %s" % exc))


@pytest.fixture
def ansible_vars(host):
    return host.ansible.get_variables()


@pytest.fixture(scope="session")
def scenario_directory():
    return os.environ["MOLECULE_SCENARIO_DIRECTORY"]
