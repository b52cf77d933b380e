"""Shared testinfra fixtures and hooks for every Molecule scenario.

- On a failed test that used the ``host`` fixture, the host's recent journal (and the process
  manager's view of the processes) is attached to the report, so a CI log says why.
- ``ansible_vars`` gives a test the variables Ansible sees for its host (role defaults are not
  included: scenarios state the values they test in their inventory or converge vars).
- ``run_playbook`` / ``parse_json_output`` run a playbook of the scenario against its hosts
  (bad-input tests, check-mode runs, redeploys); ``changed_tasks`` lists what such a run changed,
  ``failure_message`` is what its failed task said; ``supervisor_status`` reads supervisorctl,
  ``asgi_status`` the server processes under either process manager (``process_manager``);
  ``wsclient`` runs the shared test client (molecule/shared/files/wsclient.py) in a container.
- ``steady_load`` runs the client's ``load`` command (steady HTTP requests plus held WebSockets)
  in a container around a fault and prints what was lost; ``kill_under_load`` kills the busiest
  server process under it; ``wait_until`` polls a condition; ``broadcast_after_redis_restart`` and
  ``reboot`` are the Redis-restart and reboot steps shared by the default and faults scenarios.
  Import them with ``from conftest import ...``.
"""

import contextlib
import json
import os
import pathlib
import re
import subprocess
import time

import pytest

JOURNAL_LINES = 80

# Assertions shared by a scenario's tests live in plain modules: rewritten like the test modules,
# so a failed assert there reports its values too (must run before their first import).
pytest.register_assert_rewrite("faults_helpers", "reboot_checks", "failed_release_checks")


def pytest_collection_modifyitems(items):
    """The shared check-mode test (molecule/shared/tests/test_check_mode.py) runs last in every
    scenario, so that it sees the host as the scenario's own tests leave it. Molecule's verifier
    passes the test paths sorted, and molecule/shared/tests sorts before a scenario named after
    "shared" (supervisor): without this it would run first there. The order is stable otherwise."""
    items.sort(key=lambda item: item.path.name == "test_check_mode.py")


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
        status = host.run("supervisorctl status 2>&1 || systemctl list-units --all --no-pager 'asgi*' || true").stdout
        report.sections.append(("supervisorctl status (or systemd's asgi units)", status))
    except Exception as exc:  # the report must never fail because the host is gone
        report.sections.append(("journal", "could not read the journal: %s" % exc))


@pytest.fixture
def ansible_vars(host):
    return host.ansible.get_variables()


@pytest.fixture(scope="session")
def scenario_directory():
    return os.environ["MOLECULE_SCENARIO_DIRECTORY"]


def run_playbook(playbook, extra_vars=None, check=False, limit=None, json_output=False, verbosity=0,
                 collections_path=None):
    """Run ``ansible-playbook`` against the scenario's converged hosts, as Molecule would.

    ``playbook`` is a path relative to the scenario directory (or absolute). ``extra_vars`` is a
    dict passed as JSON with ``-e``. With ``json_output`` the ansible.posix.json stdout callback is
    used (and only it), so ``parse_json_output`` can read per-task results. ``verbosity`` N adds
    ``-v`` N times (e.g. 3 for ``-vvv``). ``collections_path`` replaces ANSIBLE_COLLECTIONS_PATH (another
    version of the collection, for the upgrade test). Returns the
    CompletedProcess (never raises on a failed play: the caller asserts).
    """
    env = dict(os.environ)
    if collections_path:
        env["ANSIBLE_COLLECTIONS_PATH"] = str(collections_path)
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
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)


def parse_json_output(proc):
    """The ansible.posix.json result of a ``run_playbook(..., json_output=True)`` call."""
    start = proc.stdout.find("{")
    assert start >= 0, "no JSON from ansible-playbook:\n%s\n%s" % (proc.stdout, proc.stderr)
    return json.loads(proc.stdout[start:])


def changed_tasks(result):
    """"host: task name" of every task a ``parse_json_output`` result reports changed."""
    for play in result["plays"]:
        for task in play["tasks"]:
            for hostname, res in task["hosts"].items():
                if res.get("changed"):
                    yield "%s: %s" % (hostname, task["task"]["name"])


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def failure_message(proc):
    """What the first failed task of a ``run_playbook`` run said, without colours (Molecule forces
    them on): the text after its ``fatal: [host]`` (or ``failed: [host]``) line. Bad-input tests
    look for the variable's name there, not in the task names printed before it."""
    output = ANSI.sub("", proc.stdout + proc.stderr)
    parts = re.split(r"^(?:fatal|failed): \[", output, maxsplit=1, flags=re.M)
    assert len(parts) == 2, "no failed task:\n%s" % output[-3000:]
    return parts[1]


def supervisor_status(host, pattern=""):
    """{process name: (state, pid or None)} from ``supervisorctl status [pattern]``."""
    result = {}
    for line in host.run("supervisorctl status %s" % pattern).stdout.splitlines():
        match = re.match(r"^(\S+)\s+([A-Z]+)\b(?:.*?\bpid (\d+),)?", line)
        if match:
            result[match.group(1)] = (match.group(2), int(match.group(3)) if match.group(3) else None)
    return result


def process_manager(host, program="asgi"):
    """The process manager that runs ``program`` (daphne_process_manager): "systemd" when its
    target unit exists, else "supervisor"."""
    return "systemd" if host.file("/etc/systemd/system/%s.target" % program).exists else "supervisor"


def asgi_status(host, program="asgi"):
    """{process name: (state, pid or None)} of ``program``'s server processes under either process
    manager: supervisor's ``program:programN`` with its state, systemd's ``program@N.service`` with
    RUNNING for an active unit with a main process, else its ActiveState in capitals."""
    if process_manager(host, program) == "supervisor":
        return supervisor_status(host, program + ":*")
    shown = host.run("systemctl show --property=Id,ActiveState,MainPID -- '%s@*.service'" % program).stdout
    result = {}
    for block in shown.strip().split("\n\n"):
        fields = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if "Id" in fields:
            pid = int(fields.get("MainPID") or 0) or None
            active = fields.get("ActiveState") == "active" and pid
            result[fields["Id"]] = ("RUNNING" if active else fields.get("ActiveState", "").upper(), pid)
    return result


def process_number(name):
    """N of a server process's name: supervisor's ``program:programN``, systemd's ``program@N.service``."""
    return int(re.search(r"([0-9]+)(?:[.]service)?$", name).group(1))


def wsclient(host, args):
    """Run the shared test client inside the container; its JSON result (``ok`` says pass/fail)."""
    result = host.run("wsclient %s" % args)
    assert result.stdout.strip(), "wsclient printed nothing: %s" % result.stderr
    return json.loads(result.stdout)


def wait_for_file(host, path, seconds):
    """True once ``path`` exists on the host (polled every 0.2 s for up to ``seconds``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if host.file(path).exists:
            return True
        time.sleep(0.2)
    return host.file(path).exists


def tcp_connect(host, address, port, timeout=5):
    """'open', or the name of the error, for a TCP connection made on ``host`` to
    ``address``:``port`` (a firewall's reset is ConnectionRefusedError)."""
    out = host.run(
        "python3 -c \"import socket\n"
        "try:\n socket.create_connection(('%s', %d), %d).close(); print('open')\n"
        "except OSError as e: print(type(e).__name__)\"" % (address, port, timeout))
    return out.stdout.strip()


def wait_until(predicate, seconds, interval=0.2):
    """Seconds until ``predicate()`` was true (polled), or None after ``seconds``."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if predicate():
            return round(time.monotonic() - start, 2)
        time.sleep(interval)
    return None


def host_time(host):
    """The container's clock (epoch seconds): event times of the load are on this clock."""
    return float(host.run("date +%s.%N").stdout)


# --- steady load around a fault ----------------------------------------------------------------------

LOAD_HTTP_URL = "http://127.0.0.1/health/"
LOAD_WS_URL = "ws://127.0.0.1/ws/chat/load/"
LOAD_OPTIONS = "--host-header localhost --origin http://localhost --hello-timeout 5 --timeout 10"


class LoadRun:
    """What one ``steady_load`` saw: ``result`` is the load's JSON (None when the generator died,
    e.g. with its container); ``notes`` are the test's own figures (recovery times...), printed
    in the summary."""

    def __init__(self, name):
        self.name, self.result, self.notes, self.ready = name, None, {}, {}

    def clients_by_pid(self, host=None):
        """{server pid: number of the load's WebSockets it held when the load started}; with
        ``host`` (the hello's host name), only the clients of that app host's processes."""
        counts = {}
        pids = self.ready.get("pids", [])
        for pid, served_by in zip(pids, self.ready.get("hosts", [None] * len(pids))):
            if host is None or served_by == host:
                counts[pid] = counts.get(pid, 0) + 1
        return counts

    def http_failures_after(self, since):
        """The HTTP failures of requests started at or after ``since`` (container clock)."""
        return [f for f in self.result["http"]["failures"] if f["t"] >= since]

    def ws_events(self, kind):
        return [e for e in self.result["ws"]["events"] if e["event"] == kind]

    def summary(self):
        """One line: what the fault cost the load, and the test's figures."""
        notes = ", ".join("%s %s" % item for item in self.notes.items())
        if self.result is None:
            lost = "load generator gone (it died with the container), nothing counted"
        else:
            http, ws = self.result["http"], self.result["ws"]
            lost = (
                "HTTP %d sent, %d ok, %d failed; WebSocket %d held, %d dropped, %d reconnected, "
                "%d failed reconnects, %d still open at the end"
                % (http["sent"], http["ok"], http["failed"], ws["opened"], ws["dropped"], ws["reconnected"],
                   ws["failed_reconnects"], ws["still_open"])
            )
        return "FAULT %s: %s%s" % (self.name, lost, "; " + notes if notes else "")

    def __str__(self):
        return self.summary()


@contextlib.contextmanager
def steady_load(host, name, rate=20, clients=8, ws_url=LOAD_WS_URL, may_die=False, http_url=LOAD_HTTP_URL,
                options=LOAD_OPTIONS):
    """Steady load in the container while the ``with`` body causes a fault.

    Starts ``wsclient load`` in the background (``rate`` HTTP requests a second to ``http_url``,
    the sample app's /health/ through nginx by default, each on a new connection, and ``clients``
    held WebSockets at ``ws_url`` that reconnect when dropped; ``options`` are the client's
    Host/Origin/TLS/timeout options), waits until every WebSocket is open, yields a ``LoadRun``, then stops the load and
    reads its JSON into ``LoadRun.result``. The one-line summary is printed (pytest -rA shows it
    in the Molecule log) and is the ``str`` of the run, for assertion messages. With ``may_die``
    a generator that is gone afterwards (a reboot) leaves ``result`` None instead of failing.
    """
    base = "/tmp/load-%s" % name
    host.run("rm -f %s.json %s.err %s.ready %s.stop" % (base, base, base, base))
    host.run(
        "setsid nohup wsclient load %s %s %s --rate %s --clients %d --stop-file %s.stop --ready-file %s.ready "
        "> %s.json 2> %s.err < /dev/null &" % (http_url, ws_url, options, rate, clients, base, base, base, base)
    )
    if not wait_for_file(host, base + ".ready", 30):
        raise AssertionError("the load did not start: %s %s" % (
            host.run("cat %s.json %s.err" % (base, base)).stdout, name))
    run = LoadRun(name)
    run.ready = json.loads(host.file(base + ".ready").content_string)
    try:
        yield run
    finally:
        # Stop it even when the body failed: no load left running into the next test.
        host.run("touch %s.stop" % base)
    deadline = time.monotonic() + 30
    while run.result is None and time.monotonic() < deadline:
        content = host.run("cat %s.json 2>/dev/null" % base).stdout.strip()
        if content:
            try:
                run.result = json.loads(content)
                break
            except ValueError:  # still being written
                pass
        elif may_die and not host.file(base + ".ready").exists:
            break
        time.sleep(0.5)
    if run.result is None and not may_die:
        raise AssertionError("the load printed no result: %s" % host.run("cat %s.json %s.err" % (base, base)).stdout)
    print(run.summary())


def kill_under_load(host, name, program="asgi", back_within=20, load_host=None):
    """Under ``steady_load`` (on ``load_host``, a web host in front of ``host``; ``host`` itself by
    default): ``kill -9`` the process of ``program`` that holds most of the load's WebSockets, and
    wait (at most ``back_within`` s) until every process is RUNNING again (``asgi_status``: under
    either process manager), the killed one with a new pid. Returns {"load", "victim" (its name),
    "before" and "after" ({name: pid}), "killed_at" (container clock), "back_after" (seconds, None
    if not back)}."""

    def pids():
        return {process: pid for process, (_state, pid) in asgi_status(host, program).items()}

    def back():
        status = asgi_status(host, program)
        return (set(status) == set(before) and all(state == "RUNNING" for state, _pid in status.values())
                and status[victim][1] != before[victim])

    before = pids()
    with steady_load(load_host or host, name) as load:
        # behind a web host of several app hosts, the clients of this host's processes only
        held = load.clients_by_pid(host.check_output("uname -n") if load_host else None)
        victim = max(before, key=lambda process: held.get(before[process], 0))
        load.notes["killed"] = "%s holding %d WebSockets" % (victim, held.get(before[victim], 0))
        time.sleep(1)
        killed_at = host_time(host)
        host.run("kill -9 %s", str(before[victim]))
        back_after = wait_until(back, back_within)
        load.notes["back RUNNING after"] = "%s s" % back_after
        time.sleep(2)
    return {"load": load, "victim": victim, "before": before, "after": pids(), "killed_at": killed_at,
            "back_after": back_after}


# --- restarts shared by the default and faults scenarios -------------------------------------------

CHAT_ORIGIN = "--host-header localhost --origin http://localhost"


def broadcast_after_redis_restart(host, room, timeout=10):
    """Connect a listener to a chat room, restart Redis, then send into the room until the listener
    gets it. Returns (listener's JSON or None, seconds from the restart command to its receipt or
    None)."""
    url = "ws://127.0.0.1/ws/chat/%s/" % room
    out, ready = "/tmp/listen-%s.json" % room, "/tmp/listen-%s.ready" % room
    host.run("rm -f %s %s" % (out, ready))
    host.run(
        "setsid nohup wsclient listen %s %s --expect after-restart --timeout 90 "
        "--ready-file %s > %s 2>&1 < /dev/null &" % (url, CHAT_ORIGIN, ready, out)
    )
    assert wait_for_file(host, ready, 10), "the listener did not connect"
    # timed from the restart command: the restart itself counts
    restarted_at = host_time(host)
    deadline = time.monotonic() + timeout
    assert host.run("systemctl restart redis-server").rc == 0
    while time.monotonic() < deadline:
        host.run("wsclient probe %s %s --send after-restart --expect after-restart --timeout 2" % (url, CHAT_ORIGIN))
        content = host.file(out).content_string.strip()
        if content:
            received = json.loads(content)
            return received, received.get("received_at", restarted_at) - restarted_at
        time.sleep(0.5)
    return None, None


# The units a reboot must bring back (the tmpfiles setup recreates /run/daphne).
STACK_UNITS = ("nginx.service", "supervisor.service", "redis-server.service", "systemd-tmpfiles-setup.service",
               "asgi.socket", "asgi.target", "asgi-wsgi.socket")


def manager_units(host, program="asgi"):
    """The units that run ``program``'s processes: supervisord's, or systemd's socket and target."""
    if process_manager(host, program) == "supervisor":
        return ["supervisor.service"]
    return ["%s.socket" % program, "%s.target" % program]


# The unit files of the asgi program under systemd (the sample's deploy has a background worker).
ASGI_UNIT_FILES = ["asgi-background@.service", "asgi.socket", "asgi.target", "asgi@.service"]


def manager_leftovers(host):
    """What of each process manager is on the host for the program ``asgi``: its unit files and
    loaded units (not the split's ``asgi-wsgi`` ones), supervisor's package and files, supervisord's
    process."""
    loaded = host.run("systemctl list-units --all --plain --no-legend 'asgi.*' 'asgi@*' 'asgi-background@*'").stdout
    return {
        "unit_files": sorted(f for f in ASGI_UNIT_FILES if host.file("/etc/systemd/system/" + f).exists),
        "units": [line for line in loaded.splitlines() if line.strip()],
        "supervisor_package": host.package("supervisor").is_installed,
        "supervisor_files": host.file("/etc/supervisor").exists,
        "supervisord": host.run("sh -c 'for p in /proc/[0-9]*/comm; do cat $p; done 2>/dev/null' | grep -c supervisord")
        .stdout.strip(),
    }


def failed_units(host):
    """The units systemd lists as failed (a container may have some of its own: "degraded")."""
    listing = host.run("systemctl list-units --failed --plain --no-legend --no-pager").stdout
    return [line.split()[0] for line in listing.splitlines() if line.strip()]


def reboot(host, answer_within=60, probe_host=None, url=LOAD_HTTP_URL):
    """``docker restart`` the host's container, wait for systemd, then for the site to answer
    ``url`` (asked on ``probe_host``, the host itself by default: its nginx).

    Returns (systemd's state, seconds from the restart command to the first 2xx of ``url`` or
    None, the last answer)."""
    started = time.monotonic()
    subprocess.run(["docker", "restart", host.backend.host], check=True, capture_output=True, timeout=120)
    state = ""
    for _attempt in range(90):
        # Right after the restart systemd may not answer yet (no bus): ask again.
        state = host.run("systemctl is-system-running --wait").stdout.strip()
        if state in ("running", "degraded"):
            break
        time.sleep(1)
    answer, answered_after = None, None
    while time.monotonic() - started < answer_within:
        result = (probe_host or host).run("wsclient http %s --host-header localhost --timeout 2" % url)
        answer = json.loads(result.stdout) if result.stdout.strip() else {"ok": False, "error": result.stderr}
        if answer["ok"]:
            answered_after = time.monotonic() - started
            break
        time.sleep(0.5)
    return state, answered_after, answer
