"""The channel layer part of the daphne role's release check (roles/daphne/files/daphne-check.py):
which CHANNEL_LAYERS settings would still hit redis-py's defaults, named by their setting, never
showing an address (it holds the password)."""

import importlib.util
import pathlib
import sys

import pytest

CHECK = pathlib.Path(__file__).resolve().parents[2] / "roles" / "daphne" / "files" / "daphne-check.py"
spec = importlib.util.spec_from_file_location("daphne_check", CHECK)
daphne_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(daphne_check)

CORE = "channels_redis.core.RedisChannelLayer"
PUBSUB = "channels_redis.pubsub.RedisPubSubChannelLayer"
SECRET = "s3cr%40t-pw"
URL = "redis://channels:%s@10.0.0.5:6379/0" % SECRET
SITE_URL = URL + "?max_connections=10000&socket_connect_timeout=30&socket_timeout=30"
GOOD = {"socket_timeout": 30, "max_connections": 10000, "socket_connect_timeout": 30}
ALL = ["max_connections", "socket_connect_timeout", "socket_timeout"]
HOST0 = "CHANNEL_LAYERS['default']['CONFIG']['hosts'][0]"


def pop_timeout_of(backend):
    """channels_redis 4.3: RedisChannelLayer.brpop_timeout = 5; the pub/sub layer has no blocking pop."""
    return 5.0 if backend == CORE else None


def warnings(hosts, redis_version="8.1.0", backend=CORE, **config):
    if hosts is not None:
        config["hosts"] = hosts
    layers = {"default": {"BACKEND": backend, "CONFIG": config}}
    found = daphne_check.layer_warnings(layers, redis_version, pop_timeout_of)
    for warning in found:
        assert SECRET not in warning and "10.0.0.5" not in warning, warning
    return found


def kinds(found):
    return sorted(w.split(": ")[1].split(" ")[0] for w in found)


# ---- redis-py 8: the defaults are hit --------------------------------------------------------


def test_bare_url_hits_the_defaults_of_redis_py_8():
    found = warnings([URL])
    assert kinds(found) == ALL
    timeout = next(w for w in found if " socket_timeout is" in w)
    assert timeout.startswith(HOST0 + ": socket_timeout is 5 s (redis-py 8.1.0's default)")
    assert "channels_redis #422, redis-py #4091" in timeout
    pool = next(w for w in found if "max_connections is" in w)
    assert pool.startswith(HOST0 + ": max_connections is 100 (redis-py 8.1.0's default)")
    assert "MaxConnectionsError" in pool
    connect = next(w for w in found if "socket_connect_timeout is" in w)
    assert connect.startswith(HOST0 + ": socket_connect_timeout is 5 s (redis-py 8.1.0's default)")
    assert "Timeout connecting to server" in connect


def test_the_sites_url_needs_nothing_else():
    assert warnings([SITE_URL]) == []
    assert warnings([{"address": SITE_URL}]) == []


def test_url_dict_without_options_names_the_host():
    found = warnings([{"address": URL}])
    assert kinds(found) == ALL
    assert all(w.startswith(HOST0 + ":") for w in found)


def test_host_dict_keys_count_when_the_url_has_none():
    assert warnings([dict(GOOD, address=URL, max_connections=2000)]) == []
    # None: no timeout at all (redis-py 7's default), which never races the pop
    assert warnings([{"address": URL, "socket_timeout": None, "socket_connect_timeout": None, "max_connections": 2000}]) == []


def test_the_urls_query_wins_over_the_host_dict():
    # redis-py's from_url: kwargs.update(url_options), the query wins
    found = warnings([{"address": URL + "?socket_timeout=5&max_connections=50&socket_connect_timeout=2",
                       "socket_timeout": 60, "max_connections": 5000, "socket_connect_timeout": 60}])
    assert kinds(found) == ALL
    assert all("set in %s['address']" % HOST0 in w for w in found)


def test_a_timeout_just_above_the_pop_is_still_too_close():
    found = warnings([dict(GOOD, address=URL, socket_timeout=6)])
    assert kinds(found) == ["socket_timeout"]
    assert "socket_timeout is 6 s (set in %s['socket_timeout'])" % HOST0 in found[0]
    assert warnings([dict(GOOD, address=URL, socket_timeout=10)]) == []


def test_a_connect_timeout_under_15_s_is_too_short_for_a_burst():
    found = warnings([dict(GOOD, address=URL, socket_connect_timeout=10)])
    assert kinds(found) == ["socket_connect_timeout"]
    assert "socket_connect_timeout is 10 s (set in %s['socket_connect_timeout'])" % HOST0 in found[0]
    assert warnings([dict(GOOD, address=URL, socket_connect_timeout=15)]) == []


def test_host_port_dict_and_pair_use_redis_py_defaults():
    assert kinds(warnings([{"host": "10.0.0.5", "port": 6379, "password": SECRET}])) == ALL
    assert kinds(warnings([("10.0.0.5", 6379)])) == ALL
    assert warnings([dict(GOOD, host="10.0.0.5", port=6379)]) == []


def test_sentinel_host_reads_the_same_keys():
    sentinel = {"master_name": "mymaster", "sentinels": [("10.0.0.5", 26379)], "password": SECRET}
    assert kinds(warnings([sentinel])) == ALL
    assert warnings([dict(sentinel, **GOOD)]) == []


def test_no_hosts_is_channels_redis_default_localhost():
    found = warnings(None)
    assert len(found) == 3
    assert all(w.startswith("CHANNEL_LAYERS['default']['CONFIG']['hosts'] (unset: redis://localhost:6379): ")
               for w in found)


def test_zero_max_connections_is_the_default():
    found = warnings([dict(GOOD, address=URL, max_connections=0)])
    assert kinds(found) == ["max_connections"]
    assert "is 100 (redis-py 8.1.0's default)" in found[0]


def test_every_host_of_every_layer_is_named():
    layers = {
        "default": {"BACKEND": CORE, "CONFIG": {"hosts": [SITE_URL, URL]}},
        "other": {"BACKEND": CORE, "CONFIG": {"hosts": [{"address": URL, "socket_timeout": 30,
                                                         "socket_connect_timeout": 30}]}},
    }
    found = daphne_check.layer_warnings(layers, "8.0.0", pop_timeout_of)
    assert [w.split(":")[0] for w in found] == [
        "CHANNEL_LAYERS['default']['CONFIG']['hosts'][1]",
        "CHANNEL_LAYERS['default']['CONFIG']['hosts'][1]",
        "CHANNEL_LAYERS['default']['CONFIG']['hosts'][1]",
        "CHANNEL_LAYERS['other']['CONFIG']['hosts'][0]",
    ]


def test_bytes_url_and_a_bad_query_value():
    assert warnings([SITE_URL.encode()]) == []
    # redis-py would refuse "abc" itself (ValueError at from_url): here it counts as not set
    assert kinds(warnings([URL + "?socket_timeout=abc&max_connections=10000&socket_connect_timeout=30"])) == [
        "socket_timeout"]


# ---- redis-py before 8: no timeout, an unbounded pool ----------------------------------------


@pytest.mark.parametrize("version", ["7.4.1", "6.4.0", "5.0.8", "4.6.0"])
def test_redis_py_7_and_older_defaults_are_safe(version):
    assert warnings([URL], redis_version=version) == []
    assert warnings([("10.0.0.5", 6379)], redis_version=version) == []
    # the site's URL stays harmless there
    assert warnings([SITE_URL], redis_version=version) == []


def test_redis_py_7_with_an_explicit_short_timeout_or_small_pool_warns():
    found = warnings([{"address": URL, "socket_timeout": 5, "max_connections": 100}], redis_version="7.4.1")
    # before redis-py 8 an unset connect timeout is the socket_timeout
    assert kinds(found) == ALL
    assert "socket_timeout is 5 s (set in %s['socket_timeout'])" % HOST0 in found[0]
    assert "socket_connect_timeout is 5 s (redis-py 7.4.1: the socket_timeout)" in found[2]


def test_redis_defaults_by_version():
    assert daphne_check.redis_defaults("8.1.0") == (5.0, 100, 5.0)
    assert daphne_check.redis_defaults("8.0.0b1") == (5.0, 100, 5.0)
    assert daphne_check.redis_defaults("7.4.1") == (None, 2**31, None)


# ---- layers the check leaves alone -----------------------------------------------------------


@pytest.mark.parametrize("backend", [PUBSUB, "channels.layers.InMemoryChannelLayer", ""])
def test_layers_without_a_blocking_pop_are_not_checked(backend):
    assert warnings([URL], backend=backend) == []


def test_no_channel_layers_and_odd_values():
    assert daphne_check.layer_warnings(None, "8.1.0", pop_timeout_of) == []
    assert daphne_check.layer_warnings({}, "8.1.0", pop_timeout_of) == []
    assert daphne_check.layer_warnings({"default": "not a dict"}, "8.1.0", pop_timeout_of) == []
    # a bare string as hosts: channels_redis refuses it itself
    assert warnings(URL) == []


def test_the_pop_timeout_comes_from_the_layer_class():
    layers = {"default": {"BACKEND": CORE, "CONFIG": {"hosts": [dict(GOOD, address=URL, socket_timeout=12)]}}}
    assert daphne_check.layer_warnings(layers, "8.1.0", lambda backend: 5.0) == []
    found = daphne_check.layer_warnings(layers, "8.1.0", lambda backend: 10.0)
    assert kinds(found) == ["socket_timeout"]
    assert "the layer's 10 s blocking pop" in found[0]


def test_an_unknown_backend_class_has_no_pop_timeout():
    assert daphne_check.channels_redis_pop_timeout("no.such.module.Layer") is None
    assert daphne_check.channels_redis_pop_timeout("") is None


# ---- the script: import first, then the warnings ---------------------------------------------


def test_main_imports_the_application_then_prints_the_warnings(tmp_path, monkeypatch, capsys):
    (tmp_path / "someapp.py").write_text("def application(scope, receive, send):\n    pass\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(daphne_check, "project_warnings", lambda: ["one", "two"])
    daphne_check.main(["daphne-check.py", "someapp:application"])
    assert capsys.readouterr().out.splitlines() == [
        "imported someapp:application", "layer warning: one", "layer warning: two"]


def test_main_fails_on_an_application_that_is_not_callable(tmp_path, monkeypatch):
    (tmp_path / "otherapp.py").write_text("application = 42\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    with pytest.raises(SystemExit, match="otherapp:application is not callable"):
        daphne_check.main(["daphne-check.py", "otherapp:application"])
