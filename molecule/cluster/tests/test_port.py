"""daphne_binding port on cluster-app2 (the guide's `daphne -b ADDRESS -p PORT`): each process
listens on a port of its own (8000 + N) at the host's network address, supervisord runs a plain
program and holds no socket, and both web hosts' nginx list every process of every app host.
Through nginx: requests and a broadcast reach different port processes; a killed process is back
within 5 s and its clients reconnect; a redeploy that replaces each process (Daphne to Uvicorn, one
port at a time) fails no request; the switch to Daphne on the shared socket and back to its ports
leaves nothing of the other (program, listeners, upstreams); after each step every process (and
the background worker) started with the files on disk, so the next run restarts none; after a reboot
every port answers again.
"""

import json
import re
import time

import pytest
from cluster_helpers import cluster_host, network_address
from conftest import kill_under_load, reboot, run_playbook, steady_load, supervisor_status, wsclient

# the host fixture (journal on failure) is the port-mode host, as root
testinfra_hosts = ["ansible://cluster-app2?sudo=true"]

PORT_HOST = "cluster-app2"
WEB_HOSTS = ["cluster-app1", "cluster-redis"]
# the web host that is no app host: every request it proxies crosses the network
WEB = "cluster-redis"
BASE = 8000
BIN = "/srv/asgi/bin"
PROGRAM_CONF = "/etc/supervisor/conf.d/asgi.conf"
ORIGIN = "--host-header localhost --origin http://localhost"
BACK_WITHIN = 5


def app_host():
    return cluster_host(PORT_HOST, root=True)


def pids():
    """{process name: pid} of the asgi program on the port-mode host."""
    return {name: pid for name, (_state, pid) in supervisor_status(app_host(), "asgi:").items()}


def port_of(name):
    return BASE + int(re.sub(r"^asgi:asgi", "", name))


def health(port):
    """/health/ of the port-mode host's process on ``port``, asked from the web host over the
    network: its JSON (host, pid...)."""
    result = wsclient(cluster_host(WEB), "http http://%s:%d/health/ --host-header localhost" % (network_address(PORT_HOST), port))
    assert result["ok"], result
    return json.loads(result["bodies"][0])


def listeners():
    """{port: {"sockets": listening sockets on it, "names": processes ss names as holding them}} for
    the asgi ports on the host. ss names only root's processes here (reading another user's
    /proc/PID/fd takes CAP_SYS_PTRACE, which the containers lack): supervisord, not the app user's
    server processes; which process answers on a port, health() tells."""
    out = app_host().check_output("ss -Hltnp '( sport >= :%s and sport <= :%s )'", str(BASE), str(BASE + 9))
    held = {}
    for line in out.splitlines():
        port = int(line.split()[3].rsplit(":", 1)[1])
        entry = held.setdefault(port, {"sockets": 0, "names": set()})
        entry["sockets"] += 1
        entry["names"] |= set(re.findall(r'"([^"]+)",pid=', line))
    return held


def answers():
    """{process name: pid that answers on its port} for the port-mode host's processes."""
    return {name: health(port_of(name))["pid"] for name in pids()}


def upstream(web_host):
    config = cluster_host(web_host, root=True).run("nginx -T").stdout
    block = config[config.index("upstream channels-backend"):]
    return sorted(re.findall(r"^\s*server\s+(\S+);", block[:block.index("}")], re.MULTILINE))


def stamps():
    """(the stamp of the files on disk, {process name: the stamp it started with}) of the asgi
    processes and the background worker on the port-mode host: `daphne-run stamp`, what the role
    compares to choose the processes it restarts (a --check run reports those restarts)."""
    running = {name: pid for name, (_state, pid) in supervisor_status(app_host(), "asgi: asgi-background:").items()}
    lines = app_host().check_output("%s/daphne-run stamp %s" % (BIN, " ".join(str(pid) for pid in running.values())))
    disk, *started = lines.splitlines()
    by_pid = dict(line.partition(" ")[::2] for line in started)
    return disk.split()[-1], {name: by_pid.get(str(pid), "") for name, pid in running.items()}


def state():
    running = pids()
    return {
        "pids": running,
        "args": {name: app_host().file("/proc/%d/cmdline" % pid).content.decode().split("\0") for name, pid in running.items()},
        "conf": app_host().file(PROGRAM_CONF).content_string,
        "listeners": listeners(),
        "answers": answers() if "[program:asgi]" in app_host().file(PROGRAM_CONF).content_string else {},
        "upstreams": {name: upstream(name) for name in WEB_HOSTS},
        "entry_points": sorted(n for n in app_host().file(BIN).listdir() if n.endswith("-serve.py")),
        "stamps": stamps(),
    }


def port_upstreams(count):
    return ["%s:%d" % (network_address(PORT_HOST), BASE + n) for n in range(count)]


def test_supervisord_runs_a_plain_program_and_binds_no_socket():
    conf = app_host().file(PROGRAM_CONF).content_string
    assert "[program:asgi]" in conf and "socket=" not in conf, conf


@pytest.mark.parametrize("num", [0, 1])
def test_each_process_answers_on_a_port_of_its_own(num):
    assert health(BASE + num)["pid"] == pids()["asgi:asgi%d" % num]


def test_each_port_has_one_listening_socket_and_supervisord_holds_none():
    held = listeners()
    assert sorted(held) == [port_of(name) for name in sorted(pids())], held
    assert all(entry["sockets"] == 1 and "supervisord" not in entry["names"] for entry in held.values()), held


@pytest.mark.parametrize("web_host", WEB_HOSTS)
def test_nginx_lists_every_port_process(web_host):
    assert set(port_upstreams(len(pids()))) <= set(upstream(web_host))


def test_requests_through_nginx_reach_every_port_process():
    result = wsclient(cluster_host(WEB), "http http://127.0.0.1/health/ --host-header localhost --count 60 --all-bodies")
    assert result["ok"], result
    answered = {(body["host"], body["pid"]) for body in map(json.loads, result["bodies"])}
    assert {(PORT_HOST, pid) for pid in pids().values()} <= answered, answered


def test_broadcast_crosses_port_processes():
    """A listener on process 0's port, the sender on process 1's, both from the web host."""
    url = "ws://%s:%%d/ws/chat/ports/" % network_address(PORT_HOST)
    # --distinct pid: the hellos are recorded (the ports make the processes distinct)
    result = wsclient(cluster_host(WEB), "broadcast %s %s %s --send across-ports --expect across-ports --distinct pid"
                      % (url % (BASE + 1), url % BASE, ORIGIN))
    assert result["ok"], result
    running = pids()
    assert result["listener_hello"]["pid"] == running["asgi:asgi0"], (result, running)
    assert result["sender_hello"]["pid"] == running["asgi:asgi1"], (result, running)


@pytest.fixture(scope="module")
def killed():
    return kill_under_load(app_host(), "kill-9-port-process", load_host=cluster_host(WEB))


def test_a_killed_port_process_is_back_within_5_s(killed):
    assert killed["back_after"] is not None and killed["back_after"] <= BACK_WITHIN, killed["load"]


def test_a_killed_port_process_answers_on_its_port_again(killed):
    assert health(port_of(killed["victim"]))["pid"] == killed["after"][killed["victim"]]


def test_clients_of_a_killed_port_process_reconnect(killed):
    ws = killed["load"].result["ws"]
    assert ws["dropped"] > 0, "the killed process held no WebSocket: %s" % killed["load"]
    assert ws["reconnected"] == ws["dropped"] and ws["failed_reconnects"] == 0, killed["load"]


# On the converged port-mode host: a redeploy that replaces every process one port at a time
# (Daphne to Uvicorn, --limit to the host, under load through the other web host, with
# cluster-app1's processes stopped: the port-mode host alone serves, so a rolling restart that let
# nginx find every port failed at once would fail requests), then the switch to Daphne on the
# shared socket and back to Daphne's ports (whole site: the web hosts' upstreams follow). No --check
# after a step: --check on a converged shared-socket host is the shared check-mode test's
# (cluster-app1 here, the default scenario's hosts), and what it would find after the switch (a
# process still on the old files, restarted by the next run) is asserted directly, from the stamps.
@pytest.fixture(scope="module")
def switched():
    steps = {"before": {"state": state()}}
    other = cluster_host("cluster-app1")
    assert other.run("supervisorctl stop 'asgi:*'").rc == 0
    try:
        with steady_load(cluster_host(WEB), "port-redeploy-to-uvicorn-alone") as load:
            proc = run_playbook("converge.yml", limit=PORT_HOST, extra_vars={"daphne_server": "uvicorn"})
            time.sleep(2)
    finally:
        assert other.run("supervisorctl start 'asgi:*'").rc == 0
    steps["uvicorn"] = {"run": proc, "load": load, "state": state()}
    shared = {"daphne_binding": "shared"}
    steps["shared"] = {"run": run_playbook("converge.yml", extra_vars=shared), "state": state()}
    steps["port"] = {"run": run_playbook("converge.yml"), "state": state()}
    return steps


STEPS = ["uvicorn", "shared", "port"]
ROLLING = ["uvicorn"]


@pytest.mark.parametrize("step", STEPS)
def test_each_step_converges(switched, step):
    assert switched[step]["run"].returncode == 0, switched[step]["run"].stdout[-4000:]


@pytest.mark.parametrize("step", ROLLING)
def test_a_port_by_port_redeploy_fails_no_request(switched, step):
    load = switched[step]["load"]
    assert load.result["http"]["sent"] > 50 and load.result["http"]["failed"] == 0, load


@pytest.mark.parametrize("step", ROLLING)
def test_clients_of_redeployed_port_processes_reconnect(switched, step):
    load = switched[step]["load"]
    ws = load.result["ws"]
    assert ws["dropped"] > 0 and ws["reconnected"] == ws["dropped"] and ws["failed_reconnects"] == 0, load


@pytest.mark.parametrize("step", STEPS)
def test_each_step_replaces_every_process(switched, step):
    previous = switched[STEPS[STEPS.index(step) - 1] if step != "uvicorn" else "before"]["state"]["pids"]
    now = switched[step]["state"]["pids"]
    assert set(now) == set(previous) and not set(now.values()) & set(previous.values()), (previous, now)


@pytest.mark.parametrize("step", STEPS)
def test_after_each_step_every_process_runs_the_chosen_server(switched, step):
    server = "uvicorn" if step == "uvicorn" else "daphne"
    for name, args in switched[step]["state"]["args"].items():
        assert args[1] == "%s/%s-serve.py" % (BIN, server), (name, args)
    assert switched[step]["state"]["entry_points"] == ["%s-serve.py" % server]


def test_uvicorn_trusts_the_web_hosts_as_proxies(switched):
    """The site playbook lists every web host's address as Uvicorn's --forwarded-allow-ips."""
    for name, args in switched["uvicorn"]["state"]["args"].items():
        trusted = set(args[args.index("--forwarded-allow-ips") + 1].split(","))
        assert {network_address(web) for web in WEB_HOSTS} <= trusted and "*" not in trusted, (name, args)


@pytest.mark.parametrize("step", STEPS)
def test_after_each_step_only_the_chosen_binding_listens(switched, step):
    current = switched[step]["state"]
    if step == "shared":
        # supervisord's fcgi socket, inherited by both processes; no port of its own
        assert list(current["listeners"]) == [BASE], current["listeners"]
        assert "supervisord" in current["listeners"][BASE]["names"], current["listeners"]
        assert "[fcgi-program:asgi]" in current["conf"], current["conf"]
    else:
        assert sorted(current["listeners"]) == [port_of(name) for name in sorted(current["pids"])], current
        assert all(entry["sockets"] == 1 and "supervisord" not in entry["names"]
                   for entry in current["listeners"].values()), current["listeners"]
        assert current["answers"] == current["pids"], current
        assert "[program:asgi]" in current["conf"] and "socket=" not in current["conf"], current["conf"]


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("web_host", WEB_HOSTS)
def test_after_each_step_the_web_hosts_upstream_follows(switched, step, web_host):
    servers = switched[step]["state"]["upstreams"][web_host]
    ours = [server for server in servers if server.startswith(network_address(PORT_HOST) + ":")]
    assert ours == port_upstreams(1 if step == "shared" else len(switched[step]["state"]["pids"])), servers


@pytest.mark.parametrize("step", STEPS)
def test_after_each_step_every_process_started_with_the_files_on_disk(switched, step):
    """Every asgi process and the worker carry the stamp of the release and files on disk: the
    next run (or its --check) restarts none of them."""
    disk, started = switched[step]["state"]["stamps"]
    assert set(switched[step]["state"]["pids"]) < set(started), started
    assert any(name.startswith("asgi-background:") for name in started), started
    assert all(stamp == disk for stamp in started.values()), (disk, started)


@pytest.fixture(scope="module")
def rebooted(switched):
    """After the switches (back in port mode): the container restarted, until process 1's port
    answers the web host."""
    state_, answered_after, answer = reboot(app_host(), probe_host=cluster_host(WEB),
                                            url="http://%s:%d/health/" % (network_address(PORT_HOST), BASE + 1))
    return {"state": state_, "answered_after": answered_after, "answer": answer, "pids": pids(),
            "before": switched["port"]["state"]["pids"]}


def test_after_a_reboot_a_port_answers_within_60_s(rebooted):
    assert rebooted["answered_after"] is not None, rebooted


def test_after_a_reboot_every_port_process_runs_and_answers(rebooted):
    assert set(rebooted["pids"]) == set(rebooted["before"]), rebooted
    for name, pid in rebooted["pids"].items():
        assert health(port_of(name))["pid"] == pid
