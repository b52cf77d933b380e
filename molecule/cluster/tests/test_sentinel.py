"""Redis with Sentinel on the cluster's three Redis hosts (cluster-redis, the first, is the primary
when the set is created; cluster-app1 and cluster-app2 its replicas): what Sentinel knows, what the
servers and the app processes are given, then the failure of the primary's host under a stream of
broadcasts. cluster-redis is a web host too: while it is down, cluster-app1 alone serves the site.
Sentinel promotes a replica; the clients connected before the failure get broadcasts again without a
restart of any ASGI process; the old primary, started again, rejoins as a replica; the next converge
changes nothing and demotes no one. The outage and the messages lost are printed (FAILOVER line).
"""

import json
import pathlib
import shlex
import subprocess
import time

import pytest
from cluster_helpers import cluster_host, network_address
from conftest import asgi_status, changed_tasks, parse_json_output, run_playbook, wait_until, wsclient

testinfra_hosts = ["ansible://cluster-app1"]

REDIS_HOSTS = ["cluster-redis", "cluster-app1", "cluster-app2"]
APP_HOSTS = ["cluster-app1", "cluster-app2"]
FIRST_PRIMARY = "cluster-redis"
MASTER = "channels"
ORIGIN = "--host-header localhost --origin http://localhost"
ENV_FILE = "/etc/daphne/asgi.env"
# the bound: broadcasts reach the clients connected before the failure again within 30 s
BACK_WITHIN_MS = 30000
# The role writes no replicaof (Sentinel owns replication state), so a replica that restarts comes
# back as a primary of its own until Sentinel turns it into a replica again: 8 s after it reports
# the new role, on the next INFO (every 10 s). test_port reboots cluster-app2 just before.
REPLICA_BACK_WITHIN_S = 45
PROJECT = pathlib.Path(__file__).resolve().parents[3]
# what the failover cost in this run (docs/multi-host.md quotes a committed copy)
RESULTS_FILE = PROJECT / ".cache" / "failover" / "results.json"


def inventory_vars():
    return cluster_host("cluster-app1").ansible.get_variables()


def secrets():
    found = inventory_vars()
    # redis_password comes from examples/chat-deploy.yml as chat_redis_password
    return found["redis_sentinel_password"], found["chat_redis_password"]


def sentinel(name, command):
    """The lines Sentinel on ``name`` answers to ``command`` (redis-cli, password from the
    environment)."""
    password = secrets()[0]
    out = cluster_host(name, root=True).run(
        "REDISCLI_AUTH=%s timeout 5 redis-cli --no-auth-warning -p 26379 %s" % (shlex.quote(password), command))
    return out.stdout.splitlines()


def pairs(lines):
    """Sentinel's flat key/value answer (one entry) as a dict."""
    return dict(zip(lines[0::2], lines[1::2]))


def entries(lines, first_key="name"):
    """Sentinel's list of entries (each a flat key/value list starting with ``first_key``)."""
    found = []
    for index, line in enumerate(lines):
        if line == first_key and index % 2 == 0:
            found.append({})
        if found and index % 2 == 0 and index + 1 < len(lines):
            found[-1][line] = lines[index + 1]
    return found


def primary_seen_by(name):
    answer = sentinel(name, "SENTINEL get-master-addr-by-name %s" % MASTER)
    return answer[0] if answer else None


def server_role(name):
    """ROLE of the server on ``name``, as the channel layer's user: its lines."""
    password = secrets()[1]
    out = cluster_host(name, root=True).run(
        "REDISCLI_AUTH=%s timeout 5 redis-cli --no-auth-warning --user channels -h 127.0.0.1 ROLE"
        % shlex.quote(password))
    return out.stdout.splitlines()


def addresses():
    return {name: network_address(name) for name in REDIS_HOSTS}


# --- the set as created ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", REDIS_HOSTS)
def test_each_sentinel_names_the_first_redis_host_primary(name):
    assert primary_seen_by(name) == network_address(FIRST_PRIMARY)


@pytest.mark.parametrize("name", REDIS_HOSTS)
def test_each_sentinel_knows_two_replicas_and_two_other_sentinels(name):
    def known():
        return (entries(sentinel(name, "SENTINEL replicas %s" % MASTER)),
                entries(sentinel(name, "SENTINEL sentinels %s" % MASTER)))

    def healthy():
        replicas, others = known()
        return (sorted(r["ip"] for r in replicas) == sorted(network_address(n) for n in APP_HOSTS)
                and all(r["flags"] == "slave" for r in replicas) and len(others) == 2)

    # a replica test_port rebooted is flagged (s_down, disconnected) until Sentinel has it back
    assert wait_until(healthy, REPLICA_BACK_WITHIN_S) is not None, known()


def logs(name):
    """The tail of the server's and Sentinel's logs on ``name`` (for a failure's message)."""
    return cluster_host(name, root=True).run(
        "tail -n 15 /var/log/redis/redis-server.log /var/log/redis/redis-sentinel.log").stdout


def replicating(name, primary):
    """Whether the server on ``name`` is a replica of ``primary``'s address with its link up."""
    role = server_role(name)
    return role[:3] == ["slave", network_address(primary), "6379"] and role[3:4] == ["connected"]


@pytest.mark.parametrize("name", APP_HOSTS)
def test_each_replica_replicates_the_primary(name):
    assert wait_until(lambda: replicating(name, FIRST_PRIMARY), REPLICA_BACK_WITHIN_S) is not None, \
        "%s\n%s\n%s" % (server_role(name), logs(name), logs(FIRST_PRIMARY))


@pytest.mark.parametrize("name", REDIS_HOSTS)
def test_the_server_may_not_rewrite_the_roles_configuration(name):
    password = secrets()[1]
    out = cluster_host(name, root=True).run(
        "REDISCLI_AUTH=%s redis-cli --no-auth-warning --user channels -h 127.0.0.1 CONFIG REWRITE" % shlex.quote(password))
    conf = cluster_host(name, root=True).file("/etc/redis/redis.conf").content_string
    assert "ERR" in out.stdout, out.stdout
    assert not [line for line in conf.splitlines() if line.startswith("replicaof")], conf


@pytest.mark.parametrize("name", REDIS_HOSTS)
def test_sentinel_refuses_a_client_without_its_password(name):
    out = cluster_host("cluster-app1").run("timeout 5 redis-cli -h %s -p 26379 SENTINEL masters" % network_address(name))
    assert "NOAUTH" in out.stdout + out.stderr, out


@pytest.mark.parametrize("name", APP_HOSTS)
def test_the_app_finds_the_primary_through_the_sentinels(name):
    env = dict(line.split("=", 1) for line in cluster_host(name, root=True).file(ENV_FILE).content_string.splitlines()
               if "=" in line and not line.startswith("#"))
    assert sorted(env["CHANNELS_REDIS_SENTINELS"].split(",")) == sorted(
        "%s:26379" % address for address in addresses().values()), env.get("CHANNELS_REDIS_SENTINELS")
    assert env["CHANNELS_REDIS_MASTER_NAME"] == MASTER
    assert env["CHANNELS_REDIS_SENTINEL_PASSWORD"].strip("'\"") == secrets()[0]
    # site_channel_layer_sentinel_url_options over site_channel_layer_url_options
    assert env["CHANNELS_REDIS_URL"].strip("'\"").endswith(
        "?max_connections=10000&socket_connect_timeout=10&socket_timeout=10"), env["CHANNELS_REDIS_URL"]


# --- the primary's host fails ------------------------------------------------------------------------

def docker(*args):
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def failover():
    """Stream broadcasts through cluster-app1 (six listeners over both app hosts' processes), stop
    the primary's container, wait for Sentinel's promotion, keep streaming 10 s more; look at the
    site through cluster-app1 while cluster-redis is down; start it again; converge."""
    web = cluster_host("cluster-app1")
    old_primary = network_address(FIRST_PRIMARY)
    # a healthy set loses its primary: both replicas follow it (a rebooted one is turned back by
    # Sentinel) and hold what it holds; a promoted server that was not replicating would lack the
    # groups the listeners joined
    assert wait_until(lambda: all(replicating(name, FIRST_PRIMARY) for name in APP_HOSTS),
                      REPLICA_BACK_WITHIN_S) is not None, \
        {name: server_role(name) for name in APP_HOSTS}
    before = {name: asgi_status(cluster_host(name, root=True)) for name in APP_HOSTS}
    stop, ready, out = "/tmp/failover.stop", "/tmp/failover.ready", "/tmp/failover.json"
    web.run("rm -f %s %s %s" % (stop, ready, out))
    url = "ws://127.0.0.1/ws/chat/failover/"
    web.run("setsid nohup wsclient stream %s %s %s --listeners 6 --interval 0.1 --stop-file %s --ready-file %s "
            "> %s 2>&1 < /dev/null &" % (url, url, ORIGIN, stop, ready, out))
    assert wait_until(lambda: web.file(ready).exists, 30) is not None, web.run("cat %s" % out).stdout
    time.sleep(3)
    # the containers share this machine's clock: the stream's times compare with these
    stopped_at = time.time()
    stopped = docker("stop", FIRST_PRIMARY)
    try:
        return _while_stopped(web, url, stop, out, old_primary, before, stopped_at, stopped)
    finally:
        # whatever happened above, the host is back for the tests after this one
        docker("start", FIRST_PRIMARY)


def _while_stopped(web, url, stop, out, old_primary, before, stopped_at, stopped):
    """The failover fixture's part while the primary's host is stopped, and the start after."""
    promoted = wait_until(lambda: (primary_seen_by("cluster-app1") or old_primary) != old_primary, 60)
    promoted_at = time.time()
    promoted_after = promoted_at - stopped_at
    new_primary = primary_seen_by("cluster-app1")
    # new clients' broadcasts cross again (at most 40 s after the stop); the stream goes on at least
    # 8 s more, and past the bound for the listeners connected before the failure (30 s
    # after the stop) by 5 s, so a late recovery is seen as late, not as none
    probe = "ws://127.0.0.1/ws/chat/failoverprobe/"
    wait_until(lambda: wsclient(web, "broadcast %s %s %s --send back --expect back --timeout 2"
                                % (probe, probe, ORIGIN))["ok"], max(0.0, stopped_at + 40 - time.time()))
    time.sleep(max(8.0, stopped_at + BACK_WITHIN_MS / 1000 + 5 - time.time()))
    web.run("touch %s" % stop)
    assert wait_until(lambda: web.file(out).content_string.strip().startswith("{"), 30) is not None
    stream = json.loads(web.file(out).content_string)
    site = {
        "page": wsclient(web, "http http://127.0.0.1/ --host-header localhost"),
        "echo": wsclient(web, "probe ws://127.0.0.1/ws/echo/ %s --send one-web-host --expect one-web-host" % ORIGIN),
        "broadcast": wsclient(web, "broadcast ws://127.0.0.1/ws/chat/oneweb/ ws://127.0.0.1/ws/chat/oneweb/ %s "
                                   "--send one-web-host --expect one-web-host --distinct host" % ORIGIN),
    }
    after = {name: asgi_status(cluster_host(name, root=True)) for name in APP_HOSTS}
    app_logs = {name: cluster_host(name, root=True).run("tail -n 30 /var/log/daphne/asgi.log").stdout
                for name in APP_HOSTS}
    started = docker("start", FIRST_PRIMARY)
    rejoined = wait_until(lambda: server_role(FIRST_PRIMARY)[:2] == ["slave", new_primary]
                          and server_role(FIRST_PRIMARY)[3:4] == ["connected"], 90)
    converge = run_playbook("converge.yml", json_output=True)
    result = {"stopped": stopped, "promoted": promoted, "promoted_after_s": round(promoted_after, 1),
              "stopped_at": stopped_at, "promoted_at": promoted_at,
              "old_primary": old_primary, "new_primary": new_primary, "stream": stream, "site": site,
              "before": before, "after": after, "started": started, "rejoined": rejoined,
              "converge": converge, "primary_after_converge": primary_seen_by("cluster-app1"),
              "app_logs": app_logs}
    record(result)
    print("FAILOVER promoted_after_s=%s back_after_s=%s lost=%s sent=%s send_errors=%s closed=%s" % (
        result["promoted_after_s"], max((b for b in back_after(result).values() if b is not None), default=None),
        stream.get("lost"),
        stream.get("sent"), stream.get("send_errors"), stream.get("closed")))
    return result


def back_after(result):
    """{listener index: seconds from the stop of the primary's host to the first broadcast the
    listener got of those sent after Sentinel's promotion (None: none came)}. The promotion's time
    is when the test saw it (polled): if anything late, which makes the figure later, not earlier."""
    sent_at = dict(result["stream"].get("sent_at", []))
    found = {}
    for index, listener in enumerate(result["stream"].get("listeners", [])):
        after = [at for seq, at in listener["got_at"] if sent_at.get(seq, 0) > result["promoted_at"]]
        found[index] = round(min(after) - result["stopped_at"], 1) if after else None
    return found


def lost_after_back(result, settle=2.0):
    """{listener index: broadcasts sent from 2 s after its first one back to 2 s before the stream
    stopped that it never got}: once broadcasts are back, none may go missing."""
    stream = result["stream"]
    backs = back_after(result)
    lost = {}
    for index, listener in enumerate(stream.get("listeners", [])):
        if backs[index] is None:
            lost[index] = None
            continue
        got = {seq for seq, _at in listener["got_at"]}
        start = result["stopped_at"] + backs[index] + settle
        lost[index] = sum(1 for seq, at in stream["sent_at"]
                          if start <= at <= stream["stopped_at"] - settle and seq not in got)
    return lost


def record(result):
    """The failover's figures into RESULTS_FILE: timings, the stream's counts, what answered."""
    git = subprocess.run(["git", "-C", str(PROJECT), "describe", "--always", "--dirty"],
                         capture_output=True, text=True, check=False).stdout.strip() or None
    stream = result["stream"]
    figures = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "git": git,
        "setting": {"redis_sentinel_down_after_ms": inventory_vars()["redis_sentinel_down_after_ms"],
                    "listeners": len(stream.get("listeners", [])), "interval_s": 0.1},
        "promoted_after_s": result["promoted_after_s"],
        "back_after_s": back_after(result), "lost_after_back": lost_after_back(result),
        "old_primary": result["old_primary"],
        "new_primary": result["new_primary"],
        "stream": {key: stream.get(key)
                   for key in ("sent", "send_errors", "first_send_errors", "max_gap_ms", "lost", "closed")},
        "listeners": [{key: entry.get(key) for key in ("received", "lost", "max_gap_ms", "closed")}
                      for entry in stream.get("listeners", [])],
        "rejoined_after_start_s": result["rejoined"],
        "asgi_processes_restarted": result["after"] != result["before"],
    }
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


def test_the_primary_host_was_stopped(failover):
    assert failover["stopped"].returncode == 0, failover["stopped"].stderr


def test_sentinel_promotes_a_replica(failover):
    assert failover["promoted"] is not None, failover
    assert failover["new_primary"] in [network_address(name) for name in APP_HOSTS], failover


def test_clients_connected_before_the_failure_stay_connected(failover):
    assert failover["stream"]["closed"] == 0, failover["stream"]


def test_broadcasts_reach_them_again_within_30_s(failover):
    backs = back_after(failover)
    assert backs and all(back is not None and back * 1000 <= BACK_WITHIN_MS for back in backs.values()), backs


def test_once_back_no_broadcast_is_lost(failover):
    lost = lost_after_back(failover)
    assert lost and all(count == 0 for count in lost.values()), "%s\n%s" % (lost, failover["app_logs"])


def test_no_asgi_process_was_restarted(failover):
    assert failover["after"] == failover["before"]


@pytest.mark.parametrize("check", ["page", "echo", "broadcast"])
def test_the_other_web_host_serves_the_site_while_one_is_down(failover, check):
    assert failover["site"][check]["ok"], failover["site"][check]


def test_the_old_primary_rejoins_as_a_replica(failover):
    assert failover["started"].returncode == 0 and failover["rejoined"] is not None, server_role(FIRST_PRIMARY)


def test_the_next_converge_changes_nothing(failover):
    proc = failover["converge"]
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert list(changed_tasks(parse_json_output(proc))) == []


def test_the_next_converge_demotes_no_one(failover):
    assert failover["primary_after_converge"] == failover["new_primary"]
