"""Helpers shared by the faults scenario's tests (not a test module)."""

import json
import pathlib
import re
import subprocess
import time

import yaml

from conftest import supervisor_status

PROGRAM = "asgi"
NUMPROCS = 2  # daphne_numprocs of examples/chat-deploy.yml
APP_USER = "daphne"
CURRENT_LINK = "/srv/asgi/current"
SUPERVISORD_LOG = "/var/log/supervisor/supervisord.log"
PROJECT = pathlib.Path(__file__).resolve().parents[3]
CHAT_SOURCE = PROJECT / "examples" / "chat"
CHAT_DEPLOY = PROJECT / "examples" / "chat-deploy.yml"
# The deployed nginx sites (the sample app's), for extra vars that change one of them.
CHAT_SITES = yaml.safe_load(CHAT_DEPLOY.read_text(encoding="utf-8"))["nginx_sites"]
# The scenario's test secrets (molecule.yml's inventory).
SECRET_VARS = ["chat_secret_key", "chat_redis_password"]

# Everything a failed run must leave as it was: configuration checksums, the current release,
# the services' main PIDs and the Daphne processes (name, state, pid; no uptime column).
SNAPSHOT_CMD = (
    "find /etc/nginx /etc/supervisor /etc/daphne /etc/redis /etc/tmpfiles.d /etc/systemd/system "
    "-type f -print0 2>/dev/null | sort -z | xargs -0 sha256sum; "
    "readlink %s; systemctl show -p MainPID nginx supervisor redis-server; "
    "supervisorctl status %s: | awk '{print $1, $2, $4}'" % (CURRENT_LINK, PROGRAM)
)


def scenario_secrets(host):
    """{variable: value} of the scenario's secrets, from the inventory."""
    variables = host.ansible.get_variables()
    return {name: variables[name] for name in SECRET_VARS}


def snapshot(host):
    return host.check_output(SNAPSHOT_CMD)


def main_pid(host, service):
    return int(host.check_output("systemctl show -p MainPID --value %s" % service) or 0)


def daphne_pids(host):
    """{process name: pid} of the Daphne processes (None while one is not running)."""
    return {name: pid for name, (_state, pid) in supervisor_status(host, PROGRAM + ":*").items()}


def current_release(host):
    return host.check_output("readlink %s" % CURRENT_LINK)


def all_running(host, old_pids=None):
    """Every Daphne process RUNNING (and, with ``old_pids``, none with one of those pids)."""
    status = supervisor_status(host, PROGRAM + ":*")
    if len(status) != NUMPROCS or any(state != "RUNNING" for state, _pid in status.values()):
        return False
    return not old_pids or not {pid for _state, pid in status.values()} & set(old_pids)


def assert_every_dropped_client_reconnected(load):
    """The steady load's WebSocket clients: every dropped one reconnected and every client opened
    is open at the end (failed reconnect attempts on the way are allowed)."""
    ws = load.result["ws"]
    assert ws["reconnected"] == ws["dropped"], "%s\n%s" % (load, ws["events"])
    assert ws["still_open"] == ws["opened"], load


def assert_dropped_clients_reconnected(load, none_dropped):
    """The steady load's WebSocket clients: some were dropped (else ``none_dropped``, a message
    with one %s for the load, fails the test), every dropped one reconnected, none failed to, and
    every client opened is open at the end."""
    ws = load.result["ws"]
    assert ws["dropped"] > 0, none_dropped % load
    assert_every_dropped_client_reconnected(load)
    assert ws["failed_reconnects"] == 0, "%s\n%s" % (load, ws["events"])


# --- the results file: what each fault cost in this run --------------------------------------------

RESULTS_FILE = PROJECT / ".cache" / "faults" / "results.json"
_results = {}


def _git_revision():
    proc = subprocess.run(["git", "-C", str(PROJECT), "describe", "--always", "--dirty"],
                          capture_output=True, text=True, check=False)
    return proc.stdout.strip() or None


def record_result(load, **figures):
    """Write what the fault of ``load`` (a conftest ``LoadRun``) cost into RESULTS_FILE
    (.cache/faults/results.json), beside the faults recorded before it in this pytest run (the
    first one of a run starts the file afresh): the load's counters, the test's notes, its FAULT
    line and ``figures`` (the test's own measurements, in seconds or counts). The tests assert the
    targets; this file is where the measured figures of the last run are read from."""
    if not _results:
        _results.update(started_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), git=_git_revision(),
                        faults={})
    entry = {"summary": load.summary(), "notes": dict(load.notes), "figures": figures}
    if load.result is None:
        entry["http"] = entry["ws"] = None  # the generator died (with its container): nothing counted
    else:
        http, ws = load.result["http"], load.result["ws"]
        entry["http"] = {key: http[key] for key in ("sent", "ok", "failed")}
        entry["ws"] = {key: ws[key] for key in ("opened", "dropped", "reconnected", "failed_reconnects", "still_open")}
    _results["faults"][load.name] = entry
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    partial = RESULTS_FILE.with_suffix(".json.tmp")
    partial.write_text(json.dumps(_results, indent=2) + "\n", encoding="utf-8")
    partial.replace(RESULTS_FILE)


def site_answers(host):
    result = host.run("wsclient http http://127.0.0.1/health/ --host-header localhost --timeout 2")
    return bool(result.stdout.strip()) and json.loads(result.stdout)["ok"]


def daphne_processes(host):
    """[(pid, ppid, user)] of the processes running the Daphne server (the fcgi-program children)."""
    rows = []
    for line in host.check_output("ps -eo pid=,ppid=,user=,args=").splitlines():
        pid, ppid, user, args = line.split(None, 3)
        if re.search(r"/venv/bin/python\S*\s.*--fd 0", args):
            rows.append((int(pid), int(ppid), user))
    return rows
