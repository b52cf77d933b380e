"""A Sentinel set's host whose server is older than the set's primary is refused, with both
servers and versions named (a Redis 7.0 replica cannot load Redis 8.0's data: it would retry its first sync for
ever). redis-bookworm (Redis 7.0) joins a new set whose initial primary, 127.0.0.2, is a stand-in
that answers INFO as Redis 8.0.2 would (no second real server of another release is needed for
the refusal). The host is deployed again as the converge left it afterwards."""

import os

import pytest
import testinfra

from conftest import failure_message, run_playbook

NAME = "redis-bookworm"
PRIMARY = "127.0.0.2"
# answers AUTH and anything else with +OK, INFO with a Redis 8.0 server section (RESP2)
STAND_IN = r'''
import socketserver
INFO = b"# Server\r\nredis_version:8.0.2\r\nredis_mode:standalone\r\n"
class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            line = self.rfile.readline()
            if not line:
                return
            if not line.startswith(b"*"):
                continue
            words = []
            for _ in range(int(line[1:])):
                size = int(self.rfile.readline()[1:])
                words.append(self.rfile.read(size + 2)[:-2])
            if words[0].upper() == b"INFO":
                self.wfile.write(b"$%d\r\n%s\r\n" % (len(INFO), INFO))
            else:
                self.wfile.write(b"+OK\r\n")
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer(("127.0.0.2", 6379), Handler).serve_forever()
'''


@pytest.fixture(scope="module")
def refused():
    target = testinfra.get_host("ansible://%s" % NAME, ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])
    target.run("cat > /tmp/newer-primary.py <<'EOF'\n%s\nEOF" % STAND_IN)
    target.run("setsid nohup python3 /tmp/newer-primary.py > /tmp/newer-primary.log 2>&1 < /dev/null &")
    try:
        proc = run_playbook("bad_input.yml", limit=NAME, extra_vars={
            "redis_sentinel_enabled": True,
            "redis_announce_address": "127.0.0.1",
            "redis_sentinel_addresses": ["127.0.0.1", PRIMARY, "127.0.0.3"],
            "redis_sentinel_initial_primary": PRIMARY,
            "redis_sentinel_password": "molecule-test-only-sentinel",
            "redis_replication_password": "molecule-test-only-replication",
        })
        sentinel_installed = target.package("redis-sentinel").is_installed
    finally:
        target.run("pkill -f /tmp/newer-primary.py")
        restored = run_playbook("converge.yml", limit=NAME)
    return {"proc": proc, "sentinel_installed": sentinel_installed, "restored": restored}


def test_an_older_server_is_refused_with_both_versions(refused):
    assert refused["proc"].returncode != 0
    message = failure_message(refused["proc"])
    for words in ("runs redis 7.0 and cannot replicate the primary of the set", PRIMARY + ", which runs redis 8.0"):
        assert words in " ".join(message.split()), message[:3000]


def test_the_refused_host_gets_no_sentinel(refused):
    assert not refused["sentinel_installed"]


def test_the_host_is_deployed_again_afterwards(refused):
    assert refused["restored"].returncode == 0, failure_message(refused["restored"])
