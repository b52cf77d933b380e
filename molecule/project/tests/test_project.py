"""A project that is not the sample app (mysite: no /health/ view, no echo consumer, WebSockets at
/ws/notifications/, a runworker consumer, an upload view, unpinned requirements), deployed with
docs/examples/inventory's group_vars unchanged by a user with sudo: its HTTPS site through nginx
on the web host, both app hosts, the worker, static files copied to the web host, uploads served
from the shared media directory, the channel layer's URL, and a second project beside it."""

import json
import re
import uuid

import pytest
from conftest import supervisor_status, wsclient
from project_helpers import (
    APP_HOSTS, CLIENT, EDGE, NOTIFICATIONS, SITE, ask_the_worker, environment, front_pages, project_host,
)

testinfra_hosts = ["ansible://project-edge"]

ALL_HOSTS = [EDGE] + APP_HOSTS
WORKER = "asgi-tasks:asgi-tasks_0"


@pytest.mark.parametrize("name", ALL_HOSTS)
def test_site_was_deployed_by_a_user_with_sudo(name):
    other = project_host(name)
    assert other.file("/home/deploy/.ansible/tmp").is_directory
    log = other.run("journalctl --no-pager -q _COMM=sudo").stdout
    assert re.search(r"deploy : .*USER=root", log), log[-2000:]


@pytest.mark.parametrize("app_host", APP_HOSTS)
def test_front_page_over_https_reaches_each_app_host(app_host):
    pages = front_pages(20)
    assert {page["site"] for page in pages} == {"mysite"}
    assert app_host in {page["host"] for page in pages}, pages


@pytest.mark.parametrize("app_host", APP_HOSTS)
def test_the_front_page_is_answered_by_gunicorn_on_each_app_host(app_host):
    """The split (site.yml sets daphne_split on the app hosts): the pages come from gunicorn,
    told by the command line of the process whose pid the page reports."""
    pids = {page["pid"] for page in front_pages(20) if page["host"] == app_host}
    other = project_host(app_host)
    cmdlines = [other.file("/proc/%s/cmdline" % pid).content.decode().replace("\0", " ") for pid in pids]
    assert cmdlines and all("/srv/asgi/bin/gunicorn-serve.py " in line for line in cmdlines), cmdlines


def test_the_web_host_sends_pages_to_every_app_hosts_wsgi_socket_and_ws_to_daphne():
    config = project_host(EDGE).check_output("nginx -T")
    wsgi = config[config.index("upstream mysite-wsgi-backend"):]
    servers = re.findall(r"^\s*server\s+(\S+);", wsgi[:wsgi.index("}")], re.MULTILINE)
    assert sorted(server.rsplit(":", 1)[1] for server in servers) == ["8100", "8100"], wsgi[:300]
    assert "location /ws/ {" in config, config


def test_plain_http_is_redirected_to_https(host):
    result = wsclient(host, "http http://127.0.0.1/ --host-header %s" % SITE)
    assert result["statuses"] == {"301": 1}, result


@pytest.mark.parametrize("app_host", APP_HOSTS)
def test_app_host_runs_four_daphne_processes(app_host):
    status = supervisor_status(project_host(app_host), "asgi:")
    assert len(status) == 4 and {state for state, _pid in status.values()} == {"RUNNING"}, status


def test_say_reaches_a_client_served_by_the_other_app_host(host):
    result = wsclient(host, "broadcast %s %s %s --send '{\"say\": \"across\"}' --expect across --distinct host"
                      % (NOTIFICATIONS, NOTIFICATIONS, CLIENT))
    assert result["ok"], result
    # what the listener got says who sent it and who passed it on: the two app hosts
    reply = json.loads(result["reply"])
    assert reply["sender"]["host"] == result["sender_hello"]["host"]
    assert reply["receiver"]["host"] == result["listener_hello"]["host"] != reply["sender"]["host"], reply


@pytest.mark.parametrize("app_host", APP_HOSTS)
def test_worker_runs_under_supervisor_as_the_app_user(app_host):
    other = project_host(app_host)
    state, pid = supervisor_status(other, "asgi-tasks:")[WORKER]
    assert state == "RUNNING" and other.process.get(pid=pid).user == "daphne"


def test_worker_answers_through_the_channel_layer():
    reply = ask_the_worker("to-the-worker")
    assert reply["answer"] == "rekrow-eht-ot"
    assert reply["worker"]["host"] in APP_HOSTS


def test_web_host_serves_the_projects_static_file(host):
    served = host.check_output(
        "python3 -c \"import ssl, urllib.request; r = urllib.request.Request('https://127.0.0.1/static/notes/notes.css', "
        "headers={'Host': '%s'}); print(urllib.request.urlopen(r, context=ssl._create_unverified_context()).read().decode())\""
        % SITE)
    assert served == project_host("project-app1").file("/var/www/asgi/static/notes/notes.css").content_string.strip()


@pytest.fixture(scope="module")
def upload(host):
    """A file POSTed to the project's upload view through nginx: the view's answer and the content."""
    content = "uploaded %s" % uuid.uuid4().hex
    name = "%s.txt" % uuid.uuid4().hex[:12]
    answer = host.check_output(
        "python3 -c \"import ssl, sys, urllib.request; r = urllib.request.Request('https://127.0.0.1/upload/?name=%s', "
        "data=sys.argv[1].encode(), headers={'Host': '%s'}); "
        "print(urllib.request.urlopen(r, context=ssl._create_unverified_context()).read().decode())\" '%s'"
        % (name, SITE, content))
    return json.loads(answer), content


def test_upload_is_stored_by_the_app_in_the_shared_media_directory(upload):
    answer, content = upload
    stored = project_host(answer["host"]).file("/var/www/asgi/media/uploads/" + answer["url"].rsplit("/", 1)[-1])
    assert stored.content_string == content and stored.user == "daphne" and stored.mode == 0o644


def test_web_host_serves_the_upload_from_the_shared_media_directory(host, upload):
    answer, content = upload
    served = host.check_output(
        "python3 -c \"import ssl, urllib.request; r = urllib.request.Request('https://127.0.0.1%s', "
        "headers={'Host': '%s'}); print(urllib.request.urlopen(r, context=ssl._create_unverified_context()).read().decode())\""
        % (answer["url"], SITE))
    assert served == content


@pytest.mark.parametrize("option", ["socket_timeout=30", "socket_connect_timeout=30", "max_connections=10000"])
def test_channel_layer_url_carries_the_options_a_stock_project_needs(option):
    url = environment(project_host("project-app1"))["CHANNELS_REDIS_URL"]
    assert option in url.split("?", 1)[1].split("&"), "the URL's options: %s" % url.split("?", 1)[1]


def test_project_runs_todays_unpinned_redis_client():
    # the layer's client is whatever channels-redis pulls today: test_capacity.py's figures are
    # meant for redis-py 8's defaults (a 5 s socket timeout, a 100-connection pool), which the
    # site's URL options replace; an older client would make them say nothing about those
    version = project_host("project-app1").check_output(
        "/srv/asgi/current/venv/bin/python -c 'import redis; print(redis.__version__)'")
    assert int(version.split(".")[0]) >= 8, version


@pytest.mark.parametrize("app_host", APP_HOSTS)
def test_daphne_gives_consumers_a_minute_to_finish_after_their_client_left(app_host):
    # the role's application_close (Daphne's own 10 s left 7,939 of 10,000 group members behind)
    other = project_host(app_host)
    for _state, pid in supervisor_status(other, "asgi:").values():
        args = other.process.get(pid=pid).args
        assert "--application-close-timeout 60" in args, args
