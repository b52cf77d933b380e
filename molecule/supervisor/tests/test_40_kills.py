"""supervisord restarts a killed child; systemd restarts a killed supervisord, and no child of the
killed one survives to hold the fcgi socket (supervisor #1567, "Address already in use")."""

import time

import pytest

from conftest import supervisor_status

HTTP_GET = (
    "python3 -c \"import urllib.request as u; "
    "print(u.urlopen('http://127.0.0.1:8000/', timeout=5).read().decode())\""
)
ECHO = ("pidecho:pidecho0", "pidecho:pidecho1")
PROGRAMS = ("sample-http",) + ECHO


def _main_pid(host):
    return int(host.check_output("systemctl show -p MainPID --value supervisor"))


def _wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    return predicate()


def _alive(host, pid):
    return host.run("kill -0 %s", str(pid)).rc == 0


def test_killed_child_is_restarted_by_supervisord(host):
    before = supervisor_status(host)
    victim, other = before[ECHO[0]][1], before[ECHO[1]][1]
    host.check_output("kill -9 %s", str(victim))

    def restarted():
        now = supervisor_status(host)
        state, pid = now.get(ECHO[0], (None, None))
        return state == "RUNNING" and pid not in (None, victim) and now

    now = _wait_for(restarted, 15)
    assert now, "pidecho0 was not restarted within 15 s: %s" % supervisor_status(host)
    assert now[ECHO[1]][1] == other
    assert int(host.check_output(HTTP_GET)) in {now[n][1] for n in ECHO}


@pytest.fixture(scope="module")
def supervisord_killed(host):
    """kill -9 of supervisord, then up to 15 s for systemd to bring it and every program back."""
    before = supervisor_status(host)
    old_main = _main_pid(host)
    cursor = host.check_output("journalctl --show-cursor -n 0 -q | sed -n 's/^-- cursor: //p'")
    log_lines = int(host.check_output("wc -l < /var/log/supervisor/supervisord.log"))
    started = time.monotonic()
    host.check_output("kill -9 %s", str(old_main))

    def back():
        main = _main_pid(host)
        if main in (0, old_main) or host.run("supervisorctl pid").stdout.strip() != str(main):
            return None
        now = supervisor_status(host)
        if all(now.get(n, (None,))[0] == "RUNNING" for n in PROGRAMS):
            return now
        return None

    now = _wait_for(back, 15)
    return {
        "now": now,
        "elapsed": time.monotonic() - started,
        "old_children": [before[n][1] for n in PROGRAMS],
        "journal": host.run("journalctl -u supervisor --no-pager --after-cursor=%s", cursor).stdout,
        "log": "\n".join(host.file("/var/log/supervisor/supervisord.log").content_string.splitlines()[log_lines:]),
    }


def test_killed_supervisord_is_back_with_its_programs_within_15_s(supervisord_killed):
    assert supervisord_killed["now"], "supervisord and its programs not back within 15 s:\n%s" % (
        supervisord_killed["journal"])
    assert supervisord_killed["elapsed"] < 15


def test_killed_supervisord_leaves_no_orphan(host, supervisord_killed):
    orphans = [pid for pid in supervisord_killed["old_children"] if _alive(host, pid)]
    assert not orphans, "children of the killed supervisord still alive: %s" % orphans


@pytest.mark.parametrize("source", ["journal", "log"])
def test_restarted_supervisord_binds_its_socket_again(supervisord_killed, source):
    """No "Address already in use" in the unit's journal or supervisord's log since the kill."""
    assert "Address already in use" not in supervisord_killed[source], supervisord_killed[source]


def test_fcgi_socket_answers_from_a_new_child_after_the_kill(host, supervisord_killed):
    assert supervisord_killed["now"], supervisord_killed["journal"]
    assert host.socket("tcp://127.0.0.1:8000").is_listening
    assert int(host.check_output(HTTP_GET)) in {supervisord_killed["now"][n][1] for n in ECHO}
