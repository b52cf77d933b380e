"""Every scenario: a ``--check`` run of the scenario's converge playbook on the converged hosts
reports nothing changed (and nothing failed).

It runs once per scenario (no ``host`` fixture), with Molecule's own inventory and ansible.cfg
(the verifier inherits Molecule's environment), and reads the json callback's results.
"""

from conftest import changed_tasks, parse_json_output, run_playbook


def test_check_mode_on_converged_hosts_reports_no_change():
    proc = run_playbook("converge.yml", check=True, json_output=True)
    result = parse_json_output(proc)
    stats = result["stats"]
    assert stats, "the check run reached no host:\n%s" % proc.stderr
    failed = {h: s for h, s in stats.items() if s["failures"] or s["unreachable"]}
    assert not failed, "check run failed on %s:\n%s" % (failed, proc.stderr)
    changed = list(changed_tasks(result))
    assert not changed, "check mode reports changes on a converged host:\n" + "\n".join(changed)
