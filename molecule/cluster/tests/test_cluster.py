"""The stack over three hosts, tested through nginx on both web hosts: cluster-app1, an app host
too, and cluster-redis, the Redis host, which is no app host (its static files come from the first
app host). cluster-app2 is an app host only; each web host reaches both app hosts over the
network. A broadcast between clients served by different app hosts (through the Redis host),
requests served by both app hosts, and the site still answering while one app host's Daphne
processes are stopped."""

import json
import re

import pytest
from cluster_helpers import cluster_host, network_address
from conftest import supervisor_status, wsclient

testinfra_hosts = ["ansible://cluster-app1"]

ORIGIN = "--host-header localhost --origin http://localhost"
APP_HOSTS = ["cluster-app1", "cluster-app2"]
WEB_HOSTS = ["cluster-app1", "cluster-redis"]
STATIC_ROOT = "/var/www/asgi/static"
STATIC_ARCHIVE = "/var/cache/asgi-channels-site-static.tar"


def port_processes():
    """How many processes cluster-app2 runs, each on a port of its own (daphne_binding port)."""
    return len(supervisor_status(cluster_host("cluster-app2", root=True), "asgi:"))


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


@pytest.mark.parametrize("web_host", WEB_HOSTS)
def test_nginx_balances_over_both_app_hosts(web_host):
    config = cluster_host(web_host, root=True).run("nginx -T").stdout
    upstream = config[config.index("upstream channels-backend"):]
    upstream = upstream[:upstream.index("}")]
    servers = re.findall(r"^\s*server\s+(\S+);", upstream, re.MULTILINE)
    # with two web hosts, every app host is reached at its network address (its own nginx too):
    # cluster-app1's shared socket, each process's port of cluster-app2 (daphne_binding port)
    expected = [network_address("cluster-app1") + ":8000"] + [
        "%s:%d" % (network_address("cluster-app2"), 8000 + n) for n in range(port_processes())]
    assert sorted(servers) == sorted(expected), upstream


@pytest.mark.parametrize("app_host", APP_HOSTS)
def test_app_host_listens_on_its_network_address(app_host):
    assert listening_addresses(app_host, 8000) == [network_address(app_host)]


@pytest.mark.parametrize("web_host", WEB_HOSTS)
@pytest.mark.parametrize("app_host", APP_HOSTS)
def test_requests_through_nginx_reach_each_app_host(web_host, app_host):
    assert served_by(cluster_host(web_host), 20).get(app_host, 0) > 0


def static_digests(name, root):
    """{path under the static root: sha256} of the files on the host."""
    out = cluster_host(name, root=True).check_output(
        "cd %s && find . -type f -print0 | sort -z | xargs -0 sha256sum", root)
    return {line.split(None, 1)[1]: line.split(None, 1)[0] for line in out.splitlines()}


@pytest.fixture(scope="module")
def app_static_files():
    """The static files on the first app host, where collectstatic wrote them."""
    files = static_digests("cluster-app1", STATIC_ROOT)
    assert "./chat/chat.js" in files, files  # collectstatic ran
    return files


def test_web_host_that_is_no_app_host_has_the_app_hosts_static_files(app_static_files):
    assert static_digests("cluster-redis", STATIC_ROOT) == app_static_files


def test_web_host_that_is_no_app_host_serves_a_static_file(app_static_files):
    name = sorted(app_static_files)[0][2:]
    served = cluster_host("cluster-redis").check_output(
        "python3 -c \"import hashlib, urllib.request; "
        "print(hashlib.sha256(urllib.request.urlopen('http://127.0.0.1/static/%s').read()).hexdigest())\"", name)
    assert served == app_static_files["./" + name]


def test_the_static_files_on_the_web_host_are_roots_and_world_readable():
    web = cluster_host("cluster-redis", root=True)
    odd = web.check_output("find %s ! -user root -o ! -perm -o+r", STATIC_ROOT)
    assert odd == "", odd


def test_the_packed_static_files_are_roots_and_public_like_the_files():
    packed = cluster_host("cluster-app1").file(STATIC_ARCHIVE)
    assert (packed.user, packed.group, packed.mode) == ("root", "root", 0o644)


@pytest.mark.parametrize("web_host", WEB_HOSTS)
def test_broadcast_crosses_app_hosts_through_redis(web_host):
    result = wsclient(
        cluster_host(web_host),
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


# --- behind a load balancer (nginx_trusted_proxies: cluster-outside stands in for it) --------------

LB = "cluster-outside"
FORGED = "--header 'X-Forwarded-For: 203.0.113.7' --header 'X-Forwarded-Proto: https'"


def seen_by_the_app(source, web_host):
    """The scheme and client address the app reports for a request from ``source`` through
    ``web_host``'s nginx, sent with a client's X-Forwarded-For and X-Forwarded-Proto."""
    result = wsclient(cluster_host(source), "http http://%s/health/ --host-header localhost %s"
                      % (network_address(web_host), FORGED))
    assert result["ok"], result
    body = json.loads(result["bodies"][0])
    return body["scheme"], body["client"]


@pytest.mark.parametrize("web_host", WEB_HOSTS)
def test_behind_the_trusted_load_balancer_the_app_sees_the_client_and_its_scheme(web_host):
    assert seen_by_the_app(LB, web_host) == ("https", "203.0.113.7")


@pytest.mark.parametrize("web_host", WEB_HOSTS)
def test_from_anyone_else_the_forwarded_headers_are_not_believed(web_host):
    assert seen_by_the_app("cluster-app2", web_host) == ("http", network_address("cluster-app2"))
