"""A program change touches that program only.

One module fixture applies a chain of changes with converge.yml on both hosts at once (extra vars
change the sample programs), snapshots the hosts after each step, and restores the converged
state at the end (re-running converge.yml unchanged):

  change-http:  sample-http's environment changes (supervisor_programs, main entry point)
  change-echo:  pidecho's environment changes (entry point `program`); sample-http stays as is
  remove-http:  sample-http gets state absent
  remove-echo:  pidecho gets state absent through the entry point `program`, by its name only (the
                item does not say that it had two processes named pidecho0 and pidecho1)
  restore:      converge.yml as committed (sample-http back, pidecho back)
"""


import pytest
import testinfra

from conftest import parse_json_output, run_playbook, supervisor_status

HTTP = "sample-http"
ECHO = ("pidecho:pidecho0", "pidecho:pidecho1")
STEPS = [
    ("change-http", {"sample_http_generation": "2"}),
    ("change-echo", {"sample_http_generation": "2", "sample_echo_generation": "2"}),
    ("remove-http", {"sample_http_generation": "2", "sample_echo_generation": "2",
                     "sample_http_state": "absent"}),
    ("remove-echo", {"sample_http_generation": "2", "sample_echo_generation": "2",
                     "sample_http_state": "absent",
                     "sample_echo_program": {"name": "pidecho", "state": "absent"}}),
]
FACT_TASK = "Report supervisor_program_changed"


def _snapshot(host):
    status = supervisor_status(host)
    generations = {}
    for name, (_state, pid) in status.items():
        if pid:
            environ = host.file("/proc/%d/environ" % pid).content.split(b"\0")
            generations[name] = [v.split(b"=", 1)[1].decode() for v in environ
                                 if v.startswith(b"SAMPLE_GENERATION=")]
    return {
        "status": status,
        "generations": generations,
        "supervisord": host.check_output("systemctl show -p MainPID --value supervisor"),
        "http_file": host.file("/etc/supervisor/conf.d/%s.conf" % HTTP).exists,
        "http_listening": host.socket("tcp://127.0.0.1:8001").is_listening,
        "http_processes": host.run("pgrep -u sample -f 'http.server 8001'").stdout.split(),
        "echo_file": host.file("/etc/supervisor/conf.d/pidecho.conf").exists,
        "echo_listening": host.socket("tcp://127.0.0.1:8000").is_listening,
        "echo_processes": host.run("pgrep -u sample -f /usr/local/bin/pid-echo").stdout.split(),
    }


def _fact_messages(result):
    """{host: msg} of the converge play's report task."""
    for play in result["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"] == FACT_TASK:
                return {h: r.get("msg") for h, r in task["hosts"].items()}
    return {}


@pytest.fixture(scope="module")
def changes(request):
    hosts = testinfra.get_hosts(
        ["all"], connection="ansible", ansible_inventory=request.config.option.ansible_inventory)
    by_name = {h.backend.get_hostname(): h for h in hosts}
    snapshots = {"before": {n: _snapshot(h) for n, h in by_name.items()}}
    facts = {}
    try:
        for step, extra_vars in STEPS:
            proc = run_playbook("converge.yml", extra_vars=extra_vars, json_output=True)
            assert proc.returncode == 0, "%s failed:\n%s\n%s" % (step, proc.stdout[-3000:], proc.stderr)
            facts[step] = _fact_messages(parse_json_output(proc))
            snapshots[step] = {n: _snapshot(h) for n, h in by_name.items()}
    finally:
        proc = run_playbook("converge.yml")
        assert proc.returncode == 0, "restoring the converged state failed:\n%s" % proc.stdout[-3000:]
    snapshots["restore"] = {n: _snapshot(h) for n, h in by_name.items()}
    return snapshots, facts


def _pid(snapshot, name):
    return snapshot["status"][name][1]


def _step(changes, host, step):
    return changes[0][step][host.backend.get_hostname()]


def test_changing_a_program_restarts_it(host, changes):
    before, after = _step(changes, host, "before"), _step(changes, host, "change-http")
    assert after["status"][HTTP][0] == "RUNNING"
    assert _pid(after, HTTP) != _pid(before, HTTP)


def test_changed_program_runs_with_its_new_configuration(host, changes):
    assert _step(changes, host, "before")["generations"][HTTP] == ["1"]
    assert _step(changes, host, "change-http")["generations"][HTTP] == ["2"]


def test_changing_a_program_keeps_the_other_programs_pids(host, changes):
    before, after = _step(changes, host, "before"), _step(changes, host, "change-http")
    assert [_pid(after, n) for n in ECHO] == [_pid(before, n) for n in ECHO]


def test_changing_a_program_keeps_supervisord(host, changes):
    before, after = _step(changes, host, "before"), _step(changes, host, "change-http")
    assert after["supervisord"] == before["supervisord"]


def test_changing_the_fcgi_program_restarts_its_children(host, changes):
    before, after = _step(changes, host, "change-http"), _step(changes, host, "change-echo")
    for name in ECHO:
        assert after["status"][name][0] == "RUNNING"
        assert _pid(after, name) != _pid(before, name)
        assert after["generations"][name] == ["2"]


def test_changing_the_fcgi_program_keeps_the_other_program_and_supervisord(host, changes):
    before, after = _step(changes, host, "change-http"), _step(changes, host, "change-echo")
    assert _pid(after, HTTP) == _pid(before, HTTP)
    assert after["supervisord"] == before["supervisord"]


def test_program_entry_point_reports_its_change(host, changes):
    facts = changes[1]
    name = host.backend.get_hostname()
    assert facts["change-http"][name] == "supervisor_program_changed=False"
    assert facts["change-echo"][name] == "supervisor_program_changed=True"


def test_removed_program_is_stopped_and_its_file_deleted(host, changes):
    removed = _step(changes, host, "remove-http")
    assert HTTP not in removed["status"]
    assert not removed["http_file"]
    assert not removed["http_listening"]
    assert removed["http_processes"] == []


def test_removing_a_program_keeps_the_other_programs_pids(host, changes):
    before, after = _step(changes, host, "change-echo"), _step(changes, host, "remove-http")
    assert [_pid(after, n) for n in ECHO] == [_pid(before, n) for n in ECHO]
    assert after["supervisord"] == before["supervisord"]


def test_program_removed_by_name_only_is_stopped(host, changes):
    removed = _step(changes, host, "remove-echo")
    assert not [n for n in removed["status"] if n.startswith("pidecho:")], removed["status"]
    assert removed["echo_processes"] == []


def test_program_removed_by_name_only_releases_its_socket(host, changes):
    assert _step(changes, host, "before")["echo_listening"]
    assert not _step(changes, host, "remove-echo")["echo_listening"]


def test_program_removed_by_name_only_has_its_file_deleted(host, changes):
    assert not _step(changes, host, "remove-echo")["echo_file"]


def test_removing_a_program_by_name_keeps_supervisord(host, changes):
    before, after = _step(changes, host, "remove-http"), _step(changes, host, "remove-echo")
    assert after["supervisord"] == before["supervisord"]


def test_program_entry_point_reports_a_removal(host, changes):
    assert changes[1]["remove-echo"][host.backend.get_hostname()] == "supervisor_program_changed=True"


def test_restore_brings_back_the_converged_programs(host, changes):
    restored = _step(changes, host, "restore")
    assert restored["status"][HTTP][0] == "RUNNING"
    assert restored["http_file"]
    assert all(restored["status"][n][0] == "RUNNING" for n in ECHO)
    assert restored["supervisord"] == _step(changes, host, "before")["supervisord"]
