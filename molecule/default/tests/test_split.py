"""The Channels guide's split (daphne_split: true) on default-split: gunicorn serves plain HTTP
(chatsite.wsgi:application) on its own shared socket, Daphne only what nginx's ASGI paths (/ws/)
send it. The site's own tests (test_site.py: page, health, WebSocket echo, a broadcast between two
Daphne processes through Redis) and the restarts (test_zz_restarts.py) run there as on every host.
Here: which server answers what (told by the process that answered, not only the status), a
session cookie set by a WSGI view and read by a WebSocket consumer behind AuthMiddlewareStack, a
redeploy under an HTTP loop and held WebSockets that also splits by domain (the ASGI server's own
name), then, on the converged host: the split by path under systemd (the other combination),
all-ASGI again under systemd and under supervisor, each leaving nothing of the split, the split
back by path under supervisor; the switches off and on under an HTTP loop (no request fails). The
two switches of process manager (to systemd with the split, back to supervisor all-ASGI) each
leave nothing of the other manager.
"""

import json
import pathlib
import shutil
import time
import uuid

import pytest
import yaml

from conftest import ASGI_UNIT_FILES, asgi_status, manager_leftovers, run_playbook, steady_load, supervisor_status, wsclient

SPLIT_HOSTS = {"default-split"}
CHAT_ORIGIN = "--host-header localhost --origin http://localhost"
EXAMPLES = pathlib.Path(__file__).resolve().parents[3] / "examples"
WSGI_PORT = 8100


@pytest.fixture(scope="module", autouse=True)
def split_only(host):
    if host.backend.get_hostname() not in SPLIT_HOSTS:
        pytest.skip("daphne_split runs on %s" % ", ".join(sorted(SPLIT_HOSTS)))


def server_of(host, pid):
    """Which entry point process ``pid`` runs: gunicorn (a worker forked by it too) or daphne."""
    cmdline = host.file("/proc/%d/cmdline" % pid).content.decode().replace("\0", " ")
    for server in ("gunicorn", "daphne", "uvicorn"):
        if "/%s-serve.py " % server in cmdline:
            return server
    return cmdline


def session_round_trip(host):
    """A session value set by GET /session/?name=... (through nginx: the WSGI side), then
    /ws/session/ (the ASGI side) with the cookie the view set: what each side answered."""
    name = "split-" + uuid.uuid4().hex[:8]
    page = wsclient(host, "http 'http://127.0.0.1/session/?name=%s' --host-header localhost" % name)
    cookie = [c for c in page.get("cookies", []) if c.startswith("sessionid=")]
    # the consumer says what the session holds on connect (the text sent is ignored)
    ws = wsclient(host, "probe ws://127.0.0.1/ws/session/ %s --header 'Cookie: %s' --send hello --expect %s"
                        % (CHAT_ORIGIN, cookie[0] if cookie else "none=1", name))
    return {"name": name, "page": page, "cookie": cookie, "ws": ws}


def json_body(result):
    """The JSON body of a ``wsclient http`` result's first answer."""
    assert result.get("bodies"), result
    return json.loads(result["bodies"][0])


# --- which server answers what ---------------------------------------------------------------------

def test_plain_http_is_answered_by_a_gunicorn_process(host):
    body = json_body(wsclient(host, "http http://127.0.0.1/health/ --host-header localhost"))
    assert server_of(host, body["pid"]) == "gunicorn", body
    assert body["process"].startswith("asgi-wsgi"), body


def access_lines(host, program, token):
    """How many access-log lines of ``program``'s log name the request for /probe-TOKEN/ (Django's
    own "Not Found: /probe-TOKEN/" warning, on the same output, is not one)."""
    return host.run("grep -cF '\"GET /probe-%s/' /var/log/daphne/%s.log" % (token, program)).stdout.strip()


def test_plain_http_reaches_the_wsgi_log_not_the_asgi_one(host):
    """Told by the servers' own access logs, whatever the app answers: a request with a token in
    its path (Daphne logs the path without the query string)."""
    token = uuid.uuid4().hex
    wsclient(host, "http http://127.0.0.1/probe-%s/ --host-header localhost" % token)
    time.sleep(1)
    assert access_lines(host, "asgi-wsgi", token) == "1"
    assert access_lines(host, "asgi", token) == "0"


def test_a_websocket_is_answered_by_a_daphne_process(host):
    result = wsclient(host, "probe ws://127.0.0.1/ws/echo/ %s --send who --expect who" % CHAT_ORIGIN)
    assert result["ok"], result
    assert server_of(host, json.loads(result["reply"])["pid"]) == "daphne", result


def test_the_websocket_upgrade_is_only_proxied_on_the_asgi_paths(host):
    """A WebSocket handshake on a path outside /ws/ goes to gunicorn, which cannot upgrade it."""
    result = wsclient(host, "probe ws://127.0.0.1/not-an-asgi-path/ %s" % CHAT_ORIGIN)
    assert not result["ok"], result


def test_a_session_cookie_set_by_a_wsgi_view_is_seen_by_a_websocket_consumer(host):
    trip = session_round_trip(host)
    body = json_body(trip["page"])
    assert body["server"].startswith("gunicorn/") and body["session_name"] == trip["name"], trip
    assert trip["cookie"] and trip["ws"]["ok"], trip


@pytest.mark.parametrize("process", ["asgi-wsgi:asgi-wsgi0", "asgi-wsgi:asgi-wsgi1"])
def test_each_wsgi_process_runs_under_supervisor_as_the_app_user(host, process):
    state, pid = supervisor_status(host, "asgi-wsgi:*")[process]
    uid = host.run("awk '/^Uid:/ {print $2}' /proc/%s/status" % pid).stdout.strip()
    assert state == "RUNNING" and uid == host.check_output("id -u daphne"), (state, pid, uid)


def test_the_wsgi_socket_listens_on_loopback_only(host):
    lines = host.run("ss -Hltn 'sport = :%d'" % WSGI_PORT).stdout.splitlines()
    assert sorted(line.split()[3].rsplit(":", 1)[0] for line in lines) == ["127.0.0.1"], lines


@pytest.mark.parametrize("num", [0, 1])
def test_each_wsgi_process_answers_on_its_own_socket(host, num):
    result = wsclient(host, "http http://localhost/health/ --unix-socket /run/daphne/wsgi%d.sock" % num)
    assert result["ok_count"] == 1 and server_of(host, json_body(result)["pid"]) == "gunicorn", result


# --- a redeploy under load, by path and by domain ---------------------------------------------------

def converge(host, **extra_vars):
    return run_playbook("converge.yml", limit=host.backend.get_hostname(), extra_vars=extra_vars or None)


def all_pids(host):
    pids = {name: pid for name, (_state, pid) in asgi_status(host).items()}
    pids.update({name: pid for name, (_state, pid) in supervisor_status(host, "asgi-wsgi:*").items()})
    return pids


# The sample's nginx site with a name of its own for the ASGI server: the split by domain
DOMAIN = "ws.localhost"
DOMAIN_SITES = [dict(site, asgi_server_name=[DOMAIN]) for site in
                yaml.safe_load((EXAMPLES / "chat-deploy.yml").read_text(encoding="utf-8"))["nginx_sites"]]


@pytest.fixture(scope="module")
def redeployed(host, tmp_path_factory):
    """A new release of the sample app (one extra file) under an HTTP loop (/health/: gunicorn)
    and held WebSockets (Daphne): both sides restart one process at a time. The same run splits by
    path and by domain at once (DOMAIN_SITES): after it, what serves the site (``state``, the
    switches' step "domain") and who answers the ASGI server's own name (``domain``)."""
    root = tmp_path_factory.mktemp("split-release")
    shutil.copytree(EXAMPLES / "chat", root / "chat", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.sqlite3"))
    (root / "chat" / "RELEASE.txt").write_text("a new release of the split\n", encoding="utf-8")
    shutil.copy(EXAMPLES / "chat-deploy.yml", root / "chat-deploy.yml")
    before = all_pids(host)
    with steady_load(host, "redeploy-split") as load:
        proc = converge(host, chat_source_path=str(root / "chat"), nginx_sites=DOMAIN_SITES)
        time.sleep(2)
    result = {"proc": proc, "load": load, "before": before, "after": all_pids(host),
              "state": None, "left": None, "domain": None}
    if proc.returncode == 0:  # else test_a_redeploy_of_the_split_converges says why, with the run's output
        time.sleep(1)
        result.update(state=split_state(host), left=manager_leftovers(host), domain=domain_state(host))
    return result


def test_a_redeploy_of_the_split_converges(redeployed):
    assert redeployed["proc"].returncode == 0, redeployed["proc"].stdout[-4000:]


def test_a_redeploy_replaces_every_wsgi_and_asgi_process(redeployed):
    before, after = redeployed["before"], redeployed["after"]
    assert set(after) == set(before) and len([n for n in after if n.startswith("asgi-wsgi:")]) == 2, after
    assert not set(after.values()) & set(before.values()), redeployed


def test_a_redeploy_of_the_split_fails_no_http_request(redeployed):
    http = redeployed["load"].result["http"]
    assert http["sent"] > 50 and http["failed"] == 0, "%s\n%s" % (redeployed["load"], http["failures"])


def test_websocket_clients_reconnect_after_a_redeploy_of_the_split(redeployed):
    ws = redeployed["load"].result["ws"]
    assert ws["dropped"] > 0 and ws["reconnected"] == ws["dropped"] and ws["failed_reconnects"] == 0, \
        redeployed["load"]


# --- the other combination, all-ASGI, and back ------------------------------------------------------

def split_state(host):
    """What serves the site now and what of the split is on the host."""
    health = json_body(wsclient(host, "http http://127.0.0.1/health/ --host-header localhost"))
    echo = wsclient(host, "probe ws://127.0.0.1/ws/echo/ %s --send who --expect who" % CHAT_ORIGIN)
    broadcast = wsclient(host, "broadcast ws://127.0.0.1/ws/chat/split/ ws://127.0.0.1/ws/chat/split/ %s "
                               "--send across --expect across --distinct pid" % CHAT_ORIGIN)
    loaded = host.run("systemctl list-units --all --plain --no-legend 'asgi-wsgi*'").stdout
    return {
        "status": asgi_status(host),
        "http": server_of(host, health["pid"]),
        "ws": server_of(host, json.loads(echo["reply"])["pid"]) if echo["ok"] else echo,
        "session": session_round_trip(host),
        "broadcast": broadcast,
        "wsgi_programs": sorted(name for name in supervisor_status(host) if name.startswith("asgi-wsgi:"))
        if host.exists("supervisorctl") else [],
        "wsgi_units": [line for line in loaded.splitlines() if line.strip()],
        "wsgi_unit_files": sorted(
            f for f in ("asgi-wsgi.socket", "asgi-wsgi@.service") if host.file("/etc/systemd/system/" + f).exists),
        "wsgi_listening": host.run("ss -Hltn 'sport = :%d'" % WSGI_PORT).stdout.strip(),
        "gunicorn_entry": host.file("/srv/asgi/bin/gunicorn-serve.py").exists,
        "nginx_wsgi": "wsgi-backend" in host.file("/etc/nginx/sites-available/channels.conf").content_string,
    }


# (step, extra variables, under load), after the redeploy by path and by domain (the step "domain"):
# the split by path under systemd; all-ASGI under systemd (under an HTTP loop: the WSGI side stops
# in the app play, before nginx is reloaded without it); all-ASGI under supervisor; the split on
# again under supervisor, by path, as converge.yml leaves the host (under an HTTP loop)
SWITCHES = [("systemd", {"daphne_process_manager": "systemd"}, False),
            ("asgi-systemd", {"daphne_process_manager": "systemd", "daphne_split": False}, True),
            ("asgi", {"daphne_split": False}, False),
            ("split", {}, True)]
STEPS = ["domain"] + [step for step, _extra, _load in SWITCHES]
SPLIT_STEPS = ["domain", "systemd", "split"]
ASGI_STEPS = ["asgi-systemd", "asgi"]
LOADED_STEPS = [step for step, _extra, loaded in SWITCHES if loaded]


@pytest.fixture(scope="module")
def switched(host, redeployed):
    """The redeploy by path and by domain (step "domain"), then each switch of SWITCHES
    (converge.yml as the scenario runs it)."""
    result = {"domain": {key: redeployed[key] for key in ("proc", "load", "state", "left", "domain")}}
    for step, extra, loaded in SWITCHES:
        if loaded:
            with steady_load(host, "switch-to-" + step) as load:
                proc = converge(host, **extra)
                time.sleep(2)
        else:
            load, proc = None, converge(host, **extra)
        time.sleep(1)
        result[step] = {"proc": proc, "load": load, "state": split_state(host), "left": manager_leftovers(host)}
    return result


def domain_state(host):
    """Who answers a request and a WebSocket for the ASGI server's own name (told by the access
    logs: a token in the path, which Daphne logs without the query string; the echo's pid)."""
    token = uuid.uuid4().hex
    wsclient(host, "http http://127.0.0.1/probe-%s/ --host-header %s" % (token, DOMAIN))
    echo = wsclient(host, "probe ws://127.0.0.1/ws/echo/ --host-header %s --origin http://localhost "
                          "--send who --expect who" % DOMAIN)
    time.sleep(1)
    return {
        "asgi_log": access_lines(host, "asgi", token),
        "wsgi_log": access_lines(host, "asgi-wsgi", token),
        "ws": server_of(host, json.loads(echo["reply"])["pid"]) if echo["ok"] else echo,
    }


@pytest.mark.parametrize("step", STEPS)
def test_a_switch_of_the_split_converges(switched, step):
    assert switched[step]["proc"].returncode == 0, switched[step]["proc"].stdout[-4000:]


@pytest.mark.parametrize("step", STEPS)
def test_after_a_switch_a_broadcast_crosses_asgi_processes(switched, step):
    assert switched[step]["state"]["broadcast"]["ok"], switched[step]["state"]["broadcast"]


@pytest.mark.parametrize("step", STEPS)
def test_after_a_switch_a_websocket_is_answered_by_daphne(switched, step):
    assert switched[step]["state"]["ws"] == "daphne", switched[step]["state"]


@pytest.mark.parametrize("step", STEPS)
def test_after_a_switch_the_session_reaches_the_consumer(switched, step):
    trip = switched[step]["state"]["session"]
    assert trip["cookie"] and trip["ws"]["ok"], trip


@pytest.mark.parametrize("step", LOADED_STEPS)
def test_switching_the_split_off_and_on_fails_no_http_request(switched, step):
    """Off: nginx sends the pages to Daphne while gunicorn is gone and nginx not yet reloaded
    (error_page 502 to the ASGI upstream); on: gunicorn runs before nginx sends it anything."""
    http = switched[step]["load"].result["http"]
    assert http["sent"] > 20 and http["failed"] == 0, "%s\n%s" % (switched[step]["load"], http["failures"])


@pytest.mark.parametrize("step", SPLIT_STEPS)
def test_with_the_split_plain_http_is_answered_by_gunicorn(switched, step):
    state = switched[step]["state"]
    assert state["http"] == "gunicorn" and json_body(state["session"]["page"])["server"].startswith("gunicorn/"), state


def test_the_split_under_systemd_runs_gunicorn_in_units_of_its_own(switched):
    state = switched["systemd"]["state"]
    assert state["wsgi_unit_files"] == ["asgi-wsgi.socket", "asgi-wsgi@.service"], state
    active = sorted(line.split()[0] for line in state["wsgi_units"] if " active " in line)
    assert active == ["asgi-wsgi.socket", "asgi-wsgi@0.service", "asgi-wsgi@1.service"], state["wsgi_units"]


@pytest.mark.parametrize("step", ASGI_STEPS)
def test_all_asgi_again_leaves_nothing_of_the_split(switched, step):
    state = switched[step]["state"]
    assert state["http"] == "daphne" and json_body(state["session"]["page"])["server"] == "asgi", state
    assert state["wsgi_programs"] == [] and state["wsgi_units"] == [] and state["wsgi_unit_files"] == [], state
    assert state["wsgi_listening"] == "" and not state["gunicorn_entry"] and not state["nginx_wsgi"], state


def test_split_by_domain_the_asgi_name_reaches_daphne_for_http_and_websockets(switched):
    domain = switched["domain"]["domain"]
    assert (domain["asgi_log"], domain["wsgi_log"], domain["ws"]) == ("1", "0", "daphne"), domain


def test_the_split_back_under_supervisor_runs_gunicorn_again(switched):
    state = switched["split"]["state"]
    assert state["wsgi_programs"] == ["asgi-wsgi:asgi-wsgi0", "asgi-wsgi:asgi-wsgi1"], state
    assert state["wsgi_units"] == [] and state["wsgi_unit_files"] == [] and state["nginx_wsgi"], state


def test_the_switch_to_systemd_leaves_nothing_of_supervisor(switched):
    left = switched["systemd"]["left"]
    assert not left["supervisor_package"] and not left["supervisor_files"] and left["supervisord"] == "0", left
    assert left["unit_files"] == ASGI_UNIT_FILES, left
    assert sorted(switched["systemd"]["state"]["status"]) == ["asgi@0.service", "asgi@1.service"], switched["systemd"]


def test_the_switch_to_supervisor_leaves_nothing_of_systemd(switched):
    left = switched["asgi"]["left"]
    assert left["unit_files"] == [] and left["units"] == [], left
    assert sorted(switched["asgi"]["state"]["status"]) == ["asgi:asgi0", "asgi:asgi1"], switched["asgi"]
