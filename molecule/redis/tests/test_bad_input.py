"""Bad input fails in the role's checks, before any change: the message names the variable, and the
host keeps its configuration, drop-in and running server (same MainPID)."""

import os

import pytest
import testinfra

from conftest import failure_message, run_playbook

CASES = [
    # (host, extra vars, words the failure must name)
    ("redis-trixie", {"redis_bind": ["0.0.0.0"]}, ["redis_bind", "redis_password"]),
    ("redis-trixie", {"redis_bind": ["127.0.0.1", "10.11.12.13"]}, ["redis_bind", "redis_password"]),
    ("redis-trixie", {"redis_maxmemory_policy": "allkeys-sometimes"}, ["redis_maxmemory_policy"]),
    ("redis-trixie", {"redis_port": 0}, ["redis_port"]),
    ("redis-trixie", {"redis_port": 65536}, ["redis_port"]),
    ("redis-trixie", {"redis_maxmemory": "lots"}, ["redis_maxmemory"]),
    ("redis-bookworm", {"redis_server": "valkey"}, ["redis_server", "valkey"]),
]

FILES = {
    "redis-trixie": ["/etc/redis/redis.conf", "/etc/systemd/system/redis-server.service.d/asgi-channels.conf"],
    "redis-bookworm": ["/etc/redis/redis.conf", "/etc/systemd/system/redis-server.service.d/asgi-channels.conf"],
}


def _state(target, name):
    pid = target.run("systemctl show -p MainPID --value redis-server").stdout.strip()
    sums = {path: target.file(path).sha256sum for path in FILES[name]}
    return pid, sums


@pytest.mark.parametrize("name,extra_vars,words", CASES, ids=str)
def test_bad_input_fails_before_any_change(name, extra_vars, words):
    target = testinfra.get_host("ansible://%s" % name, ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])
    before = _state(target, name)
    assert before[0] not in ("", "0"), "the server must be running before the test"
    proc = run_playbook("bad_input.yml", extra_vars=extra_vars, limit=name)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    failure = failure_message(proc)
    for word in words:
        assert word in failure, "%r not in the failure:\n%s" % (word, failure[:3000])
    assert "changed=0" in output, output
    assert _state(target, name) == before
