"""10,000 WebSockets held 30 s through nginx on the web host, to the second project (the same
project: the docs' minimal channel-layer settings, today's unpinned channels-redis, on
project-app1), then all closed: none dropped, and once they have gone, the group every one of them
joined is empty in that project's Redis database (no stale member). The second project's group has
seen no restart (the first project's redeploy tests do not touch it): a process restarted while
clients are connected leaves their memberships behind until channels_redis's group_expiry."""

import json
import os
import time

import pytest
from project_helpers import EDGE, project_host

testinfra_hosts = ["ansible://%s" % EDGE]

CONNECTIONS = 10000
RATE = 250  # new connections a second, at most
HOLD_S = 30
URL = "ws://127.0.0.1/ws/notifications/"
CLIENT = "--host-header staging.example.com --origin http://staging.example.com"
WSLOAD = "/usr/local/lib/asgi-test/wsload.py"
OUT = "/tmp/capacity"  # wsload's output (.out) and errors (.err) on the web host
GROUP_KEY = "asgi:group:notifications"  # channels_redis's default prefix, the project's group
MEMBERS = ("runuser -u staging -- /srv/staging/bin/manage shell -c \"import os, redis; "
           "print(redis.Redis.from_url(os.environ['CHANNELS_REDIS_URL']).zcard('%s'))\"" % GROUP_KEY)


def group_members():
    return int(project_host("project-app1").check_output(MEMBERS).split()[-1])


def wsload_lines(host):
    """The JSON lines wsload has printed so far (one tick a second, then the result)."""
    text = host.run("cat %s.out 2>/dev/null" % OUT).stdout
    lines = []
    for line in text.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:  # the line being written
            pass
    return lines


@pytest.fixture(scope="module")
def held(host):
    before = group_members()
    source = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "scripts", "bench", "wsload.py")
    host.ansible("ansible.builtin.copy", "src=%s dest=%s mode=0644" % (source, WSLOAD), check=False)
    host.run("rm -f %s.out; setsid nohup python3 %s hold %s --count %d --rate %d --hold-for %d --timeout 30 %s "
             "> %s.out 2> %s.err < /dev/null &" % (OUT, WSLOAD, URL, CONNECTIONS, RATE, HOLD_S, CLIENT, OUT, OUT))
    # while every connection is open: the group holds them all (the key counted is the right one)
    members_held, deadline = None, time.time() + CONNECTIONS / RATE * 3 + 60
    while time.time() < deadline:
        lines = wsload_lines(host)
        if any(line.get("kind") == "result" for line in lines):
            break
        if any(line.get("kind") == "tick" and line.get("open") == CONNECTIONS for line in lines):
            members_held = group_members()
            break
        time.sleep(1)
    result = []
    while time.time() < deadline + HOLD_S and not result:
        result = [line for line in wsload_lines(host) if line.get("kind") == "result"]
        time.sleep(1)
    assert result, host.run("tail -c 2000 %s.out; tail -c 2000 %s.err" % (OUT, OUT)).stdout
    # the clients have closed: every consumer's group_discard has run, or never will
    deadline, members = time.time() + 60, None
    while time.time() < deadline:
        members = group_members()
        if members == 0:
            break
        time.sleep(2)
    summary = dict(result[0], members_before=before, members_held=members_held, members_after=members)
    print("CAPACITY %s" % json.dumps(summary, sort_keys=True))
    return summary


def test_every_connection_opened(held):
    assert (held["opened"], held["failed_handshakes"]) == (CONNECTIONS, 0), held


def test_no_connection_dropped_while_held(held):
    assert held["dropped"] == 0 and held["held_at_end"] == CONNECTIONS, held


def test_group_was_empty_before(held):
    assert held["members_before"] == 0, held


def test_group_held_every_connection_while_they_were_open(held):
    assert held["members_held"] == CONNECTIONS, held


def test_group_is_empty_once_every_client_left(held):
    assert held["members_after"] == 0, held
