"""The release check of asgi.channels.daphne, run by "daphne-run check RELEASE_DIR" with the
release's own Python, in the release directory, with the program's environment.

    python daphne-check.py MODULE:ATTRIBUTE [MODULE:ATTRIBUTE]

1. Imports the ASGI application (MODULE:ATTRIBUTE), and the WSGI one of the split when given, and
   prints "imported MODULE:ATTRIBUTE" for each; a failing import exits non-zero and the role keeps
   the previous release.
2. Reads the project's settings.CHANNEL_LAYERS (when the application set Django up) and prints
   one "layer warning: ..." line for each channels_redis layer host that would still hit
   redis-py's defaults with the redis-py installed in the release (the role shows them as
   warnings of the play; they never fail the release):
   - a socket_timeout not above the layer's blocking pop (BZPOPMIN, 5 s in channels_redis 4.x)
     by SOCKET_TIMEOUT_MARGIN seconds: redis-py 8 defaults to 5 s, the read times out while
     Redis is still blocking, and the consumer dies with "Timeout reading from ..."
     (channels_redis #422, redis-py #4091);
   - a max_connections below POOL_FLOOR: redis-py 8 caps a pool at 100 connections and raises
     MaxConnectionsError at once beyond, and every group_add/group_discard holds one, so a burst
     of clients joining or leaving together fails;
   - a socket_connect_timeout below CONNECT_TIMEOUT_FLOOR: redis-py 8 gives each new connection
     5 s to connect and say hello, and a burst that opens thousands at once in one process takes
     longer ("Timeout connecting to server").

channels_redis (utils.create_pool) hands a host with an "address" to
redis.asyncio.ConnectionPool.from_url(address, **other keys), where the URL's query parameters
win over the host's keys, a host dict without one to ConnectionPool(**host), a "master_name" host
to SentinelConnectionPool(..., **host); a host given as a string is an address, as a pair
(host, port). The warnings never show an address (it holds the password): they name the setting.
"""

import importlib
import os
import sys
from urllib.parse import parse_qs, urlparse

WARNING_PREFIX = "layer warning: "
# How far above the blocking pop a socket_timeout must be: Redis answers an expired pop a little
# after its timeout, the reply crosses the network, and a busy event loop reads it late.
SOCKET_TIMEOUT_MARGIN = 5.0
# A burst of new connections in one process: 8,000 group_discards at once through an empty pool
# (channels_redis 4.3.0, redis-py 8.1.0, one process on 2 cores) failed 64-79 % of them with a
# connect timeout of 5 or 10 s and none with 15 or 30 s.
CONNECT_TIMEOUT_FLOOR = 15.0
# The pool a process needs at the least: one connection per consumer changing its groups at once;
# a deploy's reconnects or a page everyone reloads are bursts of hundreds to thousands.
POOL_FLOOR = 1000
# What the site's URL carries (docs/deploying.md)
ADVICE_SOCKET_TIMEOUT = 30
ADVICE_CONNECT_TIMEOUT = 30
ADVICE_MAX_CONNECTIONS = 10000
UPSTREAM = "channels_redis #422, redis-py #4091"


def redis_defaults(redis_version):
    """(socket_timeout, max_connections, socket_connect_timeout) of redis.asyncio.ConnectionPool's
    connections when none is given: 5 s, 100 and 5 s since redis-py 8.0; before, no timeout, 2**31
    and None, which means the socket_timeout (the connection's constructor)."""
    major = int(redis_version.split(".")[0]) if redis_version.split(".")[0].isdigit() else 0
    if major >= 8:
        return 5.0, 100, 5.0
    return None, 2**31, None


def _query_value(address, name, convert):
    if isinstance(address, bytes):
        address = address.decode("utf-8", "replace")
    values = parse_qs(urlparse(str(address)).query).get(name)
    if not values:
        return None
    try:
        return convert(values[0])
    except ValueError:
        return None


def effective_options(entry):
    """The socket_timeout, max_connections and socket_connect_timeout channels_redis passes to
    redis-py for one entry of
    CONFIG["hosts"], each as (value, where), where is the key path that sets it below the entry
    ("['address']" for the URL's query, "['socket_timeout']"...) or None when nothing sets it."""
    if isinstance(entry, dict):
        host = entry
    elif isinstance(entry, (tuple, list)):
        host = {}
    else:
        host = {"address": entry}
    found = {}
    for name, convert in (("socket_timeout", float), ("max_connections", int), ("socket_connect_timeout", float)):
        value, where = None, None
        address = host.get("address")
        from_url = _query_value(address, name, convert) if address is not None else None
        if from_url is not None:
            value, where = from_url, "['address']" if isinstance(entry, dict) else ""
        elif name in host:
            value, where = host[name], "[%r]" % name
        found[name] = (value, where)
    return found


def layer_warnings(channel_layers, redis_version, pop_timeout_of):
    """The warnings for settings.CHANNEL_LAYERS with redis-py ``redis_version``.

    ``pop_timeout_of(backend)`` gives the blocking pop timeout of the layer class named by a
    BACKEND, or None for a layer that does not use redis-py's pool this way (not channels_redis'
    RedisChannelLayer: the pub/sub layer polls with its own short timeouts, other backends have no
    Redis at all)."""
    default_timeout, default_pool, default_connect = redis_defaults(redis_version)
    warnings = []
    for alias, layer in sorted((channel_layers or {}).items()):
        if not isinstance(layer, dict):
            continue
        pop_timeout = pop_timeout_of(layer.get("BACKEND", ""))
        if pop_timeout is None:
            continue
        setting = "CHANNEL_LAYERS[%r]['CONFIG']['hosts']" % alias
        hosts = (layer.get("CONFIG") or {}).get("hosts")
        if not hosts:
            # channels_redis' default: redis://localhost:6379, redis-py's defaults
            entries = [(setting + " (unset: redis://localhost:6379)", {})]
        elif isinstance(hosts, (str, bytes)):
            continue  # channels_redis itself refuses it
        else:
            entries = [("%s[%d]" % (setting, index), entry) for index, entry in enumerate(hosts)]
        for name, entry in entries:
            options = effective_options(entry)
            timeout, where = options["socket_timeout"]
            if timeout is None and where is None:
                timeout, source = default_timeout, "redis-py %s's default" % redis_version
            else:
                source = "set in %s%s" % (name, where)
            if timeout is not None and float(timeout) < pop_timeout + SOCKET_TIMEOUT_MARGIN:
                warnings.append(
                    "%s: socket_timeout is %g s (%s), not %g s above the layer's %g s blocking pop "
                    "(BZPOPMIN): the read times out while Redis still waits and the consumer dies with "
                    "\"Timeout reading from ...\" (%s). Set socket_timeout=%d in the host (in the URL's "
                    "query or the host dict; the URL's query wins)."
                    % (name, float(timeout), source, SOCKET_TIMEOUT_MARGIN, pop_timeout, UPSTREAM, ADVICE_SOCKET_TIMEOUT)
                )
            pool, where = options["max_connections"]
            if not pool:
                # ConnectionPool(max_connections=None or 0) means its default
                pool, source = default_pool, "redis-py %s's default" % redis_version
            else:
                source = "set in %s%s" % (name, where)
            if int(pool) < POOL_FLOOR:
                warnings.append(
                    "%s: max_connections is %d (%s): a process whose clients join or leave groups "
                    "together needs one connection each, and beyond the pool redis-py raises "
                    "MaxConnectionsError (\"Too many connections\") at once, leaving stale group "
                    "members. Set max_connections=%d in the host (at least %d; keep Redis' maxclients "
                    "above the sum over every process)."
                    % (name, int(pool), source, ADVICE_MAX_CONNECTIONS, POOL_FLOOR)
                )
            connect, where = options["socket_connect_timeout"]
            if connect is None and where is None:
                connect, source = default_connect, "redis-py %s's default" % redis_version
                if connect is None:
                    connect, source = timeout, "redis-py %s: the socket_timeout" % redis_version
            else:
                source = "set in %s%s" % (name, where)
            if connect is not None and float(connect) < CONNECT_TIMEOUT_FLOOR:
                warnings.append(
                    "%s: socket_connect_timeout is %g s (%s): a process opening thousands of connections "
                    "at once (clients joining or leaving together) takes longer, and the commands fail "
                    "with \"Timeout connecting to server\". Set socket_connect_timeout=%d in the host "
                    "(at least %g)."
                    % (name, float(connect), source, ADVICE_CONNECT_TIMEOUT, CONNECT_TIMEOUT_FLOOR)
                )
    return warnings


def channels_redis_pop_timeout(backend):
    """The blocking pop timeout of a BACKEND that is channels_redis' RedisChannelLayer or a
    subclass of it, else None."""
    try:
        module_name, class_name = backend.rsplit(".", 1)
        cls = getattr(importlib.import_module(module_name), class_name)
        from channels_redis.core import RedisChannelLayer
    except (ImportError, AttributeError, ValueError):
        return None
    if isinstance(cls, type) and issubclass(cls, RedisChannelLayer):
        return float(getattr(cls, "brpop_timeout", 5))
    return None


def project_warnings():
    """The warnings for the project's settings, or none when it has no Django settings or no
    redis-py (the check must never stop a release by itself)."""
    try:
        from importlib.metadata import version

        from django.conf import settings

        if not settings.configured:
            return []
        channel_layers = getattr(settings, "CHANNEL_LAYERS", None)
        redis_version = version("redis")
    except Exception:  # pylint: disable=broad-except
        return []
    try:
        return layer_warnings(channel_layers, redis_version, channels_redis_pop_timeout)
    except Exception as error:  # pylint: disable=broad-except
        # the type only: a message could quote a setting that holds a secret
        return ["CHANNEL_LAYERS could not be checked (%s)" % type(error).__name__]


def import_application(target):
    module_name, attributes = target.split(":", 1)
    sys.path.insert(0, os.getcwd())  # the release directory
    obj = importlib.import_module(module_name)
    for attribute in attributes.split("."):
        obj = getattr(obj, attribute)
    if not callable(obj):
        sys.exit("%s is not callable: %r" % (target, obj))
    print("imported %s" % target)


def main(argv):
    if len(argv) < 2:
        sys.exit("usage: daphne-check.py MODULE:ATTRIBUTE [MODULE:ATTRIBUTE]")
    for target in argv[1:]:
        import_application(target)
    for warning in project_warnings():
        print(WARNING_PREFIX + warning)


if __name__ == "__main__":
    main(sys.argv)
