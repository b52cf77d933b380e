"""asgi.channels.daphne on a converged host: the sample app examples/chat under supervisor's
fcgi-program, per-process unix sockets, rolling restarts, import gate, secrets, stale sockets.

Tests that change the host restore the converged state before they return (the shared
check-mode test must see a converged host).
"""

import pathlib
import re
import statistics

import pytest
import yaml

from daphne_helpers import (
    APP_GROUP,
    APP_ROOT,
    APP_USER,
    ENV_FILE,
    ORIGIN,
    PROGRAM,
    RUN_DIR,
    SHARED_URL,
    STATIC_ROOT,
    TMPFILES,
    current_release,
    health,
    numprocs,
    own_socket,
    processes,
    wait_all_running,
    wsclient,
)

# The scenario pins daphne_version (the oldest supported); the venv must hold the pinned release.
ROLE_DEFAULTS = yaml.safe_load(
    (pathlib.Path(__file__).resolve().parents[3] / "roles" / "daphne" / "defaults" / "main.yml").read_text())


# --- processes and sockets ------------------------------------------------------------------------
def test_numprocs_processes_are_running(host):
    procs = processes(host)
    assert len(procs) == numprocs(host), procs
    assert all(state == "RUNNING" for state, _pid in procs.values()), procs


def test_processes_run_as_the_app_user_not_root(host):
    for name, (_state, pid) in processes(host).items():
        user = host.check_output("ps -o user= -p %s", str(pid)).strip()
        assert user == APP_USER, "%s runs as %s" % (name, user)


def test_processes_are_daphne_on_fd0_with_their_own_socket(host):
    for name, (_state, pid) in processes(host).items():
        args = host.check_output("ps -o args= -p %s", str(pid))
        num = name.rsplit(PROGRAM, 1)[1]
        assert "/venv/bin/python %s/bin/daphne-serve.py -u %s/daphne%s.sock --fd 0" % (APP_ROOT, RUN_DIR, num) in args, args
        assert "chatsite.asgi:application" in args


def test_shared_socket_listens(host):
    assert host.socket("tcp://127.0.0.1:8000").is_listening or host.socket("tcp://::1:8000").is_listening


def test_shared_socket_is_held_by_supervisord(host):
    out = host.check_output("ss -ltnpH 'sport = :8000'")
    assert "supervisord" in out, out


def test_each_process_set_the_garbage_collector_before_serving(host):
    """daphne-serve logs its collector settings (role defaults here) with its pid."""
    log = host.file("/var/log/daphne/%s.log" % PROGRAM).content_string
    threshold = str(ROLE_DEFAULTS["daphne_gc_threshold"])
    for name, (_state, pid) in processes(host).items():
        # the last line of this pid: pids repeat across container restarts
        found = re.findall(r"^daphne-serve\[%s\]: gc threshold (\[[0-9, ]+\]), ([0-9]+) startup objects frozen$"
                           % pid, log, re.MULTILINE)
        assert found, "%s (pid %s) logged no collector settings" % (name, pid)
        logged_threshold, frozen = found[-1]
        assert logged_threshold == threshold
        assert int(frozen) > 10000, "only %s objects frozen: the application was not loaded" % frozen


def test_each_process_accepts_one_connection_at_a_time_on_the_shared_socket(host):
    """daphne_balanced_accept (the default): daphne-serve logs it with its pid."""
    log = host.file("/var/log/daphne/%s.log" % PROGRAM).content_string
    for name, (_state, pid) in processes(host).items():
        assert re.search(r"^daphne-serve\[%s\]: one connection per turn on the shared socket$" % pid, log, re.MULTILINE), \
            "%s (pid %s) did not log its accept mode" % (name, pid)


def test_a_burst_of_connections_spreads_over_the_processes(host):
    """32 requests, each on a new connection opened right after the previous one, 21 times: in
    the median burst the busiest process served at most twice what the least busy did. With
    Twisted's batch accept the median was about 3.6 (25/7 on two processes; 32/0 in some
    bursts); with the balanced accept about 1.1 to 1.3 on a quiet machine. A burst can still go
    mostly to one process when the others get no CPU time at that moment: with another Molecule
    lane on the machine's two cores, a CI run saw half of 11 bursts within 1.3 and the others at
    20/12 to 26/6 (median 1.67), so the bound sits between that and the batch accept's 3.6, over
    more bursts."""
    pids = [pid for _state, pid in processes(host).values()]
    bursts, spreads = [], []
    for _burst in range(21):
        rc, out = wsclient(host, "burst", SHARED_URL + "/health/", "--count", "32", "--key", "pid")
        assert rc == 0, out
        counts = [out["by_key"].get(str(pid), 0) for pid in pids]
        bursts.append(counts)
        spreads.append(max(counts) / min(counts) if min(counts) else float("inf"))
    assert statistics.median(spreads) <= 2.0, "connections per process in each burst: %s" % bursts


def test_run_dir_owner_and_mode(host):
    run_dir = host.file(RUN_DIR)
    assert run_dir.is_directory
    assert run_dir.user == APP_USER
    assert run_dir.group == APP_GROUP
    assert run_dir.mode == 0o755


def test_every_process_has_its_unix_socket(host):
    for num in range(numprocs(host)):
        sock = host.file(own_socket(num))
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
    wait_all_running(host)


# --- traffic --------------------------------------------------------------------------------------
def test_http_to_the_shared_socket_answers_from_django(host):
    body = health(host)
    assert body["status"] == "ok"
    assert body["process"] in ["%s%d" % (PROGRAM, n) for n in range(numprocs(host))]
    assert body["release"] == pathlib.PurePosixPath(current_release(host)).name


def test_chat_page_is_served(host):
    rc, out = wsclient(host, "http", SHARED_URL + "/")
    assert rc == 0 and out["statuses"] == {"200": 1}, out
    assert "asgi.channels chat" in out["bodies"][0]
    assert "/static/chat/chat.js" in out["bodies"][0]


def test_collectstatic_wrote_the_static_files(host):
    assert host.file(STATIC_ROOT + "/chat/chat.js").is_file


def test_migrate_created_the_database_in_the_shared_dir(host):
    db = host.file("%s/shared/db.sqlite3" % APP_ROOT)
    assert db.is_file and db.user == APP_USER


def test_websocket_handshake_101_and_echo(host):
    rc, out = wsclient(host, "probe", "ws://localhost:8000/ws/echo/", "--origin", ORIGIN,
                       "--send", "ping-42", "--expect", "'\"echo\": \"ping-42\"'")
    assert rc == 0 and out["status"] == 101, out


def test_websocket_without_allowed_origin_is_refused(host):
    rc, out = wsclient(host, "probe", "ws://localhost:8000/ws/echo/", "--origin", "http://evil.example")
    assert rc == 1 and "403" in out["error"], out


def test_each_process_answers_websockets_on_its_own_socket(host):
    for num in range(numprocs(host)):
        rc, out = wsclient(host, "probe", "ws://localhost/ws/chat/lobby/", "--origin", ORIGIN,
                           "--unix-socket", own_socket(num), "--send", "hi",
                           "--expect", "'\"process\": \"%s%d\"'" % (PROGRAM, num))
        assert rc == 0 and out["status"] == 101, out


# --- secrets --------------------------------------------------------------------------------------
def test_environment_file_is_root_owned_and_group_readable_only(host):
    env = host.file(ENV_FILE)
    assert (env.user, env.group, env.mode) == ("root", APP_GROUP, 0o640)


def test_secret_is_in_no_command_line(host, ansible_vars):
    secret = ansible_vars["daphne_environment"]["SECRET_KEY"]
    assert secret not in host.check_output("ps -eo user,pid,args")


@pytest.mark.parametrize("directory", ["/etc/supervisor", APP_ROOT])
def test_secret_is_in_no_file_under(host, ansible_vars, directory):
    secret = ansible_vars["daphne_environment"]["SECRET_KEY"]
    found = host.run("grep -rlF -- %s %s", secret, directory)
    # grep: 1 is "no match"; 0 lists the files that hold it, 2 is an error
    assert found.rc == 1, (found.rc, found.stdout, found.stderr)


# --- crashes --------------------------------------------------------------------------------------
def test_killed_process_restarts_over_its_stale_socket(host):
    name = "%s:%s0" % (PROGRAM, PROGRAM)
    pid = processes(host)[name][1]
    host.run_expect([0], "kill -9 %s", str(pid))
    # kill -9 leaves daphne0.sock (and Twisted's lock) behind; the new process must still start
    procs = wait_all_running(host)
    assert procs[name][1] != pid
    assert health(host, own_socket(0))["pid"] == procs[name][1]


def test_stale_socket_and_lock_files_do_not_prevent_start(host):
    name = "%s:%s0" % (PROGRAM, PROGRAM)
    sock = own_socket(0)
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
    procs = wait_all_running(host)
    assert health(host, sock)["pid"] == procs[name][1]


# --- layout ---------------------------------------------------------------------------------------
def test_code_belongs_to_root_and_is_not_writable_by_the_app_user(host):
    current = current_release(host)
    assert host.file(current).user == "root"
    assert host.run("runuser -u %s -- touch %s/chatsite/x", APP_USER, current).rc != 0
    assert host.run("runuser -u %s -- test -r %s/chatsite/settings.py", APP_USER, current).rc == 0


def test_release_is_complete_and_named_by_its_content(host, ansible_vars):
    current = current_release(host)
    marker = host.file(current + "/.asgi-release-ok")
    assert marker.is_file
    assert marker.content_string.strip() == pathlib.PurePosixPath(current).name
    assert host.file(current + "/venv/bin/daphne").is_file
    version = host.check_output("%s/venv/bin/python -m pip show daphne | sed -n 's/^Version: //p'", current)
    # the version the scenario pins, or the role's default
    assert version == ansible_vars.get("daphne_version", ROLE_DEFAULTS["daphne_version"])
