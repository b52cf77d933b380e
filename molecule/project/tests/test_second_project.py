"""A second project beside the first on project-app1 (converge.yml: the project's staging site,
deployed by the daphne role alone, its nginx site on the web host): nothing of one is the other's,
neither user reads the other's secrets, and nginx sends each site to its own processes. That it
keeps running untouched while the first is redeployed and rolled back is in test_redeploy.py."""

import json

import pytest
from conftest import supervisor_status, wsclient
from project_helpers import APP_HOSTS, EDGE, environment, project_host

testinfra_hosts = ["ansible://project-app1"]

PROJECTS = {
    # program: (user, run directory, tmpfiles file)
    "asgi": ("daphne", "/run/daphne", "/etc/tmpfiles.d/daphne.conf"),
    "staging": ("staging", "/run/staging", "/etc/tmpfiles.d/staging.conf"),
}


@pytest.mark.parametrize("program", sorted(PROJECTS))
def test_each_projects_processes_run_as_its_own_user(host, program):
    status = supervisor_status(host, "%s:" % program)
    assert status and all(state == "RUNNING" for state, _pid in status.values()), status
    assert {host.process.get(pid=pid).user for _state, pid in status.values()} == {PROJECTS[program][0]}


def test_second_project_listens_on_its_own_port_on_the_network(host):
    lines = host.run("ss -Hltn 'sport = :8001'").stdout.splitlines()
    address = host.check_output("getent hosts project-app1").split()[0]
    assert [line.split()[3] for line in lines] == ["%s:8001" % address], lines


@pytest.mark.parametrize("program", sorted(PROJECTS))
def test_each_project_has_its_own_run_directory_and_sockets(host, program):
    user, run_dir, _tmpfiles = PROJECTS[program]
    assert host.file(run_dir).user == user
    assert host.file(run_dir + "/daphne0.sock").is_socket


@pytest.mark.parametrize("program", sorted(PROJECTS))
def test_each_projects_run_directory_comes_back_at_boot_from_its_own_tmpfiles_line(host, program):
    user, run_dir, tmpfiles = PROJECTS[program]
    assert host.file(tmpfiles).contains("^d %s 0755 %s %s -$" % (run_dir, user, user))


@pytest.mark.parametrize("program", sorted(PROJECTS))
def test_each_project_has_its_own_release_tree(host, program):
    assert host.file("/srv/%s" % program).group == PROJECTS[program][0]
    assert host.file("/srv/%s/current" % program).is_symlink


@pytest.mark.parametrize("program", sorted(PROJECTS))
def test_each_project_has_its_own_environment_file(host, program):
    env = host.file("/etc/daphne/%s.env" % program)
    assert (env.user, env.group, env.mode) == ("root", PROJECTS[program][0], 0o640)


@pytest.mark.parametrize("program", sorted(PROJECTS))
def test_each_project_has_its_own_static_root(host, program):
    static = host.file("/var/www/%s/static/notes/notes.css" % program)
    assert static.is_file and static.user == PROJECTS[program][0]


@pytest.mark.parametrize("program", sorted(PROJECTS))
def test_neither_projects_user_reads_the_others_secrets(host, program):
    other = [p for p in PROJECTS if p != program][0]
    read = host.run("runuser -u %s -- cat /etc/daphne/%s.env" % (PROJECTS[program][0], other))
    assert read.rc != 0 and "Permission denied" in read.stderr, read.stderr


def supervisor_group_of(host, pid):
    """The supervisor group a process (or its parent, whose environment it inherits: a gunicorn
    worker) was started in."""
    environ = host.check_output("tr '\\0' '\\n' < /proc/%s/environ", str(pid)).splitlines()
    return dict(line.split("=", 1) for line in environ if "=" in line).get("SUPERVISOR_GROUP_NAME")


@pytest.mark.parametrize("url, server_name, group, hosts", [
    # the example's site is split (site.yml sets daphne_split): its pages come from gunicorn
    ("https://127.0.0.1/", "www.example.com", "asgi-wsgi", APP_HOSTS),
    ("http://127.0.0.1/", "staging.example.com", "staging", ["project-app1"])])
def test_nginx_sends_each_site_to_its_own_project(url, server_name, group, hosts):
    # the web host's nginx: the example's site over HTTPS, the second project's on port 80; each
    # answer comes from a process of that project's program (the two run the same code)
    result = wsclient(project_host(EDGE), "http %s --host-header %s --insecure --count 8 --all-bodies"
                      % (url, server_name))
    assert result["ok"], result
    answered = {(page["host"], page["pid"]) for page in (json.loads(body) for body in result["bodies"])}
    groups = {(name, supervisor_group_of(project_host(name), pid)) for name, pid in answered}
    assert answered and groups <= {(name, group) for name in hosts}, (answered, groups)


def test_the_projects_use_different_databases_of_the_same_redis(host):
    first, second = (environment(host, program)["CHANNELS_REDIS_URL"].split("?")[0] for program in ("asgi", "staging"))
    assert (first.rsplit("/", 1)[1], second.rsplit("/", 1)[1]) == ("0", "1")
    assert first.rsplit("@", 1)[-1][:-2] == second.rsplit("@", 1)[-1][:-2]


def test_second_project_broadcasts_through_the_channel_layer():
    result = wsclient(project_host(EDGE), "probe ws://127.0.0.1/ws/notifications/ --host-header staging.example.com "
                                          "--origin http://staging.example.com --send '{\"say\": \"here\"}' --expect here")
    assert result["ok"], result
