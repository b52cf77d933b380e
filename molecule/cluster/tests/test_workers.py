"""The release's other long-running processes (daphne_workers): the sample app's background worker
(`manage.py runworker chat-background`) runs on each app host under supervisor, as the app user,
from the current release, logs beside Daphne's and answers through the channel layer. Its restart
on a deploy that moves current is tested with the git source (test_git_source.py)."""

import json

import pytest
from cluster_helpers import cluster_host
from conftest import supervisor_status, wsclient

testinfra_hosts = ["ansible://cluster-app1"]

APP_HOSTS = ["cluster-app1", "cluster-app2"]
WORKER = "asgi-background:asgi-background_0"
ORIGIN = "--host-header localhost --origin http://localhost"


def background_round_trip(host, text):
    result = wsclient(host, "probe ws://127.0.0.1/ws/background/ %s --send %s --expect %s" % (ORIGIN, text, text))
    assert result["ok"], result
    return json.loads(result["reply"])


@pytest.mark.parametrize("name", APP_HOSTS)
def test_worker_runs_under_supervisor(name):
    state, pid = supervisor_status(cluster_host(name, root=True), "asgi-background:")[WORKER]
    assert state == "RUNNING" and pid


@pytest.mark.parametrize("name", APP_HOSTS)
def test_worker_runs_as_the_app_user_from_the_current_release(name):
    other = cluster_host(name, root=True)
    pid = supervisor_status(other, "asgi-background:")[WORKER][1]
    assert other.process.get(pid=pid).user == "daphne"
    # the stamp it started with (its environment) names the release current points to
    release = other.file("/srv/asgi/current").linked_to.rsplit("/", 1)[-1]
    disk, started = other.check_output("/srv/asgi/bin/daphne-run stamp %d" % pid).splitlines()
    assert started.split()[1].split(":")[0] == release, started
    assert started.split()[1] == disk.split()[1]


@pytest.mark.parametrize("name", APP_HOSTS)
def test_worker_logs_beside_daphne(name):
    log = cluster_host(name, root=True).file("/var/log/daphne/asgi-background.log")
    assert log.is_file and "chat-background" in log.content_string


def test_worker_answers_through_the_channel_layer(host):
    reply = background_round_trip(host, "to-the-worker")
    assert reply["background"] == "to-the-worker"
    assert reply["worker"]["process"] == "asgi-background_0"
    assert reply["worker"]["host"] in APP_HOSTS
