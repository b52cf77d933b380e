"""A second project beside the first on project-app1 (converge.yml: the project's staging site,
deployed by the daphne role alone): its own program, user, socket, run directory, environment
file, release tree and Redis database. That it keeps running untouched while the first is
redeployed and rolled back is in test_redeploy.py."""

import json

import pytest
from conftest import supervisor_status, wsclient
from project_helpers import APP_HOSTS, EDGE, environment, project_host

testinfra_hosts = ["ansible://project-app1"]


@pytest.mark.parametrize("program, user", [("asgi", "daphne"), ("staging", "staging")])
def test_each_project_runs_as_its_own_user(host, program, user):
    status = supervisor_status(host, "%s:" % program)
    assert status and all(state == "RUNNING" for state, _pid in status.values()), status
    assert {host.process.get(pid=pid).user for _state, pid in status.values()} == {user}


def test_second_project_listens_on_its_own_port():
    other = project_host("project-app1")
    listening = other.run("ss -Hltn 'sport = :8001'").stdout.split()
    assert len(listening) >= 4 and listening[3].endswith(":8001") and not listening[3].startswith("127."), listening


@pytest.mark.parametrize("url, server_name, program", [
    ("https://127.0.0.1/", "www.example.com", "asgi"), ("http://127.0.0.1/", "staging.example.com", "staging")])
def test_nginx_sends_each_site_to_its_own_project(url, server_name, program):
    # the web host's nginx: the example's site over HTTPS, the second project's on port 80; each
    # answer comes from a process of that project's program (the two run the same code)
    result = wsclient(project_host(EDGE), "http %s --host-header %s --insecure --count 8 --all-bodies"
                      % (url, server_name))
    assert result["ok"], result
    answered = {(page["host"], page["pid"]) for page in (json.loads(body) for body in result["bodies"])}
    hosts = ["project-app1"] if program == "staging" else APP_HOSTS
    pids = {(name, pid) for name in hosts
            for _state, pid in supervisor_status(project_host(name), "%s:" % program).values()}
    assert answered and answered <= pids, (answered, pids)


@pytest.mark.parametrize("path", ["/srv/staging/current", "/run/staging", "/etc/daphne/staging.env",
                                  "/var/www/staging/static/notes/notes.css"])
def test_second_project_has_its_own(host, path):
    assert host.file(path).exists


def test_environment_files_are_each_projects_own(host):
    first, second = host.file("/etc/daphne/asgi.env"), host.file("/etc/daphne/staging.env")
    assert (first.group, second.group) == ("daphne", "staging") and first.mode == second.mode == 0o640


def test_second_project_uses_another_redis_database(host):
    first, second = (environment(host, program)["CHANNELS_REDIS_URL"].split("?")[0] for program in ("asgi", "staging"))
    assert first.endswith("/0") and second.endswith("/1") and first[:-2] == second[:-2]


def test_second_project_broadcasts_through_the_channel_layer():
    result = wsclient(project_host(EDGE), "probe ws://127.0.0.1/ws/notifications/ --host-header staging.example.com "
                                          "--origin http://staging.example.com --send '{\"say\": \"here\"}' --expect here")
    assert result["ok"], result
