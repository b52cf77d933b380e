"""Settings of a small Channels project that is not the sample app (molecule/project): it reads
the variable names docs/examples/inventory gives it and the channel layer exactly as
docs/deploying.md's minimal example does (one URL, no options of its own), with unpinned
channels-redis. No ORM use: an in-memory database unless DATABASE_PATH names a file."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ["SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = [name.strip() for name in os.environ.get("ALLOWED_HOSTS", "").split(",") if name.strip()]

INSTALLED_APPS = [
    "django.contrib.staticfiles",
    "channels",
    "notes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "mysite.urls"
ASGI_APPLICATION = "mysite.asgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DATABASE_PATH", ":memory:"),
    }
}

CHANNEL_LAYERS = {"default": {
    "BACKEND": "channels_redis.core.RedisChannelLayer",
    "CONFIG": {"hosts": [os.environ["CHANNELS_REDIS_URL"]]},
}}
STATIC_URL = "/static/"
STATIC_ROOT = os.environ.get("STATIC_ROOT")
MEDIA_ROOT = os.environ.get("MEDIA_ROOT") or ""
MEDIA_URL = "/media/"

# TLS ends at nginx, which says so in X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_TZ = True
