"""Sentinel with valkey-server is valkey's own Sentinel (Debian's valkey-sentinel package, its
service, /etc/valkey/sentinel.conf): redis-trixie-valkey is made a set of one (itself the primary,
quorum 1; a real set has three hosts, which the cluster scenario runs with redis-server), and its
Sentinel names it primary. The role does not turn Sentinel off again (roles/redis/README.md): the
test removes valkey-sentinel itself, then deploys the host again as the converge left it."""

import os
import shlex

import pytest
import testinfra

from conftest import failure_message, run_playbook

NAME = "redis-trixie-valkey"
SENTINEL_PASSWORD = "molecule-test-only-valkey-sentinel"


@pytest.fixture(scope="module")
def valkey_set():
    proc = run_playbook("bad_input.yml", limit=NAME, extra_vars={
        "redis_sentinel_enabled": True,
        "redis_announce_address": "127.0.0.1",
        "redis_sentinel_addresses": ["127.0.0.1"],
        "redis_sentinel_initial_primary": "127.0.0.1",
        "redis_sentinel_quorum": 1,
        "redis_sentinel_password": SENTINEL_PASSWORD,
        "redis_replication_password": "molecule-test-only-valkey-replication",
    })
    target = testinfra.get_host("ansible://%s" % NAME, ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])
    yield {"proc": proc, "host": target}
    target.run("systemctl stop valkey-sentinel; DEBIAN_FRONTEND=noninteractive apt-get purge -y -q valkey-sentinel")
    restored = run_playbook("converge.yml", limit=NAME)
    assert restored.returncode == 0, failure_message(restored)


def test_the_run_passes(valkey_set):
    assert valkey_set["proc"].returncode == 0, failure_message(valkey_set["proc"])


def test_valkeys_own_sentinel_runs(valkey_set):
    host = valkey_set["host"]
    assert host.package("valkey-sentinel").is_installed
    assert not host.package("redis-sentinel").is_installed
    assert host.service("valkey-sentinel").is_running


def test_valkeys_sentinel_names_the_server_primary(valkey_set):
    out = valkey_set["host"].run("VALKEYCLI_AUTH=%s REDISCLI_AUTH=%s timeout 5 valkey-cli --no-auth-warning -p 26379 "
                                 "SENTINEL get-master-addr-by-name channels"
                                 % (shlex.quote(SENTINEL_PASSWORD), shlex.quote(SENTINEL_PASSWORD)))
    assert out.stdout.split() == ["127.0.0.1", "6379"], out.stdout + out.stderr
