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
GROUP_KEY = "asgi:group:notifications"  # channels_redis's default prefix, the project's group
MEMBERS = ("runuser -u staging -- /srv/staging/bin/manage shell -c \"import os, redis; "
           "print(redis.Redis.from_url(os.environ['CHANNELS_REDIS_URL']).zcard('%s'))\"" % GROUP_KEY)


def group_members():
    return int(project_host("project-app1").check_output(MEMBERS).split()[-1])


@pytest.fixture(scope="module")
def held(host):
    before = group_members()
    source = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "scripts", "bench", "wsload.py")
    host.ansible("ansible.builtin.copy", "src=%s dest=%s mode=0644" % (source, WSLOAD), check=False)
    out = host.run("python3 %s hold %s --count %d --rate %d --hold-for %d --timeout 30 %s"
                   % (WSLOAD, URL, CONNECTIONS, RATE, HOLD_S, CLIENT))
    result = [json.loads(line) for line in out.stdout.splitlines() if '"kind": "result"' in line]
    assert result, out.stdout[-2000:] + out.stderr[-2000:]
    # the clients have closed: every consumer's group_discard has run, or never will
    deadline, members = time.time() + 60, None
    while time.time() < deadline:
        members = group_members()
        if members == 0:
            break
        time.sleep(2)
    summary = dict(result[0], members_before=before, members_after=members)
    print("CAPACITY %s" % json.dumps(summary, sort_keys=True))
    return summary


def test_every_connection_opened(held):
    assert (held["opened"], held["failed_handshakes"]) == (CONNECTIONS, 0), held


def test_no_connection_dropped_while_held(held):
    assert held["dropped"] == 0 and held["held_at_end"] == CONNECTIONS, held


def test_group_was_empty_before(held):
    assert held["members_before"] == 0, held


def test_group_is_empty_once_every_client_left(held):
    assert held["members_after"] == 0, held
