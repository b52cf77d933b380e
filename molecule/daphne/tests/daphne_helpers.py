"""Helpers shared by the daphne scenario's tests (not a test module)."""

import json
import os
import pathlib
import re
import shutil
import time

import testinfra

PROGRAM = "asgi2"
APP_USER = "daphne"
APP_GROUP = "daphne"
APP_ROOT = "/srv/asgi2"
RUN_DIR = "/run/daphne"
STATIC_ROOT = "/var/www/asgi2/static"
ENV_FILE = "/etc/daphne/asgi2.env"
TMPFILES = "/etc/tmpfiles.d/daphne.conf"
SHARED_URL = "http://localhost:8000"
ORIGIN = "http://localhost"
SUPERVISORD_LOG = "/var/log/supervisor/supervisord.log"
# A loop of HTTP requests to the shared socket in the container, one JSON line per 20 requests,
# until the stop file exists (start_http_loop, http_loop_results)
HTTP_LOOP = (
    "nohup sh -c 'while [ ! -e /tmp/loop.stop ]; do "
    "wsclient http %s/health/ --count 20 --interval 0.02; echo; done >> /tmp/loop.jsonl 2>&1' "
    ">/dev/null 2>&1 &"
)
APP_SOURCE = pathlib.Path(__file__).resolve().parents[3] / "examples" / "chat"


def all_hosts():
    """{inventory name: testinfra host} of the scenario, for fixtures acting on every host at once."""
    inventory = str(pathlib.Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent)
    hosts = testinfra.get_hosts(["ansible://all"], ansible_inventory=inventory)
    return {h.backend.get_hostname(): h for h in hosts}


def wsclient(host, *args):
    cmd = host.run("wsclient " + " ".join(args))
    assert cmd.stdout.strip(), "wsclient printed nothing: %s" % cmd.stderr
    return cmd.rc, json.loads(cmd.stdout)


def processes(host):
    """{name: (state, pid)} of the program's processes, from supervisorctl."""
    out = host.run("supervisorctl status %s:", PROGRAM).stdout
    result = {}
    for line in out.splitlines():
        match = re.match(r"^(\S+)\s+(\S+)(?:\s+pid (\d+))?", line)
        if match and match.group(1).startswith(PROGRAM + ":"):
            result[match.group(1)] = (match.group(2), int(match.group(3)) if match.group(3) else None)
    return result


def numprocs(host):
    """The role's default process count: the larger of 2 and the host's CPU count."""
    return max(2, int(host.check_output("nproc")))


def own_socket(num):
    return "%s/daphne%d.sock" % (RUN_DIR, num)


def health(host, socket=None):
    args = ["http", SHARED_URL + "/health/"]
    if socket:
        args += ["--unix-socket", socket]
    rc, out = wsclient(host, *args)
    assert rc == 0 and out["ok"], out
    return json.loads(out["bodies"][0])


def wait_all_running(host, timeout=90):
    """Wait until every process is RUNNING and answers through its own socket; {name: (state, pid)}."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        procs = processes(host)
        if len(procs) == numprocs(host) and all(state == "RUNNING" for state, _pid in procs.values()):
            if all(host.run("wsclient http %s/health/ --unix-socket %s", SHARED_URL, own_socket(n)).rc == 0
                   for n in range(len(procs))):
                return procs
        time.sleep(1)
    raise AssertionError("processes not all RUNNING and healthy: %s" % processes(host))


def current_release(host):
    return host.check_output("readlink -e %s/current", APP_ROOT)


def release_name(path):
    return pathlib.PurePosixPath(path).name


def copy_app(directory):
    target = pathlib.Path(directory) / "chat"
    shutil.copytree(APP_SOURCE, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.sqlite3"))
    return target


def supervisor_log_lines(host):
    return int(host.check_output("wc -l < %s", SUPERVISORD_LOG))


def supervisor_events(host, since_line):
    """(process, 'down'|'up') events of the program's processes after line `since_line` of the log."""
    events = []
    for line in host.check_output("tail -n +%s %s", str(since_line + 1), SUPERVISORD_LOG).splitlines():
        match = re.search(r"(stopped|exited|success): (%s\d+)" % PROGRAM, line)
        if match:
            events.append((match.group(2), "up" if match.group(1) == "success" else "down"))
    return events


def start_http_loop(host):
    """Start the HTTP request loop (HTTP_LOOP) in the container, from a clean slate."""
    host.run("rm -f /tmp/loop.stop /tmp/loop.jsonl")
    host.run(HTTP_LOOP, SHARED_URL)


def stop_http_loop(host):
    host.run("touch /tmp/loop.stop")


def http_loop_results(host):
    """The loop's JSON lines (one per wsclient run); call after stop_http_loop and a short wait."""
    lines = host.check_output("cat /tmp/loop.jsonl").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def http_loop_counts(loop):
    """(requests, failed requests, the failed runs' errors) of an HTTP loop's results."""
    total = sum(r.get("ok_count", 0) + r.get("failed", 0) for r in loop)
    failed = sum(r.get("failed", 0) for r in loop)
    return total, failed, [r.get("errors") for r in loop if r.get("failed")]
