"""Every scenario: a ``--check`` run of the scenario's converge playbook on the converged hosts
reports nothing changed (and nothing failed).

It runs once per scenario (no ``host`` fixture), with Molecule's own inventory and ansible.cfg
(the verifier inherits Molecule's environment), and reads the per-host stats of the json callback.
"""

import json
import os
import pathlib
import subprocess


def _check_run():
    env = dict(os.environ)
    env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
    # Only the json stdout callback: a second callback (Molecule enables profile_tasks) would
    # print into the JSON.
    env["ANSIBLE_CALLBACKS_ENABLED"] = "ansible.posix.json"
    inventory = pathlib.Path(env["MOLECULE_INVENTORY_FILE"]).parent
    playbook = pathlib.Path(env["MOLECULE_SCENARIO_DIRECTORY"]) / "converge.yml"
    proc = subprocess.run(
        ["ansible-playbook", "--check", "-i", str(inventory), str(playbook)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    start = proc.stdout.find("{")
    assert start >= 0, "no JSON from ansible-playbook --check:\n%s\n%s" % (proc.stdout, proc.stderr)
    return proc, json.loads(proc.stdout[start:])


def _changed_tasks(result):
    for play in result["plays"]:
        for task in play["tasks"]:
            for hostname, res in task["hosts"].items():
                if res.get("changed"):
                    yield "%s: %s" % (hostname, task["task"]["name"])


def test_check_mode_on_converged_hosts_reports_no_change():
    proc, result = _check_run()
    stats = result["stats"]
    assert stats, "the check run reached no host:\n%s" % proc.stderr
    failed = {h: s for h, s in stats.items() if s["failures"] or s["unreachable"]}
    assert not failed, "check run failed on %s:\n%s" % (failed, proc.stderr)
    changed = list(_changed_tasks(result))
    assert not changed, "check mode reports changes on a converged host:\n" + "\n".join(changed)
