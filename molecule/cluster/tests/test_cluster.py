"""The stack over three hosts, tested through nginx on cluster-app1, which is an app host and the
site's only web host; cluster-app2 is an app host the web host reaches over the network; Redis has
a host of its own. A broadcast between clients served by different app hosts (through the Redis
host), requests served by both app hosts, and the site still answering while one app host's
Daphne processes are stopped."""

import json
import re

import pytest
from cluster_helpers import cluster_host
from conftest import wsclient

testinfra_hosts = ["ansible://cluster-app1"]

ORIGIN = "--host-header localhost --origin http://localhost"
APP_HOSTS = ["cluster-app1", "cluster-app2"]


def network_address(name):
    """The host's address on the scenario's docker network (its default IPv4 address)."""
    return cluster_host(name).check_output("ip -4 -o route get 1.1.1.1 | sed -n 's/.* src \\([0-9.]*\\).*/\\1/p'")


def listening_addresses(name, port):
    lines = cluster_host(name).run("ss -Hltn 'sport = :%d'" % port).stdout.splitlines()
    return sorted(line.split()[3].rsplit(":", 1)[0] for line in lines)


def served_by(host, count):
    """{app host: requests it answered} for ``count`` requests to /health/ through nginx."""
    result = wsclient(host, "http http://127.0.0.1/health/ --host-header localhost --count %d --all-bodies" % count)
    assert result["ok"], result
    served = {}
    for body in result["bodies"]:
        name = json.loads(body)["host"]
        served[name] = served.get(name, 0) + 1
    return served


@pytest.mark.parametrize("name", ["cluster-redis", "cluster-app2"])
def test_site_was_deployed_by_a_user_with_sudo(name):
    """The inventory connects to these hosts as `deploy` (a sudo user, not root), and the converge,
    idempotence and check runs before these tests passed that way: the site playbook became root
    by itself. Ansible's own temporary directory in that user's home shows it connected there."""
    other = cluster_host(name)
    assert other.check_output("id -un") == "deploy"
    assert other.file("/home/deploy/.ansible/tmp").is_directory
    # sudo logged the deploy user's commands as root (the plays became root through it)
    log = other.run("sudo journalctl --no-pager -q _COMM=sudo").stdout
    assert re.search(r"deploy : .*USER=root", log), log[-2000:]


def test_nginx_balances_over_both_app_hosts(host):
    config = host.run("nginx -T").stdout
    upstream = config[config.index("upstream channels-backend"):]
    upstream = upstream[:upstream.index("}")]
    servers = re.findall(r"^\s*server\s+(\S+);", upstream, re.MULTILINE)
    # its own app processes on loopback, the other app host at its network address
    assert sorted(servers) == sorted(["127.0.0.1:8000", network_address("cluster-app2") + ":8000"]), upstream


def test_app_host_that_is_the_only_web_host_listens_on_loopback():
    assert listening_addresses("cluster-app1", 8000) == ["127.0.0.1"]


def test_app_host_reached_over_the_network_listens_on_its_address():
    assert listening_addresses("cluster-app2", 8000) == [network_address("cluster-app2")]


@pytest.mark.parametrize("app_host", APP_HOSTS)
def test_requests_through_nginx_reach_each_app_host(host, app_host):
    assert served_by(host, 20).get(app_host, 0) > 0


def test_broadcast_crosses_app_hosts_through_redis(host):
    result = wsclient(
        host,
        "broadcast ws://127.0.0.1/ws/chat/cluster/ ws://127.0.0.1/ws/chat/cluster/ %s "
        "--send cross-host --expect cross-host --distinct host" % ORIGIN,
    )
    assert result["ok"], result
    assert result["listener_hello"]["host"] != result["sender_hello"]["host"]


def test_site_answers_while_one_app_host_is_stopped(host):
    app1 = cluster_host("cluster-app1")
    assert app1.run("supervisorctl stop 'asgi:*'").rc == 0
    try:
        served = served_by(host, 20)
        echo = wsclient(host, "probe ws://127.0.0.1/ws/echo/ %s --send still-up --expect still-up" % ORIGIN)
    finally:
        assert app1.run("supervisorctl start 'asgi:*'").rc == 0
    assert served == {"cluster-app2": 20}
    assert echo["ok"], echo


def test_redis_listens_only_on_loopback_and_its_network_address(host):
    redis = cluster_host("cluster-redis")
    listening = redis.run("ss -Hltn 'sport = :6379'").stdout
    addresses = sorted(line.split()[3].rsplit(":", 1)[0] for line in listening.splitlines())
    assert "127.0.0.1" in addresses and len(addresses) == 2, listening
    assert "0.0.0.0" not in addresses and "*" not in addresses


def test_redis_refuses_unauthenticated_clients_from_app_hosts(host):
    # Redis is reached by its container name on the scenario's docker network.
    probe = cluster_host("cluster-app2").run(
        "python3 -c \"import socket; s=socket.create_connection(('cluster-redis', 6379), 5); "
        "s.sendall(b'PING\\r\\n'); print(s.recv(200).decode())\""
    )
    assert "NOAUTH" in probe.stdout, probe.stdout + probe.stderr
