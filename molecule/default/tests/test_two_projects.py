"""Two projects on one host (Debian 13): the site's project (program asgi) and a second one that
converge.yml deploys beside it with the daphne role (program chat2, its own user, socket, run
directory, environment file, release tree, static root, nginx site and Redis database). Nothing of
one is the other's; nginx sends each site to its own processes."""

import json
import re

import pytest
from conftest import wsclient

testinfra_hosts = ["ansible://default-trixie"]

PROJECTS = {
    # program: (user, port, run directory, tmpfiles file, site's Host)
    "asgi": ("daphne", 8000, "/run/daphne", "/etc/tmpfiles.d/daphne.conf", "localhost"),
    "chat2": ("chat2", 8001, "/run/chat2", "/etc/tmpfiles.d/chat2.conf", "chat2.localhost"),
}


@pytest.mark.parametrize("program", sorted(PROJECTS))
def test_each_projects_processes_run(host, program):
    status = host.run("supervisorctl status '%s:*'", program).stdout
    assert status.count("RUNNING") == 2, status


@pytest.mark.parametrize("program", sorted(PROJECTS))
def test_each_project_listens_on_its_own_port(host, program):
    port = PROJECTS[program][1]
    lines = host.run("ss -Hltn 'sport = :%d'" % port).stdout.splitlines()
    assert [line.split()[3] for line in lines] == ["127.0.0.1:%d" % port], lines


@pytest.mark.parametrize("program", sorted(PROJECTS))
def test_each_projects_processes_run_as_its_own_user(host, program):
    status = host.run("supervisorctl status '%s:*'", program).stdout
    pids = re.findall(r"pid (\d+),", status)
    users = {host.check_output("ps -o user= -p %s", pid) for pid in pids}
    assert len(pids) == 2 and users == {PROJECTS[program][0]}, (status, users)


@pytest.mark.parametrize("program", sorted(PROJECTS))
def test_each_project_has_its_own_run_directory_and_sockets(host, program):
    user, _port, run_dir, _tmpfiles, _name = PROJECTS[program]
    assert host.file(run_dir).user == user
    assert host.file(run_dir + "/daphne0.sock").is_socket


@pytest.mark.parametrize("program", sorted(PROJECTS))
def test_each_projects_run_directory_comes_back_at_boot_from_its_own_tmpfiles_line(host, program):
    user, _port, run_dir, tmpfiles, _name = PROJECTS[program]
    assert host.file(tmpfiles).contains("^d %s 0755 %s %s -$" % (run_dir, user, user))


@pytest.mark.parametrize("program", sorted(PROJECTS))
def test_each_project_has_its_own_release_tree(host, program):
    root = host.file("/srv/%s" % program)
    assert root.group == PROJECTS[program][0]
    assert host.file("/srv/%s/current" % program).is_symlink


@pytest.mark.parametrize("program", sorted(PROJECTS))
def test_each_project_has_its_own_environment_file(host, program):
    env = host.file("/etc/daphne/%s.env" % program)
    assert (env.user, env.group, env.mode) == ("root", PROJECTS[program][0], 0o640)


@pytest.mark.parametrize("program", sorted(PROJECTS))
def test_each_project_has_its_own_static_root(host, program):
    static = host.file("/var/www/%s/static/chat/chat.js" % program)
    assert static.is_file and static.user == PROJECTS[program][0]


@pytest.mark.parametrize("program", sorted(PROJECTS))
def test_neither_projects_user_reads_the_others_secrets(host, program):
    other = [p for p in PROJECTS if p != program][0]
    read = host.run("runuser -u %s -- cat /etc/daphne/%s.env", PROJECTS[program][0], other)
    assert read.rc != 0 and "Permission denied" in read.stderr, read.stderr


@pytest.mark.parametrize("program", sorted(PROJECTS))
def test_nginx_sends_each_site_to_its_own_project(host, program):
    name = PROJECTS[program][4]
    result = wsclient(host, "http http://127.0.0.1/health/ --host-header %s --count 6 --all-bodies" % name)
    assert result["ok"], result
    processes = {json.loads(body)["process"] for body in result["bodies"]}
    assert processes and all(p.startswith(program) and p[len(program):].isdigit() for p in processes), processes


def test_the_projects_use_different_redis_databases(host):
    urls = {}
    for program, (user, _port, _run, _tmpfiles, _name) in PROJECTS.items():
        env = host.check_output("grep ^CHANNELS_REDIS_URL= /etc/daphne/%s.env", program)
        urls[program] = env.split("=", 1)[1].split("?", 1)[0].strip("'\"").rsplit("/", 1)[1]
    assert urls == {"asgi": "0", "chat2": "1"}, urls
