"""asgi.channels.daphne on a converged host: the sample app examples/chat under supervisor's
fcgi-program, per-process unix sockets, rolling restarts, import gate, secrets, stale sockets.

Tests that change the host restore the converged state before they return (the shared
check-mode test must see a converged host).
"""

import json
import pathlib
import re
import shutil
import tempfile
import time

import pytest

from conftest import run_playbook

PROGRAM = "asgi"
APP_USER = "daphne"
APP_GROUP = "daphne"
APP_ROOT = "/srv/asgi"
RUN_DIR = "/run/daphne"
ENV_FILE = "/etc/daphne/asgi.env"
TMPFILES = "/etc/tmpfiles.d/daphne.conf"
SHARED_URL = "http://localhost:8000"
ORIGIN = "http://localhost"
SUPERVISORD_LOG = "/var/log/supervisor/supervisord.log"
APP_SOURCE = pathlib.Path(__file__).resolve().parents[3] / "examples" / "chat"


# --- helpers --------------------------------------------------------------------------------------
def _wsclient(host, *args):
    cmd = host.run("wsclient " + " ".join(args))
    assert cmd.stdout.strip(), "wsclient printed nothing: %s" % cmd.stderr
    return cmd.rc, json.loads(cmd.stdout)


def _processes(host):
    """{name: (state, pid)} of the program's processes, from supervisorctl."""
    out = host.run("supervisorctl status %s:", PROGRAM).stdout
    result = {}
    for line in out.splitlines():
        match = re.match(r"^(\S+)\s+(\S+)(?:\s+pid (\d+))?", line)
        if match and match.group(1).startswith(PROGRAM + ":"):
            result[match.group(1)] = (match.group(2), int(match.group(3)) if match.group(3) else None)
    return result


def _numprocs(host):
    return int(host.check_output("nproc"))


def _health(host, socket=None):
    args = ["http", SHARED_URL + "/health/"]
    if socket:
        args += ["--unix-socket", socket]
    rc, out = _wsclient(host, *args)
    assert rc == 0 and out["ok"], out
    return json.loads(out["bodies"][0])


def _wait_all_running(host, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        procs = _processes(host)
        if len(procs) == _numprocs(host) and all(state == "RUNNING" for state, _ in procs.values()):
            ok = True
            for num in range(len(procs)):
                if host.run("wsclient http %s/health/ --unix-socket %s", SHARED_URL, "%s/daphne%d.sock" % (RUN_DIR, num)).rc:
                    ok = False
            if ok:
                return procs
        time.sleep(1)
    raise AssertionError("processes not all RUNNING and healthy: %s" % _processes(host))


def _hostname(host):
    return host.backend.get_hostname()


def _copy_app(tmp_path):
    target = tmp_path / "chat"
    shutil.copytree(APP_SOURCE, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.sqlite3"))
    return target


def _current_release(host):
    return host.check_output("readlink -e %s/current", APP_ROOT)


def _converge(host, **extra_vars):
    proc = run_playbook("converge.yml", extra_vars=extra_vars or None, limit=_hostname(host))
    return proc


def _restore(host):
    proc = _converge(host)
    assert proc.returncode == 0, "restoring the converged state failed:\n%s\n%s" % (proc.stdout[-3000:], proc.stderr)
    _wait_all_running(host)


# --- processes and sockets ------------------------------------------------------------------------
def test_numprocs_processes_are_running(host):
    procs = _processes(host)
    assert len(procs) == _numprocs(host), procs
    assert all(state == "RUNNING" for state, _ in procs.values()), procs


def test_processes_run_as_the_app_user_not_root(host):
    for name, (_, pid) in _processes(host).items():
        user = host.check_output("ps -o user= -p %s", str(pid)).strip()
        assert user == APP_USER, "%s runs as %s" % (name, user)


def test_processes_are_daphne_on_fd0_with_their_own_socket(host):
    for name, (_, pid) in _processes(host).items():
        args = host.check_output("ps -o args= -p %s", str(pid))
        num = name.rsplit(PROGRAM, 1)[1]
        assert "daphne -u %s/daphne%s.sock --fd 0" % (RUN_DIR, num) in args, args
        assert "chatsite.asgi:application" in args


def test_shared_socket_listens(host):
    assert host.socket("tcp://127.0.0.1:8000").is_listening or host.socket("tcp://::1:8000").is_listening


def test_shared_socket_is_held_by_supervisord(host):
    out = host.check_output("ss -ltnpH 'sport = :8000'")
    assert "supervisord" in out, out


def test_run_dir_owner_and_mode(host):
    run_dir = host.file(RUN_DIR)
    assert run_dir.is_directory
    assert run_dir.user == APP_USER
    assert run_dir.group == APP_GROUP
    assert run_dir.mode == 0o755


def test_every_process_has_its_unix_socket(host):
    for num in range(_numprocs(host)):
        sock = host.file("%s/daphne%d.sock" % (RUN_DIR, num))
        assert sock.exists and sock.is_socket, sock.path
        assert sock.user == APP_USER


def test_tmpfiles_entry_recreates_the_run_dir_at_boot(host):
    assert host.file(TMPFILES).content_string.strip().splitlines()[-1] == "d %s 0755 %s %s -" % (
        RUN_DIR, APP_USER, APP_GROUP)


def test_systemd_tmpfiles_create_recreates_a_removed_run_dir(host):
    try:
        host.run_expect([0], "supervisorctl stop %s:", PROGRAM)
        host.run_expect([0], "rm -rf %s", RUN_DIR)
        assert not host.file(RUN_DIR).exists
        host.run_expect([0], "systemd-tmpfiles --create %s", TMPFILES)
        run_dir = host.file(RUN_DIR)
        assert run_dir.is_directory
        assert (run_dir.user, run_dir.group, run_dir.mode) == (APP_USER, APP_GROUP, 0o755)
    finally:
        host.run("systemd-tmpfiles --create %s", TMPFILES)
        host.run("supervisorctl start %s:", PROGRAM)
    _wait_all_running(host)


# --- traffic --------------------------------------------------------------------------------------
def test_http_to_the_shared_socket_answers_from_django(host):
    body = _health(host)
    assert body["status"] == "ok"
    assert body["process"] in ["%s%d" % (PROGRAM, n) for n in range(_numprocs(host))]
    assert body["release"] == pathlib.PurePosixPath(_current_release(host)).name


def test_chat_page_is_served(host):
    rc, out = _wsclient(host, "http", SHARED_URL + "/")
    assert rc == 0 and out["statuses"] == {"200": 1}, out
    assert "asgi.channels chat" in out["bodies"][0]
    assert "/static/chat/chat.js" in out["bodies"][0]


def test_collectstatic_wrote_the_static_files(host):
    assert host.file("/var/www/asgi/static/chat/chat.js").is_file


def test_migrate_created_the_database_in_the_shared_dir(host):
    db = host.file("%s/shared/db.sqlite3" % APP_ROOT)
    assert db.is_file and db.user == APP_USER


def test_websocket_handshake_101_and_echo(host):
    rc, out = _wsclient(host, "probe", "ws://localhost:8000/ws/echo/", "--origin", ORIGIN,
                        "--send", "ping-42", "--expect", "'\"echo\": \"ping-42\"'")
    assert rc == 0 and out["status"] == 101, out


def test_websocket_without_allowed_origin_is_refused(host):
    rc, out = _wsclient(host, "probe", "ws://localhost:8000/ws/echo/", "--origin", "http://evil.example")
    assert rc == 1 and "403" in out["error"], out


def test_each_process_answers_websockets_on_its_own_socket(host):
    for num in range(_numprocs(host)):
        rc, out = _wsclient(host, "probe", "ws://localhost/ws/chat/lobby/", "--origin", ORIGIN,
                            "--unix-socket", "%s/daphne%d.sock" % (RUN_DIR, num), "--send", "hi",
                            "--expect", "'\"process\": \"%s%d\"'" % (PROGRAM, num))
        assert rc == 0 and out["status"] == 101, out


# --- secrets --------------------------------------------------------------------------------------
def test_environment_file_is_root_owned_and_group_readable_only(host):
    env = host.file(ENV_FILE)
    assert (env.user, env.group, env.mode) == ("root", APP_GROUP, 0o640)


def test_secret_is_in_no_command_line_and_no_supervisor_file(host, ansible_vars):
    secret = ansible_vars["daphne_environment"]["SECRET_KEY"]
    assert secret not in host.check_output("ps -eo user,pid,args")
    assert host.run("grep -rlF -- %s /etc/supervisor", secret).rc == 1
    assert host.run("grep -rlF -- %s %s", secret, APP_ROOT).rc == 1


def test_changed_secret_appears_nowhere_in_the_converge_output(host, ansible_vars, monkeypatch):
    environment = dict(ansible_vars["daphne_environment"])
    new_secret = "rotated-" + environment["SECRET_KEY"][::-1]
    environment["SECRET_KEY"] = new_secret
    monkeypatch.setenv("ANSIBLE_VERBOSITY", "1")
    monkeypatch.setenv("ANSIBLE_DIFF_ALWAYS", "1")
    pids_before = _processes(host)
    try:
        proc = _converge(host, daphne_environment=environment)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
        # the env file did change (processes restarted), and the new secret is what they use
        assert host.run("grep -qF -- %s %s", new_secret, ENV_FILE).rc == 0
        pids_after = _wait_all_running(host)
        assert all(pids_after[n][1] != pids_before[n][1] for n in pids_before), (pids_before, pids_after)
        assert new_secret not in proc.stdout and new_secret not in proc.stderr
        assert new_secret not in host.check_output("ps -eo user,pid,args")
    finally:
        monkeypatch.delenv("ANSIBLE_VERBOSITY")
        monkeypatch.delenv("ANSIBLE_DIFF_ALWAYS")
        _restore(host)


# --- deploys --------------------------------------------------------------------------------------
def _supervisor_events(host, since_line):
    """(name, 'down'|'up') events of the program's processes after line `since_line` of the log."""
    events = []
    for line in host.check_output("tail -n +%s %s", str(since_line + 1), SUPERVISORD_LOG).splitlines():
        match = re.search(r"(stopped|exited|success): (%s\d+)" % PROGRAM, line)
        if match:
            events.append((match.group(2), "up" if match.group(1) == "success" else "down"))
    return events


def test_redeploy_with_changed_code_restarts_one_process_at_a_time_without_failed_requests(host):
    numprocs = _numprocs(host)
    old_release = _current_release(host)
    pids_before = _processes(host)
    log_lines = int(host.check_output("wc -l < %s", SUPERVISORD_LOG))
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="daphne-redeploy-"))
    try:
        app = _copy_app(tmp)
        with open(app / "chat" / "views.py", "a", encoding="utf-8") as views:
            views.write("\n# redeploy test: a changed file makes a new release\n")
        host.run("rm -f /tmp/loop.stop /tmp/loop.jsonl")
        host.run(
            "nohup sh -c 'while [ ! -e /tmp/loop.stop ]; do "
            "wsclient http %s/health/ --count 20 --interval 0.02; echo; done >> /tmp/loop.jsonl 2>&1' "
            ">/dev/null 2>&1 &", SHARED_URL)
        proc = _converge(host, daphne_source_path=str(app))
        time.sleep(2)  # a few more requests after the last restart
        host.run("touch /tmp/loop.stop")
        time.sleep(3)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
        results = [json.loads(line) for line in host.check_output("cat /tmp/loop.jsonl").splitlines() if line.strip()]
        total = sum(r.get("ok_count", 0) + r.get("failed", 0) for r in results)
        failed = sum(r.get("failed", 0) for r in results)
        errors = [r.get("errors") for r in results if r.get("failed")]
        assert total > 100, "the request loop barely ran: %s" % results[-3:]
        assert failed == 0, "%d of %d requests failed during the rolling restart: %s" % (failed, total, errors)

        new_release = _current_release(host)
        assert new_release != old_release
        pids_after = _wait_all_running(host)
        assert all(pids_after[n][1] != pids_before[n][1] for n in pids_before), (pids_before, pids_after)
        for num in range(numprocs):
            body = _health(host, "%s/daphne%d.sock" % (RUN_DIR, num))
            assert body["release"] == pathlib.PurePosixPath(new_release).name, body

        # one at a time: never two processes down together, every one restarted once
        events = _supervisor_events(host, log_lines)
        down = set()
        for name, kind in events:
            if kind == "down":
                down.add(name)
                assert len(down) == 1, "two processes down at once: %s" % events
            else:
                down.discard(name)
        assert sorted(n for n, k in events if k == "up") == ["%s%d" % (PROGRAM, n) for n in range(numprocs)], events
    finally:
        host.run("touch /tmp/loop.stop")
        shutil.rmtree(tmp, ignore_errors=True)
        _restore(host)
    assert _current_release(host) == old_release


def test_release_that_fails_to_import_leaves_the_previous_release_serving(host):
    old_release = _current_release(host)
    pids_before = _processes(host)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="daphne-broken-"))
    releases_before = set(host.check_output("ls %s/releases", APP_ROOT).split())
    try:
        app = _copy_app(tmp)
        asgi = app / "chatsite" / "asgi.py"
        asgi.write_text(asgi.read_text(encoding="utf-8") + "\nimport chat.no_such_module_in_this_release\n",
                        encoding="utf-8")
        proc = _converge(host, daphne_source_path=str(app))
        output = proc.stdout + proc.stderr
        assert proc.returncode != 0, "the play passed with a release that does not import"
        assert "importing chatsite.asgi:application failed" in output, output[-3000:]
        assert "ModuleNotFoundError: No module named 'chat.no_such_module_in_this_release'" in output, output[-3000:]
        assert _current_release(host) == old_release
        assert _processes(host) == pids_before
        assert _health(host)["release"] == pathlib.PurePosixPath(old_release).name
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        for release in set(host.check_output("ls %s/releases", APP_ROOT).split()) - releases_before:
            host.run("rm -rf %s/releases/%s", APP_ROOT, release)
    _wait_all_running(host)


# --- crashes --------------------------------------------------------------------------------------
def test_killed_process_restarts_over_its_stale_socket(host):
    name = "%s:%s0" % (PROGRAM, PROGRAM)
    _, pid = _processes(host)[name]
    host.run_expect([0], "kill -9 %s", str(pid))
    # kill -9 leaves daphne0.sock (and Twisted's lock) behind; the new process must still start
    procs = _wait_all_running(host)
    assert procs[name][1] != pid
    assert _health(host, "%s/daphne0.sock" % RUN_DIR)["pid"] == procs[name][1]


def test_stale_socket_and_lock_files_do_not_prevent_start(host):
    name = "%s:%s0" % (PROGRAM, PROGRAM)
    sock = "%s/daphne0.sock" % RUN_DIR
    try:
        host.run_expect([0], "supervisorctl stop %s", name)
        host.run("rm -f %s %s.lock", sock, sock)
        # a socket inode nobody listens on, and a lock pointing to a dead pid, owned by the app user
        host.run_expect([0], "runuser -u %s -- python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind(\"%s\")'",
                        APP_USER, sock)
        host.run_expect([0], "runuser -u %s -- ln -s 999999 %s.lock", APP_USER, sock)
        assert host.file(sock).is_socket
        host.run_expect([0], "supervisorctl start %s", name)
    finally:
        host.run("supervisorctl start %s", name)
    procs = _wait_all_running(host)
    assert _health(host, sock)["pid"] == procs[name][1]


# --- layout ---------------------------------------------------------------------------------------
def test_code_belongs_to_root_and_is_not_writable_by_the_app_user(host):
    current = _current_release(host)
    assert host.file(current).user == "root"
    assert host.run("runuser -u %s -- touch %s/chatsite/x", APP_USER, current).rc != 0
    assert host.run("runuser -u %s -- test -r %s/chatsite/settings.py", APP_USER, current).rc == 0


def test_release_is_complete_and_named_by_its_content(host):
    current = _current_release(host)
    marker = host.file(current + "/.asgi-release-ok")
    assert marker.is_file
    assert marker.content_string.strip() == pathlib.PurePosixPath(current).name
    assert host.file(current + "/venv/bin/daphne").is_file
    version = host.check_output("%s/venv/bin/python -m pip show daphne | sed -n 's/^Version: //p'", current)
    assert version == "4.2.3"
