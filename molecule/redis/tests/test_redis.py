"""asgi.channels.redis on every host of the scenario (redis 7.0, redis 8.0, valkey 8.1).

Expected values come from each host's inventory variables (``ansible_vars``); a variable the
scenario does not set has the role default, repeated in ``DEFAULTS``. The password reaches
redis-cli through REDISCLI_AUTH, never ``-a``.
"""

import shlex

import pytest

DEFAULTS = {
    "redis_server": "redis",
    "redis_bind": ["127.0.0.1"],
    "redis_port": 6379,
    "redis_unixsocket": "",
    "redis_unixsocket_perm": "0660",
    "redis_unixsocket_group": "",
    "redis_password": "",
    "redis_acl_user": "channels",
    "redis_maxmemory": "0",
    "redis_maxmemory_policy": "noeviction",
    "redis_maxclients": 10000,
}

SERVERS = {
    "redis": {"service": "redis-server", "cli": "redis-cli", "conf": "/etc/redis/redis.conf", "group": "redis"},
    "valkey": {"service": "valkey-server", "cli": "valkey-cli", "conf": "/etc/valkey/valkey.conf", "group": "valkey"},
}

UNITS = {"b": 1, "k": 1000, "kb": 1024, "m": 1000 ** 2, "mb": 1024 ** 2, "g": 1000 ** 3, "gb": 1024 ** 3}


@pytest.fixture
def cfg(ansible_vars):
    values = {name: ansible_vars.get(name, default) for name, default in DEFAULTS.items()}
    values.update(SERVERS[values["redis_server"]])
    return values


def cli(host, cfg, *args, auth=True, user=True):
    """Run the server's cli against the configured TCP port; authenticate when a password is set."""
    command = [cfg["cli"], "-h", "127.0.0.1", "-p", str(cfg["redis_port"])]
    prefix = ""
    if auth and cfg["redis_password"]:
        prefix = "REDISCLI_AUTH=%s " % shlex.quote(cfg["redis_password"])
        if user:
            command += ["--user", cfg["redis_acl_user"]]
    return host.run(prefix + shlex.join(command + list(args)))


def to_bytes(size):
    size = str(size).lower()
    digits = size.rstrip("bkmg")
    return int(digits) * UNITS.get(size[len(digits):], 1)


def test_service_is_enabled_and_running(host, cfg):
    service = host.service(cfg["service"])
    assert service.is_enabled
    assert service.is_running


def test_listens_exactly_on_the_configured_addresses(host, cfg):
    port = cfg["redis_port"]
    listening = set(host.run("ss -Htln 'sport = :%d'" % port).stdout.split()[3::5])
    expected = {("[%s]:%d" if ":" in a else "%s:%d") % (a, port) for a in cfg["redis_bind"]}
    assert listening == expected


def test_nothing_listens_on_the_wildcard(host, cfg):
    assert not host.socket("tcp://0.0.0.0:%d" % cfg["redis_port"]).is_listening
    assert not host.socket("tcp://:::%d" % cfg["redis_port"]).is_listening


def test_unix_socket_listens_with_mode_and_group(host, cfg):
    if not cfg["redis_unixsocket"]:
        pytest.skip("no redis_unixsocket on this host")
    sock = host.file(cfg["redis_unixsocket"])
    assert sock.is_socket
    assert sock.mode == int(cfg["redis_unixsocket_perm"], 8)
    assert sock.group == (cfg["redis_unixsocket_group"] or cfg["group"])
    assert host.socket("unix://%s" % cfg["redis_unixsocket"]).is_listening


def test_ping_answers_pong(host, cfg):
    result = cli(host, cfg, "ping")
    assert result.stdout.strip() == "PONG", result.stdout + result.stderr


def test_unauthenticated_command_is_refused(host, cfg):
    if not cfg["redis_password"]:
        pytest.skip("no password on this host")
    result = cli(host, cfg, "get", "anything", auth=False)
    assert "NOAUTH" in result.stdout + result.stderr


def test_default_user_is_switched_off(host, cfg):
    """The password alone (AUTH <password> = the default user) does not log in: only the ACL user."""
    if not cfg["redis_password"]:
        pytest.skip("no password on this host")
    result = cli(host, cfg, "ping", user=False)
    assert "PONG" not in result.stdout
    assert "WRONGPASS" in result.stdout + result.stderr


def test_wrong_password_is_refused(host, cfg):
    if not cfg["redis_password"]:
        pytest.skip("no password on this host")
    wrong = dict(cfg, redis_password=cfg["redis_password"] + "-wrong")
    result = cli(host, wrong, "ping")
    assert "PONG" not in result.stdout
    # refused for the password, not for another reason (no server, wrong port...)
    assert "WRONGPASS" in result.stdout + result.stderr, result.stdout + result.stderr


def test_authenticated_write_and_read(host, cfg):
    assert cli(host, cfg, "set", "molecule:probe", "42").stdout.strip() == "OK"
    assert cli(host, cfg, "get", "molecule:probe").stdout.strip() == "42"


def test_maxmemory_reads_back(host, cfg):
    out = cli(host, cfg, "config", "get", "maxmemory").stdout.split()
    assert out == ["maxmemory", str(to_bytes(cfg["redis_maxmemory"]))]


def test_maxmemory_policy_reads_back(host, cfg):
    out = cli(host, cfg, "config", "get", "maxmemory-policy").stdout.split()
    assert out == ["maxmemory-policy", cfg["redis_maxmemory_policy"]]


def test_config_file_owner_and_mode(host, cfg):
    conf = host.file(cfg["conf"])
    assert conf.user == "root"
    assert conf.group == cfg["group"]
    assert conf.mode == 0o640


def test_password_is_not_in_the_config_file(host, cfg):
    if not cfg["redis_password"]:
        pytest.skip("no password on this host")
    content = host.file(cfg["conf"]).content_string
    assert cfg["redis_password"] not in content
    assert "user default off" in content


def test_open_file_limit_matches_maxclients_capped_at_the_hard_limit(host, cfg):
    # PID 1's hard limit: what systemd can grant the service
    pid1 = host.file("/proc/1/limits").content_string
    hard = int(next(line for line in pid1.splitlines() if line.startswith("Max open files")).split()[4])
    pid = host.run("systemctl show -p MainPID --value %s" % cfg["service"]).stdout.strip()
    limits = host.file("/proc/%s/limits" % pid).content_string
    line = next(x for x in limits.splitlines() if x.startswith("Max open files"))
    assert int(line.split()[3]) == min(cfg["redis_maxclients"] + 32, hard)


def test_container_dropin_disables_private_users(host, cfg):
    """These hosts are containers: the drop-in must turn PrivateUsers off (and only that sandbox)."""
    out = host.run("systemctl show -p PrivateUsers -p ProtectSystem -p NoNewPrivileges %s" % cfg["service"]).stdout
    assert "PrivateUsers=no" in out
    assert "ProtectSystem=strict" in out
    assert "NoNewPrivileges=yes" in out


def test_restart_keeps_channel_group_membership(host, cfg):
    """A clean restart keeps a channels_redis-like group (a sorted set): the RDB default at work."""
    key = "asgi:group:molecule-restart"
    cli(host, cfg, "del", key)
    assert cli(host, cfg, "zadd", key, "1700000000", "specific.abc!def").stdout.strip() == "1"
    pid_before = host.run("systemctl show -p MainPID --value %s" % cfg["service"]).stdout.strip()
    assert host.run("systemctl restart %s" % cfg["service"]).rc == 0
    pid_after = host.run("systemctl show -p MainPID --value %s" % cfg["service"]).stdout.strip()
    assert pid_after != pid_before
    for _attempt in range(20):
        if cli(host, cfg, "ping").stdout.strip() == "PONG":
            break
        host.run("sleep 0.5")
    assert cli(host, cfg, "zrange", key, "0", "-1").stdout.split() == ["specific.abc!def"]


def test_unix_socket_group_survives_a_restart(host, cfg):
    if not cfg["redis_unixsocket"] or not cfg["redis_unixsocket_group"]:
        pytest.skip("no unix socket group on this host")
    assert host.run("systemctl restart %s" % cfg["service"]).rc == 0
    assert host.file(cfg["redis_unixsocket"]).group == cfg["redis_unixsocket_group"]
