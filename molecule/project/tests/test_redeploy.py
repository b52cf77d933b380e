"""A changed release of the project deployed under load (HTTPS requests, served by the split's
gunicorn, and held WebSockets, by Daphne, through nginx on the web host): every Daphne process,
gunicorn process and the worker on both app hosts restart, no request
fails, the worker answers from the new release, and the second project beside it keeps running
untouched. Then the docs' rollback (`site.yml -e daphne_rollback=previous`) under the same load
puts the first release back the same way; the hosts end as converge.yml leaves them. Both steps
run the scenario's site.yml, the site alone, as a user deploys it; the second project beside the
first (converge.yml) must see neither."""

import pathlib
import shutil
import time

import pytest
from conftest import run_playbook, steady_load, supervisor_status
from project_helpers import APP_HOSTS, CLIENT, FRONT_PAGE, NOTIFICATIONS, ask_the_worker, project_host

testinfra_hosts = ["ansible://project-edge"]

LOAD_OPTIONS = CLIENT + " --hello-timeout 5 --timeout 10"
SOURCE = pathlib.Path(__file__).resolve().parent.parent / "mysite"


def state():
    """Per app host: the current release and the pid of every process of the site's programs; the
    second project's processes on project-app1."""
    hosts = {}
    for name in APP_HOSTS:
        other = project_host(name)
        pids = {proc: pid for proc, (_state, pid) in supervisor_status(other, "asgi:").items()}
        pids.update({proc: pid for proc, (_state, pid) in supervisor_status(other, "asgi-tasks:").items()})
        # the split's gunicorn processes (site.yml sets daphne_split on the app hosts)
        pids.update({proc: pid for proc, (_state, pid) in supervisor_status(other, "asgi-wsgi:").items()})
        hosts[name] = {"release": other.file("/srv/asgi/current").linked_to, "pids": pids}
    staging = supervisor_status(project_host("project-app1"), "staging:")
    return {"hosts": hosts, "staging": staging}


def under_load(host, name, playbook, extra_vars):
    before = state()
    with steady_load(host, name, clients=8, ws_url=NOTIFICATIONS, http_url=FRONT_PAGE, options=LOAD_OPTIONS) as load:
        time.sleep(1)
        proc = run_playbook(playbook, extra_vars=extra_vars)
        time.sleep(2)
    # the worker, asked right after the step (a later step moves it again)
    return {"proc": proc, "load": load, "before": before, "after": state(), "worker": ask_the_worker("after-the-step")}


@pytest.fixture(scope="module")
def new_source(tmp_path_factory):
    """A copy of the project with one harmless extra file: a new release."""
    source = tmp_path_factory.mktemp("release") / "mysite"
    shutil.copytree(SOURCE, source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (source / "RELEASE.txt").write_text("project scenario: a new release\n", encoding="utf-8")
    return source


@pytest.fixture(scope="module")
def redeploy(host, new_source):
    return under_load(host, "project-redeploy", "site.yml", {"project_source_path": str(new_source)})


@pytest.fixture(scope="module")
def rollback(host, redeploy):
    assert redeploy["proc"].returncode == 0, redeploy["proc"].stdout[-3000:]
    return under_load(host, "project-rollback", "site.yml", {"daphne_rollback": "previous"})


@pytest.fixture(params=["redeploy", "rollback"])
def step(request, host):  # host: the steps' own fixtures use it (testinfra parametrizes it at collection)
    return request.getfixturevalue(request.param)


def test_step_passes(step):
    assert step["proc"].returncode == 0, step["proc"].stdout[-3000:]


@pytest.mark.parametrize("name", APP_HOSTS)
def test_redeploy_switches_to_the_new_release(redeploy, name):
    before, after = redeploy["before"]["hosts"][name], redeploy["after"]["hosts"][name]
    assert after["release"] != before["release"]
    assert project_host(name).file(after["release"] + "/RELEASE.txt").exists


@pytest.mark.parametrize("name", APP_HOSTS)
def test_rollback_puts_the_first_release_back(redeploy, rollback, name):
    assert rollback["after"]["hosts"][name]["release"] == redeploy["before"]["hosts"][name]["release"]


@pytest.mark.parametrize("name", APP_HOSTS)
def test_step_restarts_every_process_and_the_worker(step, name):
    before, after = step["before"]["hosts"][name]["pids"], step["after"]["hosts"][name]["pids"]
    # 4 Daphne processes, the worker, 2 gunicorn processes
    assert sorted(after) == sorted(before) and len(after) == 7, after
    assert all(after[proc] not in (None, before[proc]) for proc in after), (before, after)


def test_step_fails_no_request(step):
    load = step["load"]
    assert load.result["http"]["sent"] > 50 and load.result["http"]["failed"] == 0, \
        "%s\n%s" % (load, load.result["http"]["failures"])


def test_websocket_clients_of_restarted_processes_reconnect(step):
    ws = step["load"].result["ws"]
    assert ws["dropped"] > 0 and ws["failed_reconnects"] == 0 and ws["still_open"] == 8, step["load"]


def test_worker_answers_from_the_release_it_restarted_into(step):
    reply = step["worker"]
    assert reply["answer"] == "pets-eht-retfa"
    current = step["after"]["hosts"][reply["worker"]["host"]]["release"]
    assert reply["worker"]["release"] == current.rsplit("/", 1)[-1]


def test_second_project_is_left_running_untouched(step):
    before, after = step["before"]["staging"], step["after"]["staging"]
    assert before and after == before and {s for s, _pid in after.values()} == {"RUNNING"}, (before, after)


@pytest.mark.parametrize("name", APP_HOSTS)
def test_restart_health_requests_name_the_site(step, name):
    """The rolling restart asks each restarted process for / through its own unix socket (Daphne's
    access log names no client for it: "None") with the site's name as Host, which the example
    inventory leaves to the site playbook (daphne_health_host unset): Django answers 200; with
    localhost, outside ALLOWED_HOSTS, it would refuse every one with a 400."""
    log = project_host(name).check_output("cat /var/log/daphne/asgi.log")
    health = [line for line in log.splitlines() if line.startswith("None ") and '"GET /"' in line]
    assert len(health) >= 4 and all(line.split()[-2] == "200" for line in health), health[-10:]
