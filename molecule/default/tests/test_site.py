"""The whole stack on one host, through nginx on port 80: page, static files, health,
WebSocket echo, a broadcast between two different Daphne processes (the Redis channel layer)."""

import json

import pytest
from conftest import wsclient

ORIGIN = "--host-header localhost --origin http://localhost"


@pytest.mark.parametrize("service", ["nginx", "supervisor", "redis-server"])
def test_service_is_enabled_and_running(host, service):
    unit = host.service(service)
    assert unit.is_enabled
    assert unit.is_running


def test_every_daphne_process_runs(host):
    status = host.run("supervisorctl status asgi:*").stdout
    assert status.count("RUNNING") == 2, status


def test_chat_page_answers_through_nginx(host):
    result = wsclient(host, "http http://127.0.0.1/ --host-header localhost")
    assert result["ok"], result
    assert "<html" in result["bodies"][0].lower()


def test_static_file_is_served_by_nginx(host):
    # Django (DEBUG off) serves no static files: a 200 here comes from nginx's /static/ alias.
    result = wsclient(host, "http http://127.0.0.1/static/chat/chat.js --host-header localhost")
    assert result["ok"], result
    assert "WebSocket" in result["bodies"][0]


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
