"""The ASGI server each host runs (daphne_server): Daphne on default-bookworm and default-trixie,
Uvicorn on default-uvicorn. The site's own tests (test_site.py: page, static and media files,
health, WebSocket echo, a broadcast between two processes) and the restarts (test_zz_restarts.py:
Redis restart, reboot) run on all three. Here: what tells the servers apart on every host, and on
the Uvicorn host what the faults scenario proves for Daphne (a killed process is back within 5 s)
and a switch to Daphne and back, each under load: every process replaced, nothing of the old
server left, no failed request.
"""

import json
import time

import pytest

from conftest import (asgi_status, changed_tasks, kill_under_load, parse_json_output, process_manager,
                      process_number, run_playbook, steady_load, wsclient)

# the hosts that run another server than the default (molecule.yml's host_vars)
SERVERS = {"default-uvicorn": "uvicorn"}
VERSIONS = {"daphne": "4.2.3", "uvicorn": "0.55.0"}
BIN = "/srv/asgi/bin"
BACK_WITHIN = 5


def server(host):
    return SERVERS.get(host.backend.get_hostname(), "daphne")


def pids(host):
    """{process name: pid} of the asgi program's processes."""
    return {name: pid for name, (_state, pid) in asgi_status(host).items()}


def argv(host, pid):
    return host.file("/proc/%d/cmdline" % pid).content.decode().rstrip("\0").split("\0")


def option(args, name):
    """The value after ``name`` in a command line (None when absent)."""
    return args[args.index(name) + 1] if name in args else None


def own_socket_pid(host, num):
    result = wsclient(host, "http http://localhost/health/ --unix-socket /run/daphne/daphne%d.sock --host-header localhost" % num)
    assert result["ok"], result
    return json.loads(result["bodies"][0])["pid"]


def uvicorn_only(host):
    if server(host) != "uvicorn":
        pytest.skip("Daphne's kills and restarts under load are the faults scenario's")


def test_every_process_runs_the_chosen_servers_entry_point(host):
    running = pids(host)
    assert len(running) == 2, running
    for name, pid in running.items():
        assert argv(host, pid)[1] == "%s/%s-serve.py" % (BIN, server(host)), (name, argv(host, pid))


def test_only_the_chosen_servers_entry_point_is_installed(host):
    """The chosen ASGI server's, and gunicorn's on a host with the split (daphne_split)."""
    entry_points = sorted(name for name in host.file(BIN).listdir() if name.endswith("-serve.py"))
    split = ["gunicorn-serve.py"] if host.ansible.get_variables().get("daphne_split") else []
    assert entry_points == sorted(["%s-serve.py" % server(host)] + split)


def test_the_release_runs_the_pinned_server(host):
    found = host.check_output(
        "/srv/asgi/current/venv/bin/python -c 'import importlib.metadata as m; print(m.version(\"%s\"))'", server(host))
    assert found == VERSIONS[server(host)]


@pytest.mark.parametrize("num", [0, 1])
def test_each_process_answers_on_its_own_unix_socket(host, num):
    assert own_socket_pid(host, num) == {process_number(name): pid for name, pid in pids(host).items()}[num]


def test_uvicorn_gets_the_roles_settings_as_its_options(host):
    uvicorn_only(host)
    for name, pid in pids(host).items():
        args = argv(host, pid)
        num = process_number(name)
        assert option(args, "--fd") == "0", args
        assert option(args, "--process-socket") == "/run/daphne/daphne%d.sock" % num, args
        # the site playbook trusts its nginx: on this all-in-one host, loopback (and the host's
        # own addresses), not any peer
        trusted = option(args, "--forwarded-allow-ips").split(",")
        assert "127.0.0.1" in trusted and "*" not in trusted, args
        assert option(args, "--timeout-graceful-shutdown") == "5", args
        # the shared socket's backlog as supervisord made it (Uvicorn would listen() again with
        # 2048), and a keep-alive longer than nginx's idle upstream connections (60 s)
        assert option(args, "--backlog") == "1024", args
        assert option(args, "--timeout-keep-alive") == "75", args
        assert {"--proxy-headers", "--access-log"} <= set(args), args
        assert args[-1] == "chatsite.asgi:application", args


def logged(host, text):
    """The lines of the asgi program's output that hold ``text``: its log file under supervisor,
    the journal under systemd."""
    if process_manager(host) == "systemd":
        source = "journalctl -q --no-pager -o cat -u 'asgi@*.service'"
    else:
        source = "cat /var/log/daphne/asgi.log"
    return host.run("%s | grep -F -- '%s'" % (source, text)).stdout.splitlines()


def test_the_server_logs_each_request_as_it_answers_it(host):
    """In the log a second after the answer (Daphne does not flush its access log: its entry point
    line-buffers stdout), the path on an ASGI path (the split host sends the rest to gunicorn)."""
    marker = "/ws/access-log-%d/" % time.time_ns()
    wsclient(host, "http http://127.0.0.1%s --host-header localhost" % marker)
    time.sleep(1)
    assert len(logged(host, '"GET %s' % marker)) == 1


@pytest.fixture(scope="module")
def killed(host):
    uvicorn_only(host)
    return kill_under_load(host, "kill-9-uvicorn")


def test_a_killed_uvicorn_process_is_back_within_5_s(killed):
    assert killed["back_after"] is not None and killed["back_after"] <= BACK_WITHIN, killed["load"]


def test_a_killed_uvicorn_process_has_a_new_pid_and_the_other_kept_its_own(killed):
    for name, pid in killed["after"].items():
        assert (pid != killed["before"][name]) == (name == killed["victim"]), (killed["before"], killed["after"])


def test_clients_of_a_killed_uvicorn_process_reconnect(killed):
    ws = killed["load"].result["ws"]
    assert ws["dropped"] > 0, "the killed process held no WebSocket: %s" % killed["load"]
    assert ws["reconnected"] == ws["dropped"] and ws["failed_reconnects"] == 0, killed["load"]
    assert ws["still_open"] == ws["opened"], killed["load"]


# A switch of the server on the converged Uvicorn host, and back, each under load: Daphne's release
# is built, every process replaced one at a time (health-checked), Uvicorn's entry point removed;
# back to Uvicorn, its kept release goes live again the same way. --check after the first switch
# (with the same variables) reports nothing to change; after the second the scenario's own
# idempotence and --check tests cover the converged host.
def switch_state(host):
    running = pids(host)
    return {
        "pids": running,
        "args": {name: argv(host, pid) for name, pid in running.items()},
        "entry_points": sorted(n for n in host.file(BIN).listdir() if n.endswith("-serve.py")),
        "release": host.file("/srv/asgi/current").linked_to,
        "other_processes": host.run("pgrep -af '[-]serve[.]py' || true").stdout,
    }


@pytest.fixture(scope="module")
def switched(host):
    uvicorn_only(host)
    name = host.backend.get_hostname()
    to_daphne = {"daphne_server": "daphne"}
    result = {"before": switch_state(host)}
    with steady_load(host, "switch-uvicorn-to-daphne") as load:
        result["to_daphne"] = run_playbook("converge.yml", limit=name, extra_vars=to_daphne)
        time.sleep(2)
    result["daphne"], result["daphne_load"] = switch_state(host), load
    result["daphne_check"] = run_playbook("converge.yml", limit=name, extra_vars=to_daphne, check=True,
                                          json_output=True)
    with steady_load(host, "switch-daphne-to-uvicorn") as load:
        result["to_uvicorn"] = run_playbook("converge.yml", limit=name)
        time.sleep(2)
    result["uvicorn"], result["uvicorn_load"] = switch_state(host), load
    return result


STEPS = [("to_daphne", "daphne"), ("to_uvicorn", "uvicorn")]


@pytest.mark.parametrize("step,server_name", STEPS)
def test_a_server_switch_converges(switched, step, server_name):
    assert switched[step].returncode == 0, switched[step].stdout[-4000:]


@pytest.mark.parametrize("step,server_name", STEPS)
def test_a_server_switch_replaces_every_process(switched, step, server_name):
    previous = switched["before"] if server_name == "daphne" else switched["daphne"]
    now = switched[server_name]
    assert set(now["pids"]) == set(previous["pids"]), now
    assert not set(now["pids"].values()) & set(previous["pids"].values()), (previous["pids"], now["pids"])


@pytest.mark.parametrize("step,server_name", STEPS)
def test_after_a_server_switch_every_process_runs_the_new_server(switched, step, server_name):
    for name, args in switched[server_name]["args"].items():
        assert args[1] == "%s/%s-serve.py" % (BIN, server_name), (name, args)


@pytest.mark.parametrize("step,server_name", STEPS)
def test_a_server_switch_leaves_nothing_of_the_old_server(switched, step, server_name):
    state = switched[server_name]
    assert state["entry_points"] == ["%s-serve.py" % server_name]
    others = [line for line in state["other_processes"].splitlines() if "%s-serve.py" % server_name not in line]
    assert others == [], state["other_processes"]


def test_switching_to_daphne_builds_a_release_and_back_reuses_uvicorns(switched):
    assert switched["daphne"]["release"] != switched["before"]["release"]
    assert switched["uvicorn"]["release"] == switched["before"]["release"]


def test_check_mode_after_a_server_switch_changes_nothing(switched):
    changed = list(changed_tasks(parse_json_output(switched["daphne_check"])))
    assert changed == [], changed


@pytest.mark.parametrize("step,server_name", STEPS)
def test_a_server_switch_fails_no_request(switched, step, server_name):
    load = switched[server_name + "_load"]
    assert load.result["http"]["sent"] > 50 and load.result["http"]["failed"] == 0, load


@pytest.mark.parametrize("step,server_name", STEPS)
def test_websocket_clients_reconnect_after_a_server_switch(switched, step, server_name):
    load = switched[server_name + "_load"]
    ws = load.result["ws"]
    assert ws["dropped"] > 0 and ws["reconnected"] == ws["dropped"] and ws["failed_reconnects"] == 0, load
