"""The stack over four hosts, tested from the web host through nginx: a broadcast between clients
served by different app hosts (through the Redis host), and the site still answering while one app
host's Daphne processes are stopped."""

import json
import os
import re

import testinfra
from conftest import wsclient

testinfra_hosts = ["ansible://cluster-web"]

ORIGIN = "--host-header localhost --origin http://localhost"


def other_host(name):
    return testinfra.get_host("ansible://%s" % name, ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


def test_nginx_balances_over_both_app_hosts(host):
    config = host.run("nginx -T").stdout
    upstream = config[config.index("upstream channels-backend"):]
    upstream = upstream[:upstream.index("}")]
    servers = re.findall(r"^\s*server\s+(\S+);", upstream, re.MULTILINE)
    assert len(servers) == 2 and all(s.endswith(":8000") for s in servers), upstream


def test_broadcast_crosses_app_hosts_through_redis(host):
    result = wsclient(
        host,
        "broadcast ws://127.0.0.1/ws/chat/cluster/ ws://127.0.0.1/ws/chat/cluster/ %s "
        "--send cross-host --expect cross-host --distinct host" % ORIGIN,
    )
    assert result["ok"], result
    assert result["listener_hello"]["host"] != result["sender_hello"]["host"]


def test_site_answers_while_one_app_host_is_stopped(host):
    app1 = other_host("cluster-app1")
    assert app1.run("supervisorctl stop 'asgi:*'").rc == 0
    try:
        result = wsclient(host, "http http://127.0.0.1/health/ --host-header localhost --count 20")
        echo = wsclient(host, "probe ws://127.0.0.1/ws/echo/ %s --send still-up --expect still-up" % ORIGIN)
    finally:
        assert app1.run("supervisorctl start 'asgi:*'").rc == 0
    assert result["ok"], result
    assert {json.loads(result["bodies"][0])["host"]} == {"cluster-app2"}
    assert echo["ok"], echo


def test_redis_listens_only_on_loopback_and_its_network_address(host):
    redis = other_host("cluster-redis")
    listening = redis.run("ss -Hltn 'sport = :6379'").stdout
    addresses = sorted(line.split()[3].rsplit(":", 1)[0] for line in listening.splitlines())
    assert "127.0.0.1" in addresses and len(addresses) == 2, listening
    assert "0.0.0.0" not in addresses and "*" not in addresses


def test_redis_refuses_unauthenticated_clients_from_app_hosts(host):
    # Redis is reached by its container name on the scenario's docker network.
    probe = other_host("cluster-app2").run(
        "python3 -c \"import socket; s=socket.create_connection(('cluster-redis', 6379), 5); "
        "s.sendall(b'PING\\r\\n'); print(s.recv(200).decode())\""
    )
    assert "NOAUTH" in probe.stdout, probe.stdout + probe.stderr
