"""Security of the deployed stack: who runs what, who may read the secrets, who may talk to Redis,
and that the scenario's secrets do not leak into process lists. (That they do not leak into a
-vvv converge run is checked on the redeploy of test_d_redeploy.py, a run that changes things.)"""

import hashlib

import pytest

from conftest import supervisor_status
from faults_helpers import APP_USER, NUMPROCS, PROGRAM, SECRET_VARS, scenario_secrets

# File: what of the secrets it holds (Redis keeps only the password's SHA-256 in its ACL line).
SECRET_FILES = {
    "/etc/daphne/asgi.env": lambda secrets: secrets["chat_secret_key"],
    "/etc/redis/redis.conf": lambda secrets: "#" + hashlib.sha256(secrets["chat_redis_password"].encode()).hexdigest(),
}
REDIS_ACL_USER = "channels"  # redis_acl_user's default


@pytest.fixture(scope="module")
def secrets(host):
    return scenario_secrets(host)


def test_daphne_processes_run_as_the_app_user(host):
    status = supervisor_status(host, PROGRAM + ":*")
    assert len(status) == NUMPROCS, status
    users = {name: host.check_output("ps -o user= -p %s", str(pid)) for name, (_state, pid) in status.items()}
    assert set(users.values()) == {APP_USER}, users


def test_redis_refuses_unauthenticated_commands(host):
    result = host.run("redis-cli -h 127.0.0.1 -p 6379 set fault-test unauthenticated")
    assert "NOAUTH" in result.stdout + result.stderr, result.stdout + result.stderr


def test_redis_accepts_the_app_user_with_its_password(host, secrets):
    # The password through the environment: never on a command line.
    result = host.run(
        "REDISCLI_AUTH=%s redis-cli --no-auth-warning --user %s -h 127.0.0.1 ping",
        secrets["chat_redis_password"], REDIS_ACL_USER,
    )
    assert result.stdout.strip() == "PONG", result.stdout + result.stderr


@pytest.mark.parametrize("where,reachable", [("loopback", True), ("eth0", False)])
def test_redis_is_reachable_only_on_its_bind_address(host, where, reachable):
    ipv4 = [address for address in host.interface("eth0").addresses if ":" not in address]
    address = "127.0.0.1" if where == "loopback" else ipv4[0]
    probe = host.run(
        "python3 -c 'import socket, sys; socket.create_connection((sys.argv[1], 6379), 3).close()' %s", address
    )
    assert (probe.rc == 0) == reachable, "%s (%s): %s" % (where, address, probe.stderr)
    if not reachable:
        assert "ConnectionRefusedError" in probe.stderr, probe.stderr


def test_supervisor_control_socket_is_private(host):
    socket_file = host.file("/var/run/supervisor.sock")
    assert socket_file.is_socket
    assert socket_file.user == "root"
    assert socket_file.mode == 0o700


@pytest.mark.parametrize("path", sorted(SECRET_FILES))
def test_file_with_secrets_is_not_world_readable(host, path, secrets):
    secret_file = host.file(path)
    assert SECRET_FILES[path](secrets) in secret_file.content_string, "%s does not hold the secret" % path
    assert secret_file.mode & 0o007 == 0, "%s is mode %o" % (path, secret_file.mode)


def test_no_other_file_under_etc_holds_a_secret_readable_by_all(host, secrets):
    readable = []
    for value in secrets.values():
        found = host.run("grep -rlF -- %s /etc", value).stdout.split()
        readable += [path for path in found if host.file(path).mode & 0o004]
    assert not readable, readable


@pytest.mark.parametrize("name", SECRET_VARS)
def test_secret_is_not_in_process_arguments(host, secrets, name):
    args = host.check_output("ps -eo args")
    assert secrets[name] not in args
