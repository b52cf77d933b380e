"""The two sample programs run under supervisord; the fcgi-program's children serve the socket
supervisord bound (tcp://localhost:8000) through file descriptor 0."""

import re

import pytest
from conftest import supervisor_status

PROCESSES = ["sample-http", "pidecho:pidecho0", "pidecho:pidecho1"]
HTTP_GET = (
    "python3 -c \"import urllib.request as u; "
    "print(u.urlopen('http://127.0.0.1:%d/', timeout=5).read().decode())\""
)


@pytest.mark.parametrize("name", PROCESSES)
def test_process_is_running(host, name):
    assert supervisor_status(host)[name][0] == "RUNNING"


@pytest.mark.parametrize("name", PROCESSES)
def test_process_runs_as_the_configured_user(host, name):
    pid = supervisor_status(host)[name][1]
    assert host.process.get(pid=pid).user == "sample"


@pytest.mark.parametrize("name", ["sample-http", "pidecho"])
def test_program_file_is_root_only_readable(host, name):
    conf = host.file("/etc/supervisor/conf.d/%s.conf" % name)
    assert conf.user == "root"
    assert conf.group == "root"
    assert conf.mode == 0o640


def test_fcgi_program_file_has_safe_stop_defaults(host):
    content = host.file("/etc/supervisor/conf.d/pidecho.conf").content_string
    assert "[fcgi-program:pidecho]" in content
    assert "socket=tcp://localhost:8000" in content
    assert "stopasgroup=true" in content
    assert "killasgroup=true" in content


def test_fcgi_socket_is_held_by_supervisord(host):
    sock = host.socket("tcp://127.0.0.1:8000")
    assert sock.is_listening
    supervisord = host.check_output("systemctl show -p MainPID --value supervisor")
    # The listening socket belongs to supervisord (and, as fd 0, to its children), not to a child
    # that bound it itself.
    owners = host.check_output("ss -Htlnp 'sport = :8000'")
    assert "pid=%s," % supervisord in owners


def test_fcgi_children_answer_http_on_the_inherited_socket(host):
    status = supervisor_status(host)
    children = {status["pidecho:pidecho0"][1], status["pidecho:pidecho1"][1]}
    answers = {int(host.check_output(HTTP_GET % 8000)) for _request in range(6)}
    assert answers and answers <= children


def test_fcgi_child_holds_the_socket_as_fd0(host):
    pid = supervisor_status(host)["pidecho:pidecho0"][1]
    # As the process's own user: root in these containers lacks CAP_SYS_PTRACE for its fds.
    fd0 = host.check_output("runuser -u sample -- readlink /proc/%s/fd/0", str(pid))
    inode = re.match(r"socket:\[(\d+)\]", fd0).group(1)
    listening = host.check_output("ss -Htlne 'sport = :8000'")
    assert "ino:%s " % inode in listening


def test_plain_program_answers_http(host):
    assert host.run(HTTP_GET % 8001).rc == 0


def test_environment_values_reach_the_process_literally(host):
    pid = supervisor_status(host)["sample-http"][1]
    environ = host.file("/proc/%d/environ" % pid).content.split(b"\0")
    assert b"SAMPLE_SECRET=p%ss,w=rd;x" in environ
    assert b"SAMPLE_GENERATION=1" in environ
