"""Shared testinfra fixtures and hooks for every Molecule scenario.

- On a failed test that used the ``host`` fixture, the host's recent journal (and supervisor's
  view, where supervisor is installed) is attached to the report, so a CI log says why.
- ``ansible_vars`` gives a test the variables Ansible sees for its host (role defaults are not
  included: scenarios state the values they test in their inventory or converge vars).
- ``run_playbook`` / ``parse_json_output`` run a playbook of the scenario against its hosts
  (bad-input tests, check-mode runs, redeploys); ``supervisor_status`` reads supervisorctl;
  ``wsclient`` runs the shared test client (molecule/shared/files/wsclient.py) in a container.
  Import them with ``from conftest import ...``.
"""

import json
import os
import pathlib
import re
import subprocess

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
        journal = host.run("journalctl --no-pager -n %s -o short-precise", str(JOURNAL_LINES)).stdout
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


def run_playbook(playbook, extra_vars=None, check=False, limit=None, json_output=False):
    """Run ``ansible-playbook`` against the scenario's converged hosts, as Molecule would.

    ``playbook`` is a path relative to the scenario directory (or absolute). ``extra_vars`` is a
    dict passed as JSON with ``-e``. With ``json_output`` the ansible.posix.json stdout callback is
    used (and only it), so ``parse_json_output`` can read per-task results. Returns the
    CompletedProcess (never raises on a failed play: the caller asserts).
    """
    env = dict(os.environ)
    if json_output:
        # Only the json stdout callback: a second callback (Molecule enables profile_tasks)
        # would print into the JSON.
        env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
        env["ANSIBLE_CALLBACKS_ENABLED"] = "ansible.posix.json"
    scenario = pathlib.Path(env["MOLECULE_SCENARIO_DIRECTORY"])
    inventory = pathlib.Path(env["MOLECULE_INVENTORY_FILE"]).parent
    cmd = ["ansible-playbook", "-i", str(inventory), str(scenario / playbook)]
    if check:
        cmd.append("--check")
    if limit:
        cmd += ["--limit", limit]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)


def parse_json_output(proc):
    """The ansible.posix.json result of a ``run_playbook(..., json_output=True)`` call."""
    start = proc.stdout.find("{")
    assert start >= 0, "no JSON from ansible-playbook:\n%s\n%s" % (proc.stdout, proc.stderr)
    return json.loads(proc.stdout[start:])


def supervisor_status(host, pattern=""):
    """{process name: (state, pid or None)} from ``supervisorctl status [pattern]``."""
    result = {}
    for line in host.run("supervisorctl status %s" % pattern).stdout.splitlines():
        match = re.match(r"^(\S+)\s+([A-Z]+)\b(?:.*?\bpid (\d+),)?", line)
        if match:
            result[match.group(1)] = (match.group(2), int(match.group(3)) if match.group(3) else None)
    return result


def wsclient(host, args):
    """Run the shared test client inside the container; its JSON result (``ok`` says pass/fail)."""
    result = host.run("wsclient %s" % args)
    assert result.stdout.strip(), "wsclient printed nothing: %s" % result.stderr
    return json.loads(result.stdout)
