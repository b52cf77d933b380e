"""The whole stack on one host, through nginx on port 80: page, static and media files, health,
WebSocket echo, a broadcast between two different Daphne processes (the Redis channel layer)."""

import json

import pytest
from conftest import asgi_status, manager_units, wsclient

ORIGIN = "--host-header localhost --origin http://localhost"
ENV_FILE = "/etc/daphne/asgi.env"
STATIC_ROOT = "/var/www/asgi/static"
MEDIA_ROOT = "/var/www/asgi/media"
# the roots the daphne role exports (examples/chat-deploy.yml leaves them to the role)
ROOTS = [("STATIC_ROOT", STATIC_ROOT), ("MEDIA_ROOT", MEDIA_ROOT)]


@pytest.mark.parametrize("service", ["nginx", "redis-server"])
def test_service_is_enabled_and_running(host, service):
    unit = host.service(service)
    assert unit.is_enabled
    assert unit.is_running


def test_the_process_managers_units_are_enabled_and_running(host):
    for unit in manager_units(host):
        assert host.service(unit).is_enabled, unit
        assert host.service(unit).is_running, unit


def test_every_daphne_process_runs(host):
    status = asgi_status(host)
    assert [state for state, _pid in status.values()] == ["RUNNING", "RUNNING"], status


def test_the_app_socket_listens_on_loopback_only(host):
    # nginx on the same host is the site's only web host: the guide's tcp://localhost:8000
    lines = host.run("ss -Hltn 'sport = :8000'").stdout.splitlines()
    assert sorted(line.split()[3].rsplit(":", 1)[0] for line in lines) == ["127.0.0.1"], lines


def test_chat_page_answers_through_nginx(host):
    result = wsclient(host, "http http://127.0.0.1/ --host-header localhost")
    assert result["ok"], result
    assert "<html" in result["bodies"][0].lower()


def test_static_file_is_served_by_nginx(host):
    # Django (DEBUG off) serves no static files: a 200 here comes from nginx's /static/ alias.
    result = wsclient(host, "http http://127.0.0.1/static/chat/chat.js --host-header localhost")
    assert result["ok"], result
    assert "WebSocket" in result["bodies"][0]


def test_media_directory_belongs_to_the_app_user_and_is_readable_by_others(host):
    media = host.file(MEDIA_ROOT)
    assert media.is_directory
    assert (media.user, media.group, media.mode) == ("daphne", "daphne", 0o755)


@pytest.mark.parametrize("name,path", ROOTS)
def test_the_apps_environment_carries_the_root(host, name, path):
    assert "%s=%s" % (name, path) in host.file(ENV_FILE).content_string.splitlines()


@pytest.mark.parametrize("name,path", ROOTS)
def test_django_in_the_release_reads_the_root(host, name, path):
    out = host.check_output(
        "runuser -u daphne -- /srv/asgi/bin/manage shell -c %s",
        "from django.conf import settings; print('root', settings.%s)" % name,
    )
    assert out.splitlines()[-1] == "root " + path


def test_nginx_is_not_in_the_group_that_reads_the_secrets(host):
    assert host.file(ENV_FILE).group == "daphne"
    assert "daphne" not in host.user("www-data").groups


@pytest.fixture
def uploaded(host):
    """A file the app user writes into the media directory as Django would (0644), removed after."""
    path = MEDIA_ROOT + "/molecule-upload.txt"
    host.check_output(
        "runuser -u daphne -- sh -c %s",
        "printf uploaded-by-the-app > %s && chmod 0644 %s" % (path, path),
    )
    yield path
    host.check_output("rm -f %s", path)


def test_a_file_the_app_wrote_to_the_media_directory_is_served_by_nginx(host, uploaded):
    # Django (DEBUG off) serves no media files: a 200 here comes from nginx's /media/ alias.
    assert host.file(uploaded).user == "daphne"
    result = wsclient(host, "http http://127.0.0.1/media/molecule-upload.txt --host-header localhost")
    assert result["ok"], result
    assert result["bodies"][0] == "uploaded-by-the-app"


def test_health_endpoint_answers_ok(host):
    result = wsclient(host, "http http://127.0.0.1/health/ --host-header localhost")
    assert result["ok"], result
    assert json.loads(result["bodies"][0])["status"] == "ok"


def test_websocket_echo_through_nginx(host):
    result = wsclient(host, "probe ws://127.0.0.1/ws/echo/ %s --send hello-site --expect hello-site" % ORIGIN)
    assert result["ok"], result
    assert result["status"] == 101


def test_broadcast_crosses_daphne_processes_through_redis(host):
    result = wsclient(
        host,
        "broadcast ws://127.0.0.1/ws/chat/default/ ws://127.0.0.1/ws/chat/default/ %s "
        "--send cross-process --expect cross-process --distinct pid" % ORIGIN,
    )
    assert result["ok"], result
    assert result["listener_hello"]["pid"] != result["sender_hello"]["pid"]
    assert json.loads(result["reply"])["pid"] == result["sender_hello"]["pid"]


# The channel layer's URL: the site publishes it with site_channel_layer_url_options as its query
# (default socket_timeout=30, socket_connect_timeout=30, max_connections=10000) against redis-py 8's
# defaults (5 s, 5 s, 100).
CHECK_AS_APP = (
    "runuser -u daphne -- sh -c 'set -a; . /etc/daphne/asgi.env; set +a; %s"
    "cd /srv/asgi/current && exec venv/bin/python /srv/asgi/bin/daphne-check.py chatsite.asgi:application'"
)


def test_the_apps_environment_carries_the_channel_layer_url_with_its_options(host):
    lines = [line for line in host.file(ENV_FILE).content_string.splitlines()
             if line.startswith("CHANNELS_REDIS_URL=")]
    assert len(lines) == 1
    # quoted for the shell: '&' and '?' must not reach it bare
    assert lines[0].startswith("CHANNELS_REDIS_URL='redis://channels:")
    assert lines[0].endswith("@127.0.0.1:6379/0?max_connections=10000&socket_connect_timeout=30&socket_timeout=30'")


def test_the_layers_pool_takes_the_urls_options(host):
    # the deployed app's own layer, built as channels_redis builds it, with the pinned redis-py
    out = host.check_output(
        "runuser -u daphne -- /srv/asgi/bin/manage shell -c %s",
        "from channels.layers import get_channel_layer; import redis; p = get_channel_layer().create_pool(0); "
        "c = p.make_connection(); print('pool', redis.__version__, p.max_connections, c.socket_timeout, "
        "c.socket_connect_timeout)",
    )
    assert out.splitlines()[-1] == "pool 8.1.0 10000 30.0 30.0"


def test_the_release_check_finds_nothing_with_the_sites_url(host):
    out = host.check_output(CHECK_AS_APP % "")
    assert out.splitlines() == ["imported chatsite.asgi:application"]


def test_the_release_check_warns_about_a_bare_url_naming_the_setting(host):
    # the sample's host dict sets max_connections 1000 itself: the timeouts are left to redis-py 8
    out = host.check_output(CHECK_AS_APP % "CHANNELS_REDIS_URL=redis://127.0.0.1:6379/0; ")
    warnings = [line for line in out.splitlines() if line.startswith("layer warning: ")]
    assert len(warnings) == 2, out
    assert warnings[0].startswith(
        "layer warning: CHANNEL_LAYERS['default']['CONFIG']['hosts'][0]: socket_timeout is 5 s "
        "(redis-py 8.1.0's default), not 5 s above the layer's 5 s blocking pop (BZPOPMIN)")
    assert warnings[1].startswith(
        "layer warning: CHANNEL_LAYERS['default']['CONFIG']['hosts'][0]: socket_connect_timeout is 5 s "
        "(redis-py 8.1.0's default)")
