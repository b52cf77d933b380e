"""Settings of the sample chat project, read from the environment (twelve-factor style).

Required: SECRET_KEY. Optional: DEBUG (default off), ALLOWED_HOSTS (comma list),
CSRF_TRUSTED_ORIGINS (comma list), STATIC_ROOT, MEDIA_ROOT (uploads; asgi.channels.daphne exports
both), DJANGO_DB_PATH (the sqlite file; its directory must be writable by the app user), CHANNELS_REDIS_URL (redis://[user:password@]host:port/db,
rediss://..., or unix:///path/to/redis.sock[?db=0]; unset: in-memory channel layer, one process
only), CHANNELS_LAYER (core, the default: channels_redis.core.RedisChannelLayer; pubsub:
channels_redis.pubsub.RedisPubSubChannelLayer), CHANNELS_GROUP_EXPIRY (seconds, core layer only),
CHANNELS_REDIS_PREFIX. With several
Redis hosts (Sentinel): CHANNELS_REDIS_SENTINELS (address:port comma list),
CHANNELS_REDIS_MASTER_NAME, CHANNELS_REDIS_SENTINEL_PASSWORD; CHANNELS_REDIS_URL then gives the
account, database and options, its host being the master name.
"""

import importlib.util
import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    raise ImproperlyConfigured("The SECRET_KEY environment variable is required.")

DEBUG = _env_bool("DEBUG")
ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    # Daphne's runserver for development, where Daphne is installed (asgi.channels.daphne installs
    # it with daphne_server: daphne; with uvicorn it is not there)
    *(["daphne"] if importlib.util.find_spec("daphne") else []),
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "chat",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "chatsite.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

ASGI_APPLICATION = "chatsite.asgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_DB_PATH") or str(BASE_DIR / "db.sqlite3"),
    }
}

_redis_url = os.environ.get("CHANNELS_REDIS_URL", "")
if _redis_url:
    # channels_redis builds its connection pool with redis-py's defaults, which retry nothing:
    # when Redis restarts, every consumer waiting on the layer (BZPOPMIN) dies with
    # "Connection closed by server" and its WebSocket is closed (1011). With a retry policy the
    # waiting commands reconnect and carry on once Redis is back (about 20 s of tolerance), and
    # the groups are still there (the redis role saves them on shutdown).
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    _layer_host = {
        "address": _redis_url,
        "retry": Retry(ExponentialBackoff(cap=1.0, base=0.05), 30),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
        # redis-py 8 caps a process's pool at 100 connections and fails at once beyond
        # ("Too many connections"): every group_add/group_discard holds one, so 1,000 clients
        # leaving together failed most of their discards. Size it for the bursts a process
        # sees, and Redis' maxclients for every process's pool (redis_maxclients, 10000).
        # A max_connections (or socket_timeout) in the URL's query wins over this key: the
        # site playbook's URL carries both (site_channel_layer_url_options).
        "max_connections": int(os.environ.get("CHANNELS_REDIS_MAX_CONNECTIONS") or 1000),
    }
    _sentinels = os.environ.get("CHANNELS_REDIS_SENTINELS", "")
    if _sentinels:
        # Several Redis hosts with Sentinel (CHANNELS_REDIS_SENTINELS "address:port,..."): the
        # connections ask the Sentinels for the primary of CHANNELS_REDIS_MASTER_NAME, and ask again
        # when it fails over. The URL gives the account, the database and the options
        # (site_channel_layer_url_options), parsed as redis-py parses a URL; its host is the
        # master name, not a server.
        from redis.asyncio.connection import parse_url

        from .sentinel import SentinelConnection, SentinelSSLConnection

        _url_options = {key: value for key, value in parse_url(_redis_url).items()
                        if key not in ("host", "port", "connection_class")}
        # a connection that asks the Sentinels for the primary on every connect, also within a
        # command's retries (chatsite/sentinel.py: redis-py #3874)
        _url_options["connection_class"] = SentinelConnection
        if _redis_url.startswith("rediss://"):
            _url_options["connection_class"] = SentinelSSLConnection
        del _layer_host["address"]
        _layer_host.update(_url_options)
        _layer_host.update({
            "sentinels": [(address.rsplit(":", 1)[0].strip("[]"), int(address.rsplit(":", 1)[1]))
                          for address in _sentinels.split(",")],
            "master_name": os.environ["CHANNELS_REDIS_MASTER_NAME"],
            # Sentinel's own password, and short timeouts: a Sentinel that is down is skipped fast
            "sentinel_kwargs": {"password": os.environ.get("CHANNELS_REDIS_SENTINEL_PASSWORD") or None,
                                "socket_timeout": 1, "socket_connect_timeout": 1},
        })
    # The core layer queues one copy of a group message per Daphne process in Redis; the pub/sub
    # layer publishes it once and each process hands it to its own members (no group expiry: a
    # process's groups live as long as it does). docs/benchmark.md compares them.
    _layers = {"core": "channels_redis.core.RedisChannelLayer",
               "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer"}
    _layer = os.environ.get("CHANNELS_LAYER") or "core"
    if _layer not in _layers:
        raise ImproperlyConfigured("CHANNELS_LAYER is %r: core or pubsub." % _layer)
    _layer_config = {"hosts": [_layer_host]}
    if os.environ.get("CHANNELS_GROUP_EXPIRY") and _layer == "core":
        _layer_config["group_expiry"] = int(os.environ["CHANNELS_GROUP_EXPIRY"])
    if os.environ.get("CHANNELS_REDIS_PREFIX"):
        _layer_config["prefix"] = os.environ["CHANNELS_REDIS_PREFIX"]
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": _layers[_layer],
            "CONFIG": _layer_config,
        }
    }
else:
    # Fine for one process only: groups do not reach across Daphne processes.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = os.environ.get("STATIC_ROOT") or None
MEDIA_URL = "/media/"
MEDIA_ROOT = os.environ.get("MEDIA_ROOT") or ""

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Behind nginx: trust its X-Forwarded-Proto when asked to (HTTPS termination at the proxy).
if _env_bool("DJANGO_SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = _env_bool("DJANGO_SECURE_COOKIES")
# Sessions in the signed cookie itself: no database table (the consumers use no database either),
# and any process (WSGI or ASGI) of any host reads them with the SECRET_KEY.
SESSION_ENGINE = os.environ.get("DJANGO_SESSION_ENGINE", "django.contrib.sessions.backends.signed_cookies")
CSRF_COOKIE_SECURE = _env_bool("DJANGO_SECURE_COOKIES")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "WARNING")},
}
